/* SPDX-License-Identifier: ISC */
/*
 * tunnelgw: SSH connections not yet authenticated (startups), counted in all and per source
 * (an IPv4 address or an IPv6 prefix, see source.c), so that one source, or many, cannot
 * hold the gateway's handshakes hostage. In all, the cap is sshd's MaxStartups
 * "start:rate:full" with its random early drop: from start on, a new connection is refused
 * with a probability that grows from rate percent to 100 at full, so a flood of idle
 * connections from many addresses fills the table ever more slowly and logins keep a
 * chance, where a plain cap would refuse every login until the flood's connections time out.
 * The main thread counts a connection in when it accepts it; the worker that owns it counts
 * it out when it logs in or closes. A mutex guards the table: it is taken twice per SSH
 * connection, never per byte. Entries exist only while their count is above zero, so the
 * table is never larger than the cap.
 */
#include "config.h"

#include <sys/socket.h>

#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "startups.h"
#include "source.h"
#include "xmalloc.h"

#define STARTUPS_BUCKETS	1024

struct startup {
	unsigned char	 addr[16];
	int		 count;
	struct startup	*next;
};

static pthread_mutex_t	 startups_lock = PTHREAD_MUTEX_INITIALIZER;
static struct startup	*startups_table[STARTUPS_BUCKETS];
static int		 startups_total;
static int		 startups_start = 256;	/* max_startups "start:rate:full" */
static int		 startups_rate = 100;
static int		 startups_max = 256;
static int		 startups_max_source = 16;
static uint32_t		(*startups_random)(uint32_t) = arc4random_uniform;

/*
 * Set the caps: in all, sshd's "start:rate:full" (start == full for a plain cap), and per
 * source.
 */
void
startups_setup(int start, int rate, int full, int max_per_source)
{
	pthread_mutex_lock(&startups_lock);
	startups_start = start;
	startups_rate = rate;
	startups_max = full;
	startups_max_source = max_per_source;
	pthread_mutex_unlock(&startups_lock);
}

/* Tests: draw the random numbers of the early drop from fn (NULL: arc4random_uniform). */
void
startups_set_random(uint32_t (*fn)(uint32_t))
{
	pthread_mutex_lock(&startups_lock);
	startups_random = fn != NULL ? fn : arc4random_uniform;
	pthread_mutex_unlock(&startups_lock);
}

/*
 * Should a new connection be refused when n wait already, by "start:rate:full", given r
 * drawn uniformly from 0 to 99: never below start, always at full, and between them with a
 * probability of rate percent at start growing linearly toward 100 (sshd's
 * should_drop_connection(), in the same integer steps).
 */
int
startups_drop(int n, int start, int rate, int full, unsigned int r)
{
	long long	 p;

	if (n < start)
		return 0;
	if (n >= full || rate >= 100)
		return 1;
	p = (long long)(100 - rate) * (n - start) / (full - start) + rate;
	return (long long)r < p;
}

/* Find the bucket of an address. */
static struct startup **
startups_bucket(const unsigned char addr[16])
{
	uint32_t	 h = 2166136261u;
	int		 i;

	for (i = 0; i < 16; i++) {
		h ^= addr[i];
		h *= 16777619u;
	}
	return &startups_table[h % STARTUPS_BUCKETS];
}

/*
 * Count in a new connection from sa: 0, or -1 (with *why) when a cap is reached, or the
 * early drop picked it, and the connection must be closed.
 */
int
startups_enter(const struct sockaddr *sa, const char **why)
{
	struct startup	**bucket, *e;
	unsigned char	  addr[16];
	int		  rc = -1;

	source_key(sa, addr);
	pthread_mutex_lock(&startups_lock);
	bucket = startups_bucket(addr);
	for (e = *bucket; e != NULL && memcmp(e->addr, addr, 16) != 0; e = e->next)
		;
	if (startups_total >= startups_max)
		*why = "too many unauthenticated connections (max_startups)";
	else if (startups_total >= startups_start && startups_drop(startups_total,
	    startups_start, startups_rate, startups_max, startups_random(100)))
		*why = "many unauthenticated connections: dropped early at random (max_startups)";
	else if (e != NULL && e->count >= startups_max_source)
		*why = "too many unauthenticated connections from this source "
		    "(max_startups_per_source)";
	else {
		if (e == NULL) {
			e = xcalloc(1, sizeof *e);
			memcpy(e->addr, addr, 16);
			e->next = *bucket;
			*bucket = e;
		}
		e->count++;
		startups_total++;
		rc = 0;
	}
	pthread_mutex_unlock(&startups_lock);
	return rc;
}

/* Count out a connection from sa: it logged in, or closed before it did. */
void
startups_leave(const struct sockaddr *sa)
{
	struct startup	**pp, *e;
	unsigned char	  addr[16];

	source_key(sa, addr);
	pthread_mutex_lock(&startups_lock);
	for (pp = startups_bucket(addr); (e = *pp) != NULL; pp = &e->next) {
		if (memcmp(e->addr, addr, 16) != 0)
			continue;
		startups_total--;
		if (--e->count == 0) {
			*pp = e->next;
			free(e);
		}
		break;
	}
	pthread_mutex_unlock(&startups_lock);
}

/* Return how many connections are not yet authenticated. */
int
startups_count(void)
{
	int	 n;

	pthread_mutex_lock(&startups_lock);
	n = startups_total;
	pthread_mutex_unlock(&startups_lock);
	return n;
}
