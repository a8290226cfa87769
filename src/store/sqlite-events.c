/* SPDX-License-Identifier: ISC */
/* tunnelgw: the SQLite backend's events table (src/events.c), newest last. */
#include "config.h"

#include <stdint.h>

#include <sqlite3.h>

#include "sqlite-int.h"

/* Bind text, or NULL when s is NULL. */
static int
store_sqlite_event_bind_text(sqlite3_stmt *stmt, int col, const char *s)
{
	if (s == NULL)
		return sqlite3_bind_null(stmt, col);
	return sqlite3_bind_text(stmt, col, s, -1, SQLITE_STATIC);
}

/* Bind a number, or NULL when it is negative (none). */
static int
store_sqlite_event_bind_count(sqlite3_stmt *stmt, int col, int64_t v)
{
	if (v < 0)
		return sqlite3_bind_null(stmt, col);
	return sqlite3_bind_int64(stmt, col, v);
}

/* Bind the fields of event e to the columns of the insert. */
static void
store_sqlite_event_bind(sqlite3_stmt *stmt, const struct store_event *e)
{
	sqlite3_bind_int64(stmt, 1, e->time);
	sqlite3_bind_text(stmt, 2, e->event != NULL ? e->event : "?", -1, SQLITE_STATIC);
	store_sqlite_event_bind_text(stmt, 3, e->account);
	store_sqlite_event_bind_text(stmt, 4, e->url);
	store_sqlite_event_bind_text(stmt, 5, e->client);
	store_sqlite_event_bind_count(stmt, 6, e->bytes_in);
	store_sqlite_event_bind_count(stmt, 7, e->bytes_out);
	store_sqlite_event_bind_count(stmt, 8, e->duration_ms);
	store_sqlite_event_bind_text(stmt, 9, e->detail);
}

/* Within a transaction: insert n events with one prepared statement. */
static int
store_sqlite_event_insert(struct store *st, const struct store_event *ev, size_t n,
    char **cause)
{
	sqlite3_stmt	*stmt;
	size_t		 i;
	int		 rc;

	if (store_sqlite_prepare(st, "INSERT INTO events (time, event, account, url, client, "
	    "bytes_in, bytes_out, duration_ms, detail) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, "
	    "?9)", &stmt, cause) != 0)
		return -1;
	for (i = 0; i < n; i++) {
		store_sqlite_event_bind(stmt, &ev[i]);
		rc = sqlite3_step(stmt);
		sqlite3_reset(stmt);
		sqlite3_clear_bindings(stmt);
		if (rc != SQLITE_DONE) {
			store_sqlite_error(st, rc, cause);
			sqlite3_finalize(stmt);
			return -1;
		}
	}
	sqlite3_finalize(stmt);
	return 0;
}

/*
 * Within a transaction: delete the events older than before (Unix seconds; 0 keeps any
 * age), and all but the newest max_rows (0 or less: no bound): the index on time and the
 * rowid make both cheap.
 */
static int
store_sqlite_event_trim(struct store *st, int64_t before, int64_t max_rows, char **cause)
{
	sqlite3_stmt	*stmt;

	if (before > 0) {
		if (store_sqlite_prepare(st, "DELETE FROM events WHERE time < ?1", &stmt,
		    cause) != 0)
			return -1;
		sqlite3_bind_int64(stmt, 1, before);
		if (store_sqlite_done(st, stmt, cause) != 0)
			return -1;
	}
	if (max_rows > 0) {
		if (store_sqlite_prepare(st, "DELETE FROM events WHERE id <= "
		    "(SELECT max(id) FROM events) - ?1", &stmt, cause) != 0)
			return -1;
		sqlite3_bind_int64(stmt, 1, max_rows);
		if (store_sqlite_done(st, stmt, cause) != 0)
			return -1;
	}
	return 0;
}

/*
 * Add a batch of n events in one transaction and trim the table (store_sqlite_event_trim),
 * waiting at most STORE_EVENT_BUSY ms for another writer. Not a change the daemon must notice.
 */
int
store_sqlite_event_add(struct store *st, const struct store_event *ev, size_t n,
    int64_t before, int64_t max_rows, char **cause)
{
	struct store_sqlite	*sq = store_sqlite_of(st);
	int			 busy = sq->busy_ms, rc = -1;

	sq->busy_ms = busy < STORE_EVENT_BUSY ? busy : STORE_EVENT_BUSY;
	sqlite3_busy_timeout(sq->db, sq->busy_ms);
	if (store_sqlite_begin(st, cause) != 0)
		goto out;
	if (store_sqlite_event_insert(st, ev, n, cause) != 0 ||
	    store_sqlite_event_trim(st, before, max_rows, cause) != 0) {
		store_sqlite_rollback(st);
		goto out;
	}
	rc = store_sqlite_commit(st, 0, cause);
out:
	sq->busy_ms = busy;
	sqlite3_busy_timeout(sq->db, busy);
	return rc;
}

/* List the newest limit events, newest first; only account's when account is not NULL. */
int
store_sqlite_event_list(struct store *st, const struct store_event_filter *f,
    struct store_event ***out, size_t *n, char **cause)
{
	sqlite3_stmt	*stmt;

	if (store_sqlite_prepare(st, "SELECT id, time, event, account, url, client, bytes_in, "
	    "bytes_out, duration_ms, detail FROM events WHERE (?1 IS NULL OR account = ?1) "
	    "AND (?2 IS NULL OR event = ?2) AND (?3 = 0 OR time >= ?3) AND (?4 = 0 OR time < ?4) "
	    "AND (?5 = 0 OR id < ?5) AND (?7 IS NULL OR url = ?7) ORDER BY id DESC LIMIT ?6",
	    &stmt, cause) != 0)
		return -1;
	store_sqlite_event_bind_text(stmt, 1, f->account);
	store_sqlite_event_bind_text(stmt, 2, f->event);
	sqlite3_bind_int64(stmt, 3, f->since);
	sqlite3_bind_int64(stmt, 4, f->until);
	sqlite3_bind_int64(stmt, 5, f->before);
	sqlite3_bind_int(stmt, 6, f->limit);
	store_sqlite_event_bind_text(stmt, 7, f->url);
	*out = store_sqlite_collect(st, stmt, &store_event_kind, n, cause);
	return *out != NULL ? 0 : -1;
}
