/* SPDX-License-Identifier: ISC */
/*
 * tunnelgw: unit tests of source keys: IPv4 per address, IPv6 grouped by source_prefix6
 * bits, IPv4-mapped IPv6 as IPv4; and the per-source token buckets that use them.
 */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include "ratelimit.h"
#include "source.h"
#include "tg_test.h"

/* A sockaddr for a numeric IPv4 or IPv6 address. */
static struct sockaddr_storage
addr(const char *ip)
{
	struct sockaddr_storage	 ss;
	struct sockaddr_in	*sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)&ss;

	memset(&ss, 0, sizeof ss);
	if (strchr(ip, ':') != NULL) {
		sin6->sin6_family = AF_INET6;
		ck_assert_int_eq(inet_pton(AF_INET6, ip, &sin6->sin6_addr), 1);
	} else {
		sin->sin_family = AF_INET;
		ck_assert_int_eq(inet_pton(AF_INET, ip, &sin->sin_addr), 1);
	}
	return ss;
}

/* Do a and b give the same source key. */
static int
same_source(const char *a, const char *b)
{
	struct sockaddr_storage	 sa = addr(a), sb = addr(b);
	unsigned char		 ka[16], kb[16];

	source_key((struct sockaddr *)&sa, ka);
	source_key((struct sockaddr *)&sb, kb);
	return memcmp(ka, kb, 16) == 0;
}

/* The key of one address, as an IPv6 address string. */
static const char *
key_text(const char *ip)
{
	static char		 buf[INET6_ADDRSTRLEN];
	struct sockaddr_storage	 ss = addr(ip);
	unsigned char		 k[16];

	source_key((struct sockaddr *)&ss, k);
	return inet_ntop(AF_INET6, k, buf, sizeof buf);
}

/* The default groups an IPv6 /64; IPv4 stays per address. */
START_TEST(test_default_64)
{
	source_setup(SOURCE_PREFIX6_DEFAULT);
	ck_assert(same_source("2001:db8:1:2::1", "2001:db8:1:2:ffff:ffff:ffff:ffff"));
	ck_assert(same_source("2001:db8:1:2::1", "2001:db8:1:2:8000::"));
	ck_assert(!same_source("2001:db8:1:2::1", "2001:db8:1:3::1"));
	ck_assert_str_eq(key_text("2001:db8:1:2:aaaa:bbbb:cccc:dddd"), "2001:db8:1:2::");
	ck_assert(!same_source("192.0.2.1", "192.0.2.2"));
	ck_assert(same_source("192.0.2.1", "192.0.2.1"));
	ck_assert_str_eq(key_text("192.0.2.1"), "::ffff:192.0.2.1");
}
END_TEST

/* IPv4 clients of a dual-stack listener (IPv4-mapped) are IPv4: never one /64 for all. */
START_TEST(test_v4_mapped)
{
	source_setup(64);
	ck_assert(!same_source("::ffff:192.0.2.1", "::ffff:192.0.2.2"));
	ck_assert(same_source("::ffff:192.0.2.1", "192.0.2.1"));
	source_setup(1);
	ck_assert(!same_source("::ffff:198.51.100.1", "::ffff:198.51.100.2"));
}
END_TEST

/* Other prefix lengths, including ones that end inside a byte. */
START_TEST(test_other_prefixes)
{
	source_setup(128);
	ck_assert(!same_source("2001:db8::1", "2001:db8::2"));
	source_setup(56);
	ck_assert(same_source("2001:db8:0:1200::1", "2001:db8:0:12ff:1::1"));
	ck_assert(!same_source("2001:db8:0:1200::1", "2001:db8:0:1300::1"));
	source_setup(60);
	ck_assert_str_eq(key_text("2001:db8:0:123f:1::"), "2001:db8:0:1230::");
	source_setup(3);
	ck_assert_str_eq(key_text("ffff::1"), "e000::");
	source_setup(SOURCE_PREFIX6_DEFAULT);
}
END_TEST

/* The token buckets of ssh_rate and conn_rate count a /64 as one source. */
START_TEST(test_ratelimit_groups)
{
	struct ratelimit	*rl;
	struct sockaddr_storage	 ss;
	char			 ip[64];
	int			 i, allowed = 0;

	source_setup(64);
	rl = ratelimit_create(1, 5, 256);
	for (i = 0; i < 50; i++) {
		snprintf(ip, sizeof ip, "2001:db8:7:7::%x", i + 1);
		ss = addr(ip);
		allowed += ratelimit_allow(rl, (struct sockaddr *)&ss, 100.0);
	}
	ck_assert_int_eq(allowed, 5);
	ss = addr("2001:db8:7:8::1");
	ck_assert_int_eq(ratelimit_allow(rl, (struct sockaddr *)&ss, 100.0), 1);
	for (allowed = 0, i = 0; i < 50; i++) {
		snprintf(ip, sizeof ip, "192.0.2.%d", i + 1);
		ss = addr(ip);
		allowed += ratelimit_allow(rl, (struct sockaddr *)&ss, 100.0);
	}
	ck_assert_int_eq(allowed, 50);
	ratelimit_free(rl);
}
END_TEST

/* The source suite. */
static Suite *
source_suite(void)
{
	Suite	*s = suite_create("source");
	TCase	*tc = tcase_create("source");

	tcase_add_test(tc, test_default_64);
	tcase_add_test(tc, test_v4_mapped);
	tcase_add_test(tc, test_other_prefixes);
	tcase_add_test(tc, test_ratelimit_groups);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return tg_run(source_suite());
}
