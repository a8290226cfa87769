/* SPDX-License-Identifier: ISC */
/* tunnelgw: reserved addresses, whatever the backend: picking a free port at random. */
#include "config.h"

#include <stddef.h>
#include <stdint.h>

#include <openssl/rand.h>

#include "backend.h"
#include "xmalloc.h"

/* A uniform random number below n (n > 0) from OpenSSL's generator. */
static int
store_random_below(uint32_t n, uint32_t *out, char **cause)
{
	uint32_t	 v, limit = UINT32_MAX - UINT32_MAX % n;

	do {
		if (RAND_bytes((unsigned char *)&v, sizeof v) != 1) {
			xasprintf(cause, "cannot get random bytes from OpenSSL");
			return -1;
		}
	} while (v >= limit);	/* drop the top values that would favour small results */
	*out = v % n;
	return 0;
}

/*
 * Pick a port of lo-hi uniformly among those not in taken, the ntaken reserved ports of lo-hi
 * in ascending order.
 */
int
store_address_pick(int lo, int hi, const int *taken, size_t ntaken, int *port, char **cause)
{
	uint32_t	 nfree, k;
	size_t		 i;
	int		 p;

	nfree = (uint32_t)(hi - lo + 1) - (uint32_t)ntaken;
	if (nfree == 0) {
		xasprintf(cause, "no free port left in port_range %d-%d: all %zu are reserved", lo,
		    hi, ntaken);
		return -1;
	}
	if (store_random_below(nfree, &k, cause) != 0)
		return -1;
	/* The k-th free port: step over every reserved port at or below the candidate. */
	p = lo + (int)k;
	for (i = 0; i < ntaken && taken[i] <= p; i++)
		p++;
	*port = p;
	return 0;
}
