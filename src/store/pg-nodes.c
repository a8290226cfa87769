/* SPDX-License-Identifier: ISC */
/* tunnelgw: the PostgreSQL backend's nodes and live tunnels: what gateways sharing it know. */
#include "config.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "log.h"
#include "pg-int.h"
#include "xmalloc.h"

#define STORE_PG_LIVE_ROWS	100	/* live tunnels inserted by one statement */
#define STORE_PG_LIVE_COLS	11
#define STORE_PG_SYNC_BUSY	1000	/* ms a sync waits for a lock on its rows */
/* The time now by the database's clock: leases never depend on two gateways' clocks agreeing. */
#define STORE_PG_NOW		"extract(epoch from now())::bigint"
/* The lock that orders the writes of node_accounts, so that seq is their commit order. */
#define STORE_PG_COUNTS_LOCK	"1413961522"

/* A live tunnel record, a column per field (store_live_kind). */
#define STORE_PG_LIVE_SELECT \
	"SELECT t.id, t.node, t.account, t.member, t.client, t.url, t.target, t.since," \
	" t.conns, t.bytes_in, t.bytes_out FROM live_tunnels t JOIN nodes n ON n.name = t.node"

/* A growing text. */
struct store_pg_buf {
	char	*s;
	size_t	 len;
	size_t	 size;
};

/* Append printf-style text to b. */
static void __attribute__((format(printf, 2, 3)))
store_pg_buf_add(struct store_pg_buf *b, const char *fmt, ...)
{
	va_list	 ap;
	int	 n;

	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(b->s != NULL ? b->s + b->len : NULL, b->size - b->len, fmt, ap);
		va_end(ap);
		if (n < 0)
			fatal("vsnprintf");
		if (b->len + (size_t)n < b->size)
			break;
		b->size = (b->len + (size_t)n + 1) * 2;
		b->s = xreallocarray(b->s, b->size, 1);
	}
	b->len += (size_t)n;
}

/* Append s to b as an element of a PostgreSQL array literal: quoted, \ and " escaped. */
static void
store_pg_buf_elem(struct store_pg_buf *b, const char *s, int first)
{
	store_pg_buf_add(b, "%s\"", first ? "" : ",");
	for (; *s != '\0'; s++)
		store_pg_buf_add(b, "%s%c", *s == '"' || *s == '\\' ? "\\" : "", *s);
	store_pg_buf_add(b, "\"");
}

/*
 * Within a join: say which other run holds node name's row (1), or -1 with a message.
 */
static int
store_pg_node_held(struct store *st, const char *name, char **cause)
{
	struct store_pg_args	 a = { 0 };
	PGresult		*r;
	char			 qn[LOG_QUOTE_SIZE], qh[LOG_QUOTE_SIZE], *host;

	store_pg_text(&a, name);
	if ((r = store_pg_exec(st, "SELECT public_host, lease_until - " STORE_PG_NOW " FROM nodes "
	    "WHERE name = $1", &a, cause)) == NULL)
		return -1;
	host = store_pg_col_text(r, 0, 0);
	xasprintf(cause, "node_name '%s' is in use by another gateway that is running (public_host "
	    "'%s', its lease runs %lld s more): give each gateway its own node_name",
	    log_quote(name, qn), log_quote(host != NULL ? host : "", qh),
	    (long long)store_pg_col_int(r, 0, 1, 0));
	free(host);
	PQclear(r);
	return 1;
}

/*
 * Node n joins: its row made, or renewed when this run or one whose lease ran out held it,
 * with a lease of n->lease seconds; the live tunnels listed under its name before dropped
 * (it restarted); *number gets its number. 1 when another run holds it (see store_node_join).
 */
int
store_pg_node_join(struct store *st, const struct store_node *n, int64_t *number, char **cause)
{
	struct store_pg_args	 a = { 0 };
	PGresult		*r;
	int			 rc;

	if (store_pg_begin_nolock(st, STORE_PG_SYNC_BUSY, cause) != 0)
		return -1;
	store_pg_text(&a, n->name);
	store_pg_text(&a, n->host);
	store_pg_int(&a, n->lease);
	store_pg_text(&a, n->instance);
	if ((r = store_pg_exec(st, "INSERT INTO nodes (name, public_host, joined, lease_until, "
	    "instance) VALUES ($1, $2, " STORE_PG_NOW ", " STORE_PG_NOW " + $3::integer, $4) "
	    "ON CONFLICT (name) DO UPDATE SET public_host = EXCLUDED.public_host, joined = "
	    "EXCLUDED.joined, lease_until = EXCLUDED.lease_until, instance = EXCLUDED.instance "
	    "WHERE nodes.lease_until < " STORE_PG_NOW " OR nodes.instance = EXCLUDED.instance "
	    "RETURNING number", &a, cause)) == NULL)
		return store_pg_abort(st);
	if (PQntuples(r) != 1) {
		PQclear(r);
		rc = store_pg_node_held(st, n->name, cause);
		store_pg_rollback(st);
		return rc;
	}
	*number = store_pg_col_int(r, 0, 0, 0);
	PQclear(r);
	a.n = 1;
	if (store_pg_do(st, "DELETE FROM live_tunnels WHERE node = $1", &a, cause) < 0 ||
	    store_pg_do(st, "SELECT pg_advisory_xact_lock(" STORE_PG_COUNTS_LOCK ")", NULL,
	    cause) < 0 ||
	    store_pg_do(st, "UPDATE node_accounts SET tunnels = 0, conns = 0, seq = "
	    "nextval('node_accounts_seq') WHERE node = $1 AND (tunnels <> 0 OR conns <> 0)", &a,
	    cause) < 0)
		return store_pg_abort(st);
	return store_pg_commit(st, 0, cause);
}

/* Within a sync: write the counts by account of node that moved, in change order. */
static int
store_pg_counts_write(struct store *st, const char *node, struct store_live_count **c,
    size_t n, char **cause)
{
	struct store_pg_buf	 acc = { NULL, 0, 0 }, t = { NULL, 0, 0 }, k = { NULL, 0, 0 };
	struct store_pg_args	 a = { 0 };
	size_t			 i;
	int			 rc;

	if (n == 0)
		return 0;
	store_pg_buf_add(&acc, "{");
	store_pg_buf_add(&t, "{");
	store_pg_buf_add(&k, "{");
	for (i = 0; i < n; i++) {
		store_pg_buf_elem(&acc, c[i]->account, i == 0);
		store_pg_buf_add(&t, "%s%d", i == 0 ? "" : ",", c[i]->tunnels);
		store_pg_buf_add(&k, "%s%d", i == 0 ? "" : ",", c[i]->conns);
	}
	store_pg_buf_add(&acc, "}");
	store_pg_buf_add(&t, "}");
	store_pg_buf_add(&k, "}");
	store_pg_text(&a, node);
	store_pg_text(&a, acc.s);
	store_pg_text(&a, t.s);
	store_pg_text(&a, k.s);
	rc = store_pg_do(st, "SELECT pg_advisory_xact_lock(" STORE_PG_COUNTS_LOCK ")", NULL,
	    cause) < 0 || store_pg_do(st, "INSERT INTO node_accounts (node, account, tunnels, "
	    "conns, seq) SELECT $1, v.a, v.t, v.c, nextval('node_accounts_seq') FROM "
	    "unnest($2::text[], $3::integer[], $4::integer[]) AS v(a, t, c) ON CONFLICT (node, "
	    "account) DO UPDATE SET tunnels = EXCLUDED.tunnels, conns = EXCLUDED.conns, seq = "
	    "EXCLUDED.seq", &a, cause) < 0 ? -1 : 0;
	free(acc.s);
	free(t.s);
	free(k.s);
	return rc;
}

/* Within a sync: insert n live tunnels (n <= STORE_PG_LIVE_ROWS) of node with one statement. */
static int
store_pg_live_insert(struct store *st, const char *node, struct store_live **l, size_t n,
    char **cause)
{
	const char		*v[STORE_PG_LIVE_ROWS * STORE_PG_LIVE_COLS];
	char			 num[STORE_PG_LIVE_ROWS][5][24];
	struct store_pg_buf	 sql = { NULL, 0, 0 };
	PGresult		*r;
	size_t			 i;
	int			 k = 0;

	store_pg_buf_add(&sql, "INSERT INTO live_tunnels (id, node, account, member, client, url, "
	    "target, since, conns, bytes_in, bytes_out) VALUES ");
	for (i = 0; i < n; i++) {
		snprintf(num[i][0], sizeof num[i][0], "%lld", (long long)l[i]->id);
		snprintf(num[i][1], sizeof num[i][1], "%lld", (long long)l[i]->since);
		snprintf(num[i][2], sizeof num[i][2], "%d", l[i]->conns);
		snprintf(num[i][3], sizeof num[i][3], "%lld", (long long)l[i]->bytes_in);
		snprintf(num[i][4], sizeof num[i][4], "%lld", (long long)l[i]->bytes_out);
		v[k++] = num[i][0];
		v[k++] = node;
		v[k++] = l[i]->account;
		v[k++] = l[i]->member;
		v[k++] = l[i]->client;
		v[k++] = l[i]->url;
		v[k++] = l[i]->target;
		v[k++] = num[i][1];
		v[k++] = num[i][2];
		v[k++] = num[i][3];
		v[k++] = num[i][4];
		store_pg_buf_add(&sql, "%s($%d::bigint, $%d, $%d, $%d, $%d, $%d, $%d, $%d::bigint, "
		    "$%d::integer, $%d::bigint, $%d::bigint)", i == 0 ? "" : ", ", k - 10, k - 9,
		    k - 8, k - 7, k - 6, k - 5, k - 4, k - 3, k - 2, k - 1, k);
	}
	/* A tunnel listed again after a lost answer is the same tunnel. */
	store_pg_buf_add(&sql, " ON CONFLICT (id) DO NOTHING");
	r = store_pg_exec_v(st, sql.s, k, v, cause);
	free(sql.s);
	if (r == NULL)
		return -1;
	PQclear(r);
	return 0;
}

/* Within a sync: drop the gone tunnels of node, and write the counts of the changed ones. */
static int
store_pg_live_update(struct store *st, const char *node, const int64_t *gone, size_t ngone,
    struct store_live **ch, size_t nch, char **cause)
{
	struct store_pg_buf	 ids = { NULL, 0, 0 }, c = { NULL, 0, 0 }, in = { NULL, 0, 0 };
	struct store_pg_buf	 out = { NULL, 0, 0 };
	struct store_pg_args	 a = { 0 };
	size_t			 i;
	int			 rc = 0;

	if (ngone > 0) {
		store_pg_buf_add(&ids, "{");
		for (i = 0; i < ngone; i++)
			store_pg_buf_add(&ids, "%s%lld", i == 0 ? "" : ",", (long long)gone[i]);
		store_pg_buf_add(&ids, "}");
		store_pg_text(&a, node);
		store_pg_text(&a, ids.s);
		rc = store_pg_do(st, "DELETE FROM live_tunnels WHERE node = $1 AND "
		    "id = ANY($2::bigint[])", &a, cause) < 0 ? -1 : 0;
		free(ids.s);
		ids.s = NULL;
		ids.len = ids.size = 0;
	}
	if (rc != 0 || nch == 0)
		return rc;
	store_pg_buf_add(&ids, "{");
	store_pg_buf_add(&c, "{");
	store_pg_buf_add(&in, "{");
	store_pg_buf_add(&out, "{");
	for (i = 0; i < nch; i++) {
		store_pg_buf_add(&ids, "%s%lld", i == 0 ? "" : ",", (long long)ch[i]->id);
		store_pg_buf_add(&c, "%s%d", i == 0 ? "" : ",", ch[i]->conns);
		store_pg_buf_add(&in, "%s%lld", i == 0 ? "" : ",", (long long)ch[i]->bytes_in);
		store_pg_buf_add(&out, "%s%lld", i == 0 ? "" : ",", (long long)ch[i]->bytes_out);
	}
	store_pg_buf_add(&ids, "}");
	store_pg_buf_add(&c, "}");
	store_pg_buf_add(&in, "}");
	store_pg_buf_add(&out, "}");
	a.n = 0;
	store_pg_text(&a, node);
	store_pg_text(&a, ids.s);
	store_pg_text(&a, c.s);
	store_pg_text(&a, in.s);
	store_pg_text(&a, out.s);
	rc = store_pg_do(st, "UPDATE live_tunnels t SET conns = v.c, bytes_in = v.i, bytes_out = "
	    "v.o FROM unnest($2::bigint[], $3::integer[], $4::bigint[], $5::bigint[]) AS "
	    "v(id, c, i, o) WHERE t.id = v.id AND t.node = $1", &a, cause) < 0 ? -1 : 0;
	free(ids.s);
	free(c.s);
	free(in.s);
	free(out.s);
	return rc;
}

/*
 * One sync of node n, in one transaction: renew its lease (unless another run holds it now); add, drop and count its live
 * tunnels; take the ids another node asked it to close; drop the nodes whose lease ran out
 * (their tunnels go with them). 1 when its own row was gone: it must join again.
 */
int
store_pg_node_sync(struct store *st, const struct store_node *n, struct store_live **add,
    size_t nadd, const int64_t *gone, size_t ngone, struct store_live **changed,
    size_t nchanged, struct store_live_count **counts, size_t ncounts, int64_t **close,
    size_t *nclose, char **cause)
{
	struct store_pg_args	 a = { 0 };
	const char		*name = n->name;
	PGresult		*r;
	size_t			 i, chunk;
	int			 rc, k;

	if (store_pg_begin_nolock(st, STORE_PG_SYNC_BUSY, cause) != 0)
		return -1;
	store_pg_text(&a, name);
	store_pg_int(&a, n->lease);
	store_pg_text(&a, n->instance);
	if ((rc = store_pg_do(st, "UPDATE nodes SET lease_until = " STORE_PG_NOW " + $2::integer "
	    "WHERE name = $1 AND instance = $3", &a, cause)) <= 0) {
		store_pg_rollback(st);
		return rc == 0 ? 1 : -1;
	}
	for (i = 0; i < nadd; i += chunk) {
		chunk = nadd - i < STORE_PG_LIVE_ROWS ? nadd - i : STORE_PG_LIVE_ROWS;
		if (store_pg_live_insert(st, name, add + i, chunk, cause) != 0)
			return store_pg_abort(st);
	}
	if (store_pg_live_update(st, name, gone, ngone, changed, nchanged, cause) != 0 ||
	    store_pg_counts_write(st, name, counts, ncounts, cause) != 0)
		return store_pg_abort(st);
	a.n = 1;
	if ((r = store_pg_exec(st, "UPDATE live_tunnels SET close_wanted = false WHERE node = $1 "
	    "AND close_wanted RETURNING id", &a, cause)) == NULL)
		return store_pg_abort(st);
	if ((k = PQntuples(r)) > 0) {
		*close = xreallocarray(NULL, (size_t)k, sizeof **close);
		for (i = 0; i < (size_t)k; i++)
			(*close)[i] = store_pg_col_int(r, (int)i, 0, 0);
		*nclose = (size_t)k;
	}
	PQclear(r);
	if (store_pg_do(st, "DELETE FROM nodes WHERE lease_until < " STORE_PG_NOW, NULL,
	    cause) < 0 ||
	    store_pg_commit(st, 0, cause) != 0) {
		free(*close);
		*close = NULL;
		*nclose = 0;
		return store_pg_abort(st);
	}
	return 0;
}

/* Node n leaves: its row, when this run holds it, and its live tunnels go. */
int
store_pg_node_leave(struct store *st, const struct store_node *n, char **cause)
{
	struct store_pg_args	 a = { 0 };

	store_pg_text(&a, n->name);
	store_pg_text(&a, n->instance);
	return store_pg_do(st, "DELETE FROM nodes WHERE name = $1 AND instance = $2", &a,
	    cause) < 0 ? -1 : 0;
}

/* The live tunnels of the nodes whose lease holds (account's, when not NULL). */
int
store_pg_live_list(struct store *st, const char *account, struct store_live ***out, size_t *n,
    char **cause)
{
	struct store_pg_args	 a = { 0 };

	store_pg_text(&a, account);
	*out = store_pg_collect(st, STORE_PG_LIVE_SELECT " WHERE n.lease_until >= " STORE_PG_NOW
	    " AND ($1::text IS NULL OR t.account = $1) ORDER BY t.node COLLATE \"C\", t.id", &a,
	    &store_live_kind, n, cause);
	return *out != NULL ? 0 : -1;
}

/*
 * The counts by account of the live nodes other than name, changed after change number after;
 * all of them when those nodes are not the ones known names (see store_live_counts).
 */
int
store_pg_live_counts(struct store *st, const char *name, const char *known, int64_t after,
    struct store_live_count ***out, size_t *n, int64_t *last, char **sig, int *reset,
    char **cause)
{
	struct store_pg_args	 a = { 0 };
	size_t			 i;

	store_pg_text(&a, name);
	if (store_pg_string(st, "SELECT coalesce(string_agg(name || ':' || number, ',' ORDER BY "
	    "name COLLATE \"C\"), '') FROM nodes WHERE lease_until >= " STORE_PG_NOW " AND "
	    "name <> $1", &a, sig, cause) != 0)
		return -1;
	if (*sig == NULL)
		*sig = xstrdup("");
	if (known == NULL || strcmp(*sig, known) != 0) {
		*reset = 1;
		after = 0;
	}
	store_pg_int(&a, after);
	*out = store_pg_collect(st, "SELECT c.node, c.account, c.tunnels, c.conns, c.seq FROM "
	    "node_accounts c JOIN nodes n ON n.name = c.node WHERE c.node <> $1 AND "
	    "n.lease_until >= " STORE_PG_NOW " AND c.seq > $2::bigint ORDER BY c.seq", &a,
	    &store_live_count_kind, n, cause);
	if (*out == NULL) {
		free(*sig);
		*sig = NULL;
		return -1;
	}
	*last = after;
	for (i = 0; i < *n; i++) {
		if ((*out)[i]->seq > *last)
			*last = (*out)[i]->seq;
	}
	return 0;
}

/*
 * Ask the node that holds live tunnel id to close it: marked, and the change counter bumped
 * so that the node hears of it at once.
 */
int
store_pg_live_close(struct store *st, int64_t id, char **cause)
{
	struct store_pg_args	 a = { 0 };
	PGresult		*r;
	int			 rc;

	if (store_pg_begin_nolock(st, STORE_PG_SYNC_BUSY, cause) != 0)
		return -1;
	store_pg_int(&a, id);
	if ((r = store_pg_exec(st, "UPDATE live_tunnels SET close_wanted = true WHERE id = $1 AND "
	    "node IN (SELECT name FROM nodes WHERE lease_until >= " STORE_PG_NOW ") RETURNING node",
	    &a, cause)) == NULL)
		return store_pg_abort(st);
	if ((rc = store_pg_commit_change_of(st, 'n', r, cause)) == 1)
		xasprintf(cause, "no live tunnel %lld", (long long)id);
	return rc == 0 ? 0 : -1;
}
