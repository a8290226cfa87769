/* SPDX-License-Identifier: ISC */
/*
 * tunnelgw: unit tests of the caps on SSH connections not yet authenticated: sshd's
 * "start:rate:full" early drop, with the random numbers chosen by the test, and the cap per
 * source.
 */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include "startups.h"
#include "source.h"
#include "tg_test.h"

static uint32_t	 fixed_r;

/* A "random" source that always draws fixed_r. */
static uint32_t
fixed_random(uint32_t bound)
{
	return fixed_r % bound;
}

/* An IPv4 address and port as a sockaddr. */
static struct sockaddr_storage
addr4(const char *ip)
{
	struct sockaddr_storage	 ss;
	struct sockaddr_in	*sin = (struct sockaddr_in *)&ss;

	memset(&ss, 0, sizeof ss);
	sin->sin_family = AF_INET;
	sin->sin_port = htons(40000);
	ck_assert_int_eq(inet_pton(AF_INET, ip, &sin->sin_addr), 1);
	return ss;
}

/* An IPv6 address as a sockaddr. */
static struct sockaddr_storage
addr6(const char *ip)
{
	struct sockaddr_storage	 ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)&ss;

	memset(&ss, 0, sizeof ss);
	sin6->sin6_family = AF_INET6;
	sin6->sin6_port = htons(40000);
	ck_assert_int_eq(inet_pton(AF_INET6, ip, &sin6->sin6_addr), 1);
	return ss;
}

/* The decision itself: sshd's probabilities, r by r. */
START_TEST(test_drop_decision)
{
	unsigned int	 r, drops;
	int		 n;

	/* Below start nothing is dropped, at full and beyond everything is. */
	for (r = 0; r < 100; r++) {
		ck_assert_int_eq(startups_drop(9, 10, 30, 100, r), 0);
		ck_assert_int_eq(startups_drop(0, 10, 30, 100, r), 0);
		ck_assert_int_eq(startups_drop(100, 10, 30, 100, r), 1);
		ck_assert_int_eq(startups_drop(5000, 10, 30, 100, r), 1);
	}
	/* At start, rate percent of the draws drop; halfway, 65; one below full, 99. */
	for (n = 10; n < 100; n++) {
		for (drops = 0, r = 0; r < 100; r++)
			drops += (unsigned int)startups_drop(n, 10, 30, 100, r);
		ck_assert_uint_eq(drops, 30 + 70 * (unsigned int)(n - 10) / 90);
	}
	for (drops = 0, r = 0; r < 100; r++)
		drops += (unsigned int)startups_drop(55, 10, 30, 100, r);
	ck_assert_uint_eq(drops, 65);
	/* rate 100 drops everything from start on; start == full is a plain cap. */
	ck_assert_int_eq(startups_drop(10, 10, 100, 100, 99), 1);
	ck_assert_int_eq(startups_drop(255, 256, 100, 256, 0), 0);
	ck_assert_int_eq(startups_drop(256, 256, 100, 256, 99), 1);
	/* No overflow with the largest values the configuration allows. */
	ck_assert_int_eq(startups_drop(999999, 1, 1, 1000000, 98), 1);
	ck_assert_int_eq(startups_drop(1, 1, 1, 1000000, 1), 0);
}
END_TEST

/* Through startups_enter: a draw below the probability refuses, one above admits. */
START_TEST(test_enter_early_drop)
{
	struct sockaddr_storage	 ss;
	const char		*why = NULL;
	char			 ip[32];
	int			 i;

	startups_setup(10, 30, 20, 1000);
	fixed_r = 0;	/* always below the probability: every draw drops */
	startups_set_random(fixed_random);
	for (i = 0; i < 10; i++) {
		snprintf(ip, sizeof ip, "10.0.0.%d", i + 1);
		ss = addr4(ip);
		ck_assert_int_eq(startups_enter((struct sockaddr *)&ss, &why), 0);
	}
	ss = addr4("10.0.1.1");
	ck_assert_int_eq(startups_enter((struct sockaddr *)&ss, &why), -1);
	ck_assert_ptr_nonnull(strstr(why, "dropped early at random (max_startups)"));
	fixed_r = 99;	/* never below it, until full */
	for (i = 10; i < 20; i++) {
		snprintf(ip, sizeof ip, "10.0.0.%d", i + 1);
		ss = addr4(ip);
		ck_assert_int_eq(startups_enter((struct sockaddr *)&ss, &why), 0);
	}
	ck_assert_int_eq(startups_count(), 20);
	ss = addr4("10.0.1.2");
	ck_assert_int_eq(startups_enter((struct sockaddr *)&ss, &why), -1);
	ck_assert_str_eq(why, "too many unauthenticated connections (max_startups)");
	for (i = 0; i < 20; i++) {
		snprintf(ip, sizeof ip, "10.0.0.%d", i + 1);
		ss = addr4(ip);
		startups_leave((struct sockaddr *)&ss);
	}
	ck_assert_int_eq(startups_count(), 0);
	startups_set_random(NULL);
}
END_TEST

/* With the real random source, a flood finds ever fewer places between start and full. */
START_TEST(test_enter_statistics)
{
	struct sockaddr_storage	 ss = addr4("192.0.2.1");
	const char		*why;
	int			 i, admitted = 0;

	startups_setup(100, 30, 1000, 1000000);
	for (i = 0; i < 1000; i++)
		admitted += startups_enter((struct sockaddr *)&ss, &why) == 0;
	/*
	 * 100 at once, then fewer and fewer: sshd's curve admits about 556 of 1000 (525 to
	 * 594 in 2000 simulated runs); a plain cap of 1000 would admit all, and a broken
	 * draw none beyond 100 or all.
	 */
	ck_assert_int_gt(admitted, 480);
	ck_assert_int_lt(admitted, 640);
	for (i = 0; i < admitted; i++)
		startups_leave((struct sockaddr *)&ss);
	ck_assert_int_eq(startups_count(), 0);
}
END_TEST

/* The cap per source counts an IPv6 /64 as one source, and IPv4 addresses apart. */
START_TEST(test_per_source_prefix)
{
	struct sockaddr_storage	 ss;
	const char		*why = NULL;
	char			 ip[64];
	int			 i;

	startups_setup(1000, 100, 1000, 3);
	source_setup(64);
	for (i = 0; i < 3; i++) {
		snprintf(ip, sizeof ip, "2001:db8:1:2::%x", i + 1);
		ss = addr6(ip);
		ck_assert_int_eq(startups_enter((struct sockaddr *)&ss, &why), 0);
	}
	ss = addr6("2001:db8:1:2:ffff:ffff:ffff:ffff");
	ck_assert_int_eq(startups_enter((struct sockaddr *)&ss, &why), -1);
	ck_assert_ptr_nonnull(strstr(why, "max_startups_per_source"));
	ss = addr6("2001:db8:1:3::1");
	ck_assert_int_eq(startups_enter((struct sockaddr *)&ss, &why), 0);
	startups_leave((struct sockaddr *)&ss);
	/* Counted out under the same key: the /64 has room again. */
	ss = addr6("2001:db8:1:2::1");
	startups_leave((struct sockaddr *)&ss);
	ss = addr6("2001:db8:1:2::abcd");
	ck_assert_int_eq(startups_enter((struct sockaddr *)&ss, &why), 0);
	for (i = 0; i < 4; i++) {
		ss = addr4(i == 3 ? "198.51.100.9" : "198.51.100.8");
		ck_assert_int_eq(startups_enter((struct sockaddr *)&ss, &why), 0);
	}
	ss = addr4("198.51.100.8");
	ck_assert_int_eq(startups_enter((struct sockaddr *)&ss, &why), -1);
	source_setup(SOURCE_PREFIX6_DEFAULT);
}
END_TEST

/* The startups suite. */
static Suite *
startups_suite(void)
{
	Suite	*s = suite_create("startups");
	TCase	*tc = tcase_create("startups");

	tcase_add_test(tc, test_drop_decision);
	tcase_add_test(tc, test_enter_early_drop);
	tcase_add_test(tc, test_enter_statistics);
	tcase_add_test(tc, test_per_source_prefix);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return tg_run(startups_suite());
}
