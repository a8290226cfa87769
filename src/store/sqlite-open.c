/* SPDX-License-Identifier: ISC */
/* tunnelgw: the SQLite backend opened and closed: its file, its connection, its schema. */
#include "config.h"

#include <stdlib.h>

#include <sqlite3.h>

#include "sqlite-int.h"
#include "xmalloc.h"

/* Close the connection. */
static void
store_sqlite_close(struct store *st)
{
	struct store_sqlite	*sq = store_sqlite_of(st);

	sqlite3_close(sq->db);
	store_sqlite_file_release(sq->file);	/* after SQLite's: see sqlite-file.c */
	free(sq->path);
	free(sq);
}

/* The operations of this backend, for the door. */
static const struct store_backend store_sqlite_backend = {
	.close = store_sqlite_close,
	.changes = store_sqlite_changes,
	.integrity = store_sqlite_integrity,
	.account_add = store_sqlite_account_add,
	.account_del = store_sqlite_account_del,
	.account_set = store_sqlite_account_set,
	.account_find = store_sqlite_account_find,
	.account_list = store_sqlite_account_list,
	.member_add = store_sqlite_member_add,
	.member_del = store_sqlite_member_del,
	.member_set_role = store_sqlite_member_set_role,
	.member_find = store_sqlite_member_find,
	.member_list = store_sqlite_member_list,
	.member_of_token = store_sqlite_member_of_token,
	.member_of_key = store_sqlite_member_of_key,
	.login_find = store_sqlite_login_find,
	.apikey_add = store_sqlite_apikey_add,
	.apikey_revoke = store_sqlite_apikey_revoke,
	.apikey_use = store_sqlite_apikey_use,
	.apikey_list = store_sqlite_apikey_list,
	.token_add = store_sqlite_token_add,
	.token_find = store_sqlite_token_find,
	.token_revoke = store_sqlite_token_revoke,
	.token_use = store_sqlite_token_use,
	.token_list = store_sqlite_token_list,
	.key_add = store_sqlite_key_add,
	.key_del = store_sqlite_key_del,
	.key_find = store_sqlite_key_find,
	.key_list = store_sqlite_key_list,
	.address_reserve = store_sqlite_address_reserve,
	.address_release = store_sqlite_address_release,
	.address_find = store_sqlite_address_find,
	.address_list = store_sqlite_address_list,
	.event_add = store_sqlite_event_add,
	.event_list = store_sqlite_event_list,
};

/*
 * Open the SQLite database at path, creating it (mode 0600) when missing, and bring its
 * schema up to date (see store_open).
 */
struct store *
store_sqlite_open(const char *path, int busy_ms, char **cause)
{
	struct store_sqlite	*sq;
	struct store_file	*f;
	int			 rc, first;

	busy_ms = busy_ms < 0 ? 0 : busy_ms;
	if ((f = store_sqlite_file_hold(path, busy_ms, &first, cause)) == NULL)
		return NULL;
	sq = xcalloc(1, sizeof *sq);
	sq->store.backend = &store_sqlite_backend;
	sq->file = f;
	sq->path = xstrdup(path);
	sq->store.where = sq->path;
	sq->busy_ms = busy_ms;

	if ((rc = sqlite3_open_v2(path, &sq->db, SQLITE_OPEN_READWRITE, NULL)) != SQLITE_OK) {
		xasprintf(cause, "DB: %s: cannot open: %s", path,
		    sq->db != NULL ? sqlite3_errmsg(sq->db) : sqlite3_errstr(rc));
		if (first)
			store_sqlite_file_unlock(f);
		store_sqlite_close(&sq->store);
		return NULL;
	}
	sqlite3_extended_result_codes(sq->db, 1);
	sqlite3_busy_timeout(sq->db, sq->busy_ms);
	rc = store_sqlite_schema_setup(&sq->store, first, cause);
	if (first)
		store_sqlite_file_unlock(f);
	if (rc != 0) {
		store_sqlite_close(&sq->store);
		return NULL;
	}
	return &sq->store;
}
