/* SPDX-License-Identifier: ISC */
/* tunnelgw: the PostgreSQL backend's keys, reserved addresses and events. */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "log.h"
#include "pg-int.h"
#include "xmalloc.h"

#define STORE_PG_EVENT_ROWS	100	/* events inserted by one statement */
#define STORE_PG_EVENT_COLS	9

/* A key record, a column per field (store_key_kind). */
#define STORE_PG_KEY_SELECT \
	"SELECT k.fingerprint, k.account, k.type, k.key, k.comment, k.added_by, k.created," \
	" m.name FROM keys k LEFT JOIN members m ON m.id = k.member"

/* --- keys ---------------------------------------------------------------------------------- */

/* Add key record k to its member, unless an account has its fingerprint already. */
int
store_pg_key_add(struct store *st, const struct store_key *k, char **cause)
{
	struct store_pg_args	 a = { 0 };
	char			*owner = NULL, q[LOG_QUOTE_SIZE];
	int64_t			 mid;

	if (store_pg_begin(st, cause) != 0)
		return -1;
	if (store_pg_member_id(st, k->account, k->member, &mid, NULL, cause) != 0)
		return store_pg_abort(st);
	store_pg_text(&a, k->fingerprint);
	if (store_pg_string(st, "SELECT account FROM keys WHERE fingerprint = $1", &a, &owner,
	    cause) != 0)
		return store_pg_abort(st);
	if (owner != NULL) {
		xasprintf(cause, "key %s is already registered to account '%s'", k->fingerprint,
		    log_quote(owner, q));
		free(owner);
		return store_pg_abort(st);
	}
	store_pg_text(&a, k->account);
	store_pg_text(&a, k->type);
	store_pg_text(&a, k->key);
	store_pg_text(&a, k->comment);
	store_pg_text(&a, k->added_by);
	store_pg_int(&a, k->created);
	store_pg_int(&a, mid);
	if (store_pg_do(st, "INSERT INTO keys (fingerprint, account, type, key, comment, "
	    "added_by, created, member) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)", &a, cause) < 0)
		return store_pg_abort(st);
	return store_pg_commit(st, 0, cause);
}

/* Delete the key with this fingerprint. */
int
store_pg_key_del(struct store *st, const char *fingerprint, char **cause)
{
	struct store_pg_args	 a = { 0 };
	PGresult		*r;
	char			 q[LOG_QUOTE_SIZE];
	int			 rc;

	if (store_pg_begin(st, cause) != 0)
		return -1;
	store_pg_text(&a, fingerprint);
	if ((r = store_pg_exec(st, "DELETE FROM keys WHERE fingerprint = $1 RETURNING account", &a,
	    cause)) == NULL)
		return store_pg_abort(st);
	if ((rc = store_pg_commit_change_of(st, 'a', r, cause)) == 1)
		xasprintf(cause, "no key with fingerprint '%s'", log_quote(fingerprint, q));
	return rc == 0 ? 0 : -1;
}

/* Find the key with this fingerprint: *out gets it, or NULL when there is none. */
int
store_pg_key_find(struct store *st, const char *fingerprint, struct store_key **out,
    char **cause)
{
	struct store_pg_args	 a = { 0 };
	void			*k;

	store_pg_text(&a, fingerprint);
	if (store_pg_one(st, STORE_PG_KEY_SELECT " WHERE k.fingerprint = $1", &a, &store_key_kind,
	    &k, cause) != 0)
		return -1;
	*out = k;
	return 0;
}

/* List every key, by account, then age. */
int
store_pg_key_list(struct store *st, struct store_key ***out, size_t *n, char **cause)
{
	*out = store_pg_collect(st, STORE_PG_KEY_SELECT " ORDER BY k.account COLLATE \"C\", "
	    "k.created, k.fingerprint COLLATE \"C\"", NULL, &store_key_kind, n, cause);
	return *out != NULL ? 0 : -1;
}

/* --- reserved addresses -------------------------------------------------------------------- */

/* Within a transaction: pick a port of lo-hi uniformly among those nobody reserved. */
static int
store_pg_address_pick(struct store *st, const char *protocol, int lo, int hi, int *port,
    char **cause)
{
	struct store_pg_args	 a = { 0 };
	PGresult		*r;
	int			*taken;
	int			 i, n, rc;

	store_pg_text(&a, protocol);
	store_pg_int(&a, lo);
	store_pg_int(&a, hi);
	if ((r = store_pg_exec(st, "SELECT port FROM addresses WHERE protocol = $1 AND "
	    "port BETWEEN $2 AND $3 ORDER BY port", &a, cause)) == NULL)
		return -1;
	n = PQntuples(r);
	taken = xreallocarray(NULL, n > 0 ? (size_t)n : 1, sizeof *taken);
	for (i = 0; i < n; i++)
		taken[i] = (int)store_pg_col_int(r, i, 0, 0);
	PQclear(r);
	rc = store_address_pick(lo, hi, taken, (size_t)n, port, cause);
	free(taken);
	return rc;
}

/* Within a transaction: fail when account holds as many reserved ports as it may. */
static int
store_pg_address_room(struct store *st, const char *account, char **cause)
{
	struct store_pg_args	 a = { 0 };
	PGresult		*r;
	int64_t			 max = -1, held = 0;

	store_pg_text(&a, account);
	if ((r = store_pg_exec(st, "SELECT a.max_addresses, (SELECT count(*) FROM addresses d "
	    "WHERE d.account = a.name) FROM accounts a WHERE a.name = $1", &a, cause)) == NULL)
		return -1;
	if (PQntuples(r) > 0) {
		max = store_pg_col_int(r, 0, 0, -1);
		held = store_pg_col_int(r, 0, 1, 0);
	}
	PQclear(r);
	return store_rule_address_room(account, held, max, cause);
}

/*
 * Reserve a port of protocol for account on node (NULL: any): port, or when 0 a random one
 * nobody reserved of lo-hi. *out gets the port reserved.
 */
int
store_pg_address_reserve(struct store *st, const char *account, const char *protocol,
    const char *node, int port, int lo, int hi, int *out, char **cause)
{
	struct store_pg_args	 a = { 0 };
	struct store_address	*owner = NULL;

	if (store_pg_begin(st, cause) != 0)
		return -1;
	if (store_pg_account_need(st, account, cause) != 0 ||
	    store_pg_address_room(st, account, cause) != 0)
		return store_pg_abort(st);
	if (port != 0) {
		if (store_pg_address_find(st, protocol, port, &owner, cause) != 0)
			return store_pg_abort(st);
		if (owner != NULL) {
			store_rule_address_taken(protocol, port, owner->account, cause);
			store_address_free(owner);
			return store_pg_abort(st);
		}
	} else if (store_pg_address_pick(st, protocol, lo, hi, &port, cause) != 0)
		return store_pg_abort(st);
	store_pg_text(&a, protocol);
	store_pg_int(&a, port);
	store_pg_text(&a, account);
	store_pg_int(&a, store_now());
	store_pg_text(&a, node);
	if (store_pg_do(st, "INSERT INTO addresses (protocol, port, account, created, node) "
	    "VALUES ($1, $2, $3, $4, $5)", &a, cause) < 0)
		return store_pg_abort(st);
	if (store_pg_commit(st, 0, cause) != 0)
		return -1;
	*out = port;
	return 0;
}

/* Release the reserved port of protocol. */
int
store_pg_address_release(struct store *st, const char *protocol, int port, char **cause)
{
	struct store_pg_args	 a = { 0 };
	int			 rc;

	if (store_pg_begin(st, cause) != 0)
		return -1;
	store_pg_text(&a, protocol);
	store_pg_int(&a, port);
	if ((rc = store_pg_do(st, "DELETE FROM addresses WHERE protocol = $1 AND port = $2", &a,
	    cause)) < 0)
		return store_pg_abort(st);
	if (rc == 0) {
		xasprintf(cause, "%sport %d is not reserved", strcmp(protocol, "udp") == 0 ?
		    "UDP " : "", port);
		return store_pg_abort(st);
	}
	return store_pg_commit(st, 0, cause);
}

/* An address record with its node's public host, a column per field (store_address_kind). */
#define STORE_PG_ADDRESS_SELECT \
	"SELECT a.protocol, a.port, a.account, a.created, a.node, n.public_host" \
	" FROM addresses a LEFT JOIN nodes n ON n.name = a.node"

/* The reservation of port for protocol: *out gets it, or NULL when nobody reserved it. */
int
store_pg_address_find(struct store *st, const char *protocol, int port,
    struct store_address **out, char **cause)
{
	struct store_pg_args	 a = { 0 };
	void			*r;

	store_pg_text(&a, protocol);
	store_pg_int(&a, port);
	if (store_pg_one(st, STORE_PG_ADDRESS_SELECT " WHERE a.protocol = $1 AND a.port = $2",
	    &a, &store_address_kind, &r, cause) != 0)
		return -1;
	*out = r;
	return 0;
}

/* List every reserved address, by port, TCP before UDP. */
int
store_pg_address_list(struct store *st, struct store_address ***out, size_t *n, char **cause)
{
	*out = store_pg_collect(st, STORE_PG_ADDRESS_SELECT " ORDER BY a.port, a.protocol", NULL,
	    &store_address_kind, n, cause);
	return *out != NULL ? 0 : -1;
}

/* --- events -------------------------------------------------------------------------------- */

/* Set the value of column col of a number, NULL when it is negative (none), in buf. */
static const char *
store_pg_event_count(char *buf, size_t size, int64_t v)
{
	if (v < 0)
		return NULL;
	snprintf(buf, size, "%lld", (long long)v);
	return buf;
}

/* Within a transaction: insert n events (n <= STORE_PG_EVENT_ROWS) with one statement. */
static int
store_pg_event_insert(struct store *st, const struct store_event *ev, size_t n, char **cause)
{
	const char	*v[STORE_PG_EVENT_ROWS * STORE_PG_EVENT_COLS];
	char		 num[STORE_PG_EVENT_ROWS][4][24];
	char		*sql, *p;
	size_t		 i, size = 128 + n * 64;
	PGresult	*r;
	int		 k = 0, len;

	p = sql = xmalloc(size);
	len = snprintf(p, size, "INSERT INTO events (time, event, account, url, client, "
	    "bytes_in, bytes_out, duration_ms, detail) VALUES ");
	p += len;
	size -= (size_t)len;
	for (i = 0; i < n; i++) {
		snprintf(num[i][0], sizeof num[i][0], "%lld", (long long)ev[i].time);
		v[k++] = num[i][0];
		v[k++] = ev[i].event != NULL ? ev[i].event : "?";
		v[k++] = ev[i].account;
		v[k++] = ev[i].url;
		v[k++] = ev[i].client;
		v[k++] = store_pg_event_count(num[i][1], sizeof num[i][1], ev[i].bytes_in);
		v[k++] = store_pg_event_count(num[i][2], sizeof num[i][2], ev[i].bytes_out);
		v[k++] = store_pg_event_count(num[i][3], sizeof num[i][3], ev[i].duration_ms);
		v[k++] = ev[i].detail;
		len = snprintf(p, size, "%s($%d, $%d, $%d, $%d, $%d, $%d, $%d, $%d, $%d)",
		    i == 0 ? "" : ", ", k - 8, k - 7, k - 6, k - 5, k - 4, k - 3, k - 2, k - 1, k);
		p += len;
		size -= (size_t)len;
	}
	r = store_pg_exec_v(st, sql, k, v, cause);
	free(sql);
	if (r == NULL)
		return -1;
	PQclear(r);
	return 0;
}

/*
 * Add a batch of n events in one transaction and trim the table: events older than before
 * (0 keeps any age), and all but the newest max_rows (0 or less: no bound). Waits at most
 * STORE_EVENT_BUSY ms for a lock, and not for the writers' lock. Not a change to notice.
 */
int
store_pg_event_add(struct store *st, const struct store_event *ev, size_t n, int64_t before,
    int64_t max_rows, char **cause)
{
	struct store_pg_args	 a = { 0 };
	size_t			 i, chunk;

	if (store_pg_begin_nolock(st, STORE_EVENT_BUSY, cause) != 0)
		return -1;
	for (i = 0; i < n; i += chunk) {
		chunk = n - i < STORE_PG_EVENT_ROWS ? n - i : STORE_PG_EVENT_ROWS;
		if (store_pg_event_insert(st, ev + i, chunk, cause) != 0)
			return store_pg_abort(st);
	}
	if (before > 0) {
		store_pg_int(&a, before);
		if (store_pg_do(st, "DELETE FROM events WHERE time < $1", &a, cause) < 0)
			return store_pg_abort(st);
	}
	if (max_rows > 0) {
		a.n = 0;
		store_pg_int(&a, max_rows);
		if (store_pg_do(st, "DELETE FROM events WHERE id <= (SELECT max(id) FROM events) - "
		    "$1", &a, cause) < 0)
			return store_pg_abort(st);
	}
	return store_pg_commit(st, 0, cause);
}

/* List the newest events that pass filter f, newest first. */
int
store_pg_event_list(struct store *st, const struct store_event_filter *f,
    struct store_event ***out, size_t *n, char **cause)
{
	struct store_pg_args	 a = { 0 };

	store_pg_text(&a, f->account);
	store_pg_text(&a, f->event);
	store_pg_int(&a, f->since);
	store_pg_int(&a, f->until);
	store_pg_int(&a, f->before);
	store_pg_int(&a, f->limit);
	store_pg_text(&a, f->url);
	*out = store_pg_collect(st, "SELECT id, time, event, account, url, client, bytes_in, "
	    "bytes_out, duration_ms, detail FROM events WHERE ($1::text IS NULL OR account = $1) "
	    "AND ($2::text IS NULL OR event = $2) AND ($3::bigint = 0 OR time >= $3) "
	    "AND ($4::bigint = 0 OR time < $4) AND ($5::bigint = 0 OR id < $5) AND ($7::text IS NULL OR url = $7) "
	    "ORDER BY id DESC LIMIT $6", &a, &store_event_kind, n, cause);
	return *out != NULL ? 0 : -1;
}
