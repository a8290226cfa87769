/* SPDX-License-Identifier: ISC */
/* tunnelgw: what the files of the PostgreSQL backend share; the only header that names libpq. */
#ifndef TG_STORE_PG_INT_H
#define TG_STORE_PG_INT_H

#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "backend.h"

#define STORE_PG_MAXARGS	12	/* most parameters a statement takes */
#define STORE_PG_ANSWER_MS	1000	/* ms an answer may take beyond the lock wait */
#define STORE_PG_RETRY_MS	1000	/* ms between attempts to reconnect */
#define STORE_PG_LOCK_SQL	"1413961521"	/* "TGW1": the advisory lock of every write */
#define STORE_PG_CHANNEL	"tunnelgw_changes"	/* what LISTEN/NOTIFY calls the counter */

/* A connection, and where making it again stands (see pg.c). */
struct store_pg_conn {
	PGconn		*c;		/* NULL: none, until the next attempt */
	int		 connecting;	/* c is being made (PQconnectStartParams) */
	PostgresPollingStatusType poll;	/* what PQconnectPoll last said */
	int64_t		 next_try;	/* ms (monotonic) before which no new attempt starts */
	int		 ready;		/* made, and its set-up done */
};

/*
 * An open PostgreSQL store: one connection for queries and, from the first store_changes,
 * one that only listens for changes.
 */
struct store_pg {
	struct store	 store;		/* first: what the door sees */
	struct store_pg_conn q;
	struct store_pg_conn listen;
	char		*uri;		/* the configured URI: never in a message (a password) */
	char		*where;		/* "database NAME on HOST": what messages name */
	int		 busy_ms;
	int		 listening;	/* store_changes was called: keep listen */
	int64_t		 seq;		/* the change counter last read */
	int		 seq_valid;	/* 0: read it again */
	int64_t		 heard;		/* polls that found notifications: seq moves with it */
	int		 scope_all;	/* since store_changed_accounts: any account changed */
	char		**scope;	/* ... or these (STORE_PG_SCOPE_MAX at most) */
	size_t		 nscope;
};

/* A statement's parameters, as text; a NULL value is SQL NULL. At most one is a hash. */
struct store_pg_args {
	int		 n;
	const char	*v[STORE_PG_MAXARGS];
	char		 num[STORE_PG_MAXARGS][24];
	char		 hex[2 + 2 * STORE_HASH_LEN + 1];	/* bytea as "\\x..." */
};

/* pg.c: connections, statements, transactions, rows, the change counter. */
struct store_pg	*store_pg_of(struct store *);
void		 store_pg_text(struct store_pg_args *, const char *);
void		 store_pg_int(struct store_pg_args *, int64_t);
void		 store_pg_int_none(struct store_pg_args *, int64_t, int64_t);
void		 store_pg_hash(struct store_pg_args *, const unsigned char *);
PGresult	*store_pg_exec(struct store *, const char *, const struct store_pg_args *,
		     char **);
PGresult	*store_pg_exec_v(struct store *, const char *, int, const char *const *,
		     char **);
int		 store_pg_do(struct store *, const char *, const struct store_pg_args *,
		     char **);
int		 store_pg_exists(struct store *, const char *, const struct store_pg_args *,
		     char **);
int		 store_pg_string(struct store *, const char *, const struct store_pg_args *,
		     char **, char **);
void		*store_pg_collect(struct store *, const char *, const struct store_pg_args *,
		     const struct store_kind *, size_t *, char **);
int		 store_pg_one(struct store *, const char *, const struct store_pg_args *,
		     const struct store_kind *, void **, char **);
int64_t		 store_pg_col_int(const PGresult *, int, int, int64_t);
char		*store_pg_col_text(const PGresult *, int, int);
int		 store_pg_col_hash(const PGresult *, int, int, unsigned char *);
int		 store_pg_begin(struct store *, char **);
int		 store_pg_begin_nolock(struct store *, int, char **);
void		 store_pg_rollback(struct store *);
int		 store_pg_commit(struct store *, int, char **);
int		 store_pg_commit_change(struct store *, char, const char *, char **);
int		 store_pg_commit_change_of(struct store *, char, PGresult *, char **);
int		 store_pg_abort(struct store *);

/* pg-schema.c: the schema, its checks and migrations. */
int		 store_pg_schema_setup(struct store *, char **);
int		 store_pg_integrity(struct store *, char **);

/* pg-accounts.c: accounts and members. */
int		 store_pg_account_need(struct store *, const char *, char **);
int		 store_pg_member_id(struct store *, const char *, const char *, int64_t *, char **,
		     char **);
int		 store_pg_account_add(struct store *, const char *, int, char **);
int		 store_pg_account_del(struct store *, const char *, char **);
int		 store_pg_account_set(struct store *, const char *,
		     const struct store_account_set *, char **);
int		 store_pg_account_find(struct store *, const char *, struct store_account **,
		     char **);
int		 store_pg_account_list(struct store *, struct store_account ***, size_t *,
		     char **);
int		 store_pg_member_add(struct store *, const char *, const char *, const char *,
		     char **);
int		 store_pg_member_del(struct store *, const char *, const char *, char **);
int		 store_pg_member_set_role(struct store *, const char *, const char *,
		     const char *, char **);
int		 store_pg_member_find(struct store *, const char *, const char *,
		     struct store_member **, char **);
int		 store_pg_member_list(struct store *, const char *, struct store_member ***,
		     size_t *, char **);
int		 store_pg_member_of_token(struct store *, int64_t, struct store_member **,
		     char **);
int		 store_pg_member_of_key(struct store *, const char *, struct store_member **,
		     char **);
int		 store_pg_login_find(struct store *, int64_t, const char *, struct store_login **,
		     char **);

/* pg-tokens.c: tokens and API keys. */
int		 store_pg_token_add(struct store *, const char *, const char *,
		     const struct store_hash *, int64_t, int64_t, const char *, int, int,
		     int64_t *, char **);
int		 store_pg_token_find(struct store *, int64_t, struct store_token **, char **);
int		 store_pg_token_revoke(struct store *, int64_t, char **);
int		 store_pg_token_use(struct store *, const struct store_hash *, int, char **,
		     int64_t *, char **);
int		 store_pg_token_list(struct store *, struct store_token ***, size_t *, char **);
int		 store_pg_apikey_add(struct store *, const char *, const char *,
		     const struct store_hash *, int64_t *, char **);
int		 store_pg_apikey_revoke(struct store *, int64_t, char **);
int		 store_pg_apikey_use(struct store *, const struct store_hash *,
		     struct store_apikey **, char **);
int		 store_pg_apikey_list(struct store *, const char *, struct store_apikey ***,
		     size_t *, char **);

/* pg-keys.c: keys, reserved addresses and events. */
int		 store_pg_key_add(struct store *, const struct store_key *, char **);
int		 store_pg_key_del(struct store *, const char *, char **);
int		 store_pg_key_find(struct store *, const char *, struct store_key **, char **);
int		 store_pg_key_list(struct store *, struct store_key ***, size_t *, char **);
int		 store_pg_address_reserve(struct store *, const char *, const char *,
		     const char *, int, int, int, int *, char **);
int		 store_pg_address_release(struct store *, const char *, int, char **);
int		 store_pg_address_find(struct store *, const char *, int, struct store_address **,
		     char **);
int		 store_pg_address_list(struct store *, struct store_address ***, size_t *,
		     char **);
int		 store_pg_event_add(struct store *, const struct store_event *, size_t, int64_t,
		     int64_t, char **);
int		 store_pg_event_list(struct store *, const struct store_event_filter *,
		     struct store_event ***, size_t *, char **);

/* pg-nodes.c: gateways sharing the database, and their live tunnels. */
int		 store_pg_node_join(struct store *, const struct store_node *, int64_t *, char **);
int		 store_pg_node_sync(struct store *, const struct store_node *, struct store_live **,
		     size_t,
		     const int64_t *, size_t, struct store_live **, size_t,
		     struct store_live_count **, size_t, int64_t **, size_t *, char **);
int		 store_pg_node_leave(struct store *, const struct store_node *, char **);
int		 store_pg_live_list(struct store *, const char *, struct store_live ***, size_t *,
		     char **);
int		 store_pg_live_counts(struct store *, const char *, const char *, int64_t,
		     struct store_live_count ***, size_t *, int64_t *, char **, int *, char **);
int		 store_pg_live_close(struct store *, int64_t, char **);

#endif
