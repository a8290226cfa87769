/* SPDX-License-Identifier: ISC */
/* tunnelgw: the SQLite store of accounts, tokens, keys, reserved addresses and events. */
#include "config.h"

#include <sys/types.h>
#include <sys/file.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <sqlite3.h>

#include "auth.h"
#include "log.h"
#include "store.h"
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
 *   transaction that changes what the daemon enforces (not by a token's last_used). The
 *   daemon polls store_changes(), which first asks PRAGMA data_version (no I/O, in memory)
 *   whether another connection committed anything, and reads the counter only then.
 */

#define STORE_APPLICATION_ID	0x54475731	/* "TGW1" in the database header */
#define STORE_HASH_LEN		32		/* SHA-256 */
#define STORE_TOKEN_BYTES	32		/* random bytes in a token */
#define STORE_MAX_ADDED_BY	32		/* longest added_by */
#define STORE_HEADER		"SQLite format 3"	/* and a NUL: the first 16 bytes */

struct store {
	sqlite3		*db;
	struct store_file *file;	/* this process's hold on the file (see store_file) */
	char		*path;
	int		 busy_ms;
	int64_t		 data_version;	/* PRAGMA data_version when seq was read */
	int64_t		 seq;		/* the change counter last read */
	int		 seq_valid;	/* 0: read it again */
};

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
 * The migrations: entry N takes the schema from user_version N to N + 1, in the same
 * transaction as the version bump. Never edit an entry once released; append a new one.
 */
static const char *const store_migrations[] = {
	store_schema_1,
	store_schema_2,
};

#define STORE_VERSION	((int)(sizeof store_migrations / sizeof store_migrations[0]))

/* The time now, in Unix seconds. */
static int64_t
store_now(void)
{
	return (int64_t)time(NULL);
}

/* Hand back the message of SQLite result rc on st's connection. */
static void
store_error(struct store *st, int rc, char **cause)
{
	switch (rc & 0xff) {
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		xasprintf(cause, "DB: database is locked by another process (waited %d ms)",
		    st->busy_ms);
		break;
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB:
		xasprintf(cause, "DB: %s: database is corrupt (%s)", st->path, sqlite3_errstr(rc));
		break;
	case SQLITE_READONLY:
		xasprintf(cause, "DB: %s: cannot write (%s)", st->path, sqlite3_errmsg(st->db));
		break;
	case SQLITE_CANTOPEN:
		xasprintf(cause, "DB: %s: cannot open its journal (is its folder writable?)",
		    st->path);
		break;
	case SQLITE_FULL:
		xasprintf(cause, "DB: %s: disk full", st->path);
		break;
	default:
		xasprintf(cause, "DB: %s", sqlite3_errmsg(st->db));
		break;
	}
}

/* Prepare one statement of sql. */
static int
store_prepare(struct store *st, const char *sql, sqlite3_stmt **stmt, char **cause)
{
	int	 rc;

	if ((rc = sqlite3_prepare_v2(st->db, sql, -1, stmt, NULL)) != SQLITE_OK) {
		store_error(st, rc, cause);
		*stmt = NULL;
		return -1;
	}
	return 0;
}

/* Run a statement that returns no row, then finalize it. */
static int
store_done(struct store *st, sqlite3_stmt *stmt, char **cause)
{
	int	 rc;

	rc = sqlite3_step(stmt);
	sqlite3_finalize(stmt);
	if (rc != SQLITE_DONE) {
		store_error(st, rc, cause);
		return -1;
	}
	return 0;
}

/* Run SQL that holds no outside data (schema, pragmas, transaction control). */
static int
store_exec(struct store *st, const char *sql, char **cause)
{
	int	 rc;

	if ((rc = sqlite3_exec(st->db, sql, NULL, NULL, NULL)) != SQLITE_OK) {
		store_error(st, rc, cause);
		return -1;
	}
	return 0;
}

/* Read the single integer a query returns into *v. */
static int
store_int_query(struct store *st, const char *sql, int64_t *v, char **cause)
{
	sqlite3_stmt	*stmt;
	int		 rc;

	if (store_prepare(st, sql, &stmt, cause) != 0)
		return -1;
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW)
		*v = sqlite3_column_int64(stmt, 0);
	sqlite3_finalize(stmt);
	if (rc != SQLITE_ROW) {
		store_error(st, rc, cause);
		return -1;
	}
	return 0;
}

/* Start a write transaction: take the write lock now, waiting up to the busy timeout. */
static int
store_begin(struct store *st, char **cause)
{
	return store_exec(st, "BEGIN IMMEDIATE", cause);
}

/* Undo the open transaction, if any. */
static void
store_rollback(struct store *st)
{
	if (!sqlite3_get_autocommit(st->db))
		sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
}

/* Commit the open transaction; bump: count it as a change the daemon must notice. */
static int
store_commit(struct store *st, int bump, char **cause)
{
	if (bump && store_exec(st, "UPDATE changes SET seq = seq + 1 WHERE id = 1", cause) != 0)
		goto fail;
	if (store_exec(st, "COMMIT", cause) != 0)
		goto fail;
	if (bump)
		st->seq_valid = 0;
	return 0;

fail:
	store_rollback(st);
	return -1;
}

/* Roll back and fail: the ending of every write that found a problem. */
static int
store_abort(struct store *st)
{
	store_rollback(st);
	return -1;
}

/* A copy of a text column, or NULL when it is NULL. */
static char *
store_col_text(sqlite3_stmt *stmt, int col)
{
	const unsigned char	*s;

	if ((s = sqlite3_column_text(stmt, col)) == NULL)
		return NULL;
	return xstrdup((const char *)s);
}

/* An integer column; NULL reads as none. */
static int64_t
store_col_int(sqlite3_stmt *stmt, int col, int64_t none)
{
	if (sqlite3_column_type(stmt, col) == SQLITE_NULL)
		return none;
	return sqlite3_column_int64(stmt, col);
}

/* Bind a time, 0 as NULL. */
static int
store_bind_time(sqlite3_stmt *stmt, int col, int64_t t)
{
	if (t == 0)
		return sqlite3_bind_null(stmt, col);
	return sqlite3_bind_int64(stmt, col, t);
}

/*
 * Run a query and collect one object per row, made by row(); the array and its length go to
 * *out and *n. A bind error shows as the step's error.
 */
static int
store_collect(struct store *st, sqlite3_stmt *stmt, void *(*row)(sqlite3_stmt *),
    void ***out, size_t *n, char **cause)
{
	void	**v = NULL;
	size_t	  len = 0, size = 0;
	int	  rc;

	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		if (len == size) {
			size = size == 0 ? 16 : size * 2;
			v = xreallocarray(v, size, sizeof *v);
		}
		v[len++] = row(stmt);
	}
	sqlite3_finalize(stmt);
	if (rc != SQLITE_DONE) {
		store_error(st, rc, cause);
		*out = v;
		*n = len;
		return -1;
	}
	*out = v;
	*n = len;
	return 0;
}

/* --- opening ------------------------------------------------------------------------------ */

/* Create a missing database file, mode 0600; its folder must exist. */
static int
store_create_file(const char *path, char **cause)
{
	int	 fd;

	if ((fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) == -1) {
		if (errno == EEXIST)
			return 0;	/* someone else was first: check theirs */
		xasprintf(cause, "DB: %s: cannot create: %s", path, strerror(errno));
		return -1;
	}
	if (fchmod(fd, 0600) == -1) {
		xasprintf(cause, "DB: %s: cannot set mode 0600: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

/* Read up to len bytes at the start of fd; returns how many, or -1. */
static ssize_t
store_read_start(int fd, unsigned char *buf, size_t len)
{
	size_t	 off = 0;
	ssize_t	 r;

	while (off < len) {
		r = pread(fd, buf + off, len - off, (off_t)off);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1)
			return -1;
		if (r == 0)
			break;
		off += (size_t)r;
	}
	return (ssize_t)off;
}

/*
 * Check, before SQLite sees it, that the file at path is one this process can read and write
 * and that it is empty or starts with an SQLite header; never write to it. A missing file is
 * created. Anything else is refused with the file untouched.
 */
static int
store_check_file(const char *path, char **cause)
{
	unsigned char	 hdr[100];
	struct stat	 sb;
	ssize_t		 n;
	int		 fd;

	if ((fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC)) == -1 && errno == ENOENT) {
		if (store_create_file(path, cause) != 0)
			return -1;
		fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	}
	if (fd == -1) {
		xasprintf(cause, "DB: %s: cannot open: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &sb) == -1 || !S_ISREG(sb.st_mode)) {
		xasprintf(cause, "DB: %s: not a regular file", path);
		close(fd);
		return -1;
	}
	n = store_read_start(fd, hdr, sizeof hdr);
	if (n == -1) {
		xasprintf(cause, "DB: %s: cannot read: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	if (n != 0 && (n < (ssize_t)sizeof hdr || memcmp(hdr, STORE_HEADER, 16) != 0)) {
		xasprintf(cause, "DB: not a tunnelgw database (file is not a database)");
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * Check what is in the database before changing anything: one of ours (or empty) and not
 * from a newer tunnelgw. Reads only.
 */
static int
store_check_schema(struct store *st, char **cause)
{
	int64_t	 appid = 0, version, ntables;
	char	*why = NULL;
	int	 code;

	/* One read transaction, so another process's migration is seen whole or not at all. */
	if (store_exec(st, "BEGIN", &why) != 0 ||
	    store_int_query(st, "PRAGMA application_id", &appid, &why) != 0 ||
	    store_int_query(st, "PRAGMA user_version", &version, &why) != 0 ||
	    store_int_query(st, "SELECT count(*) FROM sqlite_master", &ntables, &why) != 0) {
		code = sqlite3_errcode(st->db) & 0xff;
		sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
		if (code != SQLITE_NOTADB && code != SQLITE_CORRUPT) {
			*cause = why;
			return -1;
		}
		free(why);
		if (appid == STORE_APPLICATION_ID)
			xasprintf(cause, "DB: %s: the tunnelgw database is corrupt (%s)",
			    st->path, sqlite3_errstr(code));
		else
			xasprintf(cause, "DB: not a tunnelgw database (%s)", sqlite3_errstr(code));
		return -1;
	}
	sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL);
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
store_migrate(struct store *st, char **cause)
{
	char	 sql[64];
	int64_t	 version;

	if (store_int_query(st, "PRAGMA user_version", &version, cause) != 0)
		return -1;
	if (version == STORE_VERSION)
		return 0;
	if (store_begin(st, cause) != 0)
		return -1;
	if (store_int_query(st, "PRAGMA user_version", &version, cause) != 0)
		return store_abort(st);
	if (version > STORE_VERSION || version < 0) {
		xasprintf(cause, "DB: schema version %lld is newer than this tunnelgw understands "
		    "(%d)", (long long)version, STORE_VERSION);
		return store_abort(st);
	}
	if (version == 0) {
		snprintf(sql, sizeof sql, "PRAGMA application_id = %d", STORE_APPLICATION_ID);
		if (store_exec(st, sql, cause) != 0)
			return store_abort(st);
	}
	for (; version < STORE_VERSION; version++) {
		if (store_exec(st, store_migrations[version], cause) != 0)
			return store_abort(st);
	}
	snprintf(sql, sizeof sql, "PRAGMA user_version = %d", STORE_VERSION);
	if (store_exec(st, sql, cause) != 0)
		return store_abort(st);
	return store_commit(st, 1, cause);
}

/* Set the connection up: foreign keys, durability. Writes nothing to the file. */
static int
store_configure(struct store *st, char **cause)
{
	if (store_exec(st, "PRAGMA foreign_keys = ON", cause) != 0 ||
	    store_exec(st, "PRAGMA synchronous = FULL", cause) != 0)
		return -1;
	return 0;
}

/* Switch the database to WAL: the first write to the file, after it was checked. */
static int
store_wal(struct store *st, char **cause)
{
	sqlite3_stmt		*stmt;
	const unsigned char	*mode;
	int			 rc, wal;

	if (store_prepare(st, "PRAGMA journal_mode = WAL", &stmt, cause) != 0)
		return -1;
	rc = sqlite3_step(stmt);
	mode = rc == SQLITE_ROW ? sqlite3_column_text(stmt, 0) : NULL;
	wal = mode != NULL && strcmp((const char *)mode, "wal") == 0;
	sqlite3_finalize(stmt);
	if (rc != SQLITE_ROW) {
		store_error(st, rc, cause);
		return -1;
	}
	if (!wal) {
		xasprintf(cause, "DB: %s: cannot switch to WAL journal mode", st->path);
		return -1;
	}
	return 0;
}

/*
 * Take the set-up lock of a database: an flock() on the file, which SQLite's own (fcntl)
 * locks do not see; waits up to busy_ms.
 */
static int
store_setup_lock(int fd, int busy_ms, char **cause)
{
	int	 waited = 0;

	while (flock(fd, LOCK_EX | LOCK_NB) == -1) {
		if (errno != EWOULDBLOCK && errno != EINTR) {
			xasprintf(cause, "DB: cannot lock the database: %s", strerror(errno));
			return -1;
		}
		if (waited >= busy_ms) {
			xasprintf(cause, "DB: database is locked by another process (waited %d ms)",
			    waited);
			return -1;
		}
		usleep(10 * 1000);
		waited += 10;
	}
	return 0;
}

/*
 * The files this process has open through SQLite. POSIX locks belong to a process, not to a
 * descriptor: closing any descriptor of a database file drops every lock SQLite holds on it,
 * after which another process may checkpoint and remove the WAL under a writer. So the file
 * is opened (to check it, and for the set-up lock) once per process, and that descriptor is
 * closed only when the last connection to the file is.
 */
struct store_file {
	dev_t			 dev;
	ino_t			 ino;
	int			 fd;
	int			 refs;
	struct store_file	*next;
};

static pthread_mutex_t	 store_files_lock = PTHREAD_MUTEX_INITIALIZER;
static struct store_file *store_files;

/* Find the entry of a file this process already has open, by path. */
static struct store_file *
store_file_find(const char *path)
{
	struct store_file	*f;
	struct stat		 sb;

	if (stat(path, &sb) == -1)
		return NULL;
	for (f = store_files; f != NULL; f = f->next) {
		if (f->dev == sb.st_dev && f->ino == sb.st_ino)
			return f;
	}
	return NULL;
}

/* Drop a connection's hold on its file; the last one closes the descriptor. */
static void
store_file_release(struct store_file *f)
{
	struct store_file	**pp;

	if (f == NULL)
		return;
	pthread_mutex_lock(&store_files_lock);
	if (--f->refs == 0) {
		for (pp = &store_files; *pp != f; pp = &(*pp)->next)
			;
		*pp = f->next;
		close(f->fd);
		free(f);
	}
	pthread_mutex_unlock(&store_files_lock);
}

/*
 * Open the database at path, creating it (mode 0600) when missing, and bring its schema up
 * to date. busy_ms: how long a write waits for another writer before failing (milliseconds).
 * A file that is not a tunnelgw database, or is from a newer tunnelgw, is refused untouched.
 */
struct store *
store_open(const char *path, int busy_ms, char **cause)
{
	struct store		*st;
	struct store_file	*f;
	struct stat		 sb;
	int			 rc, fd, first = 0;

	busy_ms = busy_ms < 0 ? 0 : busy_ms;
	pthread_mutex_lock(&store_files_lock);
	if ((f = store_file_find(path)) == NULL) {
		/*
		 * The first connection of this process: check the file, and take the set-up lock
		 * so that processes opening it at the same moment take turns, from before SQLite
		 * opens it to the end of the checks, the switch to WAL and the migration.
		 */
		if ((fd = store_check_file(path, cause)) == -1) {
			pthread_mutex_unlock(&store_files_lock);
			return NULL;
		}
		if (fstat(fd, &sb) == -1 || store_setup_lock(fd, busy_ms, cause) != 0) {
			if (*cause == NULL)
				xasprintf(cause, "DB: %s: %s", path, strerror(errno));
			close(fd);
			pthread_mutex_unlock(&store_files_lock);
			return NULL;
		}
		f = xcalloc(1, sizeof *f);
		f->dev = sb.st_dev;
		f->ino = sb.st_ino;
		f->fd = fd;
		f->next = store_files;
		store_files = f;
		first = 1;
	}
	f->refs++;
	st = xcalloc(1, sizeof *st);
	st->file = f;
	st->path = xstrdup(path);
	st->busy_ms = busy_ms;
	pthread_mutex_unlock(&store_files_lock);

	if ((rc = sqlite3_open_v2(path, &st->db, SQLITE_OPEN_READWRITE, NULL)) != SQLITE_OK) {
		xasprintf(cause, "DB: %s: cannot open: %s", path,
		    st->db != NULL ? sqlite3_errmsg(st->db) : sqlite3_errstr(rc));
		if (first)
			flock(f->fd, LOCK_UN);
		store_close(st);
		return NULL;
	}
	sqlite3_extended_result_codes(st->db, 1);
	sqlite3_busy_timeout(st->db, st->busy_ms);
	if (first) {
		rc = store_check_schema(st, cause) != 0 || store_configure(st, cause) != 0 ||
		    store_wal(st, cause) != 0 || store_migrate(st, cause) != 0;
		flock(f->fd, LOCK_UN);
	} else
		rc = store_configure(st, cause) != 0;
	if (rc) {
		store_close(st);
		return NULL;
	}
	return st;
}

/* Close the database; NULL is a no-op. */
void
store_close(struct store *st)
{
	if (st == NULL)
		return;
	sqlite3_close(st->db);
	store_file_release(st->file);	/* after SQLite's, as struct store_file explains */
	free(st->path);
	free(st);
}

/*
 * The change counter: *seq grows whenever any process commits a change to accounts, tokens
 * (not their last_used), keys or addresses. Cheap to poll: without another connection's
 * commit since the last call (PRAGMA data_version), it is answered from memory.
 */
int
store_changes(struct store *st, int64_t *seq, char **cause)
{
	int64_t	 dv, v;

	if (store_int_query(st, "PRAGMA data_version", &dv, cause) != 0)
		return -1;
	if (!st->seq_valid || dv != st->data_version) {
		if (store_int_query(st, "SELECT seq FROM changes WHERE id = 1", &v, cause) != 0)
			return -1;
		st->seq = v;
		st->data_version = dv;
		st->seq_valid = 1;
	}
	*seq = st->seq;
	return 0;
}

/* Run PRAGMA integrity_check; 0 when it says ok. */
int
store_integrity(struct store *st, char **cause)
{
	sqlite3_stmt		*stmt;
	const unsigned char	*s;
	int			 rc, ok;

	if (store_prepare(st, "PRAGMA integrity_check", &stmt, cause) != 0)
		return -1;
	rc = sqlite3_step(stmt);
	if (rc != SQLITE_ROW) {
		store_error(st, rc, cause);
		sqlite3_finalize(stmt);
		return -1;
	}
	s = sqlite3_column_text(stmt, 0);
	ok = s != NULL && strcmp((const char *)s, "ok") == 0;
	if (!ok)
		xasprintf(cause, "DB: %s: integrity check failed: %s", st->path,
		    s != NULL ? (const char *)s : "?");
	sqlite3_finalize(stmt);
	return ok ? 0 : -1;
}

/* --- accounts ----------------------------------------------------------------------------- */

/* Is name a valid account name: 1-64 characters of A-Z a-z 0-9 . _ @ - (as in the keys file)? */
int
store_account_check_name(const char *name, char **cause)
{
	char	 q[LOG_QUOTE_SIZE];
	size_t	 len = strnlen(name, STORE_MAX_ACCOUNT + 1);

	if (len == 0 || len > STORE_MAX_ACCOUNT || strspn(name,
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._@-") != len) {
		xasprintf(cause, "account name '%s' is not 1-%d characters of A-Z a-z 0-9 . _ @ -",
		    log_quote(name, q), STORE_MAX_ACCOUNT);
		return -1;
	}
	return 0;
}

/* Does account name exist? 1 yes, 0 no (and cause says so), -1 on error. */
static int
store_account_exists(struct store *st, const char *name, char **cause)
{
	sqlite3_stmt	*stmt;
	char		 q[LOG_QUOTE_SIZE];
	int		 rc;

	if (store_prepare(st, "SELECT 1 FROM accounts WHERE name = ?1", &stmt, cause) != 0)
		return -1;
	sqlite3_bind_text(stmt, 1, name, -1, SQLITE_TRANSIENT);
	rc = sqlite3_step(stmt);
	sqlite3_finalize(stmt);
	if (rc == SQLITE_ROW)
		return 1;
	if (rc != SQLITE_DONE) {
		store_error(st, rc, cause);
		return -1;
	}
	xasprintf(cause, "unknown account '%s'", log_quote(name, q));
	return 0;
}

/* Within a transaction: fail unless account name exists. */
static int
store_need_account(struct store *st, const char *name, char **cause)
{
	return store_account_exists(st, name, cause) == 1 ? 0 : -1;
}

/* Add account name; max_tunnels -1 for no limit. */
int
store_account_add(struct store *st, const char *name, int max_tunnels, char **cause)
{
	sqlite3_stmt	*stmt;
	char		 q[LOG_QUOTE_SIZE], *why;
	int		 rc;

	if (store_account_check_name(name, cause) != 0)
		return -1;
	if (max_tunnels < -1 || max_tunnels > STORE_MAX_TUNNELS) {
		xasprintf(cause, "max-tunnels must be a number from 0 to %d", STORE_MAX_TUNNELS);
		return -1;
	}
	if (store_begin(st, cause) != 0)
		return -1;
	why = NULL;
	if ((rc = store_account_exists(st, name, &why)) != 0) {
		if (rc == 1)
			xasprintf(cause, "account '%s' already exists", log_quote(name, q));
		else
			*cause = why;
		return store_abort(st);
	}
	free(why);
	if (store_prepare(st, "INSERT INTO accounts (name, max_tunnels, created) "
	    "VALUES (?1, ?2, ?3)", &stmt, cause) != 0)
		return store_abort(st);
	sqlite3_bind_text(stmt, 1, name, -1, SQLITE_TRANSIENT);
	if (max_tunnels == -1)
		sqlite3_bind_null(stmt, 2);
	else
		sqlite3_bind_int(stmt, 2, max_tunnels);
	sqlite3_bind_int64(stmt, 3, store_now());
	if (store_done(st, stmt, cause) != 0)
		return store_abort(st);
	return store_commit(st, 1, cause);
}

/* Delete account name with its tokens, keys and addresses (ON DELETE CASCADE). */
int
store_account_del(struct store *st, const char *name, char **cause)
{
	sqlite3_stmt	*stmt;

	if (store_begin(st, cause) != 0)
		return -1;
	if (store_need_account(st, name, cause) != 0)
		return store_abort(st);
	if (store_prepare(st, "DELETE FROM accounts WHERE name = ?1", &stmt, cause) != 0)
		return store_abort(st);
	sqlite3_bind_text(stmt, 1, name, -1, SQLITE_TRANSIENT);
	if (store_done(st, stmt, cause) != 0)
		return store_abort(st);
	return store_commit(st, 1, cause);
}

/* The columns of an account with its counts; ?1 is the time now, ?2 an optional name. */
#define STORE_ACCOUNT_SELECT \
	"SELECT a.name, a.max_tunnels, a.created," \
	" (SELECT count(*) FROM keys k WHERE k.account = a.name)," \
	" (SELECT count(*) FROM tokens t WHERE t.account = a.name AND t.revoked IS NULL" \
	"   AND (t.expires IS NULL OR t.expires > ?1))," \
	" (SELECT count(*) FROM addresses d WHERE d.account = a.name)" \
	" FROM accounts a"

/* Make an account of a row of STORE_ACCOUNT_SELECT. */
static void *
store_account_row(sqlite3_stmt *stmt)
{
	struct store_account	*a = xcalloc(1, sizeof *a);

	a->name = store_col_text(stmt, 0);
	a->max_tunnels = (int)store_col_int(stmt, 1, -1);
	a->created = store_col_int(stmt, 2, 0);
	a->nkeys = (unsigned int)sqlite3_column_int64(stmt, 3);
	a->ntokens = (unsigned int)sqlite3_column_int64(stmt, 4);
	a->naddresses = (unsigned int)sqlite3_column_int64(stmt, 5);
	return a;
}

/* Find account name: *out gets it, or NULL when there is none. */
int
store_account_find(struct store *st, const char *name, struct store_account **out,
    char **cause)
{
	sqlite3_stmt	*stmt;
	void		**v;
	size_t		  n, i;

	*out = NULL;
	if (store_prepare(st, STORE_ACCOUNT_SELECT " WHERE a.name = ?2", &stmt, cause) != 0)
		return -1;
	sqlite3_bind_int64(stmt, 1, store_now());
	sqlite3_bind_text(stmt, 2, name, -1, SQLITE_TRANSIENT);
	if (store_collect(st, stmt, store_account_row, &v, &n, cause) != 0) {
		for (i = 0; i < n; i++)
			store_account_free(v[i]);
		free(v);
		return -1;
	}
	if (n != 0)
		*out = v[0];
	free(v);
	return 0;
}

/* List every account, by name. */
int
store_account_list(struct store *st, struct store_account ***out, size_t *n, char **cause)
{
	sqlite3_stmt	*stmt;
	void		**v;
	size_t		  i;
	int		  rc;

	*out = NULL;
	*n = 0;
	if (store_prepare(st, STORE_ACCOUNT_SELECT " ORDER BY a.name", &stmt, cause) != 0)
		return -1;
	sqlite3_bind_int64(stmt, 1, store_now());
	rc = store_collect(st, stmt, store_account_row, &v, n, cause);
	*out = xreallocarray(NULL, *n, sizeof **out);
	for (i = 0; i < *n; i++)
		(*out)[i] = v[i];
	free(v);
	if (rc != 0) {
		store_account_list_free(*out, *n);
		*out = NULL;
		*n = 0;
	}
	return rc;
}

/* Free an account; NULL is a no-op. */
void
store_account_free(struct store_account *a)
{
	if (a == NULL)
		return;
	free(a->name);
	free(a);
}

/* Free a list of accounts. */
void
store_account_list_free(struct store_account **v, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		store_account_free(v[i]);
	free(v);
}

/* --- tokens ------------------------------------------------------------------------------- */

/* Is c a character of base64url? */
static int
store_is_b64url(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	    c == '-' || c == '_';
}

/* Does s have the form of a token: "tgw_" and 43 base64url characters? */
int
store_token_wellformed(const char *s)
{
	size_t	 plen = strlen(STORE_TOKEN_PREFIX), i;

	if (strnlen(s, STORE_TOKEN_LEN + 1) != STORE_TOKEN_LEN ||
	    strncmp(s, STORE_TOKEN_PREFIX, plen) != 0)
		return 0;
	for (i = plen; i < STORE_TOKEN_LEN; i++) {
		if (!store_is_b64url(s[i]))
			return 0;
	}
	return 1;
}

/* Encode len bytes as base64url without padding into out, which has room for it and a NUL. */
static void
store_b64url(const unsigned char *in, size_t len, char *out)
{
	static const char	 alphabet[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	uint32_t		 v;
	size_t			 i, o = 0;

	for (i = 0; i + 2 < len; i += 3) {
		v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
		out[o++] = alphabet[(v >> 18) & 63];
		out[o++] = alphabet[(v >> 12) & 63];
		out[o++] = alphabet[(v >> 6) & 63];
		out[o++] = alphabet[v & 63];
	}
	if (len - i == 1) {
		v = (uint32_t)in[i] << 16;
		out[o++] = alphabet[(v >> 18) & 63];
		out[o++] = alphabet[(v >> 12) & 63];
	} else if (len - i == 2) {
		v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
		out[o++] = alphabet[(v >> 18) & 63];
		out[o++] = alphabet[(v >> 12) & 63];
		out[o++] = alphabet[(v >> 6) & 63];
	}
	out[o] = '\0';
}

/* SHA-256 of a token into hash; its first 8 bytes, big-endian, into *lookup. */
static int
store_token_hash(const char *token, unsigned char hash[STORE_HASH_LEN], int64_t *lookup,
    char **cause)
{
	unsigned int	 len = 0;
	uint64_t	 u = 0;
	int		 i;

	if (EVP_Digest(token, strlen(token), hash, &len, EVP_sha256(), NULL) != 1 ||
	    len != STORE_HASH_LEN) {
		xasprintf(cause, "cannot compute SHA-256 with OpenSSL");
		return -1;
	}
	for (i = 0; i < 8; i++)
		u = u << 8 | hash[i];
	memcpy(lookup, &u, sizeof *lookup);
	return 0;
}

/* Make a new token from STORE_TOKEN_BYTES of OpenSSL's random generator. */
static char *
store_token_generate(char **cause)
{
	unsigned char	 raw[STORE_TOKEN_BYTES];
	char		*token;
	size_t		 plen = strlen(STORE_TOKEN_PREFIX);

	if (RAND_bytes(raw, sizeof raw) != 1) {
		xasprintf(cause, "cannot get random bytes from OpenSSL");
		return NULL;
	}
	token = xmalloc(STORE_TOKEN_LEN + 1);
	memcpy(token, STORE_TOKEN_PREFIX, plen);
	store_b64url(raw, sizeof raw, token + plen);
	OPENSSL_cleanse(raw, sizeof raw);
	return token;
}

/*
 * Create a token for account, valid for days (0: no expiry). *token gets the secret, the only
 * copy there will ever be (wipe it with strfreezero), *id its number.
 */
int
store_token_create(struct store *st, const char *account, int days, char **token,
    int64_t *id, char **cause)
{
	sqlite3_stmt	*stmt;
	unsigned char	 hash[STORE_HASH_LEN];
	int64_t		 lookup, now = store_now();
	char		*secret;

	*token = NULL;
	if (days < 0 || days > STORE_MAX_DAYS) {
		xasprintf(cause, "expires must be a number of days from 1 to %d", STORE_MAX_DAYS);
		return -1;
	}
	if ((secret = store_token_generate(cause)) == NULL)
		return -1;
	if (store_token_hash(secret, hash, &lookup, cause) != 0)
		goto fail;
	if (store_begin(st, cause) != 0)
		goto fail;
	if (store_need_account(st, account, cause) != 0 ||
	    store_prepare(st, "INSERT INTO tokens (account, lookup, hash, created, expires) "
	    "VALUES (?1, ?2, ?3, ?4, ?5)", &stmt, cause) != 0)
		goto abort;
	sqlite3_bind_text(stmt, 1, account, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(stmt, 2, lookup);
	sqlite3_bind_blob(stmt, 3, hash, sizeof hash, SQLITE_TRANSIENT);
	sqlite3_bind_int64(stmt, 4, now);
	store_bind_time(stmt, 5, days == 0 ? 0 : now + (int64_t)days * 86400);
	if (store_done(st, stmt, cause) != 0)
		goto abort;
	*id = sqlite3_last_insert_rowid(st->db);
	if (store_commit(st, 1, cause) != 0)
		goto fail;
	OPENSSL_cleanse(hash, sizeof hash);
	*token = secret;
	return 0;

abort:
	store_rollback(st);
fail:
	OPENSSL_cleanse(hash, sizeof hash);
	strfreezero(secret);
	return -1;
}

/* Revoke token id. */
int
store_token_revoke(struct store *st, int64_t id, char **cause)
{
	sqlite3_stmt	*stmt;
	int		 rc, revoked = 0;

	if (store_begin(st, cause) != 0)
		return -1;
	if (store_prepare(st, "SELECT revoked FROM tokens WHERE id = ?1", &stmt, cause) != 0)
		return store_abort(st);
	sqlite3_bind_int64(stmt, 1, id);
	if ((rc = sqlite3_step(stmt)) == SQLITE_ROW)
		revoked = sqlite3_column_type(stmt, 0) != SQLITE_NULL;
	sqlite3_finalize(stmt);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		store_error(st, rc, cause);
		return store_abort(st);
	}
	if (rc == SQLITE_DONE || revoked) {
		if (rc == SQLITE_DONE)
			xasprintf(cause, "no token with id %lld", (long long)id);
		else
			xasprintf(cause, "token %lld is already revoked", (long long)id);
		return store_abort(st);
	}
	if (store_prepare(st, "UPDATE tokens SET revoked = ?2 WHERE id = ?1", &stmt, cause) != 0)
		return store_abort(st);
	sqlite3_bind_int64(stmt, 1, id);
	sqlite3_bind_int64(stmt, 2, store_now());
	if (store_done(st, stmt, cause) != 0)
		return store_abort(st);
	return store_commit(st, 1, cause);
}

/* What verifying a token found. */
static int	store_token_lookup(struct store *, const char *, int, char **, int64_t *,
		    char **);

struct store_match {
	int64_t		 id;
	char		*account;
	int64_t		 expires;
	int64_t		 revoked;
};

/*
 * Find the token whose hash is hash among those sharing its lookup prefix. The prefix only
 * narrows the search; the full hashes are compared in constant time with CRYPTO_memcmp.
 */
static int
store_token_match(struct store *st, const unsigned char hash[STORE_HASH_LEN], int64_t lookup,
    struct store_match *m, char **cause)
{
	sqlite3_stmt	*stmt;
	const void	*h;
	int		 rc;

	if (store_prepare(st, "SELECT id, account, hash, expires, revoked FROM tokens "
	    "WHERE lookup = ?1", &stmt, cause) != 0)
		return -1;
	sqlite3_bind_int64(stmt, 1, lookup);
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		h = sqlite3_column_blob(stmt, 2);
		if (h == NULL || sqlite3_column_bytes(stmt, 2) != STORE_HASH_LEN ||
		    CRYPTO_memcmp(h, hash, STORE_HASH_LEN) != 0 || m->account != NULL)
			continue;
		m->id = sqlite3_column_int64(stmt, 0);
		m->account = store_col_text(stmt, 1);
		m->expires = store_col_int(stmt, 3, 0);
		m->revoked = store_col_int(stmt, 4, 0);
	}
	sqlite3_finalize(stmt);
	if (rc != SQLITE_DONE) {
		free(m->account);
		m->account = NULL;
		store_error(st, rc, cause);
		return -1;
	}
	return 0;
}

/* Why a matched token may not be used now, in cause; 0 if it may. */
static int
store_token_usable(const struct store_match *m, int64_t now, char **cause)
{
	if (m->revoked != 0) {
		xasprintf(cause, "token %lld was revoked", (long long)m->id);
		return -1;
	}
	if (m->expires != 0 && m->expires <= now) {
		xasprintf(cause, "token %lld has expired", (long long)m->id);
		return -1;
	}
	return 0;
}

/*
 * Verify a presented token. Returns 0 when it is valid, with its account in *account (free it)
 * and its id in *id, and records it as used; 1 when it is not (unknown, malformed, revoked or
 * expired; cause says which); -1 on a database error.
 */
int
store_token_verify(struct store *st, const char *secret, char **account, int64_t *id,
    char **cause)
{
	return store_token_lookup(st, secret, 1, account, id, cause);
}

/*
 * Check a token without writing anything (a login still in progress): 0 with *account
 * and *id, 1 when refused (cause says why), -1 on a database error.
 */
int
store_token_check(struct store *st, const char *secret, char **account, int64_t *id,
    char **cause)
{
	return store_token_lookup(st, secret, 0, account, id, cause);
}

/* Is token id still usable (exists, not revoked, not expired): 1 or 0, or -1 on error. */
int
store_token_active(struct store *st, int64_t id, char **cause)
{
	sqlite3_stmt	*stmt;
	int		 rc, active = 0;

	if (store_prepare(st, "SELECT 1 FROM tokens WHERE id = ?1 AND revoked IS NULL AND "
	    "(expires IS NULL OR expires > ?2)", &stmt, cause) != 0)
		return -1;
	sqlite3_bind_int64(stmt, 1, id);
	sqlite3_bind_int64(stmt, 2, store_now());
	if ((rc = sqlite3_step(stmt)) == SQLITE_ROW)
		active = 1;
	sqlite3_finalize(stmt);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		store_error(st, rc, cause);
		return -1;
	}
	return active;
}

/* Look a token up by its hash; with touch, record its use in the same transaction. */
static int
store_token_lookup(struct store *st, const char *secret, int touch, char **account,
    int64_t *id, char **cause)
{
	struct store_match	 m = { 0, NULL, 0, 0 };
	sqlite3_stmt		*stmt;
	unsigned char		 hash[STORE_HASH_LEN];
	int64_t			 lookup, now = store_now();
	int			 rc = -1;

	*account = NULL;
	if (!store_token_wellformed(secret)) {
		xasprintf(cause, "not a token");
		return 1;
	}
	if (store_token_hash(secret, hash, &lookup, cause) != 0)
		return -1;
	if (touch ? store_begin(st, cause) != 0 : store_exec(st, "BEGIN", cause) != 0)
		goto out;
	if (store_token_match(st, hash, lookup, &m, cause) != 0)
		goto abort;
	if (m.account == NULL || store_token_usable(&m, now, cause) != 0) {
		if (m.account == NULL)
			xasprintf(cause, "unknown token");
		rc = 1;
		goto abort;
	}
	if (!touch) {
		store_rollback(st);
		goto found;
	}
	if (store_prepare(st, "UPDATE tokens SET last_used = ?2 WHERE id = ?1", &stmt,
	    cause) != 0)
		goto abort;
	sqlite3_bind_int64(stmt, 1, m.id);
	sqlite3_bind_int64(stmt, 2, now);
	if (store_done(st, stmt, cause) != 0)
		goto abort;
	if (store_commit(st, 0, cause) != 0)
		goto out;
found:
	*account = m.account;
	*id = m.id;
	m.account = NULL;
	rc = 0;
	goto out;

abort:
	store_rollback(st);
out:
	OPENSSL_cleanse(hash, sizeof hash);
	free(m.account);
	return rc;
}

/* Make a token of a row: id, account, created, expires, revoked, last_used. */
static void *
store_token_row(sqlite3_stmt *stmt)
{
	struct store_token	*t = xcalloc(1, sizeof *t);

	t->id = sqlite3_column_int64(stmt, 0);
	t->account = store_col_text(stmt, 1);
	t->created = store_col_int(stmt, 2, 0);
	t->expires = store_col_int(stmt, 3, 0);
	t->revoked = store_col_int(stmt, 4, 0);
	t->last_used = store_col_int(stmt, 5, 0);
	return t;
}

/* List every token, by id; never a secret or a hash. */
int
store_token_list(struct store *st, struct store_token ***out, size_t *n, char **cause)
{
	sqlite3_stmt	*stmt;
	void		**v;
	size_t		  i;
	int		  rc;

	*out = NULL;
	*n = 0;
	if (store_prepare(st, "SELECT id, account, created, expires, revoked, last_used "
	    "FROM tokens ORDER BY id", &stmt, cause) != 0)
		return -1;
	rc = store_collect(st, stmt, store_token_row, &v, n, cause);
	*out = xreallocarray(NULL, *n, sizeof **out);
	for (i = 0; i < *n; i++)
		(*out)[i] = v[i];
	free(v);
	if (rc != 0) {
		store_token_list_free(*out, *n);
		*out = NULL;
		*n = 0;
	}
	return rc;
}

/* Free a token; NULL is a no-op. */
void
store_token_free(struct store_token *t)
{
	if (t == NULL)
		return;
	free(t->account);
	free(t);
}

/* Free a list of tokens. */
void
store_token_list_free(struct store_token **v, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		store_token_free(v[i]);
	free(v);
}

/* --- keys --------------------------------------------------------------------------------- */

/* Check that a parsed key line starts with its type: options are not taken here. */
static int
store_key_no_options(const char *line, const struct keyent *ke, char **cause)
{
	size_t	 len = strlen(ke->type);

	line += strspn(line, " \t");
	if (strncmp(line, ke->type, len) == 0 && (line[len] == ' ' || line[len] == '\t'))
		return 0;
	xasprintf(cause, "a key given here takes no options: give 'TYPE BASE64 [COMMENT]'");
	return -1;
}

/* Check that a comment holds no control characters (it is shown on one line). */
static int
store_key_check_comment(const char *comment, char **cause)
{
	const unsigned char	*p;

	if (comment == NULL)
		return 0;
	for (p = (const unsigned char *)comment; *p != '\0'; p++) {
		if (*p < 0x20 || *p == 0x7f) {
			xasprintf(cause, "the key comment holds a control character");
			return -1;
		}
	}
	return 0;
}

/* Parse an OpenSSH public key line (no options) into a key record for account. */
static struct store_key *
store_key_parse(const char *account, const char *line, const char *added_by, char **cause)
{
	struct store_key	*k;
	struct keyent		*ke;
	char			*b64, *why;
	int			 rc;

	if ((rc = keys_parse_line(line, &ke, &why)) != 0) {
		if (rc == 1)
			xasprintf(cause, "the key line is empty");
		else {
			xasprintf(cause, "invalid key: %s", why);
			free(why);
		}
		return NULL;
	}
	why = NULL;
	if (store_key_no_options(line, ke, &why) != 0 ||
	    store_key_check_comment(ke->comment, &why) != 0 ||
	    ssh_pki_export_pubkey_base64(ke->key, &b64) != SSH_OK) {
		if (why == NULL)
			xasprintf(&why, "cannot encode the key");
		*cause = why;
		keyent_free(ke);
		return NULL;
	}
	k = xcalloc(1, sizeof *k);
	k->fingerprint = xstrdup(ke->fingerprint);
	k->account = xstrdup(account);
	k->type = xstrdup(ke->type);
	xasprintf(&k->key, "%s %s", ke->type, b64);
	k->comment = ke->comment != NULL ? xstrdup(ke->comment) : NULL;
	k->added_by = xstrdup(added_by);
	k->created = store_now();
	ssh_string_free_char(b64);
	keyent_free(ke);
	return k;
}

/* Within a transaction: fail if the key's fingerprint is registered already, naming to whom. */
static int
store_key_unique(struct store *st, const char *fingerprint, char **cause)
{
	sqlite3_stmt	*stmt;
	char		*owner = NULL, q[LOG_QUOTE_SIZE];
	int		 rc;

	if (store_prepare(st, "SELECT account FROM keys WHERE fingerprint = ?1", &stmt,
	    cause) != 0)
		return -1;
	sqlite3_bind_text(stmt, 1, fingerprint, -1, SQLITE_TRANSIENT);
	if ((rc = sqlite3_step(stmt)) == SQLITE_ROW)
		owner = store_col_text(stmt, 0);
	sqlite3_finalize(stmt);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		store_error(st, rc, cause);
		return -1;
	}
	if (owner == NULL)
		return 0;
	xasprintf(cause, "key %s is already registered to account '%s'", fingerprint,
	    log_quote(owner, q));
	free(owner);
	return -1;
}

/* Within a transaction: insert key record k. */
static int
store_key_insert(struct store *st, const struct store_key *k, char **cause)
{
	sqlite3_stmt	*stmt;

	if (store_prepare(st, "INSERT INTO keys (fingerprint, account, type, key, comment, "
	    "added_by, created) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)", &stmt, cause) != 0)
		return -1;
	sqlite3_bind_text(stmt, 1, k->fingerprint, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(stmt, 2, k->account, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(stmt, 3, k->type, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(stmt, 4, k->key, -1, SQLITE_TRANSIENT);
	if (k->comment != NULL)
		sqlite3_bind_text(stmt, 5, k->comment, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(stmt, 5);
	sqlite3_bind_text(stmt, 6, k->added_by, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(stmt, 7, k->created);
	return store_done(st, stmt, cause);
}

/*
 * Add the public key of an OpenSSH line "TYPE BASE64 [COMMENT]" to account; added_by says who
 * ("tunnelgwctl", "register"). *out, when not NULL, gets the new record (free it).
 */
int
store_key_add(struct store *st, const char *account, const char *line, const char *added_by,
    struct store_key **out, char **cause)
{
	struct store_key	*k;

	if (out != NULL)
		*out = NULL;
	if (added_by[0] == '\0' || strlen(added_by) > STORE_MAX_ADDED_BY) {
		xasprintf(cause, "added_by must be 1-%d characters", STORE_MAX_ADDED_BY);
		return -1;
	}
	if ((k = store_key_parse(account, line, added_by, cause)) == NULL)
		return -1;
	if (store_begin(st, cause) != 0)
		goto fail;
	if (store_need_account(st, account, cause) != 0 ||
	    store_key_unique(st, k->fingerprint, cause) != 0 ||
	    store_key_insert(st, k, cause) != 0) {
		store_rollback(st);
		goto fail;
	}
	if (store_commit(st, 1, cause) != 0)
		goto fail;
	if (out != NULL)
		*out = k;
	else
		store_key_free(k);
	return 0;

fail:
	store_key_free(k);
	return -1;
}

/* Delete the key with this fingerprint. */
int
store_key_del(struct store *st, const char *fingerprint, char **cause)
{
	sqlite3_stmt	*stmt;
	char		 q[LOG_QUOTE_SIZE];

	if (store_begin(st, cause) != 0)
		return -1;
	if (store_prepare(st, "DELETE FROM keys WHERE fingerprint = ?1", &stmt, cause) != 0)
		return store_abort(st);
	sqlite3_bind_text(stmt, 1, fingerprint, -1, SQLITE_TRANSIENT);
	if (store_done(st, stmt, cause) != 0)
		return store_abort(st);
	if (sqlite3_changes(st->db) == 0) {
		xasprintf(cause, "no key with fingerprint '%s'", log_quote(fingerprint, q));
		return store_abort(st);
	}
	return store_commit(st, 1, cause);
}

/* The columns of a key record. */
#define STORE_KEY_SELECT \
	"SELECT fingerprint, account, type, key, comment, added_by, created FROM keys"

/* Make a key record of a row of STORE_KEY_SELECT. */
static void *
store_key_row(sqlite3_stmt *stmt)
{
	struct store_key	*k = xcalloc(1, sizeof *k);

	k->fingerprint = store_col_text(stmt, 0);
	k->account = store_col_text(stmt, 1);
	k->type = store_col_text(stmt, 2);
	k->key = store_col_text(stmt, 3);
	k->comment = store_col_text(stmt, 4);
	k->added_by = store_col_text(stmt, 5);
	k->created = store_col_int(stmt, 6, 0);
	return k;
}

/* Find the key with this fingerprint: *out gets it, or NULL when there is none. */
int
store_key_find(struct store *st, const char *fingerprint, struct store_key **out,
    char **cause)
{
	sqlite3_stmt	*stmt;
	void		**v;
	size_t		  n, i;

	*out = NULL;
	if (store_prepare(st, STORE_KEY_SELECT " WHERE fingerprint = ?1", &stmt, cause) != 0)
		return -1;
	sqlite3_bind_text(stmt, 1, fingerprint, -1, SQLITE_TRANSIENT);
	if (store_collect(st, stmt, store_key_row, &v, &n, cause) != 0) {
		for (i = 0; i < n; i++)
			store_key_free(v[i]);
		free(v);
		return -1;
	}
	if (n != 0)
		*out = v[0];
	free(v);
	return 0;
}

/* List every key, by account, then age. */
int
store_key_list(struct store *st, struct store_key ***out, size_t *n, char **cause)
{
	sqlite3_stmt	*stmt;
	void		**v;
	size_t		  i;
	int		  rc;

	*out = NULL;
	*n = 0;
	if (store_prepare(st, STORE_KEY_SELECT " ORDER BY account, created, fingerprint", &stmt,
	    cause) != 0)
		return -1;
	rc = store_collect(st, stmt, store_key_row, &v, n, cause);
	*out = xreallocarray(NULL, *n, sizeof **out);
	for (i = 0; i < *n; i++)
		(*out)[i] = v[i];
	free(v);
	if (rc != 0) {
		store_key_list_free(*out, *n);
		*out = NULL;
		*n = 0;
	}
	return rc;
}

/* Free a key record; NULL is a no-op. */
void
store_key_free(struct store_key *k)
{
	if (k == NULL)
		return;
	free(k->fingerprint);
	free(k->account);
	free(k->type);
	free(k->key);
	free(k->comment);
	free(k->added_by);
	free(k);
}

/* Free a list of key records. */
void
store_key_list_free(struct store_key **v, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		store_key_free(v[i]);
	free(v);
}

/* --- reserved addresses ------------------------------------------------------------------- */

/* A uniform random number below n (n > 0) from OpenSSL's generator. */
static int
store_random_below(uint32_t n, uint32_t *out, char **cause)
{
	uint32_t	 v, limit = UINT32_MAX - UINT32_MAX % n;

	do {
		if (RAND_bytes((unsigned char *)&v, sizeof v) != 1) {
			xasprintf(cause, "cannot get random bytes from OpenSSL");
			return -1;
		}
	} while (v >= limit);	/* drop the top values that would favour small results */
	*out = v % n;
	return 0;
}

/* Within a transaction: the reserved ports from lo to hi, ascending. */
static int
store_reserved_in(struct store *st, int lo, int hi, int **ports, size_t *n, char **cause)
{
	sqlite3_stmt	*stmt;
	size_t		 max = (size_t)(hi - lo + 1);
	int		 rc;

	*ports = xreallocarray(NULL, max, sizeof **ports);
	*n = 0;
	if (store_prepare(st, "SELECT port FROM addresses WHERE port BETWEEN ?1 AND ?2 "
	    "ORDER BY port", &stmt, cause) != 0)
		return -1;
	sqlite3_bind_int(stmt, 1, lo);
	sqlite3_bind_int(stmt, 2, hi);
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW && *n < max)
		(*ports)[(*n)++] = sqlite3_column_int(stmt, 0);
	sqlite3_finalize(stmt);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
		store_error(st, rc, cause);
		return -1;
	}
	return 0;
}

/* Within a transaction: pick a port of lo-hi uniformly among those nobody reserved. */
static int
store_pick_port(struct store *st, int lo, int hi, int *port, char **cause)
{
	int		*taken;
	size_t		 ntaken, i;
	uint32_t	 nfree, k;
	int		 p, rc = -1;

	if (store_reserved_in(st, lo, hi, &taken, &ntaken, cause) != 0)
		goto out;
	nfree = (uint32_t)(hi - lo + 1) - (uint32_t)ntaken;
	if (nfree == 0) {
		xasprintf(cause, "no free port left in port_range %d-%d: all %zu are reserved", lo,
		    hi, ntaken);
		goto out;
	}
	if (store_random_below(nfree, &k, cause) != 0)
		goto out;
	/* The k-th free port: step over every reserved port at or below the candidate. */
	p = lo + (int)k;
	for (i = 0; i < ntaken && taken[i] <= p; i++)
		p++;
	*port = p;
	rc = 0;
out:
	free(taken);
	return rc;
}

/* Within a transaction: fail if port is reserved already, naming by whom. */
static int
store_port_free(struct store *st, int port, char **cause)
{
	char	*owner = NULL, q[LOG_QUOTE_SIZE];

	if (store_address_owner(st, port, &owner, cause) != 0)
		return -1;
	if (owner == NULL)
		return 0;
	xasprintf(cause, "port %d is already reserved by account '%s'", port,
	    log_quote(owner, q));
	free(owner);
	return -1;
}

/*
 * Reserve a port for account: port, or when 0 a random one nobody reserved; either within
 * lo-hi (the port_range). *out gets the port reserved.
 */
int
store_address_reserve(struct store *st, const char *account, int port, int lo, int hi,
    int *out, char **cause)
{
	sqlite3_stmt	*stmt;

	if (lo < 1 || hi > 65535 || lo > hi) {
		xasprintf(cause, "invalid port_range %d-%d", lo, hi);
		return -1;
	}
	if (port != 0 && (port < lo || port > hi)) {
		xasprintf(cause, "port %d is outside port_range %d-%d", port, lo, hi);
		return -1;
	}
	if (store_begin(st, cause) != 0)
		return -1;
	if (store_need_account(st, account, cause) != 0)
		return store_abort(st);
	if (port != 0 && store_port_free(st, port, cause) != 0)
		return store_abort(st);
	if (port == 0 && store_pick_port(st, lo, hi, &port, cause) != 0)
		return store_abort(st);
	if (store_prepare(st, "INSERT INTO addresses (port, account, created) "
	    "VALUES (?1, ?2, ?3)", &stmt, cause) != 0)
		return store_abort(st);
	sqlite3_bind_int(stmt, 1, port);
	sqlite3_bind_text(stmt, 2, account, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(stmt, 3, store_now());
	if (store_done(st, stmt, cause) != 0)
		return store_abort(st);
	if (store_commit(st, 1, cause) != 0)
		return -1;
	*out = port;
	return 0;
}

/* Release reserved port. */
int
store_address_release(struct store *st, int port, char **cause)
{
	sqlite3_stmt	*stmt;

	if (store_begin(st, cause) != 0)
		return -1;
	if (store_prepare(st, "DELETE FROM addresses WHERE port = ?1", &stmt, cause) != 0)
		return store_abort(st);
	sqlite3_bind_int(stmt, 1, port);
	if (store_done(st, stmt, cause) != 0)
		return store_abort(st);
	if (sqlite3_changes(st->db) == 0) {
		xasprintf(cause, "port %d is not reserved", port);
		return store_abort(st);
	}
	return store_commit(st, 1, cause);
}

/* Who reserved port: *account gets the name (free it), or NULL when nobody did. */
int
store_address_owner(struct store *st, int port, char **account, char **cause)
{
	sqlite3_stmt	*stmt;
	int		 rc;

	*account = NULL;
	if (store_prepare(st, "SELECT account FROM addresses WHERE port = ?1", &stmt,
	    cause) != 0)
		return -1;
	sqlite3_bind_int(stmt, 1, port);
	if ((rc = sqlite3_step(stmt)) == SQLITE_ROW)
		*account = store_col_text(stmt, 0);
	sqlite3_finalize(stmt);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		store_error(st, rc, cause);
		return -1;
	}
	return 0;
}

/* Make an address of a row: port, account, created. */
static void *
store_address_row(sqlite3_stmt *stmt)
{
	struct store_address	*a = xcalloc(1, sizeof *a);

	a->port = sqlite3_column_int(stmt, 0);
	a->account = store_col_text(stmt, 1);
	a->created = store_col_int(stmt, 2, 0);
	return a;
}

/* List every reserved address, by port. */
int
store_address_list(struct store *st, struct store_address ***out, size_t *n, char **cause)
{
	sqlite3_stmt	*stmt;
	void		**v;
	size_t		  i;
	int		  rc;

	*out = NULL;
	*n = 0;
	if (store_prepare(st, "SELECT port, account, created FROM addresses ORDER BY port",
	    &stmt, cause) != 0)
		return -1;
	rc = store_collect(st, stmt, store_address_row, &v, n, cause);
	*out = xreallocarray(NULL, *n, sizeof **out);
	for (i = 0; i < *n; i++)
		(*out)[i] = v[i];
	free(v);
	if (rc != 0) {
		store_address_list_free(*out, *n);
		*out = NULL;
		*n = 0;
	}
	return rc;
}

/* Free an address; NULL is a no-op. */
void
store_address_free(struct store_address *a)
{
	if (a == NULL)
		return;
	free(a->account);
	free(a);
}

/* Free a list of addresses. */
void
store_address_list_free(struct store_address **v, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		store_address_free(v[i]);
	free(v);
}

/* --- events ------------------------------------------------------------------------------- */

/* Bind text, or NULL when s is NULL. */
static int
store_bind_text_or_null(sqlite3_stmt *stmt, int col, const char *s)
{
	if (s == NULL)
		return sqlite3_bind_null(stmt, col);
	return sqlite3_bind_text(stmt, col, s, -1, SQLITE_STATIC);
}

/* Bind a number, or NULL when it is negative (none). */
static int
store_bind_count(sqlite3_stmt *stmt, int col, int64_t v)
{
	if (v < 0)
		return sqlite3_bind_null(stmt, col);
	return sqlite3_bind_int64(stmt, col, v);
}

/* Within a transaction: insert n events with one prepared statement. */
static int
store_event_insert(struct store *st, const struct store_event *ev, size_t n, char **cause)
{
	sqlite3_stmt	*stmt;
	size_t		 i;
	int		 rc;

	if (store_prepare(st, "INSERT INTO events (time, event, account, url, client, bytes_in, "
	    "bytes_out, duration_ms, detail) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)", &stmt,
	    cause) != 0)
		return -1;
	for (i = 0; i < n; i++) {
		sqlite3_bind_int64(stmt, 1, ev[i].time);
		sqlite3_bind_text(stmt, 2, ev[i].event != NULL ? ev[i].event : "?", -1,
		    SQLITE_STATIC);
		store_bind_text_or_null(stmt, 3, ev[i].account);
		store_bind_text_or_null(stmt, 4, ev[i].url);
		store_bind_text_or_null(stmt, 5, ev[i].client);
		store_bind_count(stmt, 6, ev[i].bytes_in);
		store_bind_count(stmt, 7, ev[i].bytes_out);
		store_bind_count(stmt, 8, ev[i].duration_ms);
		store_bind_text_or_null(stmt, 9, ev[i].detail);
		rc = sqlite3_step(stmt);
		sqlite3_reset(stmt);
		sqlite3_clear_bindings(stmt);
		if (rc != SQLITE_DONE) {
			store_error(st, rc, cause);
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
store_event_trim(struct store *st, int64_t before, int64_t max_rows, char **cause)
{
	sqlite3_stmt	*stmt;

	if (before > 0) {
		if (store_prepare(st, "DELETE FROM events WHERE time < ?1", &stmt, cause) != 0)
			return -1;
		sqlite3_bind_int64(stmt, 1, before);
		if (store_done(st, stmt, cause) != 0)
			return -1;
	}
	if (max_rows > 0) {
		if (store_prepare(st, "DELETE FROM events WHERE id <= "
		    "(SELECT max(id) FROM events) - ?1", &stmt, cause) != 0)
			return -1;
		sqlite3_bind_int64(stmt, 1, max_rows);
		if (store_done(st, stmt, cause) != 0)
			return -1;
	}
	return 0;
}

/*
 * Add a batch of n events in one transaction and trim the table (see store_event_trim).
 * Waits at most STORE_EVENT_BUSY ms for another writer: the daemon's main thread calls
 * this, and keeps the batch to try again when the database is busy. Does not count as a
 * change the daemon must notice.
 */
int
store_event_add(struct store *st, const struct store_event *ev, size_t n, int64_t before,
    int64_t max_rows, char **cause)
{
	int	 busy = st->busy_ms, rc = -1;

	st->busy_ms = busy < STORE_EVENT_BUSY ? busy : STORE_EVENT_BUSY;
	sqlite3_busy_timeout(st->db, st->busy_ms);
	if (store_begin(st, cause) != 0)
		goto out;
	if (store_event_insert(st, ev, n, cause) != 0 ||
	    store_event_trim(st, before, max_rows, cause) != 0) {
		store_rollback(st);
		goto out;
	}
	rc = store_commit(st, 0, cause);
out:
	st->busy_ms = busy;
	sqlite3_busy_timeout(st->db, busy);
	return rc;
}

/* Make an event of a row: id, time, event, account, url, client, bytes, duration, detail. */
static void *
store_event_row(sqlite3_stmt *stmt)
{
	struct store_event	*e = xcalloc(1, sizeof *e);

	e->id = sqlite3_column_int64(stmt, 0);
	e->time = store_col_int(stmt, 1, 0);
	e->event = store_col_text(stmt, 2);
	e->account = store_col_text(stmt, 3);
	e->url = store_col_text(stmt, 4);
	e->client = store_col_text(stmt, 5);
	e->bytes_in = store_col_int(stmt, 6, -1);
	e->bytes_out = store_col_int(stmt, 7, -1);
	e->duration_ms = store_col_int(stmt, 8, -1);
	e->detail = store_col_text(stmt, 9);
	return e;
}

/* List the newest limit events, newest first; only account's when account is not NULL. */
int
store_event_list(struct store *st, const char *account, int limit, struct store_event ***out,
    size_t *n, char **cause)
{
	sqlite3_stmt	*stmt;
	void		**v;
	size_t		  i;
	int		  rc;

	*out = NULL;
	*n = 0;
	if (store_prepare(st, "SELECT id, time, event, account, url, client, bytes_in, "
	    "bytes_out, duration_ms, detail FROM events WHERE ?1 IS NULL OR account = ?1 "
	    "ORDER BY id DESC LIMIT ?2", &stmt, cause) != 0)
		return -1;
	store_bind_text_or_null(stmt, 1, account);
	sqlite3_bind_int(stmt, 2, limit);
	rc = store_collect(st, stmt, store_event_row, &v, n, cause);
	*out = xreallocarray(NULL, *n, sizeof **out);
	for (i = 0; i < *n; i++)
		(*out)[i] = v[i];
	free(v);
	if (rc != 0) {
		store_event_list_free(*out, *n);
		*out = NULL;
		*n = 0;
	}
	return rc;
}

/* Free an event; NULL is a no-op. */
void
store_event_free(struct store_event *e)
{
	if (e == NULL)
		return;
	free(e->event);
	free(e->account);
	free(e->url);
	free(e->client);
	free(e->detail);
	free(e);
}

/* Free a list of events. */
void
store_event_list_free(struct store_event **v, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		store_event_free(v[i]);
	free(v);
}
