/* SPDX-License-Identifier: ISC */
/* tunnelgw: the SQLite backend of the store: statements, transactions, rows, the counter. */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "sqlite-int.h"
#include "xmalloc.h"

/*
 * How the store is used safely by the daemon and tunnelgwctl at once:
 *
 * - WAL journal: readers never block the writer nor each other, and a kill -9 at any moment
 *   leaves the last committed transaction in the WAL, replayed by the next opener.
 * - synchronous=FULL: every commit is fsynced. NORMAL would be safe against a killed process
 *   too, but a power loss could roll back the last commits, and a token printed to an
 *   operator, or a key registered by a user, must not vanish. Writes are operator actions,
 *   logins and registrations: rare enough that an fsync each costs nothing that matters.
 * - Every write is one BEGIN IMMEDIATE transaction: it takes the write lock first (waiting up
 *   to the busy timeout), checks, writes and commits, or rolls back and changes nothing.
 * - The change counter: table "changes" holds one sequence number, bumped in every write
 *   transaction that can end a session or narrow it (src/store.h): every worker then checks
 *   each of its sessions, so additions and a token's last_used do not bump it. The
 *   daemon polls store_changes(), which first asks PRAGMA data_version (no I/O, in memory)
 *   whether another connection committed anything, and reads the counter only then.
 */

/* The SQLite store st is: this backend opened it. */
struct store_sqlite *
store_sqlite_of(struct store *st)
{
	return (struct store_sqlite *)st;
}

/* Hand back the message of SQLite result rc on st's connection. */
void
store_sqlite_error(struct store *st, int rc, char **cause)
{
	struct store_sqlite	*sq = store_sqlite_of(st);

	switch (rc & 0xff) {
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		xasprintf(cause, "DB: database is locked by another process (waited %d ms)",
		    sq->busy_ms);
		break;
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB:
		xasprintf(cause, "DB: %s: database is corrupt (%s)", sq->path, sqlite3_errstr(rc));
		break;
	case SQLITE_READONLY:
		xasprintf(cause, "DB: %s: cannot write (%s)", sq->path, sqlite3_errmsg(sq->db));
		break;
	case SQLITE_CANTOPEN:
		xasprintf(cause, "DB: %s: cannot open its journal (is its folder writable?)",
		    sq->path);
		break;
	case SQLITE_FULL:
		xasprintf(cause, "DB: %s: disk full", sq->path);
		break;
	default:
		xasprintf(cause, "DB: %s", sqlite3_errmsg(sq->db));
		break;
	}
}

/* Prepare one statement of sql. */
int
store_sqlite_prepare(struct store *st, const char *sql, sqlite3_stmt **stmt, char **cause)
{
	int	 rc;

	rc = sqlite3_prepare_v2(store_sqlite_of(st)->db, sql, -1, stmt, NULL);
	if (rc != SQLITE_OK) {
		store_sqlite_error(st, rc, cause);
		*stmt = NULL;
		return -1;
	}
	return 0;
}

/* Finalize a statement that stepped to rc: 1 after a row, 0 at the end, -1 on error. */
static int
store_sqlite_finish(struct store *st, sqlite3_stmt *stmt, int rc, char **cause)
{
	sqlite3_finalize(stmt);
	if (rc == SQLITE_ROW)
		return 1;
	if (rc == SQLITE_DONE)
		return 0;
	store_sqlite_error(st, rc, cause);
	return -1;
}

/* Run a statement that returns no row, then finalize it. */
int
store_sqlite_done(struct store *st, sqlite3_stmt *stmt, char **cause)
{
	int	 rc;

	if ((rc = store_sqlite_finish(st, stmt, sqlite3_step(stmt), cause)) == 1)
		store_sqlite_error(st, SQLITE_ROW, cause);
	return rc == 0 ? 0 : -1;
}

/* Run SQL that holds no outside data (schema, pragmas, transaction control). */
int
store_sqlite_exec(struct store *st, const char *sql, char **cause)
{
	int	 rc;

	if ((rc = sqlite3_exec(store_sqlite_of(st)->db, sql, NULL, NULL, NULL)) != SQLITE_OK) {
		store_sqlite_error(st, rc, cause);
		return -1;
	}
	return 0;
}

/*
 * Step a statement that must return a row: 0 with the row to read (then finalize it), or -1,
 * finalized, on an error and when there is no row.
 */
static int
store_sqlite_need_row(struct store *st, sqlite3_stmt *stmt, char **cause)
{
	int	 rc;

	if ((rc = sqlite3_step(stmt)) == SQLITE_ROW)
		return 0;
	if (store_sqlite_finish(st, stmt, rc, cause) == 0)
		store_sqlite_error(st, SQLITE_DONE, cause);
	return -1;
}

/* Read the single integer a query returns into *v. */
int
store_sqlite_int_query(struct store *st, const char *sql, int64_t *v, char **cause)
{
	sqlite3_stmt	*stmt;

	if (store_sqlite_prepare(st, sql, &stmt, cause) != 0 ||
	    store_sqlite_need_row(st, stmt, cause) != 0)
		return -1;
	*v = sqlite3_column_int64(stmt, 0);
	sqlite3_finalize(stmt);
	return 0;
}

/*
 * Run a pragma that answers with a line of text: 1 when the line is want, 0 when not, -1 on
 * error. *got gets a copy of the line (free it), or NULL.
 */
int
store_sqlite_pragma_is(struct store *st, const char *sql, const char *want, char **got,
    char **cause)
{
	sqlite3_stmt	*stmt;

	*got = NULL;
	if (store_sqlite_prepare(st, sql, &stmt, cause) != 0 ||
	    store_sqlite_need_row(st, stmt, cause) != 0)
		return -1;
	*got = store_sqlite_col_text(stmt, 0);
	sqlite3_finalize(stmt);
	return *got != NULL && strcmp(*got, want) == 0;
}

/* Run a query and finalize it: 1 when it returns a row, 0 when none, -1 on error. */
int
store_sqlite_exists(struct store *st, sqlite3_stmt *stmt, char **cause)
{
	return store_sqlite_finish(st, stmt, sqlite3_step(stmt), cause);
}

/* Run a query and finalize it: *text gets the first column of its row, or NULL for none. */
int
store_sqlite_text(struct store *st, sqlite3_stmt *stmt, char **text, char **cause)
{
	int	 rc;

	*text = NULL;
	if ((rc = sqlite3_step(stmt)) == SQLITE_ROW)
		*text = store_sqlite_col_text(stmt, 0);
	return store_sqlite_finish(st, stmt, rc, cause) == -1 ? -1 : 0;
}

/* Start a write transaction: take the write lock now, waiting up to the busy timeout. */
int
store_sqlite_begin(struct store *st, char **cause)
{
	return store_sqlite_exec(st, "BEGIN IMMEDIATE", cause);
}

/* Undo the open transaction, if any. */
void
store_sqlite_rollback(struct store *st)
{
	sqlite3	*db = store_sqlite_of(st)->db;

	if (!sqlite3_get_autocommit(db))
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
}

/* Commit the open transaction; bump: count it as a change the daemon must notice. */
int
store_sqlite_commit(struct store *st, int bump, char **cause)
{
	if (bump && store_sqlite_exec(st, "UPDATE changes SET seq = seq + 1 WHERE id = 1",
	    cause) != 0)
		goto fail;
	if (store_sqlite_exec(st, "COMMIT", cause) != 0)
		goto fail;
	if (bump)
		store_sqlite_of(st)->seq_valid = 0;
	return 0;

fail:
	store_sqlite_rollback(st);
	return -1;
}

/* Roll back and fail: the ending of every write that found a problem. */
int
store_sqlite_abort(struct store *st)
{
	store_sqlite_rollback(st);
	return -1;
}

/* How many rows the last statement changed. */
int
store_sqlite_changed(struct store *st)
{
	return sqlite3_changes(store_sqlite_of(st)->db);
}

/* A copy of a text column, or NULL when it is NULL. */
char *
store_sqlite_col_text(sqlite3_stmt *stmt, int col)
{
	const unsigned char	*s;

	if ((s = sqlite3_column_text(stmt, col)) == NULL)
		return NULL;
	return xstrdup((const char *)s);
}

/* An integer column; NULL reads as none. */
int64_t
store_sqlite_col_int(sqlite3_stmt *stmt, int col, int64_t none)
{
	if (sqlite3_column_type(stmt, col) == SQLITE_NULL)
		return none;
	return sqlite3_column_int64(stmt, col);
}

/* Make a record of kind of the current row: column i fills field i. */
static void *
store_sqlite_row(sqlite3_stmt *stmt, const struct store_kind *kind)
{
	const struct store_field	*f;
	char				*r = xcalloc(1, kind->size);
	void				*p;
	int64_t				 v;
	int				 i;

	for (i = 0; i < (int)kind->nfields; i++) {
		f = &kind->fields[i];
		p = r + f->offset;
		if (f->type == STORE_TEXT) {
			*(char **)p = store_sqlite_col_text(stmt, i);
			continue;
		}
		v = store_sqlite_col_int(stmt, i, f->none);
		if (f->type == STORE_INT)
			*(int *)p = (int)v;
		else if (f->type == STORE_UINT)
			*(unsigned int *)p = (unsigned int)v;
		else
			*(int64_t *)p = v;
	}
	return r;
}

/*
 * Run a query and collect one record of kind per row: returns the array, of *n records and
 * never NULL, even when empty; on an error, NULL (with *n 0). A bind error shows as the
 * step's error.
 */
void *
store_sqlite_collect(struct store *st, sqlite3_stmt *stmt, const struct store_kind *kind,
    size_t *n, char **cause)
{
	void	**v = NULL;
	size_t	  size = 0;
	int	  rc;

	*n = 0;
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		if (*n == size) {
			size = size == 0 ? 16 : size * 2;
			v = xreallocarray(v, size, sizeof *v);
		}
		v[(*n)++] = store_sqlite_row(stmt, kind);
	}
	sqlite3_finalize(stmt);
	if (rc != SQLITE_DONE) {
		store_sqlite_error(st, rc, cause);
		store_list_free(v, *n, kind);
		*n = 0;
		return NULL;
	}
	return xreallocarray(v, *n, sizeof *v);
}

/*
 * Run a query by primary key and make the record of kind of its row: *out gets it, or NULL
 * when there is no row.
 */
int
store_sqlite_one(struct store *st, sqlite3_stmt *stmt, const struct store_kind *kind,
    void **out, char **cause)
{
	void	**v;
	size_t	  n;

	if ((v = store_sqlite_collect(st, stmt, kind, &n, cause)) == NULL)
		return -1;
	*out = n != 0 ? v[0] : NULL;
	free(v);
	return 0;
}

/*
 * The change counter (see store_changes). Without another connection's commit since the
 * last call (PRAGMA data_version), it is answered from memory.
 */
int
store_sqlite_changes(struct store *st, int64_t *seq, char **cause)
{
	struct store_sqlite	*sq = store_sqlite_of(st);
	int64_t			 dv, v;

	if (store_sqlite_int_query(st, "PRAGMA data_version", &dv, cause) != 0)
		return -1;
	if (!sq->seq_valid || dv != sq->data_version) {
		if (store_sqlite_int_query(st, "SELECT seq FROM changes WHERE id = 1", &v,
		    cause) != 0)
			return -1;
		sq->seq = v;
		sq->data_version = dv;
		sq->seq_valid = 1;
	}
	*seq = sq->seq;
	return 0;
}

/* Run PRAGMA integrity_check; 0 when it says ok. */
int
store_sqlite_integrity(struct store *st, char **cause)
{
	char	*s;
	int	 rc;

	if ((rc = store_sqlite_pragma_is(st, "PRAGMA integrity_check", "ok", &s, cause)) == 0)
		xasprintf(cause, "DB: %s: integrity check failed: %s", store_sqlite_of(st)->path,
		    s != NULL ? s : "?");
	free(s);
	return rc == 1 ? 0 : -1;
}
