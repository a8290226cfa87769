/* SPDX-License-Identifier: ISC */
/* tunnelgw: unit tests of CIDR lists: parsing, matching IPv4/IPv6/mapped addresses, errors. */
#include "config.h"

#include <sys/socket.h>
#include <sys/un.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include "auth.h"
#include "tg_test.h"


/* Parse s, which must be valid, and return the list. */
static struct cidrlist *
parse_ok(const char *s)
{
	struct cidrlist	*l;
	char		*cause = NULL;

	ck_assert_msg(cidrlist_parse(s, &l, &cause) == 0, "'%s': %s", s, cause);
	ck_assert_ptr_nonnull(l);
	return l;
}

/* Does the list s match address a? */
static int
matches(const char *s, const char *a)
{
	struct sockaddr_storage	 ss;
	struct cidrlist		*l = parse_ok(s);
	int			 rc;

	rc = cidrlist_match(l, tg_addr(&ss, a));
	cidrlist_free(l);
	return rc;
}

/* The canonical form of the valid list s. */
static void
check_format(const char *s, const char *expect)
{
	struct cidrlist	*l = parse_ok(s);
	char		*out = cidrlist_format(l);

	ck_assert_str_eq(out, expect);
	free(out);
	cidrlist_free(l);
}

/* IPv4 networks parse, with blanks around entries, and print canonically. */
START_TEST(test_parse_v4)
{
	struct cidrlist	*l = parse_ok(" 10.0.0.0/8 ,\t192.168.1.0/24,0.0.0.0/0");

	ck_assert_uint_eq(cidrlist_count(l), 3);
	cidrlist_free(l);
	check_format(" 10.0.0.0/8 ,\t192.168.1.0/24,0.0.0.0/0",
	    "10.0.0.0/8,192.168.1.0/24,0.0.0.0/0");
	check_format("172.16.0.0/12", "172.16.0.0/12");
}
END_TEST

/* IPv6 networks parse and print in their RFC 5952 form. */
START_TEST(test_parse_v6)
{
	check_format("::1/128,2001:db8::/32", "::1/128,2001:db8::/32");
	check_format("2001:0DB8:0000:0000::/64", "2001:db8::/64");
	check_format("::/0", "::/0");
	check_format("::ffff:10.0.0.0/104", "::ffff:10.0.0.0/104");
}
END_TEST

/* A bare address is a /32 or a /128. */
START_TEST(test_bare_address)
{
	check_format("192.168.1.7", "192.168.1.7/32");
	check_format("::1", "::1/128");
	check_format("10.0.0.0/8, 192.168.1.7,::1/128,2001:db8::/32",
	    "10.0.0.0/8,192.168.1.7/32,::1/128,2001:db8::/32");
	ck_assert_int_eq(matches("192.168.1.7", "192.168.1.7"), 1);
	ck_assert_int_eq(matches("192.168.1.7", "192.168.1.8"), 0);
	ck_assert_int_eq(matches("::1", "::1"), 1);
	ck_assert_int_eq(matches("::1", "::2"), 0);
}
END_TEST

/* Addresses inside a network match, those outside do not, at any prefix length. */
START_TEST(test_match)
{
	ck_assert_int_eq(matches("10.0.0.0/8", "10.255.1.2"), 1);
	ck_assert_int_eq(matches("10.0.0.0/8", "11.0.0.0"), 0);
	ck_assert_int_eq(matches("172.16.0.0/12", "172.31.255.255"), 1);
	ck_assert_int_eq(matches("172.16.0.0/12", "172.32.0.0"), 0);
	ck_assert_int_eq(matches("172.16.0.0/12", "172.15.255.255"), 0);
	ck_assert_int_eq(matches("0.0.0.0/0", "203.0.113.9"), 1);
	ck_assert_int_eq(matches("192.168.1.128/25", "192.168.1.127"), 0);
	ck_assert_int_eq(matches("192.168.1.128/25", "192.168.1.200"), 1);
	ck_assert_int_eq(matches("2001:db8::/32", "2001:db8:ffff::1"), 1);
	ck_assert_int_eq(matches("2001:db8::/32", "2001:db9::1"), 0);
	ck_assert_int_eq(matches("2001:db8::/33", "2001:db8:8000::"), 0);
	ck_assert_int_eq(matches("::/0", "fe80::1"), 1);
	ck_assert_int_eq(matches("10.0.0.0/8, 2001:db8::/32", "2001:db8::5"), 1);
	ck_assert_int_eq(matches("10.0.0.0/8, 2001:db8::/32", "10.9.9.9"), 1);
	ck_assert_int_eq(matches("10.0.0.0/8, 2001:db8::/32", "192.0.2.1"), 0);
}
END_TEST

/* Families never cross, except that IPv4-mapped IPv6 addresses match IPv4 networks. */
START_TEST(test_match_families)
{
	struct sockaddr_un	 un;
	struct cidrlist		*l;

	ck_assert_int_eq(matches("10.0.0.0/8", "::ffff:10.1.2.3"), 1);
	ck_assert_int_eq(matches("10.0.0.0/8", "::ffff:11.1.2.3"), 0);
	ck_assert_int_eq(matches("0.0.0.0/0", "::ffff:198.51.100.1"), 1);
	ck_assert_int_eq(matches("192.168.1.7", "::ffff:192.168.1.7"), 1);
	ck_assert_int_eq(matches("::ffff:0:0/96", "::ffff:192.168.1.7"), 1);
	ck_assert_int_eq(matches("::/0", "::ffff:192.168.1.7"), 1);
	ck_assert_int_eq(matches("0.0.0.0/0", "2001:db8::1"), 0);
	ck_assert_int_eq(matches("0.0.0.0/0", "::10.1.2.3"), 0);
	ck_assert_int_eq(matches("::/0", "10.1.2.3"), 0);
	ck_assert_int_eq(matches("2001:db8::/32", "::ffff:10.1.2.3"), 0);

	l = parse_ok("0.0.0.0/0,::/0");
	memset(&un, 0, sizeof un);
	un.sun_family = AF_UNIX;
	ck_assert_int_eq(cidrlist_match(l, (struct sockaddr *)&un), 0);
	ck_assert_int_eq(cidrlist_match(l, NULL), 0);
	ck_assert_int_eq(cidrlist_match(NULL, (struct sockaddr *)&un), 0);
	cidrlist_free(l);
}
END_TEST

/* Bad lists and the words their error must contain. */
static const struct {
	const char	*s;
	const char	*words[3];
} bad_cases[] = {
	{ "10.0.0.1/8", { "'10.0.0.1/8' (entry 1)", "host bits set",
	    "did you mean 10.0.0.0/8?" } },
	{ "::1, 2001:db8::1/32", { "'2001:db8::1/32' (entry 2)", "host bits set",
	    "did you mean 2001:db8::/32?" } },
	{ "192.168.1.129/25", { "did you mean 192.168.1.128/25?", NULL, NULL } },
	{ "10.0.0.0/0", { "host bits", "0.0.0.0/0", NULL } },
	{ "10.0.0.0/33", { "'10.0.0.0/33'", "prefix length must be a number from 0 to 32", NULL } },
	{ "::/129", { "'::/129'", "from 0 to 128", NULL } },
	{ "10.0.0.0/", { "prefix length", NULL, NULL } },
	{ "10.0.0.0/-8", { "prefix length", NULL, NULL } },
	{ "10.0.0.0/+8", { "prefix length", NULL, NULL } },
	{ "10.0.0.0/0008", { "prefix length", NULL, NULL } },
	{ "10.0.0.0/8/8", { "prefix length", NULL, NULL } },
	{ "10.0.0.0/ 8", { "prefix length", NULL, NULL } },
	{ "garbage", { "'garbage' (entry 1)", "not a numeric IPv4 address", NULL } },
	{ "10.0.0", { "not a numeric IPv4 address", NULL, NULL } },
	{ "10.0.0.256", { "not a numeric IPv4 address", NULL, NULL } },
	{ "1.2.3.4.5", { "not a numeric IPv4 address", NULL, NULL } },
	{ "10.0.0.0 /8", { "not a numeric IPv4 address", NULL, NULL } },
	{ "2001:db8:::/32", { "not a numeric IPv6 address", NULL, NULL } },
	{ "fe80::1%eth0", { "not a numeric IPv6 address", NULL, NULL } },
	{ "example.com", { "not a numeric IPv4 address", NULL, NULL } },
	{ "10.0.0.0/8 10.1.0.0/16", { "(entry 1)", "prefix length", NULL } },
	{ "1111111111222222222233333333334444444444555555555566666666667", { "too long", NULL, NULL } },
	{ "", { "empty list", NULL, NULL } },
	{ " \t ", { "empty list", NULL, NULL } },
	{ "10.0.0.0/8,", { "entry 2 is empty", NULL, NULL } },
	{ ",10.0.0.0/8", { "entry 1 is empty", NULL, NULL } },
	{ "10.0.0.0/8, ,::1", { "entry 2 is empty", NULL, NULL } },
};

/* Each bad list is refused with a message naming the entry and the reason. */
START_TEST(test_bad)
{
	struct cidrlist	*l = (struct cidrlist *)1;
	char		*cause = NULL;
	size_t		 j;

	ck_assert_int_eq(cidrlist_parse(bad_cases[_i].s, &l, &cause), -1);
	ck_assert_ptr_null(l);
	ck_assert_ptr_nonnull(cause);
	for (j = 0; j < 3 && bad_cases[_i].words[j] != NULL; j++) {
		ck_assert_msg(strstr(cause, bad_cases[_i].words[j]) != NULL,
		    "'%s': cause '%s' lacks '%s'", bad_cases[_i].s, cause, bad_cases[_i].words[j]);
	}
	free(cause);
}
END_TEST

/* At most CIDRLIST_MAX entries. */
START_TEST(test_too_many)
{
	struct cidrlist	*l;
	char		*s, *cause = NULL;
	size_t		 i, len = 0, size = (CIDRLIST_MAX + 1) * 16;

	s = malloc(size);
	ck_assert_ptr_nonnull(s);
	s[0] = '\0';
	for (i = 0; i < CIDRLIST_MAX; i++)
		len += (size_t)snprintf(s + len, size - len, "%s10.%zu.%zu.0/24",
		    i == 0 ? "" : ",", i / 256, i % 256);
	l = parse_ok(s);
	ck_assert_uint_eq(cidrlist_count(l), CIDRLIST_MAX);
	cidrlist_free(l);
	snprintf(s + len, size - len, ",10.255.0.0/16");
	ck_assert_int_eq(cidrlist_parse(s, &l, &cause), -1);
	ck_assert_ptr_nonnull(strstr(cause, "too many entries (at most 256)"));
	free(cause);
	free(s);
}
END_TEST

/* Formatting and parsing again gives the same list; NULL formats and frees quietly. */
START_TEST(test_format_round_trip)
{
	const char	*s = "10.0.0.0/8, 192.168.1.7 ,::1, 2001:DB8::/32,0.0.0.0/0,"
			    "::ffff:192.0.2.0/120";
	struct cidrlist	*l = parse_ok(s), *again;
	char		*one = cidrlist_format(l), *two;

	ck_assert_str_eq(one, "10.0.0.0/8,192.168.1.7/32,::1/128,2001:db8::/32,0.0.0.0/0,"
	    "::ffff:192.0.2.0/120");
	again = parse_ok(one);
	two = cidrlist_format(again);
	ck_assert_str_eq(one, two);
	ck_assert_uint_eq(cidrlist_count(again), cidrlist_count(l));
	free(one);
	free(two);
	cidrlist_free(l);
	cidrlist_free(again);

	one = cidrlist_format(NULL);
	ck_assert_str_eq(one, "");
	free(one);
	ck_assert_uint_eq(cidrlist_count(NULL), 0);
	cidrlist_free(NULL);
}
END_TEST

/* The CIDR suite. */
static Suite *
cidr_suite(void)
{
	Suite	*s = suite_create("cidr");
	TCase	*tc = tcase_create("cidrlist");

	tcase_add_test(tc, test_parse_v4);
	tcase_add_test(tc, test_parse_v6);
	tcase_add_test(tc, test_bare_address);
	tcase_add_test(tc, test_match);
	tcase_add_test(tc, test_match_families);
	tcase_add_loop_test(tc, test_bad, 0, (int)(sizeof bad_cases / sizeof bad_cases[0]));
	tcase_add_test(tc, test_too_many);
	tcase_add_test(tc, test_format_round_trip);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return tg_run(cidr_suite());
}
