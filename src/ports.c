/* SPDX-License-Identifier: ISC */
/*
 * tunnelgw: public ports. One table per protocol (TCP and UDP ports are apart), shared by
 * all workers under a mutex taken once per forward request (never on the data path), says
 * which ports our tunnels hold; a port is taken in the table before its socket opens, so
 * two workers never race for one.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth.h"
#include "conf.h"
#include "listener.h"
#include "ports.h"
#include "xmalloc.h"

#define PORTS_BACKLOG		512
#define PORTS_RANDOM_TRIES	32

static pthread_mutex_t	ports_lock = PTHREAD_MUTEX_INITIALIZER;
static uint8_t		ports_used[2][65536 / 8];	/* by enum grant_proto */
static int		ports_nused[2];

/* Mark a port as ours if it is free in the table; 0 on success. */
static int
ports_take(enum grant_proto proto, int port)
{
	uint8_t	*used = ports_used[proto];
	int	 rc = -1;

	pthread_mutex_lock(&ports_lock);
	if (!(used[port / 8] & (1u << (port % 8)))) {
		used[port / 8] |= (uint8_t)(1u << (port % 8));
		ports_nused[proto]++;
		rc = 0;
	}
	pthread_mutex_unlock(&ports_lock);
	return rc;
}

/* Give a port back to the table. */
void
ports_release(enum grant_proto proto, int port)
{
	uint8_t	*used = ports_used[proto];

	if (port <= 0 || port > 65535)
		return;
	pthread_mutex_lock(&ports_lock);
	if (used[port / 8] & (1u << (port % 8))) {
		used[port / 8] &= (uint8_t)~(1u << (port % 8));
		ports_nused[proto]--;
	}
	pthread_mutex_unlock(&ports_lock);
}

/* Is a port held by one of our tunnels. */
int
ports_in_use(enum grant_proto proto, int port)
{
	int	 used;

	pthread_mutex_lock(&ports_lock);
	used = (ports_used[proto][port / 8] & (1u << (port % 8))) != 0;
	pthread_mutex_unlock(&ports_lock);
	return used;
}

/* Return how many ports (TCP and UDP) our tunnels hold. */
int
ports_count(void)
{
	int	 n;

	pthread_mutex_lock(&ports_lock);
	n = ports_nused[GRANT_TCP] + ports_nused[GRANT_UDP];
	pthread_mutex_unlock(&ports_lock);
	return n;
}

/*
 * Take port and open its socket (a listener, or a UDP socket); -1 with *busy set when
 * someone holds it.
 */
static int
ports_try(const struct conf *c, enum grant_proto proto, int port, int *busy, char **cause)
{
	char	*why = NULL;
	int	 fd;

	*busy = 0;
	if (ports_take(proto, port) != 0) {
		*busy = 1;
		return -1;
	}
	errno = 0;
	if (proto == GRANT_UDP)
		fd = listener_open_udp(c->public_bind, port, &why);
	else
		fd = listener_open(c->public_bind, port, PORTS_BACKLOG, &why);
	if (fd == -1) {
		*busy = errno == EADDRINUSE;
		ports_release(proto, port);
		if (!*busy && cause != NULL)
			*cause = why;
		else
			free(why);
		return -1;
	}
	return fd;
}

/* Is port marked in a 65536-bit map. */
static int
ports_marked(const uint8_t *bits, int port)
{
	return (bits[port / 8] & (1u << (port % 8))) != 0;
}

/*
 * Open a socket on a random free port of port_range (udp_port_range) that nobody reserved
 * (reserved() fills a map of the ports reserved for proto): random draws first, then a walk
 * from a random start, so a nearly full range is still found. Returns the fd and *port, or -1.
 */
int
ports_open_random(const struct conf *c, enum grant_proto proto,
    int (*reserved)(enum grant_proto, uint8_t *), int *port, char **cause)
{
	int		 lo = proto == GRANT_UDP ? c->udp_port_min : c->port_min;
	int		 hi = proto == GRANT_UDP ? c->udp_port_max : c->port_max;
	uint32_t	 span = (uint32_t)(hi - lo + 1), i, start;
	uint8_t		*held = xcalloc(65536 / 8, 1);
	int		 p, fd = -1, busy;

	if (reserved != NULL && reserved(proto, held) != 0) {
		xasprintf(cause, "the account store cannot say which ports are reserved");
		goto out;
	}
	start = arc4random_uniform(span);
	for (i = 0; i < PORTS_RANDOM_TRIES + span; i++) {
		if (i < PORTS_RANDOM_TRIES)
			p = lo + (int)arc4random_uniform(span);
		else
			p = lo + (int)((start + i - PORTS_RANDOM_TRIES) % span);
		if (ports_marked(held, p))
			continue;
		if ((fd = ports_try(c, proto, p, &busy, cause)) != -1) {
			*port = p;
			goto out;
		}
		if (!busy)
			goto out;
	}
	if (proto == GRANT_UDP)
		xasprintf(cause, "no free port left in udp_port_range %s", c->udp_port_range);
	else
		xasprintf(cause, "no free port left in port_range %s", c->port_range);
out:
	free(held);
	return fd;
}

/* Open a socket on one given port; -1 with *cause when it is taken or cannot open. */
int
ports_open(const struct conf *c, enum grant_proto proto, int port, char **cause)
{
	int	 fd, busy;

	*cause = NULL;
	if ((fd = ports_try(c, proto, port, &busy, cause)) != -1)
		return fd;
	if (busy && *cause == NULL)
		xasprintf(cause, "%sport %d is in use", proto == GRANT_UDP ? "UDP " : "", port);
	return -1;
}
