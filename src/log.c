/* SPDX-License-Identifier: ISC */
/* tunnelgw: leveled logging to stderr and, when configured, syslog. */
#include "config.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

static const char *log_ident = "tunnelgw";
static int	 log_level = LOG_LEVEL_INFO;
static int	 log_syslog;		/* syslog is open */
static int	 log_journal;		/* stderr goes to journald: no timestamps, <N> prefixes */

static const char *log_names[] = { "error", "warn", "info", "debug", "trace" };
static const int log_priorities[] = { LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG, LOG_DEBUG };

/* Start logging as ident at level; syslog_facility < 0 keeps syslog off. */
void
log_open(const char *ident, int level, int syslog_facility)
{
	log_ident = ident;
	log_set_level(level);
	log_journal = getenv("JOURNAL_STREAM") != NULL;
	if (log_syslog)
		closelog();
	log_syslog = 0;
	if (syslog_facility >= 0) {
		openlog(ident, LOG_PID | LOG_NDELAY, syslog_facility);
		log_syslog = 1;
	}
}

/* Change the level; values beyond the known ones are clamped. */
void
log_set_level(int level)
{
	if (level < LOG_LEVEL_ERROR)
		level = LOG_LEVEL_ERROR;
	if (level > LOG_LEVEL_TRACE)
		level = LOG_LEVEL_TRACE;
	log_level = level;
}

/* Return the current level. */
int
log_get_level(void)
{
	return log_level;
}

/* Close syslog if it is open. */
void
log_close(void)
{
	if (log_syslog)
		closelog();
	log_syslog = 0;
}

/* Return the name of a level. */
const char *
log_level_name(int level)
{
	if (level < LOG_LEVEL_ERROR || level > LOG_LEVEL_TRACE)
		return "?";
	return log_names[level];
}

/*
 * Log one message. The line is built first and written with one write(2), so lines from
 * several threads never interleave.
 */
void
log_vmsg(int level, const char *fmt, va_list ap)
{
	char		 msg[2048], line[2300], stamp[40];
	struct timespec	 ts;
	struct tm	 tm;
	va_list		 ap2;
	int		 n;

	if (level > log_level)
		return;
	va_copy(ap2, ap);
	vsnprintf(msg, sizeof msg, fmt, ap2);
	va_end(ap2);

	if (log_syslog)
		syslog(log_priorities[level], "%s", msg);

	if (log_journal) {
		n = snprintf(line, sizeof line, "<%d>%s: %s\n", log_priorities[level],
		    log_names[level], msg);
	} else {
		clock_gettime(CLOCK_REALTIME, &ts);
		gmtime_r(&ts.tv_sec, &tm);
		strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
		n = snprintf(line, sizeof line, "%s.%03ldZ %s[%ld]: %s: %s\n", stamp,
		    ts.tv_nsec / 1000000L, log_ident, (long)getpid(), log_names[level], msg);
	}
	if (n < 0)
		return;
	if ((size_t)n >= sizeof line)
		n = sizeof line - 1;
	if (write(STDERR_FILENO, line, (size_t)n) == -1) {
		/* Nowhere left to report it. */
	}
}

/* Log one message at level. */
void
log_msg(int level, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_vmsg(level, fmt, ap);
	va_end(ap);
}

/* Log an error and exit: only for start-up failures and broken invariants. */
void
fatal(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_vmsg(LOG_LEVEL_ERROR, fmt, ap);
	va_end(ap);
	exit(1);
}

/*
 * Say whether a repeated event may be logged now: at most once every `seconds`, tracked in
 * *last (one per call site and thread); *skipped counts what was not logged meanwhile.
 */
int
log_every(time_t *last, unsigned long *skipped, int seconds)
{
	time_t	 now = time(NULL);

	if (now - *last < seconds) {
		(*skipped)++;
		return 0;
	}
	*last = now;
	return 1;
}

/*
 * The decision of a log limit at time now: 1 when a line may be logged, with *suppressed
 * set to how many were not since the last one that was (and reset); 0 when it is
 * suppressed, and counted. A clock that goes back starts a new interval.
 */
int
log_limit_check(struct log_limit *ll, time_t now, unsigned long *suppressed)
{
	int	 pass;

	pthread_mutex_lock(&ll->lock);
	if (ll->passed == 0 || now - ll->start >= ll->interval || now < ll->start) {
		ll->start = now;
		ll->passed = 0;
	}
	pass = ll->passed < ll->burst;
	if (pass) {
		ll->passed++;
		*suppressed = ll->suppressed;
		ll->suppressed = 0;
	} else if (ll->suppressed < ULONG_MAX)
		ll->suppressed++;
	pthread_mutex_unlock(&ll->lock);
	return pass;
}

/*
 * Log one message at level through the limit ll (NULL: no limit). A message that opens a
 * new interval after some were suppressed carries their count, in the same line, so the
 * summary can neither be lost nor separated from what it counts.
 */
void
log_limited(struct log_limit *ll, int level, const char *fmt, ...)
{
	char		 msg[2048];
	unsigned long	 suppressed = 0;
	va_list		 ap;

	if (level > log_level)
		return;
	if (ll != NULL && !log_limit_check(ll, time(NULL), &suppressed))
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (suppressed > 0)
		log_msg(level, "%s (%lu similar message%s suppressed)", msg, suppressed,
		    suppressed == 1 ? "" : "s");
	else
		log_msg(level, "%s", msg);
}

/*
 * Copy s into buf (max + 4 bytes) with every byte that is not printable ASCII as '?', cut at
 * max characters with "...": a peer can then neither end a log line nor send escapes.
 */
static void
log_quote_into(const char *s, char *buf, size_t max)
{
	size_t	 i;

	for (i = 0; i < max && s[i] != '\0'; i++) {
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
			buf[i] = '?';
		else
			buf[i] = s[i];
	}
	strcpy(buf + i, s[i] != '\0' ? "..." : "");
}

/* A printable copy of s in buf, cut at LOG_QUOTE_MAX characters, for quoting input in a message. */
const char *
log_quote(const char *s, char buf[LOG_QUOTE_SIZE])
{
	log_quote_into(s, buf, LOG_QUOTE_MAX);
	return buf;
}

/* As log_quote(), for longer text: into buf of max + 4 bytes, cut at max characters. */
const char *
log_quote_long(const char *s, char *buf, size_t max)
{
	log_quote_into(s, buf, max);
	return buf;
}
