/* SPDX-License-Identifier: ISC */
/* tunnelgw: helpers shared by the check unit tests. */
#ifndef TG_TEST_H
#define TG_TEST_H

#include <check.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char tg_dir[64];

/* Make a fresh private folder for one test; tg_cleanup() removes it. */
static inline const char *
tg_tmpdir(void)
{
	snprintf(tg_dir, sizeof tg_dir, "/tmp/tg-test-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tg_dir));
	return tg_dir;
}

/* Remove one entry of the test folder. */
static inline int
tg_rm(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* Checked teardown: remove the folder of the last tg_tmpdir(). */
static inline void
tg_cleanup(void)
{
	if (tg_dir[0] != '\0')
		nftw(tg_dir, tg_rm, 16, FTW_DEPTH | FTW_PHYS);
	tg_dir[0] = '\0';
}

/* Write body to dir/name and return the path in a new string. */
static inline char *
tg_write(const char *dir, const char *name, const char *body)
{
	char	*path;
	FILE	*fp;

	ck_assert_int_ne(asprintf(&path, "%s/%s", dir, name), -1);
	fp = fopen(path, "w");
	ck_assert_ptr_nonnull(fp);
	ck_assert_int_eq(fputs(body, fp) >= 0, 1);
	ck_assert_int_eq(fclose(fp), 0);
	return path;
}

/* Run a suite and return the process exit status for automake. */
static inline int
tg_run(Suite *s)
{
	SRunner	*sr = srunner_create(s);
	int	 failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

#endif
