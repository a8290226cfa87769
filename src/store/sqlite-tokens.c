/* SPDX-License-Identifier: ISC */
/* tunnelgw: the SQLite backend's tokens table: hashes only, never a secret. */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>

#include <openssl/crypto.h>
#include <sqlite3.h>

#include "sqlite-int.h"
#include "xmalloc.h"

/* Bind a time, 0 as NULL. */
static int
store_sqlite_token_bind_time(sqlite3_stmt *stmt, int col, int64_t t)
{
	if (t == 0)
		return sqlite3_bind_null(stmt, col);
	return sqlite3_bind_int64(stmt, col, t);
}

/*
 * Add a token of member of account by its hash, bound to port of protocol (0: any) and to
 * one login when once is set; *id gets its number.
 */
int
store_sqlite_token_add(struct store *st, const char *account, const char *member,
    const struct store_hash *h, int64_t created, int64_t expires, const char *protocol,
    int port, int once, int64_t *id, char **cause)
{
	sqlite3_stmt	*stmt;
	int64_t		 mid;

	if (store_sqlite_begin(st, cause) != 0)
		return -1;
	if (store_sqlite_member_id(st, account, member, &mid, NULL, cause) != 0 ||
	    store_sqlite_prepare(st, "INSERT INTO tokens (account, lookup, hash, created, "
	    "expires, member, port, once, protocol) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
	    &stmt, cause) != 0)
		return store_sqlite_abort(st);
	sqlite3_bind_int64(stmt, 6, mid);
	if (port != 0) {
		sqlite3_bind_int(stmt, 7, port);
		sqlite3_bind_text(stmt, 9, protocol, -1, SQLITE_TRANSIENT);
	} else {
		sqlite3_bind_null(stmt, 7);
		sqlite3_bind_null(stmt, 9);
	}
	sqlite3_bind_int(stmt, 8, once != 0);
	sqlite3_bind_text(stmt, 1, account, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(stmt, 2, h->lookup);
	sqlite3_bind_blob(stmt, 3, h->hash, sizeof h->hash, SQLITE_TRANSIENT);
	sqlite3_bind_int64(stmt, 4, created);
	store_sqlite_token_bind_time(stmt, 5, expires);
	if (store_sqlite_done(st, stmt, cause) != 0)
		return store_sqlite_abort(st);
	*id = sqlite3_last_insert_rowid(store_sqlite_of(st)->db);
	return store_sqlite_commit(st, 0, cause);
}

/* Revoke token id. */
int
store_sqlite_token_revoke(struct store *st, int64_t id, char **cause)
{
	sqlite3_stmt	*stmt;
	int		 rc, revoked = 0;

	if (store_sqlite_begin(st, cause) != 0)
		return -1;
	if (store_sqlite_prepare(st, "SELECT revoked FROM tokens WHERE id = ?1", &stmt,
	    cause) != 0)
		return store_sqlite_abort(st);
	sqlite3_bind_int64(stmt, 1, id);
	if ((rc = sqlite3_step(stmt)) == SQLITE_ROW)
		revoked = sqlite3_column_type(stmt, 0) != SQLITE_NULL;
	sqlite3_finalize(stmt);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		store_sqlite_error(st, rc, cause);
		return store_sqlite_abort(st);
	}
	if (rc == SQLITE_DONE || revoked) {
		if (rc == SQLITE_DONE)
			xasprintf(cause, "no token with id %lld", (long long)id);
		else
			xasprintf(cause, "token %lld is already revoked", (long long)id);
		return store_sqlite_abort(st);
	}
	if (store_sqlite_prepare(st, "UPDATE tokens SET revoked = ?2 WHERE id = ?1", &stmt,
	    cause) != 0)
		return store_sqlite_abort(st);
	sqlite3_bind_int64(stmt, 1, id);
	sqlite3_bind_int64(stmt, 2, store_now());
	if (store_sqlite_done(st, stmt, cause) != 0)
		return store_sqlite_abort(st);
	return store_sqlite_commit(st, 1, cause);
}

/*
 * Find the token whose hash is h among those sharing its lookup number. The number only
 * narrows the search; the full hashes are compared in constant time with CRYPTO_memcmp.
 */
static int
store_sqlite_token_match(struct store *st, const struct store_hash *h, struct store_match *m,
    char **cause)
{
	sqlite3_stmt	*stmt;
	const void	*cand;
	int		 rc;

	if (store_sqlite_prepare(st, "SELECT id, account, hash, expires, revoked, once, last_used "
	    "FROM tokens WHERE lookup = ?1 AND member IS NOT NULL", &stmt, cause) != 0)
		return -1;
	sqlite3_bind_int64(stmt, 1, h->lookup);
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		cand = sqlite3_column_blob(stmt, 2);
		if (cand == NULL || sqlite3_column_bytes(stmt, 2) != STORE_HASH_LEN ||
		    CRYPTO_memcmp(cand, h->hash, STORE_HASH_LEN) != 0 || m->account != NULL)
			continue;
		m->id = sqlite3_column_int64(stmt, 0);
		m->account = store_sqlite_col_text(stmt, 1);
		m->expires = store_sqlite_col_int(stmt, 3, 0);
		m->revoked = store_sqlite_col_int(stmt, 4, 0);
		m->once = (int)store_sqlite_col_int(stmt, 5, 0);
		m->last_used = store_sqlite_col_int(stmt, 6, 0);
	}
	sqlite3_finalize(stmt);
	if (rc != SQLITE_DONE) {
		free(m->account);
		m->account = NULL;
		store_sqlite_error(st, rc, cause);
		return -1;
	}
	return 0;
}

/* Within a transaction: record that token id was used at now. */
static int
store_sqlite_token_touch(struct store *st, int64_t id, int64_t now, char **cause)
{
	sqlite3_stmt	*stmt;

	if (store_sqlite_prepare(st, "UPDATE tokens SET last_used = ?2 WHERE id = ?1", &stmt,
	    cause) != 0)
		return -1;
	sqlite3_bind_int64(stmt, 1, id);
	sqlite3_bind_int64(stmt, 2, now);
	return store_sqlite_done(st, stmt, cause);
}

/*
 * Look a token up by its hash: 0 with *account (free it) and *id when it may be used, 1 when
 * not (cause says why), -1 on error. With touch, record its use in the same transaction;
 * without, write nothing.
 */
int
store_sqlite_token_use(struct store *st, const struct store_hash *h, int touch,
    char **account, int64_t *id, char **cause)
{
	struct store_match	 m = { 0, NULL, 0, 0, 0, 0 };
	int64_t			 now = store_now();
	int			 rc = -1;

	if (touch ? store_sqlite_begin(st, cause) != 0 :
	    store_sqlite_exec(st, "BEGIN", cause) != 0)
		return -1;
	if (store_sqlite_token_match(st, h, &m, cause) != 0)
		goto abort;
	if ((rc = store_token_usable(&m, now, cause)) != 0)
		goto abort;
	if (!touch)
		store_sqlite_rollback(st);
	else if (store_sqlite_token_touch(st, m.id, now, cause) != 0 ||
	    store_sqlite_commit(st, 0, cause) != 0) {
		rc = -1;
		goto abort;
	}
	*account = m.account;
	*id = m.id;
	return 0;

abort:
	store_sqlite_rollback(st);
	free(m.account);
	return rc;
}

/* A token record, a column per field (store_token_kind). */
#define STORE_TOKEN_SELECT \
	"SELECT t.id, t.account, t.created, t.expires, t.revoked, t.last_used, m.name, t.port," \
	" t.once, CASE WHEN t.port IS NULL THEN NULL ELSE coalesce(t.protocol, 'tcp') END" \
	" FROM tokens t LEFT JOIN members m ON m.id = t.member"

/* Find token id: *out gets it, or NULL when there is none. */
int
store_sqlite_token_find(struct store *st, int64_t id, struct store_token **out, char **cause)
{
	sqlite3_stmt	*stmt;
	void		*t;

	if (store_sqlite_prepare(st, STORE_TOKEN_SELECT " WHERE t.id = ?1", &stmt, cause) != 0)
		return -1;
	sqlite3_bind_int64(stmt, 1, id);
	if (store_sqlite_one(st, stmt, &store_token_kind, &t, cause) != 0)
		return -1;
	*out = t;
	return 0;
}

/* List every token, by id. */
int
store_sqlite_token_list(struct store *st, struct store_token ***out, size_t *n, char **cause)
{
	sqlite3_stmt	*stmt;

	if (store_sqlite_prepare(st, STORE_TOKEN_SELECT " ORDER BY t.id", &stmt, cause) != 0)
		return -1;
	*out = store_sqlite_collect(st, stmt, &store_token_kind, n, cause);
	return *out != NULL ? 0 : -1;
}
