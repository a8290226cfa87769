/* SPDX-License-Identifier: ISC */
/* tunnelgw: the SQLite backend's addresses table: public ports reserved for accounts. */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "log.h"
#include "sqlite-int.h"
#include "xmalloc.h"

/* Within a transaction: the ports of protocol reserved from lo to hi, ascending. */
static int
store_sqlite_address_taken(struct store *st, const char *protocol, int lo, int hi, int **ports,
    size_t *n, char **cause)
{
	sqlite3_stmt	*stmt;
	size_t		 max = (size_t)(hi - lo + 1);
	int		 rc;

	*ports = xreallocarray(NULL, max, sizeof **ports);
	*n = 0;
	if (store_sqlite_prepare(st, "SELECT port FROM addresses WHERE protocol = ?3 AND "
	    "port BETWEEN ?1 AND ?2 ORDER BY port", &stmt, cause) != 0)
		return -1;
	sqlite3_bind_int(stmt, 1, lo);
	sqlite3_bind_int(stmt, 2, hi);
	sqlite3_bind_text(stmt, 3, protocol, -1, SQLITE_TRANSIENT);
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW && *n < max)
		(*ports)[(*n)++] = sqlite3_column_int(stmt, 0);
	sqlite3_finalize(stmt);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
		store_sqlite_error(st, rc, cause);
		return -1;
	}
	return 0;
}

/* Within a transaction: pick a port of lo-hi uniformly among those nobody reserved. */
static int
store_sqlite_address_pick(struct store *st, const char *protocol, int lo, int hi, int *port,
    char **cause)
{
	int	*taken;
	size_t	 ntaken;
	int	 rc = -1;

	if (store_sqlite_address_taken(st, protocol, lo, hi, &taken, &ntaken, cause) == 0)
		rc = store_address_pick(lo, hi, taken, ntaken, port, cause);
	free(taken);
	return rc;
}

/* Within a transaction: fail if port is reserved already, naming by whom. */
static int
store_sqlite_address_vacant(struct store *st, const char *protocol, int port, char **cause)
{
	struct store_address	*a;
	int			 rc;

	rc = store_sqlite_address_find(st, protocol, port, &a, cause);
	if (rc == 0 && a != NULL)
		rc = store_rule_address_taken(protocol, port, a->account, cause);
	store_address_free(a);
	return rc;
}

/* Within a transaction: fail when account holds as many reserved ports as it may. */
static int
store_sqlite_address_room(struct store *st, const char *account, char **cause)
{
	sqlite3_stmt	*stmt;
	int64_t		 max = -1, held = 0;
	int		 rc;

	if (store_sqlite_prepare(st, "SELECT a.max_addresses, (SELECT count(*) FROM addresses d "
	    "WHERE d.account = a.name) FROM accounts a WHERE a.name = ?1", &stmt, cause) != 0)
		return -1;
	sqlite3_bind_text(stmt, 1, account, -1, SQLITE_TRANSIENT);
	if ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		max = store_sqlite_col_int(stmt, 0, -1);
		held = sqlite3_column_int64(stmt, 1);
	}
	sqlite3_finalize(stmt);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		store_sqlite_error(st, rc, cause);
		return -1;
	}
	return store_rule_address_room(account, held, max, cause);
}

/*
 * Reserve a port of protocol for account on node (NULL: any): port, or when 0 a random one
 * nobody reserved of lo-hi. *out gets the port reserved.
 */
int
store_sqlite_address_reserve(struct store *st, const char *account, const char *protocol,
    const char *node, int port, int lo, int hi, int *out, char **cause)
{
	sqlite3_stmt	*stmt;

	if (store_sqlite_begin(st, cause) != 0)
		return -1;
	if (store_sqlite_account_need(st, account, cause) != 0 ||
	    store_sqlite_address_room(st, account, cause) != 0)
		return store_sqlite_abort(st);
	if (port != 0 && store_sqlite_address_vacant(st, protocol, port, cause) != 0)
		return store_sqlite_abort(st);
	if (port == 0 && store_sqlite_address_pick(st, protocol, lo, hi, &port, cause) != 0)
		return store_sqlite_abort(st);
	if (store_sqlite_prepare(st, "INSERT INTO addresses (protocol, port, account, created, "
	    "node) VALUES (?4, ?1, ?2, ?3, ?5)", &stmt, cause) != 0)
		return store_sqlite_abort(st);
	if (node != NULL)
		sqlite3_bind_text(stmt, 5, node, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int(stmt, 1, port);
	sqlite3_bind_text(stmt, 2, account, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(stmt, 3, store_now());
	sqlite3_bind_text(stmt, 4, protocol, -1, SQLITE_TRANSIENT);
	if (store_sqlite_done(st, stmt, cause) != 0)
		return store_sqlite_abort(st);
	if (store_sqlite_commit(st, 0, cause) != 0)
		return -1;
	*out = port;
	return 0;
}

/* Release the reserved port of protocol. */
int
store_sqlite_address_release(struct store *st, const char *protocol, int port, char **cause)
{
	sqlite3_stmt	*stmt;

	if (store_sqlite_begin(st, cause) != 0)
		return -1;
	if (store_sqlite_prepare(st, "DELETE FROM addresses WHERE protocol = ?2 AND port = ?1",
	    &stmt, cause) != 0)
		return store_sqlite_abort(st);
	sqlite3_bind_int(stmt, 1, port);
	sqlite3_bind_text(stmt, 2, protocol, -1, SQLITE_TRANSIENT);
	if (store_sqlite_done(st, stmt, cause) != 0)
		return store_sqlite_abort(st);
	if (store_sqlite_changed(st) == 0) {
		xasprintf(cause, "%sport %d is not reserved", strcmp(protocol, "udp") == 0 ?
		    "UDP " : "", port);
		return store_sqlite_abort(st);
	}
	return store_sqlite_commit(st, 0, cause);
}

/* An address record, a column per field (store_address_kind); SQLite knows no node's host. */
#define STORE_ADDRESS_SELECT \
	"SELECT protocol, port, account, created, node, NULL FROM addresses"

/* The reservation of port for protocol: *out gets it, or NULL when nobody reserved it. */
int
store_sqlite_address_find(struct store *st, const char *protocol, int port,
    struct store_address **out, char **cause)
{
	sqlite3_stmt	*stmt;
	void		*a;

	if (store_sqlite_prepare(st, STORE_ADDRESS_SELECT " WHERE protocol = ?2 AND port = ?1",
	    &stmt, cause) != 0)
		return -1;
	sqlite3_bind_int(stmt, 1, port);
	sqlite3_bind_text(stmt, 2, protocol, -1, SQLITE_TRANSIENT);
	if (store_sqlite_one(st, stmt, &store_address_kind, &a, cause) != 0)
		return -1;
	*out = a;
	return 0;
}

/* List every reserved address, by port, TCP before UDP. */
int
store_sqlite_address_list(struct store *st, struct store_address ***out, size_t *n,
    char **cause)
{
	sqlite3_stmt	*stmt;

	if (store_sqlite_prepare(st, STORE_ADDRESS_SELECT " ORDER BY port, protocol", &stmt,
	    cause) != 0)
		return -1;
	*out = store_sqlite_collect(st, stmt, &store_address_kind, n, cause);
	return *out != NULL ? 0 : -1;
}
