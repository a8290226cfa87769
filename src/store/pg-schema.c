/* SPDX-License-Identifier: ISC */
/* tunnelgw: the PostgreSQL backend's schema: checks before any change, migrations. */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <libpq-fe.h>

#include "pg-int.h"
#include "xmalloc.h"

/*
 * The first schema: that of SQLite's version 4 (sqlite-schema.c says what each part is for),
 * in PostgreSQL's types. Times are Unix seconds (bigint), UTC; NULL means none. Identity
 * columns never give a number twice, as SQLite's AUTOINCREMENT. The tables live in the
 * connection's current schema (search_path), so several gateways' sets can share a server.
 */
static const char store_pg_schema_1[] =
	"CREATE TABLE tunnelgw_schema (version integer NOT NULL);"
	"INSERT INTO tunnelgw_schema (version) VALUES (0);"
	"CREATE TABLE changes ("
	"  id integer PRIMARY KEY CHECK (id = 1),"
	"  seq bigint NOT NULL"
	");"
	"INSERT INTO changes (id, seq) VALUES (1, 0);"
	"CREATE TABLE accounts ("
	"  name text PRIMARY KEY,"
	"  max_tunnels integer CHECK (max_tunnels IS NULL OR max_tunnels >= 0),"
	"  created bigint NOT NULL,"
	"  create_raw_tunnel text CHECK (create_raw_tunnel IS NULL"
	"    OR create_raw_tunnel IN ('viewer', 'developer', 'manager', 'owner')),"
	"  max_addresses integer CHECK (max_addresses IS NULL OR max_addresses >= 0),"
	"  max_connections integer CHECK (max_connections IS NULL OR max_connections >= 0)"
	");"
	"CREATE TABLE members ("
	"  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
	"  account text NOT NULL REFERENCES accounts(name) ON DELETE CASCADE,"
	"  name text NOT NULL,"
	"  role text NOT NULL CHECK (role IN ('viewer', 'developer', 'manager', 'owner')),"
	"  created bigint NOT NULL,"
	"  UNIQUE (account, name)"
	");"
	"CREATE TABLE tokens ("
	"  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
	"  account text NOT NULL REFERENCES accounts(name) ON DELETE CASCADE,"
	"  member bigint REFERENCES members(id) ON DELETE CASCADE,"
	"  lookup bigint NOT NULL,"
	"  hash bytea NOT NULL CHECK (length(hash) = 32),"
	"  created bigint NOT NULL,"
	"  expires bigint,"
	"  revoked bigint,"
	"  last_used bigint,"
	"  port integer CHECK (port IS NULL OR port BETWEEN 1 AND 65535),"
	"  once integer NOT NULL DEFAULT 0 CHECK (once IN (0, 1)),"
	"  protocol text CHECK (protocol IS NULL OR protocol IN ('tcp', 'udp'))"
	");"
	"CREATE INDEX tokens_lookup ON tokens(lookup);"
	"CREATE INDEX tokens_account ON tokens(account);"
	"CREATE INDEX tokens_member ON tokens(member);"
	"CREATE TABLE keys ("
	"  fingerprint text PRIMARY KEY,"
	"  account text NOT NULL REFERENCES accounts(name) ON DELETE CASCADE,"
	"  type text NOT NULL,"
	"  key text NOT NULL,"
	"  comment text,"
	"  added_by text NOT NULL,"
	"  created bigint NOT NULL,"
	"  member bigint REFERENCES members(id) ON DELETE CASCADE"
	");"
	"CREATE INDEX keys_account ON keys(account);"
	"CREATE INDEX keys_member ON keys(member);"
	"CREATE TABLE addresses ("
	"  protocol text NOT NULL CHECK (protocol IN ('tcp', 'udp')),"
	"  port integer NOT NULL CHECK (port BETWEEN 1 AND 65535),"
	"  account text NOT NULL REFERENCES accounts(name) ON DELETE CASCADE,"
	"  created bigint NOT NULL,"
	"  PRIMARY KEY (protocol, port)"
	");"
	"CREATE INDEX addresses_account ON addresses(account);"
	"CREATE TABLE apikeys ("
	"  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
	"  member bigint REFERENCES members(id) ON DELETE CASCADE,"
	"  lookup bigint NOT NULL,"
	"  hash bytea NOT NULL CHECK (length(hash) = 32),"
	"  created bigint NOT NULL,"
	"  revoked bigint,"
	"  last_used bigint"
	");"
	"CREATE INDEX apikeys_lookup ON apikeys(lookup);"
	"CREATE INDEX apikeys_member ON apikeys(member);"
	"CREATE TABLE events ("
	"  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
	"  time bigint NOT NULL,"
	"  event text NOT NULL,"
	"  account text,"
	"  url text,"
	"  client text,"
	"  bytes_in bigint,"
	"  bytes_out bigint,"
	"  duration_ms bigint,"
	"  detail text"
	");"
	"CREATE INDEX events_time ON events(time);";

/*
 * Version 2: gateways sharing the database (src/nodes.c). A node has a name, the public host
 * its clients use, a number (never given twice: the high bits of its tunnels' ids) and a
 * lease it renews; the live tunnels of the nodes whose lease holds are the fleet's. A
 * reserved address may belong to one node (NULL, as every address kept: to any).
 */
static const char store_pg_schema_2[] =
	"CREATE TABLE nodes ("
	"  name text PRIMARY KEY,"
	"  number integer GENERATED ALWAYS AS IDENTITY UNIQUE,"
	"  public_host text NOT NULL,"
	"  joined bigint NOT NULL,"
	"  lease_until bigint NOT NULL"
	");"
	"CREATE TABLE live_tunnels ("
	"  id bigint PRIMARY KEY,"
	"  node text NOT NULL REFERENCES nodes(name) ON DELETE CASCADE,"
	"  account text NOT NULL,"
	"  member text,"
	"  client text,"
	"  url text NOT NULL,"
	"  target text,"
	"  since bigint NOT NULL,"
	"  conns integer NOT NULL DEFAULT 0,"
	"  bytes_in bigint NOT NULL DEFAULT 0,"
	"  bytes_out bigint NOT NULL DEFAULT 0,"
	"  close_wanted boolean NOT NULL DEFAULT false"
	");"
	"CREATE INDEX live_tunnels_node ON live_tunnels(node);"
	"CREATE INDEX live_tunnels_account ON live_tunnels(account);"
	"CREATE INDEX live_tunnels_close ON live_tunnels(node) WHERE close_wanted;"
	/* Each node's counts by account; seq grows with every change, under one lock, so a
	 * reader that asks for seq > its last misses none. */
	"CREATE SEQUENCE node_accounts_seq;"
	"CREATE TABLE node_accounts ("
	"  node text NOT NULL REFERENCES nodes(name) ON DELETE CASCADE,"
	"  account text NOT NULL,"
	"  tunnels integer NOT NULL,"
	"  conns integer NOT NULL,"
	"  seq bigint NOT NULL,"
	"  PRIMARY KEY (node, account)"
	");"
	"CREATE INDEX node_accounts_seq_idx ON node_accounts(seq);"
	"ALTER TABLE addresses ADD COLUMN node text;";

/*
 * Version 3: which run of a node holds its row (a random id each gateway makes at start), so
 * that a second gateway started with a name in use is refused instead of sharing its row.
 */
static const char store_pg_schema_3[] =
	"ALTER TABLE nodes ADD COLUMN instance text NOT NULL DEFAULT '';";

/*
 * The migrations: entry N takes the schema from version N to N + 1, in the same transaction
 * as the version's change. Never edit an entry once released; append a new one.
 */
static const char *const store_pg_migrations[] = {
	store_pg_schema_1,
	store_pg_schema_2,
	store_pg_schema_3,
};

#define STORE_PG_VERSION ((int)(sizeof store_pg_migrations / sizeof store_pg_migrations[0]))

/*
 * The schema version of the database: 0 when it holds no table at all, -1 with a message
 * when it is not one of ours or is from a newer tunnelgw. Reads only.
 */
static int
store_pg_schema_version(struct store *st, int64_t *version, char **cause)
{
	struct store_pg	*pg = store_pg_of(st);
	PGresult	*r;
	int64_t		 ntables;

	r = store_pg_exec(st, "SELECT to_regclass('tunnelgw_schema') IS NOT NULL, (SELECT "
	    "count(*) FROM pg_tables WHERE schemaname = current_schema())", NULL, cause);
	if (r == NULL)
		return -1;
	ntables = store_pg_col_int(r, 0, 1, 0);
	if (*PQgetvalue(r, 0, 0) != 't') {
		PQclear(r);
		if (ntables != 0) {
			xasprintf(cause, "DB: %s is not a tunnelgw database (another program's: "
			    "%lld tables)", pg->where, (long long)ntables);
			return -1;
		}
		*version = 0;
		return 0;
	}
	PQclear(r);
	if ((r = store_pg_exec(st, "SELECT max(version) FROM tunnelgw_schema", NULL,
	    cause)) == NULL)
		return -1;
	*version = store_pg_col_int(r, 0, 0, -1);
	PQclear(r);
	if (*version > STORE_PG_VERSION) {
		xasprintf(cause, "DB: schema version %lld is newer than this tunnelgw understands "
		    "(%d)", (long long)*version, STORE_PG_VERSION);
		return -1;
	}
	if (*version < 0) {
		xasprintf(cause, "DB: %s is not a tunnelgw database (no schema version)",
		    pg->where);
		return -1;
	}
	return 0;
}

/*
 * Check the database, then bring its schema to STORE_PG_VERSION in one transaction, under
 * the writers' lock: several gateways starting at once migrate it once.
 */
int
store_pg_schema_setup(struct store *st, char **cause)
{
	int64_t	 version;
	char	 sql[80];

	if (store_pg_schema_version(st, &version, cause) != 0)
		return -1;
	if (version == STORE_PG_VERSION)
		return 0;
	if (store_pg_begin(st, cause) != 0)
		return -1;
	if (store_pg_schema_version(st, &version, cause) != 0)
		return store_pg_abort(st);
	for (; version < STORE_PG_VERSION; version++) {
		if (store_pg_do(st, store_pg_migrations[version], NULL, cause) < 0)
			return store_pg_abort(st);
	}
	snprintf(sql, sizeof sql, "UPDATE tunnelgw_schema SET version = %d", STORE_PG_VERSION);
	if (store_pg_do(st, sql, NULL, cause) < 0)
		return store_pg_abort(st);
	return store_pg_commit(st, 1, cause);
}

/*
 * Check the database: the schema of this version, one change counter, and no row that
 * points at nothing (which the foreign keys forbid).
 */
int
store_pg_integrity(struct store *st, char **cause)
{
	struct store_pg	*pg = store_pg_of(st);
	PGresult	*r;
	int64_t		 version, nchanges, orphans;

	if (store_pg_schema_version(st, &version, cause) != 0)
		return -1;
	r = store_pg_exec(st, "SELECT (SELECT count(*) FROM changes),"
	    " (SELECT count(*) FROM keys k WHERE k.member IS NOT NULL AND NOT EXISTS"
	    "   (SELECT 1 FROM members m WHERE m.id = k.member AND m.account = k.account))"
	    " + (SELECT count(*) FROM tokens t WHERE t.member IS NOT NULL AND NOT EXISTS"
	    "   (SELECT 1 FROM members m WHERE m.id = t.member AND m.account = t.account))",
	    NULL, cause);
	if (r == NULL)
		return -1;
	nchanges = store_pg_col_int(r, 0, 0, 0);
	orphans = store_pg_col_int(r, 0, 1, 0);
	PQclear(r);
	if (version != STORE_PG_VERSION || nchanges != 1 || orphans != 0) {
		xasprintf(cause, "DB: %s: integrity check failed: schema version %lld of %d, %lld "
		    "change counters, %lld keys and tokens of a member of another account",
		    pg->where, (long long)version, STORE_PG_VERSION, (long long)nchanges,
		    (long long)orphans);
		return -1;
	}
	return 0;
}
