/* SPDX-License-Identifier: ISC */
/* tunnelgw: unit tests of the log limit: what passes, what is suppressed, and the count. */
#include "config.h"

#include <fcntl.h>
#include <pthread.h>

#include "log.h"
#include "tg_test.h"

/* Within one interval, burst lines pass and the rest are counted, not logged. */
START_TEST(test_burst_then_suppressed)
{
	struct log_limit	 ll = LOG_LIMIT_INITIALIZER(5, 10);
	unsigned long		 suppressed = 99;
	int			 i, passed = 0;

	for (i = 0; i < 1000; i++)
		passed += log_limit_check(&ll, 1000 + i / 200, &suppressed);
	ck_assert_int_eq(passed, 5);
	ck_assert_uint_eq(suppressed, 0);
	ck_assert_uint_eq(ll.suppressed, 995);
}
END_TEST

/* The first line of a later interval passes and carries the count; the count starts over. */
START_TEST(test_next_interval_reports)
{
	struct log_limit	 ll = LOG_LIMIT_INITIALIZER(5, 10);
	unsigned long		 suppressed = 0;
	int			 i, passed = 0;

	for (i = 0; i < 20; i++)
		log_limit_check(&ll, 100, &suppressed);
	ck_assert_int_eq(log_limit_check(&ll, 109, &suppressed), 0);
	ck_assert_int_eq(log_limit_check(&ll, 110, &suppressed), 1);
	ck_assert_uint_eq(suppressed, 16);
	for (i = 0; i < 20; i++)
		passed += log_limit_check(&ll, 111, &suppressed);
	ck_assert_int_eq(passed, 4);
	ck_assert_uint_eq(suppressed, 0);
	ck_assert_int_eq(log_limit_check(&ll, 200, &suppressed), 1);
	ck_assert_uint_eq(suppressed, 16);
	/* A quiet limit reports nothing. */
	ck_assert_int_eq(log_limit_check(&ll, 300, &suppressed), 1);
	ck_assert_uint_eq(suppressed, 0);
}
END_TEST

/* A clock that goes back does not hold lines back for ever. */
START_TEST(test_clock_back)
{
	struct log_limit	 ll = LOG_LIMIT_INITIALIZER(1, 10);
	unsigned long		 suppressed;

	ck_assert_int_eq(log_limit_check(&ll, 5000, &suppressed), 1);
	ck_assert_int_eq(log_limit_check(&ll, 5001, &suppressed), 0);
	ck_assert_int_eq(log_limit_check(&ll, 10, &suppressed), 1);
	ck_assert_uint_eq(suppressed, 1);
}
END_TEST

struct hammer {
	struct log_limit	*ll;
	int			 passed;
};

/* A thread that asks the shared limit 10000 times at one moment. */
static void *
hammer_run(void *arg)
{
	struct hammer	*h = arg;
	unsigned long	 suppressed;
	int		 i;

	for (i = 0; i < 10000; i++)
		h->passed += log_limit_check(h->ll, 42, &suppressed);
	return NULL;
}

/* Threads share one limit: together they pass burst lines, and every other one is counted. */
START_TEST(test_threads)
{
	struct log_limit	 ll = LOG_LIMIT_INITIALIZER(5, 10);
	struct hammer		 h[4];
	pthread_t		 t[4];
	int			 i, passed = 0;

	for (i = 0; i < 4; i++) {
		h[i].ll = &ll;
		h[i].passed = 0;
		ck_assert_int_eq(pthread_create(&t[i], NULL, hammer_run, &h[i]), 0);
	}
	for (i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		passed += h[i].passed;
	}
	ck_assert_int_eq(passed, 5);
	ck_assert_uint_eq(ll.suppressed, 40000 - 5);
}
END_TEST

/* Through log_limited, a flood of 1000 lines writes 5, and the next interval's says 995. */
START_TEST(test_written_lines)
{
	struct log_limit	 ll = LOG_LIMIT_INITIALIZER(5, 1);
	const char		*dir = tg_tmpdir();
	char			*path, line[4096];
	FILE			*fp;
	int			 i, saved, fd, lines = 0, summaries = 0;

	ck_assert_int_ne(asprintf(&path, "%s/log", dir), -1);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ck_assert_int_ne(fd, -1);
	saved = dup(STDERR_FILENO);
	dup2(fd, STDERR_FILENO);
	log_open("check_log", LOG_LEVEL_INFO, -1);
	for (i = 0; i < 1000; i++)
		log_limited(&ll, LOG_LEVEL_WARN, "refused connection %d", i);
	sleep(2);
	log_limited(&ll, LOG_LEVEL_WARN, "refused connection %d", 1000);
	log_limited(NULL, LOG_LEVEL_WARN, "not limited");
	dup2(saved, STDERR_FILENO);
	close(fd);
	fp = fopen(path, "r");
	ck_assert_ptr_nonnull(fp);
	while (fgets(line, sizeof line, fp) != NULL) {
		lines++;
		if (strstr(line, "refused connection 1000 (995 similar messages suppressed)") != NULL)
			summaries++;
	}
	fclose(fp);
	ck_assert_int_eq(lines, 5 + 1 + 1);
	ck_assert_int_eq(summaries, 1);
	free(path);
	tg_cleanup();
}
END_TEST

/* The log suite. */
static Suite *
log_suite(void)
{
	Suite	*s = suite_create("log");
	TCase	*tc = tcase_create("limit");

	tcase_add_test(tc, test_burst_then_suppressed);
	tcase_add_test(tc, test_next_interval_reports);
	tcase_add_test(tc, test_clock_back);
	tcase_add_test(tc, test_threads);
	tcase_add_test(tc, test_written_lines);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return tg_run(log_suite());
}
