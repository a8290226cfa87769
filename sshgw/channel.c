/* SPDX-License-Identifier: ISC */
/*
 * tunnelgw: forwarded-tcpip channels: opened toward the client for each public connection,
 * with the window and the buffering libssh does made visible to the owner, and every notice
 * delivered after libssh has returned.
 */
#include "config.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "sshgw-int.h"
#include "xmalloc.h"

/*
 * Bytes held toward public clients in this process: what libssh keeps for channels whose
 * owner has not taken it, and what owners keep in their own buffers (their backlog).
 */
static atomic_size_t sshgw_channel_held_all;

/* Return the bytes held toward public clients in this process. */
size_t
sshgw_channel_held(void)
{
	return atomic_load(&sshgw_channel_held_all);
}

/* Is the gateway-wide budget for bytes held toward public clients spent. */
int
sshgw_channel_over_budget(const struct sshgw_session *s)
{
	return atomic_load(&sshgw_channel_held_all) >= s->srv->set.max_buffered;
}

/* Count held bytes: a channel's and its session's total change from old to new. */
static void
sshgw_channel_hold(struct sshgw_channel *c, size_t old, size_t new)
{
	if (new >= old) {
		atomic_fetch_add(&sshgw_channel_held_all, new - old);
		c->sess->held += new - old;
	} else {
		atomic_fetch_sub(&sshgw_channel_held_all, old - new);
		c->sess->held -= old - new;
	}
}

/* Set how many bytes libssh holds that the owner has not taken. */
static void
sshgw_channel_set_pending(struct sshgw_channel *c, size_t n)
{
	sshgw_channel_hold(c, c->pending, n);
	c->pending = n;
}

/*
 * The owner tells how many bytes from the client it holds, not yet written to the public
 * side. While it holds any, the client's window is not grown beyond libssh's own: a window
 * grows only while the public side drains.
 */
void
sshgw_channel_backlog(struct sshgw_channel *c, size_t n)
{
	if (c == NULL)
		return;
	sshgw_channel_hold(c, c->backlog, n);
	c->backlog = n;
}

/* Put a channel on the session's list of channels waiting to open or for window. */
static void
sshgw_channel_wait(struct sshgw_channel *c)
{
	if (!c->on_wait) {
		TAILQ_INSERT_TAIL(&c->sess->waiting, c, wait);
		c->on_wait = 1;
		c->wait_round = c->sess->wait_round;
	}
}

/* Take a channel off the waiting list. */
static void
sshgw_channel_unwait(struct sshgw_channel *c)
{
	if (c->on_wait) {
		TAILQ_REMOVE(&c->sess->waiting, c, wait);
		c->on_wait = 0;
	}
}

/* Record a notice for the owner and ask for it to be delivered. */
static void
sshgw_channel_note(struct sshgw_channel *c, int note)
{
	if (c->ev == NULL)
		return;		/* let go by its owner while opening */
	c->notes |= note;
	if (!c->on_note) {
		TAILQ_INSERT_TAIL(&c->sess->noted, c, note);
		c->on_note = 1;
	}
	sshgw_session_kick(c->sess);
}

/*
 * A channel we still count as opening has data, EOF or CLOSE from the client: libssh took
 * the client's confirmation in the same call, before this callback, and our retry of the
 * open has not run yet. The channel is open from here on; the owner hears so next.
 */
static void
sshgw_channel_confirmed(struct sshgw_channel *c)
{
	if (c->state != CHAN_OPENING)
		return;
	c->confirmed = 1;
	if (c->ev == NULL)
		return;		/* let go by its owner: sshgw_channel_check_open() closes it */
	/*
	 * It stays on the waiting list for now: this runs inside libssh, maybe inside a call
	 * made while sshgw_channel_check_waiting() walks that list, which must not lose the
	 * channel it goes to next. Whoever made the call takes it off.
	 */
	c->sess->nopening--;
	c->state = CHAN_OPEN;
	sshgw_channel_note(c, CHAN_NOTE_OPENED);
}

/*
 * libssh: data from the client. Runs inside libssh: the owner only copies or writes it out.
 * Data that comes with the confirmation is passed on at once, before the owner hears that
 * the channel opened: services that speak first (a banner, a greeting) lose nothing.
 */
static int
sshgw_channel_on_data(ssh_session ssh, ssh_channel ch, void *data, uint32_t len, int is_stderr,
    void *arg)
{
	struct sshgw_channel	*c = arg;
	size_t			 taken;

	sshgw_channel_confirmed(c);
	/* A forwarded-tcpip channel has no stderr stream, and a released one no owner. */
	if (is_stderr || c->state != CHAN_OPEN || c->ev == NULL)
		return (int)len;
	if (len > SSHGW_MAX_PENDING) {
		/* libssh keeps what a client sends past our window: a client that does is cut off. */
		sshgw_session_close(c->sess, "the client sent more than the channel window allows");
		return (int)len;
	}
	c->since_grow += len - c->pending;
	taken = c->ev->data(c->arg, data, len);
	if (taken > len)
		taken = len;
	sshgw_channel_set_pending(c, len - taken);
	/*
	 * All of it written out to the public side, and a quarter of the window used: grant
	 * more, once libssh has returned. Data the owner only buffered does not count: a public
	 * client that does not read must not earn its SSH client a bigger window.
	 */
	if (c->pending == 0 && c->backlog == 0 && c->since_grow >= SSHGW_WINDOW / 4 &&
	    !sshgw_channel_over_budget(c->sess))
		sshgw_channel_note(c, CHAN_NOTE_GROW);
	return (int)taken;
}

/* libssh: the client sends no more data. */
static void
sshgw_channel_on_eof(ssh_session ssh, ssh_channel ch, void *arg)
{
	sshgw_channel_confirmed(arg);
	sshgw_channel_note(arg, CHAN_NOTE_EOF);
}

/* libssh: the client closed the channel. */
static void
sshgw_channel_on_close(ssh_session ssh, ssh_channel ch, void *arg)
{
	sshgw_channel_confirmed(arg);
	sshgw_channel_note(arg, CHAN_NOTE_CLOSED);
}

/*
 * Open a forwarded-tcpip channel for a connection to public port bound from orig_ip:orig_port,
 * naming the forward by address as the client sent it. The answer comes later through
 * ev->opened. NULL when the session cannot take another.
 */
struct sshgw_channel *
sshgw_channel_open(struct sshgw_session *s, const char *address, int bound,
    const char *orig_ip, int orig_port, const struct sshgw_channel_events *ev, void *arg)
{
	struct sshgw_channel	*c;
	int			 rc;

	if (s->closing != NULL || !s->authenticated || s->nopening >= SSHGW_MAX_OPENING)
		return NULL;
	c = xcalloc(1, sizeof *c);
	c->sess = s;
	c->ev = ev;
	c->arg = arg;
	c->bound = bound;
	c->address = xstrdup(address);
	c->orig_ip = xstrdup(orig_ip);
	c->orig_port = orig_port;
	c->deadline = time(NULL) + s->srv->set.channel_open_timeout;
	if ((c->ch = ssh_channel_new(s->ssh)) == NULL)
		fatal("out of memory creating an SSH channel");
	c->cb.userdata = c;
	c->cb.channel_data_function = sshgw_channel_on_data;
	c->cb.channel_eof_function = sshgw_channel_on_eof;
	c->cb.channel_close_function = sshgw_channel_on_close;
	ssh_callbacks_init(&c->cb);
	ssh_set_channel_callbacks(c->ch, &c->cb);
	TAILQ_INSERT_TAIL(&s->channels, c, entry);

	/*
	 * Counted as opening before libssh is called: the call looks at the socket once, and
	 * the client's confirmation with its first data may be handled inside it, which makes
	 * the channel open (sshgw_channel_confirmed) before the call returns.
	 */
	c->state = CHAN_OPENING;
	s->nopening++;
	sshgw_channel_wait(c);
	s->in_process++;
	s->owner_call++;
	rc = ssh_channel_open_reverse_forward(c->ch, c->address, c->bound, c->orig_ip,
	    c->orig_port);
	s->owner_call--;
	s->in_process--;
	if (c->state == CHAN_OPENING && rc == SSH_OK)
		sshgw_channel_confirmed(c);
	if (c->state == CHAN_OPENING && rc != SSH_AGAIN) {
		s->nopening--;
		c->state = CHAN_FAILED;
		c->reason = xstrdup(ssh_get_error(s->ssh));
		sshgw_channel_note(c, CHAN_NOTE_FAILED);
	}
	if (c->state != CHAN_OPENING)
		sshgw_channel_unwait(c);
	sshgw_session_touched(s);
	return c;
}

/* Unhook a channel from libssh; when the session lives on, close it toward the client. */
static void
sshgw_channel_release(struct sshgw_channel *c, int session_alive)
{
	if (c->ch == NULL)
		return;
	ssh_remove_channel_callbacks(c->ch, &c->cb);
	if (session_alive) {
		/*
		 * EOF first: ssh_channel_close() gives up without sending CLOSE when flushing
		 * the EOF would block, and a channel never closed stays open at the client.
		 */
		if (c->state != CHAN_FAILED) {
			ssh_channel_send_eof(c->ch);
			ssh_channel_close(c->ch);
		}
		ssh_channel_free(c->ch);
	}
	c->ch = NULL;
}

/* Free a channel's memory once libssh and the session's lists no longer know it. */
static void
sshgw_channel_destroy(struct sshgw_channel *c)
{
	struct sshgw_session	*s = c->sess;

	if (c->state == CHAN_OPENING)
		s->nopening--;
	sshgw_channel_set_pending(c, 0);
	sshgw_channel_backlog(c, 0);
	sshgw_channel_unwait(c);
	if (c->on_note)
		TAILQ_REMOVE(&s->noted, c, note);
	TAILQ_REMOVE(&s->channels, c, entry);
	free(c->address);
	free(c->orig_ip);
	free(c->reason);
	free(c);
}

/* Check a channel still opening: confirmed, refused, or out of time. */
static void
sshgw_channel_check_open(struct sshgw_channel *c, time_t now)
{
	struct sshgw_session	*s = c->sess;
	int			 rc;

	rc = ssh_channel_open_reverse_forward(c->ch, c->address, c->bound, c->orig_ip,
	    c->orig_port);
	if (c->state != CHAN_OPENING) {
		sshgw_channel_unwait(c);	/* confirmed inside the call, with its data */
		return;
	}
	if (rc == SSH_AGAIN && now < c->deadline)
		return;
	if (c->ev == NULL) {
		/* Nobody wants it any more: close it if it opened, and forget it. */
		if (rc != SSH_OK && !c->confirmed)
			c->state = CHAN_FAILED;
		sshgw_channel_release(c, 1);
		sshgw_channel_destroy(c);
		return;
	}
	sshgw_channel_unwait(c);
	s->nopening--;
	if (rc == SSH_OK) {
		c->state = CHAN_OPEN;
		sshgw_channel_note(c, CHAN_NOTE_OPENED);
		return;
	}
	c->state = CHAN_FAILED;
	c->reason = xstrdup(rc == SSH_AGAIN ? "the SSH client did not answer in time" :
	    ssh_get_error(s->ssh));
	sshgw_channel_note(c, CHAN_NOTE_FAILED);
}

/*
 * Look at the channels that wait: retry the opening ones, wake writers whose window opened.
 * Unless the session just read from the client (from_io), only what libssh already settled
 * is looked at, so that a write cut short by a key re-exchange does not spin. A channel that
 * begins waiting again during the walk (a write cut short: during a key re-exchange libssh
 * takes no channel data) waits for the next one: the walk must end, since what ends the
 * re-exchange, our reply written behind, leaves only after it (sshgw_session_post).
 */
static void
sshgw_channel_check_waiting(struct sshgw_session *s, int from_io)
{
	struct sshgw_channel	*c, *next;
	time_t			 now = time(NULL);
	unsigned long		 round = ++s->wait_round;

	TAILQ_FOREACH_SAFE(c, &s->waiting, wait, next) {
		if (c->wait_round == round)
			continue;	/* began waiting in this walk */
		if (c->state == CHAN_OPENING) {
			if (from_io || ssh_channel_is_open(c->ch))
				sshgw_channel_check_open(c, now);
		} else if (c->state != CHAN_OPEN || c->ev == NULL)
			sshgw_channel_unwait(c);
		else if (ssh_channel_window_size(c->ch) > 0 && s->unflushed < SSHGW_MAX_UNFLUSHED &&
		    (from_io || c->zero_window)) {
			sshgw_channel_unwait(c);
			c->blocked = c->zero_window = 0;
			c->ev->writable(c->arg);
		}
	}
}

/* Take one notice off a channel, and the channel off the list when none remain. */
static void
sshgw_channel_unnote(struct sshgw_channel *c, int note)
{
	c->notes &= ~note;
	if (c->notes == 0 && c->on_note) {
		TAILQ_REMOVE(&c->sess->noted, c, note);
		c->on_note = 0;
	}
}

/*
 * Grant the client a window of SSHGW_WINDOW bytes. libssh 0.10 has no call for it and keeps
 * its own windows at 1.28 MB, refilled only below 640 KB, which caps throughput on a long
 * path; but a read asking for more than the window holds grows the window to that size. The
 * read is made on the stderr stream, which the data callback always drains, so it copies
 * nothing: only the window adjust is sent.
 */
static void
sshgw_channel_grow(struct sshgw_channel *c)
{
	char	 none[1];

	c->since_grow = 0;
	if (c->state != CHAN_OPEN || c->ch == NULL || c->pending > 0 || c->backlog > 0)
		return;
	ssh_channel_read_timeout(c->ch, none, SSHGW_WINDOW, 1, 0);
}

/*
 * Deliver the notices channels owe their owners, one callback at a time, in the order
 * opened, eof, closed. An owner may free its channel inside any of them, so the channel is
 * not touched after its callback returns.
 */
static void
sshgw_channel_deliver(struct sshgw_session *s)
{
	struct sshgw_channel	*c;

	while ((c = TAILQ_FIRST(&s->noted)) != NULL) {
		if (c->notes & CHAN_NOTE_GROW) {
			sshgw_channel_unnote(c, CHAN_NOTE_GROW);
			sshgw_channel_grow(c);
		} else if (c->notes & CHAN_NOTE_FAILED) {
			sshgw_channel_unnote(c, ~0);
			c->ev->opened(c->arg, 0, c->reason != NULL ? c->reason : "refused");
		} else if (c->notes & CHAN_NOTE_OPENED) {
			sshgw_channel_unnote(c, CHAN_NOTE_OPENED);
			c->ev->opened(c->arg, 1, NULL);
		} else if (c->notes & CHAN_NOTE_EOF) {
			sshgw_channel_unnote(c, CHAN_NOTE_EOF);
			c->ev->eof(c->arg);
		} else {
			sshgw_channel_unnote(c, ~0);
			c->state = CHAN_CLOSED;
			c->ev->closed(c->arg);
		}
	}
}

/* Deferred channel work for a session; see sshgw_session_post(). */
void
sshgw_channel_post(struct sshgw_session *s, int from_io)
{
	if (!TAILQ_EMPTY(&s->waiting))
		sshgw_channel_check_waiting(s, from_io);
	sshgw_channel_deliver(s);
}

/*
 * Send data to the client, at most what its window allows; returns how much was taken (0
 * when the window is closed: ev->writable follows when it opens), or -1 when the channel is
 * gone.
 */
ssize_t
sshgw_channel_write(struct sshgw_channel *c, const void *buf, size_t len)
{
	uint32_t	 win;
	int		 rc;

	if (c->state != CHAN_OPEN || c->eof_sent || c->sess->closing != NULL)
		return -1;
	win = ssh_channel_window_size(c->ch);
	if (c->sess->unflushed >= SSHGW_MAX_UNFLUSHED)
		win = 0;
	if (len > win)
		len = win;
	if (len > 0x40000000)
		len = 0x40000000;
	c->sess->owner_call++;
	rc = len > 0 ? ssh_channel_write(c->ch, buf, (uint32_t)len) : 0;
	c->sess->owner_call--;
	if (rc == SSH_ERROR)
		return -1;
	c->sess->unflushed += (size_t)rc;
	if ((size_t)rc < len || ssh_channel_window_size(c->ch) == 0 ||
	    c->sess->unflushed >= SSHGW_MAX_UNFLUSHED) {
		c->blocked = 1;
		/*
		 * Settled: the window is empty, or the session's unflushed bytes hold it back;
		 * a walk without new input retries it once that changed. (Not a write cut short
		 * by a key re-exchange: that one waits for the client's next packet.)
		 */
		c->zero_window = ssh_channel_window_size(c->ch) == 0 ||
		    c->sess->unflushed >= SSHGW_MAX_UNFLUSHED;
		sshgw_channel_wait(c);
	}
	sshgw_session_touched(c->sess);
	return rc;
}

/*
 * Return how much we may send now: the client's window, or 0 while the client is not taking
 * what was already queued for it. When it returns 0, ev->writable follows once sending is
 * possible again.
 */
size_t
sshgw_channel_window(struct sshgw_channel *c)
{
	uint32_t	 win;

	if (c->state != CHAN_OPEN || c->eof_sent || c->sess->closing != NULL)
		return 0;
	win = ssh_channel_window_size(c->ch);
	if (win > 0 && c->sess->unflushed < SSHGW_MAX_UNFLUSHED)
		return win;
	c->blocked = 1;
	c->zero_window = 1;
	sshgw_channel_wait(c);
	return 0;
}

/* Return how many bytes from the client libssh holds that the owner has not taken yet. */
size_t
sshgw_channel_pending(const struct sshgw_channel *c)
{
	return c->pending;
}

/*
 * Take up to len of the bytes the owner left with libssh earlier; reading them lets libssh
 * grow the client's window again. Returns the count, 0 when none wait, -1 on error.
 */
ssize_t
sshgw_channel_read(struct sshgw_channel *c, void *buf, size_t len)
{
	int	 rc;

	if (c->pending == 0 || c->ch == NULL)
		return 0;
	if (len > c->pending)
		len = c->pending;
	rc = ssh_channel_read_nonblocking(c->ch, buf, (uint32_t)len, 0);
	if (rc < 0)
		return -1;
	sshgw_channel_set_pending(c, c->pending - (size_t)rc);
	sshgw_session_touched(c->sess);
	return rc;
}

/* Is the command of the channel's session still to come (its options may matter). */
int
sshgw_channel_command_pending(const struct sshgw_channel *c)
{
	return c != NULL && sshgw_command_pending(c->sess);
}

/* Tell the client that the public side sends no more data. */
void
sshgw_channel_eof(struct sshgw_channel *c)
{
	if (c->state != CHAN_OPEN || c->eof_sent || c->sess->closing != NULL)
		return;
	c->eof_sent = 1;
	ssh_channel_send_eof(c->ch);
	sshgw_session_touched(c->sess);
}

/* Close and free a channel; its owner hears nothing more of it. */
void
sshgw_channel_free(struct sshgw_channel *c)
{
	struct sshgw_session	*s;
	int			 alive;

	if (c == NULL)
		return;
	s = c->sess;
	alive = s->ssh != NULL && s->closing == NULL && s->io != NULL;
	if (c->state == CHAN_OPENING && alive) {
		/* Freeing it now would leave the client holding a channel we forgot. */
		c->ev = NULL;
		c->arg = NULL;
		if (c->on_note) {
			TAILQ_REMOVE(&s->noted, c, note);
			c->on_note = 0;
		}
		return;
	}
	sshgw_channel_release(c, alive);
	sshgw_channel_destroy(c);
	if (alive)
		sshgw_session_touched(s);
}

/* The session is ending: every owner hears its channel close (or fail) and frees it. */
void
sshgw_channel_detach_all(struct sshgw_session *s)
{
	struct sshgw_channel	*c;

	while ((c = TAILQ_FIRST(&s->channels)) != NULL) {
		sshgw_channel_release(c, 0);
		if (c->ev == NULL) {
			sshgw_channel_destroy(c);
			continue;
		}
		if (c->state == CHAN_OPEN || c->state == CHAN_CLOSED) {
			c->state = CHAN_CLOSED;
			c->ev->closed(c->arg);
		} else {
			if (c->state == CHAN_OPENING)
				s->nopening--;
			c->state = CHAN_FAILED;
			c->ev->opened(c->arg, 0, c->reason != NULL ? c->reason :
			    "the SSH session ended");
		}
		if (TAILQ_FIRST(&s->channels) == c)
			fatal("a channel's owner did not free it when its session ended");
	}
}
