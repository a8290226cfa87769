/* SPDX-License-Identifier: ISC */
/* tunnelgw: SSH connections not yet authenticated, counted in all and per source. */
#ifndef TG_STARTUPS_H
#define TG_STARTUPS_H

#include <sys/socket.h>

#include <stdint.h>

void	 startups_setup(int, int, int, int);
void	 startups_set_random(uint32_t (*)(uint32_t));
int	 startups_drop(int, int, int, int, unsigned int);
int	 startups_enter(const struct sockaddr *, const char **);
void	 startups_leave(const struct sockaddr *);
int	 startups_count(void);

#endif
