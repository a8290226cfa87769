/* SPDX-License-Identifier: ISC */
/* tunnelgw: the PostgreSQL backend's accounts and members (as sqlite-accounts.c, -members.c). */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "log.h"
#include "pg-int.h"
#include "xmalloc.h"

/* An account with its counts, a column per field (store_account_kind); $1 is the time now. */
#define STORE_PG_ACCOUNT_SELECT \
	"SELECT a.name, a.max_tunnels, a.created," \
	" (SELECT count(*) FROM keys k WHERE k.account = a.name)," \
	" (SELECT count(*) FROM tokens t WHERE t.account = a.name AND t.revoked IS NULL" \
	"   AND (t.expires IS NULL OR t.expires > $1))," \
	" (SELECT count(*) FROM addresses d WHERE d.account = a.name)," \
	" a.create_raw_tunnel, a.max_addresses, a.max_connections," \
	" (SELECT count(*) FROM members m WHERE m.account = a.name)" \
	" FROM accounts a"

/* A member with its counts, a column per field (store_member_kind); $1 is the time now. */
#define STORE_PG_MEMBER_SELECT \
	"SELECT m.account, m.name, m.role, m.created," \
	" (SELECT count(*) FROM keys k WHERE k.member = m.id)," \
	" (SELECT count(*) FROM tokens t WHERE t.member = m.id AND t.revoked IS NULL" \
	"   AND (t.expires IS NULL OR t.expires > $1))," \
	" (SELECT count(*) FROM apikeys p WHERE p.member = m.id AND p.revoked IS NULL)" \
	" FROM members m"

/* Does account name exist? 1 yes, 0 no (and cause says so), -1 on error. */
static int
store_pg_account_exists(struct store *st, const char *name, char **cause)
{
	struct store_pg_args	 a = { 0 };
	char			 q[LOG_QUOTE_SIZE];
	int			 rc;

	store_pg_text(&a, name);
	rc = store_pg_exists(st, "SELECT 1 FROM accounts WHERE name = $1", &a, cause);
	if (rc == 0)
		xasprintf(cause, "unknown account '%s'", log_quote(name, q));
	return rc;
}

/* Fail unless account name exists. */
int
store_pg_account_need(struct store *st, const char *name, char **cause)
{
	return store_pg_account_exists(st, name, cause) == 1 ? 0 : -1;
}

/* Within a transaction: insert member name of account with role. */
static int
store_pg_member_insert(struct store *st, const char *account, const char *name,
    const char *role, char **cause)
{
	struct store_pg_args	 a = { 0 };

	store_pg_text(&a, account);
	store_pg_text(&a, name);
	store_pg_text(&a, role);
	store_pg_int(&a, store_now());
	return store_pg_do(st, "INSERT INTO members (account, name, role, created) "
	    "VALUES ($1, $2, $3, $4)", &a, cause) < 0 ? -1 : 0;
}

/* Add account name; max_tunnels -1 for no limit. It starts with the member "owner". */
int
store_pg_account_add(struct store *st, const char *name, int max_tunnels, char **cause)
{
	struct store_pg_args	 a = { 0 };
	char			 q[LOG_QUOTE_SIZE], *why = NULL;
	int			 rc;

	if (store_pg_begin(st, cause) != 0)
		return -1;
	if ((rc = store_pg_account_exists(st, name, &why)) != 0) {
		if (rc == 1)
			xasprintf(cause, "account '%s' already exists", log_quote(name, q));
		else
			*cause = why;
		return store_pg_abort(st);
	}
	free(why);
	store_pg_text(&a, name);
	store_pg_int_none(&a, max_tunnels, -1);
	store_pg_int(&a, store_now());
	if (store_pg_do(st, "INSERT INTO accounts (name, max_tunnels, created) VALUES ($1, $2, "
	    "$3)", &a, cause) < 0 ||
	    store_pg_member_insert(st, name, STORE_OWNER_MEMBER, "owner", cause) != 0)
		return store_pg_abort(st);
	return store_pg_commit(st, 0, cause);
}

/*
 * Change what set says of account name, in one statement: a column whose value is
 * STORE_UNCHANGED (NULL for the role) keeps its own through the CASE.
 */
int
store_pg_account_set(struct store *st, const char *name, const struct store_account_set *set,
    char **cause)
{
	struct store_pg_args	 a = { 0 };
	const char		*role = set->create_raw_tunnel;

	if (store_pg_begin(st, cause) != 0)
		return -1;
	if (store_pg_account_need(st, name, cause) != 0)
		return store_pg_abort(st);
	store_pg_text(&a, name);
	store_pg_text(&a, set->max_tunnels == STORE_UNCHANGED ? "t" : "f");
	store_pg_int_none(&a, set->max_tunnels, -1);
	store_pg_text(&a, set->max_addresses == STORE_UNCHANGED ? "t" : "f");
	store_pg_int_none(&a, set->max_addresses, -1);
	store_pg_text(&a, set->max_connections == STORE_UNCHANGED ? "t" : "f");
	store_pg_int_none(&a, set->max_connections, -1);
	store_pg_text(&a, role == NULL ? "t" : "f");
	store_pg_text(&a, role == NULL || role[0] == '\0' ? NULL : role);
	if (store_pg_do(st, "UPDATE accounts SET"
	    " max_tunnels = CASE WHEN $2::boolean THEN max_tunnels ELSE $3::integer END,"
	    " max_addresses = CASE WHEN $4::boolean THEN max_addresses ELSE $5::integer END,"
	    " max_connections = CASE WHEN $6::boolean THEN max_connections ELSE $7::integer END,"
	    " create_raw_tunnel = CASE WHEN $8::boolean THEN create_raw_tunnel ELSE $9::text END"
	    " WHERE name = $1", &a, cause) < 0)
		return store_pg_abort(st);
	return store_pg_commit_change(st, 'a', name, cause);
}

/* Delete account name with its members, tokens, keys and addresses (ON DELETE CASCADE). */
int
store_pg_account_del(struct store *st, const char *name, char **cause)
{
	struct store_pg_args	 a = { 0 };

	if (store_pg_begin(st, cause) != 0)
		return -1;
	if (store_pg_account_need(st, name, cause) != 0)
		return store_pg_abort(st);
	store_pg_text(&a, name);
	if (store_pg_do(st, "DELETE FROM accounts WHERE name = $1", &a, cause) < 0)
		return store_pg_abort(st);
	return store_pg_commit_change(st, 'a', name, cause);
}

/* Find account name: *out gets it, or NULL when there is none. */
int
store_pg_account_find(struct store *st, const char *name, struct store_account **out,
    char **cause)
{
	struct store_pg_args	 a = { 0 };
	void			*r;

	store_pg_int(&a, store_now());
	store_pg_text(&a, name);
	if (store_pg_one(st, STORE_PG_ACCOUNT_SELECT " WHERE a.name = $2", &a,
	    &store_account_kind, &r, cause) != 0)
		return -1;
	*out = r;
	return 0;
}

/* List every account, by name. */
int
store_pg_account_list(struct store *st, struct store_account ***out, size_t *n, char **cause)
{
	struct store_pg_args	 a = { 0 };

	store_pg_int(&a, store_now());
	*out = store_pg_collect(st, STORE_PG_ACCOUNT_SELECT " ORDER BY a.name COLLATE \"C\"", &a,
	    &store_account_kind, n, cause);
	return *out != NULL ? 0 : -1;
}

/*
 * The id of member name of account, and its role when role is not NULL (free it); -1 with a
 * message naming what is missing when there is no such member.
 */
int
store_pg_member_id(struct store *st, const char *account, const char *name, int64_t *id,
    char **role, char **cause)
{
	struct store_pg_args	 a = { 0 };
	PGresult		*r;
	char			 qa[LOG_QUOTE_SIZE], qn[LOG_QUOTE_SIZE];

	if (store_pg_account_need(st, account, cause) != 0)
		return -1;
	store_pg_text(&a, account);
	store_pg_text(&a, name);
	if ((r = store_pg_exec(st, "SELECT id, role FROM members WHERE account = $1 AND "
	    "name = $2", &a, cause)) == NULL)
		return -1;
	if (PQntuples(r) == 0) {
		PQclear(r);
		xasprintf(cause, "account '%s' has no member '%s'", log_quote(account, qa),
		    log_quote(name, qn));
		return -1;
	}
	*id = store_pg_col_int(r, 0, 0, 0);
	if (role != NULL)
		*role = store_pg_col_text(r, 0, 1);
	PQclear(r);
	return 0;
}

/* Add member name with role to account, unless it has one of that name. */
int
store_pg_member_add(struct store *st, const char *account, const char *name, const char *role,
    char **cause)
{
	char	*why = NULL;
	int64_t	 id;

	if (store_pg_begin(st, cause) != 0)
		return -1;
	if (store_pg_account_need(st, account, cause) != 0)
		return store_pg_abort(st);
	if (store_pg_member_id(st, account, name, &id, NULL, &why) == 0) {
		store_rule_member_taken(account, name, cause);
		return store_pg_abort(st);
	}
	free(why);
	if (store_pg_member_insert(st, account, name, role, cause) != 0)
		return store_pg_abort(st);
	return store_pg_commit(st, 0, cause);
}

/*
 * Within a transaction: fail when taking member id (with role, NULL for none) away from the
 * owners of account would leave it with none.
 */
static int
store_pg_member_keep_owner(struct store *st, const char *account, const char *name,
    int64_t id, const char *role, char **cause)
{
	struct store_pg_args	 a = { 0 };
	int			 rc;

	if (role == NULL || strcmp(role, "owner") != 0)
		return 0;
	store_pg_text(&a, account);
	store_pg_int(&a, id);
	if ((rc = store_pg_exists(st, "SELECT 1 FROM members WHERE account = $1 AND "
	    "role = 'owner' AND id != $2", &a, cause)) != 0)
		return rc == 1 ? 0 : -1;
	return store_rule_last_owner(account, name, cause);
}

/* Delete member name of account, with its keys, tokens and API keys (ON DELETE CASCADE). */
int
store_pg_member_del(struct store *st, const char *account, const char *name, char **cause)
{
	struct store_pg_args	 a = { 0 };
	char			*role = NULL;
	int64_t			 id;
	int			 rc;

	if (store_pg_begin(st, cause) != 0)
		return -1;
	if (store_pg_member_id(st, account, name, &id, &role, cause) != 0)
		return store_pg_abort(st);
	rc = store_pg_member_keep_owner(st, account, name, id, role, cause);
	free(role);
	store_pg_int(&a, id);
	if (rc != 0 || store_pg_do(st, "DELETE FROM members WHERE id = $1", &a, cause) < 0)
		return store_pg_abort(st);
	return store_pg_commit_change(st, 'a', account, cause);
}

/* Give member name of account the role role. */
int
store_pg_member_set_role(struct store *st, const char *account, const char *name,
    const char *role, char **cause)
{
	struct store_pg_args	 a = { 0 };
	char			*was = NULL;
	int64_t			 id;
	int			 rc = 0;

	if (store_pg_begin(st, cause) != 0)
		return -1;
	if (store_pg_member_id(st, account, name, &id, &was, cause) != 0)
		return store_pg_abort(st);
	if (strcmp(role, "owner") != 0)
		rc = store_pg_member_keep_owner(st, account, name, id, was, cause);
	free(was);
	store_pg_int(&a, id);
	store_pg_text(&a, role);
	if (rc != 0 || store_pg_do(st, "UPDATE members SET role = $2 WHERE id = $1", &a,
	    cause) < 0)
		return store_pg_abort(st);
	return store_pg_commit_change(st, 'a', account, cause);
}

/* Run a member query whose $1 is the time now and whose $2 (and $3) are given. */
static int
store_pg_member_query(struct store *st, const char *sql, const char *x, const char *y,
    int64_t n, struct store_member **out, char **cause)
{
	struct store_pg_args	 a = { 0 };
	void			*m;

	store_pg_int(&a, store_now());
	if (x != NULL)
		store_pg_text(&a, x);
	else
		store_pg_int(&a, n);
	if (y != NULL)
		store_pg_text(&a, y);
	if (store_pg_one(st, sql, &a, &store_member_kind, &m, cause) != 0)
		return -1;
	*out = m;
	return 0;
}

/* Find member name of account: *out gets it, or NULL when there is none. */
int
store_pg_member_find(struct store *st, const char *account, const char *name,
    struct store_member **out, char **cause)
{
	return store_pg_member_query(st, STORE_PG_MEMBER_SELECT
	    " WHERE m.account = $2 AND m.name = $3", account, name, 0, out, cause);
}

/* The member token id belongs to, or NULL. */
int
store_pg_member_of_token(struct store *st, int64_t id, struct store_member **out,
    char **cause)
{
	return store_pg_member_query(st, STORE_PG_MEMBER_SELECT
	    " JOIN tokens x ON x.member = m.id WHERE x.id = $2", NULL, NULL, id, out, cause);
}

/* The member the key with this fingerprint belongs to, or NULL. */
int
store_pg_member_of_key(struct store *st, const char *fingerprint, struct store_member **out,
    char **cause)
{
	return store_pg_member_query(st, STORE_PG_MEMBER_SELECT
	    " JOIN keys x ON x.member = m.id WHERE x.fingerprint = $2", fingerprint, NULL, 0, out,
	    cause);
}

/* What a login of token id, or of the key with fingerprint, acts as (see store_login_find). */
int
store_pg_login_find(struct store *st, int64_t id, const char *fingerprint,
    struct store_login **out, char **cause)
{
	struct store_pg_args	 a = { 0 };
	void			*l;

	if (fingerprint == NULL) {
		store_pg_int(&a, id);
		store_pg_int(&a, store_now());
	} else
		store_pg_text(&a, fingerprint);
	if (store_pg_one(st, fingerprint == NULL ?
	    "SELECT m.account, m.name, m.role, a.create_raw_tunnel, a.max_tunnels,"
	    " a.max_connections, t.port, CASE WHEN t.port IS NULL THEN NULL"
	    " ELSE coalesce(t.protocol, 'tcp') END, CASE WHEN t.revoked IS NULL AND"
	    " (t.expires IS NULL OR t.expires > $2) THEN 1 ELSE 0 END FROM tokens t"
	    " JOIN members m ON m.id = t.member JOIN accounts a ON a.name = m.account"
	    " WHERE t.id = $1" :
	    "SELECT m.account, m.name, m.role, a.create_raw_tunnel, a.max_tunnels,"
	    " a.max_connections, NULL, NULL, 1 FROM keys k JOIN members m ON m.id = k.member"
	    " JOIN accounts a ON a.name = m.account WHERE k.fingerprint = $1", &a,
	    &store_login_kind, &l, cause) != 0)
		return -1;
	*out = l;
	return 0;
}

/* List the members of account (NULL: every account's), by account, then name. */
int
store_pg_member_list(struct store *st, const char *account, struct store_member ***out,
    size_t *n, char **cause)
{
	struct store_pg_args	 a = { 0 };

	if (account != NULL && store_pg_account_need(st, account, cause) != 0)
		return -1;
	store_pg_int(&a, store_now());
	store_pg_text(&a, account);
	*out = store_pg_collect(st, STORE_PG_MEMBER_SELECT " WHERE $2::text IS NULL OR "
	    "m.account = $2 ORDER BY m.account COLLATE \"C\", m.name COLLATE \"C\"", &a,
	    &store_member_kind, n, cause);
	return *out != NULL ? 0 : -1;
}
