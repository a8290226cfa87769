/* SPDX-License-Identifier: ISC */
/*
 * tunnelgw: one public connection bridged to a forwarded-tcpip channel, in the worker that
 * owns the SSH session, both ways with backpressure:
 *  - public -> client: the socket is read only while the client's window has room, so a
 *    slow SSH client slows the public sender;
 *  - client -> public: what the socket does not take at once is buffered up to a cap, then
 *    left with libssh, which holds back the window we grant, so a slow public reader slows
 *    the SSH client.
 * Buffers exist only while data waits: an idle connection holds none.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include <errno.h>
#include <event2/event.h>
#include <stdatomic.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "auth.h"
#include "bridge.h"
#include "events.h"
#include "log.h"
#include "proxyproto.h"
#include "registry.h"
#include "sshgw.h"	/* struct sshgw_channel_events only */
#include "xmalloc.h"

#define BRIDGE_OUT_CAP	(256 * 1024)	/* client -> public bytes we hold before pushing back */
#define BRIDGE_READ	(64 * 1024)	/* public -> client bytes read at once */
#define BRIDGE_COMMAND_WAIT	2000	/* ms to wait for a command's options (PROXY header) */
#define BRIDGE_COMMAND_STEP	10	/* ms between looks */

struct bridge_buf {
	char	*data;
	size_t	 off;
	size_t	 len;
	size_t	 size;
};

/*
 * A bridge owns its public socket and its channel, and frees both. It keeps no pointer to the
 * SSH session: what it needs of it, it asks the channel, which its session closes (telling
 * the bridge through the closed notice) before the session is freed.
 */
struct bridge {
	const struct bridge_channel_ops *ops;	/* how to drive ch */
	void			*ch;		/* NULL once the client or the session closed it */
	struct event_base	*base;
	int			 fd;
	struct event		*rev;
	struct event		*wev;
	struct event		*idle;
	struct event		*hold;		/* waits for the session's command */
	int			 held_ms;
	unsigned long long	 id;
	struct bridge_buf	 out;		/* client -> public, waiting for the socket */
	struct bridge_buf	 in;		/* public -> client, waiting for the window */
	char			*peer;
	char			*url;
	const char		*public_host;	/* the configuration's, for the PROXY v2 authority */
	struct reg_tunnel	*reg;
	struct grant		*grant;		/* held: the PROXY version comes from it */
	int			 idle_timeout;
	time_t			 last;
	time_t			 started;
	int64_t			 started_ms;	/* events_clock_ms() at accept */
	unsigned long long	 bytes_in;	/* public -> service */
	unsigned long long	 bytes_out;	/* service -> public */
	unsigned int		 opened:1;
	unsigned int		 reading:1;
	unsigned int		 writing:1;
	unsigned int		 pub_eof:1;	/* the public client sent EOF (passed on) */
	unsigned int		 ch_eof:1;	/* the SSH client sent EOF */
	unsigned int		 ch_closed:1;	/* the channel is gone */
	unsigned int		 wr_shut:1;	/* EOF passed to the public client */
	unsigned int		 broken:1;	/* the public socket failed inside a libssh callback */
	unsigned int		 in_lost:1;	/* the channel takes no more: public -> client is over */
	LIST_ENTRY(bridge)	 entry;		/* this worker's bridges */
};

static _Thread_local LIST_HEAD(, bridge) bridge_all;

static void	bridge_free(struct bridge *, const char *);
static void	bridge_progress(struct bridge *);

static _Thread_local char bridge_scratch[BRIDGE_READ];
static atomic_ullong bridge_next_id = 1;

/* Return the bytes a buffer holds. */
static size_t
bridge_buf_used(const struct bridge_buf *b)
{
	return b->len - b->off;
}

/* Append to a buffer, growing it; the buffer is freed again once empty. */
static void
bridge_buf_add(struct bridge_buf *b, const void *data, size_t len)
{
	if (b->off > 0 && b->off == b->len)
		b->off = b->len = 0;
	if (b->len + len > b->size) {
		if (b->off > 0) {
			memmove(b->data, b->data + b->off, b->len - b->off);
			b->len -= b->off;
			b->off = 0;
		}
		if (b->len + len > b->size) {
			b->size = b->len + len;
			b->data = xreallocarray(b->data, 1, b->size);
		}
	}
	memcpy(b->data + b->len, data, len);
	b->len += len;
}

/* Drop bytes from the front of a buffer; free its memory when it empties. */
static void
bridge_buf_drop(struct bridge_buf *b, size_t n)
{
	b->off += n;
	if (b->off >= b->len) {
		free(b->data);
		memset(b, 0, sizeof *b);
	}
}

/* Turn reading of the public socket on or off. */
static void
bridge_want_read(struct bridge *b, int on)
{
	if (on && !b->reading)
		event_add(b->rev, NULL);
	else if (!on && b->reading)
		event_del(b->rev);
	b->reading = on ? 1 : 0;
}

/* Turn waiting for the public socket to be writable on or off. */
static void
bridge_want_write(struct bridge *b, int on)
{
	if (on && !b->writing)
		event_add(b->wev, NULL);
	else if (!on && b->writing)
		event_del(b->wev);
	b->writing = on ? 1 : 0;
}

/* Note traffic, for the idle timeout. */
static void
bridge_touch(struct bridge *b)
{
	b->last = time(NULL);
}

/* Tell the channel how much of the client's data waits here for the public socket. */
static void
bridge_out_changed(struct bridge *b)
{
	b->ops->backlog(b->ch, bridge_buf_used(&b->out));
}

/* Write buffered client -> public bytes; -1 when the socket failed. */
static int
bridge_flush_out(struct bridge *b)
{
	ssize_t	 n;

	while (bridge_buf_used(&b->out) > 0) {
		n = write(b->fd, b->out.data + b->out.off, bridge_buf_used(&b->out));
		if (n == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			return -1;
		}
		b->bytes_out += (size_t)n;
		registry_bytes(b->reg, 0, (uint64_t)n);
		bridge_buf_drop(&b->out, (size_t)n);
		bridge_out_changed(b);
	}
	return 0;
}

/* Pull what libssh still holds for us into the out buffer, up to limit bytes in all. */
static int
bridge_pull(struct bridge *b, size_t limit)
{
	ssize_t	 n;

	while (b->ch != NULL && b->ops->pending(b->ch) > 0 &&
	    bridge_buf_used(&b->out) < limit) {
		n = b->ops->read(b->ch, bridge_scratch, sizeof bridge_scratch);
		if (n <= 0)
			return n == 0 ? 0 : -1;
		bridge_buf_add(&b->out, bridge_scratch, (size_t)n);
		bridge_out_changed(b);
	}
	return 0;
}

/* Send buffered public -> client bytes as the window allows; -1 when the channel failed. */
static int
bridge_flush_in(struct bridge *b)
{
	ssize_t	 n;

	while (bridge_buf_used(&b->in) > 0) {
		n = b->ops->write(b->ch, b->in.data + b->in.off, bridge_buf_used(&b->in));
		if (n < 0)
			return -1;
		if (n == 0)
			return 0;
		bridge_buf_drop(&b->in, (size_t)n);
	}
	return 0;
}

/* Decide what to wait for next, pass EOFs on, and free the bridge once both ways are done. */
static void
bridge_progress(struct bridge *b)
{
	int	 out_idle = bridge_buf_used(&b->out) == 0 &&
		    (b->ch == NULL || b->ops->pending(b->ch) == 0);

	log_trace("%s %s: out %zu pending %zu in %zu window %zu eof %d/%d closed %d",
	    b->url, b->peer, bridge_buf_used(&b->out), b->ch ? b->ops->pending(b->ch) : 0,
	    bridge_buf_used(&b->in), b->ch ? b->ops->window(b->ch) : 0, b->pub_eof,
	    b->ch_eof, b->ch_closed);

	if (b->ch_eof && out_idle && !b->wr_shut) {
		shutdown(b->fd, SHUT_WR);
		b->wr_shut = 1;
	}
	if (b->ch_closed && out_idle) {
		bridge_free(b, "closed by the SSH client");
		return;
	}
	if (b->pub_eof && b->wr_shut) {
		bridge_free(b, "closed");
		return;
	}
	bridge_want_write(b, !out_idle);
	bridge_want_read(b, b->opened && !b->ch_closed && !b->pub_eof && !b->in_lost &&
	    bridge_buf_used(&b->in) == 0 && b->ops->window(b->ch) > 0);
}

/*
 * Writing to the channel failed: the client closed it (its CLOSE may be read in the same
 * call that delivered data), or the session is ending. Either way the closed notice follows;
 * until then what the client sent is still written out to the public side, so the bridge
 * is not freed here. Public bytes the channel can no longer take are dropped, as sshd does.
 */
static void
bridge_ch_lost(struct bridge *b)
{
	if (!b->in_lost)
		log_debug("%s: connection from %s: the SSH channel takes no more data", b->url,
		    b->peer);
	b->in_lost = 1;
	bridge_buf_drop(&b->in, bridge_buf_used(&b->in));
	bridge_progress(b);
}

/* libevent: the public socket has data (or EOF) for the client. */
static void
bridge_on_read(evutil_socket_t fd, short what, void *arg)
{
	struct bridge	*b = arg;
	size_t		 room = b->ops->window(b->ch);
	ssize_t		 n, w;

	if (room == 0) {
		bridge_progress(b);
		return;
	}
	if (room > sizeof bridge_scratch)
		room = sizeof bridge_scratch;
	n = read(fd, bridge_scratch, room);
	if (n == -1) {
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
			return;
		bridge_free(b, strerror(errno));
		return;
	}
	bridge_touch(b);
	if (n == 0) {
		b->pub_eof = 1;
		b->ops->eof(b->ch);
		bridge_progress(b);
		return;
	}
	b->bytes_in += (size_t)n;
	registry_bytes(b->reg, (uint64_t)n, 0);
	w = b->ops->write(b->ch, bridge_scratch, (size_t)n);
	if (w < 0) {
		bridge_ch_lost(b);
		return;
	}
	if (w < n)	/* the window shrank under us (a rekey): keep the rest */
		bridge_buf_add(&b->in, bridge_scratch + w, (size_t)(n - w));
	bridge_progress(b);
}

/* libevent: the public socket can take more of the client's data. */
static void
bridge_on_write(evutil_socket_t fd, short what, void *arg)
{
	struct bridge	*b = arg;

	if (b->broken) {
		bridge_free(b, "public connection lost");
		return;
	}
	if (bridge_flush_out(b) != 0) {
		bridge_free(b, strerror(errno));
		return;
	}
	if (bridge_buf_used(&b->out) == 0) {
		if (bridge_pull(b, BRIDGE_OUT_CAP) != 0 || bridge_flush_out(b) != 0) {
			bridge_free(b, "public connection lost");
			return;
		}
	}
	bridge_touch(b);
	bridge_progress(b);
}

/*
 * channel (perhaps inside libssh): data from the client. Written straight to the socket when
 * nothing waits; otherwise buffered up to the cap; what is left stays with the channel.
 */
static size_t
bridge_ch_data(void *arg, const void *data, size_t len)
{
	struct bridge	*b = arg;
	size_t		 taken = 0, room;
	ssize_t		 n;

	if (b->broken)
		return len;
	if (bridge_buf_used(&b->out) == 0) {
		n = write(b->fd, data, len);
		if (n == -1 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
			b->broken = 1;	/* freed from the loop: not inside libssh */
			event_active(b->wev, EV_WRITE, 0);
			return len;
		}
		if (n > 0) {
			taken = (size_t)n;
			b->bytes_out += (size_t)n;
			registry_bytes(b->reg, 0, (uint64_t)n);
		}
	}
	room = BRIDGE_OUT_CAP > bridge_buf_used(&b->out) ? BRIDGE_OUT_CAP - bridge_buf_used(&b->out) : 0;
	if (room > len - taken)
		room = len - taken;
	if (room > 0) {
		bridge_buf_add(&b->out, (const char *)data + taken, room);
		bridge_out_changed(b);
	}
	taken += room;
	if (taken < len || bridge_buf_used(&b->out) > 0)
		bridge_want_write(b, 1);
	bridge_touch(b);
	return taken;
}

/*
 * Queue the PROXY header the session asks for as the channel's first bytes, in one write;
 * -1 when it cannot be built. A channel that cannot take it is handled as lost.
 */
static int
bridge_proxy_header(struct bridge *b, int version)
{
	struct sockaddr_storage	 src, dst;
	socklen_t		 slen = sizeof src, dlen = sizeof dst;
	char			 hdr[PROXYPROTO_MAX], uid[32];
	ssize_t			 n;

	if (getpeername(b->fd, (struct sockaddr *)&src, &slen) == -1 ||
	    getsockname(b->fd, (struct sockaddr *)&dst, &dlen) == -1)
		return -1;
	snprintf(uid, sizeof uid, "%llu", b->id);
	n = proxyproto_build(version, hdr, sizeof hdr, (struct sockaddr *)&src,
	    (struct sockaddr *)&dst, b->public_host, uid);
	if (n <= 0)
		return -1;
	bridge_buf_add(&b->in, hdr, (size_t)n);
	if (bridge_flush_in(b) != 0)
		bridge_ch_lost(b);
	return 0;
}

/* Start carrying data: the PROXY header first, if the session asks for one. */
static void
bridge_start(struct bridge *b)
{
	int	 version = grant_proxy_proto(b->grant);

	if (version > 0 && bridge_proxy_header(b, version) != 0) {
		bridge_free(b, "cannot send the PROXY header");
		return;
	}
	b->opened = 1;
	log_debug("%s: connection from %s open%s", b->url, b->peer,
	    version > 0 ? " (PROXY header sent)" : "");
	bridge_progress(b);
}

/* libevent: look again whether the session's command has run (its options decide the header). */
static void
bridge_on_hold(evutil_socket_t fd, short what, void *arg)
{
	struct bridge	*b = arg;
	struct timeval	 tv = { 0, BRIDGE_COMMAND_STEP * 1000 };

	b->held_ms += BRIDGE_COMMAND_STEP;
	if (b->ops->command_pending(b->ch) && b->held_ms < BRIDGE_COMMAND_WAIT) {
		evtimer_add(b->hold, &tv);
		return;
	}
	bridge_start(b);
}

/* channel: the client answered the channel open. */
static void
bridge_ch_opened(void *arg, int ok, const char *reason)
{
	struct bridge	*b = arg;
	struct timeval	 tv = { 0, BRIDGE_COMMAND_STEP * 1000 };

	if (!ok) {
		log_info_limited("%s: connection from %s refused by the SSH client: %s", b->url,
		    b->peer, reason);
		bridge_free(b, NULL);
		return;
	}
	/*
	 * The client sends its command before it answers this open, so it has normally run
	 * already; if not, wait a little for it, as its options may ask for a PROXY header.
	 */
	if (b->ops->command_pending(b->ch)) {
		if ((b->hold = evtimer_new(b->base, bridge_on_hold, b)) == NULL ||
		    evtimer_add(b->hold, &tv) != 0)
			fatal("cannot add a timer to the event loop");
		return;
	}
	bridge_start(b);
}

/* channel: the client sends no more data. */
static void
bridge_ch_eof(void *arg)
{
	struct bridge	*b = arg;

	b->ch_eof = 1;
	bridge_progress(b);
}

/* channel: it is closed: keep what libssh held, let the channel go, finish writing. */
static void
bridge_ch_closed(void *arg)
{
	struct bridge	*b = arg;

	if (bridge_pull(b, SIZE_MAX) != 0)
		b->broken = 1;
	if (b->hold != NULL)
		evtimer_del(b->hold);	/* it asks the channel, which goes now */
	b->ops->free(b->ch);
	b->ch = NULL;
	b->ch_closed = 1;
	b->ch_eof = 1;
	if (b->broken) {
		bridge_free(b, "public connection lost");
		return;
	}
	if (bridge_flush_out(b) != 0) {
		bridge_free(b, strerror(errno));
		return;
	}
	bridge_progress(b);
}

/* channel: the client's window opened again. */
static void
bridge_ch_writable(void *arg)
{
	struct bridge	*b = arg;

	if (bridge_flush_in(b) != 0) {
		bridge_ch_lost(b);
		return;
	}
	bridge_progress(b);
}

static const struct sshgw_channel_events bridge_events = {
	.opened = bridge_ch_opened,
	.data = bridge_ch_data,
	.eof = bridge_ch_eof,
	.closed = bridge_ch_closed,
	.writable = bridge_ch_writable,
};

/* libevent: check for idleness; close the connection or look again later. */
static void
bridge_on_idle(evutil_socket_t fd, short what, void *arg)
{
	struct bridge	*b = arg;
	struct timeval	 tv = { 0, 0 };
	time_t		 now = time(NULL), left = b->last + b->idle_timeout - now;

	if (left <= 0) {
		bridge_free(b, "idle timeout");
		return;
	}
	tv.tv_sec = left;
	evtimer_add(b->idle, &tv);
}

/* Report the end of a connection as a tcp_connection_closed event. */
static void
bridge_event(struct bridge *b, const char *why)
{
	struct events_connection	 ev = {
		.account = registry_account(b->reg),
		.url = b->url,
		.client = b->peer,
		.reason = why != NULL ? why : "not forwarded",
		.bytes_in = b->bytes_in,
		.bytes_out = b->bytes_out,
		.duration_ms = events_clock_ms() - b->started_ms,
	};

	events_connection_closed(&ev);
}

/* Close the public socket and the channel, and free the bridge; why is logged. */
static void
bridge_free(struct bridge *b, const char *why)
{
	bridge_event(b, why);
	if (why != NULL)
		log_debug("%s: connection from %s %s after %lld s: %llu bytes in, %llu out",
		    b->url, b->peer, why, (long long)(time(NULL) - b->started), b->bytes_in,
		    b->bytes_out);
	LIST_REMOVE(b, entry);
	registry_conn(b->reg, -1);
	registry_release(b->reg);
	grant_release(b->grant);
	b->ops->free(b->ch);
	event_free(b->rev);
	event_free(b->wev);
	if (b->idle != NULL)
		event_free(b->idle);
	if (b->hold != NULL)
		event_free(b->hold);
	close(b->fd);
	free(b->out.data);
	free(b->in.data);
	free(b->peer);
	free(b->url);
	free(b);
}

/*
 * Bridge a public connection fd from sa, accepted on tunnel t, through a new channel of owner
 * opened with ops. Returns 0, or -1 (the socket closed) when owner cannot take another
 * channel.
 */
int
bridge_create(struct event_base *base, const struct bridge_channel_ops *ops, void *owner,
    const struct bridge_tunnel_info *t, int fd, const struct sockaddr *sa, socklen_t salen)
{
	struct bridge	*b;
	char		 host[NI_MAXHOST], port[NI_MAXSERV];
	struct timeval	 tv = { grant_idle_timeout(t->grant), 0 };

	if (getnameinfo(sa, salen, host, sizeof host, port, sizeof port,
	    NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
		close(fd);
		return -1;
	}
	b = xcalloc(1, sizeof *b);
	LIST_INSERT_HEAD(&bridge_all, b, entry);
	b->id = atomic_fetch_add(&bridge_next_id, 1);
	b->ops = ops;
	b->base = base;
	b->fd = fd;
	b->peer = addr_format(sa, salen);
	b->url = xstrdup(t->url);
	b->public_host = t->public_host;
	b->reg = registry_hold(t->reg);
	registry_conn(b->reg, 1);
	b->grant = grant_hold(t->grant);
	b->idle_timeout = grant_idle_timeout(b->grant);
	b->started = b->last = time(NULL);
	b->started_ms = events_clock_ms();
	b->rev = event_new(base, fd, EV_READ | EV_PERSIST, bridge_on_read, b);
	b->wev = event_new(base, fd, EV_WRITE | EV_PERSIST, bridge_on_write, b);
	if (b->rev == NULL || b->wev == NULL)
		fatal("cannot add a connection to the event loop");
	if (b->idle_timeout > 0) {
		if ((b->idle = evtimer_new(base, bridge_on_idle, b)) == NULL ||
		    evtimer_add(b->idle, &tv) != 0)
			fatal("cannot add a timer to the event loop");
	}
	b->ch = ops->open(owner, t->address, t->port, host, atoi(port), &bridge_events, b);
	if (b->ch == NULL) {
		log_warn_limited("%s: connection from %s dropped: the SSH session cannot open "
		    "another channel now", b->url, b->peer);
		bridge_free(b, NULL);
		return -1;
	}
	return 0;
}

/* Free every bridge of this thread: its sessions are gone and the worker is stopping. */
void
bridge_free_all(void)
{
	while (!LIST_EMPTY(&bridge_all))
		bridge_free(LIST_FIRST(&bridge_all), "the gateway is stopping");
}
