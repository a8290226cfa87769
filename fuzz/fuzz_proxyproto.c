/* SPDX-License-Identifier: ISC */
/*
 * tunnelgw: libFuzzer target of the PROXY protocol encoder, as a round trip. The input
 * chooses the version (v2 over TCP or UDP), both addresses (IPv4, IPv6, IPv4-mapped IPv6 or
 * another family), the ports, the authority and unique id TLVs and the buffer size;
 * proxyproto_build() (or proxyproto_v2_dgram()) encodes,
 * and the decoders here (v1 text, v2 binary, written from the specification) must read back
 * exactly what was chosen, or the encoder must have refused for a stated reason.
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/un.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "proxyproto.h"
#include "xmalloc.h"

#define FUZZ_PP_AUTHORITY_MAX	255	/* what proxyproto_v2 promises to send */
#define FUZZ_PP_UNIQUE_ID_MAX	128

static const uint8_t fuzz_pp_signature[12] = {
	0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A
};

/* One end as chosen: its socket address and what a header must say of it. */
struct fuzz_pp_end {
	struct sockaddr_storage	 ss;
	int			 known;		/* IPv4 or IPv6: a header can carry it */
	int			 v4;		/* IPv4, or IPv4-mapped IPv6 */
	uint8_t			 a4[4];
	uint8_t			 a6[16];	/* IPv4 as IPv4-mapped */
	unsigned int		 port;
};

/* Everything the input chose. */
struct fuzz_pp_case {
	int			 version;
	int			 dgram;		/* v2 for a UDP flow (proxyproto_v2_dgram) */
	struct fuzz_pp_end	 src, dst;
	char			*authority;	/* NULL or a string */
	char			*unique_id;
	size_t			 size;		/* of the buffer, when smaller than PROXYPROTO_MAX */
};

/* libFuzzer: once at start. */
int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_quiet();
	return 0;
}

/* Choose one end: its kind from the low two bits of kind, then address and port. */
static void
fuzz_pp_end_take(struct fuzz_pp_end *e, unsigned int kind, struct fuzz_input *in)
{
	struct sockaddr_in	*sin = (struct sockaddr_in *)&e->ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)&e->ss;
	struct sockaddr_un	*sun = (struct sockaddr_un *)&e->ss;
	uint8_t			 addr[16];

	memset(e, 0, sizeof *e);
	fuzz_input_bytes(in, addr, sizeof addr);
	e->port = fuzz_input_byte(in) << 8;
	e->port |= fuzz_input_byte(in);
	switch (kind & 3) {
	case 0:
		sin->sin_family = AF_INET;
		memcpy(&sin->sin_addr, addr, 4);
		sin->sin_port = htons((uint16_t)e->port);
		break;
	case 1:
	case 2:
		/* 2: IPv4-mapped IPv6, which must be written as IPv4 next to another IPv4. */
		if ((kind & 3) == 2) {
			memset(addr, 0, 10);
			addr[10] = addr[11] = 0xff;
		}
		sin6->sin6_family = AF_INET6;
		memcpy(&sin6->sin6_addr, addr, 16);
		sin6->sin6_port = htons((uint16_t)e->port);
		break;
	default:
		sun->sun_family = AF_UNIX;
		return;
	}
	e->known = 1;
	if (kind % 4 == 0) {
		e->v4 = 1;
		memcpy(e->a4, addr, 4);
		e->a6[10] = e->a6[11] = 0xff;
		memcpy(e->a6 + 12, addr, 4);
		return;
	}
	memcpy(e->a6, addr, 16);
	if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
		e->v4 = 1;
		memcpy(e->a4, addr + 12, 4);
	}
}

/* Choose a TLV string: NULL, or up to max + 44 bytes (so too long is tried too), no NUL. */
static char *
fuzz_pp_string_take(struct fuzz_input *in, size_t max)
{
	unsigned int	 b = fuzz_input_byte(in);
	size_t		 len, i;
	char		*s;

	if (b == 0)
		return NULL;
	len = (b << 8 | fuzz_input_byte(in)) % (max + 45);
	s = xmalloc(len + 1);
	fuzz_input_bytes(in, s, len);
	for (i = 0; i < len; i++) {
		if (s[i] == '\0')
			s[i] = 'x';
	}
	s[len] = '\0';
	return s;
}

/* Decode the input into a case. */
static void
fuzz_pp_case_take(struct fuzz_pp_case *c, const uint8_t *data, size_t size)
{
	struct fuzz_input	 in;
	unsigned int		 b;

	fuzz_input_init(&in, data, size);
	b = fuzz_input_byte(&in);
	c->version = (int)(b & 3);
	c->dgram = (b & 8) != 0;
	c->size = PROXYPROTO_MAX;
	if (b & 4) {
		c->size = fuzz_input_byte(&in) << 8;
		c->size = (c->size | fuzz_input_byte(&in)) % PROXYPROTO_MAX;
	}
	fuzz_pp_end_take(&c->src, b >> 4, &in);
	fuzz_pp_end_take(&c->dst, b >> 6, &in);
	c->authority = fuzz_pp_string_take(&in, FUZZ_PP_AUTHORITY_MAX);
	c->unique_id = fuzz_pp_string_take(&in, FUZZ_PP_UNIQUE_ID_MAX);
}

/* Check a v1 address field against the end it stands for. */
static void
fuzz_pp_v1_address(const char *text, int v4, const struct fuzz_pp_end *e)
{
	uint8_t	 a[16];

	if (inet_pton(v4 ? AF_INET : AF_INET6, text, a) != 1)
		fuzz_fail("v1: '%s' is no IPv%d address", text, v4 ? 4 : 6);
	if (memcmp(a, v4 ? e->a4 : e->a6, v4 ? 4 : 16) != 0)
		fuzz_fail("v1: address '%s' is not the one given", text);
}

/* Check a v1 port field: decimal, no leading zero, the port given. */
static void
fuzz_pp_v1_port(const char *text, unsigned int port)
{
	char	 want[8];

	snprintf(want, sizeof want, "%u", port);
	if (strcmp(text, want) != 0)
		fuzz_fail("v1: port '%s', not %s", text, want);
}

/* Decode a v1 header "PROXY TCP4|TCP6 SRC DST SPORT DPORT\r\n" and compare it with c. */
static void
fuzz_pp_v1_check(const struct fuzz_pp_case *c, const char *buf, size_t n)
{
	char	 line[PROXYPROTO_V1_MAX + 1], *p = line, *f[7];
	int	 v4 = c->src.v4 && c->dst.v4, i;

	if (n > PROXYPROTO_V1_MAX || n < 2 || buf[n - 2] != '\r' || buf[n - 1] != '\n' ||
	    memchr(buf, '\0', n) != NULL)
		fuzz_fail("v1: %zu bytes not ending in CRLF", n);
	memcpy(line, buf, n - 2);
	line[n - 2] = '\0';
	for (i = 0; i < 7 && (f[i] = strsep(&p, " ")) != NULL; i++)
		;
	if (i != 6)
		fuzz_fail("v1: %d fields in '%s'", i, line);
	if (strcmp(f[0], "PROXY") != 0 || strcmp(f[1], v4 ? "TCP4" : "TCP6") != 0)
		fuzz_fail("v1: '%s %s' for %s ends", f[0], f[1], v4 ? "IPv4" : "mixed or IPv6");
	fuzz_pp_v1_address(f[2], v4, &c->src);
	fuzz_pp_v1_address(f[3], v4, &c->dst);
	fuzz_pp_v1_port(f[4], c->src.port);
	fuzz_pp_v1_port(f[5], c->dst.port);
}

/* Check one end of a v2 address block: address of alen bytes, then the port later. */
static void
fuzz_pp_v2_end(const uint8_t *addr, const uint8_t *port, int v4, const struct fuzz_pp_end *e)
{
	if (memcmp(addr, v4 ? e->a4 : e->a6, v4 ? 4 : 16) != 0)
		fuzz_fail("v2: an address is not the one given");
	if ((unsigned int)(port[0] << 8 | port[1]) != e->port)
		fuzz_fail("v2: a port is not the one given");
}

/* Check the next TLV at *off: of type, holding value; a NULL or empty value: no TLV. */
static void
fuzz_pp_v2_tlv(const uint8_t *buf, size_t n, size_t *off, uint8_t type, const char *value)
{
	size_t	 len;

	if (value == NULL || *value == '\0')
		return;
	if (*off + 3 > n || buf[*off] != type)
		fuzz_fail("v2: TLV 0x%02x missing at %zu", type, *off);
	len = (size_t)buf[*off + 1] << 8 | buf[*off + 2];
	if (*off + 3 + len > n || len != strlen(value) || memcmp(buf + *off + 3, value, len) != 0)
		fuzz_fail("v2: TLV 0x%02x holds other bytes than given", type);
	*off += 3 + len;
}

/* Decode a v2 header and compare it with c. */
static void
fuzz_pp_v2_check(const struct fuzz_pp_case *c, const uint8_t *buf, size_t n)
{
	int	 v4 = c->src.v4 && c->dst.v4;
	size_t	 alen = v4 ? 4 : 16, off;

	if (n < 16 || memcmp(buf, fuzz_pp_signature, 12) != 0 || buf[12] != 0x21)
		fuzz_fail("v2: no signature, or not version 2 PROXY");
	if (buf[13] != ((v4 ? 0x10 : 0x20) | (c->dgram ? 0x02 : 0x01)))
		fuzz_fail("v2: family 0x%02x for %s ends over %s", buf[13], v4 ? "IPv4" :
		    "mixed or IPv6", c->dgram ? "UDP" : "TCP");
	if (((size_t)buf[14] << 8 | buf[15]) != n - 16 || n < 16 + 2 * alen + 4)
		fuzz_fail("v2: length field %u for %zu bytes", buf[14] << 8 | buf[15], n);
	off = 16 + 2 * alen;
	fuzz_pp_v2_end(buf + 16, buf + off, v4, &c->src);
	fuzz_pp_v2_end(buf + 16 + alen, buf + off + 2, v4, &c->dst);
	off += 4;
	fuzz_pp_v2_tlv(buf, n, &off, 0x02, c->authority);
	fuzz_pp_v2_tlv(buf, n, &off, 0x05, c->unique_id);
	if (off != n)
		fuzz_fail("v2: %zu bytes after the TLVs", n - off);
}

/* May the encoder refuse the case with a buffer of PROXYPROTO_MAX bytes? */
static int
fuzz_pp_refusable(const struct fuzz_pp_case *c)
{
	if (c->version != 1 && c->version != 2)
		return 1;
	if (!c->src.known || !c->dst.known)
		return 1;
	return c->version == 2 &&
	    ((c->authority != NULL && strlen(c->authority) > FUZZ_PP_AUTHORITY_MAX) ||
	    (c->unique_id != NULL && strlen(c->unique_id) > FUZZ_PP_UNIQUE_ID_MAX));
}

/* Encode into a buffer of exactly size bytes (so ASan sees any overrun): the length or -1. */
static ssize_t
fuzz_pp_build(const struct fuzz_pp_case *c, size_t size, uint8_t **out)
{
	*out = xmalloc(size == 0 ? 1 : size);
	if (c->version == 2 && c->dgram)
		return proxyproto_v2_dgram((char *)*out, size, (struct sockaddr *)&c->src.ss,
		    (struct sockaddr *)&c->dst.ss, c->authority, c->unique_id);
	return proxyproto_build(c->version, (char *)*out, size, (struct sockaddr *)&c->src.ss,
	    (struct sockaddr *)&c->dst.ss, c->authority, c->unique_id);
}

/* A smaller buffer: the same header when it fits, a refusal when it does not. */
static void
fuzz_pp_small(const struct fuzz_pp_case *c, const uint8_t *full, ssize_t n)
{
	uint8_t	*buf;
	ssize_t	 m = fuzz_pp_build(c, c->size, &buf);
	int	 fits;

	/* v1 needs room for snprintf's NUL; v2 wants room for any address block. */
	if (c->version == 1)
		fits = (size_t)n < c->size;
	else
		fits = c->size >= 16 + 36 && (size_t)n <= c->size;
	if (fits && (m != n || memcmp(buf, full, (size_t)n) != 0))
		fuzz_fail("a %zd-byte header not built right in %zu bytes", n, c->size);
	if (!fits && m != -1)
		fuzz_fail("a %zd-byte header built in %zu bytes", n, c->size);
	free(buf);
}

/* libFuzzer: one input. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_pp_case	 c;
	uint8_t			*buf;
	ssize_t			 n;

	fuzz_pp_case_take(&c, data, size);
	n = fuzz_pp_build(&c, PROXYPROTO_MAX, &buf);
	if (n == -1) {
		if (!fuzz_pp_refusable(&c))
			fuzz_fail("version %d refused for ends it can carry", c.version);
	} else if (fuzz_pp_refusable(&c))
		fuzz_fail("version %d built for a case it must refuse", c.version);
	else if (n <= 0 || n > PROXYPROTO_MAX)
		fuzz_fail("a length of %zd", n);
	else {
		if (c.version == 1)
			fuzz_pp_v1_check(&c, (const char *)buf, (size_t)n);
		else
			fuzz_pp_v2_check(&c, buf, (size_t)n);
		if (c.size < PROXYPROTO_MAX)
			fuzz_pp_small(&c, buf, n);
	}
	free(buf);
	free(c.authority);
	free(c.unique_id);
	return 0;
}
