/* SPDX-License-Identifier: ISC */
/*
 * tunnelgw: PROXY protocol headers, written as the first bytes toward the user's service so
 * it learns the public client's address: v1 (text) and v2 (binary), following haproxy's
 * proxy-protocol.txt. IPv4 and IPv4-mapped IPv6 addresses are written as IPv4 when both ends
 * are IPv4; otherwise both are written as IPv6.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "proxyproto.h"

#define PP2_VERSION_PROXY	0x21	/* version 2, command PROXY */
#define PP2_AF_INET		0x10	/* family, high nibble ... */
#define PP2_AF_INET6		0x20
#define PP2_STREAM		0x01	/* ... and transport, low nibble: TCP */
#define PP2_DGRAM		0x02	/* UDP */
#define PP2_TYPE_AUTHORITY	0x02
#define PP2_TYPE_UNIQUE_ID	0x05
#define PP2_UNIQUE_ID_MAX	128	/* the specification's limit */

static const unsigned char pp2_signature[12] = {
	0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A
};

/* One end of a connection, as the header carries it. */
struct pp_end {
	int		 v4;		/* address fits IPv4 (AF_INET or IPv4-mapped) */
	unsigned char	 a4[4];
	unsigned char	 a6[16];
	uint16_t	 port;		/* host order */
};

/* Read an address into an end; -1 for families other than IPv4 and IPv6. */
static int
pp_end_set(struct pp_end *e, const struct sockaddr *sa)
{
	const struct sockaddr_in	*sin;
	const struct sockaddr_in6	*sin6;

	memset(e, 0, sizeof *e);
	if (sa->sa_family == AF_INET) {
		sin = (const struct sockaddr_in *)sa;
		memcpy(e->a4, &sin->sin_addr, 4);
		/* The same address as IPv4-mapped IPv6, for a mixed pair. */
		e->a6[10] = e->a6[11] = 0xff;
		memcpy(e->a6 + 12, e->a4, 4);
		e->port = ntohs(sin->sin_port);
		e->v4 = 1;
		return 0;
	}
	if (sa->sa_family == AF_INET6) {
		sin6 = (const struct sockaddr_in6 *)sa;
		memcpy(e->a6, &sin6->sin6_addr, 16);
		e->port = ntohs(sin6->sin6_port);
		if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
			memcpy(e->a4, e->a6 + 12, 4);
			e->v4 = 1;
		}
		return 0;
	}
	return -1;
}

/*
 * Build a v1 header "PROXY TCP4|TCP6 SRC DST SPORT DPORT\r\n" into buf; returns its length,
 * or -1 when an address is of another family or buf is too small.
 */
ssize_t
proxyproto_v1(char *buf, size_t size, const struct sockaddr *src, const struct sockaddr *dst)
{
	struct pp_end	 s, d;
	char		 sa[INET6_ADDRSTRLEN], da[INET6_ADDRSTRLEN];
	int		 v4, n;

	if (pp_end_set(&s, src) != 0 || pp_end_set(&d, dst) != 0)
		return -1;
	v4 = s.v4 && d.v4;
	if (v4) {
		inet_ntop(AF_INET, s.a4, sa, sizeof sa);
		inet_ntop(AF_INET, d.a4, da, sizeof da);
	} else {
		inet_ntop(AF_INET6, s.a6, sa, sizeof sa);
		inet_ntop(AF_INET6, d.a6, da, sizeof da);
	}
	n = snprintf(buf, size, "PROXY %s %s %s %u %u\r\n", v4 ? "TCP4" : "TCP6", sa, da,
	    (unsigned int)s.port, (unsigned int)d.port);
	if (n < 0 || (size_t)n >= size || n > PROXYPROTO_V1_MAX)
		return -1;
	return n;
}

/* Append a TLV; returns the new length, or -1 when it does not fit. */
static ssize_t
pp2_tlv(unsigned char *buf, size_t size, size_t off, unsigned char type, const char *value,
    size_t len)
{
	if (len > 0xffff || off + 3 + len > size)
		return -1;
	buf[off] = type;
	buf[off + 1] = (unsigned char)(len >> 8);
	buf[off + 2] = (unsigned char)(len & 0xff);
	memcpy(buf + off + 3, value, len);
	return (ssize_t)(off + 3 + len);
}

/*
 * Build a v2 header with the PROXY command, TCP (or, with dgram, UDP) over IPv4 or IPv6, and
 * the TLVs PP2_TYPE_AUTHORITY (authority, skipped when NULL or empty) and PP2_TYPE_UNIQUE_ID
 * (unique_id, likewise; at most 128 bytes); returns its length, or -1.
 */
static ssize_t
pp2_build(char *out, size_t size, const struct sockaddr *src, const struct sockaddr *dst,
    const char *authority, const char *unique_id, int dgram)
{
	unsigned char	*buf = (unsigned char *)out;
	struct pp_end	 s, d;
	ssize_t		 off;
	size_t		 alen = authority != NULL ? strlen(authority) : 0;
	size_t		 ulen = unique_id != NULL ? strlen(unique_id) : 0;

	if (pp_end_set(&s, src) != 0 || pp_end_set(&d, dst) != 0)
		return -1;
	if (alen > PROXYPROTO_MAX_TLV || ulen > PP2_UNIQUE_ID_MAX || size < 16 + 36)
		return -1;
	memcpy(buf, pp2_signature, sizeof pp2_signature);
	buf[12] = PP2_VERSION_PROXY;
	off = 16;
	if (s.v4 && d.v4) {
		buf[13] = PP2_AF_INET | (dgram ? PP2_DGRAM : PP2_STREAM);
		memcpy(buf + off, s.a4, 4);
		memcpy(buf + off + 4, d.a4, 4);
		off += 8;
	} else {
		buf[13] = PP2_AF_INET6 | (dgram ? PP2_DGRAM : PP2_STREAM);
		memcpy(buf + off, s.a6, 16);
		memcpy(buf + off + 16, d.a6, 16);
		off += 32;
	}
	buf[off++] = (unsigned char)(s.port >> 8);
	buf[off++] = (unsigned char)(s.port & 0xff);
	buf[off++] = (unsigned char)(d.port >> 8);
	buf[off++] = (unsigned char)(d.port & 0xff);
	if (alen > 0 && (off = pp2_tlv(buf, size, (size_t)off, PP2_TYPE_AUTHORITY, authority,
	    alen)) == -1)
		return -1;
	if (ulen > 0 && (off = pp2_tlv(buf, size, (size_t)off, PP2_TYPE_UNIQUE_ID, unique_id,
	    ulen)) == -1)
		return -1;
	buf[14] = (unsigned char)((off - 16) >> 8);
	buf[15] = (unsigned char)((off - 16) & 0xff);
	return off;
}

/* A v2 header for a TCP connection (see pp2_build); its length, or -1. */
ssize_t
proxyproto_v2(char *out, size_t size, const struct sockaddr *src, const struct sockaddr *dst,
    const char *authority, const char *unique_id)
{
	return pp2_build(out, size, src, dst, authority, unique_id, 0);
}

/*
 * A v2 header for a UDP flow (transport DGRAM), which goes in front of the flow's first
 * datagram (doc/udp.md); its length, or -1. v1 has no way to say UDP.
 */
ssize_t
proxyproto_v2_dgram(char *out, size_t size, const struct sockaddr *src,
    const struct sockaddr *dst, const char *authority, const char *unique_id)
{
	return pp2_build(out, size, src, dst, authority, unique_id, 1);
}

/* Build the header of the given version (1 or 2) into buf; returns its length, or -1. */
ssize_t
proxyproto_build(int version, char *buf, size_t size, const struct sockaddr *src,
    const struct sockaddr *dst, const char *authority, const char *unique_id)
{
	if (version == 1)
		return proxyproto_v1(buf, size, src, dst);
	if (version == 2)
		return proxyproto_v2(buf, size, src, dst, authority, unique_id);
	return -1;
}
