/* SPDX-License-Identifier: ISC */
/* tunnelgw: the SQLite backend's members table: who is in an account, and with what role. */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "log.h"
#include "sqlite-int.h"
#include "xmalloc.h"

/* A member with its counts, a column per field (store_member_kind); ?1 is the time now. */
#define STORE_MEMBER_SELECT \
	"SELECT m.account, m.name, m.role, m.created," \
	" (SELECT count(*) FROM keys k WHERE k.member = m.id)," \
	" (SELECT count(*) FROM tokens t WHERE t.member = m.id AND t.revoked IS NULL" \
	"   AND (t.expires IS NULL OR t.expires > ?1))," \
	" (SELECT count(*) FROM apikeys p WHERE p.member = m.id AND p.revoked IS NULL)" \
	" FROM members m"

/* Within a transaction: insert member name of account with role. */
int
store_sqlite_member_insert(struct store *st, const char *account, const char *name,
    const char *role, char **cause)
{
	sqlite3_stmt	*stmt;

	if (store_sqlite_prepare(st, "INSERT INTO members (account, name, role, created) "
	    "VALUES (?1, ?2, ?3, ?4)", &stmt, cause) != 0)
		return -1;
	sqlite3_bind_text(stmt, 1, account, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(stmt, 2, name, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(stmt, 3, role, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(stmt, 4, store_now());
	return store_sqlite_done(st, stmt, cause);
}

/*
 * Within a transaction: the id of member name of account, and its role when role is not
 * NULL (free it); -1 with a message naming what is missing when there is no such member.
 */
int
store_sqlite_member_id(struct store *st, const char *account, const char *name, int64_t *id,
    char **role, char **cause)
{
	sqlite3_stmt	*stmt;
	char		 qa[LOG_QUOTE_SIZE], qn[LOG_QUOTE_SIZE];
	int		 rc;

	if (store_sqlite_account_need(st, account, cause) != 0)
		return -1;
	if (store_sqlite_prepare(st, "SELECT id, role FROM members WHERE account = ?1 AND "
	    "name = ?2", &stmt, cause) != 0)
		return -1;
	sqlite3_bind_text(stmt, 1, account, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(stmt, 2, name, -1, SQLITE_TRANSIENT);
	if ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		*id = sqlite3_column_int64(stmt, 0);
		if (role != NULL)
			*role = store_sqlite_col_text(stmt, 1);
	}
	sqlite3_finalize(stmt);
	if (rc == SQLITE_ROW)
		return 0;
	if (rc != SQLITE_DONE)
		store_sqlite_error(st, rc, cause);
	else
		xasprintf(cause, "account '%s' has no member '%s'", log_quote(account, qa),
		    log_quote(name, qn));
	return -1;
}

/* Add member name with role to account, unless it has one of that name. */
int
store_sqlite_member_add(struct store *st, const char *account, const char *name,
    const char *role, char **cause)
{
	char		*why = NULL;
	int64_t		 id;

	if (store_sqlite_begin(st, cause) != 0)
		return -1;
	if (store_sqlite_account_need(st, account, cause) != 0)
		return store_sqlite_abort(st);
	if (store_sqlite_member_id(st, account, name, &id, NULL, &why) == 0) {
		store_rule_member_taken(account, name, cause);
		return store_sqlite_abort(st);
	}
	free(why);
	if (store_sqlite_member_insert(st, account, name, role, cause) != 0)
		return store_sqlite_abort(st);
	return store_sqlite_commit(st, 0, cause);
}

/*
 * Within a transaction: fail when taking member id (with role, NULL for none) away from the
 * owners of account would leave it with none.
 */
static int
store_sqlite_member_keep_owner(struct store *st, const char *account, const char *name,
    int64_t id, const char *role, char **cause)
{
	sqlite3_stmt	*stmt;
	int		 rc;

	if (role == NULL || strcmp(role, "owner") != 0)
		return 0;
	if (store_sqlite_prepare(st, "SELECT 1 FROM members WHERE account = ?1 AND "
	    "role = 'owner' AND id != ?2", &stmt, cause) != 0)
		return -1;
	sqlite3_bind_text(stmt, 1, account, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(stmt, 2, id);
	if ((rc = store_sqlite_exists(st, stmt, cause)) != 0)
		return rc == 1 ? 0 : -1;
	return store_rule_last_owner(account, name, cause);
}

/* Delete member name of account, with its keys, tokens and API keys (ON DELETE CASCADE). */
int
store_sqlite_member_del(struct store *st, const char *account, const char *name,
    char **cause)
{
	sqlite3_stmt	*stmt;
	char		*role = NULL;
	int64_t		 id;
	int		 rc;

	if (store_sqlite_begin(st, cause) != 0)
		return -1;
	if (store_sqlite_member_id(st, account, name, &id, &role, cause) != 0)
		return store_sqlite_abort(st);
	rc = store_sqlite_member_keep_owner(st, account, name, id, role, cause);
	free(role);
	if (rc != 0 ||
	    store_sqlite_prepare(st, "DELETE FROM members WHERE id = ?1", &stmt, cause) != 0)
		return store_sqlite_abort(st);
	sqlite3_bind_int64(stmt, 1, id);
	if (store_sqlite_done(st, stmt, cause) != 0)
		return store_sqlite_abort(st);
	return store_sqlite_commit(st, 1, cause);
}

/* Give member name of account the role role. */
int
store_sqlite_member_set_role(struct store *st, const char *account, const char *name,
    const char *role, char **cause)
{
	sqlite3_stmt	*stmt;
	char		*was = NULL;
	int64_t		 id;
	int		 rc = 0;

	if (store_sqlite_begin(st, cause) != 0)
		return -1;
	if (store_sqlite_member_id(st, account, name, &id, &was, cause) != 0)
		return store_sqlite_abort(st);
	if (strcmp(role, "owner") != 0)
		rc = store_sqlite_member_keep_owner(st, account, name, id, was, cause);
	free(was);
	if (rc != 0 || store_sqlite_prepare(st, "UPDATE members SET role = ?2 WHERE id = ?1",
	    &stmt, cause) != 0)
		return store_sqlite_abort(st);
	sqlite3_bind_int64(stmt, 1, id);
	sqlite3_bind_text(stmt, 2, role, -1, SQLITE_TRANSIENT);
	if (store_sqlite_done(st, stmt, cause) != 0)
		return store_sqlite_abort(st);
	return store_sqlite_commit(st, 1, cause);
}

/* Run a member query whose ?1 is the time now and whose ?2 (and ?3) are given. */
static int
store_sqlite_member_query(struct store *st, const char *sql, const char *a, const char *b,
    int64_t n, struct store_member **out, char **cause)
{
	sqlite3_stmt	*stmt;
	void		*m;

	if (store_sqlite_prepare(st, sql, &stmt, cause) != 0)
		return -1;
	sqlite3_bind_int64(stmt, 1, store_now());
	if (a != NULL)
		sqlite3_bind_text(stmt, 2, a, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_int64(stmt, 2, n);
	if (b != NULL)
		sqlite3_bind_text(stmt, 3, b, -1, SQLITE_TRANSIENT);
	if (store_sqlite_one(st, stmt, &store_member_kind, &m, cause) != 0)
		return -1;
	*out = m;
	return 0;
}

/* Find member name of account: *out gets it, or NULL when there is none. */
int
store_sqlite_member_find(struct store *st, const char *account, const char *name,
    struct store_member **out, char **cause)
{
	return store_sqlite_member_query(st, STORE_MEMBER_SELECT
	    " WHERE m.account = ?2 AND m.name = ?3", account, name, 0, out, cause);
}

/* The member token id belongs to, or NULL. */
int
store_sqlite_member_of_token(struct store *st, int64_t id, struct store_member **out,
    char **cause)
{
	return store_sqlite_member_query(st, STORE_MEMBER_SELECT
	    " JOIN tokens x ON x.member = m.id WHERE x.id = ?2", NULL, NULL, id, out, cause);
}

/* The member the key with this fingerprint belongs to, or NULL. */
int
store_sqlite_member_of_key(struct store *st, const char *fingerprint,
    struct store_member **out, char **cause)
{
	return store_sqlite_member_query(st, STORE_MEMBER_SELECT
	    " JOIN keys x ON x.member = m.id WHERE x.fingerprint = ?2", fingerprint, NULL, 0, out,
	    cause);
}

/* What a login of token id, or of the key with fingerprint, acts as (see store_login_find). */
int
store_sqlite_login_find(struct store *st, int64_t id, const char *fingerprint,
    struct store_login **out, char **cause)
{
	sqlite3_stmt	*stmt;
	void		*l;

	if (store_sqlite_prepare(st, fingerprint == NULL ?
	    "SELECT m.account, m.name, m.role, a.create_raw_tunnel, a.max_tunnels,"
	    " a.max_connections, t.port, CASE WHEN t.port IS NULL THEN NULL"
	    " ELSE coalesce(t.protocol, 'tcp') END, CASE WHEN t.revoked IS NULL AND"
	    " (t.expires IS NULL OR t.expires > ?2) THEN 1 ELSE 0 END FROM tokens t"
	    " JOIN members m ON m.id = t.member JOIN accounts a ON a.name = m.account"
	    " WHERE t.id = ?1" :
	    "SELECT m.account, m.name, m.role, a.create_raw_tunnel, a.max_tunnels,"
	    " a.max_connections, NULL, NULL, 1 FROM keys k JOIN members m ON m.id = k.member"
	    " JOIN accounts a ON a.name = m.account WHERE k.fingerprint = ?3", &stmt, cause) != 0)
		return -1;
	if (fingerprint == NULL) {
		sqlite3_bind_int64(stmt, 1, id);
		sqlite3_bind_int64(stmt, 2, store_now());
	} else
		sqlite3_bind_text(stmt, 3, fingerprint, -1, SQLITE_TRANSIENT);
	if (store_sqlite_one(st, stmt, &store_login_kind, &l, cause) != 0)
		return -1;
	*out = l;
	return 0;
}

/* List the members of account (NULL: every account's), by account, then name. */
int
store_sqlite_member_list(struct store *st, const char *account, struct store_member ***out,
    size_t *n, char **cause)
{
	sqlite3_stmt	*stmt;

	if (account != NULL && store_sqlite_account_need(st, account, cause) != 0)
		return -1;
	if (store_sqlite_prepare(st, STORE_MEMBER_SELECT " WHERE ?2 IS NULL OR m.account = ?2 "
	    "ORDER BY m.account, m.name", &stmt, cause) != 0)
		return -1;
	sqlite3_bind_int64(stmt, 1, store_now());
	if (account != NULL)
		sqlite3_bind_text(stmt, 2, account, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(stmt, 2);
	*out = store_sqlite_collect(st, stmt, &store_member_kind, n, cause);
	return *out != NULL ? 0 : -1;
}
