/* SPDX-License-Identifier: ISC */
/* tunnelgw: the door to the store of accounts, tokens, keys, reserved addresses and events. */
#ifndef TG_STORE_H
#define TG_STORE_H

#include <stddef.h>
#include <stdint.h>

#define STORE_BUSY_TIMEOUT	5000	/* ms a writer waits for another one by default */
#define STORE_MAX_ACCOUNT	64	/* longest account name */
#define STORE_MAX_TUNNELS	100000	/* highest max_tunnels */
#define STORE_MAX_DAYS		36500	/* longest token lifetime, in days */
#define STORE_TOKEN_PREFIX	"tgw_"
#define STORE_TOKEN_LEN		47	/* "tgw_" and 43 base64url characters: 32 random bytes */
#define STORE_EVENT_BUSY	200	/* ms an events batch waits for another writer */
#define STORE_MAX_MEMBER	64	/* longest member name */
#define STORE_OWNER_MEMBER	"owner"	/* the member an account starts with, and the default */
#define STORE_MAX_LIMIT		1000000	/* highest max_addresses and max_connections */
#define STORE_APIKEY_PREFIX	"tgwk_"
#define STORE_APIKEY_LEN	48	/* "tgwk_" and 43 base64url characters: 32 random bytes */
#define STORE_MAX_NODE		64	/* longest node name */

/*
 * Every function that can fail returns -1 and hands back a one-line message through cause
 * (free it), which never holds a token. Messages about the database start with "DB: ".
 * Times are Unix seconds (UTC); 0 means "none" (never expires, never used, not revoked).
 */

struct store;

/* An account; the counts are filled by store_account_list and store_account_find. */
struct store_account {
	char		*name;
	int		 max_tunnels;	/* -1: no limit */
	int64_t		 created;
	unsigned int	 nkeys;
	unsigned int	 ntokens;	/* tokens neither revoked nor expired */
	unsigned int	 naddresses;
	char		*create_raw_tunnel;	/* the role a raw tunnel needs; NULL: default */
	int		 max_addresses;		/* -1: no limit */
	int		 max_connections;	/* open public connections; -1: no limit */
	unsigned int	 nmembers;
};

/*
 * What store_account_set changes: a field left at STORE_UNCHANGED (NULL for the role) stays
 * as it is; -1 sets "no limit", and create_raw_tunnel "" the default.
 */
#define STORE_UNCHANGED	(-2)
struct store_account_set {
	int		 max_tunnels;
	int		 max_addresses;
	int		 max_connections;
	const char	*create_raw_tunnel;
};

/* A member of an account, with the number of keys, tokens and API keys it holds. */
struct store_member {
	char		*account;
	char		*name;
	char		*role;		/* "viewer", "developer", "manager" or "owner" */
	int64_t		 created;
	unsigned int	 nkeys;
	unsigned int	 ntokens;	/* neither revoked nor expired */
	unsigned int	 napikeys;	/* not revoked */
};

/* An API key, never its secret nor its hash; account and member NULL: the operator's. */
struct store_apikey {
	int64_t		 id;
	char		*account;
	char		*member;
	char		*role;		/* the member's; NULL for the operator */
	int64_t		 created;
	int64_t		 revoked;
	int64_t		 last_used;
};

/* A token, never its secret nor its hash. */
struct store_token {
	int64_t		 id;
	char		*account;
	int64_t		 created;
	int64_t		 expires;
	int64_t		 revoked;
	int64_t		 last_used;
	char		*member;	/* NULL: none (a token nobody may use) */
	int		 port;		/* the only port it may open; 0: any */
	int		 once;		/* it logs in once */
	char		*protocol;	/* with port: "tcp" or "udp"; else NULL */
};

/* A public key. */
struct store_key {
	char		*fingerprint;	/* "SHA256:..." as ssh-keygen -l prints it */
	char		*account;
	char		*type;		/* "ssh-ed25519" ... */
	char		*key;		/* "TYPE BASE64": an authorized_keys line without options */
	char		*comment;	/* NULL when none */
	char		*added_by;	/* "tunnelgwctl", "register" ... */
	int64_t		 created;
	char		*member;	/* NULL: none (a key nobody may use) */
};

/* A reserved public port. */
struct store_address {
	char		*protocol;	/* "tcp" or "udp" */
	int		 port;
	char		*account;
	int64_t		 created;
	char		*node;		/* the gateway it belongs to; NULL: any */
	char		*host;		/* that node's public_host, when the store knows it */
};

/*
 * A live tunnel in the list the gateways sharing a database keep (src/nodes.c). Its id is
 * the gateway's number times 2^32 plus the gateway's own count: unique among them all.
 */
struct store_live {
	int64_t		 id;
	char		*node;
	char		*account;
	char		*member;	/* NULL: a keys-file login */
	char		*client;
	char		*url;
	char		*target;
	int64_t		 since;
	int		 conns;
	int64_t		 bytes_in;
	int64_t		 bytes_out;
};

/*
 * A gateway sharing the database, as it joins and syncs. A node's row is held by one run of
 * it: a second gateway started with the same node_name is refused while the first's lease
 * holds, and a run whose row another took over is told so at its next sync.
 */
struct store_node {
	const char	*name;
	const char	*instance;	/* random, new at each start: which run holds the row */
	const char	*host;		/* its public_host */
	int		 lease;		/* seconds */
};

/* An account's live tunnels and open public connections on one gateway, by change number. */
struct store_live_count {
	char		*node;
	char		*account;
	int		 tunnels;
	int		 conns;
	int64_t		 seq;
};

/* An event (src/events.c); NULL text and a negative number mean "none". */
struct store_event {
	int64_t		 id;
	int64_t		 time;		/* Unix seconds */
	char		*event;		/* "tunnel_opened", "tcp_connection_closed" ... */
	char		*account;
	char		*url;
	char		*client;	/* "IP:PORT" of the public client */
	int64_t		 bytes_in;	/* public client -> service */
	int64_t		 bytes_out;	/* service -> public client */
	int64_t		 duration_ms;
	char		*detail;	/* a JSON object of the other fields */
};

/*
 * What a login of the database (a token, or a key by its fingerprint) acts as, read in one
 * query without any count: its member, the member's role, the account's limits, the token's
 * port; active is 0 for a token revoked or expired.
 */
struct store_login {
	char		*account;
	char		*member;
	char		*role;
	char		*create_raw_tunnel;	/* NULL: the default */
	int		 max_tunnels;		/* -1: no limit */
	int		 max_connections;	/* -1: no limit */
	int		 port;			/* a token's only port; 0: any */
	char		*protocol;		/* with port: "tcp" or "udp" */
	int		 active;
};

/* Which events store_event_query lists: NULL and 0 mean "any". */
struct store_event_filter {
	const char	*account;
	const char	*event;
	const char	*url;		/* a tunnel's public endpoint */
	int64_t		 since;		/* time >= since */
	int64_t		 until;		/* time < until */
	int64_t		 before;	/* id < before: the cursor of the page before */
	int		 limit;
};

/*
 * Opening, and the change counter the daemon polls: it moves with every change that can end a
 * session or narrow what it may do (a deletion, a revocation, a role or a limit changed, a
 * tunnel another gateway asked to close), not with additions (an account, member, token, key,
 * API key, reservation) nor with logins. store_changed_accounts says which accounts' sessions
 * the changes seen concern, where the backend can (PostgreSQL's notifications); 1: any.
 */
struct store	*store_open(const char *, int, char **);
void		 store_close(struct store *);
int		 store_changes(struct store *, int64_t *, char **);
int		 store_changed_accounts(struct store *, char ***, size_t *);
void		 store_changed_free(char **, size_t);
int		 store_is_uri(const char *);
const char	*store_where(struct store *);
int		 store_integrity(struct store *, char **);

/* Accounts: add, delete (its tokens, keys and addresses go with it), find, list. */
int		 store_account_check_name(const char *, char **);
int		 store_account_add(struct store *, const char *, int, char **);
int		 store_account_del(struct store *, const char *, char **);
int		 store_account_set(struct store *, const char *, const struct store_account_set *,
		     char **);
int		 store_account_find(struct store *, const char *, struct store_account **,
		     char **);
int		 store_account_list(struct store *, struct store_account ***, size_t *, char **);
void		 store_account_free(struct store_account *);
void		 store_account_list_free(struct store_account **, size_t);

/*
 * Members: add, delete (their keys, tokens and API keys go with them), change a role, find,
 * list (one account's or, with NULL, every account's); the member a token or key belongs to.
 */
int		 store_member_check_name(const char *, char **);
int		 store_member_add(struct store *, const char *, const char *, const char *, char **);
int		 store_member_del(struct store *, const char *, const char *, char **);
int		 store_member_set_role(struct store *, const char *, const char *, const char *,
		     char **);
int		 store_member_find(struct store *, const char *, const char *,
		     struct store_member **, char **);
int		 store_member_list(struct store *, const char *, struct store_member ***, size_t *,
		     char **);
int		 store_member_of_token(struct store *, int64_t, struct store_member **, char **);
int		 store_member_of_key(struct store *, const char *, struct store_member **, char **);
int		 store_login_find(struct store *, int64_t, const char *, struct store_login **,
		     char **);
void		 store_login_free(struct store_login *);
void		 store_member_free(struct store_member *);
void		 store_member_list_free(struct store_member **, size_t);

/* API keys: create (the secret is returned once), revoke, verify a secret, list. */
int		 store_apikey_create(struct store *, const char *, const char *, char **, int64_t *,
		     char **);
int		 store_apikey_revoke(struct store *, int64_t, char **);
int		 store_apikey_wellformed(const char *);
int		 store_apikey_verify(struct store *, const char *, struct store_apikey **, char **);
int		 store_apikey_list(struct store *, const char *, struct store_apikey ***, size_t *,
		     char **);
void		 store_apikey_free(struct store_apikey *);
void		 store_apikey_list_free(struct store_apikey **, size_t);

/* Tokens: create (the secret is returned once), revoke, verify a secret, list. */
int		 store_token_create(struct store *, const char *, const char *, int, char **,
		     int64_t *, char **);
int		 store_token_create_once(struct store *, const char *, const char *,
		     const char *, int, int, char **, int64_t *, char **);
int		 store_token_find(struct store *, int64_t, struct store_token **, char **);
int		 store_token_revoke(struct store *, int64_t, char **);
int		 store_token_wellformed(const char *);
int		 store_token_verify(struct store *, const char *, char **, int64_t *, char **);
int		 store_token_check(struct store *, const char *, char **, int64_t *, char **);
int		 store_token_list(struct store *, struct store_token ***, size_t *, char **);
void		 store_token_free(struct store_token *);
void		 store_token_list_free(struct store_token **, size_t);

/* Keys: add an OpenSSH public key line, delete and find by fingerprint, list. */
int		 store_key_add(struct store *, const char *, const char *, const char *,
		     const char *, struct store_key **, char **);
int		 store_key_del(struct store *, const char *, char **);
int		 store_key_find(struct store *, const char *, struct store_key **, char **);
int		 store_key_list(struct store *, struct store_key ***, size_t *, char **);
void		 store_key_free(struct store_key *);
void		 store_key_list_free(struct store_key **, size_t);

/*
 * Reserved addresses: reserve a given or random port of a range, release, owner, list. The
 * protocol is "tcp" or "udp": a TCP port and the UDP port of the same number are apart.
 */
int		 store_address_reserve(struct store *, const char *, const char *, const char *,
		     int, int, int, int *, char **);
int		 store_address_find(struct store *, const char *, int, struct store_address **,
		     char **);
int		 store_address_release(struct store *, const char *, int, char **);
int		 store_address_owner(struct store *, const char *, int, char **, char **);
int		 store_address_list(struct store *, struct store_address ***, size_t *, char **);
void		 store_address_free(struct store_address *);
void		 store_address_list_free(struct store_address **, size_t);

/*
 * Gateways sharing a database (PostgreSQL): a node joins (struct store_node) and learns its
 * number, unless another run of that name holds it (1); it keeps its lease (seconds) with each sync, which also writes the
 * changes to its live tunnels (added, gone, counts) and hands back the ids some other node
 * asked it to close. The list shows the live tunnels of every node whose lease holds.
 * store_shared says whether the backend has any of this (SQLite: no, and the calls do
 * nothing).
 */
int		 store_node_check_name(const char *, char **);
int		 store_shared(struct store *);
int		 store_node_join(struct store *, const struct store_node *, int64_t *, char **);
int		 store_node_sync(struct store *, const struct store_node *, struct store_live **,
		     size_t,
		     const int64_t *, size_t, struct store_live **, size_t,
		     struct store_live_count **, size_t, int64_t **, size_t *, char **);
int		 store_node_leave(struct store *, const struct store_node *, char **);
int		 store_live_list(struct store *, const char *, struct store_live ***, size_t *,
		     char **);
int		 store_live_counts(struct store *, const char *, const char *, int64_t,
		     struct store_live_count ***, size_t *, int64_t *, char **, int *, char **);
int		 store_live_close(struct store *, int64_t, char **);
void		 store_live_free(struct store_live *);
void		 store_live_list_free(struct store_live **, size_t);
void		 store_live_counts_free(struct store_live_count **, size_t);

/* Events: add a batch and trim the table, list the newest. */
int		 store_event_add(struct store *, const struct store_event *, size_t, int64_t,
		     int64_t, char **);
int		 store_event_list(struct store *, const char *, int, struct store_event ***,
		     size_t *, char **);
int		 store_event_query(struct store *, const struct store_event_filter *,
		     struct store_event ***, size_t *, char **);
void		 store_event_free(struct store_event *);
void		 store_event_list_free(struct store_event **, size_t);

#endif
