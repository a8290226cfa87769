/* SPDX-License-Identifier: ISC */
/* tunnelgw: unit tests of the PROXY protocol encoder against haproxy's proxy-protocol.txt. */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/un.h>

#include "proxyproto.h"
#include "tg_test.h"

/* Fill a sockaddr_storage from a numeric address and port. */
static const struct sockaddr *
addr(struct sockaddr_storage *ss, const char *ip, int port)
{
	struct sockaddr_in	*sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof *ss);
	if (inet_pton(AF_INET, ip, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
	} else {
		ck_assert_int_eq(inet_pton(AF_INET6, ip, &sin6->sin6_addr), 1);
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
	}
	return (const struct sockaddr *)ss;
}

/* Build a v1 header and compare it with the expected text. */
static void
check_v1(const char *src, int sport, const char *dst, int dport, const char *want)
{
	struct sockaddr_storage	 s, d;
	char			 buf[PROXYPROTO_MAX];
	ssize_t			 n;

	n = proxyproto_v1(buf, sizeof buf, addr(&s, src, sport), addr(&d, dst, dport));
	ck_assert_int_eq(n, (ssize_t)strlen(want));
	ck_assert_int_le(n, PROXYPROTO_V1_MAX);
	ck_assert_int_eq(memcmp(buf, want, (size_t)n), 0);
}

/* The specification's own IPv4 example, and the form of every v1 header. */
START_TEST(test_v1_ipv4)
{
	check_v1("192.168.0.1", 56324, "192.168.0.11", 443,
	    "PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n");
	check_v1("0.0.0.0", 1, "255.255.255.255", 65535,
	    "PROXY TCP4 0.0.0.0 255.255.255.255 1 65535\r\n");
}
END_TEST

/* IPv6 in its canonical (compressed, lower-case) form. */
START_TEST(test_v1_ipv6)
{
	check_v1("2001:DB8::1", 40000, "2001:db8:0:0:0:0:0:2", 22,
	    "PROXY TCP6 2001:db8::1 2001:db8::2 40000 22\r\n");
}
END_TEST

/* The longest v1 header fits the specification's 107 bytes. */
START_TEST(test_v1_longest)
{
	check_v1("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 65535,
	    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 65535,
	    "PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
	    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n");
}
END_TEST

/* IPv4-mapped IPv6 ends are written as IPv4; a mixed pair is written as IPv6. */
START_TEST(test_v1_mapped)
{
	check_v1("::ffff:10.1.2.3", 5000, "::ffff:10.0.0.1", 31000,
	    "PROXY TCP4 10.1.2.3 10.0.0.1 5000 31000\r\n");
	check_v1("10.1.2.3", 5000, "2001:db8::7", 31000,
	    "PROXY TCP6 ::ffff:10.1.2.3 2001:db8::7 5000 31000\r\n");
}
END_TEST

/* The fixed v2 header: signature, version/command, family, length. */
static void
check_v2_head(const unsigned char *b, unsigned char fam, size_t len)
{
	static const unsigned char sig[12] = {
		0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A
	};

	ck_assert_int_eq(memcmp(b, sig, 12), 0);
	ck_assert_int_eq(b[12], 0x21);
	ck_assert_int_eq(b[13], fam);
	ck_assert_uint_eq(((size_t)b[14] << 8) | b[15], len - 16);
}

/* v2 over IPv4: addresses, ports in network order, then AUTHORITY and UNIQUE_ID TLVs. */
START_TEST(test_v2_ipv4)
{
	struct sockaddr_storage	 s, d;
	unsigned char		 b[PROXYPROTO_MAX];
	static const unsigned char addrs[12] = {
		192, 168, 0, 1, 192, 168, 0, 11, 0xdc, 0x04, 0x01, 0xbb
	};
	ssize_t			 n;

	n = proxyproto_v2((char *)b, sizeof b, addr(&s, "192.168.0.1", 56324),
	    addr(&d, "192.168.0.11", 443), "gw.example.com", "42");
	ck_assert_int_eq(n, 16 + 12 + 3 + 14 + 3 + 2);
	check_v2_head(b, 0x11, (size_t)n);
	ck_assert_int_eq(memcmp(b + 16, addrs, 12), 0);
	ck_assert_int_eq(b[28], 0x02);
	ck_assert_int_eq(b[29], 0);
	ck_assert_int_eq(b[30], 14);
	ck_assert_int_eq(memcmp(b + 31, "gw.example.com", 14), 0);
	ck_assert_int_eq(b[45], 0x05);
	ck_assert_int_eq(b[46], 0);
	ck_assert_int_eq(b[47], 2);
	ck_assert_int_eq(memcmp(b + 48, "42", 2), 0);
}
END_TEST

/* v2 over IPv6: 36 bytes of addresses and ports; no TLVs when none are given. */
START_TEST(test_v2_ipv6)
{
	struct sockaddr_storage	 s, d;
	unsigned char		 b[PROXYPROTO_MAX], a6[16];
	ssize_t			 n;

	n = proxyproto_v2((char *)b, sizeof b, addr(&s, "2001:db8::1", 1),
	    addr(&d, "2001:db8::2", 65535), NULL, "");
	ck_assert_int_eq(n, 16 + 36);
	check_v2_head(b, 0x21, (size_t)n);
	inet_pton(AF_INET6, "2001:db8::1", a6);
	ck_assert_int_eq(memcmp(b + 16, a6, 16), 0);
	inet_pton(AF_INET6, "2001:db8::2", a6);
	ck_assert_int_eq(memcmp(b + 32, a6, 16), 0);
	ck_assert_int_eq(b[48], 0);
	ck_assert_int_eq(b[49], 1);
	ck_assert_int_eq(b[50], 0xff);
	ck_assert_int_eq(b[51], 0xff);
}
END_TEST

/* v2 writes IPv4-mapped IPv6 sources as IPv4. */
START_TEST(test_v2_mapped)
{
	struct sockaddr_storage	 s, d;
	unsigned char		 b[PROXYPROTO_MAX];
	static const unsigned char addrs[8] = { 10, 1, 2, 3, 127, 0, 0, 1 };
	ssize_t			 n;

	n = proxyproto_v2((char *)b, sizeof b, addr(&s, "::ffff:10.1.2.3", 7),
	    addr(&d, "::ffff:127.0.0.1", 8), NULL, NULL);
	ck_assert_int_eq(n, 16 + 12);
	check_v2_head(b, 0x11, (size_t)n);
	ck_assert_int_eq(memcmp(b + 16, addrs, 8), 0);
}
END_TEST

/* What cannot be encoded is refused, never truncated. */
/* v2 for a UDP flow: the same header with the DGRAM transport, 0x12 over IPv4, 0x22 IPv6. */
START_TEST(test_v2_dgram)
{
	struct sockaddr_storage	 s, d;
	unsigned char		 b[PROXYPROTO_MAX], t[PROXYPROTO_MAX];
	ssize_t			 n, m;

	n = proxyproto_v2_dgram((char *)b, sizeof b, addr(&s, "192.168.0.1", 5353),
	    addr(&d, "192.168.0.11", 53), NULL, NULL);
	ck_assert_int_eq(n, 16 + 12);
	check_v2_head(b, 0x12, (size_t)n);
	m = proxyproto_v2((char *)t, sizeof t, (struct sockaddr *)&s, (struct sockaddr *)&d,
	    NULL, NULL);
	ck_assert_int_eq(m, n);
	ck_assert_int_eq(memcmp(b + 14, t + 14, (size_t)n - 14), 0);
	n = proxyproto_v2_dgram((char *)b, sizeof b, addr(&s, "2001:db8::1", 1),
	    addr(&d, "192.168.0.11", 53), "gw.example.com", NULL);
	ck_assert_int_eq(n, 16 + 36 + 3 + 14);
	check_v2_head(b, 0x22, (size_t)n);
}
END_TEST

START_TEST(test_refusals)
{
	struct sockaddr_storage	 s, d;
	struct sockaddr_un	 un = { .sun_family = AF_UNIX };
	char			 b[PROXYPROTO_MAX], uid[200];

	memset(uid, 'x', sizeof uid - 1);
	uid[sizeof uid - 1] = '\0';
	ck_assert_int_eq(proxyproto_v2(b, sizeof b, addr(&s, "10.0.0.1", 1),
	    addr(&d, "10.0.0.2", 2), NULL, uid), -1);
	uid[128] = '\0';
	ck_assert_int_eq(proxyproto_v2(b, sizeof b, addr(&s, "10.0.0.1", 1),
	    addr(&d, "10.0.0.2", 2), NULL, uid), 16 + 12 + 3 + 128);
	ck_assert_int_eq(proxyproto_v1(b, sizeof b, (struct sockaddr *)&un,
	    addr(&d, "10.0.0.2", 2)), -1);
	ck_assert_int_eq(proxyproto_v1(b, 20, addr(&s, "10.0.0.1", 1),
	    addr(&d, "10.0.0.2", 2)), -1);
	ck_assert_int_eq(proxyproto_v2(b, 40, addr(&s, "10.0.0.1", 1),
	    addr(&d, "10.0.0.2", 2), NULL, NULL), -1);
	ck_assert_int_eq(proxyproto_build(3, b, sizeof b, addr(&s, "10.0.0.1", 1),
	    addr(&d, "10.0.0.2", 2), NULL, NULL), -1);
	ck_assert_int_eq(proxyproto_build(1, b, sizeof b, addr(&s, "10.0.0.1", 1),
	    addr(&d, "10.0.0.2", 2), NULL, NULL), 34);
}
END_TEST

/* The encoder suite. */
static Suite *
proxyproto_suite(void)
{
	Suite	*s = suite_create("proxyproto");
	TCase	*tc = tcase_create("encode");

	tcase_add_test(tc, test_v1_ipv4);
	tcase_add_test(tc, test_v1_ipv6);
	tcase_add_test(tc, test_v1_longest);
	tcase_add_test(tc, test_v1_mapped);
	tcase_add_test(tc, test_v2_ipv4);
	tcase_add_test(tc, test_v2_ipv6);
	tcase_add_test(tc, test_v2_mapped);
	tcase_add_test(tc, test_v2_dgram);
	tcase_add_test(tc, test_refusals);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return tg_run(proxyproto_suite());
}
