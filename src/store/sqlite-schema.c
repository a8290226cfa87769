/* SPDX-License-Identifier: ISC */
/* tunnelgw: the SQLite backend's schema: checks before any change, migrations, settings. */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <sqlite3.h>

#include "sqlite-int.h"
#include "xmalloc.h"

#define STORE_APPLICATION_ID	0x54475731	/* "TGW1" in the database header */

/* The first schema, user_version 1. Times are Unix seconds, UTC; NULL means none. */
static const char store_schema_1[] =
	"CREATE TABLE accounts ("
	"  name TEXT PRIMARY KEY NOT NULL,"
	"  max_tunnels INTEGER CHECK (max_tunnels IS NULL OR max_tunnels >= 0),"
	"  created INTEGER NOT NULL"
	");"
	/* lookup: the first 8 bytes of hash, to find candidates; hash decides, compared in
	 * constant time. AUTOINCREMENT: a revoked token's id never names a new token. */
	"CREATE TABLE tokens ("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  account TEXT NOT NULL REFERENCES accounts(name) ON DELETE CASCADE,"
	"  lookup INTEGER NOT NULL,"
	"  hash BLOB NOT NULL CHECK (length(hash) = 32),"
	"  created INTEGER NOT NULL,"
	"  expires INTEGER,"
	"  revoked INTEGER,"
	"  last_used INTEGER"
	");"
	"CREATE INDEX tokens_lookup ON tokens(lookup);"
	"CREATE INDEX tokens_account ON tokens(account);"
	"CREATE TABLE keys ("
	"  fingerprint TEXT PRIMARY KEY NOT NULL,"
	"  account TEXT NOT NULL REFERENCES accounts(name) ON DELETE CASCADE,"
	"  type TEXT NOT NULL,"
	"  key TEXT NOT NULL,"
	"  comment TEXT,"
	"  added_by TEXT NOT NULL,"
	"  created INTEGER NOT NULL"
	");"
	"CREATE INDEX keys_account ON keys(account);"
	"CREATE TABLE addresses ("
	"  port INTEGER PRIMARY KEY CHECK (port BETWEEN 1 AND 65535),"
	"  account TEXT NOT NULL REFERENCES accounts(name) ON DELETE CASCADE,"
	"  created INTEGER NOT NULL"
	");"
	"CREATE INDEX addresses_account ON addresses(account);"
	"CREATE TABLE changes ("
	"  id INTEGER PRIMARY KEY CHECK (id = 1),"
	"  seq INTEGER NOT NULL"
	");"
	"INSERT INTO changes (id, seq) VALUES (1, 0);";

/*
 * User_version 2: events (src/events.c), newest last; id grows with every row, so "all but
 * the newest N" is one comparison. Times are Unix seconds; NULL means none. No reference to
 * accounts: events outlive the account, and keys-file accounts have no row there.
 */
static const char store_schema_2[] =
	"CREATE TABLE events ("
	"  id INTEGER PRIMARY KEY,"
	"  time INTEGER NOT NULL,"
	"  event TEXT NOT NULL,"
	"  account TEXT,"
	"  url TEXT,"
	"  client TEXT,"
	"  bytes_in INTEGER,"
	"  bytes_out INTEGER,"
	"  duration_ms INTEGER,"
	"  detail TEXT"
	");"
	"CREATE INDEX events_time ON events(time);";

/*
 * User_version 3: members. An account is a team: each member has a role (viewer < developer
 * < manager < owner, auth/grant.c), and every key and token belongs to a member. Existing
 * accounts get a member "owner" with the role owner, and their keys and tokens go to it. An
 * account also gains the role that opening a raw tunnel needs (NULL: manager) and limits
 * on reserved addresses and open public connections (NULL: none). A token may be bound to one
 * port and to one login (the API's awaiting tunnels). The member column of keys
 * and tokens cannot be NOT NULL (SQLite adds columns with a NULL default); the code writes it
 * always and treats a key or token without a member as nobody's.
 */
static const char store_schema_3[] =
	"CREATE TABLE members ("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  account TEXT NOT NULL REFERENCES accounts(name) ON DELETE CASCADE,"
	"  name TEXT NOT NULL,"
	"  role TEXT NOT NULL CHECK (role IN ('viewer', 'developer', 'manager', 'owner')),"
	"  created INTEGER NOT NULL,"
	"  UNIQUE (account, name)"
	");"
	"INSERT INTO members (account, name, role, created)"
	"  SELECT name, 'owner', 'owner', created FROM accounts ORDER BY name;"
	"ALTER TABLE keys ADD COLUMN member INTEGER REFERENCES members(id) ON DELETE CASCADE;"
	"ALTER TABLE tokens ADD COLUMN member INTEGER REFERENCES members(id) ON DELETE CASCADE;"
	"UPDATE keys SET member = (SELECT m.id FROM members m"
	"  WHERE m.account = keys.account AND m.name = 'owner');"
	"UPDATE tokens SET member = (SELECT m.id FROM members m"
	"  WHERE m.account = tokens.account AND m.name = 'owner');"
	/* A token for one tunnel (POST /api/v1/tunnels): it opens only port, and logs in once. */
	"ALTER TABLE tokens ADD COLUMN port INTEGER CHECK (port IS NULL OR port BETWEEN 1 AND 65535);"
	"ALTER TABLE tokens ADD COLUMN once INTEGER NOT NULL DEFAULT 0 CHECK (once IN (0, 1));"
	"CREATE INDEX keys_member ON keys(member);"
	"CREATE INDEX tokens_member ON tokens(member);"
	"ALTER TABLE accounts ADD COLUMN create_raw_tunnel TEXT CHECK (create_raw_tunnel IS NULL"
	"  OR create_raw_tunnel IN ('viewer', 'developer', 'manager', 'owner'));"
	"ALTER TABLE accounts ADD COLUMN max_addresses INTEGER"
	"  CHECK (max_addresses IS NULL OR max_addresses >= 0);"
	"ALTER TABLE accounts ADD COLUMN max_connections INTEGER"
	"  CHECK (max_connections IS NULL OR max_connections >= 0);"
	/* API keys: a member's (its role applies) or, with member NULL, the operator's. */
	"CREATE TABLE apikeys ("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  member INTEGER REFERENCES members(id) ON DELETE CASCADE,"
	"  lookup INTEGER NOT NULL,"
	"  hash BLOB NOT NULL CHECK (length(hash) = 32),"
	"  created INTEGER NOT NULL,"
	"  revoked INTEGER,"
	"  last_used INTEGER"
	");"
	"CREATE INDEX apikeys_lookup ON apikeys(lookup);"
	"CREATE INDEX apikeys_member ON apikeys(member);";

/*
 * User_version 4: a reserved address is of a protocol, TCP or UDP (UDP tunnels): a port
 * number may be reserved once for each. The table is made again, as its primary key changes;
 * every address kept is a TCP one. A token bound to a port is bound to its protocol too
 * (NULL, as for the tokens already bound: TCP).
 */
static const char store_schema_4[] =
	"CREATE TABLE addresses_4 ("
	"  protocol TEXT NOT NULL DEFAULT 'tcp' CHECK (protocol IN ('tcp', 'udp')),"
	"  port INTEGER NOT NULL CHECK (port BETWEEN 1 AND 65535),"
	"  account TEXT NOT NULL REFERENCES accounts(name) ON DELETE CASCADE,"
	"  created INTEGER NOT NULL,"
	"  PRIMARY KEY (protocol, port)"
	");"
	"INSERT INTO addresses_4 (protocol, port, account, created)"
	"  SELECT 'tcp', port, account, created FROM addresses;"
	"DROP TABLE addresses;"
	"ALTER TABLE addresses_4 RENAME TO addresses;"
	"CREATE INDEX addresses_account ON addresses(account);"
	"ALTER TABLE tokens ADD COLUMN protocol TEXT CHECK (protocol IS NULL OR"
	"  protocol IN ('tcp', 'udp'));";

/*
 * User_version 5: a reserved address may belong to one gateway (node_name) of several that
 * share a database; NULL, as for every address kept: to any.
 */
static const char store_schema_5[] =
	"ALTER TABLE addresses ADD COLUMN node TEXT;";

/*
 * The migrations: entry N takes the schema from user_version N to N + 1, in the same
 * transaction as the version bump. Never edit an entry once released; append a new one.
 */
static const char *const store_migrations[] = {
	store_schema_1,
	store_schema_2,
	store_schema_3,
	store_schema_4,
	store_schema_5,
};

#define STORE_VERSION	((int)(sizeof store_migrations / sizeof store_migrations[0]))

/*
 * Check what is in the database before changing anything: one of ours (or empty) and not
 * from a newer tunnelgw. Reads only.
 */
static int
store_sqlite_schema_check(struct store *st, char **cause)
{
	struct store_sqlite	*sq = store_sqlite_of(st);
	int64_t			 appid = 0, version, ntables;
	char			*why = NULL;
	int			 code;

	/* One read transaction, so another process's migration is seen whole or not at all. */
	if (store_sqlite_exec(st, "BEGIN", &why) != 0 ||
	    store_sqlite_int_query(st, "PRAGMA application_id", &appid, &why) != 0 ||
	    store_sqlite_int_query(st, "PRAGMA user_version", &version, &why) != 0 ||
	    store_sqlite_int_query(st, "SELECT count(*) FROM sqlite_master", &ntables,
	    &why) != 0) {
		code = sqlite3_errcode(sq->db) & 0xff;
		sqlite3_exec(sq->db, "ROLLBACK", NULL, NULL, NULL);
		if (code != SQLITE_NOTADB && code != SQLITE_CORRUPT) {
			*cause = why;
			return -1;
		}
		free(why);
		if (appid == STORE_APPLICATION_ID)
			xasprintf(cause, "DB: %s: the tunnelgw database is corrupt (%s)",
			    sq->path, sqlite3_errstr(code));
		else
			xasprintf(cause, "DB: not a tunnelgw database (%s)", sqlite3_errstr(code));
		return -1;
	}
	sqlite3_exec(sq->db, "COMMIT", NULL, NULL, NULL);
	if (appid != STORE_APPLICATION_ID && (appid != 0 || version != 0 || ntables != 0)) {
		xasprintf(cause, "DB: not a tunnelgw database (another program's: application id "
		    "%lld, %lld tables)", (long long)appid, (long long)ntables);
		return -1;
	}
	if (version > STORE_VERSION) {
		xasprintf(cause, "DB: schema version %lld is newer than this tunnelgw understands "
		    "(%d)", (long long)version, STORE_VERSION);
		return -1;
	}
	if (version < 0) {
		xasprintf(cause, "DB: not a tunnelgw database (schema version %lld)",
		    (long long)version);
		return -1;
	}
	return 0;
}

/* Bring the schema to STORE_VERSION in one transaction; another process may race us. */
static int
store_sqlite_schema_migrate(struct store *st, char **cause)
{
	char	 sql[64];
	int64_t	 version;

	if (store_sqlite_int_query(st, "PRAGMA user_version", &version, cause) != 0)
		return -1;
	if (version == STORE_VERSION)
		return 0;
	if (store_sqlite_begin(st, cause) != 0)
		return -1;
	if (store_sqlite_int_query(st, "PRAGMA user_version", &version, cause) != 0)
		return store_sqlite_abort(st);
	if (version > STORE_VERSION || version < 0) {
		xasprintf(cause, "DB: schema version %lld is newer than this tunnelgw understands "
		    "(%d)", (long long)version, STORE_VERSION);
		return store_sqlite_abort(st);
	}
	if (version == 0) {
		snprintf(sql, sizeof sql, "PRAGMA application_id = %d", STORE_APPLICATION_ID);
		if (store_sqlite_exec(st, sql, cause) != 0)
			return store_sqlite_abort(st);
	}
	for (; version < STORE_VERSION; version++) {
		if (store_sqlite_exec(st, store_migrations[version], cause) != 0)
			return store_sqlite_abort(st);
	}
	snprintf(sql, sizeof sql, "PRAGMA user_version = %d", STORE_VERSION);
	if (store_sqlite_exec(st, sql, cause) != 0)
		return store_sqlite_abort(st);
	return store_sqlite_commit(st, 1, cause);
}

/* Set the connection up: foreign keys, durability. Writes nothing to the file. */
static int
store_sqlite_schema_configure(struct store *st, char **cause)
{
	if (store_sqlite_exec(st, "PRAGMA foreign_keys = ON", cause) != 0 ||
	    store_sqlite_exec(st, "PRAGMA synchronous = FULL", cause) != 0)
		return -1;
	return 0;
}

/* Switch the database to WAL: the first write to the file, after it was checked. */
static int
store_sqlite_schema_wal(struct store *st, char **cause)
{
	char	*mode;
	int	 rc;

	rc = store_sqlite_pragma_is(st, "PRAGMA journal_mode = WAL", "wal", &mode, cause);
	free(mode);
	if (rc == 0)
		xasprintf(cause, "DB: %s: cannot switch to WAL journal mode",
		    store_sqlite_of(st)->path);
	return rc == 1 ? 0 : -1;
}

/*
 * Set a new connection up. The first of this process, which holds the set-up lock, also
 * checks the database, switches it to WAL and brings its schema up to date.
 */
int
store_sqlite_schema_setup(struct store *st, int first, char **cause)
{
	if (!first)
		return store_sqlite_schema_configure(st, cause);
	if (store_sqlite_schema_check(st, cause) != 0 ||
	    store_sqlite_schema_configure(st, cause) != 0 ||
	    store_sqlite_schema_wal(st, cause) != 0 ||
	    store_sqlite_schema_migrate(st, cause) != 0)
		return -1;
	return 0;
}
