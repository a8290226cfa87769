/* SPDX-License-Identifier: ISC */
/* tunnelgw: the SQLite backend's database file, checked and locked before SQLite opens it. */
#include "config.h"

#include <sys/types.h>
#include <sys/file.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sqlite-int.h"
#include "xmalloc.h"

#define STORE_HEADER		"SQLite format 3"	/* and a NUL: the first 16 bytes */

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

/* Create a missing database file, mode 0600; its folder must exist. */
static int
store_sqlite_file_create(const char *path, char **cause)
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
store_sqlite_file_read_start(int fd, unsigned char *buf, size_t len)
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
store_sqlite_file_check(const char *path, char **cause)
{
	unsigned char	 hdr[100];
	struct stat	 sb;
	ssize_t		 n;
	int		 fd;

	if ((fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC)) == -1 && errno == ENOENT) {
		if (store_sqlite_file_create(path, cause) != 0)
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
	n = store_sqlite_file_read_start(fd, hdr, sizeof hdr);
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
 * Take the set-up lock of a database: an flock() on the file, which SQLite's own (fcntl)
 * locks do not see; waits up to busy_ms.
 */
static int
store_sqlite_file_lock(int fd, int busy_ms, char **cause)
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

/* Find the entry of a file this process already has open, by path. */
static struct store_file *
store_sqlite_file_find(const char *path)
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

/*
 * The first connection of this process to path: check the file, and take the set-up lock so
 * that processes opening it at the same moment take turns, from before SQLite opens it to the
 * end of the checks, the switch to WAL and the migration. Called with store_files_lock held.
 */
static struct store_file *
store_sqlite_file_first(const char *path, int busy_ms, char **cause)
{
	struct store_file	*f;
	struct stat		 sb;
	int			 fd;

	if ((fd = store_sqlite_file_check(path, cause)) == -1)
		return NULL;
	if (fstat(fd, &sb) == -1 || store_sqlite_file_lock(fd, busy_ms, cause) != 0) {
		if (*cause == NULL)
			xasprintf(cause, "DB: %s: %s", path, strerror(errno));
		close(fd);
		return NULL;
	}
	f = xcalloc(1, sizeof *f);
	f->dev = sb.st_dev;
	f->ino = sb.st_ino;
	f->fd = fd;
	f->next = store_files;
	store_files = f;
	return f;
}

/*
 * Hold the file at path for one more connection. *first is 1 when this process had no
 * connection to it: then the file was checked and the set-up lock is held, to be released
 * with store_sqlite_file_unlock once the connection is set up.
 */
struct store_file *
store_sqlite_file_hold(const char *path, int busy_ms, int *first, char **cause)
{
	struct store_file	*f;

	*first = 0;
	pthread_mutex_lock(&store_files_lock);
	if ((f = store_sqlite_file_find(path)) == NULL) {
		if ((f = store_sqlite_file_first(path, busy_ms, cause)) == NULL) {
			pthread_mutex_unlock(&store_files_lock);
			return NULL;
		}
		*first = 1;
	}
	f->refs++;
	pthread_mutex_unlock(&store_files_lock);
	return f;
}

/* Release the set-up lock a first connection took. */
void
store_sqlite_file_unlock(struct store_file *f)
{
	flock(f->fd, LOCK_UN);
}

/* Drop a connection's hold on its file; the last one closes the descriptor. */
void
store_sqlite_file_release(struct store_file *f)
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
