/* SPDX-License-Identifier: ISC */
/* tunnelgw: tunnels: a public listening port per granted forward, and its connections. */
#ifndef TG_TUNNEL_H
#define TG_TUNNEL_H

#include <sys/socket.h>

#include "auth.h"

struct client;
struct conf;
struct ratelimit;
struct reg_tunnel;
struct sshgw_session;

extern const struct bridge_channel_ops tunnel_channel_ops;

void	 tunnel_setup(const struct conf *, void (*)(unsigned long long));
enum refusal tunnel_admit(const struct grant *, struct reg_tunnel *, struct ratelimit **,
	    const struct sockaddr *, const char **);
int	 tunnel_forward_add(struct sshgw_session *, const char *, int, int *, int *, char **);
int	 tunnel_forward_cancel(struct sshgw_session *, const char *, int);
char	*tunnel_banner(const struct client *);
int	 tunnel_make_udp(struct client *, char **);
void	 tunnel_close_all(struct client *);
int	 tunnel_close_wanted(struct client *);
char	*tunnel_status(struct sshgw_session *);

#endif
