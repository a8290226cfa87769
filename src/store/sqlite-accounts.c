/* SPDX-License-Identifier: ISC */
/* tunnelgw: the SQLite backend's accounts table. */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>

#include <sqlite3.h>

#include "log.h"
#include "sqlite-int.h"
#include "xmalloc.h"

/* An account with its counts, a column per field (store_account_kind); ?1 is the time now. */
#define STORE_ACCOUNT_SELECT \
	"SELECT a.name, a.max_tunnels, a.created," \
	" (SELECT count(*) FROM keys k WHERE k.account = a.name)," \
	" (SELECT count(*) FROM tokens t WHERE t.account = a.name AND t.revoked IS NULL" \
	"   AND (t.expires IS NULL OR t.expires > ?1))," \
	" (SELECT count(*) FROM addresses d WHERE d.account = a.name)," \
	" a.create_raw_tunnel, a.max_addresses, a.max_connections," \
	" (SELECT count(*) FROM members m WHERE m.account = a.name)" \
	" FROM accounts a"

/* Does account name exist? 1 yes, 0 no (and cause says so), -1 on error. */
static int
store_sqlite_account_exists(struct store *st, const char *name, char **cause)
{
	sqlite3_stmt	*stmt;
	char		 q[LOG_QUOTE_SIZE];
	int		 rc;

	if (store_sqlite_prepare(st, "SELECT 1 FROM accounts WHERE name = ?1", &stmt,
	    cause) != 0)
		return -1;
	sqlite3_bind_text(stmt, 1, name, -1, SQLITE_TRANSIENT);
	if ((rc = store_sqlite_exists(st, stmt, cause)) == 0)
		xasprintf(cause, "unknown account '%s'", log_quote(name, q));
	return rc;
}

/* Within a transaction: fail unless account name exists. */
int
store_sqlite_account_need(struct store *st, const char *name, char **cause)
{
	return store_sqlite_account_exists(st, name, cause) == 1 ? 0 : -1;
}

/* Add account name; max_tunnels -1 for no limit. It starts with the member "owner". */
int
store_sqlite_account_add(struct store *st, const char *name, int max_tunnels, char **cause)
{
	sqlite3_stmt	*stmt;
	char		 q[LOG_QUOTE_SIZE], *why;
	int		 rc;

	if (store_sqlite_begin(st, cause) != 0)
		return -1;
	why = NULL;
	if ((rc = store_sqlite_account_exists(st, name, &why)) != 0) {
		if (rc == 1)
			xasprintf(cause, "account '%s' already exists", log_quote(name, q));
		else
			*cause = why;
		return store_sqlite_abort(st);
	}
	free(why);
	if (store_sqlite_prepare(st, "INSERT INTO accounts (name, max_tunnels, created) "
	    "VALUES (?1, ?2, ?3)", &stmt, cause) != 0)
		return store_sqlite_abort(st);
	sqlite3_bind_text(stmt, 1, name, -1, SQLITE_TRANSIENT);
	if (max_tunnels == -1)
		sqlite3_bind_null(stmt, 2);
	else
		sqlite3_bind_int(stmt, 2, max_tunnels);
	sqlite3_bind_int64(stmt, 3, store_now());
	if (store_sqlite_done(st, stmt, cause) != 0 ||
	    store_sqlite_member_insert(st, name, STORE_OWNER_MEMBER, "owner", cause) != 0)
		return store_sqlite_abort(st);
	return store_sqlite_commit(st, 0, cause);
}

/* Bind a limit of store_account_set to a column: -1 as NULL. */
static void
store_sqlite_account_bind_limit(sqlite3_stmt *stmt, int col, int n)
{
	if (n == -1)
		sqlite3_bind_null(stmt, col);
	else
		sqlite3_bind_int(stmt, col, n);
}

/*
 * Change what set says of account name, in one statement: a column whose value is
 * STORE_UNCHANGED (NULL for the role) keeps its own through the CASE.
 */
int
store_sqlite_account_set(struct store *st, const char *name,
    const struct store_account_set *set, char **cause)
{
	sqlite3_stmt	*stmt;

	if (store_sqlite_begin(st, cause) != 0)
		return -1;
	if (store_sqlite_account_need(st, name, cause) != 0)
		return store_sqlite_abort(st);
	if (store_sqlite_prepare(st, "UPDATE accounts SET"
	    " max_tunnels = CASE WHEN ?2 THEN max_tunnels ELSE ?3 END,"
	    " max_addresses = CASE WHEN ?4 THEN max_addresses ELSE ?5 END,"
	    " max_connections = CASE WHEN ?6 THEN max_connections ELSE ?7 END,"
	    " create_raw_tunnel = CASE WHEN ?8 THEN create_raw_tunnel ELSE ?9 END"
	    " WHERE name = ?1", &stmt, cause) != 0)
		return store_sqlite_abort(st);
	sqlite3_bind_text(stmt, 1, name, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int(stmt, 2, set->max_tunnels == STORE_UNCHANGED);
	store_sqlite_account_bind_limit(stmt, 3, set->max_tunnels);
	sqlite3_bind_int(stmt, 4, set->max_addresses == STORE_UNCHANGED);
	store_sqlite_account_bind_limit(stmt, 5, set->max_addresses);
	sqlite3_bind_int(stmt, 6, set->max_connections == STORE_UNCHANGED);
	store_sqlite_account_bind_limit(stmt, 7, set->max_connections);
	sqlite3_bind_int(stmt, 8, set->create_raw_tunnel == NULL);
	if (set->create_raw_tunnel == NULL || set->create_raw_tunnel[0] == '\0')
		sqlite3_bind_null(stmt, 9);
	else
		sqlite3_bind_text(stmt, 9, set->create_raw_tunnel, -1, SQLITE_TRANSIENT);
	if (store_sqlite_done(st, stmt, cause) != 0)
		return store_sqlite_abort(st);
	return store_sqlite_commit(st, 1, cause);
}

/* Delete account name with its members, tokens, keys and addresses (ON DELETE CASCADE). */
int
store_sqlite_account_del(struct store *st, const char *name, char **cause)
{
	sqlite3_stmt	*stmt;

	if (store_sqlite_begin(st, cause) != 0)
		return -1;
	if (store_sqlite_account_need(st, name, cause) != 0)
		return store_sqlite_abort(st);
	if (store_sqlite_prepare(st, "DELETE FROM accounts WHERE name = ?1", &stmt, cause) != 0)
		return store_sqlite_abort(st);
	sqlite3_bind_text(stmt, 1, name, -1, SQLITE_TRANSIENT);
	if (store_sqlite_done(st, stmt, cause) != 0)
		return store_sqlite_abort(st);
	return store_sqlite_commit(st, 1, cause);
}

/* Prepare a query of STORE_ACCOUNT_SELECT: ?1 gets the time now, and ?2 name if not NULL. */
static int
store_sqlite_account_query(struct store *st, const char *sql, const char *name,
    sqlite3_stmt **stmt, char **cause)
{
	if (store_sqlite_prepare(st, sql, stmt, cause) != 0)
		return -1;
	sqlite3_bind_int64(*stmt, 1, store_now());
	if (name != NULL)
		sqlite3_bind_text(*stmt, 2, name, -1, SQLITE_TRANSIENT);
	return 0;
}

/* Find account name: *out gets it, or NULL when there is none. */
int
store_sqlite_account_find(struct store *st, const char *name, struct store_account **out,
    char **cause)
{
	sqlite3_stmt	*stmt;
	void		*a;

	if (store_sqlite_account_query(st, STORE_ACCOUNT_SELECT " WHERE a.name = ?2", name,
	    &stmt, cause) != 0 ||
	    store_sqlite_one(st, stmt, &store_account_kind, &a, cause) != 0)
		return -1;
	*out = a;
	return 0;
}

/* List every account, by name. */
int
store_sqlite_account_list(struct store *st, struct store_account ***out, size_t *n,
    char **cause)
{
	sqlite3_stmt	*stmt;

	if (store_sqlite_account_query(st, STORE_ACCOUNT_SELECT " ORDER BY a.name", NULL, &stmt,
	    cause) != 0)
		return -1;
	*out = store_sqlite_collect(st, stmt, &store_account_kind, n, cause);
	return *out != NULL ? 0 : -1;
}
