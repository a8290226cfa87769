/* SPDX-License-Identifier: ISC */
/* tunnelgw: SSH connections not yet authenticated, counted in all and per source address. */
#ifndef TG_STARTUPS_H
#define TG_STARTUPS_H

#include <sys/socket.h>

void	 startups_setup(int, int);
int	 startups_enter(const struct sockaddr *, const char **);
void	 startups_leave(const struct sockaddr *);
int	 startups_count(void);

#endif
