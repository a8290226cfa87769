/* SPDX-License-Identifier: ISC */
/* tunnelgw: token buckets per source (IPv4 address or IPv6 prefix), in a table of bounded size. */
#ifndef TG_RATELIMIT_H
#define TG_RATELIMIT_H

#include <sys/socket.h>

struct ratelimit;

struct ratelimit *ratelimit_create(double, double, unsigned int);
void	 ratelimit_free(struct ratelimit *);
int	 ratelimit_allow(struct ratelimit *, const struct sockaddr *, double);
int	 ratelimit_would_allow(struct ratelimit *, const struct sockaddr *, double);
double	 ratelimit_now(void);

#endif
