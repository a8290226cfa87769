/* SPDX-License-Identifier: ISC */
/* tunnelgw: a public TCP connection carried through a forwarded-tcpip channel. */
#ifndef TG_BRIDGE_H
#define TG_BRIDGE_H

#include <sys/types.h>
#include <sys/socket.h>

struct event_base;
struct grant;
struct reg_tunnel;
struct sshgw_channel_events;

struct bridge_tunnel_info {
	int		 port;		/* the public port */
	const char	*address;	/* the forward's bind address, as the client sent it */
	const char	*url;		/* tcp://public_host:port */
	const char	*public_host;	/* lives as long as the daemon's configuration */
	struct grant	*grant;		/* its client's: the bridge holds it while it lives */
	struct reg_tunnel *reg;		/* where its counters go */
};

/*
 * How a bridge drives its channel: the SSH layer's (tunnel_channel_ops), or a test's fake.
 * ch is what open returned. The bridge owns it and lets it go through free; backlog,
 * command_pending and free may be given NULL (no channel yet, or no longer), the others are
 * given a live channel only.
 */
struct bridge_channel_ops {
	/*
	 * Open a channel of owner for a connection to the public port of the forward the
	 * client named address, from orig_ip:orig_port; ev tells arg what happens to it, data
	 * perhaps before open returns. NULL when owner cannot take another channel now.
	 */
	void	*(*open)(void *owner, const char *address, int port, const char *orig_ip,
		    int orig_port, const struct sshgw_channel_events *ev, void *arg);
	/* Send up to len bytes: how many were taken (0: writable follows), -1 when gone. */
	ssize_t	 (*write)(void *ch, const void *buf, size_t len);
	/* How many bytes write would take now (0: writable follows). */
	size_t	 (*window)(void *ch);
	/* Take up to len of the bytes data left behind: the count, 0 for none, -1 on error. */
	ssize_t	 (*read)(void *ch, void *buf, size_t len);
	/* How many bytes data left behind. */
	size_t	 (*pending)(void *ch);
	/* How many of the channel's bytes the bridge holds, not yet written out. */
	void	 (*backlog)(void *ch, size_t len);
	/* The public side sends no more. */
	void	 (*eof)(void *ch);
	/* Close and free the channel; nothing more is heard of it. */
	void	 (*free)(void *ch);
	/* Are the options that may ask for a PROXY header (the grant's) still to come. */
	int	 (*command_pending)(void *ch);
};

int	 bridge_create(struct event_base *, const struct bridge_channel_ops *, void *,
	    const struct bridge_tunnel_info *, int, const struct sockaddr *, socklen_t);
void	 bridge_free_all(void);

#endif
