/* SPDX-License-Identifier: ISC */
/*
 * tunnelgw: unit tests of the store: schema, constraints, tokens, locking, crashes. The cases
 * that do not look at an SQLite file run again on PostgreSQL when TG_TEST_PG names the folder
 * of a test server (tests/pgserver.sh; make check-postgresql).
 */
#include "config.h"

#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <stdint.h>
#include <time.h>

#include <openssl/evp.h>
#include <sqlite3.h>
#ifdef HAVE_LIBPQ
#include <libpq-fe.h>
#endif

#include "store.h"
#include "xmalloc.h"
#include "tg_test.h"

/* Public keys made with ssh-keygen (from tests/check_keys.c), with their fingerprints. */
#define ED25519 "AAAAC3NzaC1lZDI1NTE5AAAAILASBAwoiGAAwbb4+n1F2a4BlM3HDJjJtf7wjOfoCKtl"
#define ED25519_FP "SHA256:lRxCKkTTJVWXkeZm/Y2aczAcoONPqFr8t2VheSNtCKI"
#define P256 "AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBJwmZSRx5+fXczylhdt1hVt4X06B" \
	"CKdhaebL5U95OkhdZOrlSTCP0N/1rXhKx4lG/lX4/oYF2wPFLgDdOjszZPA="
#define P256_FP "SHA256:qVejIep3buA4kGOgHyZ4Xic5nxWVwe5+wSLFKuyUpW0"

/* Linked with -Wl,--wrap=CRYPTO_memcmp: count the constant-time comparisons made. */
int	__real_CRYPTO_memcmp(const void *, const void *, size_t);
int	__wrap_CRYPTO_memcmp(const void *, const void *, size_t);
static int memcmp_calls;

/* Count a call and compare as OpenSSL does. */
int
__wrap_CRYPTO_memcmp(const void *a, const void *b, size_t len)
{
	memcmp_calls++;
	return __real_CRYPTO_memcmp(a, b, len);
}

static const char *pg_dir;	/* TG_TEST_PG: the folder of a test PostgreSQL server */
static int on_pg;		/* the cases of this run use it */

/* Is path a PostgreSQL URI? */
static int
is_uri(const char *path)
{
	return strncmp(path, "postgresql://", 13) == 0;
}

#ifdef HAVE_LIBPQ
/* Quiet NOTICEs. */
static void
pg_quiet(void *arg, const char *msg)
{
	(void)arg;
	(void)msg;
}

/* A raw connection to uri, or fail the test. */
static PGconn *
pg_connect(const char *uri)
{
	PGconn	*c = PQconnectdb(uri);

	ck_assert_msg(PQstatus(c) == CONNECTION_OK, "%s", PQerrorMessage(c));
	PQsetNoticeProcessor(c, pg_quiet, NULL);
	return c;
}

/* Run sql on raw connection c: the integer of its first row (-1: none). */
static long long
pg_run(PGconn *c, const char *sql)
{
	PGresult	*r = PQexec(c, sql);
	long long	 v = -1;

	ck_assert_msg(PQresultStatus(r) == PGRES_TUPLES_OK || PQresultStatus(r) ==
	    PGRES_COMMAND_OK, "%s: %s", sql, PQerrorMessage(c));
	if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0 && !PQgetisnull(r, 0, 0))
		v = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	PQclear(r);
	return v;
}

/* The URI of database name of the test server. */
static char *
pg_uri(const char *name)
{
	char	*uri;

	ck_assert_int_ne(asprintf(&uri, "postgresql://tunnelgw@/%s?host=%s", name, pg_dir), -1);
	return uri;
}

/* A new empty database on the test server: its URI. */
static char *
pg_fresh(void)
{
	static int	 n;
	PGconn		*c;
	char		 name[64], sql[96], *admin = pg_uri("postgres");

	snprintf(name, sizeof name, "tgcheck_%d_%d", (int)getpid(), n++);
	c = pg_connect(admin);
	/* A server kept between runs may hold one of that name: pids come round again. */
	snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s", name);
	pg_run(c, sql);
	snprintf(sql, sizeof sql, "CREATE DATABASE %s", name);
	pg_run(c, sql);
	PQfinish(c);
	free(admin);
	return pg_uri(name);
}
#endif

/* A fresh database: the path of one in a fresh test folder, or a new one on PostgreSQL. */
static char *
db_path(void)
{
	char	*path;

#ifdef HAVE_LIBPQ
	if (on_pg)
		return pg_fresh();
#endif
	ck_assert_int_ne(asprintf(&path, "%s/tunnelgw.db", tg_tmpdir()), -1);
	return path;
}

/* Does token id still log in (held by a member, not revoked, not expired): 1 or 0. */
static int
token_stands(struct store *st, int64_t id)
{
	struct store_login	*l;
	char			*cause = NULL;
	int			 stands;

	ck_assert_msg(store_login_find(st, id, NULL, &l, &cause) == 0, "%s", cause);
	stands = l != NULL && l->active;
	store_login_free(l);
	return stands;
}

/* Open the store at path or fail the test with the reason. */
static struct store *
open_ok(const char *path, int busy_ms)
{
	struct store	*st;
	char		*cause = NULL;

	st = store_open(path, busy_ms, &cause);
	ck_assert_msg(st != NULL, "store_open: %s", cause);
	return st;
}

/* Run one statement on a separate raw connection and return the integer of its first row. */
static long long
raw_int(const char *path, const char *sql)
{
	sqlite3		*db;
	sqlite3_stmt	*stmt;
	long long	 v = -1;

#ifdef HAVE_LIBPQ
	if (is_uri(path)) {
		PGconn	*c = pg_connect(path);

		v = pg_run(c, sql);
		PQfinish(c);
		return v;
	}
#endif
	ck_assert_int_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
	ck_assert_int_eq(sqlite3_prepare_v2(db, sql, -1, &stmt, NULL), SQLITE_OK);
	if (sqlite3_step(stmt) == SQLITE_ROW)
		v = sqlite3_column_int64(stmt, 0);
	sqlite3_finalize(stmt);
	sqlite3_close(db);
	return v;
}

/* Run SQL on a separate raw connection. */
static void
raw_exec(const char *path, const char *sql)
{
	sqlite3	*db;
	char	*err = NULL;

#ifdef HAVE_LIBPQ
	if (is_uri(path)) {
		PGconn	*c = pg_connect(path);

		pg_run(c, sql);
		PQfinish(c);
		return;
	}
#endif
	ck_assert_int_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
	    NULL), SQLITE_OK);
	ck_assert_msg(sqlite3_exec(db, sql, NULL, NULL, &err) == SQLITE_OK, "%s: %s", sql, err);
	sqlite3_close(db);
}

/* Milliseconds since some fixed point. */
static long long
now_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * The change counter as st sees it once a change made elsewhere has had the time to reach it:
 * at once on SQLite; on PostgreSQL, when the notification comes (waited for up to 1 s).
 */
static int64_t
changed_from(struct store *st, int64_t was)
{
	long long	 start = now_ms();
	char		*cause = NULL;
	int64_t		 seq;

	for (;;) {
		ck_assert_msg(store_changes(st, &seq, &cause) == 0, "%s", cause);
		if (seq != was || !on_pg || now_ms() - start > 1000)
			return seq;
		usleep(5000);
	}
}

/* The change counter as st sees it after long enough for a change to have come (200 ms). */
static int64_t
unchanged(struct store *st)
{
	char	*cause = NULL;
	int64_t	 seq;

	if (on_pg)
		usleep(200000);
	ck_assert_msg(store_changes(st, &seq, &cause) == 0, "%s", cause);
	return seq;
}

/* Read a whole file into a new buffer; its length goes to *len. */
static char *
slurp(const char *path, size_t *len)
{
	FILE	*fp;
	char	*buf;
	long	 size;

	fp = fopen(path, "rb");
	ck_assert_ptr_nonnull(fp);
	ck_assert_int_eq(fseek(fp, 0, SEEK_END), 0);
	size = ftell(fp);
	ck_assert_int_ge(size, 0);
	rewind(fp);
	buf = xmalloc((size_t)size + 1);
	ck_assert_uint_eq(fread(buf, 1, (size_t)size, fp), (size_t)size);
	fclose(fp);
	*len = (size_t)size;
	return buf;
}

/* Does path+suffix exist? */
static int
exists(const char *path, const char *suffix)
{
	struct stat	 sb;
	char		*p;
	int		 rc;

	ck_assert_int_ne(asprintf(&p, "%s%s", path, suffix), -1);
	rc = stat(p, &sb) == 0;
	free(p);
	return rc;
}

/* Assert that opening path fails with message expect and leaves the file byte for byte. */
static void
refused_untouched(const char *path, const char *expect)
{
	char	*before, *after, *cause = NULL;
	size_t	 blen, alen;

	before = slurp(path, &blen);
	ck_assert_ptr_null(store_open(path, 100, &cause));
	ck_assert_ptr_nonnull(cause);
	ck_assert_str_eq(cause, expect);
	after = slurp(path, &alen);
	ck_assert_uint_eq(blen, alen);
	ck_assert_int_eq(memcmp(before, after, blen), 0);
	free(cause);
	free(before);
	free(after);
}

/* A missing database is created, mode 0600, migrated to version 3, in WAL mode. */
START_TEST(test_create)
{
	char		*path = db_path(), *cause = NULL;
	struct store	*st = open_ok(path, 1000);
	struct stat	 sb;

	ck_assert_int_eq(stat(path, &sb), 0);
	ck_assert_int_eq(sb.st_mode & 07777, 0600);
	ck_assert_int_eq(raw_int(path, "PRAGMA user_version"), 5);
	ck_assert_int_eq(raw_int(path, "PRAGMA application_id"), 0x54475731);
	ck_assert_int_eq(raw_int(path, "SELECT count(*) FROM sqlite_master WHERE type = 'table' "
	    "AND name IN ('accounts', 'tokens', 'keys', 'addresses', 'changes', 'events', "
	    "'members', 'apikeys')"), 8);
	ck_assert_int_eq(raw_int(path, "SELECT journal_mode = 'wal' FROM pragma_journal_mode"), 1);
	ck_assert_msg(store_integrity(st, &cause) == 0, "%s", cause);
	store_close(st);
	/* Opening again migrates nothing and keeps the version. */
	st = open_ok(path, 1000);
	store_close(st);
	ck_assert_int_eq(raw_int(path, "PRAGMA user_version"), 5);
	free(path);
}
END_TEST

/*
 * A database as version 1 wrote it (the schema of that release, kept here as it was):
 * account alice (max_tunnels 4) with a key and a token.
 */
static void
make_v1(const char *path)
{
	raw_exec(path,
	    "PRAGMA application_id = 1413961521;"
	    "CREATE TABLE accounts (name TEXT PRIMARY KEY NOT NULL, max_tunnels INTEGER CHECK "
	    "(max_tunnels IS NULL OR max_tunnels >= 0), created INTEGER NOT NULL);"
	    "CREATE TABLE tokens (id INTEGER PRIMARY KEY AUTOINCREMENT, account TEXT NOT NULL "
	    "REFERENCES accounts(name) ON DELETE CASCADE, lookup INTEGER NOT NULL, hash BLOB NOT "
	    "NULL CHECK (length(hash) = 32), created INTEGER NOT NULL, expires INTEGER, revoked "
	    "INTEGER, last_used INTEGER);"
	    "CREATE INDEX tokens_lookup ON tokens(lookup);"
	    "CREATE INDEX tokens_account ON tokens(account);"
	    "CREATE TABLE keys (fingerprint TEXT PRIMARY KEY NOT NULL, account TEXT NOT NULL "
	    "REFERENCES accounts(name) ON DELETE CASCADE, type TEXT NOT NULL, key TEXT NOT NULL, "
	    "comment TEXT, added_by TEXT NOT NULL, created INTEGER NOT NULL);"
	    "CREATE INDEX keys_account ON keys(account);"
	    "CREATE TABLE addresses (port INTEGER PRIMARY KEY CHECK (port BETWEEN 1 AND 65535), "
	    "account TEXT NOT NULL REFERENCES accounts(name) ON DELETE CASCADE, created INTEGER "
	    "NOT NULL);"
	    "CREATE INDEX addresses_account ON addresses(account);"
	    "CREATE TABLE changes (id INTEGER PRIMARY KEY CHECK (id = 1), seq INTEGER NOT NULL);"
	    "INSERT INTO changes (id, seq) VALUES (1, 0);"
	    "INSERT INTO accounts VALUES ('alice', 4, 1000);"
	    "INSERT INTO keys VALUES ('SHA256:x', 'alice', 'ssh-ed25519', 'ssh-ed25519 AAAA', "
	    "NULL, 'tunnelgwctl', 1000);"
	    "INSERT INTO tokens (account, lookup, hash, created) VALUES ('alice', 7, "
	    "zeroblob(32), 1000);"
	    "INSERT INTO addresses VALUES (21000, 'alice', 1000);"
	    "PRAGMA user_version = 1;");
}

/*
 * A version 1 database (before events and members) migrates to version 3 and keeps its
 * data: the account gets a member "owner" with the role owner, holding its key and token.
 */
START_TEST(test_migrate_v1)
{
	char			*path = db_path(), *cause = NULL, *owner = NULL;
	struct store		*st;
	struct store_account	*a;
	struct store_member	*m;
	struct store_key	*k;

	make_v1(path);
	st = open_ok(path, 1000);
	ck_assert_int_eq(raw_int(path, "PRAGMA user_version"), 5);
	ck_assert_int_eq(raw_int(path, "SELECT count(*) FROM sqlite_master WHERE name IN "
	    "('events', 'events_time', 'members', 'apikeys')"), 4);
	ck_assert_int_eq(store_account_find(st, "alice", &a, &cause), 0);
	ck_assert_ptr_nonnull(a);
	ck_assert_int_eq(a->max_tunnels, 4);
	ck_assert_int_eq(a->max_addresses, -1);
	ck_assert_int_eq(a->max_connections, -1);
	ck_assert_ptr_null(a->create_raw_tunnel);
	ck_assert_uint_eq(a->nmembers, 1);
	store_account_free(a);
	/* Its reserved address is a TCP one; the UDP port of that number is free. */
	ck_assert_int_eq(store_address_owner(st, "tcp", 21000, &owner, &cause), 0);
	ck_assert_str_eq(owner, "alice");
	free(owner);
	ck_assert_int_eq(store_address_owner(st, "udp", 21000, &owner, &cause), 0);
	ck_assert_ptr_null(owner);
	ck_assert_int_eq(store_member_find(st, "alice", "owner", &m, &cause), 0);
	ck_assert_ptr_nonnull(m);
	ck_assert_str_eq(m->role, "owner");
	ck_assert_uint_eq(m->nkeys, 1);
	ck_assert_uint_eq(m->ntokens, 1);
	ck_assert_int_eq(m->created, 1000);
	store_member_free(m);
	ck_assert_int_eq(store_member_of_key(st, "SHA256:x", &m, &cause), 0);
	ck_assert_str_eq(m->name, "owner");
	store_member_free(m);
	ck_assert_int_eq(store_member_of_token(st, 1, &m, &cause), 0);
	ck_assert_str_eq(m->name, "owner");
	store_member_free(m);
	ck_assert_int_eq(store_key_find(st, "SHA256:x", &k, &cause), 0);
	ck_assert_str_eq(k->member, "owner");
	store_key_free(k);
	ck_assert_msg(store_integrity(st, &cause) == 0, "%s", cause);
	store_close(st);
	free(path);
}
END_TEST

/* Expect a call to fail with exactly this message (through cause), and free it. */
#define FAILED_WITH(call, want) do {					\
	cause = NULL;							\
	ck_assert_int_eq((call), -1);					\
	ck_assert_ptr_nonnull(cause);					\
	ck_assert_str_eq(cause, (want));				\
	free(cause);							\
	cause = NULL;							\
} while (0)

/*
 * Members: an account starts with its owner; add, roles, find, list; an account keeps an
 * owner; deleting a member takes its keys and tokens; keys and tokens name their member.
 */
START_TEST(test_members)
{
	char			*path = db_path(), *cause = NULL, *t;
	struct store		*st = open_ok(path, 1000);
	struct store_member	**v, *m;
	struct store_key	*k, *k2;
	struct store_token	**tv;
	int64_t			 id, seq, seq2;
	size_t			 n;

	ck_assert_int_eq(store_account_add(st, "team", -1, &cause), 0);
	ck_assert_int_eq(store_member_list(st, "team", &v, &n, &cause), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(v[0]->name, "owner");
	ck_assert_str_eq(v[0]->role, "owner");
	store_member_list_free(v, n);
	ck_assert_int_eq(store_changes(st, &seq, &cause), 0);
	ck_assert_int_eq(store_member_add(st, "team", "dev1", "developer", &cause), 0);
	ck_assert_int_eq(store_changes(st, &seq2, &cause), 0);
	ck_assert_int_eq(seq2, seq);	/* an addition ends no session */
	ck_assert_int_eq(store_member_set_role(st, "team", "dev1", "viewer", &cause), 0);
	ck_assert_int_eq(store_member_set_role(st, "team", "dev1", "developer", &cause), 0);
	ck_assert_int_gt(seq2 = changed_from(st, seq), seq);
	FAILED_WITH(store_member_add(st, "team", "dev1", "viewer", &cause),
	    "account 'team' already has a member 'dev1'");
	FAILED_WITH(store_member_add(st, "team", "x", "admin", &cause),
	    "unknown role 'admin': one of viewer, developer, manager, owner");
	FAILED_WITH(store_member_add(st, "team", "a b", "viewer", &cause),
	    "member name 'a b' is not 1-64 characters of A-Z a-z 0-9 . _ @ -");
	FAILED_WITH(store_member_add(st, "nobody", "x", "viewer", &cause),
	    "unknown account 'nobody'");
	FAILED_WITH(store_member_list(st, "nobody", &v, &n, &cause),
	    "unknown account 'nobody'");

	/* Keys and tokens go to a named member, or to "owner". */
	ck_assert_int_eq(store_key_add(st, "team", "dev1", "ssh-ed25519 " ED25519 " d@b",
	    "tunnelgwctl", &k, &cause), 0);
	ck_assert_str_eq(k->member, "dev1");
	ck_assert_int_eq(store_member_of_key(st, k->fingerprint, &m, &cause), 0);
	ck_assert_str_eq(m->name, "dev1");
	ck_assert_str_eq(m->role, "developer");
	ck_assert_str_eq(m->account, "team");
	store_member_free(m);
	ck_assert_int_eq(store_token_create(st, "team", "dev1", 0, &t, &id, &cause), 0);
	strfreezero(t);
	ck_assert_int_eq(store_member_of_token(st, id, &m, &cause), 0);
	ck_assert_str_eq(m->name, "dev1");
	ck_assert_uint_eq(m->nkeys, 1);
	ck_assert_uint_eq(m->ntokens, 1);
	store_member_free(m);
	FAILED_WITH(store_token_create(st, "team", "ghost", 0, &t, &id, &cause),
	    "account 'team' has no member 'ghost'");
	ck_assert_ptr_null(t);

	/* Roles: change; the last owner stays. */
	ck_assert_int_eq(store_member_set_role(st, "team", "dev1", "manager", &cause), 0);
	ck_assert_int_eq(store_member_find(st, "team", "dev1", &m, &cause), 0);
	ck_assert_str_eq(m->role, "manager");
	store_member_free(m);
	FAILED_WITH(store_member_set_role(st, "team", "owner", "manager", &cause),
	    "'owner' is the only owner of account 'team': an account keeps at least one owner "
	    "(make another member owner first, or delete the account)");
	FAILED_WITH(store_member_del(st, "team", "owner", &cause),
	    "'owner' is the only owner of account 'team': an account keeps at least one owner "
	    "(make another member owner first, or delete the account)");
	ck_assert_int_eq(store_member_set_role(st, "team", "owner", "owner", &cause), 0);
	ck_assert_int_eq(store_member_set_role(st, "team", "dev1", "owner", &cause), 0);
	ck_assert_int_eq(store_member_set_role(st, "team", "owner", "viewer", &cause), 0);
	FAILED_WITH(store_member_set_role(st, "team", "dev1", "boss", &cause),
	    "unknown role 'boss': one of viewer, developer, manager, owner");
	FAILED_WITH(store_member_del(st, "team", "ghost", &cause),
	    "account 'team' has no member 'ghost'");

	/* Deleting a member takes its keys and tokens with it. */
	ck_assert_int_eq(store_member_set_role(st, "team", "owner", "owner", &cause), 0);
	ck_assert_int_eq(token_stands(st, id), 1);
	ck_assert_int_eq(store_member_del(st, "team", "dev1", &cause), 0);
	ck_assert_int_eq(store_key_find(st, ED25519_FP, &k2, &cause), 0);
	ck_assert_ptr_null(k2);
	store_key_free(k);
	ck_assert_int_eq(token_stands(st, id), 0);
	ck_assert_int_eq(store_token_list(st, &tv, &n, &cause), 0);
	ck_assert_uint_eq(n, 0);
	store_token_list_free(tv, n);
	ck_assert_int_eq(store_member_list(st, NULL, &v, &n, &cause), 0);
	ck_assert_uint_eq(n, 1);
	store_member_list_free(v, n);
	ck_assert_msg(store_integrity(st, &cause) == 0, "%s", cause);
	store_close(st);
	free(path);
}
END_TEST

/* account set: limits and the role a raw tunnel needs; max-addresses holds on reserve. */
START_TEST(test_account_set)
{
	char			*path = db_path(), *cause = NULL;
	struct store		*st = open_ok(path, 1000);
	struct store_account	*a;
	struct store_account_set set = { STORE_UNCHANGED, 2, 50, "developer" };
	int			 port;

	ck_assert_int_eq(store_account_add(st, "team", 7, &cause), 0);
	ck_assert_msg(store_account_set(st, "team", &set, &cause) == 0, "%s", cause);
	ck_assert_int_eq(store_account_find(st, "team", &a, &cause), 0);
	ck_assert_int_eq(a->max_tunnels, 7);
	ck_assert_int_eq(a->max_addresses, 2);
	ck_assert_int_eq(a->max_connections, 50);
	ck_assert_str_eq(a->create_raw_tunnel, "developer");
	store_account_free(a);
	ck_assert_int_eq(store_address_reserve(st, "team", "tcp", NULL, 0, 20000, 20100, &port,
	    &cause), 0);
	ck_assert_int_eq(store_address_reserve(st, "team", "tcp", NULL, 0, 20000, 20100, &port,
	    &cause), 0);
	FAILED_WITH(store_address_reserve(st, "team", "tcp", NULL, 0, 20000, 20100, &port, &cause),
	    "account 'team' holds 2 reserved addresses, its limit (max-addresses 2; the "
	    "gateway's operator can raise it: tunnelgwctl account set)");
	set = (struct store_account_set){ -1, -1, STORE_UNCHANGED, "" };
	ck_assert_int_eq(store_account_set(st, "team", &set, &cause), 0);
	ck_assert_int_eq(store_account_find(st, "team", &a, &cause), 0);
	ck_assert_int_eq(a->max_tunnels, -1);
	ck_assert_int_eq(a->max_addresses, -1);
	ck_assert_int_eq(a->max_connections, 50);
	ck_assert_ptr_null(a->create_raw_tunnel);
	store_account_free(a);
	ck_assert_int_eq(store_address_reserve(st, "team", "tcp", NULL, 0, 20000, 20100, &port,
	    &cause), 0);
	set = (struct store_account_set){ STORE_UNCHANGED, STORE_UNCHANGED, STORE_UNCHANGED,
	    "root" };
	FAILED_WITH(store_account_set(st, "team", &set, &cause),
	    "unknown role 'root': one of viewer, developer, manager, owner");
	set = (struct store_account_set){ STORE_UNCHANGED, STORE_MAX_LIMIT + 1, STORE_UNCHANGED,
	    NULL };
	FAILED_WITH(store_account_set(st, "team", &set, &cause),
	    "max-addresses must be a number from 0 to 1000000, or none");
	set = (struct store_account_set){ 1, STORE_UNCHANGED, STORE_UNCHANGED, NULL };
	FAILED_WITH(store_account_set(st, "nobody", &set, &cause),
	    "unknown account 'nobody'");
	store_close(st);
	free(path);
}
END_TEST

/* API keys: a member's or the operator's; shown once, kept hashed, verified, revoked. */
START_TEST(test_apikeys)
{
	char			*path = db_path(), *cause = NULL, *s1, *s2;
	struct store		*st = open_ok(path, 1000);
	struct store_apikey	*k, **v;
	int64_t			 id1, id2;
	size_t			 n;

	ck_assert_int_eq(store_account_add(st, "team", -1, &cause), 0);
	ck_assert_int_eq(store_member_add(st, "team", "viewer1", "viewer", &cause), 0);
	ck_assert_int_eq(store_apikey_create(st, "team", "viewer1", &s1, &id1, &cause), 0);
	ck_assert_int_eq(store_apikey_create(st, NULL, NULL, &s2, &id2, &cause), 0);
	ck_assert(store_apikey_wellformed(s1));
	ck_assert(!store_token_wellformed(s1));
	ck_assert_uint_eq(strlen(s1), STORE_APIKEY_LEN);
	ck_assert_int_eq(raw_int(path, "SELECT count(*) FROM apikeys WHERE hash IS NOT NULL"), 2);
	ck_assert_int_eq(store_apikey_verify(st, s1, &k, &cause), 0);
	ck_assert_str_eq(k->account, "team");
	ck_assert_str_eq(k->member, "viewer1");
	ck_assert_str_eq(k->role, "viewer");
	ck_assert_int_eq(k->id, id1);
	ck_assert_int_ne(k->last_used, 0);
	store_apikey_free(k);
	ck_assert_int_eq(store_apikey_verify(st, s2, &k, &cause), 0);
	ck_assert_ptr_null(k->account);
	ck_assert_ptr_null(k->member);
	store_apikey_free(k);
	s2[10] = s2[10] == 'A' ? 'B' : 'A';
	ck_assert_int_eq(store_apikey_verify(st, s2, &k, &cause), 1);
	ck_assert_str_eq(cause, "unknown API key");
	free(cause);
	cause = NULL;
	ck_assert_int_eq(store_apikey_verify(st, "tgw_short", &k, &cause), 1);
	ck_assert_str_eq(cause, "not an API key");
	free(cause);
	cause = NULL;
	ck_assert_int_eq(store_apikey_revoke(st, id1, &cause), 0);
	ck_assert_int_eq(store_apikey_verify(st, s1, &k, &cause), 1);
	strfreezero(s1);
	ck_assert_ptr_null(k);
	free(cause);
	FAILED_WITH(store_apikey_revoke(st, id1, &cause),
	    "API key 1 is already revoked");
	FAILED_WITH(store_apikey_revoke(st, 99, &cause), "no API key with id 99");
	FAILED_WITH(store_apikey_create(st, "team", "ghost", &s1, &id1, &cause),
	    "account 'team' has no member 'ghost'");
	ck_assert_int_eq(store_apikey_list(st, NULL, &v, &n, &cause), 0);
	ck_assert_uint_eq(n, 2);
	ck_assert_int_ne(v[0]->revoked, 0);
	ck_assert_ptr_null(v[1]->account);
	store_apikey_list_free(v, n);
	ck_assert_int_eq(store_apikey_list(st, "team", &v, &n, &cause), 0);
	ck_assert_uint_eq(n, 1);
	store_apikey_list_free(v, n);
	/* Deleting the member takes its API keys. */
	ck_assert_int_eq(store_member_del(st, "team", "viewer1", &cause), 0);
	ck_assert_int_eq(raw_int(path, "SELECT count(*) FROM apikeys"), 1);
	strfreezero(s2);
	store_close(st);
	free(path);
}
END_TEST

/* An event as the store takes it. */
static struct store_event
event_at(int64_t t, const char *account, int64_t bytes_in)
{
	struct store_event	 e = {
		.time = t, .event = (char *)"tcp_connection_closed", .account = (char *)account,
		.url = (char *)"tcp://gw.test:20001", .client = (char *)"127.0.0.1:40000",
		.bytes_in = bytes_in, .bytes_out = 7, .duration_ms = 3,
		.detail = (char *)"{\"reason\":\"closed\"}",
	};

	return e;
}

/* Events: a batch in one go, listed newest first; trimmed by age and by count. */
START_TEST(test_events)
{
	char			*path = db_path(), *cause = NULL;
	struct store		*st = open_ok(path, 1000);
	struct store_event	 b[4], **v;
	int64_t			 now = (int64_t)time(NULL), seq, seq2;
	size_t			 n;

	ck_assert_int_eq(store_changes(st, &seq, &cause), 0);
	b[0] = event_at(now - 10 * 86400, "alice", 1);	/* ten days old */
	b[1] = event_at(now - 86400, "bob", 2);
	b[2] = event_at(now, "alice", 3);
	b[3] = event_at(now, "alice", 4);
	b[3].bytes_in = b[3].bytes_out = b[3].duration_ms = -1;
	b[3].client = NULL;
	ck_assert_msg(store_event_add(st, b, 4, 0, 0, &cause) == 0, "%s", cause);
	ck_assert_int_eq(store_event_list(st, NULL, 50, &v, &n, &cause), 0);
	ck_assert_uint_eq(n, 4);
	ck_assert_int_eq(v[0]->bytes_in, -1);	/* NULL reads back as none */
	ck_assert_ptr_null(v[0]->client);
	ck_assert_int_eq(v[1]->bytes_in, 3);
	ck_assert_int_eq(v[3]->time, now - 10 * 86400);
	ck_assert_str_eq(v[3]->detail, "{\"reason\":\"closed\"}");
	store_event_list_free(v, n);
	/* An events batch is not a change the daemon must act on. */
	ck_assert_int_eq(store_changes(st, &seq2, &cause), 0);
	ck_assert_int_eq(seq2, seq);

	/* Older than a week goes; then all but the newest two. */
	ck_assert_int_eq(store_event_add(st, b + 1, 1, now - 7 * 86400, 0, &cause), 0);
	ck_assert_int_eq(store_event_list(st, NULL, 50, &v, &n, &cause), 0);
	ck_assert_uint_eq(n, 4);
	ck_assert_int_eq(v[3]->bytes_in, 2);
	store_event_list_free(v, n);
	ck_assert_int_eq(store_event_add(st, b + 2, 1, 0, 2, &cause), 0);
	ck_assert_int_eq(store_event_list(st, NULL, 50, &v, &n, &cause), 0);
	ck_assert_uint_eq(n, 2);
	ck_assert_int_eq(v[0]->bytes_in, 3);
	ck_assert_int_eq(v[1]->bytes_in, 2);
	store_event_list_free(v, n);
	ck_assert_int_eq(store_event_list(st, "alice", 50, &v, &n, &cause), 0);
	ck_assert_uint_eq(n, 1);
	store_event_list_free(v, n);
	ck_assert_int_eq(store_event_list(st, "nobody", 50, &v, &n, &cause), 0);
	ck_assert_uint_eq(n, 0);
	store_event_list_free(v, n);
	store_close(st);
	free(path);
}
END_TEST

/* What was committed is there after closing and opening again. */
START_TEST(test_reopen_keeps_data)
{
	char			*path = db_path(), *cause = NULL, *token, *owner, *acct;
	struct store		*st = open_ok(path, 1000);
	struct store_account	*a;
	struct store_key	*k;
	int64_t			 id, id2;
	int			 port;

	ck_assert_int_eq(store_account_add(st, "alice", 4, &cause), 0);
	ck_assert_int_eq(store_token_create(st, "alice", NULL, 0, &token, &id, &cause), 0);
	ck_assert_int_eq(store_key_add(st, "alice", NULL, "ssh-ed25519 " ED25519 " a@b", "tunnelgwctl",
	    NULL, &cause), 0);
	ck_assert_int_eq(store_address_reserve(st, "alice", "tcp", NULL, 20001, 20000, 20010, &port,
	    &cause), 0);
	store_close(st);

	st = open_ok(path, 1000);
	ck_assert_int_eq(store_account_find(st, "alice", &a, &cause), 0);
	ck_assert_ptr_nonnull(a);
	ck_assert_int_eq(a->max_tunnels, 4);
	ck_assert_uint_eq(a->nkeys, 1);
	ck_assert_uint_eq(a->ntokens, 1);
	ck_assert_uint_eq(a->naddresses, 1);
	store_account_free(a);
	ck_assert_int_eq(store_token_verify(st, token, &acct, &id2, &cause), 0);
	ck_assert_str_eq(acct, "alice");
	ck_assert_int_eq(id2, id);
	ck_assert_int_eq(store_key_find(st, ED25519_FP, &k, &cause), 0);
	ck_assert_ptr_nonnull(k);
	ck_assert_str_eq(k->account, "alice");
	ck_assert_int_eq(store_address_owner(st, "tcp", 20001, &owner, &cause), 0);
	ck_assert_str_eq(owner, "alice");
	free(owner);
	free(acct);
	store_key_free(k);
	strfreezero(token);
	store_close(st);
	free(path);
}
END_TEST

/* A database from a newer tunnelgw is refused, byte for byte untouched. */
START_TEST(test_newer_schema)
{
	char		*path = db_path();
	struct store	*st = open_ok(path, 1000);

	store_close(st);
	raw_exec(path, "PRAGMA user_version = 7");
	ck_assert_int_eq(exists(path, "-wal"), 0);	/* checkpointed at the last close */
	refused_untouched(path, "DB: schema version 7 is newer than this tunnelgw understands (5)");
	free(path);
}
END_TEST

/* A file that is not a database is refused untouched, and no WAL or shm file appears. */
START_TEST(test_not_a_database)
{
	const char	*dir = tg_tmpdir();
	char		*path, *big;

	path = tg_write(dir, "tunnelgw.db", "this is not a database, only some text\n");
	refused_untouched(path, "DB: not a tunnelgw database (file is not a database)");
	ck_assert_int_eq(exists(path, "-wal"), 0);
	ck_assert_int_eq(exists(path, "-shm"), 0);
	ck_assert_int_eq(exists(path, "-journal"), 0);
	free(path);
	/* Longer than a header, still not SQLite. */
	big = xmalloc(4097);
	memset(big, 'x', 4096);
	big[4096] = '\0';
	path = tg_write(dir, "big.db", big);
	refused_untouched(path, "DB: not a tunnelgw database (file is not a database)");
	ck_assert_int_eq(exists(path, "-wal"), 0);
	free(big);
	free(path);
}
END_TEST

/* An SQLite database of another program is not taken over. */
START_TEST(test_other_program)
{
	char	*path = db_path();
	sqlite3	*db;

	ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
	ck_assert_int_eq(sqlite3_exec(db, "CREATE TABLE notes (t TEXT); INSERT INTO notes "
	    "VALUES ('x')", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	refused_untouched(path, "DB: not a tunnelgw database (another program's: application id "
	    "0, 1 tables)");
	free(path);
}
END_TEST

/* A database with a valid header and garbage after it is refused, never written. */
START_TEST(test_corrupt)
{
	char		*path = db_path(), *buf, *expect;
	size_t		 len;
	FILE		*fp;
	struct store	*st = open_ok(path, 1000);

	store_close(st);
	buf = slurp(path, &len);
	ck_assert_uint_gt(len, 200);
	memset(buf + 100, 0xa5, len - 100);	/* keep the 100-byte header, ruin the pages */
	fp = fopen(path, "wb");
	ck_assert_uint_eq(fwrite(buf, 1, len, fp), len);
	fclose(fp);
	free(buf);
	ck_assert_int_ne(asprintf(&expect, "DB: %s: the tunnelgw database is corrupt "
	    "(database disk image is malformed)", path), -1);
	refused_untouched(path, expect);
	free(expect);
	free(path);
}
END_TEST

/* A database the user may not read is a clear error (tested as an unprivileged user). */
START_TEST(test_unreadable)
{
	char		*path = db_path(), *cause = NULL, *expect;
	struct store	*st = open_ok(path, 1000);
	struct passwd	*pw;

	store_close(st);
	ck_assert_int_eq(chmod(path, 0), 0);
	if (geteuid() == 0) {
		/* root reads everything: become nobody in this forked test process. */
		ck_assert_int_eq(chmod(tg_dir, 0711), 0);
		pw = getpwnam("nobody");
		ck_assert_ptr_nonnull(pw);
		ck_assert_int_eq(setgid(pw->pw_gid), 0);
		ck_assert_int_eq(setuid(pw->pw_uid), 0);
	}
	ck_assert_ptr_null(store_open(path, 100, &cause));
	ck_assert_int_ne(asprintf(&expect, "DB: %s: cannot open: Permission denied", path), -1);
	ck_assert_str_eq(cause, expect);
	free(expect);
	free(cause);
	free(path);
}
END_TEST

/* A database in a folder that does not exist is not created, and the message says why. */
START_TEST(test_missing_folder)
{
	char	*cause = NULL;

	ck_assert_ptr_null(store_open("/nonexistent/dir/tunnelgw.db", 100, &cause));
	ck_assert_str_eq(cause, "DB: /nonexistent/dir/tunnelgw.db: cannot create: "
	    "No such file or directory");
	free(cause);
}
END_TEST

#ifndef HAVE_LIBPQ
/* A PostgreSQL URI is refused in one line that does not repeat it (it may hold a password). */
START_TEST(test_postgres_uri)
{
	static const char *const uris[] = {
		"postgresql://tg:secret@db.example/tunnelgw", "postgres://db.example/tunnelgw",
	};
	char	*cause;
	size_t	 i;

	for (i = 0; i < sizeof uris / sizeof uris[0]; i++) {
		cause = NULL;
		ck_assert_ptr_null(store_open(uris[i], 100, &cause));
		ck_assert_str_eq(cause, "DB: this build has no PostgreSQL backend: database must "
		    "be the path of an SQLite file");
		free(cause);
	}
}
END_TEST
#else
/* A server that is not there is one line that does not repeat the URI (it may hold a password). */
START_TEST(test_postgres_uri)
{
	static const char *const uris[] = {
		"postgresql://tg:secret@/tunnelgw?host=/nonexistent",
		"postgres://tg:secret@/tunnelgw?host=/nonexistent",
	};
	char	*cause;
	size_t	 i;

	for (i = 0; i < sizeof uris / sizeof uris[0]; i++) {
		cause = NULL;
		ck_assert_ptr_null(store_open(uris[i], 100, &cause));
		ck_assert_msg(strncmp(cause, "DB: cannot connect to PostgreSQL: ", 34) == 0, "%s",
		    cause);
		ck_assert_ptr_null(strstr(cause, "secret"));
		ck_assert_ptr_null(strchr(cause, '\n'));
		free(cause);
	}
}
END_TEST
#endif

/* Accounts: add, duplicates, bad names and limits, find, list, unknown names. */
START_TEST(test_accounts)
{
	char			*path = db_path(), *cause = NULL, long_name[70];
	struct store		*st = open_ok(path, 1000);
	struct store_account	**v, *a;
	size_t			  n;

	ck_assert_int_eq(store_account_add(st, "bob", -1, &cause), 0);
	ck_assert_int_eq(store_account_add(st, "alice.smith@example-1_x", 0, &cause), 0);
	ck_assert_int_eq(store_account_add(st, "bob", 3, &cause), -1);
	ck_assert_str_eq(cause, "account 'bob' already exists");
	free(cause);
	ck_assert_int_eq(store_account_add(st, "b o b", 3, &cause), -1);
	ck_assert_str_eq(cause, "account name 'b o b' is not 1-64 characters of A-Z a-z 0-9 . _ @ -");
	free(cause);
	ck_assert_int_eq(store_account_add(st, "", 3, &cause), -1);
	free(cause);
	memset(long_name, 'a', 65);
	long_name[65] = '\0';
	ck_assert_int_eq(store_account_add(st, long_name, 3, &cause), -1);
	free(cause);
	long_name[64] = '\0';
	ck_assert_int_eq(store_account_add(st, long_name, 3, &cause), 0);
	ck_assert_int_eq(store_account_add(st, "carol", STORE_MAX_TUNNELS + 1, &cause), -1);
	ck_assert_str_eq(cause, "max-tunnels must be a number from 0 to 100000");
	free(cause);

	ck_assert_int_eq(store_account_list(st, &v, &n, &cause), 0);
	ck_assert_uint_eq(n, 3);
	ck_assert_str_eq(v[0]->name, long_name);
	ck_assert_str_eq(v[1]->name, "alice.smith@example-1_x");
	ck_assert_int_eq(v[1]->max_tunnels, 0);
	ck_assert_str_eq(v[2]->name, "bob");
	ck_assert_int_eq(v[2]->max_tunnels, -1);
	ck_assert_int_le(llabs((long long)(v[2]->created - time(NULL))), 5);
	store_account_list_free(v, n);

	ck_assert_int_eq(store_account_find(st, "nobody", &a, &cause), 0);
	ck_assert_ptr_null(a);
	ck_assert_int_eq(store_account_del(st, "nobody", &cause), -1);
	ck_assert_str_eq(cause, "unknown account 'nobody'");
	free(cause);
	ck_assert_int_eq(store_account_del(st, "bob", &cause), 0);
	ck_assert_int_eq(store_account_find(st, "bob", &a, &cause), 0);
	ck_assert_ptr_null(a);
	/* Names are exact: no SQL wildcards, no case folding. */
	ck_assert_int_eq(store_account_del(st, "%", &cause), -1);
	free(cause);
	ck_assert_int_eq(store_account_find(st, "ALICE.SMITH@EXAMPLE-1_X", &a, &cause), 0);
	ck_assert_ptr_null(a);
	store_close(st);
	free(path);
}
END_TEST

/* The SHA-256 of s, as the store keeps it. */
static void
sha256(const char *s, unsigned char out[32])
{
	unsigned int	 len;

	ck_assert_int_eq(EVP_Digest(s, strlen(s), out, &len, EVP_sha256(), NULL), 1);
	ck_assert_uint_eq(len, 32);
}

/* Does s have the form ^tgw_[A-Za-z0-9_-]{43}$? */
static int
token_form(const char *s)
{
	size_t	 i;

	if (strlen(s) != 47 || strncmp(s, "tgw_", 4) != 0)
		return 0;
	for (i = 4; i < 47; i++) {
		if (strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-",
		    s[i]) == NULL)
			return 0;
	}
	return 1;
}

/* Tokens: their form, stored as a hash only, verified, revoked, expired, wrong. */
START_TEST(test_tokens)
{
	char			*path = db_path(), *cause = NULL, *t1, *t2, *acct, *sql;
	struct store		*st = open_ok(path, 1000);
	struct store_token	**v;
	unsigned char		 h[32];
	char			 hex[65], wrong[48];
	int64_t			 id1, id2, id;
	size_t			 n, i;

	ck_assert_int_eq(store_account_add(st, "alice", -1, &cause), 0);
	ck_assert_int_eq(store_token_create(st, "nobody", NULL, 0, &t1, &id1, &cause), -1);
	ck_assert_str_eq(cause, "unknown account 'nobody'");
	ck_assert_ptr_null(t1);
	free(cause);
	ck_assert_int_eq(store_token_create(st, "alice", NULL, STORE_MAX_DAYS + 1, &t1, &id1, &cause),
	    -1);
	free(cause);
	ck_assert_int_eq(raw_int(path, "SELECT count(*) FROM tokens"), 0);
	ck_assert_int_eq(store_token_create(st, "alice", NULL, 0, &t1, &id1, &cause), 0);
	ck_assert_int_eq(store_token_create(st, "alice", NULL, 30, &t2, &id2, &cause), 0);
	ck_assert_msg(token_form(t1), "%s", t1);
	ck_assert(store_token_wellformed(t1));
	ck_assert_str_ne(t1, t2);
	ck_assert_int_gt(id2, id1);

	/* Only SHA-256(token) is stored. */
	sha256(t1, h);
	for (i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02X", h[i]);
	ck_assert_int_ne(asprintf(&sql, is_uri(path) ? "SELECT count(*) FROM tokens WHERE "
	    "hash = '\\x%s'::bytea" : "SELECT count(*) FROM tokens WHERE hash = X'%s'", hex), -1);
	ck_assert_int_eq(raw_int(path, sql), 1);
	free(sql);
	ck_assert_int_eq(asprintf(&sql, is_uri(path) ? "SELECT count(*) FROM tokens WHERE "
	    "encode(hash, 'escape') LIKE '%%%s%%' OR lookup::text LIKE '%%%s%%'" :
	    "SELECT count(*) FROM tokens WHERE CAST(hash AS TEXT) "
	    "LIKE '%%%s%%' OR lookup LIKE '%%%s%%'", t1 + 4, t1 + 4) > 0, 1);
	ck_assert_int_eq(raw_int(path, sql), 0);
	free(sql);

	/* Verify: ok, and last_used is set. */
	ck_assert_int_eq(store_token_verify(st, t1, &acct, &id, &cause), 0);
	ck_assert_str_eq(acct, "alice");
	ck_assert_int_eq(id, id1);
	free(acct);
	ck_assert_int_eq(store_token_list(st, &v, &n, &cause), 0);
	ck_assert_uint_eq(n, 2);
	ck_assert_int_eq(v[0]->id, id1);
	ck_assert_str_eq(v[0]->account, "alice");
	ck_assert_int_ne(v[0]->last_used, 0);
	ck_assert_int_eq(v[0]->expires, 0);
	ck_assert_int_eq(v[1]->last_used, 0);
	ck_assert_int_eq(v[1]->expires - v[1]->created, 30 * 86400);
	store_token_list_free(v, n);

	/* Wrong: one character changed, a wrong form, a blank. */
	snprintf(wrong, sizeof wrong, "%s", t1);
	wrong[46] = wrong[46] == 'A' ? 'B' : 'A';
	ck_assert_int_eq(store_token_verify(st, wrong, &acct, &id, &cause), 1);
	ck_assert_str_eq(cause, "unknown token");
	ck_assert_ptr_null(acct);
	free(cause);
	ck_assert_int_eq(store_token_verify(st, "v2", &acct, &id, &cause), 1);
	ck_assert_str_eq(cause, "not a token");
	free(cause);
	wrong[10] = '!';
	ck_assert_int_eq(store_token_verify(st, wrong, &acct, &id, &cause), 1);
	free(cause);

	/* Revoked. */
	ck_assert_int_eq(store_token_revoke(st, id1, &cause), 0);
	ck_assert_int_eq(store_token_verify(st, t1, &acct, &id, &cause), 1);
	ck_assert_str_eq(cause, "token 1 was revoked");
	free(cause);
	ck_assert_int_eq(store_token_revoke(st, id1, &cause), -1);
	ck_assert_str_eq(cause, "token 1 is already revoked");
	free(cause);
	ck_assert_int_eq(store_token_revoke(st, 999, &cause), -1);
	ck_assert_str_eq(cause, "no token with id 999");
	free(cause);

	/* Expired. */
	ck_assert_int_ne(asprintf(&sql, "UPDATE tokens SET expires = %lld WHERE id = 2",
	    (long long)time(NULL) - 1), -1);
	raw_exec(path, sql);
	free(sql);
	ck_assert_int_eq(store_token_verify(st, t2, &acct, &id, &cause), 1);
	ck_assert_str_eq(cause, "token 2 has expired");
	free(cause);
	strfreezero(t1);
	strfreezero(t2);
	store_close(st);
	free(path);
}
END_TEST

/*
 * The full hashes are compared with CRYPTO_memcmp, which decides: a stored hash that shares
 * the token's lookup prefix but not the rest never lets it in.
 */
START_TEST(test_token_constant_time)
{
	char		*path = db_path(), *cause = NULL, *t, *acct, *sql, hex[65];
	struct store	*st = open_ok(path, 1000);
	unsigned char	 h[32];
	int64_t		 id, got;
	size_t		 i;

	ck_assert_int_eq(store_account_add(st, "alice", -1, &cause), 0);
	ck_assert_int_eq(store_account_add(st, "mallory", -1, &cause), 0);
	ck_assert_int_eq(store_token_create(st, "alice", NULL, 0, &t, &id, &cause), 0);
	memcmp_calls = 0;
	ck_assert_int_eq(store_token_verify(st, t, &acct, &got, &cause), 0);
	ck_assert_int_eq(memcmp_calls, 1);
	free(acct);

	/* A near miss: same lookup, the hash's last byte flipped, another account. */
	sha256(t, h);
	h[31] ^= 1;
	for (i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02X", h[i]);
	ck_assert_int_ne(asprintf(&sql, "INSERT INTO tokens (account, lookup, hash, created, "
	    "member) SELECT 'mallory', lookup, %s%s%s, created, (SELECT id FROM members WHERE "
	    "account = 'mallory') FROM tokens WHERE id = %lld", is_uri(path) ? "'\\x" : "X'", hex,
	    is_uri(path) ? "'::bytea" : "'", (long long)id), -1);
	raw_exec(path, sql);
	free(sql);
	ck_assert_int_eq(raw_int(path, "SELECT count(DISTINCT lookup) FROM tokens"), 1);
	ck_assert_int_eq(raw_int(path, "SELECT count(DISTINCT hash) FROM tokens"), 2);
	memcmp_calls = 0;
	ck_assert_int_eq(store_token_verify(st, t, &acct, &got, &cause), 0);
	ck_assert_str_eq(acct, "alice");
	ck_assert_int_eq(got, id);
	ck_assert_int_eq(memcmp_calls, 2);
	free(acct);

	/* Without the real row, the near miss does not match. */
	ck_assert_int_ne(asprintf(&sql, "DELETE FROM tokens WHERE id = %lld", (long long)id), -1);
	raw_exec(path, sql);
	free(sql);
	memcmp_calls = 0;
	ck_assert_int_eq(store_token_verify(st, t, &acct, &got, &cause), 1);
	ck_assert_str_eq(cause, "unknown token");
	ck_assert_int_eq(memcmp_calls, 1);
	free(cause);
	strfreezero(t);
	store_close(st);
	free(path);
}
END_TEST

/* Keys: add, unknown account, duplicates naming their account, options refused, find, del. */
START_TEST(test_keys)
{
	char			*path = db_path(), *cause = NULL;
	struct store		*st = open_ok(path, 1000);
	struct store_key	*k, **v;
	size_t			 n;

	ck_assert_int_eq(store_account_add(st, "alice", -1, &cause), 0);
	ck_assert_int_eq(store_account_add(st, "bob", -1, &cause), 0);
	ck_assert_int_eq(store_key_add(st, "nobody", NULL, "ssh-ed25519 " ED25519, "tunnelgwctl", NULL,
	    &cause), -1);
	ck_assert_str_eq(cause, "unknown account 'nobody'");
	free(cause);
	ck_assert_int_eq(store_key_add(st, "alice", NULL, "  ssh-ed25519 " ED25519 " alice@laptop  \n",
	    "tunnelgwctl", &k, &cause), 0);
	ck_assert_str_eq(k->fingerprint, ED25519_FP);
	ck_assert_str_eq(k->key, "ssh-ed25519 " ED25519);
	ck_assert_str_eq(k->comment, "alice@laptop");
	ck_assert_str_eq(k->type, "ssh-ed25519");
	store_key_free(k);
	ck_assert_int_eq(store_key_add(st, "bob", NULL, "ssh-ed25519 " ED25519 " other", "register",
	    NULL, &cause), -1);
	ck_assert_str_eq(cause, "key " ED25519_FP " is already registered to account 'alice'");
	free(cause);
	ck_assert_int_eq(store_key_add(st, "bob", NULL, "from=\"10.0.0.0/8\" ecdsa-sha2-nistp256 " P256,
	    "tunnelgwctl", NULL, &cause), -1);
	ck_assert_str_eq(cause, "a key given here takes no options: give 'TYPE BASE64 [COMMENT]'");
	free(cause);
	ck_assert_int_eq(store_key_add(st, "bob", NULL, "ssh-ed25519 AAAA", "tunnelgwctl", NULL,
	    &cause), -1);
	ck_assert_str_eq(cause, "invalid key: invalid ssh-ed25519 key data");
	free(cause);
	ck_assert_int_eq(store_key_add(st, "bob", NULL, "   ", "tunnelgwctl", NULL, &cause), -1);
	ck_assert_str_eq(cause, "the key line is empty");
	free(cause);
	ck_assert_int_eq(store_key_add(st, "bob", NULL, "ecdsa-sha2-nistp256 " P256 " a\033b",
	    "tunnelgwctl", NULL, &cause), -1);
	ck_assert_str_eq(cause, "the key comment holds a control character");
	free(cause);
	ck_assert_int_eq(store_key_add(st, "bob", NULL, "ecdsa-sha2-nistp256 " P256, "register", NULL,
	    &cause), 0);

	ck_assert_int_eq(store_key_find(st, P256_FP, &k, &cause), 0);
	ck_assert_ptr_nonnull(k);
	ck_assert_str_eq(k->account, "bob");
	ck_assert_str_eq(k->added_by, "register");
	ck_assert_ptr_null(k->comment);
	store_key_free(k);
	ck_assert_int_eq(store_key_list(st, &v, &n, &cause), 0);
	ck_assert_uint_eq(n, 2);
	ck_assert_str_eq(v[0]->account, "alice");
	ck_assert_str_eq(v[1]->account, "bob");
	store_key_list_free(v, n);

	ck_assert_int_eq(store_key_del(st, "SHA256:nothere", &cause), -1);
	ck_assert_str_eq(cause, "no key with fingerprint 'SHA256:nothere'");
	free(cause);
	ck_assert_int_eq(store_key_del(st, ED25519_FP, &cause), 0);
	ck_assert_int_eq(store_key_find(st, ED25519_FP, &k, &cause), 0);
	ck_assert_ptr_null(k);
	/* Now bob may have it. */
	ck_assert_int_eq(store_key_add(st, "bob", NULL, "ssh-ed25519 " ED25519, "register", NULL,
	    &cause), 0);
	store_close(st);
	free(path);
}
END_TEST

/* Addresses in a range of 3 ports: given, taken, outside, random, full, release, owner. */
START_TEST(test_addresses)
{
	char			*path = db_path(), *cause = NULL, *owner;
	struct store		*st = open_ok(path, 1000);
	struct store_address	**v;
	size_t			  n;
	int			  port, p1, p2, seen[3] = { 0, 0, 0 }, i;

	ck_assert_int_eq(store_account_add(st, "alice", -1, &cause), 0);
	ck_assert_int_eq(store_account_add(st, "bob", -1, &cause), 0);
	ck_assert_int_eq(store_address_reserve(st, "alice", "tcp", NULL, 30003, 30000, 30002, &port,
	    &cause),
	    -1);
	ck_assert_str_eq(cause, "port 30003 is outside port_range 30000-30002");
	free(cause);
	ck_assert_int_eq(store_address_reserve(st, "nobody", "tcp", NULL, 30001, 30000, 30002, &port,
	    &cause),
	    -1);
	ck_assert_str_eq(cause, "unknown account 'nobody'");
	free(cause);
	ck_assert_int_eq(store_address_reserve(st, "alice", "tcp", NULL, 30001, 30000, 30002, &port,
	    &cause),
	    0);
	ck_assert_int_eq(port, 30001);
	ck_assert_int_eq(store_address_reserve(st, "bob", "tcp", NULL, 30001, 30000, 30002, &port,
	    &cause), -1);
	ck_assert_str_eq(cause, "port 30001 is already reserved by account 'alice'");
	free(cause);
	ck_assert_int_eq(store_address_owner(st, "tcp", 30001, &owner, &cause), 0);
	ck_assert_str_eq(owner, "alice");
	free(owner);
	ck_assert_int_eq(store_address_owner(st, "tcp", 30000, &owner, &cause), 0);
	ck_assert_ptr_null(owner);

	/* Random picks never return 30001, and reach both free ports. */
	for (i = 0; i < 200; i++) {
		ck_assert_int_eq(store_address_reserve(st, "bob", "tcp", NULL, 0, 30000, 30002, &port,
		    &cause),
		    0);
		ck_assert_int_ne(port, 30001);
		ck_assert(port == 30000 || port == 30002);
		seen[port - 30000]++;
		ck_assert_int_eq(store_address_release(st, "tcp", port, &cause), 0);
	}
	ck_assert_int_gt(seen[0], 50);
	ck_assert_int_gt(seen[2], 50);

	ck_assert_int_eq(store_address_reserve(st, "bob", "tcp", NULL, 0, 30000, 30002, &p1, &cause), 0);
	ck_assert_int_eq(store_address_reserve(st, "bob", "tcp", NULL, 0, 30000, 30002, &p2, &cause), 0);
	ck_assert_int_ne(p1, p2);
	ck_assert_int_ne(p1, 30001);
	ck_assert_int_ne(p2, 30001);
	ck_assert_int_eq(store_address_reserve(st, "bob", "tcp", NULL, 0, 30000, 30002, &port,
	    &cause), -1);
	ck_assert_str_eq(cause, "no free port left in port_range 30000-30002: all 3 are reserved");
	free(cause);
	/* A reservation outside today's range still counts as reserved, not as free. */
	ck_assert_int_eq(store_address_reserve(st, "bob", "tcp", NULL, 40000, 40000, 40000, &port,
	    &cause), 0);
	ck_assert_int_eq(store_address_reserve(st, "bob", "tcp", NULL, 0, 30000, 30002, &port,
	    &cause), -1);
	free(cause);

	ck_assert_int_eq(store_address_list(st, &v, &n, &cause), 0);
	ck_assert_uint_eq(n, 4);
	ck_assert_int_eq(v[0]->port, 30000);
	ck_assert_str_eq(v[1]->account, "alice");
	ck_assert_int_eq(v[3]->port, 40000);
	store_address_list_free(v, n);
	ck_assert_int_eq(store_address_release(st, "tcp", 30001, &cause), 0);
	ck_assert_int_eq(store_address_release(st, "tcp", 30001, &cause), -1);
	ck_assert_str_eq(cause, "port 30001 is not reserved");
	free(cause);
	ck_assert_int_eq(store_address_reserve(st, "bob", "tcp", NULL, 0, 30000, 30002, &port,
	    &cause), 0);
	ck_assert_int_eq(port, 30001);
	store_close(st);
	free(path);
}
END_TEST

/* Deleting an account deletes its tokens, keys and addresses, and nobody else's. */
START_TEST(test_cascade)
{
	char		*path = db_path(), *cause = NULL, *t;
	struct store	*st = open_ok(path, 1000);
	int64_t		 id;
	int		 port;

	ck_assert_int_eq(store_account_add(st, "alice", -1, &cause), 0);
	ck_assert_int_eq(store_account_add(st, "bob", -1, &cause), 0);
	ck_assert_int_eq(store_token_create(st, "alice", NULL, 0, &t, &id, &cause), 0);
	strfreezero(t);
	ck_assert_int_eq(store_token_create(st, "bob", NULL, 0, &t, &id, &cause), 0);
	strfreezero(t);
	ck_assert_int_eq(store_key_add(st, "alice", NULL, "ssh-ed25519 " ED25519, "tunnelgwctl", NULL,
	    &cause), 0);
	ck_assert_int_eq(store_key_add(st, "bob", NULL, "ecdsa-sha2-nistp256 " P256, "tunnelgwctl", NULL,
	    &cause), 0);
	ck_assert_int_eq(store_address_reserve(st, "alice", "tcp", NULL, 0, 1000, 2000, &port,
	    &cause), 0);
	ck_assert_int_eq(store_address_reserve(st, "bob", "tcp", NULL, 0, 1000, 2000, &port, &cause), 0);
	ck_assert_int_eq(store_account_del(st, "alice", &cause), 0);
	ck_assert_int_eq(raw_int(path, "SELECT count(*) FROM tokens WHERE account = 'alice'"), 0);
	ck_assert_int_eq(raw_int(path, "SELECT count(*) FROM keys WHERE account = 'alice'"), 0);
	ck_assert_int_eq(raw_int(path, "SELECT count(*) FROM addresses WHERE account = 'alice'"),
	    0);
	ck_assert_int_eq(raw_int(path, "SELECT count(*) FROM tokens"), 1);
	ck_assert_int_eq(raw_int(path, "SELECT count(*) FROM keys"), 1);
	ck_assert_int_eq(raw_int(path, "SELECT count(*) FROM addresses"), 1);
	if (!is_uri(path))
		ck_assert_int_eq(raw_int(path, "SELECT count(*) FROM pragma_foreign_key_check"), 0);
	ck_assert_msg(store_integrity(st, &cause) == 0, "%s", cause);
	store_close(st);
	free(path);
}
END_TEST

/* A write lock held by another connection: each write waits, fails clearly, writes nothing. */
START_TEST(test_locked)
{
	char		*path = db_path(), *cause = NULL, *t = NULL, *acct;
	struct store	*st = open_ok(path, 1000), *st2;
	sqlite3		*other;
	long long	 start;
	int64_t		 id, seq;
	int		 port;

	ck_assert_int_eq(store_account_add(st, "alice", -1, &cause), 0);
	ck_assert_int_eq(store_token_create(st, "alice", NULL, 0, &t, &id, &cause), 0);
	store_close(st);
	st = open_ok(path, 200);
	ck_assert_int_eq(sqlite3_open(path, &other), SQLITE_OK);
	ck_assert_int_eq(sqlite3_exec(other, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);

	start = now_ms();
	ck_assert_int_eq(store_account_add(st, "bob", -1, &cause), -1);
	ck_assert_int_ge(now_ms() - start, 150);
	ck_assert_str_eq(cause, "DB: database is locked by another process (waited 200 ms)");
	free(cause);
	ck_assert_int_eq(store_account_del(st, "alice", &cause), -1);
	free(cause);
	ck_assert_int_eq(store_key_add(st, "alice", NULL, "ssh-ed25519 " ED25519, "tunnelgwctl", NULL,
	    &cause), -1);
	free(cause);
	ck_assert_int_eq(store_address_reserve(st, "alice", "tcp", NULL, 0, 1000, 1010, &port,
	    &cause), -1);
	ck_assert_str_eq(cause, "DB: database is locked by another process (waited 200 ms)");
	free(cause);
	ck_assert_int_eq(store_token_verify(st, t, &acct, &id, &cause), -1);
	free(cause);
	strfreezero(t);
	ck_assert_int_eq(store_token_create(st, "alice", NULL, 0, &t, &id, &cause), -1);
	ck_assert_ptr_null(t);
	free(cause);
	/* Reads still work while the writer holds its lock (WAL). */
	ck_assert_int_eq(store_changes(st, &seq, &cause), 0);
	/* Opening works too: the schema is current, nothing to write. */
	st2 = open_ok(path, 200);
	store_close(st2);

	ck_assert_int_eq(sqlite3_exec(other, "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(other);
	ck_assert_int_eq(raw_int(path, "SELECT count(*) FROM accounts"), 1);
	ck_assert_int_eq(raw_int(path, "SELECT count(*) FROM tokens"), 1);
	ck_assert_int_eq(raw_int(path, "SELECT count(*) FROM keys"), 0);
	ck_assert_int_eq(raw_int(path, "SELECT count(*) FROM addresses"), 0);
	ck_assert_int_eq(raw_int(path, "SELECT last_used IS NULL FROM tokens"), 1);
	ck_assert_int_eq(store_account_add(st, "bob", -1, &cause), 0);
	store_close(st);
	free(path);
}
END_TEST

/*
 * The change counter moves with every change that can end a session or narrow it, by this or
 * another connection; not with additions, nor with logins.
 */
START_TEST(test_changes)
{
	char		*path = db_path(), *cause = NULL, *t, *acct;
	struct store	*st = open_ok(path, 1000), *ctl = open_ok(path, 1000);
	int64_t		 s0, s1, s2, s3, id;
	char		**names;
	size_t		 n;

	ck_assert_int_eq(store_changes(st, &s0, &cause), 0);
	ck_assert_int_eq(store_changes(st, &s1, &cause), 0);
	ck_assert_int_eq(s0, s1);
	/* What adds (an account, a token) can end no session: not counted. */
	ck_assert_int_eq(store_account_add(st, "alice", -1, &cause), 0);
	ck_assert_int_eq(store_token_create(ctl, "alice", NULL, 0, &t, &id, &cause), 0);
	ck_assert_int_eq(unchanged(st), s0);
	/* What narrows (a limit) is, by this connection or another. */
	ck_assert_int_eq(store_account_set(ctl, "alice", &(struct store_account_set){ 3,
	    STORE_UNCHANGED, STORE_UNCHANGED, NULL }, &cause), 0);
	ck_assert_int_gt(s1 = changed_from(st, s0), s0);
	ck_assert_int_eq(store_account_set(st, "alice", &(struct store_account_set){ 4,
	    STORE_UNCHANGED, STORE_UNCHANGED, NULL }, &cause), 0);
	ck_assert_int_gt(s2 = changed_from(st, s1), s1);
	ck_assert_int_eq(store_token_verify(ctl, t, &acct, &id, &cause), 0);
	free(acct);
	ck_assert_int_eq(unchanged(st), s2);
	ck_assert_int_eq(store_token_revoke(ctl, id, &cause), 0);
	ck_assert_int_gt(s3 = changed_from(st, s2), s2);
	/* SQLite cannot say which account a change concerns: any. */
	if (!on_pg) {
		ck_assert_int_eq(store_changed_accounts(st, &names, &n), 1);
		ck_assert_ptr_null(names);
	}
	/* A failed write changes nothing. */
	ck_assert_int_eq(store_account_add(ctl, "alice", -1, &cause), -1);
	free(cause);
	ck_assert_int_eq(unchanged(st), s3);
	strfreezero(t);
	store_close(ctl);
	store_close(st);
	free(path);
}
END_TEST

/* A process killed with SIGKILL while writing loses no committed row; the database is sound. */
START_TEST(test_kill9)
{
	char		*path = db_path(), *cause = NULL, name[32], *t;
	struct store	*st = open_ok(path, 1000);
	struct store_account *a;
	int		 fds[2], i, status, round, committed, last;
	int64_t		 id;
	pid_t		 pid;
	FILE		*fp;

	store_close(st);
	for (round = 0; round < 5; round++) {
		ck_assert_int_eq(pipe(fds), 0);
		if ((pid = fork()) == 0) {
			close(fds[0]);
			st = store_open(path, 5000, &cause);
			for (i = 0; st != NULL; i++) {
				snprintf(name, sizeof name, "r%d-%d", round, i);
				if (store_account_add(st, name, -1, &cause) != 0 ||
				    store_token_create(st, name, NULL, 0, &t, &id, &cause) != 0)
					_exit(1);
				free(t);
				/* Only now is it committed: tell the parent. */
				if (write(fds[1], &i, sizeof i) != sizeof i)
					_exit(1);
			}
			_exit(1);
		}
		close(fds[1]);
		/* Kill it at some point after its first commit, whatever the disk's speed. */
		ck_assert_int_eq(read(fds[0], &i, sizeof i), (ssize_t)sizeof i);
		usleep((useconds_t)round * 7000);
		kill(pid, SIGKILL);
		ck_assert_int_eq(waitpid(pid, &status, 0), pid);
		ck_assert(WIFSIGNALED(status));
		fp = fdopen(fds[0], "r");
		committed = 1;
		last = 0;
		while (fread(&i, sizeof i, 1, fp) == 1) {
			committed++;
			last = i;
		}
		fclose(fp);
		ck_assert_int_gt(committed, 0);
		st = open_ok(path, 5000);
		ck_assert_msg(store_integrity(st, &cause) == 0, "%s", cause);
		for (i = 0; i <= last; i++) {
			snprintf(name, sizeof name, "r%d-%d", round, i);
			ck_assert_int_eq(store_account_find(st, name, &a, &cause), 0);
			ck_assert_msg(a != NULL, "committed account %s is gone", name);
			ck_assert_uint_eq(a->ntokens, 1);
			store_account_free(a);
		}
		store_close(st);
	}
	if (!is_uri(path))
		ck_assert_int_eq(raw_int(path, "SELECT count(*) FROM pragma_integrity_check "
		    "WHERE integrity_check = 'ok'"), 1);
	free(path);
}
END_TEST

/* Processes that open a new database at the same moment all get it, migrated once. */
START_TEST(test_concurrent_open)
{
	char		*path = db_path(), *cause = NULL, name[16];
	struct store	*st;
	pid_t		 pids[6];
	int		 i, status;

	for (i = 0; i < 6; i++) {
		if ((pids[i] = fork()) == 0) {
			snprintf(name, sizeof name, "p%d", i);
			st = store_open(path, 5000, &cause);
			if (st == NULL || store_account_add(st, name, -1, &cause) != 0) {
				fprintf(stderr, "%s\n", cause);
				_exit(1);
			}
			store_close(st);
			_exit(0);
		}
	}
	for (i = 0; i < 6; i++) {
		ck_assert_int_eq(waitpid(pids[i], &status, 0), pids[i]);
		ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	ck_assert_int_eq(raw_int(path, "SELECT count(*) FROM accounts"), 6);
	ck_assert_int_eq(raw_int(path, "SELECT count(*) FROM changes"), 1);
	free(path);
}
END_TEST

#ifdef HAVE_LIBPQ
/*
 * PostgreSQL: the writers' lock held by another connection: each write waits, fails clearly,
 * writes nothing; reads go on.
 */
START_TEST(test_pg_locked)
{
	char			*path = db_path(), *cause = NULL, *t = NULL, *acct;
	struct store		*st = open_ok(path, 200);
	struct store_account	*a;
	PGconn			*other;
	long long		 start;
	int64_t			 id;
	int			 port;

	ck_assert_int_eq(store_account_add(st, "alice", -1, &cause), 0);
	ck_assert_int_eq(store_token_create(st, "alice", NULL, 0, &t, &id, &cause), 0);
	other = pg_connect(path);
	pg_run(other, "BEGIN");
	pg_run(other, "SELECT pg_advisory_xact_lock(1413961521)");
	start = now_ms();
	ck_assert_int_eq(store_account_add(st, "bob", -1, &cause), -1);
	ck_assert_int_ge(now_ms() - start, 150);
	ck_assert_str_eq(cause, "DB: database is locked by another process (waited 200 ms)");
	free(cause);
	ck_assert_int_eq(store_address_reserve(st, "alice", "tcp", NULL, 0, 1000, 1010, &port,
	    &cause), -1);
	ck_assert_str_eq(cause, "DB: database is locked by another process (waited 200 ms)");
	free(cause);
	/* A login that spends the token waits for the lock too; a check does not. */
	ck_assert_int_eq(store_token_verify(st, t, &acct, &id, &cause), -1);
	free(cause);
	ck_assert_int_eq(store_token_check(st, t, &acct, &id, &cause), 0);
	free(acct);
	ck_assert_int_eq(store_account_find(st, "alice", &a, &cause), 0);
	ck_assert_ptr_nonnull(a);
	store_account_free(a);
	pg_run(other, "ROLLBACK");
	PQfinish(other);
	ck_assert_int_eq(raw_int(path, "SELECT count(*) FROM accounts"), 1);
	ck_assert_int_eq(raw_int(path, "SELECT count(*) FROM addresses"), 0);
	ck_assert_int_eq(store_account_add(st, "bob", -1, &cause), 0);
	strfreezero(t);
	store_close(st);
	free(path);
}
END_TEST

/* PostgreSQL: another program's tables, or a newer schema, are refused and left alone. */
START_TEST(test_pg_refused)
{
	char		*path = db_path(), *cause = NULL, *expect;
	const char	*db;
	struct store	*st;

	raw_exec(path, "CREATE TABLE notes (t text)");
	ck_assert_ptr_null(store_open(path, 100, &cause));
	db = path + strlen("postgresql://tunnelgw@/");
	ck_assert_int_ne(asprintf(&expect, "DB: database '%.*s' on %s is not a tunnelgw database "
	    "(another program's: 1 tables)", (int)strcspn(db, "?"), db, pg_dir), -1);
	ck_assert_str_eq(cause, expect);
	free(cause);
	free(expect);
	ck_assert_int_eq(raw_int(path, "SELECT count(*) FROM pg_tables WHERE schemaname = "
	    "'public'"), 1);
	free(path);

	path = db_path();
	st = open_ok(path, 100);
	store_close(st);
	raw_exec(path, "UPDATE tunnelgw_schema SET version = 9");
	ck_assert_ptr_null(store_open(path, 100, &cause));
	ck_assert_str_eq(cause, "DB: schema version 9 is newer than this tunnelgw understands (3)");
	free(cause);
	free(path);
}
END_TEST

/*
 * PostgreSQL: a server that drops the store's connections (a restart) costs no call: the
 * next one makes them again, the change counter's too, and a change made meanwhile is seen.
 */
START_TEST(test_pg_reconnect)
{
	char			*path = db_path(), *cause = NULL;
	struct store		*st = open_ok(path, 1000), *ctl = open_ok(path, 1000);
	struct store_account	*a;
	PGconn			*admin;
	int64_t			 s0, s1;
	char			**names;
	size_t			 n;

	ck_assert_int_eq(store_account_add(st, "alice", -1, &cause), 0);
	ck_assert_int_eq(store_changes(st, &s0, &cause), 0);
	admin = pg_connect(path);
	ck_assert_int_ge(pg_run(admin, "SELECT count(pg_terminate_backend(pid)) FROM "
	    "pg_stat_activity WHERE application_name = 'tunnelgw'"), 3);
	ck_assert_int_eq(store_account_add(ctl, "bob", -1, &cause), 0);
	ck_assert_int_eq(store_account_find(st, "bob", &a, &cause), 0);
	ck_assert_ptr_nonnull(a);
	store_account_free(a);
	ck_assert_int_eq(store_account_set(ctl, "bob", &(struct store_account_set){ 3,
	    STORE_UNCHANGED, STORE_UNCHANGED, NULL }, &cause), 0);
	ck_assert_msg(store_changes(st, &s1, &cause) == 0, "%s", cause);
	ck_assert_int_gt(s1 = changed_from(st, s0), s0);
	/* Listening again, notifications may have been missed: any account may have changed. */
	ck_assert_int_eq(store_changed_accounts(st, &names, &n), 1);
	PQfinish(admin);
	store_close(ctl);
	store_close(st);
	free(path);
}
END_TEST

/* PostgreSQL: a change on one connection is seen by another's store_changes at once (NOTIFY). */
START_TEST(test_pg_notify)
{
	char		*path = db_path(), *cause = NULL, *t;
	struct store	*node = open_ok(path, 1000), *ctl = open_ok(path, 1000);
	long long	 start;
	int64_t		 s0, s1, s2, id;
	char		**names, **more;
	size_t		 n, k, i;
	int		 seen = 0;

	ck_assert_int_eq(store_account_add(ctl, "alice", -1, &cause), 0);
	ck_assert_int_eq(store_token_create(ctl, "alice", NULL, 0, &t, &id, &cause), 0);
	ck_assert_int_eq(store_changes(node, &s0, &cause), 0);
	/* Listening began: what came before is not known, so any account may have changed. */
	ck_assert_int_eq(store_changed_accounts(node, &names, &n), 1);
	ck_assert_uint_eq(n, 0);
	ck_assert_int_eq(store_changes(node, &s1, &cause), 0);
	ck_assert_int_eq(s1, s0);
	ck_assert_int_eq(store_changed_accounts(node, &names, &n), 0);
	ck_assert_uint_eq(n, 0);
	ck_assert_int_eq(token_stands(node, id), 1);
	ck_assert_int_eq(store_token_revoke(ctl, id, &cause), 0);
	start = now_ms();
	do {
		ck_assert_int_eq(store_changes(node, &s1, &cause), 0);
		if (s1 == s0)
			usleep(5000);
	} while (s1 == s0 && now_ms() - start < 1000);
	ck_assert_int_gt(s1, s0);
	ck_assert_int_eq(token_stands(node, id), 0);
	/* The notification named the token's account: only its sessions are to be checked. */
	ck_assert_int_eq(store_changed_accounts(node, &names, &n), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(names[0], "alice");
	store_changed_free(names, n);
	/* Two changes of one account and one of another: each account once. */
	ck_assert_int_eq(store_account_add(ctl, "bob", -1, &cause), 0);
	ck_assert_int_eq(store_account_set(ctl, "bob", &(struct store_account_set){ 3,
	    STORE_UNCHANGED, STORE_UNCHANGED, NULL }, &cause), 0);
	ck_assert_int_eq(store_account_set(ctl, "bob", &(struct store_account_set){ 4,
	    STORE_UNCHANGED, STORE_UNCHANGED, NULL }, &cause), 0);
	ck_assert_int_eq(store_account_del(ctl, "alice", &cause), 0);
	start = now_ms();
	do {
		usleep(5000);
		ck_assert_int_eq(store_changes(node, &s2, &cause), 0);
		ck_assert_int_eq(store_changed_accounts(node, &more, &k), 0);
		for (i = 0; i < k; i++)
			seen |= strcmp(more[i], "bob") == 0 ? 1 : strcmp(more[i], "alice") == 0 ? 2 : 4;
		store_changed_free(more, k);
	} while (seen != 3 && now_ms() - start < 1000);
	ck_assert_int_eq(seen, 3);
	strfreezero(t);
	store_close(ctl);
	store_close(node);
	free(path);
}
END_TEST
#endif

/*
 * The store suite: the cases of SQLite's file, and those of any backend, on SQLite; with
 * TG_TEST_PG, those of any backend and PostgreSQL's own, on PostgreSQL.
 */
static Suite *
store_suite(int pg)
{
	Suite	*s = suite_create(pg ? "store (PostgreSQL)" : "store (SQLite)");
	TCase	*tc;

	if (!pg) {
		tc = tcase_create("sqlite");
		tcase_add_checked_fixture(tc, NULL, tg_cleanup);
		tcase_add_test(tc, test_create);
		tcase_add_test(tc, test_migrate_v1);
		tcase_add_test(tc, test_newer_schema);
		tcase_add_test(tc, test_not_a_database);
		tcase_add_test(tc, test_other_program);
		tcase_add_test(tc, test_corrupt);
		tcase_add_test(tc, test_unreadable);
		tcase_add_test(tc, test_missing_folder);
		tcase_add_test(tc, test_postgres_uri);
		tcase_add_test(tc, test_locked);
		suite_add_tcase(s, tc);
	}
	tc = tcase_create("any");
	tcase_add_checked_fixture(tc, NULL, tg_cleanup);
	tcase_add_test(tc, test_members);
	tcase_add_test(tc, test_account_set);
	tcase_add_test(tc, test_apikeys);
	tcase_add_test(tc, test_events);
	tcase_add_test(tc, test_reopen_keeps_data);
	tcase_add_test(tc, test_accounts);
	tcase_add_test(tc, test_tokens);
	tcase_add_test(tc, test_token_constant_time);
	tcase_add_test(tc, test_keys);
	tcase_add_test(tc, test_addresses);
	tcase_add_test(tc, test_cascade);
	tcase_add_test(tc, test_changes);
	tcase_add_test(tc, test_kill9);
	tcase_add_test(tc, test_concurrent_open);
	suite_add_tcase(s, tc);
#ifdef HAVE_LIBPQ
	if (pg) {
		tc = tcase_create("postgresql");
		tcase_add_test(tc, test_pg_locked);
		tcase_add_test(tc, test_pg_refused);
		tcase_add_test(tc, test_pg_reconnect);
		tcase_add_test(tc, test_pg_notify);
		suite_add_tcase(s, tc);
	}
#endif
	return s;
}

int
main(void)
{
	int	 rc;

	pg_dir = getenv("TG_TEST_PG");
	if ((rc = tg_run(store_suite(0))) != EXIT_SUCCESS || pg_dir == NULL || *pg_dir == '\0')
		return rc;
#ifndef HAVE_LIBPQ
	fprintf(stderr, "TG_TEST_PG is set, but this build has no PostgreSQL backend\n");
	return EXIT_FAILURE;
#else
	on_pg = 1;
	return tg_run(store_suite(1));
#endif
}
