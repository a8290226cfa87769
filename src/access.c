/* SPDX-License-Identifier: ISC */
/*
 * tunnelgw: the account store as the workers see it. Each worker has its own SQLite
 * connection (a connection is never shared between threads). Logins and forward requests
 * read it: indexed reads in WAL mode, which never wait for a writer. The only writes are a
 * token's last use and `register`, both rare, bounded by a short busy timeout.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "access.h"
#include "auth.h"
#include "client.h"
#include "log.h"
#include "sshgw.h"
#include "store.h"
#include "xmalloc.h"

static _Thread_local struct store *access_store;
static _Thread_local const struct keyfile *access_keys;
static const struct policy *access_policy;	/* the daemon's, set before workers start */

/* The policy every grant starts from; it outlives them all. */
void
access_setup(const struct policy *pol)
{
	access_policy = pol;
}

/* Give this thread the keys file its logins use (NULL: none). */
void
access_thread_keys(const struct keyfile *keys)
{
	access_keys = keys;
}

/* Give this thread its store connection (NULL: no database, every lookup refuses). */
void
access_thread_store(struct store *st)
{
	access_store = st;
}

/* Log a database error once per occurrence, without failing the caller harder than a refusal. */
static void
access_db_error(const char *what, char *cause)
{
	log_warn("%s: %s", what, cause != NULL ? cause : "database error");
	free(cause);
}

/* Does the stored key line hold exactly this public key. */
static int
access_same_key(const char *line, ssh_key key)
{
	struct keyent	*ke = NULL;
	char		*cause = NULL;
	int		 same;

	if (keys_parse_line(line, &ke, &cause) != 0) {
		free(cause);
		return 0;
	}
	same = ssh_key_cmp(ke->key, key, SSH_KEY_CMP_PUBLIC) == 0;
	keyent_free(ke);
	return same;
}

/*
 * The account of a key kept in the database: 0 with it and the key's fingerprint (new
 * strings), 1 when nobody has the key, -1 on a database error.
 */
static int
access_key_lookup(ssh_key key, char **account, char **fingerprint)
{
	struct store_key	*k = NULL;
	char			*fp, *cause = NULL;

	if (access_store == NULL)
		return 1;
	if ((fp = keys_fingerprint(key)) == NULL)
		fp = xstrdup("?");
	if (store_key_find(access_store, fp, &k, &cause) != 0) {
		access_db_error("key lookup", cause);
		free(fp);
		return -1;
	}
	if (k == NULL || !access_same_key(k->key, key)) {
		store_key_free(k);
		free(fp);
		return 1;
	}
	*account = xstrdup(k->account);
	*fingerprint = fp;
	store_key_free(k);
	return 0;
}

/*
 * Check a token: 0 with its account (a new string) and id, 1 when refused with *reason,
 * -1 on a database error; with touch, record its use (the login is decided).
 */
static int
access_token_check(const char *token, int touch, char **account, long long *id,
    char **reason)
{
	int64_t	 tid;
	int	 rc;

	*reason = NULL;
	if (access_store == NULL || !store_token_wellformed(token)) {
		*reason = xstrdup("not a token");
		return 1;
	}
	if (touch)
		rc = store_token_verify(access_store, token, account, &tid, reason);
	else
		rc = store_token_check(access_store, token, account, &tid, reason);
	if (rc == 0)
		*id = tid;
	return rc;
}

/* sshgw hook: `register`: add the session's key to its token's account. */
int
access_register_key(struct sshgw_session *s, char **msg)
{
	struct client		*c = client_of(s);
	struct store_key	*k = NULL;
	ssh_key			 key = c != NULL ? c->key : NULL;
	char			*b64 = NULL, *line, *cause = NULL;
	int			 rc = -1;

	if (c == NULL || c->grant == NULL || c->grant->how != GRANT_TOKEN) {
		xasprintf(msg, "register: log in with a token to register a key");
		return -1;
	}
	if (key == NULL) {
		xasprintf(msg, "register: no key was used to log in; run ssh -i YOUR_KEY "
		    "TOKEN@gateway register");
		return -1;
	}
	if (access_store == NULL || ssh_pki_export_pubkey_base64(key, &b64) != SSH_OK) {
		xasprintf(msg, "register: the account store is not available");
		return -1;
	}
	xasprintf(&line, "%s %s", ssh_key_type_to_char(ssh_key_type(key)), b64);
	ssh_string_free_char(b64);
	if (store_key_add(access_store, c->grant->account, c->grant->member, line, "register", &k,
	    &cause) != 0) {
		xasprintf(msg, "register: %s", cause);
		free(cause);
	} else {
		xasprintf(msg, "registered key %s for account %s", k->fingerprint, k->account);
		log_info("session %llu: %s", sshgw_session_id(s), *msg);
		rc = 0;
	}
	store_key_free(k);
	free(line);
	return rc;
}

/* The tunnel limit an account has in the store, or -1 when it has none (or is not there). */
static int
access_account_max_tunnels(const char *account)
{
	struct store_account	*a = NULL;
	char			*cause = NULL;
	int			 n;

	if (access_store == NULL)
		return -1;
	if (store_account_find(access_store, account, &a, &cause) != 0) {
		access_db_error("account lookup", cause);
		return -1;
	}
	n = a != NULL ? a->max_tunnels : -1;
	store_account_free(a);
	return n;
}

/*
 * Give grant g what the database login it came from (its token, GRANT_TOKEN, or its key's
 * fingerprint) acts as now: its member's name and role, its account's limits, its token's
 * port. One query (store_login_find). 0; 1 when the store has no such member for the grant's
 * account, or the token no longer works (the login must not stand); -1 when the store cannot
 * say.
 */
static int
access_member(struct grant *g, long long token_id, const char *fp)
{
	struct store_login	*l = NULL;
	struct grant_member	 gm;
	enum role		 role, raw = 0;
	char			*cause = NULL;
	int			 rc = 1;

	if (access_store == NULL)
		return 1;
	if (store_login_find(access_store, g->how == GRANT_TOKEN ? token_id : 0,
	    g->how == GRANT_TOKEN ? NULL : fp, &l, &cause) != 0) {
		access_db_error("member lookup", cause);
		return -1;
	}
	if (l != NULL && l->active && strcmp(l->account, g->account) == 0 &&
	    role_parse(l->role, &role) == 0 &&
	    (l->create_raw_tunnel == NULL || role_parse(l->create_raw_tunnel, &raw) == 0)) {
		gm.name = l->member;
		gm.role = role;
		gm.raw_tunnel_role = raw;
		gm.max_tunnels = l->max_tunnels;
		gm.max_connections = l->max_connections;
		gm.token_port = l->port;
		gm.token_proto = l->protocol != NULL && strcmp(l->protocol, "udp") == 0 ?
		    GRANT_UDP : GRANT_TCP;
		grant_set_member(g, &gm);
		rc = 0;
	}
	store_login_free(l);
	return rc;
}

/*
 * This gateway's name among those sharing a database, for reservations that belong to one
 * (NULL: not shared). Set before the workers start; a copy.
 */
static char *access_node;

/* Say which gateway this is (see access_node). */
void
access_set_node(const char *node)
{
	free(access_node);
	access_node = node != NULL ? xstrdup(node) : NULL;
}

/*
 * Who reserved port for proto: 0 with *owner the account (a new string) or NULL when nobody
 * did; -1 when the store cannot say (a forward must then be refused, not granted blindly).
 * When the reservation belongs to another gateway, *elsewhere (a new string, else NULL)
 * says which and where to connect.
 */
int
access_port_owner(enum grant_proto proto, int port, char **owner, char **elsewhere)
{
	struct store_address	*a = NULL;
	char			*cause = NULL;

	*owner = NULL;
	if (elsewhere != NULL)
		*elsewhere = NULL;
	if (access_store == NULL || port == 0)
		return 0;
	if (store_address_find(access_store, grant_proto_name(proto), port, &a, &cause) != 0) {
		access_db_error("reserved port lookup", cause);
		return -1;
	}
	if (a == NULL)
		return 0;
	*owner = a->account;
	a->account = NULL;
	if (elsewhere != NULL && a->node != NULL && access_node != NULL &&
	    strcmp(a->node, access_node) != 0)
		xasprintf(elsewhere, "%s port %d is reserved for this account on gateway %s: "
		    "connect to %s instead", grant_proto_name(proto), port, a->node,
		    a->host != NULL ? a->host : a->node);
	store_address_free(a);
	return 0;
}

/* Mark every reserved port in a 65536-bit map; 0, or -1 when the store cannot say. */
int
access_reserved_ports(enum grant_proto proto, uint8_t *bits)
{
	struct store_address	**a = NULL;
	size_t			  n = 0, i;
	char			 *cause = NULL;

	memset(bits, 0, 65536 / 8);
	if (access_store == NULL)
		return 0;
	if (store_address_list(access_store, &a, &n, &cause) != 0) {
		access_db_error("reserved ports", cause);
		return -1;
	}
	for (i = 0; i < n; i++) {
		if (strcmp(a[i]->protocol, grant_proto_name(proto)) == 0 &&
		    a[i]->port > 0 && a[i]->port < 65536)
			bits[a[i]->port / 8] |= (uint8_t)(1u << (a[i]->port % 8));
	}
	store_address_list_free(a, n);
	return 0;
}

/*
 * After the store changed: NULL when the client's login still stands, else why it does
 * not (its token revoked or expired, its key, member or account deleted). A login that
 * stands takes its member's role and its account's limits as they are now.
 */
const char *
access_still_allowed(const struct client *c)
{
	if (access_store == NULL || c->grant == NULL)
		return NULL;
	switch (c->grant->how) {
	case GRANT_TOKEN:
		/* A store that cannot say leaves the session as it is. */
		if (access_member(c->grant, c->token_id, NULL) != 1)
			return NULL;
		return "your token was revoked, has expired, or its account or member was deleted";
	case GRANT_DBKEY:
		if (access_member(c->grant, 0, c->fingerprint) != 1)
			return NULL;
		return "your key was deleted or moved to another account, or its account was "
		    "deleted";
	default:
		return NULL;
	}
}

/*
 * The keys file was reloaded: a client that logged in with a key of the old file keeps its
 * tunnels if the new file still has that key for the same account, from where the client
 * connects (its grant then reads the new line's options); NULL, or why it must close.
 */
const char *
access_rekey(struct client *c, const struct keyfile *keys)
{
	const struct keyent	*ke;

	if (c->grant == NULL || c->grant->how != GRANT_KEYFILE || c->key == NULL)
		return NULL;
	ke = keys != NULL ? keyfile_find(keys, c->key) : NULL;
	if (ke == NULL)
		return "your key was removed from the keys file";
	if (strcmp(ke->account, c->grant->account) != 0)
		return "your key now belongs to another account";
	if (!grant_login_from(&ke->opts, (const struct sockaddr *)&c->peer))
		return "your key may no longer connect from this address (from=)";
	grant_set_key(c->grant, &ke->opts);
	return NULL;
}

/* A user name fit for the log: never a token (anything token-like is not shown). */
static const char *
access_loggable(const char *user)
{
	size_t	 i, len = strlen(user);

	if (len > 32 || grant_names_token(user))
		return "(not shown)";
	for (i = 0; i < len; i++) {
		if ((unsigned char)user[i] < 0x20 || (unsigned char)user[i] > 0x7e)
			return "(not shown)";
	}
	return user;
}

/*
 * The login is decided: the client's record takes its grant (with the key line's options,
 * or NULL, or the store's member), the verdict its account. -1 when a database login has
 * no member to act as: the login fails.
 */
static int
access_accept(struct client *c, const char *account, enum grant_how how,
    const struct keyopts *opts, long long token_id, const char *fp, ssh_key key,
    struct sshgw_verdict *v)
{
	struct grant	*g;

	if (how == GRANT_KEYFILE)
		g = grant_create(access_policy, account, how, opts,
		    access_account_max_tunnels(account));
	else {
		g = grant_create(access_policy, account, how, NULL, -1);
		if (access_member(g, token_id, fp) != 0) {
			grant_release(g);
			xasprintf(&v->log, "%s of account '%s' belongs to no member of it",
			    how == GRANT_TOKEN ? "token" : "key", account);
			return -1;
		}
	}
	v->account = xstrdup(account);
	client_logged_in(c, g, token_id, fp, key);
	return 0;
}

/*
 * A secret (a token) given as user name with a key, as password or as answer: it decides
 * the account. A refused secret that looks like a token is explained once a session: why
 * it no longer works (revoked, expired). The secret itself is never logged.
 */
static int
access_login_token(struct client *c, const struct sshgw_login *req, const char *secret,
    struct sshgw_verdict *v)
{
	char		*account = NULL, *reason = NULL, *fp;
	long long	 id;
	int		 rc;

	if ((rc = access_token_check(secret, req->decide, &account, &id, &reason)) != 0) {
		if (grant_names_token(secret)) {
			v->once = 1;
			xasprintf(&v->log, "token refused: %s",
			    reason != NULL ? reason : "database error");
			/* The client is told why, but not where the database is. */
			v->tell = xstrdup(rc == 1 && reason != NULL ? reason : "the gateway "
			    "cannot check tokens now (its database does not answer); try again "
			    "in a moment");
		}
		free(reason);
		return 1;
	}
	if (!req->decide) {
		free(account);
		return 0;
	}
	fp = req->key != NULL ? keys_fingerprint(req->key) : NULL;
	if (req->key != NULL && fp == NULL)
		fp = xstrdup("?");
	if (access_accept(c, account, GRANT_TOKEN, NULL, id, fp, req->key, v) != 0) {
		free(fp);
		free(account);
		return 1;
	}
	if (req->method == SSHGW_LOGIN_PUBKEY)
		xasprintf(&v->how, "with token %lld (key %s)", id, fp);
	else
		v->how = xstrdup(req->method == SSHGW_LOGIN_PASSWORD ?
		    "with a token as password" : "with a token (keyboard-interactive)");
	free(fp);
	free(account);
	return 0;
}

/* A key of the keys file, with its from= option. */
static int
access_login_keyfile(struct client *c, const struct keyent *ke,
    const struct sshgw_login *req, struct sshgw_verdict *v)
{
	if (!grant_login_from(&ke->opts, (const struct sockaddr *)&c->peer)) {
		xasprintf(&v->log, "key %s (line %d) is not allowed from this address (from=)",
		    ke->fingerprint, ke->line);
		return 1;
	}
	if (!req->decide)
		return 0;
	(void)access_accept(c, ke->account, GRANT_KEYFILE, &ke->opts, 0, ke->fingerprint,
	    req->key, v);
	xasprintf(&v->how, "with %s key %s", ke->type, ke->fingerprint);
	return 0;
}

/* A key that is not in the keys file: the database's, or none that we know. */
static int
access_login_dbkey(struct client *c, const struct sshgw_login *req, struct sshgw_verdict *v)
{
	char	*account = NULL, *fp = NULL;

	if (access_key_lookup(req->key, &account, &fp) != 0) {
		if (!req->decide)
			xasprintf(&v->log, "unknown key offered for user '%s'",
			    access_loggable(req->user));
		return 1;
	}
	if (req->decide &&
	    access_accept(c, account, GRANT_DBKEY, NULL, 0, fp, req->key, v) != 0) {
		free(account);
		free(fp);
		return 1;
	}
	if (req->decide)
		xasprintf(&v->how, "with database key %s", fp);
	free(account);
	free(fp);
	return 0;
}

/*
 * sshgw hook: a login attempt. A user name that names a token lets the token decide,
 * whatever key the client proves (one of the keys file or the database included; the key
 * is kept for `register`); else a key of the keys file, else one of the database. A
 * password or keyboard-interactive answer is a token.
 */
int
access_login(struct sshgw_session *s, const struct sshgw_login *req, struct sshgw_verdict *v)
{
	struct client		*c = client_of(s);
	const struct keyent	*ke;

	if (c == NULL)
		return 1;
	if (req->method != SSHGW_LOGIN_PUBKEY)
		return access_login_token(c, req, req->secret, v);
	if (grant_names_token(req->user))
		return access_login_token(c, req, req->user, v);
	ke = access_keys != NULL ? keyfile_find(access_keys, req->key) : NULL;
	if (ke != NULL)
		return access_login_keyfile(c, ke, req, v);
	return access_login_dbkey(c, req, v);
}
