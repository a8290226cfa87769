/* SPDX-License-Identifier: ISC */
/* tunnelgw: the PostgreSQL backend of the store: connections, statements, transactions, rows. */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>

#include "json.h"
#include "log.h"
#include "pg-int.h"
#include "xmalloc.h"

/*
 * How the store is used safely by several gateways and tunnelgwctl at once:
 *
 * - Every write is one transaction that first takes one advisory lock (pg_advisory_xact_lock
 *   of STORE_PG_LOCK_SQL), waiting at most the busy timeout (lock_timeout): as SQLite's BEGIN
 *   IMMEDIATE, a write checks and writes with no other writer in between, on any node. Writes
 *   are operator actions, logins and registrations: rare enough for one lock. Events do not
 *   take it (they only insert and trim).
 * - The change counter: table "changes" holds one sequence number, bumped in every write
 *   transaction that can end a session or narrow it (src/store.h), which also NOTIFYs
 *   STORE_PG_CHANNEL with what it concerns: "a:ACCOUNT" (the sessions of that account),
 *   "n:NODE" (a tunnel of that gateway asked to close: no session), or "" (anything).
 *   store_changes listens on a connection of its own and reads the counter only when a
 *   notification came (or the listening connection was made again, when some may have been
 *   missed): polling it costs one read() that finds nothing. store_changed_accounts then
 *   names the accounts whose sessions to check, so that a revocation costs each gateway one
 *   read per session of that account, not one per session it holds.
 * - No call waits long: an answer may take the lock wait and STORE_PG_ANSWER_MS more, then the
 *   connection is dropped. A connection lost is made again by the calls that follow, each
 *   advancing it for at most STORE_PG_CONNECT_MS, at most one new attempt per
 *   STORE_PG_RETRY_MS; until it is made they fail at once with "DB: cannot reach ...". The
 *   first connection (store_open) waits as libpq's connect_timeout says.
 */

#define STORE_PG_CONNECT_MS	100	/* ms a call may spend advancing a new connection */
#define STORE_PG_SCOPE_MAX	256	/* accounts named between two looks; more: any */
#define STORE_PG_PAYLOAD_MAX	4000	/* bytes of a notification's payload (8000 at most) */

/* The PostgreSQL store st is: this backend opened it. */
struct store_pg *
store_pg_of(struct store *st)
{
	return (struct store_pg *)st;
}

/* A monotonic clock in milliseconds. */
static int64_t
store_pg_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* --- parameters ---------------------------------------------------------------------------- */

/* Add a text parameter; NULL is SQL NULL. */
void
store_pg_text(struct store_pg_args *a, const char *s)
{
	if (a->n < STORE_PG_MAXARGS)
		a->v[a->n++] = s;
}

/* Add a number parameter. */
void
store_pg_int(struct store_pg_args *a, int64_t v)
{
	if (a->n >= STORE_PG_MAXARGS)
		return;
	snprintf(a->num[a->n], sizeof a->num[a->n], "%lld", (long long)v);
	a->v[a->n] = a->num[a->n];
	a->n++;
}

/* Add a number parameter, SQL NULL when it is none. */
void
store_pg_int_none(struct store_pg_args *a, int64_t v, int64_t none)
{
	if (v == none)
		store_pg_text(a, NULL);
	else
		store_pg_int(a, v);
}

/* Add a hash (bytea) parameter, in the hex form. */
void
store_pg_hash(struct store_pg_args *a, const unsigned char *hash)
{
	static const char	 digits[] = "0123456789abcdef";
	size_t			 i;

	a->hex[0] = '\\';
	a->hex[1] = 'x';
	for (i = 0; i < STORE_HASH_LEN; i++) {
		a->hex[2 + 2 * i] = digits[hash[i] >> 4];
		a->hex[3 + 2 * i] = digits[hash[i] & 15];
	}
	a->hex[2 + 2 * STORE_HASH_LEN] = '\0';
	store_pg_text(a, a->hex);
}

/* --- connections --------------------------------------------------------------------------- */

/* The first line of a libpq message, without its "FATAL:  " or "ERROR:  ". */
static char *
store_pg_first_line(const char *msg)
{
	const char	*p;
	char		*s;

	if (msg == NULL || *msg == '\0')
		return xstrdup("no message");
	for (p = msg; strncmp(p, "FATAL:  ", 8) == 0 || strncmp(p, "ERROR:  ", 8) == 0; p += 8)
		;
	s = xstrdup(p);
	s[strcspn(s, "\n")] = '\0';
	return s;
}

/* Close connection pc; the next attempt may start at once. */
static void
store_pg_conn_drop(struct store_pg_conn *pc)
{
	if (pc->c != NULL)
		PQfinish(pc->c);
	pc->c = NULL;
	pc->connecting = 0;
	pc->ready = 0;
}

/* libpq's notices (NOTICE, WARNING) would go to stderr: the daemon's log is not that. */
static void
store_pg_quiet(void *arg, const char *msg)
{
}

/*
 * Start a connection to the URI, with our defaults before it so that the URI wins: a bounded
 * connect, keepalives that notice a dead peer, our name in pg_stat_activity.
 */
static PGconn *
store_pg_start(const char *uri, int blocking)
{
	static const char *const keys[] = {
		"connect_timeout", "keepalives_idle", "keepalives_interval", "keepalives_count",
		"tcp_user_timeout", "application_name", "client_encoding", "dbname", NULL
	};
	const char	*vals[sizeof keys / sizeof keys[0]] = {
		"5", "10", "5", "3", "20000", "tunnelgw", "UTF8", uri, NULL
	};

	if (blocking)
		return PQconnectdbParams(keys, vals, 1);
	return PQconnectStartParams(keys, vals, 1);
}

/* A connection is made: quiet its notices and say so. */
static void
store_pg_conn_made(struct store_pg *pg, struct store_pg_conn *pc)
{
	PQsetNoticeProcessor(pc->c, store_pg_quiet, NULL);
	pc->connecting = 0;
	pc->ready = 1;
	pg->seq_valid = 0;	/* a notification may have been missed */
}

/*
 * Make pc usable: 0 when it is, -1 with a message when it is not yet (it is being made) or
 * cannot be. Waits at most STORE_PG_CONNECT_MS.
 */
static int
store_pg_conn_ready(struct store_pg *pg, struct store_pg_conn *pc, char **cause)
{
	struct pollfd	 pfd;
	int64_t		 now = store_pg_ms(), deadline = now + STORE_PG_CONNECT_MS;
	char		*why;
	int		 rc;

	if (pc->c != NULL && !pc->connecting) {
		if (PQstatus(pc->c) == CONNECTION_OK)
			return 0;
		store_pg_conn_drop(pc);
	}
	if (pc->c == NULL) {
		if (now < pc->next_try) {
			xasprintf(cause, "DB: cannot reach %s (trying again)", pg->where);
			return -1;
		}
		pc->next_try = now + STORE_PG_RETRY_MS;
		if ((pc->c = store_pg_start(pg->uri, 0)) == NULL)
			fatal("out of memory");
		pc->connecting = 1;
		pc->poll = PGRES_POLLING_WRITING;
		if (PQstatus(pc->c) == CONNECTION_BAD)
			pc->poll = PGRES_POLLING_FAILED;
	}
	for (;;) {
		if (pc->poll == PGRES_POLLING_OK) {
			store_pg_conn_made(pg, pc);
			return 0;
		}
		if (pc->poll == PGRES_POLLING_FAILED) {
			why = store_pg_first_line(PQerrorMessage(pc->c));
			xasprintf(cause, "DB: cannot reach %s: %s", pg->where, why);
			free(why);
			store_pg_conn_drop(pc);
			return -1;
		}
		pfd.fd = PQsocket(pc->c);
		pfd.events = pc->poll == PGRES_POLLING_READING ? POLLIN : POLLOUT;
		pfd.revents = 0;
		now = store_pg_ms();
		rc = now < deadline ? poll(&pfd, 1, (int)(deadline - now)) : 0;
		if (rc < 0 && errno == EINTR)
			continue;
		if (rc == 0) {
			xasprintf(cause, "DB: cannot reach %s yet (connecting)", pg->where);
			return -1;
		}
		pc->poll = PQconnectPoll(pc->c);
	}
}

/* --- statements ---------------------------------------------------------------------------- */

/* Say what result r (an error) means, in our words. */
static void
store_pg_result_error(struct store_pg *pg, PGconn *c, const PGresult *r, char **cause)
{
	const char	*state = r != NULL ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
	char		*why;

	if (state != NULL && strcmp(state, "55P03") == 0) {
		xasprintf(cause, "DB: database is locked by another process (waited %d ms)",
		    pg->busy_ms);
		return;
	}
	why = store_pg_first_line(r != NULL ? PQresultErrorMessage(r) : PQerrorMessage(c));
	if (PQstatus(c) != CONNECTION_OK)
		xasprintf(cause, "DB: lost the connection to %s: %s", pg->where, why);
	else
		xasprintf(cause, "DB: %s", why);
	free(why);
}

/*
 * Whether r says the server is ending this connection (SQLSTATE class 57P: shut down, restarted,
 * pg_terminate_backend): libpq may not have seen the close yet, and the connection is no use.
 */
static int
store_pg_ending(const PGresult *r)
{
	const char	*state = r != NULL ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;

	return state != NULL && strncmp(state, "57P", 3) == 0;
}

/*
 * Wait for the answer to what was sent on pc, until deadline (ms): the first failed result,
 * or else the last one. NULL (and the connection dropped) when none came in time or the
 * connection broke.
 */
static PGresult *
store_pg_answer(struct store_pg *pg, struct store_pg_conn *pc, int64_t deadline, char **cause)
{
	struct pollfd	 pfd;
	PGresult	*r, *keep = NULL;
	int64_t		 now;
	int		 rc;

	for (;;) {
		while (!PQisBusy(pc->c)) {
			if ((r = PQgetResult(pc->c)) == NULL)
				goto done;
			if (keep != NULL && (PQresultStatus(keep) == PGRES_COMMAND_OK ||
			    PQresultStatus(keep) == PGRES_TUPLES_OK)) {
				PQclear(keep);
				keep = NULL;
			}
			if (keep == NULL)
				keep = r;
			else
				PQclear(r);
		}
		pfd.fd = PQsocket(pc->c);
		pfd.events = POLLIN;
		pfd.revents = 0;
		now = store_pg_ms();
		rc = now < deadline ? poll(&pfd, 1, (int)(deadline - now)) : 0;
		if (rc < 0 && errno == EINTR)
			continue;
		if (rc == 0) {
			xasprintf(cause, "DB: no answer from %s in %d ms", pg->where,
			    pg->busy_ms + STORE_PG_ANSWER_MS);
			break;
		}
		if (!PQconsumeInput(pc->c)) {
			store_pg_result_error(pg, pc->c, NULL, cause);
			break;
		}
	}
	PQclear(keep);
	store_pg_conn_drop(pc);
	return NULL;

done:
	if (keep == NULL || (PQresultStatus(keep) != PGRES_COMMAND_OK &&
	    PQresultStatus(keep) != PGRES_TUPLES_OK)) {
		store_pg_result_error(pg, pc->c, keep, cause);
		if (PQstatus(pc->c) != CONNECTION_OK || store_pg_ending(keep))
			store_pg_conn_drop(pc);
		PQclear(keep);
		return NULL;
	}
	return keep;
}

/* Send sql (see store_pg_run_v) and wait for its answer. */
static PGresult *
store_pg_send(struct store_pg *pg, struct store_pg_conn *pc, const char *sql, int n,
    const char *const *v, char **cause)
{
	int64_t	 deadline;
	int	 sent;

	if (store_pg_conn_ready(pg, pc, cause) != 0)
		return NULL;
	deadline = store_pg_ms() + pg->busy_ms + STORE_PG_ANSWER_MS;
	if (v != NULL)
		sent = PQsendQueryParams(pc->c, sql, n, NULL, v, NULL, NULL, 0);
	else
		sent = PQsendQuery(pc->c, sql);
	if (!sent) {
		store_pg_result_error(pg, pc->c, NULL, cause);
		if (PQstatus(pc->c) != CONNECTION_OK)
			store_pg_conn_drop(pc);
		return NULL;
	}
	return store_pg_answer(pg, pc, deadline, cause);
}

/*
 * Run sql on connection pc: with v, one statement with the n parameters $1...; without, any
 * number of statements holding no outside data. The result (PQclear it), or NULL. Outside a
 * transaction, a connection found broken (the server restarted) is made again and the
 * statement sent once more; a connection that did not answer in time is not.
 */
static PGresult *
store_pg_run_v(struct store_pg *pg, struct store_pg_conn *pc, const char *sql, int n,
    const char *const *v, char **cause)
{
	PGresult	*r;
	int64_t		 start = store_pg_ms();
	int		 idle, i;

	/*
	 * PostgreSQL takes text in UTF-8 only, and holds nothing else: a text that is not can
	 * match nothing (an empty answer) and cannot be written (SQLite would keep its bytes).
	 */
	for (i = 0; v != NULL && i < n; i++) {
		if (v[i] == NULL || json_utf8_valid(v[i]))
			continue;
		if (strncmp(sql, "SELECT", 6) == 0)
			return PQmakeEmptyPGresult(pc->c, PGRES_TUPLES_OK);
		xasprintf(cause, "a text that is not UTF-8 cannot be stored in PostgreSQL");
		return NULL;
	}
	idle = pc->c != NULL && !pc->connecting && PQstatus(pc->c) == CONNECTION_OK &&
	    PQtransactionStatus(pc->c) == PQTRANS_IDLE;
	if ((r = store_pg_send(pg, pc, sql, n, v, cause)) != NULL || !idle || pc->c != NULL ||
	    store_pg_ms() - start >= pg->busy_ms + STORE_PG_ANSWER_MS)
		return r;
	free(*cause);
	*cause = NULL;
	pc->next_try = 0;
	return store_pg_send(pg, pc, sql, n, v, cause);
}

/* Run sql on connection pc with args (NULL: statements that hold no outside data). */
static PGresult *
store_pg_run(struct store_pg *pg, struct store_pg_conn *pc, const char *sql,
    const struct store_pg_args *args, char **cause)
{
	if (args == NULL)
		return store_pg_run_v(pg, pc, sql, 0, NULL, cause);
	return store_pg_run_v(pg, pc, sql, args->n, args->v, cause);
}

/*
 * Run one statement with parameters on the store's connection; with args NULL, statements
 * that hold no outside data.
 */
PGresult *
store_pg_exec(struct store *st, const char *sql, const struct store_pg_args *args,
    char **cause)
{
	struct store_pg	*pg = store_pg_of(st);

	return store_pg_run(pg, &pg->q, sql, args, cause);
}

/* Run one statement with the n parameters of v (a NULL value is SQL NULL). */
PGresult *
store_pg_exec_v(struct store *st, const char *sql, int n, const char *const *v, char **cause)
{
	struct store_pg	*pg = store_pg_of(st);

	return store_pg_run_v(pg, &pg->q, sql, n, v, cause);
}

/* Run a statement that returns no row: the number of rows it changed, or -1. */
int
store_pg_do(struct store *st, const char *sql, const struct store_pg_args *args, char **cause)
{
	PGresult	*r;
	int		 n;

	if ((r = store_pg_exec(st, sql, args, cause)) == NULL)
		return -1;
	n = atoi(PQcmdTuples(r));
	PQclear(r);
	return n;
}

/* Run a query: 1 when it returns a row, 0 when none, -1 on error. */
int
store_pg_exists(struct store *st, const char *sql, const struct store_pg_args *args,
    char **cause)
{
	PGresult	*r;
	int		 rc;

	if ((r = store_pg_exec(st, sql, args, cause)) == NULL)
		return -1;
	rc = PQntuples(r) > 0;
	PQclear(r);
	return rc;
}

/* Run a query: *text gets the first column of its first row, or NULL for none. */
int
store_pg_string(struct store *st, const char *sql, const struct store_pg_args *args,
    char **text, char **cause)
{
	PGresult	*r;

	*text = NULL;
	if ((r = store_pg_exec(st, sql, args, cause)) == NULL)
		return -1;
	if (PQntuples(r) > 0)
		*text = store_pg_col_text(r, 0, 0);
	PQclear(r);
	return 0;
}

/* A copy of a text column, or NULL when it is NULL. */
char *
store_pg_col_text(const PGresult *r, int row, int col)
{
	if (PQgetisnull(r, row, col))
		return NULL;
	return xstrdup(PQgetvalue(r, row, col));
}

/* An integer column; NULL reads as none. */
int64_t
store_pg_col_int(const PGresult *r, int row, int col, int64_t none)
{
	if (PQgetisnull(r, row, col))
		return none;
	return strtoll(PQgetvalue(r, row, col), NULL, 10);
}

/* A hash column read as encode(hash, 'hex'): 0 with its bytes in out, -1 when it is not one. */
int
store_pg_col_hash(const PGresult *r, int row, int col, unsigned char *out)
{
	const char	*s;
	unsigned int	 b;
	size_t		 i;

	if (PQgetisnull(r, row, col) || PQgetlength(r, row, col) != 2 * STORE_HASH_LEN)
		return -1;
	s = PQgetvalue(r, row, col);
	for (i = 0; i < STORE_HASH_LEN; i++) {
		if (sscanf(s + 2 * i, "%2x", &b) != 1)
			return -1;
		out[i] = (unsigned char)b;
	}
	return 0;
}

/* Make a record of kind of row: column i fills field i. */
static void *
store_pg_row(const PGresult *r, int row, const struct store_kind *kind)
{
	const struct store_field	*f;
	char				*rec = xcalloc(1, kind->size);
	void				*p;
	int64_t				 v;
	int				 i;

	for (i = 0; i < (int)kind->nfields; i++) {
		f = &kind->fields[i];
		p = rec + f->offset;
		if (f->type == STORE_TEXT) {
			*(char **)p = store_pg_col_text(r, row, i);
			continue;
		}
		v = store_pg_col_int(r, row, i, f->none);
		if (f->type == STORE_INT)
			*(int *)p = (int)v;
		else if (f->type == STORE_UINT)
			*(unsigned int *)p = (unsigned int)v;
		else
			*(int64_t *)p = v;
	}
	return rec;
}

/*
 * Run a query and collect one record of kind per row: the array, of *n records and never
 * NULL, even when empty; on an error, NULL (with *n 0).
 */
void *
store_pg_collect(struct store *st, const char *sql, const struct store_pg_args *args,
    const struct store_kind *kind, size_t *n, char **cause)
{
	PGresult	*r;
	void		**v;
	int		 i, rows;

	*n = 0;
	if ((r = store_pg_exec(st, sql, args, cause)) == NULL)
		return NULL;
	rows = PQntuples(r);
	v = xreallocarray(NULL, rows > 0 ? (size_t)rows : 1, sizeof *v);
	for (i = 0; i < rows; i++)
		v[i] = store_pg_row(r, i, kind);
	PQclear(r);
	*n = (size_t)rows;
	return v;
}

/* Run a query by key and make the record of kind of its row: *out gets it, or NULL. */
int
store_pg_one(struct store *st, const char *sql, const struct store_pg_args *args,
    const struct store_kind *kind, void **out, char **cause)
{
	void	**v;
	size_t	  n;

	if ((v = store_pg_collect(st, sql, args, kind, &n, cause)) == NULL)
		return -1;
	*out = n != 0 ? v[0] : NULL;
	store_list_free(n > 1 ? v + 1 : NULL, n > 1 ? n - 1 : 0, kind);
	free(v);
	return 0;
}

/* --- transactions -------------------------------------------------------------------------- */

/*
 * Start a transaction that waits at most busy_ms for a lock; with lock, take the writers'
 * advisory lock first. One round trip.
 */
static int
store_pg_start_tx(struct store *st, int busy_ms, int lock, char **cause)
{
	struct store_pg	*pg = store_pg_of(st);
	char		 sql[128];
	PGresult	*r;

	snprintf(sql, sizeof sql, "BEGIN; SET LOCAL lock_timeout = %d%s", busy_ms > 0 ? busy_ms :
	    1, lock ? "; SELECT pg_advisory_xact_lock(" STORE_PG_LOCK_SQL ")" : "");
	if ((r = store_pg_run(pg, &pg->q, sql, NULL, cause)) == NULL) {
		store_pg_rollback(st);
		return -1;
	}
	PQclear(r);
	return 0;
}

/* Start a transaction that takes no writers' lock, waiting at most busy_ms for others. */
int
store_pg_begin_nolock(struct store *st, int busy_ms, char **cause)
{
	return store_pg_start_tx(st, busy_ms, 0, cause);
}

/* Start a write transaction: take the writers' lock now, waiting up to the busy timeout. */
int
store_pg_begin(struct store *st, char **cause)
{
	return store_pg_start_tx(st, store_pg_of(st)->busy_ms, 1, cause);
}

/* Undo the open transaction, if any. */
void
store_pg_rollback(struct store *st)
{
	struct store_pg	*pg = store_pg_of(st);
	PGresult	*r;
	char		*why = NULL;

	if (pg->q.c == NULL || pg->q.connecting || PQstatus(pg->q.c) != CONNECTION_OK ||
	    PQtransactionStatus(pg->q.c) == PQTRANS_IDLE)
		return;
	if ((r = store_pg_run(pg, &pg->q, "ROLLBACK", NULL, &why)) != NULL)
		PQclear(r);
	free(why);
}

/* Commit the open transaction; bump: count it as a change every node must notice. */
int
store_pg_commit(struct store *st, int bump, char **cause)
{
	struct store_pg	*pg = store_pg_of(st);
	PGresult	*r;

	if (bump)
		return store_pg_commit_change(st, 0, NULL, cause);
	if ((r = store_pg_run(pg, &pg->q, "COMMIT", NULL, cause)) == NULL) {
		store_pg_rollback(st);
		return -1;
	}
	PQclear(r);
	return 0;
}

/*
 * Commit a change that can end a session or narrow it: the counter bumped, and every gateway
 * listening told what it concerns: kind 'a', the sessions of account name; 'n', a tunnel of
 * node name (no session); 0 or a NULL name, anything.
 */
int
store_pg_commit_change(struct store *st, char kind, const char *name, char **cause)
{
	struct store_pg	*pg = store_pg_of(st);
	PGresult	*r;
	char		*payload, *lit, *sql;

	if (kind == 0 || name == NULL || strlen(name) > STORE_PG_PAYLOAD_MAX)
		payload = xstrdup("");
	else
		xasprintf(&payload, "%c:%s", kind, name);
	if (pg->q.c == NULL || (lit = PQescapeLiteral(pg->q.c, payload, strlen(payload))) ==
	    NULL) {
		free(payload);
		xasprintf(cause, "DB: lost the connection to %s", pg->where);
		store_pg_rollback(st);
		return -1;
	}
	xasprintf(&sql, "UPDATE changes SET seq = seq + 1 WHERE id = 1; SELECT pg_notify('"
	    STORE_PG_CHANNEL "', %s); COMMIT", lit);
	PQfreemem(lit);
	free(payload);
	r = store_pg_run(pg, &pg->q, sql, NULL, cause);
	free(sql);
	if (r == NULL) {
		store_pg_rollback(st);
		return -1;
	}
	PQclear(r);
	return 0;	/* seen here too when its notification comes, as elsewhere */
}

/*
 * Commit a change concerning the name in the first column of r's first row (see
 * store_pg_commit_change); r is cleared. 1 when r has no row: nothing changed, rolled back.
 */
int
store_pg_commit_change_of(struct store *st, char kind, PGresult *r, char **cause)
{
	char	*name;
	int	 rc;

	if (PQntuples(r) == 0) {
		PQclear(r);
		store_pg_rollback(st);
		return 1;
	}
	name = store_pg_col_text(r, 0, 0);
	PQclear(r);
	rc = store_pg_commit_change(st, kind, name, cause);
	free(name);
	return rc;
}

/* Roll back and fail: the ending of every write that found a problem. */
int
store_pg_abort(struct store *st)
{
	store_pg_rollback(st);
	return -1;
}

/* --- the change counter -------------------------------------------------------------------- */

/* Any account may have changed: every session is to be checked. */
static void
store_pg_scope_all(struct store_pg *pg)
{
	store_changed_free(pg->scope, pg->nscope);
	pg->scope = NULL;
	pg->nscope = 0;
	pg->scope_all = 1;
}

/* Note what a notification's payload says changed (see the top of this file). */
static void
store_pg_scope_add(struct store_pg *pg, const char *payload)
{
	size_t	 i;

	if (strncmp(payload, "n:", 2) == 0 || pg->scope_all)
		return;		/* a node's tunnel: no session; or every one already */
	if (strncmp(payload, "a:", 2) != 0 || pg->nscope == STORE_PG_SCOPE_MAX) {
		store_pg_scope_all(pg);
		return;
	}
	for (i = 0; i < pg->nscope; i++) {
		if (strcmp(pg->scope[i], payload + 2) == 0)
			return;
	}
	pg->scope = xreallocarray(pg->scope, pg->nscope + 1, sizeof *pg->scope);
	pg->scope[pg->nscope++] = xstrdup(payload + 2);
}

/* The accounts named since the last call (see store_changed_accounts). */
static int
store_pg_changed_accounts(struct store *st, char ***accounts, size_t *n)
{
	struct store_pg	*pg = store_pg_of(st);
	int		 all = pg->scope_all;

	*accounts = pg->scope;
	*n = pg->nscope;
	pg->scope = NULL;
	pg->nscope = 0;
	pg->scope_all = 0;
	if (all) {
		store_changed_free(*accounts, *n);
		*accounts = NULL;
		*n = 0;
	}
	return all;
}

/*
 * The change counter (see store_changes): read again only when a notification came, or when
 * the listening connection was made again. What it returns is the database's counter plus
 * the polls that heard notifications: a notification heard after the counter was read still
 * moves it, and its account is then named.
 */
static int
store_pg_changes(struct store *st, int64_t *seq, char **cause)
{
	struct store_pg	*pg = store_pg_of(st);
	PGnotify	*nf;
	PGresult	*r;
	int		 got = 0, attempt;

	pg->listening = 1;
	for (attempt = 0;; attempt++) {
		if (!pg->listen.ready || PQstatus(pg->listen.c) != CONNECTION_OK) {
			if (store_pg_conn_ready(pg, &pg->listen, cause) != 0)
				return -1;
			if ((r = store_pg_run(pg, &pg->listen, "LISTEN " STORE_PG_CHANNEL, NULL,
			    cause)) == NULL)
				return -1;
			PQclear(r);
			pg->seq_valid = 0;	/* a notification may have been missed */
			store_pg_scope_all(pg);
		}
		if (PQconsumeInput(pg->listen.c) && PQstatus(pg->listen.c) == CONNECTION_OK)
			break;
		/* Broken (the server restarted): make it again at once, once. */
		if (attempt > 0) {
			store_pg_result_error(pg, pg->listen.c, NULL, cause);
			store_pg_conn_drop(&pg->listen);
			return -1;
		}
		store_pg_conn_drop(&pg->listen);
		pg->listen.next_try = 0;
	}
	while ((nf = PQnotifies(pg->listen.c)) != NULL) {
		got = 1;
		store_pg_scope_add(pg, nf->extra != NULL ? nf->extra : "");
		PQfreemem(nf);
	}
	if (got)
		pg->heard++;
	if (got || !pg->seq_valid) {
		if ((r = store_pg_exec(st, "SELECT seq FROM changes WHERE id = 1", NULL,
		    cause)) == NULL)
			return -1;
		if (PQntuples(r) != 1) {
			PQclear(r);
			xasprintf(cause, "DB: %s has no change counter", pg->where);
			return -1;
		}
		pg->seq = store_pg_col_int(r, 0, 0, 0);
		pg->seq_valid = 1;
		PQclear(r);
	}
	*seq = pg->seq + pg->heard;
	return 0;
}

/* --- opening ------------------------------------------------------------------------------- */

/* Close both connections. */
static void
store_pg_close(struct store *st)
{
	struct store_pg	*pg = store_pg_of(st);

	store_pg_conn_drop(&pg->q);
	store_pg_conn_drop(&pg->listen);
	store_changed_free(pg->scope, pg->nscope);
	free(pg->uri);
	free(pg->where);
	free(pg);
}

/* The operations of this backend, for the door. */
static const struct store_backend store_pg_backend = {
	.close = store_pg_close,
	.changes = store_pg_changes,
	.changed_accounts = store_pg_changed_accounts,
	.integrity = store_pg_integrity,
	.account_add = store_pg_account_add,
	.account_del = store_pg_account_del,
	.account_set = store_pg_account_set,
	.account_find = store_pg_account_find,
	.account_list = store_pg_account_list,
	.member_add = store_pg_member_add,
	.member_del = store_pg_member_del,
	.member_set_role = store_pg_member_set_role,
	.member_find = store_pg_member_find,
	.member_list = store_pg_member_list,
	.member_of_token = store_pg_member_of_token,
	.member_of_key = store_pg_member_of_key,
	.login_find = store_pg_login_find,
	.apikey_add = store_pg_apikey_add,
	.apikey_revoke = store_pg_apikey_revoke,
	.apikey_use = store_pg_apikey_use,
	.apikey_list = store_pg_apikey_list,
	.token_add = store_pg_token_add,
	.token_find = store_pg_token_find,
	.token_revoke = store_pg_token_revoke,
	.token_use = store_pg_token_use,
	.token_list = store_pg_token_list,
	.key_add = store_pg_key_add,
	.key_del = store_pg_key_del,
	.key_find = store_pg_key_find,
	.key_list = store_pg_key_list,
	.address_reserve = store_pg_address_reserve,
	.address_release = store_pg_address_release,
	.address_find = store_pg_address_find,
	.address_list = store_pg_address_list,
	.event_add = store_pg_event_add,
	.event_list = store_pg_event_list,
	.node_join = store_pg_node_join,
	.node_sync = store_pg_node_sync,
	.node_leave = store_pg_node_leave,
	.live_list = store_pg_live_list,
	.live_counts = store_pg_live_counts,
	.live_close = store_pg_live_close,
};

/*
 * Open the PostgreSQL database at uri (a postgresql:// URI), waiting for the first
 * connection as its connect_timeout says (5 s unless the URI sets it), and bring its schema up
 * to date. Messages name the database and its host, never the URI: it may hold a password.
 */
struct store *
store_pg_open(const char *uri, int busy_ms, char **cause)
{
	struct store_pg	*pg;
	PGconn		*c;
	const char	*host;
	char		*why;

	if ((c = store_pg_start(uri, 1)) == NULL)
		fatal("out of memory");
	if (PQstatus(c) != CONNECTION_OK) {
		why = store_pg_first_line(PQerrorMessage(c));
		xasprintf(cause, "DB: cannot connect to PostgreSQL: %s", why);
		free(why);
		PQfinish(c);
		return NULL;
	}
	pg = xcalloc(1, sizeof *pg);
	pg->store.backend = &store_pg_backend;
	pg->uri = xstrdup(uri);
	pg->busy_ms = busy_ms < 0 ? 0 : busy_ms;
	host = PQhost(c);
	xasprintf(&pg->where, "database '%s' on %s", PQdb(c),
	    host == NULL || *host == '\0' ? "localhost" : host);
	pg->store.where = pg->where;
	pg->q.c = c;
	store_pg_conn_made(pg, &pg->q);
	if (store_pg_schema_setup(&pg->store, cause) != 0) {
		store_pg_close(&pg->store);
		return NULL;
	}
	return &pg->store;
}
