/* SPDX-License-Identifier: ISC */
/*
 * tunnelgw: UDP tunnels. A `udp` session's forward is a public UDP socket in the worker that
 * owns the session. Each public source address and port is a flow; every flow's datagrams
 * travel in one forwarded-tcpip channel (the stream), framed as doc/udp.md says, to the
 * user's tunnelgw-udp, which hands them to the UDP service and sends its replies back.
 *
 * Nothing queues without bound: a datagram goes into the stream's queue whole or not at all
 * (dropped and counted) when the queue (UDP_STREAM_QUEUE, and max_buffered across every
 * stream) is full, which is what a stalled SSH window leads to; a reply the public socket
 * will not take is dropped and counted too. Flows are found by a keyed hash of their source
 * (SipHash, so a peer cannot aim at one chain) and by their number, and expire oldest first
 * from a list kept in order of last use: no step scans every flow.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "auth.h"
#include "bridge.h"
#include "events.h"
#include "listener.h"
#include "log.h"
#include "metrics.h"
#include "proxyproto.h"
#include "ratelimit.h"
#include "registry.h"
#include "sshgw.h"
#include "tunnel.h"
#include "udp.h"
#include "xmalloc.h"

#define UDP_MAX_DGRAM		65507		/* the largest UDP payload over IPv4 */
#define UDP_FRAME_HDR		7		/* type, flow, length */
#define UDP_FRAME_MAX		(UDP_FRAME_HDR + 65535)
#define UDP_HELLO_LEN		8
#define UDP_VERSION		1
#define UDP_BURST		256		/* datagrams read per wake-up */
#define UDP_STREAM_QUEUE	(256 * 1024)	/* bytes a stream may hold for its channel */
#define UDP_MAX_FLOWS		16384		/* flows one tunnel may hold: tunnelgw-udp's too */
#define UDP_RETRY_MS		1000		/* after a refused stream, before the next try */
#define UDP_BUSY_MS		100		/* after the session could not open one */

enum {
	UDP_DATA = 1,
	UDP_OPEN = 2,
	UDP_CLOSE = 3,
	UDP_IDLE = 4,		/* the flow timeout, so the helper's own comes after ours */
};

enum udp_stream {
	STREAM_NONE,		/* no channel: the next datagram opens one */
	STREAM_OPENING,		/* asked for; frames queue meanwhile */
	STREAM_OPEN,
};

static const unsigned char udp_magic[6] = { 'T', 'G', 'U', 'D', 'P', 0 };

/* The address of ours a flow's datagrams reached, so replies leave from it. */
struct udp_local {
	int			 family;	/* 0: not known */
	struct in_addr		 a4;
	struct in6_addr		 a6;
};

struct udp_flow {
	uint32_t		 id;
	struct sockaddr_storage	 peer;
	socklen_t		 peerlen;
	struct udp_local	 local;
	unsigned char		 key[18];	/* address (16, v4 mapped) and port */
	int			 announced;	/* OPEN went into the stream */
	int64_t			 started_ms;
	int64_t			 last_ms;	/* last datagram either way */
	unsigned long long	 pkts_in, pkts_out, bytes_in, bytes_out, drops_in, drops_out;
	struct udp_flow		*next_src;	/* hash chains */
	struct udp_flow		*next_id;
	TAILQ_ENTRY(udp_flow)	 lru;		/* least recently used first */
};

struct udp_relay {
	struct event_base	*base;
	int			 fd;
	struct event		*rev;
	struct event		*expire;	/* runs while flows live */
	struct event		*kick;		/* work that may not run inside libssh */
	const struct bridge_channel_ops *ops;
	void			*owner;
	char			*address;
	int			 chan_port;
	int			 port;
	char			*url;
	const char		*public_host;
	struct grant *const	*grant;
	struct reg_tunnel	*reg;
	struct ratelimit	*rate;

	/* The stream. */
	void			*ch;
	enum udp_stream		 state;
	struct evbuffer		*out;		/* frames toward the helper, not yet taken */
	size_t			 counted;	/* of out, in udp_queued_all */
	unsigned char		 hello[UDP_HELLO_LEN];
	size_t			 nhello;	/* bytes of the helper's hello read */
	unsigned char		*in;		/* a frame from the helper, in pieces */
	size_t			 nin;
	char			*lost;		/* the stream must close, for this reason */
	int64_t			 retry_ms;	/* no new stream before this */

	/* Flows. */
	struct udp_flow		**by_src;
	struct udp_flow		**by_id;
	size_t			 nbuckets;	/* a power of two */
	size_t			 nflows;
	unsigned long long	 flows_total;
	uint32_t		 next_id;
	uint64_t		 k0, k1;	/* the hash key */
	TAILQ_HEAD(, udp_flow)	 lru;
};

static size_t			 udp_budget = 64u << 20;	/* max_buffered */
static atomic_size_t		 udp_queued_all;
static atomic_ullong		 udp_flows_open, udp_flows_total;
static atomic_ullong		 udp_dgrams_in, udp_dgrams_out, udp_drops_in, udp_drops_out;
static atomic_ullong		 udp_next_uid = 1;
static _Thread_local unsigned char udp_rbuf[65536];	/* a datagram read in this thread */

static void	udp_flow_end(struct udp_relay *, struct udp_flow *, const char *, int);
static void	udp_stream_close(struct udp_relay *, const char *);
static void	udp_flush(struct udp_relay *);

/* Set the bytes every stream together may queue (max_buffered). */
void
udp_setup(size_t budget)
{
	if (budget > 0)
		udp_budget = budget;
}

/* Add the process-wide counts to *t. */
void
udp_totals(struct udp_totals *t)
{
	t->flows = atomic_load(&udp_flows_open);
	t->flows_total = atomic_load(&udp_flows_total);
	t->dgrams_in = atomic_load(&udp_dgrams_in);
	t->dgrams_out = atomic_load(&udp_dgrams_out);
	t->drops_in = atomic_load(&udp_drops_in);
	t->drops_out = atomic_load(&udp_drops_out);
}

/* Return a monotonic clock in milliseconds. */
static int64_t
udp_now_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

#define ROTL(x, b)	(uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND do {							\
	v0 += v1; v1 = ROTL(v1, 13); v1 ^= v0; v0 = ROTL(v0, 32);	\
	v2 += v3; v3 = ROTL(v3, 16); v3 ^= v2;				\
	v0 += v3; v3 = ROTL(v3, 21); v3 ^= v0;				\
	v2 += v1; v1 = ROTL(v1, 17); v1 ^= v2; v2 = ROTL(v2, 32);	\
} while (0)

/* SipHash-2-4 of len bytes under the relay's key. */
static uint64_t
udp_siphash(const struct udp_relay *r, const unsigned char *p, size_t len)
{
	uint64_t	 v0 = 0x736f6d6570736575ULL ^ r->k0, v1 = 0x646f72616e646f6dULL ^ r->k1;
	uint64_t	 v2 = 0x6c7967656e657261ULL ^ r->k0, v3 = 0x7465646279746573ULL ^ r->k1;
	uint64_t	 m, b = (uint64_t)len << 56;
	size_t		 i, j, left = len % 8;

	for (i = 0; i + 8 <= len; i += 8) {
		for (m = 0, j = 0; j < 8; j++)
			m |= (uint64_t)p[i + j] << (8 * j);
		v3 ^= m;
		SIPROUND;
		SIPROUND;
		v0 ^= m;
	}
	for (j = 0; j < left; j++)
		b |= (uint64_t)p[i + j] << (8 * j);
	v3 ^= b;
	SIPROUND;
	SIPROUND;
	v0 ^= b;
	v2 ^= 0xff;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	return v0 ^ v1 ^ v2 ^ v3;
}

/* A source's key: its address as 16 bytes (IPv4 mapped) and its port. */
static void
udp_key(const struct sockaddr_storage *ss, unsigned char key[18])
{
	in_port_t	 port = ss->ss_family == AF_INET ?
			    ((const struct sockaddr_in *)ss)->sin_port :
			    ((const struct sockaddr_in6 *)ss)->sin6_port;

	listener_addr16((const struct sockaddr *)ss, key);
	memcpy(key + 16, &port, 2);
}

/* The flow of a source key, or NULL. */
static struct udp_flow *
udp_find_src(struct udp_relay *r, const unsigned char key[18], uint64_t h)
{
	struct udp_flow	*f;

	for (f = r->by_src[h & (r->nbuckets - 1)]; f != NULL; f = f->next_src) {
		if (memcmp(f->key, key, sizeof f->key) == 0)
			return f;
	}
	return NULL;
}

/* The flow with a number, or NULL. */
static struct udp_flow *
udp_find_id(struct udp_relay *r, uint32_t id)
{
	struct udp_flow	*f;

	for (f = r->by_id[id & (r->nbuckets - 1)]; f != NULL; f = f->next_id) {
		if (f->id == id)
			return f;
	}
	return NULL;
}

/* Put a flow in both hash tables. */
static void
udp_link(struct udp_relay *r, struct udp_flow *f)
{
	size_t	 b = udp_siphash(r, f->key, sizeof f->key) & (r->nbuckets - 1);

	f->next_src = r->by_src[b];
	r->by_src[b] = f;
	b = f->id & (r->nbuckets - 1);
	f->next_id = r->by_id[b];
	r->by_id[b] = f;
}

/* Take a flow out of both hash tables. */
static void
udp_unlink(struct udp_relay *r, struct udp_flow *f)
{
	struct udp_flow	**pp;

	for (pp = &r->by_src[udp_siphash(r, f->key, sizeof f->key) & (r->nbuckets - 1)];
	    *pp != f; pp = &(*pp)->next_src)
		;
	*pp = f->next_src;
	for (pp = &r->by_id[f->id & (r->nbuckets - 1)]; *pp != f; pp = &(*pp)->next_id)
		;
	*pp = f->next_id;
}

/* Make the tables twice as large once they hold more flows than buckets. */
static void
udp_grow(struct udp_relay *r)
{
	struct udp_flow	*f;

	if (r->nflows + 1 < r->nbuckets)
		return;
	free(r->by_src);
	free(r->by_id);
	r->nbuckets *= 2;
	r->by_src = xcalloc(r->nbuckets, sizeof *r->by_src);
	r->by_id = xcalloc(r->nbuckets, sizeof *r->by_id);
	TAILQ_FOREACH(f, &r->lru, lru)
		udp_link(r, f);
}

/* Keep the queue's size in the count every stream shares. */
static void
udp_count_queue(struct udp_relay *r)
{
	size_t	 now = r->out != NULL ? evbuffer_get_length(r->out) : 0;

	if (now >= r->counted)
		atomic_fetch_add(&udp_queued_all, now - r->counted);
	else
		atomic_fetch_sub(&udp_queued_all, r->counted - now);
	r->counted = now;
}

/* May len more bytes go into the stream's queue. */
static int
udp_room(const struct udp_relay *r, size_t len)
{
	return evbuffer_get_length(r->out) + len <= UDP_STREAM_QUEUE &&
	    atomic_load(&udp_queued_all) + len <= udp_budget;
}

/* Queue a frame's header. */
static void
udp_frame(struct udp_relay *r, int type, uint32_t id, size_t len)
{
	unsigned char	 h[UDP_FRAME_HDR];

	h[0] = (unsigned char)type;
	h[1] = (unsigned char)(id >> 24);
	h[2] = (unsigned char)(id >> 16);
	h[3] = (unsigned char)(id >> 8);
	h[4] = (unsigned char)id;
	h[5] = (unsigned char)(len >> 8);
	h[6] = (unsigned char)len;
	evbuffer_add(r->out, h, sizeof h);
}

/* The payload of a flow's OPEN: family, address, port of the public client. */
static size_t
udp_open_payload(const struct udp_flow *f, unsigned char *p)
{
	const struct sockaddr_in	*s4 = (const struct sockaddr_in *)&f->peer;
	const struct sockaddr_in6	*s6 = (const struct sockaddr_in6 *)&f->peer;

	if (f->peer.ss_family == AF_INET6 && !IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) {
		p[0] = 6;
		memcpy(p + 1, &s6->sin6_addr, 16);
		memcpy(p + 17, &s6->sin6_port, 2);
		return 19;
	}
	p[0] = 4;
	if (f->peer.ss_family == AF_INET6) {
		memcpy(p + 1, s6->sin6_addr.s6_addr + 12, 4);
		memcpy(p + 5, &s6->sin6_port, 2);
	} else {
		memcpy(p + 1, &s4->sin_addr, 4);
		memcpy(p + 5, &s4->sin_port, 2);
	}
	return 7;
}

/* Our address (the one the flow reached) and the public port, as a socket address. */
static void
udp_local_sockaddr(const struct udp_relay *r, const struct udp_flow *f,
    struct sockaddr_storage *ss)
{
	struct sockaddr_in	*s4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6	*s6 = (struct sockaddr_in6 *)ss;
	socklen_t		 len = sizeof *ss;

	memset(ss, 0, sizeof *ss);
	if (f->local.family == AF_INET && f->peer.ss_family == AF_INET) {
		s4->sin_family = AF_INET;
		s4->sin_addr = f->local.a4;
		s4->sin_port = htons((uint16_t)r->port);
	} else if (f->local.family == AF_INET) {
		s6->sin6_family = AF_INET6;	/* a v4 client on a dual-stack socket */
		s6->sin6_addr.s6_addr[10] = s6->sin6_addr.s6_addr[11] = 0xff;
		memcpy(s6->sin6_addr.s6_addr + 12, &f->local.a4, 4);
		s6->sin6_port = htons((uint16_t)r->port);
	} else if (f->local.family == AF_INET6) {
		s6->sin6_family = AF_INET6;
		s6->sin6_addr = f->local.a6;
		s6->sin6_port = htons((uint16_t)r->port);
	} else if (getsockname(r->fd, (struct sockaddr *)ss, &len) == -1)
		memset(ss, 0, sizeof *ss);
}

/*
 * Queue a datagram of flow f: its OPEN first when the helper has not heard of it, and the
 * PROXY header in front of its first datagram when the session asks for one. All of it
 * goes in (1), or none (0: the datagram is dropped, and counted in the flow).
 */
static int
udp_queue(struct udp_relay *r, struct udp_flow *f, const unsigned char *data, size_t len)
{
	unsigned char		 open[19];
	char			 hdr[PROXYPROTO_MAX], uid[32];
	struct sockaddr_storage	 dst;
	size_t			 nopen = 0, need;
	ssize_t			 nhdr = 0;
	int			 version;

	if (!f->announced) {
		/* A header may be asked for by the session's command, still to come: wait. */
		if (r->ch != NULL && r->ops->command_pending(r->ch)) {
			f->drops_in++;
			return 0;
		}
		nopen = udp_open_payload(f, open);
		version = grant_proxy_proto(*r->grant) == 2 ? 2 : 0;
		if (version == 2) {
			udp_local_sockaddr(r, f, &dst);
			snprintf(uid, sizeof uid, "u%llu",
			    (unsigned long long)atomic_fetch_add(&udp_next_uid, 1));
			nhdr = proxyproto_v2_dgram(hdr, sizeof hdr,
			    (const struct sockaddr *)&f->peer, (const struct sockaddr *)&dst,
			    r->public_host, uid);
			if (nhdr <= 0) {
				/* The service expects a header: never a first datagram without. */
				f->drops_in++;
				return 0;
			}
		}
	}
	need = (nopen > 0 ? UDP_FRAME_HDR + nopen : 0) + UDP_FRAME_HDR + (size_t)nhdr + len;
	if ((size_t)nhdr + len > 65535 || !udp_room(r, need)) {
		f->drops_in++;
		return 0;
	}
	if (nopen > 0) {
		udp_frame(r, UDP_OPEN, f->id, nopen);
		evbuffer_add(r->out, open, nopen);
		f->announced = 1;
	}
	udp_frame(r, UDP_DATA, f->id, (size_t)nhdr + len);
	if (nhdr > 0)
		evbuffer_add(r->out, hdr, (size_t)nhdr);
	evbuffer_add(r->out, data, len);
	f->pkts_in++;
	f->bytes_in += len;
	return 1;
}

/* Move a flow to the end of the list of last use. */
static void
udp_touch(struct udp_relay *r, struct udp_flow *f, int64_t now)
{
	f->last_ms = now;
	TAILQ_REMOVE(&r->lru, f, lru);
	TAILQ_INSERT_TAIL(&r->lru, f, lru);
}

/* The seconds a flow may stay silent: the command's --idle-timeout, or udp_flow_timeout. */
static int
udp_timeout(const struct udp_relay *r)
{
	return grant_flow_timeout(*r->grant);
}

/* Arm the expiry timer for the oldest flow, if any and if flows expire. */
static void
udp_arm(struct udp_relay *r, int64_t now)
{
	struct udp_flow	*f = TAILQ_FIRST(&r->lru);
	struct timeval	 tv;
	int64_t		 left;
	int		 secs = udp_timeout(r);

	if (f == NULL || secs <= 0 || evtimer_pending(r->expire, NULL))
		return;
	left = f->last_ms + (int64_t)secs * 1000 - now;
	if (left < 0)
		left = 0;
	left += 50;	/* expire a little late rather than wake twice */
	tv.tv_sec = (time_t)(left / 1000);
	tv.tv_usec = (suseconds_t)(left % 1000) * 1000;
	evtimer_add(r->expire, &tv);
}

/* libevent: end the flows that stayed silent for the timeout, oldest first. */
static void
udp_on_expire(evutil_socket_t fd, short what, void *arg)
{
	struct udp_relay	*r = arg;
	struct udp_flow		*f;
	int64_t			 now = udp_now_ms(), limit = (int64_t)udp_timeout(r) * 1000;

	while ((f = TAILQ_FIRST(&r->lru)) != NULL && limit > 0 && now - f->last_ms >= limit)
		udp_flow_end(r, f, "idle timeout", 1);
	udp_flush(r);
	udp_arm(r, now);
}

/* A new flow from sa (admitted); NULL when the tunnel holds as many as it may. */
static struct udp_flow *
udp_flow_new(struct udp_relay *r, const struct sockaddr *sa, socklen_t len,
    const unsigned char key[18], const struct udp_local *local, int64_t now)
{
	struct udp_flow	*f;

	if (r->nflows >= UDP_MAX_FLOWS)
		return NULL;
	f = xcalloc(1, sizeof *f);
	do {
		f->id = r->next_id++;
	} while (f->id == 0 || udp_find_id(r, f->id) != NULL);
	memcpy(&f->peer, sa, len);
	f->peerlen = len;
	f->local = *local;
	memcpy(f->key, key, sizeof f->key);
	f->started_ms = events_clock_ms();
	f->last_ms = now;
	udp_grow(r);	/* relinks the flows already there; then this one joins */
	TAILQ_INSERT_TAIL(&r->lru, f, lru);
	r->nflows++;
	r->flows_total++;
	udp_link(r, f);
	registry_conn(r->reg, 1);
	atomic_fetch_add(&udp_flows_open, 1);
	atomic_fetch_add(&udp_flows_total, 1);
	udp_arm(r, now);
	return f;
}

/* Report a flow's end as a udp_flow_closed event. */
static void
udp_flow_event(const struct udp_relay *r, const struct udp_flow *f, const char *why)
{
	struct events_udp_flow	 ev = {
		.account = registry_account(r->reg),
		.url = r->url,
		.reason = why,
		.packets_in = f->pkts_in,
		.packets_out = f->pkts_out,
		.bytes_in = f->bytes_in,
		.bytes_out = f->bytes_out,
		.drops_in = f->drops_in,
		.drops_out = f->drops_out,
		.duration_ms = events_clock_ms() - f->started_ms,
	};
	char			*peer;

	peer = addr_format((const struct sockaddr *)&f->peer, f->peerlen);
	ev.client = peer;
	events_udp_flow_closed(&ev);
	log_debug("%s: flow from %s %s: %llu datagrams in, %llu out, %llu dropped", r->url,
	    peer, why, f->pkts_in, f->pkts_out, f->drops_in + f->drops_out);
	free(peer);
}

/*
 * End a flow: its event, its counts, and (tell) a CLOSE to the helper when the stream has
 * room for it; the helper also ends flows that stay silent, should the CLOSE not fit.
 */
static void
udp_flow_end(struct udp_relay *r, struct udp_flow *f, const char *why, int tell)
{
	if (tell && f->announced && r->state != STREAM_NONE && udp_room(r, UDP_FRAME_HDR))
		udp_frame(r, UDP_CLOSE, f->id, 0);
	udp_flow_event(r, f, why);
	udp_unlink(r, f);
	TAILQ_REMOVE(&r->lru, f, lru);
	r->nflows--;
	registry_conn(r->reg, -1);
	atomic_fetch_sub(&udp_flows_open, 1);
	free(f);
}

/* End every flow (the stream or the tunnel went), with why. */
static void
udp_flows_end_all(struct udp_relay *r, const char *why)
{
	while (!TAILQ_EMPTY(&r->lru))
		udp_flow_end(r, TAILQ_FIRST(&r->lru), why, 0);
}

/* Send the frames the stream's channel takes now; the rest waits for writable. */
static void
udp_flush(struct udp_relay *r)
{
	struct evbuffer_iovec	 v;
	ssize_t			 n;

	while (r->state == STREAM_OPEN && r->lost == NULL && evbuffer_get_length(r->out) > 0) {
		if (evbuffer_peek(r->out, -1, NULL, &v, 1) < 1)
			break;
		n = r->ops->write(r->ch, v.iov_base, v.iov_len);
		if (n < 0) {
			udp_stream_close(r, "the SSH client closed the stream");
			return;
		}
		evbuffer_drain(r->out, (size_t)n);
		if ((size_t)n < v.iov_len)
			break;
	}
	udp_count_queue(r);
}

/* libevent: deferred work: a stream that went bad closes outside libssh. */
static void
udp_on_kick(evutil_socket_t fd, short what, void *arg)
{
	struct udp_relay	*r = arg;
	char			*why;

	if (r->lost != NULL) {
		why = r->lost;
		r->lost = NULL;		/* udp_stream_close frees it otherwise */
		udp_stream_close(r, why);
		free(why);
	}
	udp_flush(r);
}

/* The stream must close, for why, once libssh has returned. */
static void
udp_stream_lose(struct udp_relay *r, const char *why)
{
	if (r->lost == NULL)
		r->lost = xstrdup(why);
	event_active(r->kick, EV_TIMEOUT, 0);
}

/*
 * Close the stream: its channel, what it had queued, and every flow in it (the helper's
 * sockets for them went with it). The next datagram opens a new stream.
 */
static void
udp_stream_close(struct udp_relay *r, const char *why)
{
	free(r->lost);		/* a loss noted before this close is this close */
	r->lost = NULL;
	if (r->state == STREAM_NONE)
		return;
	log_info_limited("%s: stream to the SSH client closed: %s", r->url, why);
	/* A helper that is gone, or answers wrong, is not asked again at every datagram. */
	if (r->retry_ms < udp_now_ms() + UDP_RETRY_MS)
		r->retry_ms = udp_now_ms() + UDP_RETRY_MS;
	r->ops->free(r->ch);
	r->ch = NULL;
	r->state = STREAM_NONE;
	evbuffer_drain(r->out, evbuffer_get_length(r->out));
	udp_count_queue(r);
	r->nhello = r->nin = 0;
	udp_flows_end_all(r, why);
}

/* sshgw: the SSH client confirmed the stream, or refused it. */
static void
udp_on_opened(void *arg, int ok, const char *reason)
{
	struct udp_relay	*r = arg;
	char			*why;

	if (!ok) {
		xasprintf(&why, "the SSH client refused the stream (%s): is tunnelgw-udp "
		    "listening on the port given to -R?", reason != NULL ? reason : "no reason");
		udp_stream_close(r, why);
		free(why);
		return;
	}
	r->state = STREAM_OPEN;
	udp_flush(r);
}

/* Send a datagram from the helper to flow f's public client, from the address it reached. */
static void
udp_send(struct udp_relay *r, struct udp_flow *f, const unsigned char *p, size_t len)
{
	union {
		struct cmsghdr	 h;
		unsigned char	 b[CMSG_SPACE(sizeof(struct in6_pktinfo))];
	}			 cbuf;
	struct msghdr		 msg;
	struct iovec		 iov;
	struct cmsghdr		*cm;
	struct in_pktinfo	 pi;
	struct in6_pktinfo	 pi6;
	const void		*info = NULL;
	size_t			 ninfo = 0;

	memset(&msg, 0, sizeof msg);
	memset(&cbuf, 0, sizeof cbuf);
	iov.iov_base = (void *)p;
	iov.iov_len = len;
	msg.msg_name = &f->peer;
	msg.msg_namelen = f->peerlen;
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	memset(&pi, 0, sizeof pi);
	memset(&pi6, 0, sizeof pi6);
	if (f->local.family == AF_INET) {
		pi.ipi_spec_dst = f->local.a4;
		info = &pi;
		ninfo = sizeof pi;
	} else if (f->local.family == AF_INET6) {
		pi6.ipi6_addr = f->local.a6;
		info = &pi6;
		ninfo = sizeof pi6;
	}
	if (info != NULL) {
		msg.msg_control = cbuf.b;
		msg.msg_controllen = CMSG_SPACE(ninfo);
		cm = CMSG_FIRSTHDR(&msg);
		cm->cmsg_level = f->local.family == AF_INET ? IPPROTO_IP : IPPROTO_IPV6;
		cm->cmsg_type = f->local.family == AF_INET ? IP_PKTINFO : IPV6_PKTINFO;
		cm->cmsg_len = CMSG_LEN(ninfo);
		memcpy(CMSG_DATA(cm), info, ninfo);
	}
	if (sendmsg(r->fd, &msg, MSG_DONTWAIT) == (ssize_t)len) {
		f->pkts_out++;
		f->bytes_out += len;
		atomic_fetch_add_explicit(&udp_dgrams_out, 1, memory_order_relaxed);
		registry_bytes(r->reg, 0, len);
	} else {
		f->drops_out++;
		atomic_fetch_add_explicit(&udp_drops_out, 1, memory_order_relaxed);
	}
}

/* A whole frame from the helper. */
static void
udp_from_helper(struct udp_relay *r, const unsigned char *h, const unsigned char *p,
    size_t len)
{
	uint32_t	 id = (uint32_t)h[1] << 24 | (uint32_t)h[2] << 16 |
			    (uint32_t)h[3] << 8 | h[4];
	struct udp_flow	*f;

	if (h[0] != UDP_DATA && h[0] != UDP_CLOSE)
		return;		/* OPEN is the gateway's; unknown types are skipped */
	if ((f = udp_find_id(r, id)) == NULL)
		return;		/* it may have crossed our CLOSE */
	if (h[0] == UDP_CLOSE) {
		udp_flow_end(r, f, "closed by tunnelgw-udp", 0);
		return;
	}
	udp_send(r, f, p, len);
	udp_touch(r, f, udp_now_ms());
}

/*
 * sshgw: bytes of the stream from the helper: its hello, then frames, which may arrive in
 * any pieces. All is taken; a frame is kept until whole (at most UDP_FRAME_MAX bytes).
 */
static size_t
udp_on_data(void *arg, const void *buf, size_t len)
{
	struct udp_relay	*r = arg;
	const unsigned char	*p = buf;
	size_t			 left = len, n, need;

	if (r->lost != NULL)
		return len;
	if (r->nhello < UDP_HELLO_LEN) {
		n = UDP_HELLO_LEN - r->nhello < left ? UDP_HELLO_LEN - r->nhello : left;
		memcpy(r->hello + r->nhello, p, n);
		r->nhello += n;
		p += n;
		left -= n;
		if (r->nhello < UDP_HELLO_LEN)
			return len;
		if (memcmp(r->hello, udp_magic, sizeof udp_magic) != 0) {
			udp_stream_lose(r, "what answered is not tunnelgw-udp (no TGUDP hello)");
			return len;
		}
		if (r->hello[6] != UDP_VERSION) {
			udp_stream_lose(r, "tunnelgw-udp speaks another version of the stream");
			return len;
		}
	}
	while (left > 0) {
		if (r->nin == 0 && left >= UDP_FRAME_HDR &&
		    left >= UDP_FRAME_HDR + ((size_t)p[5] << 8 | p[6])) {
			n = UDP_FRAME_HDR + ((size_t)p[5] << 8 | p[6]);
			udp_from_helper(r, p, p + UDP_FRAME_HDR, n - UDP_FRAME_HDR);
			p += n;
			left -= n;
			continue;
		}
		if (r->in == NULL)
			r->in = xmalloc(UDP_FRAME_MAX);
		need = r->nin < UDP_FRAME_HDR ? UDP_FRAME_HDR - r->nin :
		    UDP_FRAME_HDR + ((size_t)r->in[5] << 8 | r->in[6]) - r->nin;
		n = need < left ? need : left;
		memcpy(r->in + r->nin, p, n);
		r->nin += n;
		p += n;
		left -= n;
		if (r->nin >= UDP_FRAME_HDR &&
		    r->nin == UDP_FRAME_HDR + ((size_t)r->in[5] << 8 | r->in[6])) {
			udp_from_helper(r, r->in, r->in + UDP_FRAME_HDR, r->nin - UDP_FRAME_HDR);
			r->nin = 0;
		}
	}
	return len;
}

/* sshgw: the helper sends no more: the stream is of no more use. */
static void
udp_on_eof(void *arg)
{
	udp_stream_lose(arg, "tunnelgw-udp ended the stream");
}

/* sshgw: the channel closed (the client, or the session ended). */
static void
udp_on_closed(void *arg)
{
	struct udp_relay	*r = arg;

	udp_stream_close(r, "the SSH client closed the stream");
}

/* sshgw: the client's window opened again. */
static void
udp_on_writable(void *arg)
{
	udp_flush(arg);
}

static const struct sshgw_channel_events udp_events = {
	.opened = udp_on_opened,
	.data = udp_on_data,
	.eof = udp_on_eof,
	.closed = udp_on_closed,
	.writable = udp_on_writable,
};

/* Open the stream, its hello queued first; the first flow's source names it to the client. */
static void
udp_stream_open(struct udp_relay *r, const struct udp_flow *f, int64_t now)
{
	unsigned char	 hello[UDP_HELLO_LEN], idle[4];
	char		 host[NI_MAXHOST], port[NI_MAXSERV];
	uint32_t	 secs;

	if (now < r->retry_ms)
		return;
	if (getnameinfo((const struct sockaddr *)&f->peer, f->peerlen, host, sizeof host, port,
	    sizeof port, NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
		strcpy(host, "0.0.0.0");
		strcpy(port, "0");
	}
	memcpy(hello, udp_magic, sizeof udp_magic);
	hello[6] = UDP_VERSION;
	hello[7] = 0;
	/* Nothing is queued while there is no stream: the hello comes first, then IDLE. */
	evbuffer_add(r->out, hello, sizeof hello);
	secs = (uint32_t)udp_timeout(r);
	idle[0] = (unsigned char)(secs >> 24);
	idle[1] = (unsigned char)(secs >> 16);
	idle[2] = (unsigned char)(secs >> 8);
	idle[3] = (unsigned char)secs;
	udp_frame(r, UDP_IDLE, 0, sizeof idle);
	evbuffer_add(r->out, idle, sizeof idle);
	r->state = STREAM_OPENING;
	r->ch = r->ops->open(r->owner, r->address, r->chan_port, host, atoi(port), &udp_events, r);
	if (r->ch == NULL) {
		log_warn_limited("%s: datagrams dropped: the SSH session cannot open a channel "
		    "now", r->url);
		r->retry_ms = now + UDP_BUSY_MS;
		r->state = STREAM_NONE;
		evbuffer_drain(r->out, evbuffer_get_length(r->out));
	}
}

/* Read a datagram's destination (ours) from its control messages. */
static void
udp_local_of(struct msghdr *msg, struct udp_local *l)
{
	struct cmsghdr		*cm;
	struct in_pktinfo	 pi;
	struct in6_pktinfo	 pi6;

	memset(l, 0, sizeof *l);
	for (cm = CMSG_FIRSTHDR(msg); cm != NULL; cm = CMSG_NXTHDR(msg, cm)) {
		if (cm->cmsg_level == IPPROTO_IP && cm->cmsg_type == IP_PKTINFO &&
		    cm->cmsg_len >= CMSG_LEN(sizeof pi)) {
			memcpy(&pi, CMSG_DATA(cm), sizeof pi);
			l->family = AF_INET;
			l->a4 = pi.ipi_spec_dst;	/* ours, as replies should leave from */
		} else if (cm->cmsg_level == IPPROTO_IPV6 && cm->cmsg_type == IPV6_PKTINFO &&
		    cm->cmsg_len >= CMSG_LEN(sizeof pi6)) {
			memcpy(&pi6, CMSG_DATA(cm), sizeof pi6);
			l->family = AF_INET6;
			l->a6 = pi6.ipi6_addr;
			if (IN6_IS_ADDR_V4MAPPED(&l->a6)) {
				l->family = AF_INET;
				memcpy(&l->a4, l->a6.s6_addr + 12, 4);
			}
		}
	}
}

/* A new source: admitted by the tunnel's rules (IP rules, limits, rate), or NULL. */
static struct udp_flow *
udp_admit(struct udp_relay *r, const struct sockaddr *sa, socklen_t len,
    const unsigned char key[18], const struct udp_local *local, int64_t now)
{
	const char	*why;
	enum refusal	 rf;
	char		*peer;
	struct udp_flow	*f;

	if ((rf = tunnel_admit(*r->grant, r->reg, &r->rate, sa, &why)) != REFUSAL_NONE) {
		metrics_count_refusal(rf);
		peer = addr_format(sa, len);
		log_info_limited("%s: datagrams from %s refused: %s", r->url, peer, why);
		free(peer);
		return NULL;
	}
	if ((f = udp_flow_new(r, sa, len, key, local, now)) == NULL) {
		metrics_count_refusal(REFUSAL_CONNECTION_LIMIT);
		log_warn_limited("%s: a new flow dropped: the tunnel holds %d flows, its most",
		    r->url, UDP_MAX_FLOWS);
	}
	return f;
}

/* libevent: datagrams wait on the public port. */
static void
udp_on_read(evutil_socket_t fd, short what, void *arg)
{
	struct udp_relay	*r = arg;
	union {
		struct cmsghdr	 h;
		unsigned char	 b[CMSG_SPACE(sizeof(struct in6_pktinfo)) +
				    CMSG_SPACE(sizeof(struct in_pktinfo))];
	}			 cbuf;
	struct sockaddr_storage	 ss;
	struct msghdr		 msg;
	struct iovec		 iov;
	struct udp_local	 local;
	struct udp_flow		*f;
	unsigned char		 key[18];
	unsigned long long	 got = 0, bytes = 0, dropped = 0;
	int64_t			 now = udp_now_ms();
	ssize_t			 n;
	int			 i;

	for (i = 0; i < UDP_BURST; i++) {
		memset(&msg, 0, sizeof msg);
		iov.iov_base = udp_rbuf;
		iov.iov_len = sizeof udp_rbuf;
		msg.msg_name = &ss;
		msg.msg_namelen = sizeof ss;
		msg.msg_iov = &iov;
		msg.msg_iovlen = 1;
		msg.msg_control = cbuf.b;
		msg.msg_controllen = sizeof cbuf.b;
		if ((n = recvmsg(fd, &msg, MSG_DONTWAIT)) == -1) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
				log_warn_limited("%s: recvmsg: %s", r->url, strerror(errno));
			break;
		}
		if ((size_t)n > UDP_MAX_DGRAM || (msg.msg_flags & MSG_TRUNC)) {
			dropped++;
			continue;
		}
		udp_key(&ss, key);
		f = udp_find_src(r, key, udp_siphash(r, key, sizeof key));
		if (f == NULL) {
			udp_local_of(&msg, &local);
			if ((f = udp_admit(r, (struct sockaddr *)&ss, msg.msg_namelen, key, &local,
			    now)) == NULL) {
				dropped++;
				continue;
			}
		}
		udp_touch(r, f, now);
		if (r->state == STREAM_NONE)
			udp_stream_open(r, f, now);
		if (r->state != STREAM_NONE && udp_queue(r, f, udp_rbuf, (size_t)n)) {
			got++;
			bytes += (unsigned long long)n;
		} else if (r->state == STREAM_NONE) {
			f->drops_in++;
			dropped++;
		} else
			dropped++;
	}
	atomic_fetch_add_explicit(&udp_dgrams_in, got, memory_order_relaxed);
	if (dropped > 0)
		atomic_fetch_add_explicit(&udp_drops_in, dropped, memory_order_relaxed);
	registry_bytes(r->reg, bytes, 0);
	udp_flush(r);
}

/*
 * Start relaying a tunnel's UDP socket fd (the relay owns it from now on) as info says;
 * the stream opens with the first datagram.
 */
struct udp_relay *
udp_relay_create(struct event_base *base, int fd, const struct udp_relay_info *info)
{
	struct udp_relay	*r = xcalloc(1, sizeof *r);

	r->base = base;
	r->fd = fd;
	r->ops = info->ops;
	r->owner = info->owner;
	r->address = xstrdup(info->address);
	r->chan_port = info->chan_port;
	r->port = info->port;
	r->url = xstrdup(info->url);
	r->public_host = info->public_host;
	r->grant = info->grant;
	r->reg = info->reg;
	r->nbuckets = 64;
	r->by_src = xcalloc(r->nbuckets, sizeof *r->by_src);
	r->by_id = xcalloc(r->nbuckets, sizeof *r->by_id);
	r->next_id = 1;
	arc4random_buf(&r->k0, sizeof r->k0);
	arc4random_buf(&r->k1, sizeof r->k1);
	TAILQ_INIT(&r->lru);
	if ((r->out = evbuffer_new()) == NULL)
		fatal("out of memory for a UDP tunnel");
	r->rev = event_new(base, fd, EV_READ | EV_PERSIST, udp_on_read, r);
	r->expire = evtimer_new(base, udp_on_expire, r);
	r->kick = event_new(base, -1, 0, udp_on_kick, r);
	if (r->rev == NULL || r->expire == NULL || r->kick == NULL || event_add(r->rev, NULL) != 0)
		fatal("cannot add a UDP port to the event loop");
	return r;
}

/* How many flows a relay has carried. */
unsigned long long
udp_relay_flows_total(const struct udp_relay *r)
{
	return r->flows_total;
}

/* Close a relay: its flows (their events say why), its stream and its socket. */
void
udp_relay_free(struct udp_relay *r, const char *why)
{
	if (r == NULL)
		return;
	udp_flows_end_all(r, why);
	if (r->ch != NULL)
		r->ops->free(r->ch);
	evbuffer_free(r->out);
	r->out = NULL;
	udp_count_queue(r);
	event_free(r->rev);
	event_free(r->expire);
	event_free(r->kick);
	close(r->fd);
	ratelimit_free(r->rate);
	free(r->by_src);
	free(r->by_id);
	free(r->in);
	free(r->lost);
	free(r->address);
	free(r->url);
	free(r);
}
