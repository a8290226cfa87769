/* SPDX-License-Identifier: ISC */
/* tunnelgw: the control socket: the daemon answers tunnelgwctl's questions about live state. */
#ifndef TG_CONTROL_H
#define TG_CONTROL_H

struct control;
struct event_base;

struct control *control_open(struct event_base *, const char *, char **);
void	 control_free(struct control *);
int	 control_query(const char *, const char *, char **, char **);

#endif
