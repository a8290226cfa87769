/* SPDX-License-Identifier: ISC */
/*
 * tunnelgw: events (tunnels opened and closed, public connections closed) as JSON lines in
 * events_log and, in batches, in the store for tunnelgwctl.
 */
#ifndef TG_EVENTS_H
#define TG_EVENTS_H

#include <stddef.h>
#include <stdint.h>

#define EVENTS_LINE_MAX		4096	/* PIPE_BUF: the longest line, written at once */
#define EVENTS_FIELD_MAX	512	/* longest JSON string of one field, quotes included */
#define EVENTS_TEXT_MAX		256	/* longest text of one field kept in the store */
#define EVENTS_QUEUE_MAX	10000	/* events waiting for the store; more are dropped */

struct conf;
struct store;

/* A tunnel, as its events describe it. */
struct events_tunnel {
	const char		*account;
	const char		*url;
	const char		*target;	/* what the client asked to forward */
	unsigned long long	 session;
	int64_t			 duration_ms;	/* tunnel_closed only */
	unsigned long long	 connections;	/* tunnel_closed only: public connections */
};

/* A public connection that ended. */
struct events_connection {
	const char		*account;
	const char		*url;
	const char		*client;	/* "IP:PORT" of the public client */
	const char		*reason;	/* why it ended */
	uint64_t		 bytes_in;	/* public client -> service */
	uint64_t		 bytes_out;	/* service -> public client */
	int64_t			 duration_ms;
};

/*
 * A change made through the API (or another door): who made it (the operator, or a member of
 * an account), from where, what it did and to what.
 */
struct events_audit {
	const char		*actor;		/* "operator", or "member NAME" */
	const char		*actor_account;	/* the acting member's account; NULL: operator */
	const char		*source;	/* "IP:PORT" of the HTTP client */
	const char		*action;	/* "tunnel.close", "member.add" ... */
	const char		*account;	/* the account changed */
	const char		*object;	/* what in it: a url, a member's name ... */
};

int	 events_open(const struct conf *, char **);
int	 events_reopen(char **);
void	 events_flush(struct store *);
void	 events_close(struct store *);
int64_t	 events_clock_ms(void);
void	 events_tunnel_opened(const struct events_tunnel *);
void	 events_tunnel_closed(const struct events_tunnel *);
/* A UDP flow that ended. */
struct events_udp_flow {
	const char		*account;
	const char		*url;
	const char		*client;	/* "IP:PORT" of the public client */
	const char		*reason;	/* why it ended */
	unsigned long long	 packets_in;	/* datagrams public client -> service */
	unsigned long long	 packets_out;
	unsigned long long	 bytes_in;
	unsigned long long	 bytes_out;
	unsigned long long	 drops_in;	/* datagrams dropped on the way in */
	unsigned long long	 drops_out;
	int64_t			 duration_ms;
};

void	 events_connection_closed(const struct events_connection *);
void	 events_udp_flow_closed(const struct events_udp_flow *);
void	 events_audit(const struct events_audit *);
void	 events_counts(unsigned long long *, unsigned long long *);

#endif
