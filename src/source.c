/* SPDX-License-Identifier: ISC */
/*
 * tunnelgw: the key under which a client's address is counted by every per-source limit
 * (ssh_rate, conn_rate, max_startups_per_source). An IPv4 address is its own source. An IPv6
 * client is usually given a whole /64 (or /56, /48), and can pick any address in it for each
 * connection, so IPv6 addresses are grouped by their first source_prefix6 bits: one key per
 * prefix, whatever address in it the client connects from. IPv4-mapped IPv6 addresses (IPv4
 * clients of a "::" listener) are IPv4 and stay per address.
 *
 * The prefix is set once at start, before any worker runs, and only read afterwards.
 */
#include "config.h"

#include <sys/socket.h>

#include <netinet/in.h>
#include <string.h>

#include "source.h"

static int	 source_prefix6 = SOURCE_PREFIX6_DEFAULT;

/* Set how many leading bits of an IPv6 address make one source (1 to 128). */
void
source_setup(int prefix6)
{
	if (prefix6 < 1)
		prefix6 = 1;
	if (prefix6 > 128)
		prefix6 = 128;
	source_prefix6 = prefix6;
}

/* Keep the first bits bits of a 16-byte address; clear the rest. */
static void
source_mask(unsigned char *a, int bits)
{
	int	 i;

	for (i = 0; i < 16; i++, bits -= 8) {
		if (bits >= 8)
			continue;
		a[i] &= bits <= 0 ? 0 : (unsigned char)(0xff << (8 - bits));
	}
}

/*
 * The source key of the address sa as 16 bytes: IPv4 as an IPv4-mapped IPv6 address, IPv6
 * cut to its first source_prefix6 bits. Anything else is all zeros.
 */
void
source_key(const struct sockaddr *sa, unsigned char *out)
{
	const struct in6_addr	*a6;

	memset(out, 0, 16);
	if (sa->sa_family == AF_INET) {
		out[10] = out[11] = 0xff;
		memcpy(out + 12, &((const struct sockaddr_in *)sa)->sin_addr, 4);
	} else if (sa->sa_family == AF_INET6) {
		a6 = &((const struct sockaddr_in6 *)sa)->sin6_addr;
		memcpy(out, a6, 16);
		if (!IN6_IS_ADDR_V4MAPPED(a6))
			source_mask(out, source_prefix6);
	}
}
