/* SPDX-License-Identifier: ISC */
/* tunnelgw: tunnels: a public listening port per granted forward, and its connections. */
#ifndef TG_TUNNEL_H
#define TG_TUNNEL_H

struct conf;
struct event_base;
struct sshgw_session;

extern const struct sshgw_hooks tunnel_hooks;

#include <sys/socket.h>

void	 tunnel_setup(const struct conf *, void (*)(unsigned long long));
void	 tunnel_cleanup(void);
void	 tunnel_count_connection(int);
int	 tunnel_connections_open(void);
void	 tunnel_session_drain(struct sshgw_session *);
void	 tunnel_session_attach(struct sshgw_session *, struct event_base *,
	    const struct sockaddr *, void (*)(void *), void *);

#endif
