/* SPDX-License-Identifier: ISC */
/* tunnelgw: the auth layer, who may do what; this header is the layer's only door. */
#ifndef TG_AUTH_H
#define TG_AUTH_H

#include <sys/socket.h>

#include <stddef.h>

#include <libssh/libssh.h>

/* cidr.c: lists of IPv4/IPv6 networks, as in from=, allow-cidr= and deny-cidr=. */
#define CIDRLIST_MAX	256	/* most entries in one list */

struct cidrlist;

int		 cidrlist_parse(const char *, struct cidrlist **, char **);
int		 cidrlist_match(const struct cidrlist *, const struct sockaddr *);
size_t		 cidrlist_count(const struct cidrlist *);
char		*cidrlist_format(const struct cidrlist *);
struct cidrlist	*cidrlist_dup(const struct cidrlist *);
void		 cidrlist_free(struct cidrlist *);

/* keys.c: the authorized_keys-style keys file. */
#define KEYS_MAX_LINE		16384	/* longest line, newline excluded */
#define KEYS_MAX_ACCOUNT	64	/* longest account="NAME" */
#define KEYS_MAX_TUNNELS	100000	/* highest max-tunnels=N */

/* The options of one key line; each field says when it was not given. */
/*
 * A member's role in its account, lowest first: viewer < developer < manager < owner. The
 * numbers order them; 0 means "not set" wherever a role is optional.
 */
enum role {
	ROLE_VIEWER = 1,
	ROLE_DEVELOPER,
	ROLE_MANAGER,
	ROLE_OWNER,
};

#define ROLE_KEYFILE_DEFAULT	ROLE_MANAGER	/* a keys-file line without role= */
#define ROLE_RAW_TUNNEL_DEFAULT	ROLE_MANAGER	/* create_raw_tunnel of an account */

int		 role_parse(const char *, enum role *);
const char	*role_label(enum role);

struct keyopts {
	char		*account;	/* NULL: the key's SHA256 fingerprint is its account */
	int		 max_tunnels;	/* -1: not set */
	int		*permitlisten;	/* ports; 0 = any port; NULL/0 entries: not set */
	size_t		 npermitlisten;
	struct cidrlist	*from;		/* NULL: not set */
	struct cidrlist	*allow;		/* NULL: not set */
	struct cidrlist	*deny;		/* NULL: not set */
	int		 proxy_proto;	/* -1: not set */
	int		 no_port_forwarding; /* no-port-forwarding or restrict: may not forward */
	int		 role;		/* an enum role; 0: not set (ROLE_KEYFILE_DEFAULT) */
};

/* One key line. */
struct keyent {
	ssh_key		 key;		/* libssh public key */
	char		*fingerprint;	/* "SHA256:..." as ssh-keygen -l prints it */
	char		*type;		/* "ssh-ed25519" ... */
	char		*comment;	/* NULL when none */
	int		 line;		/* line number in its file; 0 from keys_parse_line */
	struct keyopts	 opts;
	const char	*account;	/* opts.account or fingerprint: never NULL */
};

/*
 * grant.c: what one login may do, and every rule that judges a request against it. The
 * daemon builds a grant once per login and asks it; nothing else decides who may do what.
 */

/* Why a request was refused; refusal_label() names it as tunnelgw_refusals_total does. */
enum refusal {
	REFUSAL_NONE,
	REFUSAL_BAD_ADDRESS,		/* not an address of this gateway */
	REFUSAL_FORWARDING_DISABLED,	/* the key may not forward */
	REFUSAL_ROLE,			/* the member's role is below what the action needs */
	REFUSAL_NO_FREE_PORT,
	REFUSAL_PORT_RESERVED,		/* by another account */
	REFUSAL_PORT_NOT_ALLOWED,	/* privileged, outside the range, not permitted */
	REFUSAL_PORT_IN_USE,
	REFUSAL_TUNNEL_LIMIT,
	REFUSAL_IP_RULE,		/* a public client refused by allow/deny lists */
	REFUSAL_CONNECTION_LIMIT,	/* max_connections, max_connections_per_tunnel */
	REFUSAL_CONN_RATE,
	REFUSAL_SESSION_LIMIT,		/* SSH clients refused before the banner */
	REFUSAL_SSH_RATE,
	REFUSAL_STARTUPS,
	REFUSAL_OTHER,			/* the last: metrics count up to it */
};

/* The gateway-wide part of every grant: the configuration's rules, fixed while it runs. */
struct policy {
	const char	*public_host;	/* strings: the configuration's, outliving the policy */
	const char	*public_bind;
	const char	*port_range;
	int		 port_min;
	int		 port_max;
	int		 allow_requested_ports;
	const char	*udp_port_range;	/* the same for UDP tunnels */
	int		 udp_port_min;
	int		 udp_port_max;
	int		 udp_flow_timeout;	/* seconds */
	int		 max_tunnels;	/* 0: no limit */
	int		 proxy_protocol;
	int		 idle_timeout;	/* seconds; 0: never */
	int		 max_connections;
	int		 max_connections_per_tunnel;	/* 0: no limit */
	int		 conn_rate;	/* new connections a second per source; 0: no limit */
	int		 conn_burst;
	struct cidrlist	*allow;		/* allow_cidr, deny_cidr: NULL when not set */
	struct cidrlist	*deny;
};

#define GRANT_TOKEN_PREFIX	"tgw_"	/* every token starts so (src/store.h agrees) */

/* How a login was proved. */
enum grant_how {
	GRANT_KEYFILE = 1,	/* a key of the keys file */
	GRANT_DBKEY,		/* a key of the database */
	GRANT_TOKEN,		/* a token, with or without a key */
};

/* The options of a `tcp` command, with -1 and NULL where the command did not set one. */
struct grant_cmd {
	int		 proxy_proto;
	int		 idle_timeout;
	struct cidrlist	*allow;
	struct cidrlist	*deny;
};

/* What a tunnel carries: TCP connections, or UDP datagrams (the `udp` command). */
enum grant_proto {
	GRANT_TCP,
	GRANT_UDP,
};

/*
 * One login's rights: the policy, the key line's options (copied: a reload of the keys file
 * does not pull them away), the account's row and the `tcp` command's options. Held by the
 * daemon's record of the SSH client and by each of its public connections, all in the
 * client's worker thread: the count is not atomic. The last grant_release frees it.
 */
struct grant {
	unsigned int	 refs;
	const struct policy *pol;	/* outlives every grant */
	char		*account;
	char		*member;	/* the store's member; NULL for a keys-file login */
	enum grant_how	 how;
	int		 account_max_tunnels;	/* the account's row; -1: none */
	int		 account_max_connections;	/* the account's row; -1: none */
	int		 token_port;	/* a token for one tunnel opens only this port; 0: any */
	enum grant_proto token_proto;	/* ... of this protocol */
	enum role	 role;		/* the member's, or the key line's role= */
	enum role	 raw_tunnel_role;	/* what opening a TCP tunnel needs in this account */
	struct keyopts	 key;		/* the key line's options; all "not set" without one */
	struct grant_cmd cmd;
};

/* What the store says of a login's member and account (grant_set_member). */
struct grant_member {
	const char	*name;
	enum role	 role;
	enum role	 raw_tunnel_role;	/* 0: ROLE_RAW_TUNNEL_DEFAULT */
	int		 max_tunnels;		/* -1: none */
	int		 max_connections;	/* -1: none */
	int		 token_port;		/* the login's token opens only this port; 0: any */
	enum grant_proto token_proto;		/* ... of this protocol */
};

/* What a forward may do with the port it asked for. */
enum grant_port {
	GRANT_PORT_RANDOM,	/* port 0: any free port of the range */
	GRANT_PORT_RESERVED,	/* the account's own reservation */
	GRANT_PORT_REQUESTED,	/* a free port of the range that it named */
};

const char	*refusal_label(enum refusal);
struct grant	*grant_create(const struct policy *, const char *, enum grant_how,
		    const struct keyopts *, int);
struct grant	*grant_hold(struct grant *);
void		 grant_release(struct grant *);
void		 grant_set_key(struct grant *, const struct keyopts *);
void		 grant_set_member(struct grant *, const struct grant_member *);
int		 grant_cmd_option(struct grant_cmd *, const char *, char **);
void		 grant_cmd_clear(struct grant_cmd *);
int		 grant_command(struct grant *, char *const *, int, char **);
int		 grant_names_token(const char *);
int		 grant_token_usable(int, long long, long long, long long, long long, char **);
int		 grant_login_from(const struct keyopts *, const struct sockaddr *);
int		 grant_proxy_proto(const struct grant *);
int		 grant_idle_timeout(const struct grant *);
int		 grant_flow_timeout(const struct grant *);
const char	*grant_proto_name(enum grant_proto);
int		 grant_max_tunnels(const struct grant *);
enum refusal	 grant_forward(const struct grant *, enum grant_proto, const char *, int,
		    const char *, enum grant_port *, char **);
enum refusal	 grant_tunnel_limit(const struct grant *, int, char **);
enum refusal	 grant_role_refusal(const struct grant *, char **);
enum refusal	 grant_port_failed(int);
int		 grant_port_holder(const struct grant *, int, const char *, unsigned long long,
		    unsigned long long, long long, char **);
enum refusal	 grant_client(const struct grant *, const struct sockaddr *, const char **);
enum refusal	 grant_connection(const struct grant *, int, int, int, const char **);

struct keyfile;

struct keyfile	*keyfile_load(const char *, char **);
const struct keyent *keyfile_find(const struct keyfile *, const ssh_key);
size_t		 keyfile_count(const struct keyfile *);
const struct keyent *keyfile_get(const struct keyfile *, size_t);
size_t		 keyfile_nproblems(const struct keyfile *);
const char	*keyfile_problem(const struct keyfile *, size_t);
void		 keyfile_free(struct keyfile *);
int		 keys_parse_line(const char *, struct keyent **, char **);
char		*keys_fingerprint(const ssh_key);
void		 keyent_free(struct keyent *);
void		 keyopts_init(struct keyopts *);
void		 keyopts_copy(struct keyopts *, const struct keyopts *);
void		 keyopts_clear(struct keyopts *);

#endif
