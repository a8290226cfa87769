/* SPDX-License-Identifier: ISC */
/*
 * tunnelgw: SSH connections not yet authenticated (startups), counted in all and per source
 * address, so that one address, or many, cannot hold the gateway's handshakes hostage (like
 * sshd's MaxStartups, without its random early drop). The main thread counts a connection
 * in when it accepts it; the worker that owns it counts it out when it logs in or closes. A
 * mutex guards the table: it is taken twice per SSH connection, never per byte. Entries
 * exist only while their count is above zero, so the table is never larger than the cap.
 */
#include "config.h"

#include <sys/socket.h>

#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "startups.h"
#include "listener.h"
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
static int		 startups_max = 256;
static int		 startups_max_source = 16;

/* Set the caps: in all, and per source address. */
void
startups_setup(int max_total, int max_per_source)
{
	pthread_mutex_lock(&startups_lock);
	startups_max = max_total;
	startups_max_source = max_per_source;
	pthread_mutex_unlock(&startups_lock);
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
 * Count in a new connection from sa: 0, or -1 (with *why) when a cap is reached and the
 * connection must be closed.
 */
int
startups_enter(const struct sockaddr *sa, const char **why)
{
	struct startup	**bucket, *e;
	unsigned char	  addr[16];
	int		  rc = -1;

	listener_addr16(sa, addr);
	pthread_mutex_lock(&startups_lock);
	bucket = startups_bucket(addr);
	for (e = *bucket; e != NULL && memcmp(e->addr, addr, 16) != 0; e = e->next)
		;
	if (startups_total >= startups_max)
		*why = "too many unauthenticated connections (max_startups)";
	else if (e != NULL && e->count >= startups_max_source)
		*why = "too many unauthenticated connections from this address "
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

	listener_addr16(sa, addr);
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
