/* SPDX-License-Identifier: ISC */
/*
 * tunnelgw: read-ahead under libssh, and the session descriptor kept from libssh's close.
 *
 * libssh 0.10.6 reads its socket 4096 bytes at a time, one poll() and one recv() each, so a
 * 32 KiB packet costs sixteen system calls. libssh has no hook for its reads, but it calls
 * recv(), poll() and close() through the C library, so the gateway defines those three: for
 * a descriptor a session registered (after its first key exchange), recv() reads up to
 * SSHGW_READAHEAD bytes at once into a buffer of the session's and hands libssh its 4096
 * from there; poll() reports such a descriptor readable while the buffer holds bytes;
 * close() forgets it. Every other descriptor, and every other call, goes straight to the C
 * library's function, at the cost of one array lookup.
 *
 * libssh also closes its socket inside its own calls (on an error, when the client leaves,
 * in ssh_disconnect()), while the event loop still watches that descriptor. A session
 * therefore marks its descriptor kept (sshgw_fd_keep): libssh's close() of it only forgets
 * the read-ahead, the descriptor stays open and registered, and the session closes it
 * itself, last, after it left the event loop (sshgw_fd_close). So a number cannot be reused
 * while the loop still watches it, and a session costs one descriptor.
 *
 * A buffer exists only while it holds bytes: an idle session holds none. The tables are
 * indexed by descriptor; an entry is written only by the thread that owns the session, and
 * cleared before its descriptor is closed, so a reused number never finds stale state.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>

#include <dlfcn.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "sshgw-int.h"
#include "xmalloc.h"

#define SSHGW_READAHEAD_FDS	65536	/* descriptors above this read as before, and are not kept */

/* The bytes read ahead for one descriptor. */
struct sshgw_readahead {
	unsigned char	*buf;		/* NULL while empty */
	size_t		 off;
	size_t		 len;
};

static _Atomic(struct sshgw_readahead *) sshgw_readahead_fds[SSHGW_READAHEAD_FDS];
static atomic_uchar sshgw_kept_fds[SSHGW_READAHEAD_FDS];	/* 1: only the session closes it */

static ssize_t	(*sshgw_real_recv)(int, void *, size_t, int);
static int	(*sshgw_real_poll)(struct pollfd *, nfds_t, int);
static int	(*sshgw_real_close)(int);
static pthread_once_t sshgw_readahead_once = PTHREAD_ONCE_INIT;

/* Find the C library's own functions, once. */
static void
sshgw_readahead_resolve(void)
{
	sshgw_real_recv = (ssize_t (*)(int, void *, size_t, int))dlsym(RTLD_NEXT, "recv");
	sshgw_real_poll = (int (*)(struct pollfd *, nfds_t, int))dlsym(RTLD_NEXT, "poll");
	sshgw_real_close = (int (*)(int))dlsym(RTLD_NEXT, "close");
	if (sshgw_real_recv == NULL || sshgw_real_poll == NULL || sshgw_real_close == NULL)
		abort();
}

/* The read-ahead state of fd, or NULL when it has none. */
static struct sshgw_readahead *
sshgw_readahead_of(int fd)
{
	if (fd < 0 || fd >= SSHGW_READAHEAD_FDS)
		return NULL;
	return atomic_load_explicit(&sshgw_readahead_fds[fd], memory_order_acquire);
}

/* Read fd ahead from now on (a session's libssh descriptor, after the first key exchange). */
void
sshgw_readahead_start(int fd)
{
	if (fd < 0 || fd >= SSHGW_READAHEAD_FDS || sshgw_readahead_of(fd) != NULL)
		return;
	pthread_once(&sshgw_readahead_once, sshgw_readahead_resolve);
	atomic_store_explicit(&sshgw_readahead_fds[fd], xcalloc(1, sizeof(struct sshgw_readahead)),
	    memory_order_release);
}

/* Forget fd's read-ahead and whatever it still holds. */
void
sshgw_readahead_stop(int fd)
{
	struct sshgw_readahead	*ra = sshgw_readahead_of(fd);

	if (ra == NULL)
		return;
	atomic_store_explicit(&sshgw_readahead_fds[fd], NULL, memory_order_release);
	free(ra->buf);
	free(ra);
}

/* Does fd hold bytes read ahead that libssh has not taken yet. */
int
sshgw_readahead_pending(int fd)
{
	struct sshgw_readahead	*ra = sshgw_readahead_of(fd);

	return ra != NULL && ra->off < ra->len;
}

/* Hand out up to len bytes read ahead; the buffer goes once it is empty. */
static size_t
sshgw_readahead_take(struct sshgw_readahead *ra, void *buf, size_t len)
{
	size_t	 n = ra->len - ra->off;

	if (n > len)
		n = len;
	memcpy(buf, ra->buf + ra->off, n);
	ra->off += n;
	if (ra->off == ra->len) {
		free(ra->buf);
		ra->buf = NULL;
		ra->off = ra->len = 0;
	}
	return n;
}

/* recv(2), reading registered descriptors ahead (see the top of this file). */
ssize_t
recv(int fd, void *buf, size_t len, int flags)
{
	struct sshgw_readahead	*ra;
	ssize_t			 n;

	pthread_once(&sshgw_readahead_once, sshgw_readahead_resolve);
	if ((ra = sshgw_readahead_of(fd)) == NULL || flags != 0 || len == 0)
		return sshgw_real_recv(fd, buf, len, flags);
	if (ra->buf != NULL)
		return (ssize_t)sshgw_readahead_take(ra, buf, len);
	if (len >= SSHGW_READAHEAD)
		return sshgw_real_recv(fd, buf, len, 0);
	ra->buf = xmalloc(SSHGW_READAHEAD);
	if ((n = sshgw_real_recv(fd, ra->buf, SSHGW_READAHEAD, 0)) <= 0) {
		free(ra->buf);
		ra->buf = NULL;
		return n;
	}
	ra->off = 0;
	ra->len = (size_t)n;
	return (ssize_t)sshgw_readahead_take(ra, buf, len);
}

/*
 * poll(2): a registered descriptor with bytes read ahead is readable at once. When every
 * descriptor asked about is such a one, the kernel is not asked at all: it is reported
 * readable only. Not writable, even when asked (libssh asks before every read): libssh
 * takes a send that fails with EAGAIN after a reported POLLOUT for a broken connection, so
 * its output waits until the bytes read ahead are taken and the kernel is asked again, a
 * few packets later. Else the kernel is asked, without waiting, and the answers merged.
 */
int
poll(struct pollfd *fds, nfds_t n, int timeout)
{
	nfds_t	 i;
	int	 ahead = 0, others = 0, rc;

	pthread_once(&sshgw_readahead_once, sshgw_readahead_resolve);
	for (i = 0; i < n; i++) {
		if ((fds[i].events & POLLIN) != 0 && sshgw_readahead_pending(fds[i].fd)) {
			ahead = 1;
			if ((fds[i].events & ~(POLLIN | POLLOUT)) != 0)
				others = 1;
		} else
			others = 1;
	}
	if (!ahead)
		return sshgw_real_poll(fds, n, timeout);
	if (!others) {
		for (i = 0; i < n; i++)
			fds[i].revents = POLLIN;
		return (int)n;
	}
	if ((rc = sshgw_real_poll(fds, n, 0)) == -1)
		return -1;
	for (rc = 0, i = 0; i < n; i++) {
		if ((fds[i].events & POLLIN) != 0 && sshgw_readahead_pending(fds[i].fd))
			fds[i].revents |= POLLIN;
		if (fds[i].revents != 0)
			rc++;
	}
	return rc;
}

/*
 * Keep fd open when libssh closes it: the session closes it with sshgw_fd_close(). Returns
 * 0, or -1 for a descriptor beyond the table (the caller gives libssh a duplicate instead).
 */
int
sshgw_fd_keep(int fd)
{
	if (fd < 0 || fd >= SSHGW_READAHEAD_FDS)
		return -1;
	pthread_once(&sshgw_readahead_once, sshgw_readahead_resolve);
	atomic_store_explicit(&sshgw_kept_fds[fd], 1, memory_order_release);
	return 0;
}

/* Close a descriptor, kept or not: what the session calls once it left the event loop. */
int
sshgw_fd_close(int fd)
{
	if (fd >= 0 && fd < SSHGW_READAHEAD_FDS)
		atomic_store_explicit(&sshgw_kept_fds[fd], 0, memory_order_release);
	return close(fd);
}

/*
 * close(2): a registered descriptor is forgotten first, so its number comes back clean; a
 * kept one stays open (see the top of this file).
 */
int
close(int fd)
{
	pthread_once(&sshgw_readahead_once, sshgw_readahead_resolve);
	sshgw_readahead_stop(fd);
	if (fd >= 0 && fd < SSHGW_READAHEAD_FDS &&
	    atomic_load_explicit(&sshgw_kept_fds[fd], memory_order_acquire) != 0)
		return 0;
	return sshgw_real_close(fd);
}
