/* SPDX-License-Identifier: ISC */
/* tunnelgw: the live tunnels of every worker, for status, limits and operators. */
#ifndef TG_REGISTRY_H
#define TG_REGISTRY_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct reg_tunnel;

/* What registry_totals() reports. */
struct registry_totals {
	unsigned long		 tunnels;	/* open now */
	unsigned long long	 conns;		/* public connections open now */
	unsigned long long	 conns_total;	/* since the start */
	unsigned long long	 bytes_in;	/* since the start: public -> service */
	unsigned long long	 bytes_out;	/* since the start: service -> public */
};

/* One live tunnel as registry_each shows it; the strings live as long as the call. */
struct registry_view {
	unsigned long long	 id;
	const char		*account;
	const char		*member;	/* NULL: a keys-file login */
	const char		*client;	/* NULL: not known */
	const char		*url;
	const char		*target;
	unsigned long long	 session;
	time_t			 since;
	int			 conns;
	unsigned long long	 bytes_in;
	unsigned long long	 bytes_out;
	int			 awaiting;	/* made by the API, its SSH client not yet here */
	time_t			 expires;	/* awaiting: when its token expires */
	const char		*node;		/* the gateway that holds it; NULL: this one */
};

/* An account's live tunnels and connections on the other gateways sharing the database. */
struct registry_count {
	const char		*account;
	int			 tunnels;
	int			 conns;
};

struct reg_tunnel *registry_add(const char *, const char *, const char *, unsigned long long,
	    int);
int	 registry_conns(const struct reg_tunnel *);
int	 registry_account_conns(const struct reg_tunnel *);
const char *registry_account(const struct reg_tunnel *);
struct reg_tunnel *registry_hold(struct reg_tunnel *);
void	 registry_release(struct reg_tunnel *);
void	 registry_remove(struct reg_tunnel *);
void	 registry_conn(struct reg_tunnel *, int);
int	 registry_connections_open(void);
void	 registry_bytes(struct reg_tunnel *, uint64_t, uint64_t);
int	 registry_account_tunnels(const char *);
int	 registry_remote_tunnels(const char *);
int	 registry_holder(const char *, char **, unsigned long long *, time_t *);
char	*registry_format(const char *, int, int *);
char	*registry_format_nodes(const char *, int, int *, const char *,
	    const struct registry_view *, size_t);
void	 registry_set_remote(const struct registry_count *, size_t, int);
void	 registry_id_base(unsigned long long);
void	 registry_set_owner(struct reg_tunnel *, const char *, const char *);
int	 registry_owner(unsigned long long, char **, char **);
int	 registry_request_close(unsigned long long);
int	 registry_close_wanted(const struct reg_tunnel *);
unsigned long long registry_id(const struct reg_tunnel *);
unsigned long long registry_add_awaiting(const char *, const char *, const char *,
	    const char *, long long, time_t);
int	 registry_cancel_awaiting(unsigned long long, char **, char **, long long *);
int	 registry_awaiting_count(const char *);
int	 registry_awaiting_url(const char *);
size_t	 registry_each(const char *, void (*)(const struct registry_view *, void *), void *);
void	 registry_totals(struct registry_totals *);

#endif
