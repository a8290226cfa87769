/* SPDX-License-Identifier: ISC */
/*
 * tunnelgw: one SSH client connection: handshake, authentication, forward requests, and
 * the bridge between libevent and libssh. Each session has its own small ssh_event and is
 * polled only when libevent reports its socket ready, so the cost of a wake-up does not
 * grow with the number of sessions.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "addr.h"
#include "log.h"
#include "sshgw-int.h"
#include "xmalloc.h"

static atomic_ullong	sshgw_next_id = 1;
static atomic_size_t	sshgw_sessions;

static void	sshgw_session_teardown(struct sshgw_session *);

/* Return how many sessions exist in this process. */
size_t
sshgw_session_count(void)
{
	return atomic_load(&sshgw_sessions);
}

/* Attach the daemon's own data to a session. */
void
sshgw_session_set_data(struct sshgw_session *s, void *data)
{
	s->data = data;
}

/* Return the daemon's data of a session. */
void *
sshgw_session_data(const struct sshgw_session *s)
{
	return s->data;
}

/* Return the session's number, unique in this process. */
unsigned long long
sshgw_session_id(const struct sshgw_session *s)
{
	return s->id;
}

/*
 * Tell the user something in one line: on the session channel's stderr when there is one,
 * else kept (a few lines at most) until one opens. The log gets it too, from the caller.
 */
void
sshgw_session_notice(struct sshgw_session *s, const char *fmt, ...)
{
	va_list	 ap;
	char	*line;

	va_start(ap, fmt);
	xvasprintf(&line, fmt, ap);
	va_end(ap);
	if (s->sch != NULL && !s->sch_closed) {
		sshgw_command_write(s, 1, line);
		free(line);
		return;
	}
	if (s->nnotices == SSHGW_MAX_NOTICES) {
		free(line);
		return;
	}
	s->notices[s->nnotices++] = line;
}

/* Ask for the session's deferred work to run soon, outside whatever libssh call is active. */
void
sshgw_session_kick(struct sshgw_session *s)
{
	if (s->kick != NULL)
		event_active(s->kick, EV_TIMEOUT, 0);
}

/* libssh: bytes wait to be written behind (sshgw/sockio.c); send them at the round's end. */
static void
sshgw_session_wake(void *arg)
{
	struct sshgw_session	*s = arg;

	s->flush_due = 1;
	sshgw_session_kick(s);
}

/* Does output wait: in libssh's buffer, or written behind and not yet taken by the kernel. */
static int
sshgw_session_output_waits(struct sshgw_session *s)
{
	return (ssh_get_status(s->ssh) & SSH_WRITE_PENDING) != 0 ||
	    sshgw_writebehind_pending(ssh_get_fd(s->ssh)) > 0;
}

/*
 * Must the socket be watched for writing: output waits and no flush is due this round
 * (bytes written behind are sent by sshgw_session_post first; watching meanwhile would
 * cost two epoll_ctl calls each way).
 */
static int
sshgw_session_wants_write(struct sshgw_session *s)
{
	return (ssh_get_status(s->ssh) & SSH_WRITE_PENDING) != 0 ||
	    (!s->flush_due && sshgw_writebehind_pending(ssh_get_fd(s->ssh)) > 0);
}

/* Watch the session socket for writing while output waits, and only then. */
void
sshgw_session_update(struct sshgw_session *s)
{
	short	 want = EV_READ;

	if (s->io == NULL)
		return;
	if (s->paused) {
		if (s->events != 0)
			event_del(s->io);
		s->events = 0;
		return;
	}
	/*
	 * Wait for writability only while output waits. (libssh asks for POLLOUT after every
	 * write even when it wrote everything; following that would cost two epoll_ctl calls
	 * and an empty wake-up per write.)
	 */
	if (!sshgw_session_output_waits(s))
		s->unflushed = 0;
	if (sshgw_session_wants_write(s))
		want |= EV_WRITE;
	if (want != s->events) {
		event_del(s->io);
		event_assign(s->io, s->base, s->fd, want | EV_PERSIST, event_get_callback(s->io),
		    s);
		event_add(s->io, NULL);
		s->events = want;
	}
	/* Bytes read ahead (sshgw/sockio.c) wake no epoll: come back for them. */
	if (sshgw_readahead_pending(ssh_get_fd(s->ssh)))
		event_active(s->io, EV_READ, 0);
}

/*
 * After a call into libssh made outside a session wake-up: libssh may have handled packets
 * (a window adjust, a channel confirmation) inside it, so look at what waits, soon.
 */
void
sshgw_session_touched(struct sshgw_session *s)
{
	sshgw_session_update(s);
	if (!TAILQ_EMPTY(&s->waiting) || !TAILQ_EMPTY(&s->noted))
		sshgw_session_kick(s);
}

/* Mark the session for closing with a reason; it closes once no libssh call is active. */
void
sshgw_session_close(struct sshgw_session *s, const char *why)
{
	if (s->closing == NULL)
		s->closing = xstrdup(why);
	if (s->in_process)
		sshgw_session_kick(s);
	else
		sshgw_session_teardown(s);
}

/* Did libssh close the connection, or lose it. */
static int
sshgw_session_dead(struct sshgw_session *s)
{
	return ssh_get_fd(s->ssh) == SSH_INVALID_SOCKET ||
	    (ssh_get_status(s->ssh) & (SSH_CLOSED | SSH_CLOSED_ERROR)) != 0;
}

/*
 * Send what is written behind; a send that failed marks the session for closing. Returns
 * -1 when the session must close.
 */
static int
sshgw_session_flush(struct sshgw_session *s)
{
	s->flush_due = 0;
	if (s->closing == NULL && sshgw_sockio_flush(ssh_get_fd(s->ssh)) != 0)
		xasprintf(&s->closing, "connection lost: %s", strerror(errno));
	return s->closing != NULL ? -1 : 0;
}

/* Pass on the forward cancels kept while the daemon was inside a call (owner_call). */
static void
sshgw_session_cancels(struct sshgw_session *s)
{
	size_t	 i;

	for (i = 0; i < s->ncancels; i++) {
		if (s->closing == NULL)
			(void)s->srv->hooks->forward_cancel(s, s->cancels[i].address,
			    s->cancels[i].port);
		free(s->cancels[i].address);
	}
	s->ncancels = 0;
}

/*
 * Run what was deferred: channel notices and retries, commands, closing. from_io says that
 * libssh has just read from the client (or time passed), so opening channels are worth
 * asking about.
 */
static void
sshgw_session_post(struct sshgw_session *s, int from_io)
{
	struct timeval	 second = { 1, 0 };

	if (s->closing == NULL && sshgw_session_dead(s))
		s->closing = xstrdup(ssh_get_error(s->ssh)[0] != '\0' ? ssh_get_error(s->ssh) :
		    "connection closed by client");
	if (s->closing != NULL) {
		sshgw_session_teardown(s);
		return;
	}
	/*
	 * What waits written behind goes first (the socket may have become writable), so that
	 * writers held back by the unflushed bytes are woken in this very round.
	 */
	if (sshgw_writebehind_pending(ssh_get_fd(s->ssh)) > 0 && sshgw_session_flush(s) != 0) {
		sshgw_session_post(s, 0);
		return;
	}
	if (!sshgw_session_output_waits(s))
		s->unflushed = 0;
	if (from_io && s->authenticated)
		sshgw_alive_check(s);
	s->in_process++;
	sshgw_channel_post(s, from_io);
	sshgw_command_post(s);
	s->in_process--;
	sshgw_session_cancels(s);
	/* What libssh sent in this round leaves now, in one send (sshgw/sockio.c). */
	if (sshgw_session_flush(s) != 0 || sshgw_session_dead(s)) {
		sshgw_session_post(s, 0);
		return;
	}
	/* All of it left: writers held back by the unflushed bytes get another walk. */
	if (s->unflushed >= SSHGW_MAX_UNFLUSHED && !sshgw_session_output_waits(s) &&
	    !TAILQ_EMPTY(&s->waiting))
		sshgw_session_kick(s);
	sshgw_session_update(s);
	if (s->nopening > 0 && !evtimer_pending(s->tick, NULL))
		evtimer_add(s->tick, &second);
}

/* Does the socket have room to write into now. */
static int
sshgw_session_writable(int fd)
{
	struct pollfd	 pfd = { .fd = fd, .events = POLLOUT };

	return poll(&pfd, 1, 0) == 1 && (pfd.revents & POLLOUT) != 0;
}

/*
 * Take one step of the first key exchange. Before libssh reads, keep a copy of what the
 * client sent (sshgw/negotiate.c). After the first step, tell libssh that it may write at
 * once (see sshgw_session_progress), so that the key exchange reply leaves without waiting
 * for another wake-up. Not in the first step: libssh writes the banner before it reads, and a
 * client that answers the banner at once would add its KEXINIT to what libssh then reads,
 * past the copy just taken.
 */
static int
sshgw_session_kex_step(struct sshgw_session *s, int first)
{
	if (s->nego != NULL)
		sshgw_negotiate_peek(s->nego, s->fd);
	if (!first && sshgw_session_writable(s->fd))
		ssh_set_fd_towrite(s->ssh);
	return ssh_handle_key_exchange(s->ssh);
}

/* The first key exchange is over: stop keeping the client's bytes; note libssh's error. */
static void
sshgw_session_kex_over(struct sshgw_session *s)
{
	s->kex_done = 1;
	sshgw_negotiate_free(s->nego);
	s->nego = NULL;
	sshgw_sockio_start(ssh_get_fd(s->ssh), sshgw_session_wake, s);
	if (ssh_get_error_code(s->ssh) != SSH_NO_ERROR)
		s->kex_error = xstrdup(ssh_get_error(s->ssh));
}

/*
 * The first key exchange failed: close with the gateway's own finding when it made one,
 * else with libssh's error, which can hold what the client sent (so quoted, up to 256
 * characters).
 */
static void
sshgw_session_kex_failed(struct sshgw_session *s)
{
	char	 err[256 + 4];

	if (s->closing != NULL)
		return;
	xasprintf(&s->closing, "handshake failed: %s",
	    log_quote_long(ssh_get_error(s->ssh), err, sizeof err - 4));
}

/*
 * libssh: progress of the key exchange, as a fraction.
 *
 * libssh 0.10.6 writes only once its poll has reported POLLOUT, and handles POLLIN before
 * POLLOUT (src/socket.c, ssh_socket_pollcallback and ssh_socket_nonblocking_flush). When
 * the client's banner and KEXINIT arrive in one read, libssh queues its own KEXINIT on the
 * banner (src/server.c, ssh_server_connection_callback, state BANNER_RECEIVED), then takes
 * the client's KEXINIT in the same call, and on a mismatch closes the socket with that
 * KEXINIT still queued; the client sees the connection close and cannot say why. So at 0.5,
 * just before that KEXINIT is queued, libssh is told that the socket takes writes, and the
 * KEXINIT leaves at once. At 0.6 the client's KEXINIT is in and libssh is about to compare
 * the algorithms: the gateway compares them first, from its own copy of the client's
 * bytes, and when nothing matches sends a disconnect message that says what did not (libssh
 * would send nothing) and closes with that reason.
 */
static void
sshgw_session_progress(void *arg, float status)
{
	struct sshgw_session	*s = arg;
	char			*why;

	if (s->kex_done || s->closing != NULL)
		return;
	if (status > 0.45f && status < 0.55f) {
		if (sshgw_session_writable(s->fd))
			ssh_set_fd_towrite(s->ssh);
		return;
	}
	if (status < 0.55f || status > 0.65f)
		return;
	if (sshgw_negotiate_check(s->nego, s->srv, &why) == 0)
		return;
	if ((ssh_get_status(s->ssh) & SSH_WRITE_PENDING) == 0)
		sshgw_negotiate_disconnect(s->fd, why);
	xasprintf(&s->closing, "handshake failed: %s", why);
	free(why);
}

/*
 * Should the session's socket rest: the gateway holds more than max_buffered_mib toward
 * public clients that read slower than SSH clients send, and this session's channels hold
 * a real share of it (more than a moment's backlog of a flowing transfer). Not reading its
 * socket lets TCP slow that client down, where buffering more would spend memory that
 * every tenant shares.
 */
static int
sshgw_session_must_rest(const struct sshgw_session *s)
{
	return s->held > SSHGW_REST_HELD && s->kex_done && sshgw_channel_over_budget(s);
}

/* Stop reading (and writing) the session's socket for a while; libssh is not called. */
static void
sshgw_session_rest(struct sshgw_session *s)
{
	struct timeval	 tv = { 0, SSHGW_REST_MS * 1000 };

	if (!s->paused)
		log_ratelimited(LOG_LEVEL_INFO, "session %llu (%s): not read for now: the gateway "
		    "holds its max_buffered_mib toward slow public clients, %zu bytes of it for "
		    "this session", s->id, s->account != NULL ? s->account : "-", s->held);
	s->paused = 1;
	sshgw_session_update(s);
	evtimer_add(s->pause, &tv);
}

static void	sshgw_session_io(evutil_socket_t, short, void *);

/* libevent: a resting session looks again whether it may be read. */
static void
sshgw_session_rested(evutil_socket_t fd, short what, void *arg)
{
	struct sshgw_session	*s = arg;

	if (sshgw_session_must_rest(s)) {
		sshgw_session_rest(s);
		return;
	}
	s->paused = 0;
	sshgw_session_update(s);
	sshgw_session_io(s->fd, EV_READ, s);
}

/* The session whose packets libssh is handling in this thread, for sshgw_session_libssh_log. */
static _Thread_local struct sshgw_session *sshgw_session_current;

/*
 * A global request libssh refused by itself, without asking us: a Unix-socket forward
 * (ssh -R /path:...) gets a line saying why and a log line; others are only logged in
 * debug.
 */
static void
sshgw_session_unknown_request(struct sshgw_session *s, const char *name)
{
	char	 q[LOG_QUOTE_SIZE];

	if (strcmp(name, "streamlocal-forward@openssh.com") != 0) {
		log_debug("session %llu: global request '%s' refused", s->id, log_quote(name, q));
		return;
	}
	log_info_limited("session %llu (%s): Unix-socket forward refused: not offered", s->id,
	    s->account != NULL ? s->account : "-");
	sshgw_session_notice(s, "tunnelgw: Unix-socket forwards (-R /path:...) are not offered; "
	    "forward a TCP port instead: -R 0:localhost:PORT");
}

/*
 * libssh's log, seen only while sshgw_session_dopoll() runs. libssh 0.10.6 answers global
 * requests it does not know (such as streamlocal-forward@openssh.com) with a failure and
 * tells no callback; its protocol log line is the only trace, so it is read here.
 */
static void
sshgw_session_libssh_log(int priority, const char *function, const char *buffer, void *arg)
{
	static const char	 mark[] = "UNKNOWN SSH_MSG_GLOBAL_REQUEST ";
	const char		*p;
	char			 name[128];
	size_t			 n;

	if (sshgw_session_current == NULL || (p = strstr(buffer, mark)) == NULL)
		return;
	p += sizeof mark - 1;
	n = strcspn(p, ",");
	if (n >= sizeof name)
		n = sizeof name - 1;
	memcpy(name, p, n);
	name[n] = '\0';
	sshgw_session_unknown_request(sshgw_session_current, name);
}

/*
 * Let libssh handle what the client sent. Its protocol log is on only meanwhile (it is
 * thread-local): outside, its lines about every write would cost time on the data path.
 */
static int
sshgw_session_dopoll(struct sshgw_session *s)
{
	int	 rc;

	if (!s->authenticated)
		return ssh_event_dopoll(s->sev, 0);
	ssh_set_log_callback(sshgw_session_libssh_log);
	ssh_set_log_level(SSH_LOG_PROTOCOL);
	sshgw_session_current = s;
	rc = ssh_event_dopoll(s->sev, 0);
	sshgw_session_current = NULL;
	ssh_set_log_level(SSH_LOG_NOLOG);
	return rc;
}

/* libevent: the session socket is ready; let libssh read (a bounded burst) and write. */
static void
sshgw_session_io(evutil_socket_t fd, short what, void *arg)
{
	struct sshgw_session	*s = arg;
	int			 i, rc;

	if (sshgw_session_must_rest(s)) {
		sshgw_session_rest(s);
		return;
	}
	s->in_process++;
	for (i = 0; i < SSHGW_POLL_BURST && s->closing == NULL; i++) {
		if (!s->kex_done && s->authenticated)
			sshgw_session_kex_over(s);
		if (!s->kex_done) {
			rc = sshgw_session_kex_step(s, 0);
			if (rc == SSH_OK) {
				sshgw_session_kex_over(s);
				log_debug("session %llu: key exchange done", s->id);
				continue;
			}
			if (rc == SSH_ERROR) {
				sshgw_session_kex_failed(s);
				break;
			}
			break;
		}
		rc = sshgw_session_dopoll(s);
		if (rc != SSH_OK)
			break;
	}
	if (s->kex_done && !s->authenticated && s->closing == NULL && !sshgw_session_dead(s))
		sshgw_login_unanswered(s);
	s->in_process--;
	sshgw_session_post(s, 1);
}

/* libevent: deferred work was asked for. */
static void
sshgw_session_kicked(evutil_socket_t fd, short what, void *arg)
{
	sshgw_session_post(arg, 0);
}

/* libevent: a second passed while channels were opening: check on them and their deadlines. */
static void
sshgw_session_ticked(evutil_socket_t fd, short what, void *arg)
{
	sshgw_session_post(arg, 1);
}

/* libevent: the login grace time ran out. */
static void
sshgw_session_grace(evutil_socket_t fd, short what, void *arg)
{
	struct sshgw_session	*s = arg;

	if (!s->authenticated)
		sshgw_session_close(s, "not authenticated within login_grace_time");
}

/* libssh: accept only the services an SSH client needs. */
static int
sshgw_session_service(ssh_session ssh, const char *service, void *arg)
{
	return strcmp(service, "ssh-userauth") == 0 || strcmp(service, "ssh-connection") == 0 ?
	    0 : -1;
}

/* Refuse a forward request: reply, log, and tell the user why. */
static void
sshgw_session_refuse_forward(struct sshgw_session *s, ssh_message msg, const char *address,
    int port, const char *why)
{
	char	 q[LOG_QUOTE_SIZE];

	ssh_message_reply_default(msg);
	log_info("session %llu (%s): forward '%s':%d refused: %s", s->id, s->account,
	    log_quote(address, q), port, why);
	sshgw_session_notice(s, "tunnelgw: forward of %s:%d refused: %s", address, port, why);
}

/* A tcpip-forward request: ask the daemon for a public port and answer, inside the callback. */
static void
sshgw_session_forward(struct sshgw_session *s, ssh_message msg)
{
	const struct sshgw_hooks	*hooks = s->srv->hooks;
	const char			*address = ssh_message_global_request_address(msg);
	int				 port = ssh_message_global_request_port(msg), bound;
	int				 udp = 0;
	char				*why = NULL;

	s->forwards_asked++;
	if (address == NULL)
		address = "";
	if (strlen(address) > 255) {
		sshgw_session_refuse_forward(s, msg, "?", port, "bind address too long");
		return;
	}
	/*
	 * libssh 0.10.6 keeps the port of a forward request in 16 bits, so a request above
	 * 65535 (which no real client sends) reaches us cut to its low 16 bits and is judged
	 * as that port, by the same rules: nothing is granted that the account could not have
	 * asked for. This check is for a libssh that hands over the whole number.
	 */
	if (port < 0 || port > 65535) {
		sshgw_session_refuse_forward(s, msg, address, port, "no such port");
		return;
	}
	if (hooks->forward_add(s, address, port, &bound, &udp, &why) != 0) {
		sshgw_session_refuse_forward(s, msg, address, port, why);
		free(why);
		return;
	}
	if (ssh_message_global_request_reply_success(msg, (uint16_t)bound) != SSH_OK) {
		hooks->forward_cancel(s, address, bound);
		return;
	}
	sshgw_command_forward_added(s, address, port, bound, udp);
}

/*
 * A cancel-tcpip-forward request: the daemon closes the public port at once, or, when it is
 * inside a call of ours that let libssh read this request, right after that call.
 */
static void
sshgw_session_cancel(struct sshgw_session *s, ssh_message msg)
{
	const char	*address = ssh_message_global_request_address(msg);
	int		 port = ssh_message_global_request_port(msg);

	if (s->owner_call > 0) {
		if (s->ncancels == SSHGW_MAX_CANCELS) {
			ssh_message_reply_default(msg);
			return;
		}
		s->cancels[s->ncancels].address = xstrdup(address != NULL ? address : "");
		s->cancels[s->ncancels++].port = port;
		sshgw_session_kick(s);
		ssh_message_global_request_reply_success(msg, 0);
		return;
	}
	if (s->srv->hooks->forward_cancel(s, address != NULL ? address : "", port) != 0) {
		ssh_message_reply_default(msg);
		return;
	}
	ssh_message_global_request_reply_success(msg, 0);
}

/* libssh: messages no callback took. Forward requests are answered here; the rest refused. */
static int
sshgw_session_message(ssh_session ssh, ssh_message msg, void *arg)
{
	struct sshgw_session	*s = arg;

	if (ssh_message_type(msg) == SSH_REQUEST_AUTH)
		return sshgw_login_message(s, msg);
	if (ssh_message_type(msg) != SSH_REQUEST_GLOBAL || !s->authenticated ||
	    s->closing != NULL)
		return 1;
	switch (ssh_message_subtype(msg)) {
	case SSH_GLOBAL_REQUEST_TCPIP_FORWARD:
		sshgw_session_forward(s, msg);
		return 0;
	case SSH_GLOBAL_REQUEST_CANCEL_TCPIP_FORWARD:
		sshgw_session_cancel(s, msg);
		return 0;
	default:
		return 1;
	}
}

/* Set TCP options on an SSH client's socket: no Nagle, keepalives to find vanished clients. */
static void
sshgw_session_sockopts(int fd)
{
	int	 on = 1, idle = 60, intvl = 10, cnt = 6;

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
	setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof on);
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle);
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof intvl);
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof cnt);
}

/* Install the libssh callbacks of a new session. */
static void
sshgw_session_callbacks(struct sshgw_session *s)
{
	memset(&s->scb, 0, sizeof s->scb);
	s->scb.userdata = s;
	s->scb.service_request_function = sshgw_session_service;
	s->scb.channel_open_request_session_function = sshgw_command_channel_open;
	sshgw_login_callbacks(s);
	ssh_callbacks_init(&s->scb);
	ssh_set_server_callbacks(s->ssh, &s->scb);
	ssh_set_message_callback(s->ssh, sshgw_session_message, s);
	memset(&s->ccb, 0, sizeof s->ccb);
	s->ccb.userdata = s;
	s->ccb.connect_status_function = sshgw_session_progress;
	ssh_callbacks_init(&s->ccb);
	ssh_set_callbacks(s->ssh, &s->ccb);
}

/*
 * Take over an accepted SSH client socket: start the handshake and watch the socket in base.
 * Returns NULL (the socket closed) when the session cannot even start.
 */
struct sshgw_session *
sshgw_session_create(struct sshgw_server *srv, struct event_base *base, int fd)
{
	struct sshgw_session	*s;
	struct sockaddr_storage	 ss;
	socklen_t		 len = sizeof ss;
	struct timeval		 tv = { srv->set.login_grace_time, 0 };
	int			 lfd, rc;

	s = xcalloc(1, sizeof *s);
	s->id = atomic_fetch_add(&sshgw_next_id, 1);
	s->srv = srv;
	s->base = base;
	s->fd = fd;
	TAILQ_INIT(&s->channels);
	TAILQ_INIT(&s->waiting);
	TAILQ_INIT(&s->noted);
	atomic_fetch_add(&sshgw_sessions, 1);
	if (getpeername(fd, (struct sockaddr *)&ss, &len) == 0)
		s->peer = addr_format((struct sockaddr *)&ss, len);
	else
		s->peer = xstrdup("?");
	sshgw_session_sockopts(fd);

	if ((s->ssh = ssh_new()) == NULL)
		fatal("out of memory creating an SSH session");
	/*
	 * libssh closes the socket it is given inside its own calls (on an error, or when the
	 * client leaves), while libevent still watches it. So the descriptor is kept from
	 * libssh's close (sshgw/sockio.c): it stays ours, leaves the loop first and is closed
	 * last (sshgw_session_teardown), and its number cannot be reused in between. A
	 * descriptor too high to be kept gives libssh a duplicate instead.
	 */
	lfd = fd;
	if (sshgw_fd_keep(fd) != 0 && (lfd = fcntl(fd, F_DUPFD_CLOEXEC, 0)) == -1) {
		log_warn_limited("session %llu from %s: cannot start: %s", s->id, s->peer,
		    strerror(errno));
		goto fail;
	}
	if (ssh_bind_accept_fd(srv->bind, s->ssh, lfd) != SSH_OK) {
		log_warn_limited("session %llu from %s: cannot start: %s", s->id, s->peer,
		    ssh_get_error(srv->bind));
		if (lfd != fd)
			close(lfd);
		goto fail;
	}
	/*
	 * No compression: libssh offers zlib by default and clients that prefer it (asyncssh)
	 * would cost about 100 KiB of zlib state per idle session, and CPU per byte.
	 */
	if (ssh_options_set(s->ssh, SSH_OPTIONS_COMPRESSION, "none") != SSH_OK)
		log_warn("session %llu: cannot turn compression off", s->id);
	sshgw_session_callbacks(s);
	ssh_set_blocking(s->ssh, 0);
	/* Counted for the whole session: negotiate.c reads the bytes, alive.c the packets. */
	ssh_set_counters(s->ssh, &s->sock, &s->rx);
	s->nego = sshgw_negotiate_create(&s->sock);
	rc = sshgw_session_kex_step(s, 1);	/* sends our banner, creates the poll context */
	if (rc == SSH_ERROR) {
		sshgw_session_kex_failed(s);
		goto fail;
	}
	if (rc == SSH_OK)
		sshgw_session_kex_over(s);
	if ((s->sev = ssh_event_new()) == NULL || ssh_event_add_session(s->sev, s->ssh) != SSH_OK) {
		log_warn("session %llu from %s: cannot poll the session", s->id, s->peer);
		goto fail;
	}
	s->io = event_new(base, fd, EV_READ | EV_PERSIST, sshgw_session_io, s);
	s->kick = event_new(base, -1, 0, sshgw_session_kicked, s);
	s->grace = evtimer_new(base, sshgw_session_grace, s);
	s->tick = evtimer_new(base, sshgw_session_ticked, s);
	s->pause = evtimer_new(base, sshgw_session_rested, s);
	if (s->io == NULL || s->kick == NULL || s->grace == NULL || s->tick == NULL ||
	    s->pause == NULL || event_add(s->io, NULL) != 0 ||
	    evtimer_add(s->grace, &tv) != 0)
		fatal("cannot add an SSH session to the event loop");
	s->events = EV_READ;
	log_debug("session %llu from %s: connected", s->id, s->peer);
	sshgw_session_update(s);
	return s;
fail:
	sshgw_session_teardown(s);
	return NULL;
}

/*
 * End a session: the daemon hears of every channel and forward going, then libssh closes
 * the connection. Never called while a libssh call of this session is active.
 */
static void
sshgw_session_teardown(struct sshgw_session *s)
{
	const struct sshgw_hooks	*hooks = s->srv->hooks;
	char				 why[1024 + 4];
	size_t				 i;

	if (s->io != NULL)
		event_free(s->io);
	if (s->kick != NULL)
		event_free(s->kick);
	if (s->grace != NULL)
		event_free(s->grace);
	if (s->tick != NULL)
		event_free(s->tick);
	if (s->pause != NULL)
		event_free(s->pause);
	sshgw_alive_stop(s);
	s->io = s->kick = s->grace = s->tick = s->pause = NULL;
	sshgw_channel_detach_all(s);
	hooks->session_closed(s);	/* its public ports close, and the daemon's record goes */
	/* Why it closed can hold what the client sent (libssh's errors quote its offer). */
	if (s->authenticated || s->closing != NULL) {
		log_quote_long(s->closing != NULL ? s->closing : "ended", why, sizeof why - 4);
		log_ratelimited_if(!s->authenticated, LOG_LEVEL_INFO,
		    "session %llu from %s%s%s%s: closed: %s", s->id, s->peer,
		    s->account ? " (" : "", s->account ? s->account : "", s->account ? ")" : "",
		    why);
	}
	sshgw_command_free(s);
	sshgw_login_free(s);
	if (s->sev != NULL) {
		ssh_event_remove_session(s->sev, s->ssh);
		ssh_event_free(s->sev);
	}
	if (s->ssh != NULL) {
		if (s->closing != NULL)
			ssh_session_set_disconnect_message(s->ssh, s->closing);
		ssh_disconnect(s->ssh);
		ssh_free(s->ssh);
	}
	if (s->fd != -1)
		sshgw_fd_close(s->fd);	/* out of the loop since the events were freed above */
	sshgw_negotiate_free(s->nego);
	for (i = 0; i < s->nnotices; i++)
		free(s->notices[i]);
	for (i = 0; i < s->ncancels; i++)
		free(s->cancels[i].address);
	free(s->closing);
	free(s->kex_error);
	free(s->account);
	free(s->peer);
	atomic_fetch_sub(&sshgw_sessions, 1);
	free(s);
}
