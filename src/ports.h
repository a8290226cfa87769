/* SPDX-License-Identifier: ISC */
/* tunnelgw: public ports: which are ours, and opening listeners on them. */
#ifndef TG_PORTS_H
#define TG_PORTS_H

#include <stdint.h>

struct conf;

int	 ports_open_random(const struct conf *, int (*)(uint8_t *), int *, char **);
int	 ports_open(const struct conf *, int, char **);
void	 ports_release(int);
int	 ports_in_use(int);
int	 ports_count(void);

#endif
