/* SPDX-License-Identifier: ISC */
/* tunnelgw: leveled logging to stderr and, when configured, syslog. */
#ifndef TG_LOG_H
#define TG_LOG_H

#include <pthread.h>
#include <stdarg.h>
#include <time.h>

enum log_level {
	LOG_LEVEL_ERROR = 0,
	LOG_LEVEL_WARN,
	LOG_LEVEL_INFO,
	LOG_LEVEL_DEBUG,
	LOG_LEVEL_TRACE,
};

void	 log_open(const char *ident, int level, int syslog_facility);
void	 log_set_level(int);
int	 log_get_level(void);
void	 log_close(void);
const char *log_level_name(int);
void	 log_msg(int, const char *, ...) __attribute__((format(printf, 2, 3)));
void	 log_vmsg(int, const char *, va_list) __attribute__((format(printf, 2, 0)));
void	 fatal(const char *, ...) __attribute__((format(printf, 1, 2), noreturn));
int	 log_every(time_t *, unsigned long *, int);

#define LOG_QUOTE_MAX	64			/* longest piece of input quoted in a message */
#define LOG_QUOTE_SIZE	(LOG_QUOTE_MAX + 4)	/* with "..." and the terminator */
const char *log_quote(const char *, char [LOG_QUOTE_SIZE]);
const char *log_quote_long(const char *, char *, size_t);

/*
 * A limit on one log line that others can make us write at will (refused connections, failed
 * handshakes and logins): at most `burst` lines per `interval` seconds pass; the first line
 * of a later interval tells how many were suppressed meanwhile. One per call site, shared by
 * every thread (the mutex is taken only when that line is about to be logged).
 */
struct log_limit {
	pthread_mutex_t	 lock;
	int		 burst;
	int		 interval;
	time_t		 start;		/* of the current interval */
	int		 passed;	/* lines logged in it */
	unsigned long	 suppressed;	/* lines not logged since the last one that was */
};

#define LOG_LIMIT_BURST		5	/* lines a call site may log per interval */
#define LOG_LIMIT_INTERVAL	10	/* seconds */
#define LOG_LIMIT_INITIALIZER(burst, interval) \
	{ PTHREAD_MUTEX_INITIALIZER, (burst), (interval), 0, 0, 0 }

int	 log_limit_check(struct log_limit *, time_t, unsigned long *);
void	 log_limited(struct log_limit *, int, const char *, ...)
	    __attribute__((format(printf, 3, 4)));

/* Log at level through a limit of this call site's own (LOG_LIMIT_BURST per interval). */
#define log_ratelimited(level, ...) do {					\
	static struct log_limit log_limit_site_ =				\
	    LOG_LIMIT_INITIALIZER(LOG_LIMIT_BURST, LOG_LIMIT_INTERVAL);		\
	log_limited(&log_limit_site_, (level), __VA_ARGS__);			\
} while (0)

/* The same, but only when limited is true: a line others trigger only in some cases. */
#define log_ratelimited_if(limited, level, ...) do {				\
	static struct log_limit log_limit_site_ =				\
	    LOG_LIMIT_INITIALIZER(LOG_LIMIT_BURST, LOG_LIMIT_INTERVAL);		\
	log_limited((limited) ? &log_limit_site_ : NULL, (level), __VA_ARGS__);	\
} while (0)

#define log_warn_limited(...)	log_ratelimited(LOG_LEVEL_WARN, __VA_ARGS__)
#define log_info_limited(...)	log_ratelimited(LOG_LEVEL_INFO, __VA_ARGS__)

#define log_error(...)	log_msg(LOG_LEVEL_ERROR, __VA_ARGS__)
#define log_warn(...)	log_msg(LOG_LEVEL_WARN, __VA_ARGS__)
#define log_info(...)	log_msg(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_debug(...)	log_msg(LOG_LEVEL_DEBUG, __VA_ARGS__)
#define log_trace(...)	log_msg(LOG_LEVEL_TRACE, __VA_ARGS__)

#endif
