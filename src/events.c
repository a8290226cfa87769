/* SPDX-License-Identifier: ISC */
/*
 * tunnelgw: events. Workers report tunnels opened and closed and public connections closed;
 * each event becomes
 *  - one JSON line appended to events_log with a single write(2): the file is opened with
 *    O_APPEND and a line is shorter than PIPE_BUF, so lines from several threads never mix,
 *    and logrotate's copytruncate needs nothing from us;
 *  - a row queued in memory (bounded; when full, dropped and counted) that the main thread
 *    writes to the store once a second, one transaction per batch, then trims the table to
 *    events_retention_days and events_max_rows.
 * Nothing here runs per byte: an event is made once per tunnel or connection. A failing
 * write (disk full) is logged once a minute, counted, and never stops a tunnel.
 */
#include "config.h"

#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "conf.h"
#include "events.h"
#include "json.h"
#include "log.h"
#include "store.h"
#include "xmalloc.h"

#define EVENTS_REPORT_EVERY	60	/* seconds between reports of the same trouble */

/* Four strings and a few numbers must fit in a line that is written at once. */
_Static_assert(4 * (EVENTS_FIELD_MAX + 16) + 512 <= EVENTS_LINE_MAX, "events line bound");
_Static_assert(EVENTS_LINE_MAX <= PIPE_BUF, "an events line must be written atomically");

/* A line (or a detail object) being built. */
struct events_line {
	char	 buf[EVENTS_LINE_MAX];
	size_t	 len;
};

/*
 * Set at open and cleared at close, while no worker runs; only read in between. events_fd
 * keeps its number for the life of the daemon: events_reopen() puts a new file under it
 * with dup2(), so a worker never writes to a descriptor that was closed and reused.
 */
static int		 events_fd = -1;
static char		*events_path;
static int		 events_keep;		/* queue events for the store */
static int		 events_days;		/* events_retention_days; 0: any age */
static int		 events_max_rows;	/* events_max_rows */

/* The queue workers fill and the batch the main thread writes, under events_lock. */
static pthread_mutex_t		 events_lock = PTHREAD_MUTEX_INITIALIZER;
static struct store_event	*events_queue;
static size_t			 events_nqueue;
static size_t			 events_qsize;
static struct store_event	*events_batch;	/* its rows: the main thread's alone */
static size_t			 events_nbatch;
static size_t			 events_bsize;
static unsigned long long	 events_dropped;	/* the queue was full */

/* Lines the file did not take, and the once-a-minute report of it. */
static atomic_ullong		 events_lost;
static pthread_mutex_t		 events_report_lock = PTHREAD_MUTEX_INITIALIZER;
static time_t			 events_report_last;
static unsigned long		 events_report_skipped;

/* The main thread's reports about the store. */
static time_t			 events_store_last;
static unsigned long		 events_store_skipped;
static unsigned long long	 events_dropped_reported;

static void	events_append(struct events_line *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));

/* A monotonic clock in milliseconds, for durations. */
int64_t
events_clock_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * Append formatted text to a line, leaving room for the closing "}\n"; what would not fit
 * (never, by the bounds on every field) is left out.
 */
static void
events_append(struct events_line *l, const char *fmt, ...)
{
	va_list	 ap;
	size_t	 avail = sizeof l->buf - 2 - l->len;
	int	 n;

	va_start(ap, fmt);
	n = vsnprintf(l->buf + l->len, avail, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= avail) {
		l->buf[l->len] = '\0';
		return;
	}
	l->len += (size_t)n;
}

/* The separator before the next member of an object: none right after its "{". */
static const char *
events_sep(const struct events_line *l)
{
	return l->len > 0 && l->buf[l->len - 1] == '{' ? "" : ",";
}

/* Append "key":"value" to an object; a NULL value is left out. */
static void
events_add_string(struct events_line *l, const char *key, const char *value)
{
	char	 s[EVENTS_FIELD_MAX];

	if (value == NULL)
		return;
	json_quote_into(s, sizeof s, value);
	events_append(l, "%s\"%s\":%s", events_sep(l), key, s);
}

/* Append "key":number to an object. */
static void
events_add_number(struct events_line *l, const char *key, unsigned long long v)
{
	events_append(l, "%s\"%s\":%llu", events_sep(l), key, v);
}

/* Start an object. */
static void
events_object(struct events_line *l)
{
	l->buf[0] = '{';
	l->buf[1] = '\0';
	l->len = 1;
}

/* A copy of s for the store, cut at EVENTS_TEXT_MAX bytes; NULL stays NULL. */
static char *
events_text(const char *s)
{
	return s != NULL ? xstrndup(s, EVENTS_TEXT_MAX) : NULL;
}

/* A count for the store: at most INT64_MAX. */
static int64_t
events_count(uint64_t v)
{
	return v > INT64_MAX ? INT64_MAX : (int64_t)v;
}

/*
 * Start an event: its line gets "event" and "time" (RFC 3339, UTC, milliseconds), its row
 * the name and the time in Unix seconds.
 */
static void
events_begin(struct events_line *l, struct store_event *ev, const char *name)
{
	struct timespec	 ts;
	struct tm	 tm;
	char		 when[32];
	time_t		 secs;

	clock_gettime(CLOCK_REALTIME, &ts);
	secs = ts.tv_sec;
	gmtime_r(&secs, &tm);
	strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
	events_object(l);
	events_append(l, "\"event\":\"%s\",\"time\":\"%s.%03ldZ\"", name, when,
	    ts.tv_nsec / 1000000);
	memset(ev, 0, sizeof *ev);
	ev->time = (int64_t)secs;
	ev->bytes_in = ev->bytes_out = ev->duration_ms = -1;
	if (events_keep)
		ev->event = xstrdup(name);
}

/* Free what a row holds (not the row). */
static void
events_row_clear(struct store_event *ev)
{
	free(ev->event);
	free(ev->account);
	free(ev->url);
	free(ev->client);
	free(ev->detail);
}

/* Report, once a minute at most, that the events log did not take a line. */
static void
events_report_lost(int error)
{
	unsigned long long	 lost = atomic_load(&events_lost);

	pthread_mutex_lock(&events_report_lock);
	if (log_every(&events_report_last, &events_report_skipped, EVENTS_REPORT_EVERY)) {
		log_warn("events log %s: cannot write: %s (%llu event%s lost so far)", events_path,
		    strerror(error), lost, lost == 1 ? "" : "s");
		events_report_skipped = 0;
	}
	pthread_mutex_unlock(&events_report_lock);
}

/* Append a whole line to the events log with one write(2). */
static void
events_write(const char *line, size_t len)
{
	ssize_t	 n;
	int	 error;

	if (events_fd == -1)
		return;
	do
		n = write(events_fd, line, len);
	while (n == -1 && errno == EINTR);
	if (n == (ssize_t)len)
		return;
	error = n == -1 ? errno : ENOSPC;
	/* A part of a line went out (disk full): end it, so the next line starts clean. */
	if (n > 0 && write(events_fd, "\n", 1) != 1)
		error = errno;
	atomic_fetch_add(&events_lost, 1);
	events_report_lost(error);
}

/* Queue a row for the store, which takes what it holds; a full queue drops it. */
static void
events_queue_add(struct store_event *ev)
{
	pthread_mutex_lock(&events_lock);
	if (events_nqueue + events_nbatch >= EVENTS_QUEUE_MAX) {
		events_dropped++;
		pthread_mutex_unlock(&events_lock);
		events_row_clear(ev);
		return;
	}
	if (events_nqueue == events_qsize) {
		events_qsize = events_qsize == 0 ? 64 : events_qsize * 2;
		if (events_qsize > EVENTS_QUEUE_MAX)
			events_qsize = EVENTS_QUEUE_MAX;
		events_queue = xreallocarray(events_queue, events_qsize, sizeof *events_queue);
	}
	events_queue[events_nqueue++] = *ev;
	pthread_mutex_unlock(&events_lock);
}

/* Finish an event: write its line, queue its row with its detail object. */
static void
events_emit(struct events_line *line, struct events_line *detail, struct store_event *ev)
{
	line->buf[line->len++] = '}';
	line->buf[line->len++] = '\n';
	events_write(line->buf, line->len);
	if (!events_keep)
		return;
	detail->buf[detail->len++] = '}';
	detail->buf[detail->len] = '\0';
	ev->detail = xstrdup(detail->buf);
	events_queue_add(ev);
}

/* Is anyone listening: an events log, or the store's copy. */
static int
events_on(void)
{
	return events_fd != -1 || events_keep;
}

/* Make a tunnel's event: name, the fields both share, and what the caller adds. */
static void
events_tunnel(const char *name, const struct events_tunnel *t, int closed)
{
	struct events_line	 line, detail;
	struct store_event	 ev;

	if (!events_on())
		return;
	events_begin(&line, &ev, name);
	events_add_string(&line, "account", t->account);
	events_add_string(&line, "url", t->url);
	events_add_string(&line, "target", t->target);
	events_add_number(&line, "session", t->session);
	events_object(&detail);
	events_add_string(&detail, "target", t->target);
	events_add_number(&detail, "session", t->session);
	if (closed) {
		events_add_number(&line, "duration_ms", (unsigned long long)
		    (t->duration_ms > 0 ? t->duration_ms : 0));
		events_add_number(&line, "connections", t->connections);
		events_add_number(&detail, "connections", t->connections);
		ev.duration_ms = t->duration_ms > 0 ? t->duration_ms : 0;
	}
	if (events_keep) {
		ev.account = events_text(t->account);
		ev.url = events_text(t->url);
	}
	events_emit(&line, &detail, &ev);
}

/* A tunnel opened: account, url, target and session. */
void
events_tunnel_opened(const struct events_tunnel *t)
{
	events_tunnel("tunnel_opened", t, 0);
}

/* A tunnel closed: account, url, target, session, duration_ms and its connections. */
void
events_tunnel_closed(const struct events_tunnel *t)
{
	events_tunnel("tunnel_closed", t, 1);
}

/* A change made through the API: event "audit", with who, from where, what and to what. */
void
events_audit(const struct events_audit *a)
{
	struct events_line	 line, detail;
	struct store_event	 ev;

	if (!events_on())
		return;
	events_begin(&line, &ev, "audit");
	events_add_string(&line, "account", a->account);
	events_add_string(&line, "action", a->action);
	events_add_string(&line, "object", a->object);
	events_add_string(&line, "actor", a->actor);
	events_add_string(&line, "actor_account", a->actor_account);
	events_add_string(&line, "client", a->source);
	events_object(&detail);
	events_add_string(&detail, "action", a->action);
	events_add_string(&detail, "object", a->object);
	events_add_string(&detail, "actor", a->actor);
	events_add_string(&detail, "actor_account", a->actor_account);
	if (events_keep) {
		ev.account = events_text(a->account);
		ev.client = events_text(a->source);
	}
	events_emit(&line, &detail, &ev);
}

/* A public connection ended: account, url, client, bytes each way, duration_ms, reason. */
void
events_connection_closed(const struct events_connection *c)
{
	struct events_line	 line, detail;
	struct store_event	 ev;
	int64_t			 ms = c->duration_ms > 0 ? c->duration_ms : 0;

	if (!events_on())
		return;
	events_begin(&line, &ev, "tcp_connection_closed");
	events_add_string(&line, "account", c->account);
	events_add_string(&line, "url", c->url);
	events_add_string(&line, "client", c->client);
	events_add_number(&line, "bytes_in", c->bytes_in);
	events_add_number(&line, "bytes_out", c->bytes_out);
	events_add_number(&line, "duration_ms", (unsigned long long)ms);
	events_add_string(&line, "reason", c->reason);
	events_object(&detail);
	events_add_string(&detail, "reason", c->reason);
	if (events_keep) {
		ev.account = events_text(c->account);
		ev.url = events_text(c->url);
		ev.client = events_text(c->client);
		ev.bytes_in = events_count(c->bytes_in);
		ev.bytes_out = events_count(c->bytes_out);
		ev.duration_ms = ms;
	}
	events_emit(&line, &detail, &ev);
}

/*
 * A UDP flow ended: account, url, client, datagrams, bytes and drops each way, duration_ms,
 * reason. The row keeps the bytes and the duration; its detail the rest.
 */
void
events_udp_flow_closed(const struct events_udp_flow *f)
{
	struct events_line	 line, detail;
	struct store_event	 ev;
	int64_t			 ms = f->duration_ms > 0 ? f->duration_ms : 0;

	if (!events_on())
		return;
	events_begin(&line, &ev, "udp_flow_closed");
	events_add_string(&line, "account", f->account);
	events_add_string(&line, "url", f->url);
	events_add_string(&line, "client", f->client);
	events_add_number(&line, "packets_in", f->packets_in);
	events_add_number(&line, "packets_out", f->packets_out);
	events_add_number(&line, "bytes_in", f->bytes_in);
	events_add_number(&line, "bytes_out", f->bytes_out);
	events_add_number(&line, "drops_in", f->drops_in);
	events_add_number(&line, "drops_out", f->drops_out);
	events_add_number(&line, "duration_ms", (unsigned long long)ms);
	events_add_string(&line, "reason", f->reason);
	events_object(&detail);
	events_add_number(&detail, "packets_in", f->packets_in);
	events_add_number(&detail, "packets_out", f->packets_out);
	events_add_number(&detail, "drops_in", f->drops_in);
	events_add_number(&detail, "drops_out", f->drops_out);
	events_add_string(&detail, "reason", f->reason);
	if (events_keep) {
		ev.account = events_text(f->account);
		ev.url = events_text(f->url);
		ev.client = events_text(f->client);
		ev.bytes_in = events_count(f->bytes_in);
		ev.bytes_out = events_count(f->bytes_out);
		ev.duration_ms = ms;
	}
	events_emit(&line, &detail, &ev);
}

/* Open the events log for appending, mode 0640 when it is created; its folder must exist. */
static int
events_open_file(const char *path, char **cause)
{
	int	 fd;

	/* O_NONBLOCK: a FIFO or terminal named here must never stall a worker. */
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NONBLOCK, 0640);
	if (fd == -1) {
		xasprintf(cause, "events_log %s: cannot open: %s%s", path, strerror(errno),
		    errno == ENOENT ? " (its folder must exist)" : "");
		return -1;
	}
	return fd;
}

/*
 * Start events as the configuration says: open events_log (when set), and keep a copy in
 * the store (when events_max_rows is above 0). Call before any worker runs.
 */
int
events_open(const struct conf *c, char **cause)
{
	int	 fd;

	events_days = c->events_retention_days;
	events_max_rows = c->events_max_rows;
	events_keep = c->events_max_rows > 0;
	if (*c->events_log == '\0')
		return 0;
	if ((fd = events_open_file(c->events_log, cause)) == -1)
		return -1;
	events_fd = fd;
	events_path = xstrdup(c->events_log);
	log_info("events log %s open", events_path);
	return 0;
}

/*
 * Open the events log again (after it was renamed, say), under the same descriptor number;
 * the old file is closed. For a SIGHUP handler; without an events log it does nothing.
 */
int
events_reopen(char **cause)
{
	int	 fd;

	if (events_fd == -1)
		return 0;
	if ((fd = events_open_file(events_path, cause)) == -1)
		return -1;
	if (dup2(fd, events_fd) == -1) {
		xasprintf(cause, "events_log %s: cannot reopen: %s", events_path, strerror(errno));
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

/* Log, once a minute at most, how many events the full queue dropped. */
static void
events_report_dropped(void)
{
	unsigned long long	 dropped;

	pthread_mutex_lock(&events_lock);
	dropped = events_dropped;
	pthread_mutex_unlock(&events_lock);
	if (dropped == events_dropped_reported ||
	    !log_every(&events_store_last, &events_store_skipped, EVENTS_REPORT_EVERY))
		return;
	log_warn("events: %llu event%s not kept in the database: more than %d were waiting",
	    dropped, dropped == 1 ? "" : "s", EVENTS_QUEUE_MAX);
	events_dropped_reported = dropped;
}

/*
 * The main thread, once a second: write the queued events to the store in one transaction
 * and trim the table. When the store is busy or failing the batch is kept and tried again;
 * meanwhile the queue fills up to its bound.
 */
void
events_flush(struct store *st)
{
	struct store_event	*swap;
	char			*cause = NULL;
	size_t			 n, i, size;
	int64_t			 before = 0;

	if (st == NULL || !events_keep)
		return;
	events_report_dropped();
	pthread_mutex_lock(&events_lock);
	if (events_nbatch == 0) {
		swap = events_batch;
		size = events_bsize;
		events_batch = events_queue;
		events_bsize = events_qsize;
		events_nbatch = events_nqueue;
		events_queue = swap;
		events_qsize = size;
		events_nqueue = 0;
	}
	n = events_nbatch;
	pthread_mutex_unlock(&events_lock);
	if (n == 0)
		return;
	if (events_days > 0)
		before = (int64_t)time(NULL) - (int64_t)events_days * 86400;
	if (store_event_add(st, events_batch, n, before, events_max_rows, &cause) != 0) {
		if (log_every(&events_store_last, &events_store_skipped, EVENTS_REPORT_EVERY))
			log_warn("events: %zu event%s wait for the database: %s", n,
			    n == 1 ? "" : "s", cause);
		free(cause);
		return;
	}
	for (i = 0; i < n; i++)
		events_row_clear(&events_batch[i]);
	pthread_mutex_lock(&events_lock);
	events_nbatch = 0;
	pthread_mutex_unlock(&events_lock);
}

/* How many events the events log did not take, and how many the store never got. */
void
events_counts(unsigned long long *lost, unsigned long long *dropped)
{
	*lost = atomic_load(&events_lost);
	pthread_mutex_lock(&events_lock);
	*dropped = events_dropped;
	pthread_mutex_unlock(&events_lock);
}

/*
 * Stop events, after the workers stopped: write what waits to the store (st may be NULL),
 * close the events log and free everything.
 */
void
events_close(struct store *st)
{
	unsigned long long	 lost, dropped;
	size_t			 i;

	events_flush(st);	/* a batch that waited, */
	events_flush(st);	/* then the rest */
	events_counts(&lost, &dropped);
	dropped += events_nqueue + events_nbatch;
	if (lost > 0 || dropped > 0)
		log_warn("events: %llu not written to the events log, %llu not kept in the "
		    "database", lost, dropped);
	for (i = 0; i < events_nbatch; i++)
		events_row_clear(&events_batch[i]);
	for (i = 0; i < events_nqueue; i++)
		events_row_clear(&events_queue[i]);
	free(events_batch);
	free(events_queue);
	events_batch = events_queue = NULL;
	events_nbatch = events_nqueue = events_bsize = events_qsize = 0;
	events_dropped = events_dropped_reported = 0;
	atomic_store(&events_lost, 0);
	if (events_fd != -1)
		close(events_fd);
	events_fd = -1;
	free(events_path);
	events_path = NULL;
	events_keep = 0;
}
