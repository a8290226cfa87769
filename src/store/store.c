/* SPDX-License-Identifier: ISC */
/* tunnelgw: the store's door: checks what needs no data, then hands each call to a backend. */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <openssl/crypto.h>

#include "auth.h"
#include "backend.h"
#include "log.h"
#include "store.h"
#include "xmalloc.h"

#define STORE_MAX_ADDED_BY	32	/* longest added_by */

/*
 * Where a database is, by the start of its name; anything else is the path of an SQLite
 * file. open is NULL for a backend this build does not have.
 */
static const struct store_scheme {
	const char	*prefix;
	const char	*name;
	struct store	*(*open)(const char *, int, char **);
} store_schemes[] = {
#ifdef HAVE_LIBPQ
	{ "postgresql://", "PostgreSQL", store_pg_open },
	{ "postgres://", "PostgreSQL", store_pg_open },
#else
	{ "postgresql://", "PostgreSQL", NULL },
	{ "postgres://", "PostgreSQL", NULL },
#endif
};

/* Is database the URI of a database server (not the path of an SQLite file)? */
int
store_is_uri(const char *database)
{
	size_t	 i;

	for (i = 0; i < sizeof store_schemes / sizeof store_schemes[0]; i++) {
		if (strncmp(database, store_schemes[i].prefix,
		    strlen(store_schemes[i].prefix)) == 0)
			return 1;
	}
	return 0;
}

/*
 * Open the database at path: a postgresql:// URI (refused by a build without libpq), or else
 * an SQLite file, created (mode 0600) when missing; its schema brought up to date. busy_ms:
 * how long a write
 * waits for another writer before failing (milliseconds). A file that is not a tunnelgw
 * database, or is from a newer tunnelgw, is refused untouched.
 */
struct store *
store_open(const char *path, int busy_ms, char **cause)
{
	const struct store_scheme	*s;
	size_t				 i;

	for (i = 0; i < sizeof store_schemes / sizeof store_schemes[0]; i++) {
		s = &store_schemes[i];
		if (strncmp(path, s->prefix, strlen(s->prefix)) != 0)
			continue;
		if (s->open != NULL)
			return s->open(path, busy_ms, cause);
		/* Not the URI itself in the message: it may hold a password. */
		xasprintf(cause, "DB: this build has no %s backend: database must be the path of "
		    "an SQLite file", s->name);
		return NULL;
	}
	return store_sqlite_open(path, busy_ms, cause);
}

/* What logs may call the open database: its path, or its name and host, never a password. */
const char *
store_where(struct store *st)
{
	return st->where;
}

/* Close the database; NULL is a no-op. */
void
store_close(struct store *st)
{
	if (st != NULL)
		st->backend->close(st);
}

/*
 * The change counter: *seq grows whenever any process commits a change that can end a session
 * or narrow it (see src/store.h). Cheap enough to poll.
 */
int
store_changes(struct store *st, int64_t *seq, char **cause)
{
	return st->backend->changes(st, seq, cause);
}

/*
 * Which accounts the changes store_changes saw since the last call concern: 0 with *accounts
 * (n of them, for store_changed_free; none when the change was no session's, such as a
 * tunnel of a gateway asked to close), or 1 when any account may have changed. SQLite cannot
 * say; PostgreSQL says what its notifications named, and any after a notification may have
 * been missed.
 */
int
store_changed_accounts(struct store *st, char ***accounts, size_t *n)
{
	*accounts = NULL;
	*n = 0;
	if (st->backend->changed_accounts == NULL)
		return 1;
	return st->backend->changed_accounts(st, accounts, n);
}

/* Free what store_changed_accounts gave. */
void
store_changed_free(char **accounts, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		free(accounts[i]);
	free(accounts);
}

/* Check the whole database; 0 when it is sound. */
int
store_integrity(struct store *st, char **cause)
{
	return st->backend->integrity(st, cause);
}

/* --- accounts ----------------------------------------------------------------------------- */

/* Is name a valid account name: 1-64 characters of A-Z a-z 0-9 . _ @ - (as in the keys file)? */
int
store_account_check_name(const char *name, char **cause)
{
	char	 q[LOG_QUOTE_SIZE];
	size_t	 len = strnlen(name, STORE_MAX_ACCOUNT + 1);

	if (len == 0 || len > STORE_MAX_ACCOUNT || strspn(name,
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._@-") != len) {
		xasprintf(cause, "account name '%s' is not 1-%d characters of A-Z a-z 0-9 . _ @ -",
		    log_quote(name, q), STORE_MAX_ACCOUNT);
		return -1;
	}
	return 0;
}

/* Add account name; max_tunnels -1 for no limit. */
int
store_account_add(struct store *st, const char *name, int max_tunnels, char **cause)
{
	if (store_account_check_name(name, cause) != 0)
		return -1;
	if (max_tunnels < -1 || max_tunnels > STORE_MAX_TUNNELS) {
		xasprintf(cause, "max-tunnels must be a number from 0 to %d", STORE_MAX_TUNNELS);
		return -1;
	}
	return st->backend->account_add(st, name, max_tunnels, cause);
}

/* Delete account name with its tokens, keys and addresses. */
int
store_account_del(struct store *st, const char *name, char **cause)
{
	return st->backend->account_del(st, name, cause);
}

/* Is role NULL (unchanged) or a role's name; "" too when empty is allowed (the default). */
static int
store_role_check(const char *role, int empty, char **cause)
{
	enum role	 r;
	char		 q[LOG_QUOTE_SIZE];

	if (role == NULL || (empty && role[0] == '\0') || role_parse(role, &r) == 0)
		return 0;
	xasprintf(cause, "unknown role '%s': one of viewer, developer, manager, owner",
	    log_quote(role, q));
	return -1;
}

/* Is n a limit store_account_set takes: STORE_UNCHANGED, -1 (none) or 0-max. */
static int
store_limit_check(int n, int max, const char *what, char **cause)
{
	if (n == STORE_UNCHANGED || (n >= -1 && n <= max))
		return 0;
	xasprintf(cause, "%s must be a number from 0 to %d, or none", what, max);
	return -1;
}

/* Change an account's limits and the role a raw tunnel needs (struct store_account_set). */
int
store_account_set(struct store *st, const char *name, const struct store_account_set *set,
    char **cause)
{
	if (store_limit_check(set->max_tunnels, STORE_MAX_TUNNELS, "max-tunnels", cause) != 0 ||
	    store_limit_check(set->max_addresses, STORE_MAX_LIMIT, "max-addresses",
	    cause) != 0 ||
	    store_limit_check(set->max_connections, STORE_MAX_LIMIT, "max-connections",
	    cause) != 0 ||
	    store_role_check(set->create_raw_tunnel, 1, cause) != 0)
		return -1;
	return st->backend->account_set(st, name, set, cause);
}

/* Find account name: *out gets it, or NULL when there is none. */
int
store_account_find(struct store *st, const char *name, struct store_account **out,
    char **cause)
{
	*out = NULL;
	return st->backend->account_find(st, name, out, cause);
}

/* List every account, by name. */
int
store_account_list(struct store *st, struct store_account ***out, size_t *n, char **cause)
{
	*out = NULL;
	*n = 0;
	return st->backend->account_list(st, out, n, cause);
}

/* Free an account; NULL is a no-op. */
void
store_account_free(struct store_account *a)
{
	store_record_free(a, &store_account_kind);
}

/* Free a list of accounts. */
void
store_account_list_free(struct store_account **v, size_t n)
{
	store_list_free(v, n, &store_account_kind);
}

/* --- members ------------------------------------------------------------------------------ */

/* Is name a valid member name: 1-64 characters of A-Z a-z 0-9 . _ @ - (as account names)? */
int
store_member_check_name(const char *name, char **cause)
{
	char	 q[LOG_QUOTE_SIZE];
	size_t	 len = strnlen(name, STORE_MAX_MEMBER + 1);

	if (len == 0 || len > STORE_MAX_MEMBER || strspn(name,
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._@-") != len) {
		xasprintf(cause, "member name '%s' is not 1-%d characters of A-Z a-z 0-9 . _ @ -",
		    log_quote(name, q), STORE_MAX_MEMBER);
		return -1;
	}
	return 0;
}

/* Add member name with role to account. */
int
store_member_add(struct store *st, const char *account, const char *name, const char *role,
    char **cause)
{
	if (store_member_check_name(name, cause) != 0 || role == NULL ||
	    store_role_check(role, 0, cause) != 0) {
		if (role == NULL)
			xasprintf(cause, "a member needs a role");
		return -1;
	}
	return st->backend->member_add(st, account, name, role, cause);
}

/* Delete a member with its keys, tokens and API keys; an account keeps at least one owner. */
int
store_member_del(struct store *st, const char *account, const char *name, char **cause)
{
	return st->backend->member_del(st, account, name, cause);
}

/* Give a member another role; an account keeps at least one owner. */
int
store_member_set_role(struct store *st, const char *account, const char *name,
    const char *role, char **cause)
{
	if (role == NULL || store_role_check(role, 0, cause) != 0) {
		if (role == NULL)
			xasprintf(cause, "a member needs a role");
		return -1;
	}
	return st->backend->member_set_role(st, account, name, role, cause);
}

/* Find a member of account: *out gets it, or NULL when there is none. */
int
store_member_find(struct store *st, const char *account, const char *name,
    struct store_member **out, char **cause)
{
	*out = NULL;
	return st->backend->member_find(st, account, name, out, cause);
}

/* List the members of account (NULL: of every account), by account, then name. */
int
store_member_list(struct store *st, const char *account, struct store_member ***out,
    size_t *n, char **cause)
{
	*out = NULL;
	*n = 0;
	return st->backend->member_list(st, account, out, n, cause);
}

/* The member token id belongs to: *out gets it, or NULL when none (no such token). */
int
store_member_of_token(struct store *st, int64_t id, struct store_member **out, char **cause)
{
	*out = NULL;
	return st->backend->member_of_token(st, id, out, cause);
}

/* The member the key with this fingerprint belongs to: *out, or NULL when none. */
int
store_member_of_key(struct store *st, const char *fingerprint, struct store_member **out,
    char **cause)
{
	*out = NULL;
	return st->backend->member_of_key(st, fingerprint, out, cause);
}

/* Free a member; NULL is a no-op. */
void
store_member_free(struct store_member *m)
{
	store_record_free(m, &store_member_kind);
}

/* Free a list of members. */
void
store_member_list_free(struct store_member **v, size_t n)
{
	store_list_free(v, n, &store_member_kind);
}

/* --- API keys ----------------------------------------------------------------------------- */

/*
 * Create an API key for a member of account, or with both NULL for the operator. *secret
 * gets it, the only copy there will ever be (wipe it with strfreezero), *id its number.
 */
int
store_apikey_create(struct store *st, const char *account, const char *member, char **secret,
    int64_t *id, char **cause)
{
	struct store_hash	 h;
	char			*s;
	int			 rc = -1;

	*secret = NULL;
	if ((account == NULL) != (member == NULL)) {
		xasprintf(cause, "an API key belongs to a member of an account, or to the operator");
		return -1;
	}
	if ((s = store_token_generate(STORE_APIKEY_PREFIX, cause)) == NULL)
		return -1;
	if (store_token_hash(s, &h, cause) == 0)
		rc = st->backend->apikey_add(st, account, member, &h, id, cause);
	OPENSSL_cleanse(&h, sizeof h);
	if (rc != 0) {
		strfreezero(s);
		return -1;
	}
	*secret = s;
	return 0;
}

/* Revoke API key id. */
int
store_apikey_revoke(struct store *st, int64_t id, char **cause)
{
	return st->backend->apikey_revoke(st, id, cause);
}

/*
 * Verify a presented API key: 0 with its record in *out (free it; account NULL for the
 * operator's), recording its use; 1 when it is not one (unknown, malformed or revoked: cause
 * says which); -1 on a database error.
 */
int
store_apikey_verify(struct store *st, const char *secret, struct store_apikey **out,
    char **cause)
{
	struct store_hash	 h;
	int			 rc;

	*out = NULL;
	if (!store_apikey_wellformed(secret)) {
		xasprintf(cause, "not an API key");
		return 1;
	}
	if (store_token_hash(secret, &h, cause) != 0)
		return -1;
	rc = st->backend->apikey_use(st, &h, out, cause);
	OPENSSL_cleanse(&h, sizeof h);
	return rc;
}

/* List the API keys of account (NULL: every one, the operator's included), by id. */
int
store_apikey_list(struct store *st, const char *account, struct store_apikey ***out,
    size_t *n, char **cause)
{
	*out = NULL;
	*n = 0;
	return st->backend->apikey_list(st, account, out, n, cause);
}

/* Free an API key record; NULL is a no-op. */
void
store_apikey_free(struct store_apikey *k)
{
	store_record_free(k, &store_apikey_kind);
}

/* Free a list of API key records. */
void
store_apikey_list_free(struct store_apikey **v, size_t n)
{
	store_list_free(v, n, &store_apikey_kind);
}

/* --- tokens ------------------------------------------------------------------------------- */

static int	store_address_protocol(const char *, char **);

/*
 * Make a token for a member of account, valid for days; port != 0 binds it to that port of
 * protocol and to one login.
 */
static int
store_token_make(struct store *st, const char *account, const char *member, int days,
    const char *protocol, int port, char **token, int64_t *id, char **cause)
{
	struct store_hash	 h;
	int64_t			 now = store_now(), expires;
	char			*secret;
	int			 rc = -1;

	*token = NULL;
	if (days < 0 || days > STORE_MAX_DAYS) {
		xasprintf(cause, "expires must be a number of days from 1 to %d", STORE_MAX_DAYS);
		return -1;
	}
	if (member == NULL)
		member = STORE_OWNER_MEMBER;
	if ((secret = store_token_generate(STORE_TOKEN_PREFIX, cause)) == NULL)
		return -1;
	expires = days == 0 ? 0 : now + (int64_t)days * 86400;
	if (store_token_hash(secret, &h, cause) == 0)
		rc = st->backend->token_add(st, account, member, &h, now, expires, protocol,
		    port, port != 0, id, cause);
	OPENSSL_cleanse(&h, sizeof h);
	if (rc != 0) {
		strfreezero(secret);
		return -1;
	}
	*token = secret;
	return 0;
}


/*
 * Create a token for a member of account (NULL: the member "owner"), valid for days (0: no
 * expiry). *token gets the secret, the only copy there will ever be (wipe it with
 * strfreezero), *id its number.
 */
int
store_token_create(struct store *st, const char *account, const char *member, int days,
    char **token, int64_t *id, char **cause)
{
	return store_token_make(st, account, member, days, NULL, 0, token, id, cause);
}

/*
 * Create a token for one tunnel: it logs in once, and opens only port of protocol ("tcp" or
 * "udp"); valid for days. As store_token_create otherwise.
 */
int
store_token_create_once(struct store *st, const char *account, const char *member,
    const char *protocol, int port, int days, char **token, int64_t *id, char **cause)
{
	if (port < 1 || port > 65535) {
		xasprintf(cause, "a one-time token needs a port from 1 to 65535");
		return -1;
	}
	if (store_address_protocol(protocol, cause) != 0)
		return -1;
	return store_token_make(st, account, member, days, protocol, port, token, id, cause);
}

/* Find token id: *out gets it (never its secret), or NULL when there is none. */
int
store_token_find(struct store *st, int64_t id, struct store_token **out, char **cause)
{
	*out = NULL;
	return st->backend->token_find(st, id, out, cause);
}

/* Revoke token id. */
int
store_token_revoke(struct store *st, int64_t id, char **cause)
{
	return st->backend->token_revoke(st, id, cause);
}

/* Look a token up by its hash; with touch, record its use in the same transaction. */
static int
store_token_lookup(struct store *st, const char *secret, int touch, char **account,
    int64_t *id, char **cause)
{
	struct store_hash	 h;
	int			 rc;

	*account = NULL;
	if (!store_token_wellformed(secret)) {
		xasprintf(cause, "not a token");
		return 1;
	}
	if (store_token_hash(secret, &h, cause) != 0)
		return -1;
	rc = st->backend->token_use(st, &h, touch, account, id, cause);
	OPENSSL_cleanse(&h, sizeof h);
	return rc;
}

/*
 * Verify a presented token. Returns 0 when it is valid, with its account in *account (free it)
 * and its id in *id, and records it as used; 1 when it is not (unknown, malformed, revoked or
 * expired; cause says which); -1 on a database error.
 */
int
store_token_verify(struct store *st, const char *secret, char **account, int64_t *id,
    char **cause)
{
	return store_token_lookup(st, secret, 1, account, id, cause);
}

/*
 * Check a token without writing anything (a login still in progress): 0 with *account
 * and *id, 1 when refused (cause says why), -1 on a database error.
 */
int
store_token_check(struct store *st, const char *secret, char **account, int64_t *id,
    char **cause)
{
	return store_token_lookup(st, secret, 0, account, id, cause);
}

/* List every token, by id; never a secret or a hash. */
int
store_token_list(struct store *st, struct store_token ***out, size_t *n, char **cause)
{
	*out = NULL;
	*n = 0;
	return st->backend->token_list(st, out, n, cause);
}

/* Free a token; NULL is a no-op. */
void
store_token_free(struct store_token *t)
{
	store_record_free(t, &store_token_kind);
}

/* Free a list of tokens. */
void
store_token_list_free(struct store_token **v, size_t n)
{
	store_list_free(v, n, &store_token_kind);
}

/* --- keys --------------------------------------------------------------------------------- */

/*
 * Add the public key of an OpenSSH line "TYPE BASE64 [COMMENT]" to a member of account (NULL:
 * the member "owner"); added_by says who ("tunnelgwctl", "register"). *out, when not NULL,
 * gets the new record (free it).
 */
int
store_key_add(struct store *st, const char *account, const char *member, const char *line,
    const char *added_by, struct store_key **out, char **cause)
{
	struct store_key	*k;

	if (out != NULL)
		*out = NULL;
	if (added_by[0] == '\0' || strlen(added_by) > STORE_MAX_ADDED_BY) {
		xasprintf(cause, "added_by must be 1-%d characters", STORE_MAX_ADDED_BY);
		return -1;
	}
	if ((k = store_key_parse(account, line, added_by, cause)) == NULL)
		return -1;
	k->member = xstrdup(member != NULL ? member : STORE_OWNER_MEMBER);
	if (st->backend->key_add(st, k, cause) != 0) {
		store_key_free(k);
		return -1;
	}
	if (out != NULL)
		*out = k;
	else
		store_key_free(k);
	return 0;
}

/* Delete the key with this fingerprint. */
int
store_key_del(struct store *st, const char *fingerprint, char **cause)
{
	return st->backend->key_del(st, fingerprint, cause);
}

/* Find the key with this fingerprint: *out gets it, or NULL when there is none. */
int
store_key_find(struct store *st, const char *fingerprint, struct store_key **out,
    char **cause)
{
	*out = NULL;
	return st->backend->key_find(st, fingerprint, out, cause);
}

/* List every key, by account, then age. */
int
store_key_list(struct store *st, struct store_key ***out, size_t *n, char **cause)
{
	*out = NULL;
	*n = 0;
	return st->backend->key_list(st, out, n, cause);
}

/* Free a key record; NULL is a no-op. */
void
store_key_free(struct store_key *k)
{
	store_record_free(k, &store_key_kind);
}

/* Free a list of key records. */
void
store_key_list_free(struct store_key **v, size_t n)
{
	store_list_free(v, n, &store_key_kind);
}

/* --- reserved addresses ------------------------------------------------------------------- */

/* Is protocol one a reservation may have; else -1 with *cause. */
static int
store_address_protocol(const char *protocol, char **cause)
{
	if (protocol != NULL && (strcmp(protocol, "tcp") == 0 || strcmp(protocol, "udp") == 0))
		return 0;
	xasprintf(cause, "a reserved address is of protocol tcp or udp");
	return -1;
}

/*
 * Reserve a port of protocol for account on node (NULL: any gateway sharing the database):
 * port, or when 0 a random one nobody reserved for that protocol; either within lo-hi (the
 * port_range or udp_port_range). *out gets the port reserved.
 */
int
store_address_reserve(struct store *st, const char *account, const char *protocol,
    const char *node, int port, int lo, int hi, int *out, char **cause)
{
	if (store_address_protocol(protocol, cause) != 0)
		return -1;
	if (node != NULL && store_node_check_name(node, cause) != 0)
		return -1;
	if (lo < 1 || hi > 65535 || lo > hi) {
		xasprintf(cause, "invalid port_range %d-%d", lo, hi);
		return -1;
	}
	if (port != 0 && (port < lo || port > hi)) {
		xasprintf(cause, "port %d is outside %s %d-%d", port,
		    strcmp(protocol, "udp") == 0 ? "udp_port_range" : "port_range", lo, hi);
		return -1;
	}
	return st->backend->address_reserve(st, account, protocol, node, port, lo, hi, out,
	    cause);
}

/* Release the reserved port of protocol. */
int
store_address_release(struct store *st, const char *protocol, int port, char **cause)
{
	if (store_address_protocol(protocol, cause) != 0)
		return -1;
	return st->backend->address_release(st, protocol, port, cause);
}

/* The reservation of port for protocol: *out gets it (with its node), or NULL when none. */
int
store_address_find(struct store *st, const char *protocol, int port, struct store_address **out,
    char **cause)
{
	*out = NULL;
	if (store_address_protocol(protocol, cause) != 0)
		return -1;
	return st->backend->address_find(st, protocol, port, out, cause);
}

/* Who reserved port for protocol: *account gets the name (free it), or NULL when nobody did. */
int
store_address_owner(struct store *st, const char *protocol, int port, char **account,
    char **cause)
{
	struct store_address	*a;

	*account = NULL;
	if (store_address_find(st, protocol, port, &a, cause) != 0)
		return -1;
	if (a != NULL) {
		*account = a->account;
		a->account = NULL;
		store_address_free(a);
	}
	return 0;
}

/* List every reserved address, by port, TCP first. */
int
store_address_list(struct store *st, struct store_address ***out, size_t *n, char **cause)
{
	*out = NULL;
	*n = 0;
	return st->backend->address_list(st, out, n, cause);
}

/* Free an address; NULL is a no-op. */
void
store_address_free(struct store_address *a)
{
	store_record_free(a, &store_address_kind);
}

/* Free a list of addresses. */
void
store_address_list_free(struct store_address **v, size_t n)
{
	store_list_free(v, n, &store_address_kind);
}

/* --- logins ------------------------------------------------------------------------------- */

/*
 * What the login of token id (fingerprint NULL) or of the key with fingerprint acts as: *out
 * gets it, or NULL when no member holds that token or key. One query, no counts: what every
 * login and every check of a session after a change reads.
 */
int
store_login_find(struct store *st, int64_t id, const char *fingerprint,
    struct store_login **out, char **cause)
{
	*out = NULL;
	return st->backend->login_find(st, id, fingerprint, out, cause);
}

/* Free a login; NULL is a no-op. */
void
store_login_free(struct store_login *l)
{
	store_record_free(l, &store_login_kind);
}

/* --- gateways sharing the database -------------------------------------------------------- */

/* Is name a valid node name: 1-64 characters of A-Z a-z 0-9 . _ - ? */
int
store_node_check_name(const char *name, char **cause)
{
	char	 q[LOG_QUOTE_SIZE];
	size_t	 len = strnlen(name, STORE_MAX_NODE + 1);

	if (len == 0 || len > STORE_MAX_NODE || strspn(name,
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") != len) {
		xasprintf(cause, "node name '%s' is not 1-%d characters of A-Z a-z 0-9 . _ -",
		    log_quote(name, q), STORE_MAX_NODE);
		return -1;
	}
	return 0;
}

/* Does the backend keep a list of live tunnels that gateways share? */
int
store_shared(struct store *st)
{
	return st->backend->node_sync != NULL;
}

/*
 * Node n joins: its row is made, or taken over from a run whose lease ran out or from this
 * run, with a lease of n->lease seconds; the live tunnels listed under its name before (a
 * restart) are dropped, and *number gets its number. 1, with *cause naming the holder, when
 * another run of that name holds the row and its lease. Without shared state, *number is 0.
 */
int
store_node_join(struct store *st, const struct store_node *n, int64_t *number, char **cause)
{
	*number = 0;
	if (!store_shared(st))
		return 0;
	if (store_node_check_name(n->name, cause) != 0)
		return -1;
	return st->backend->node_join(st, n, number, cause);
}

/*
 * One sync of node n: renew its lease, add its new live tunnels, drop the gone
 * ids, write the counts of the changed ones and its counts by account that moved (account,
 * tunnels, conns of counts), and drop the nodes whose lease ran out with their tunnels.
 * *close gets the ids of its tunnels another node asked to close. 1 when the node's row was
 * gone or another run's (its lease ran out meanwhile): join again and list every tunnel.
 */
int
store_node_sync(struct store *st, const struct store_node *n, struct store_live **add,
    size_t nadd, const int64_t *gone, size_t ngone, struct store_live **changed,
    size_t nchanged, struct store_live_count **counts, size_t ncounts, int64_t **close,
    size_t *nclose, char **cause)
{
	*close = NULL;
	*nclose = 0;
	if (!store_shared(st))
		return 0;
	return st->backend->node_sync(st, n, add, nadd, gone, ngone, changed, nchanged,
	    counts, ncounts, close, nclose, cause);
}

/* Node n leaves (a clean stop): its row, if this run holds it, and its live tunnels go. */
int
store_node_leave(struct store *st, const struct store_node *n, char **cause)
{
	if (!store_shared(st))
		return 0;
	return st->backend->node_leave(st, n, cause);
}

/* The live tunnels of every node whose lease holds (of account, when not NULL), by node, id. */
int
store_live_list(struct store *st, const char *account, struct store_live ***out, size_t *n,
    char **cause)
{
	*out = NULL;
	*n = 0;
	if (!store_shared(st)) {
		*out = xcalloc(1, sizeof **out);
		return 0;
	}
	return st->backend->live_list(st, account, out, n, cause);
}

/*
 * The counts by account of the live nodes other than node name that changed after change
 * number after: *last gets the highest number read (after, when none). *sig gets a new string
 * that names those nodes; when it differs from known (NULL: none known), every count is read,
 * not only the changed ones, and *reset is set.
 */
int
store_live_counts(struct store *st, const char *name, const char *known, int64_t after,
    struct store_live_count ***out, size_t *n, int64_t *last, char **sig, int *reset,
    char **cause)
{
	*out = NULL;
	*n = 0;
	*last = after;
	*sig = NULL;
	*reset = 0;
	if (!store_shared(st)) {
		*out = xcalloc(1, sizeof **out);
		*sig = xstrdup("");
		return 0;
	}
	return st->backend->live_counts(st, name, known, after, out, n, last, sig, reset, cause);
}

/* Ask the node that holds live tunnel id to close it; -1 when no node holds it. */
int
store_live_close(struct store *st, int64_t id, char **cause)
{
	if (!store_shared(st)) {
		xasprintf(cause, "no live tunnel %lld", (long long)id);
		return -1;
	}
	return st->backend->live_close(st, id, cause);
}

/* Free a live tunnel; NULL is a no-op. */
void
store_live_free(struct store_live *l)
{
	store_record_free(l, &store_live_kind);
}

/* Free a list of live tunnels. */
void
store_live_list_free(struct store_live **v, size_t n)
{
	store_list_free(v, n, &store_live_kind);
}

/* Free a list of counts. */
void
store_live_counts_free(struct store_live_count **v, size_t n)
{
	store_list_free(v, n, &store_live_count_kind);
}

/* --- events ------------------------------------------------------------------------------- */

/*
 * Add a batch of n events in one transaction, then delete those older than before (Unix
 * seconds; 0 keeps any age) and all but the newest max_rows (0 or less: no bound). Waits at
 * most STORE_EVENT_BUSY ms for another writer: the daemon's main thread calls this, and
 * keeps the batch to try again when the database is busy. Does not count as a change the
 * daemon must notice.
 */
int
store_event_add(struct store *st, const struct store_event *ev, size_t n, int64_t before,
    int64_t max_rows, char **cause)
{
	return st->backend->event_add(st, ev, n, before, max_rows, cause);
}

/* List the newest limit events, newest first; only account's when account is not NULL. */
int
store_event_list(struct store *st, const char *account, int limit, struct store_event ***out,
    size_t *n, char **cause)
{
	struct store_event_filter	 f = { account, NULL, NULL, 0, 0, 0, limit };

	return store_event_query(st, &f, out, n, cause);
}

/*
 * List the newest events that pass filter f, newest first, at most f->limit of them; the
 * last one's id is the cursor (f->before) of the next page.
 */
int
store_event_query(struct store *st, const struct store_event_filter *f,
    struct store_event ***out, size_t *n, char **cause)
{
	*out = NULL;
	*n = 0;
	return st->backend->event_list(st, f, out, n, cause);
}

/* Free an event; NULL is a no-op. */
void
store_event_free(struct store_event *e)
{
	store_record_free(e, &store_event_kind);
}

/* Free a list of events. */
void
store_event_list_free(struct store_event **v, size_t n)
{
	store_list_free(v, n, &store_event_kind);
}
