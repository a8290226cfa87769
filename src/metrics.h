/* SPDX-License-Identifier: ISC */
/* tunnelgw: process-wide counters, and the Prometheus endpoint that shows them. */
#ifndef TG_METRICS_H
#define TG_METRICS_H

#include "auth.h"

struct event_base;
struct metrics_server;

void	 metrics_count_refusal(enum refusal);
unsigned long long metrics_refusals(enum refusal);
char	*metrics_format(void);

struct metrics_server *metrics_server_open(struct event_base *, const char *, char **);
void	 metrics_server_free(struct metrics_server *);

#endif
