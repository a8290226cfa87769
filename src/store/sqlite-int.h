/* SPDX-License-Identifier: ISC */
/* tunnelgw: what the files of the SQLite backend share; the only header that names SQLite. */
#ifndef TG_STORE_SQLITE_INT_H
#define TG_STORE_SQLITE_INT_H

#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

#include "backend.h"

struct store_file;

/* An open SQLite store: one connection. */
struct store_sqlite {
	struct store	 store;		/* first: what the door sees */
	sqlite3		*db;
	struct store_file *file;	/* this process's hold on the file (see sqlite-file.c) */
	char		*path;
	int		 busy_ms;
	int64_t		 data_version;	/* PRAGMA data_version when seq was read */
	int64_t		 seq;		/* the change counter last read */
	int		 seq_valid;	/* 0: read it again */
};

/* sqlite.c: statements, transactions, rows, the change counter, the integrity check. */
struct store_sqlite *store_sqlite_of(struct store *);
void		 store_sqlite_error(struct store *, int, char **);
int		 store_sqlite_prepare(struct store *, const char *, sqlite3_stmt **, char **);
int		 store_sqlite_done(struct store *, sqlite3_stmt *, char **);
int		 store_sqlite_exec(struct store *, const char *, char **);
int		 store_sqlite_int_query(struct store *, const char *, int64_t *, char **);
int		 store_sqlite_pragma_is(struct store *, const char *, const char *, char **,
		     char **);
int		 store_sqlite_exists(struct store *, sqlite3_stmt *, char **);
int		 store_sqlite_text(struct store *, sqlite3_stmt *, char **, char **);
int		 store_sqlite_begin(struct store *, char **);
void		 store_sqlite_rollback(struct store *);
int		 store_sqlite_commit(struct store *, int, char **);
int		 store_sqlite_abort(struct store *);
int		 store_sqlite_changed(struct store *);
char		*store_sqlite_col_text(sqlite3_stmt *, int);
int64_t		 store_sqlite_col_int(sqlite3_stmt *, int, int64_t);
void		*store_sqlite_collect(struct store *, sqlite3_stmt *, const struct store_kind *,
		     size_t *, char **);
int		 store_sqlite_one(struct store *, sqlite3_stmt *, const struct store_kind *,
		     void **, char **);
int		 store_sqlite_changes(struct store *, int64_t *, char **);
int		 store_sqlite_integrity(struct store *, char **);

/* sqlite-file.c: the file, before and beside SQLite. */
struct store_file *store_sqlite_file_hold(const char *, int, int *, char **);
void		 store_sqlite_file_unlock(struct store_file *);
void		 store_sqlite_file_release(struct store_file *);

/* sqlite-schema.c: connection settings, schema checks and migrations. */
int		 store_sqlite_schema_setup(struct store *, int, char **);

/* sqlite-accounts.c */
int		 store_sqlite_account_need(struct store *, const char *, char **);
int		 store_sqlite_account_add(struct store *, const char *, int, char **);
int		 store_sqlite_account_del(struct store *, const char *, char **);
int		 store_sqlite_account_find(struct store *, const char *, struct store_account **,
		     char **);
int		 store_sqlite_account_list(struct store *, struct store_account ***, size_t *,
		     char **);

/* sqlite-tokens.c */
int		 store_sqlite_token_add(struct store *, const char *, const char *,
		     const struct store_hash *, int64_t, int64_t, const char *, int, int,
		     int64_t *, char **);
int		 store_sqlite_token_find(struct store *, int64_t, struct store_token **, char **);
int		 store_sqlite_token_revoke(struct store *, int64_t, char **);
int		 store_sqlite_token_use(struct store *, const struct store_hash *, int, char **,
		     int64_t *, char **);
int		 store_sqlite_token_list(struct store *, struct store_token ***, size_t *,
		     char **);

/* sqlite-keys.c */
int		 store_sqlite_key_add(struct store *, const struct store_key *, char **);
int		 store_sqlite_key_del(struct store *, const char *, char **);
int		 store_sqlite_key_find(struct store *, const char *, struct store_key **, char **);
int		 store_sqlite_key_list(struct store *, struct store_key ***, size_t *, char **);

/* sqlite-addresses.c */
int		 store_sqlite_address_reserve(struct store *, const char *, const char *,
		     const char *, int, int, int, int *, char **);
int		 store_sqlite_address_release(struct store *, const char *, int, char **);
int		 store_sqlite_address_find(struct store *, const char *, int,
		     struct store_address **, char **);
int		 store_sqlite_address_list(struct store *, struct store_address ***, size_t *,
		     char **);

/* sqlite-events.c */
int		 store_sqlite_event_add(struct store *, const struct store_event *, size_t,
		     int64_t, int64_t, char **);
int		 store_sqlite_event_list(struct store *, const struct store_event_filter *,
		     struct store_event ***, size_t *, char **);

int		 store_sqlite_account_set(struct store *, const char *,
		     const struct store_account_set *, char **);
int		 store_sqlite_member_insert(struct store *, const char *, const char *,
		     const char *, char **);
int		 store_sqlite_member_id(struct store *, const char *, const char *, int64_t *,
		     char **, char **);
int		 store_sqlite_member_add(struct store *, const char *, const char *, const char *,
		     char **);
int		 store_sqlite_member_del(struct store *, const char *, const char *, char **);
int		 store_sqlite_member_set_role(struct store *, const char *, const char *,
		     const char *, char **);
int		 store_sqlite_member_find(struct store *, const char *, const char *,
		     struct store_member **, char **);
int		 store_sqlite_member_list(struct store *, const char *, struct store_member ***,
		     size_t *, char **);
int		 store_sqlite_member_of_token(struct store *, int64_t, struct store_member **,
		     char **);
int		 store_sqlite_member_of_key(struct store *, const char *, struct store_member **,
		     char **);
int		 store_sqlite_login_find(struct store *, int64_t, const char *,
		     struct store_login **, char **);
int		 store_sqlite_apikey_add(struct store *, const char *, const char *,
		     const struct store_hash *, int64_t *, char **);
int		 store_sqlite_apikey_revoke(struct store *, int64_t, char **);
int		 store_sqlite_apikey_use(struct store *, const struct store_hash *,
		     struct store_apikey **, char **);
int		 store_sqlite_apikey_list(struct store *, const char *, struct store_apikey ***,
		     size_t *, char **);

#endif
