/* SPDX-License-Identifier: ISC */
/* tunnelgw: public ports: which are ours, and opening listeners on them. */
#ifndef TG_PORTS_H
#define TG_PORTS_H

#include <stdint.h>

#include "auth.h"

struct conf;

int	 ports_open_random(const struct conf *, enum grant_proto,
	    int (*)(enum grant_proto, uint8_t *), int *, char **);
int	 ports_open(const struct conf *, enum grant_proto, int, char **);
void	 ports_release(enum grant_proto, int);
int	 ports_in_use(enum grant_proto, int);
int	 ports_count(void);

#endif
