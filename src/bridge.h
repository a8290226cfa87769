/* SPDX-License-Identifier: ISC */
/* tunnelgw: a public TCP connection carried through a forwarded-tcpip channel. */
#ifndef TG_BRIDGE_H
#define TG_BRIDGE_H

#include <sys/socket.h>

struct event_base;
struct reg_tunnel;
struct sshgw_session;

struct bridge_tunnel_info {
	int		 port;		/* the public port */
	const char	*url;		/* tcp://public_host:port */
	const char	*public_host;	/* lives as long as the daemon's configuration */
	int		 idle_timeout;	/* seconds; 0: never */
	struct reg_tunnel *reg;		/* where its counters go */
};

int	 bridge_create(struct event_base *, struct sshgw_session *, const struct bridge_tunnel_info *,
	    int, const struct sockaddr *, socklen_t);
void	 bridge_free_all(void);

#endif
