/* SPDX-License-Identifier: ISC */
/* tunnelgw: the PostgreSQL backend's tokens and API keys: hashes only, never a secret. */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>

#include <libpq-fe.h>
#include <openssl/crypto.h>

#include "pg-int.h"
#include "xmalloc.h"

/* A token record, a column per field (store_token_kind). */
#define STORE_PG_TOKEN_SELECT \
	"SELECT t.id, t.account, t.created, t.expires, t.revoked, t.last_used, m.name, t.port," \
	" t.once, CASE WHEN t.port IS NULL THEN NULL ELSE coalesce(t.protocol, 'tcp') END" \
	" FROM tokens t LEFT JOIN members m ON m.id = t.member"

/* An API key record, a column per field (store_apikey_kind). */
#define STORE_PG_APIKEY_SELECT \
	"SELECT p.id, m.account, m.name, m.role, p.created, p.revoked, p.last_used" \
	" FROM apikeys p LEFT JOIN members m ON m.id = p.member"

/* Within a transaction: run an INSERT ... RETURNING id, and *id gets it. */
static int
store_pg_insert_id(struct store *st, const char *sql, const struct store_pg_args *a,
    int64_t *id, char **cause)
{
	PGresult	*r;

	if ((r = store_pg_exec(st, sql, a, cause)) == NULL)
		return -1;
	*id = store_pg_col_int(r, 0, 0, 0);
	PQclear(r);
	return 0;
}

/*
 * Add a token of member of account by its hash, bound to port of protocol (0: any) and to
 * one login when once is set; *id gets its number.
 */
int
store_pg_token_add(struct store *st, const char *account, const char *member,
    const struct store_hash *h, int64_t created, int64_t expires, const char *protocol,
    int port, int once, int64_t *id, char **cause)
{
	struct store_pg_args	 a = { 0 };
	int64_t			 mid;

	if (store_pg_begin(st, cause) != 0)
		return -1;
	if (store_pg_member_id(st, account, member, &mid, NULL, cause) != 0)
		return store_pg_abort(st);
	store_pg_text(&a, account);
	store_pg_int(&a, h->lookup);
	store_pg_hash(&a, h->hash);
	store_pg_int(&a, created);
	store_pg_int_none(&a, expires, 0);
	store_pg_int(&a, mid);
	store_pg_int_none(&a, port, 0);
	store_pg_int(&a, once != 0);
	store_pg_text(&a, port != 0 ? protocol : NULL);
	if (store_pg_insert_id(st, "INSERT INTO tokens (account, lookup, hash, created, expires, "
	    "member, port, once, protocol) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) "
	    "RETURNING id", &a, id, cause) != 0)
		return store_pg_abort(st);
	return store_pg_commit(st, 0, cause);
}

/* Revoke token id. */
int
store_pg_token_revoke(struct store *st, int64_t id, char **cause)
{
	struct store_pg_args	 a = { 0 };
	PGresult		*r;
	char			*account;
	int			 found, revoked, rc;

	if (store_pg_begin(st, cause) != 0)
		return -1;
	store_pg_int(&a, id);
	if ((r = store_pg_exec(st, "SELECT revoked, account FROM tokens WHERE id = $1", &a,
	    cause)) == NULL)
		return store_pg_abort(st);
	found = PQntuples(r) > 0;
	revoked = found && !PQgetisnull(r, 0, 0);
	account = found ? store_pg_col_text(r, 0, 1) : NULL;
	PQclear(r);
	if (!found || revoked) {
		if (!found)
			xasprintf(cause, "no token with id %lld", (long long)id);
		else
			xasprintf(cause, "token %lld is already revoked", (long long)id);
		free(account);
		return store_pg_abort(st);
	}
	store_pg_int(&a, store_now());
	if (store_pg_do(st, "UPDATE tokens SET revoked = $2 WHERE id = $1", &a, cause) < 0) {
		free(account);
		return store_pg_abort(st);
	}
	rc = store_pg_commit_change(st, 'a', account, cause);
	free(account);
	return rc;
}

/*
 * Find the token whose hash is h among those sharing its lookup number. The number only
 * narrows the search; the full hashes are compared in constant time with CRYPTO_memcmp.
 */
static int
store_pg_token_match(struct store *st, const struct store_hash *h, struct store_match *m,
    char **cause)
{
	struct store_pg_args	 a = { 0 };
	unsigned char		 cand[STORE_HASH_LEN];
	PGresult		*r;
	int			 i;

	store_pg_int(&a, h->lookup);
	if ((r = store_pg_exec(st, "SELECT id, account, encode(hash, 'hex'), expires, revoked, "
	    "once, last_used FROM tokens WHERE lookup = $1 AND member IS NOT NULL", &a,
	    cause)) == NULL)
		return -1;
	for (i = 0; i < PQntuples(r); i++) {
		if (store_pg_col_hash(r, i, 2, cand) != 0 ||
		    CRYPTO_memcmp(cand, h->hash, STORE_HASH_LEN) != 0 || m->account != NULL)
			continue;
		m->id = store_pg_col_int(r, i, 0, 0);
		m->account = store_pg_col_text(r, i, 1);
		m->expires = store_pg_col_int(r, i, 3, 0);
		m->revoked = store_pg_col_int(r, i, 4, 0);
		m->once = (int)store_pg_col_int(r, i, 5, 0);
		m->last_used = store_pg_col_int(r, i, 6, 0);
	}
	PQclear(r);
	return 0;
}

/*
 * Look a token up by its hash: 0 with *account (free it) and *id when it may be used, 1 when
 * not (cause says why), -1 on error. With touch, record its use in a write transaction, so
 * that a one-time token is spent once on every node; without, write nothing.
 */
int
store_pg_token_use(struct store *st, const struct store_hash *h, int touch, char **account,
    int64_t *id, char **cause)
{
	struct store_match	 m = { 0, NULL, 0, 0, 0, 0 };
	struct store_pg_args	 a = { 0 };
	int64_t			 now = store_now();
	int			 rc = -1;

	if (touch && store_pg_begin(st, cause) != 0)
		return -1;
	if (store_pg_token_match(st, h, &m, cause) != 0)
		goto abort;
	if ((rc = store_token_usable(&m, now, cause)) != 0)
		goto abort;
	if (touch) {
		store_pg_int(&a, m.id);
		store_pg_int(&a, now);
		if (store_pg_do(st, "UPDATE tokens SET last_used = $2 WHERE id = $1", &a,
		    cause) < 0 || store_pg_commit(st, 0, cause) != 0) {
			rc = -1;
			goto abort;
		}
	}
	*account = m.account;
	*id = m.id;
	return 0;

abort:
	store_pg_rollback(st);
	free(m.account);
	return rc;
}

/* Find token id: *out gets it, or NULL when there is none. */
int
store_pg_token_find(struct store *st, int64_t id, struct store_token **out, char **cause)
{
	struct store_pg_args	 a = { 0 };
	void			*t;

	store_pg_int(&a, id);
	if (store_pg_one(st, STORE_PG_TOKEN_SELECT " WHERE t.id = $1", &a, &store_token_kind, &t,
	    cause) != 0)
		return -1;
	*out = t;
	return 0;
}

/* List every token, by id. */
int
store_pg_token_list(struct store *st, struct store_token ***out, size_t *n, char **cause)
{
	*out = store_pg_collect(st, STORE_PG_TOKEN_SELECT " ORDER BY t.id", NULL,
	    &store_token_kind, n, cause);
	return *out != NULL ? 0 : -1;
}

/* Add an API key by its hash for member of account, or with both NULL for the operator. */
int
store_pg_apikey_add(struct store *st, const char *account, const char *member,
    const struct store_hash *h, int64_t *id, char **cause)
{
	struct store_pg_args	 a = { 0 };
	int64_t			 mid = 0;

	if (store_pg_begin(st, cause) != 0)
		return -1;
	if (account != NULL && store_pg_member_id(st, account, member, &mid, NULL, cause) != 0)
		return store_pg_abort(st);
	store_pg_int_none(&a, mid, 0);
	store_pg_int(&a, h->lookup);
	store_pg_hash(&a, h->hash);
	store_pg_int(&a, store_now());
	if (store_pg_insert_id(st, "INSERT INTO apikeys (member, lookup, hash, created) "
	    "VALUES ($1, $2, $3, $4) RETURNING id", &a, id, cause) != 0)
		return store_pg_abort(st);
	return store_pg_commit(st, 0, cause);
}

/* Revoke API key id. */
int
store_pg_apikey_revoke(struct store *st, int64_t id, char **cause)
{
	struct store_pg_args	 a = { 0 };
	int			 rc;

	if (store_pg_begin(st, cause) != 0)
		return -1;
	store_pg_int(&a, id);
	if ((rc = store_pg_exists(st, "SELECT 1 FROM apikeys WHERE id = $1", &a, cause)) != 1) {
		if (rc == 0)
			xasprintf(cause, "no API key with id %lld", (long long)id);
		return store_pg_abort(st);
	}
	store_pg_int(&a, store_now());
	if ((rc = store_pg_do(st, "UPDATE apikeys SET revoked = $2 WHERE id = $1 AND "
	    "revoked IS NULL", &a, cause)) < 0)
		return store_pg_abort(st);
	if (rc == 0) {
		xasprintf(cause, "API key %lld is already revoked", (long long)id);
		return store_pg_abort(st);
	}
	return store_pg_commit(st, 0, cause);
}

/*
 * Look an API key up by its hash: 0 with its record when it may be used (and its use
 * recorded), 1 when not (cause says why), -1 on error. The lookup number only narrows the
 * search; the full hashes are compared in constant time.
 */
int
store_pg_apikey_use(struct store *st, const struct store_hash *h, struct store_apikey **out,
    char **cause)
{
	struct store_pg_args	 a = { 0 };
	unsigned char		 cand[STORE_HASH_LEN];
	PGresult		*r;
	int64_t			 id = 0, revoked = 0;
	void			*k;
	char			*why = NULL;
	int			 i;

	store_pg_int(&a, h->lookup);
	if ((r = store_pg_exec(st, "SELECT id, encode(hash, 'hex'), revoked FROM apikeys "
	    "WHERE lookup = $1", &a, cause)) == NULL)
		return -1;
	for (i = 0; i < PQntuples(r); i++) {
		if (store_pg_col_hash(r, i, 1, cand) != 0 ||
		    CRYPTO_memcmp(cand, h->hash, STORE_HASH_LEN) != 0 || id != 0)
			continue;
		id = store_pg_col_int(r, i, 0, 0);
		revoked = store_pg_col_int(r, i, 2, 0);
	}
	PQclear(r);
	if (id == 0 || revoked != 0) {
		xasprintf(cause, id == 0 ? "unknown API key" : "API key %lld was revoked",
		    (long long)id);
		return 1;
	}
	/* The last use is a hint: a busy database does not refuse the request. */
	a.n = 0;
	store_pg_int(&a, id);
	store_pg_int(&a, store_now());
	if (store_pg_do(st, "UPDATE apikeys SET last_used = $2 WHERE id = $1", &a, &why) < 0)
		free(why);
	a.n = 1;
	if (store_pg_one(st, STORE_PG_APIKEY_SELECT " WHERE p.id = $1", &a, &store_apikey_kind,
	    &k, cause) != 0)
		return -1;
	if ((*out = k) == NULL) {
		xasprintf(cause, "unknown API key");
		return 1;
	}
	return 0;
}

/* List the API keys of account (NULL: every one), by id. */
int
store_pg_apikey_list(struct store *st, const char *account, struct store_apikey ***out,
    size_t *n, char **cause)
{
	struct store_pg_args	 a = { 0 };

	if (account != NULL && store_pg_account_need(st, account, cause) != 0)
		return -1;
	store_pg_text(&a, account);
	*out = store_pg_collect(st, STORE_PG_APIKEY_SELECT " WHERE $1::text IS NULL OR "
	    "m.account = $1 ORDER BY p.id", &a, &store_apikey_kind, n, cause);
	return *out != NULL ? 0 : -1;
}
