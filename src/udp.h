/* SPDX-License-Identifier: ISC */
/* tunnelgw: UDP tunnels: a public UDP port's flows carried in one stream (doc/udp.md). */
#ifndef TG_UDP_H
#define TG_UDP_H

#include <stdint.h>

struct bridge_channel_ops;
struct event_base;
struct grant;
struct reg_tunnel;
struct udp_relay;

/*
 * What a relay needs of its tunnel. The strings are copied. grant points at the client's
 * grant pointer (which a reload may replace): the client outlives its tunnels, and a
 * tunnel frees its relay before it goes, so the pointer stays good while the relay lives.
 * reg is the tunnel's registry entry, which also outlives the relay.
 */
struct udp_relay_info {
	const struct bridge_channel_ops *ops;	/* how to drive the stream's channel */
	void		*owner;		/* the SSH session the stream is opened in */
	const char	*address;	/* the forward's bind address, as the client sent it */
	int		 chan_port;	/* the port the client knows the forward by */
	int		 port;		/* the public UDP port */
	const char	*url;		/* udp://public_host:port */
	const char	*public_host;	/* lives as long as the daemon's configuration */
	struct grant *const *grant;
	struct reg_tunnel *reg;
};

/* Process-wide UDP counters, for metrics. */
struct udp_totals {
	unsigned long long	 flows;		/* open now */
	unsigned long long	 flows_total;
	unsigned long long	 dgrams_in;	/* public client -> service */
	unsigned long long	 dgrams_out;	/* service -> public client */
	unsigned long long	 drops_in;
	unsigned long long	 drops_out;
};

void	 udp_setup(size_t);
struct udp_relay *udp_relay_create(struct event_base *, int, const struct udp_relay_info *);
void	 udp_relay_free(struct udp_relay *, const char *);
unsigned long long udp_relay_flows_total(const struct udp_relay *);
void	 udp_totals(struct udp_totals *);

#endif
