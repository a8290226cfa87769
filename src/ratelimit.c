/* SPDX-License-Identifier: ISC */
/*
 * tunnelgw: token buckets per source: each source may make `rate` attempts a second on
 * average, `burst` at once. A source is an IPv4 address or an IPv6 prefix (source.c). The
 * table has a fixed number of slots found by hashing the source (with a per-table random
 * key, so a client cannot aim at one slot); a new source takes over the slot of an older
 * one, which only ever makes a limit more lenient, never stricter, and bounds memory
 * whatever the number of sources. One table is used by one thread.
 */
#include "config.h"

#include <sys/socket.h>

#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ratelimit.h"
#include "source.h"
#include "xmalloc.h"

struct ratelimit_slot {
	unsigned char	 addr[16];
	double		 tokens;
	double		 when;
	int		 used;
};

struct ratelimit {
	double			 rate;
	double			 burst;
	unsigned int		 nslots;
	uint64_t		 key;
	struct ratelimit_slot	*slots;
};

/* Return a monotonic time in seconds. */
double
ratelimit_now(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Create a table allowing rate a second and burst at once per source, in nslots slots. */
struct ratelimit *
ratelimit_create(double rate, double burst, unsigned int nslots)
{
	struct ratelimit	*rl = xcalloc(1, sizeof *rl);

	rl->rate = rate;
	rl->burst = burst < 1 ? 1 : burst;
	rl->nslots = nslots == 0 ? 1 : nslots;
	rl->slots = xcalloc(rl->nslots, sizeof *rl->slots);
	arc4random_buf(&rl->key, sizeof rl->key);
	return rl;
}

/* Free a table; NULL is a no-op. */
void
ratelimit_free(struct ratelimit *rl)
{
	if (rl == NULL)
		return;
	free(rl->slots);
	free(rl);
}

/* Hash an address with the table's key (FNV-1a over key and address). */
static unsigned int
ratelimit_hash(const struct ratelimit *rl, const unsigned char addr[16])
{
	uint64_t	 h = 1469598103934665603ULL ^ rl->key;
	int		 i;

	for (i = 0; i < 16; i++) {
		h ^= addr[i];
		h *= 1099511628211ULL;
	}
	return (unsigned int)(h % rl->nslots);
}

/* The bucket of a source, filled up to now; NULL when there is no limit. */
static struct ratelimit_slot *
ratelimit_refill(struct ratelimit *rl, const struct sockaddr *sa, double now)
{
	struct ratelimit_slot	*s;
	unsigned char		 addr[16];

	if (rl == NULL || rl->rate <= 0)
		return NULL;
	source_key(sa, addr);
	s = &rl->slots[ratelimit_hash(rl, addr)];
	if (!s->used || memcmp(s->addr, addr, 16) != 0) {
		memcpy(s->addr, addr, 16);
		s->tokens = rl->burst;
		s->when = now;
		s->used = 1;
	}
	s->tokens += (now - s->when) * rl->rate;
	if (s->tokens > rl->burst)
		s->tokens = rl->burst;
	s->when = now;
	return s;
}

/* May the source of sa (its IPv4 address or IPv6 prefix) try again now: 1, taking a token, or 0. */
int
ratelimit_allow(struct ratelimit *rl, const struct sockaddr *sa, double now)
{
	struct ratelimit_slot	*s;

	if ((s = ratelimit_refill(rl, sa, now)) == NULL)
		return 1;
	if (s->tokens < 1)
		return 0;
	s->tokens -= 1;
	return 1;
}

/* Would ratelimit_allow allow a source now? 1 or 0, taking nothing. */
int
ratelimit_would_allow(struct ratelimit *rl, const struct sockaddr *sa, double now)
{
	struct ratelimit_slot	*s;

	if ((s = ratelimit_refill(rl, sa, now)) == NULL)
		return 1;
	return s->tokens >= 1;
}
