/* SPDX-License-Identifier: ISC */
/* tunnelgw: leveled logging to stderr and, when configured, syslog. */
#ifndef TG_LOG_H
#define TG_LOG_H

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
char	*log_quote_dup(const char *, size_t);

#define log_error(...)	log_msg(LOG_LEVEL_ERROR, __VA_ARGS__)
#define log_warn(...)	log_msg(LOG_LEVEL_WARN, __VA_ARGS__)
#define log_info(...)	log_msg(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_debug(...)	log_msg(LOG_LEVEL_DEBUG, __VA_ARGS__)
#define log_trace(...)	log_msg(LOG_LEVEL_TRACE, __VA_ARGS__)

#endif
