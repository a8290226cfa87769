/* SPDX-License-Identifier: ISC */
/*
 * tunnelgw: server-side SSH keepalives, as sshd's ClientAliveInterval: a logged-in client
 * that sends nothing for client_alive_interval seconds is asked for an answer
 * (keepalive@openssh.com, which every client answers, if only with a refusal); one that
 * leaves client_alive_count_max of them unanswered is disconnected and its ports freed.
 * TCP keepalives cannot find a client that is stopped or asleep: its kernel still answers.
 * A probe can also be asked for at once, with a short deadline, when a newer session of the
 * same account wants a port the session holds.
 */
#include "config.h"

#include <event2/event.h>
#include <stdlib.h>
#include <time.h>

#include "log.h"
#include "sshgw-int.h"
#include "xmalloc.h"

/* Milliseconds of a clock that only moves forward. */
static int64_t
sshgw_alive_now(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * Note whether the client sent anything since we last looked: libssh counts the packets it
 * takes, also those it reads inside calls made outside a wake-up (as sending a keepalive).
 */
void
sshgw_alive_check(struct sshgw_session *s)
{
	if (s->rx.in_packets == s->rx_seen)
		return;
	s->rx_seen = s->rx.in_packets;
	s->heard = sshgw_alive_now();
	s->alive_sent = 0;
	s->alive_missed = 0;
	s->probe_waiting = 0;
}

/*
 * Send keepalive@openssh.com with want-reply. libssh keeps the state of the last global
 * request it sent and consumes a stale reply on the next call without sending anything, so
 * two calls make sure one request is on its way (none is sent while one still waits for its
 * answer). libssh may handle packets inside; notices wait for the session's next pass.
 */
static void
sshgw_alive_send(struct sshgw_session *s)
{
	s->in_process++;
	ssh_send_keepalive(s->ssh);
	ssh_send_keepalive(s->ssh);
	s->in_process--;
	sshgw_session_touched(s);
	sshgw_session_kick(s);
}

/* Arm the keepalive timer to fire at the monotonic time when (ms), or soon if it passed. */
static void
sshgw_alive_arm(struct sshgw_session *s, int64_t when)
{
	int64_t		 ms = when - sshgw_alive_now();
	struct timeval	 tv;

	if (ms < 10)
		ms = 10;
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	evtimer_add(s->alive, &tv);
}

/*
 * libevent: look at a client's silence. Silent for client_alive_interval: ask it for an
 * answer, and again every interval while it stays silent. Silent for client_alive_interval
 * times client_alive_count_max, plus a second for the last answer to travel: close it. A
 * live client answers each request, so its silence never reaches that.
 */
static void
sshgw_alive_tick(evutil_socket_t fd, short what, void *arg)
{
	struct sshgw_session	*s = arg;
	const struct sshgw_settings *c = &s->srv->set;
	int64_t			 now = sshgw_alive_now(), interval, limit, next;
	char			*why;

	if (s->closing != NULL)
		return;
	sshgw_alive_check(s);
	interval = (int64_t)c->client_alive_interval * 1000;
	limit = s->heard + interval * c->client_alive_count_max + 1000;
	if (s->paused) {
		s->heard = now;		/* not read: its silence is ours */
		sshgw_alive_arm(s, now + interval);
		return;
	}
	if (now >= limit) {
		xasprintf(&why, "the client did not answer %d keepalive%s in %lld seconds "
		    "(client_alive_interval, client_alive_count_max)", s->alive_missed,
		    s->alive_missed == 1 ? "" : "s", (long long)(now - s->heard) / 1000);
		sshgw_session_close(s, why);
		free(why);
		return;
	}
	if (now >= s->heard + interval && (s->alive_sent == 0 || now >= s->alive_sent + interval)) {
		s->alive_sent = now;
		s->alive_missed++;
		sshgw_alive_send(s);
	}
	next = s->alive_sent == 0 ? s->heard + interval : s->alive_sent + interval;
	sshgw_alive_arm(s, next < limit ? next : limit);
}

/* libevent: an immediate probe's deadline: close the session unless it answered. */
static void
sshgw_alive_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct sshgw_session	*s = arg;

	sshgw_alive_check(s);
	if (s->closing != NULL || !s->probe_waiting)
		return;
	sshgw_session_close(s, "the client did not answer an immediate keepalive (a newer "
	    "session of its account asked for its port)");
}

/* Start keepalives for a session that just logged in (client_alive_interval 0: none). */
void
sshgw_alive_start(struct sshgw_session *s)
{
	s->heard = sshgw_alive_now();
	s->rx_seen = s->rx.in_packets;	/* counted since the session began */
	if (s->srv->set.client_alive_interval == 0)
		return;
	if ((s->alive = evtimer_new(s->base, sshgw_alive_tick, s)) == NULL)
		fatal("cannot add a timer to the event loop");
	sshgw_alive_arm(s, s->heard + (int64_t)s->srv->set.client_alive_interval * 1000);
}

/*
 * Ask a logged-in client for an answer now; unless something arrives within ms
 * milliseconds, the session closes. Returns 0, or -1 when the session cannot be probed.
 */
int
sshgw_alive_probe(struct sshgw_session *s, int ms)
{
	struct timeval	 tv = { ms / 1000, (ms % 1000) * 1000 };

	/* A session held back by max_buffered_mib is not read: it could not be heard. */
	if (!s->authenticated || s->closing != NULL || s->io == NULL || s->paused)
		return -1;
	if (s->probe != NULL && evtimer_pending(s->probe, NULL))
		return 0;	/* one is on its way */
	if (s->probe == NULL && (s->probe = evtimer_new(s->base, sshgw_alive_deadline, s)) == NULL)
		fatal("cannot add a timer to the event loop");
	sshgw_alive_check(s);	/* what came before the probe does not answer it */
	s->probe_waiting = 1;	/* anything heard from the client from now on clears it */
	log_info("session %llu (%s): asked for an answer within %d ms: a newer session of its "
	    "account wants its port", s->id, s->account, ms);
	sshgw_alive_send(s);
	evtimer_add(s->probe, &tv);
	return 0;
}

/* Stop keepalives: the session is ending. */
void
sshgw_alive_stop(struct sshgw_session *s)
{
	if (s->alive != NULL)
		event_free(s->alive);
	if (s->probe != NULL)
		event_free(s->probe);
	s->alive = s->probe = NULL;
}
