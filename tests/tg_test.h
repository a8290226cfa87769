/* SPDX-License-Identifier: ISC */
/* tunnelgw: helpers shared by the check unit tests. */
#ifndef TG_TEST_H
#define TG_TEST_H

#include <sys/socket.h>

#include <arpa/inet.h>
#include <check.h>
#include <ftw.h>
#include <netinet/in.h>
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

/* Fill ss with the numeric address s (IPv4 or IPv6) and port 40000; NULL gives NULL. */
static inline const struct sockaddr *
tg_addr(struct sockaddr_storage *ss, const char *s)
{
	struct sockaddr_in	*sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)ss;

	if (s == NULL)
		return NULL;
	memset(ss, 0, sizeof *ss);
	if (strchr(s, ':') != NULL) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(40000);
		ck_assert_int_eq(inet_pton(AF_INET6, s, &sin6->sin6_addr), 1);
	} else {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(40000);
		ck_assert_int_eq(inet_pton(AF_INET, s, &sin->sin_addr), 1);
	}
	return (const struct sockaddr *)ss;
}

#ifdef TG_AUTH_H
/* The policy the grant and tunnel tests start from: range 20000-29999, no CIDR lists. */
static inline struct policy
tg_policy(void)
{
	struct policy	 p;

	memset(&p, 0, sizeof p);
	p.public_host = "gw.example.com";
	p.public_bind = "192.0.2.10";
	p.port_range = "20000-29999";
	p.port_min = 20000;
	p.port_max = 29999;
	p.allow_requested_ports = 1;
	p.max_tunnels = 32;
	p.idle_timeout = 300;
	p.max_connections = 100;
	p.max_connections_per_tunnel = 10;
	p.conn_burst = 1;
	return p;
}
#endif

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
