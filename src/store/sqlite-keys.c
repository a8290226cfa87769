/* SPDX-License-Identifier: ISC */
/* tunnelgw: the SQLite backend's keys table. */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>

#include <sqlite3.h>

#include "log.h"
#include "sqlite-int.h"
#include "xmalloc.h"

/* A key record, a column per field (store_key_kind). */
#define STORE_KEY_SELECT \
	"SELECT k.fingerprint, k.account, k.type, k.key, k.comment, k.added_by, k.created," \
	" m.name FROM keys k LEFT JOIN members m ON m.id = k.member"

/* Within a transaction: fail if the key's fingerprint is registered already, naming to whom. */
static int
store_sqlite_key_unique(struct store *st, const char *fingerprint, char **cause)
{
	sqlite3_stmt	*stmt;
	char		*owner, q[LOG_QUOTE_SIZE];

	if (store_sqlite_prepare(st, "SELECT account FROM keys WHERE fingerprint = ?1", &stmt,
	    cause) != 0)
		return -1;
	sqlite3_bind_text(stmt, 1, fingerprint, -1, SQLITE_TRANSIENT);
	if (store_sqlite_text(st, stmt, &owner, cause) != 0)
		return -1;
	if (owner == NULL)
		return 0;
	xasprintf(cause, "key %s is already registered to account '%s'", fingerprint,
	    log_quote(owner, q));
	free(owner);
	return -1;
}

/* Within a transaction: insert key record k for member id mid. */
static int
store_sqlite_key_insert(struct store *st, const struct store_key *k, int64_t mid,
    char **cause)
{
	sqlite3_stmt	*stmt;

	if (store_sqlite_prepare(st, "INSERT INTO keys (fingerprint, account, type, key, "
	    "comment, added_by, created, member) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)", &stmt,
	    cause) != 0)
		return -1;
	sqlite3_bind_int64(stmt, 8, mid);
	sqlite3_bind_text(stmt, 1, k->fingerprint, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(stmt, 2, k->account, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(stmt, 3, k->type, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(stmt, 4, k->key, -1, SQLITE_TRANSIENT);
	if (k->comment != NULL)
		sqlite3_bind_text(stmt, 5, k->comment, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(stmt, 5);
	sqlite3_bind_text(stmt, 6, k->added_by, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(stmt, 7, k->created);
	return store_sqlite_done(st, stmt, cause);
}

/* Add key record k to its member, unless another account has its fingerprint. */
int
store_sqlite_key_add(struct store *st, const struct store_key *k, char **cause)
{
	int64_t	 mid;

	if (store_sqlite_begin(st, cause) != 0)
		return -1;
	if (store_sqlite_member_id(st, k->account, k->member, &mid, NULL, cause) != 0 ||
	    store_sqlite_key_unique(st, k->fingerprint, cause) != 0 ||
	    store_sqlite_key_insert(st, k, mid, cause) != 0)
		return store_sqlite_abort(st);
	return store_sqlite_commit(st, 0, cause);
}

/* Delete the key with this fingerprint. */
int
store_sqlite_key_del(struct store *st, const char *fingerprint, char **cause)
{
	sqlite3_stmt	*stmt;
	char		 q[LOG_QUOTE_SIZE];

	if (store_sqlite_begin(st, cause) != 0)
		return -1;
	if (store_sqlite_prepare(st, "DELETE FROM keys WHERE fingerprint = ?1", &stmt,
	    cause) != 0)
		return store_sqlite_abort(st);
	sqlite3_bind_text(stmt, 1, fingerprint, -1, SQLITE_TRANSIENT);
	if (store_sqlite_done(st, stmt, cause) != 0)
		return store_sqlite_abort(st);
	if (store_sqlite_changed(st) == 0) {
		xasprintf(cause, "no key with fingerprint '%s'", log_quote(fingerprint, q));
		return store_sqlite_abort(st);
	}
	return store_sqlite_commit(st, 1, cause);
}

/* Find the key with this fingerprint: *out gets it, or NULL when there is none. */
int
store_sqlite_key_find(struct store *st, const char *fingerprint, struct store_key **out,
    char **cause)
{
	sqlite3_stmt	*stmt;
	void		*k;

	if (store_sqlite_prepare(st, STORE_KEY_SELECT " WHERE k.fingerprint = ?1", &stmt,
	    cause) != 0)
		return -1;
	sqlite3_bind_text(stmt, 1, fingerprint, -1, SQLITE_TRANSIENT);
	if (store_sqlite_one(st, stmt, &store_key_kind, &k, cause) != 0)
		return -1;
	*out = k;
	return 0;
}

/* List every key, by account, then age. */
int
store_sqlite_key_list(struct store *st, struct store_key ***out, size_t *n, char **cause)
{
	sqlite3_stmt	*stmt;

	if (store_sqlite_prepare(st, STORE_KEY_SELECT " ORDER BY k.account, k.created, k.fingerprint",
	    &stmt, cause) != 0)
		return -1;
	*out = store_sqlite_collect(st, stmt, &store_key_kind, n, cause);
	return *out != NULL ? 0 : -1;
}
