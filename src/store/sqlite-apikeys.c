/* SPDX-License-Identifier: ISC */
/* tunnelgw: the SQLite backend's apikeys table: hashes only, never a secret. */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>

#include <openssl/crypto.h>
#include <sqlite3.h>

#include "sqlite-int.h"
#include "xmalloc.h"

/* An API key record, a column per field (store_apikey_kind). */
#define STORE_APIKEY_SELECT \
	"SELECT p.id, m.account, m.name, m.role, p.created, p.revoked, p.last_used" \
	" FROM apikeys p LEFT JOIN members m ON m.id = p.member"

/* Add an API key by its hash for member of account, or with both NULL for the operator. */
int
store_sqlite_apikey_add(struct store *st, const char *account, const char *member,
    const struct store_hash *h, int64_t *id, char **cause)
{
	sqlite3_stmt	*stmt;
	int64_t		 mid = 0;

	if (store_sqlite_begin(st, cause) != 0)
		return -1;
	if (account != NULL &&
	    store_sqlite_member_id(st, account, member, &mid, NULL, cause) != 0)
		return store_sqlite_abort(st);
	if (store_sqlite_prepare(st, "INSERT INTO apikeys (member, lookup, hash, created) "
	    "VALUES (?1, ?2, ?3, ?4)", &stmt, cause) != 0)
		return store_sqlite_abort(st);
	if (account != NULL)
		sqlite3_bind_int64(stmt, 1, mid);
	else
		sqlite3_bind_null(stmt, 1);
	sqlite3_bind_int64(stmt, 2, h->lookup);
	sqlite3_bind_blob(stmt, 3, h->hash, sizeof h->hash, SQLITE_TRANSIENT);
	sqlite3_bind_int64(stmt, 4, store_now());
	if (store_sqlite_done(st, stmt, cause) != 0)
		return store_sqlite_abort(st);
	*id = sqlite3_last_insert_rowid(store_sqlite_of(st)->db);
	return store_sqlite_commit(st, 0, cause);
}

/* Revoke API key id. */
int
store_sqlite_apikey_revoke(struct store *st, int64_t id, char **cause)
{
	sqlite3_stmt	*stmt;
	int		 rc;

	if (store_sqlite_begin(st, cause) != 0)
		return -1;
	if (store_sqlite_prepare(st, "SELECT 1 FROM apikeys WHERE id = ?1", &stmt, cause) != 0)
		return store_sqlite_abort(st);
	sqlite3_bind_int64(stmt, 1, id);
	if ((rc = store_sqlite_exists(st, stmt, cause)) != 1) {
		if (rc == 0)
			xasprintf(cause, "no API key with id %lld", (long long)id);
		return store_sqlite_abort(st);
	}
	if (store_sqlite_prepare(st, "UPDATE apikeys SET revoked = ?2 WHERE id = ?1 AND "
	    "revoked IS NULL", &stmt, cause) != 0)
		return store_sqlite_abort(st);
	sqlite3_bind_int64(stmt, 1, id);
	sqlite3_bind_int64(stmt, 2, store_now());
	if (store_sqlite_done(st, stmt, cause) != 0)
		return store_sqlite_abort(st);
	if (store_sqlite_changed(st) == 0) {
		xasprintf(cause, "API key %lld is already revoked", (long long)id);
		return store_sqlite_abort(st);
	}
	return store_sqlite_commit(st, 0, cause);
}

/*
 * Look an API key up by its hash: 0 with its record when it may be used (and its use
 * recorded), 1 when not (cause says why), -1 on error. The lookup number only narrows the
 * search; the full hashes are compared in constant time.
 */
int
store_sqlite_apikey_use(struct store *st, const struct store_hash *h,
    struct store_apikey **out, char **cause)
{
	sqlite3_stmt	*stmt;
	const void	*cand;
	int64_t		 id = 0, revoked = 0;
	void		*k;
	int		 rc;

	if (store_sqlite_prepare(st, "SELECT id, hash, revoked FROM apikeys "
	    "WHERE lookup = ?1", &stmt, cause) != 0)
		return -1;
	sqlite3_bind_int64(stmt, 1, h->lookup);
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		cand = sqlite3_column_blob(stmt, 1);
		if (cand == NULL || sqlite3_column_bytes(stmt, 1) != STORE_HASH_LEN ||
		    CRYPTO_memcmp(cand, h->hash, STORE_HASH_LEN) != 0 || id != 0)
			continue;
		id = sqlite3_column_int64(stmt, 0);
		revoked = store_sqlite_col_int(stmt, 2, 0);
	}
	sqlite3_finalize(stmt);
	if (rc != SQLITE_DONE) {
		store_sqlite_error(st, rc, cause);
		return -1;
	}
	if (id == 0 || revoked != 0) {
		xasprintf(cause, id == 0 ? "unknown API key" : "API key %lld was revoked",
		    (long long)id);
		return 1;
	}
	/* The last use is a hint: a busy database does not refuse the request. */
	if (store_sqlite_prepare(st, "UPDATE apikeys SET last_used = ?2 WHERE id = ?1", &stmt,
	    cause) != 0)
		return -1;
	sqlite3_bind_int64(stmt, 1, id);
	sqlite3_bind_int64(stmt, 2, store_now());
	if (store_sqlite_done(st, stmt, cause) != 0) {
		free(*cause);
		*cause = NULL;
	}
	if (store_sqlite_prepare(st, STORE_APIKEY_SELECT " WHERE p.id = ?1", &stmt, cause) != 0)
		return -1;
	sqlite3_bind_int64(stmt, 1, id);
	if (store_sqlite_one(st, stmt, &store_apikey_kind, &k, cause) != 0)
		return -1;
	if ((*out = k) == NULL) {
		xasprintf(cause, "unknown API key");
		return 1;
	}
	return 0;
}

/* List the API keys of account (NULL: every one), by id. */
int
store_sqlite_apikey_list(struct store *st, const char *account, struct store_apikey ***out,
    size_t *n, char **cause)
{
	sqlite3_stmt	*stmt;

	if (account != NULL && store_sqlite_account_need(st, account, cause) != 0)
		return -1;
	if (store_sqlite_prepare(st, STORE_APIKEY_SELECT " WHERE ?1 IS NULL OR m.account = ?1 "
	    "ORDER BY p.id", &stmt, cause) != 0)
		return -1;
	if (account != NULL)
		sqlite3_bind_text(stmt, 1, account, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(stmt, 1);
	*out = store_sqlite_collect(st, stmt, &store_apikey_kind, n, cause);
	return *out != NULL ? 0 : -1;
}
