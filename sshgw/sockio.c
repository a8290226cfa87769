/* SPDX-License-Identifier: ISC */
/*
 * tunnelgw: the socket calls under libssh: read-ahead, write-behind, and the session
 * descriptor kept from libssh's close.
 *
 * libssh has no hook for its socket I/O, but it calls recv(), send(), poll() and close()
 * through the C library, so the gateway defines those four. Every descriptor a session did
 * not register, and every call with flags the gateway does not handle, goes straight to
 * the C library's function, at the cost of one array lookup.
 *
 * Read-ahead. libssh 0.10.6 reads its socket 4096 bytes at a time, one poll() and one
 * recv() each, so a 32 KiB packet costs sixteen system calls. For a descriptor a session
 * registered (after its first key exchange), recv() reads up to SSHGW_READAHEAD bytes at
 * once into a buffer of the session's and hands libssh its 4096 from there; poll() reports
 * such a descriptor readable while the buffer holds bytes.
 *
 * Write-behind. libssh sends every packet with its own send() as soon as it is made: a
 * channel open, its data, its EOF and its close are four segments, four wake-ups of the
 * client. For a registered descriptor, send() keeps the bytes and says they were sent; the
 * session is told (its wake function) when the first of them is kept, and sends them all
 * with one send() once the work of that event-loop round is done (sshgw_sockio_flush).
 * Large sends (bulk data, 8 KiB and more) gain nothing from that and would cost a copy:
 * they go to the kernel at once when nothing is kept before them.
 * Whatever the kernel does not take then waits, in order, for the socket to be writable;
 * libssh never sees EAGAIN from a send, which it would take for a broken connection. A send
 * that failed makes the next send() fail with its error, and the flush report it.
 *
 * Kept descriptors. libssh also closes its socket inside its own calls (on an error, when
 * the client leaves, in ssh_disconnect()), while the event loop still watches that
 * descriptor. A session therefore marks its descriptor kept (sshgw_fd_keep): libssh's
 * close() of it only forgets the buffers (after one last try to send what was kept), the
 * descriptor stays open and registered, and the session closes it itself, last, after it
 * left the event loop (sshgw_fd_close). So a number cannot be reused while the loop still
 * watches it, and a session costs one descriptor.
 *
 * Buffers exist only while they hold bytes: an idle session holds none. The tables are
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

#define SSHGW_SOCKIO_FDS	65536	/* descriptors above this pass straight, and are not kept */
#define SSHGW_WRITEBEHIND_FLUSH	(256 * 1024)	/* kept bytes that are sent at once */
#define SSHGW_WRITEBEHIND_LARGE	(8 * 1024)	/* a send this large is not kept if need not be */

/* What one registered descriptor holds. */
struct sshgw_sockio {
	unsigned char	*rbuf;		/* bytes read ahead; NULL while empty */
	size_t		 roff;
	size_t		 rlen;
	unsigned char	*wbuf;		/* bytes kept to send; NULL while empty */
	size_t		 woff;
	size_t		 wlen;
	size_t		 wcap;
	int		 werr;		/* the errno of a send that failed, else 0 */
	void		(*wake)(void *);	/* told when the first bytes are kept */
	void		*arg;
};

static _Atomic(struct sshgw_sockio *) sshgw_sockio_fds[SSHGW_SOCKIO_FDS];
static atomic_uchar sshgw_kept_fds[SSHGW_SOCKIO_FDS];	/* 1: only the session closes it */

static ssize_t	(*sshgw_real_recv)(int, void *, size_t, int);
static ssize_t	(*sshgw_real_send)(int, const void *, size_t, int);
static int	(*sshgw_real_poll)(struct pollfd *, nfds_t, int);
static int	(*sshgw_real_close)(int);
static pthread_once_t sshgw_sockio_once = PTHREAD_ONCE_INIT;

/* Find the C library's own functions, once. */
static void
sshgw_sockio_resolve(void)
{
	sshgw_real_recv = (ssize_t (*)(int, void *, size_t, int))dlsym(RTLD_NEXT, "recv");
	sshgw_real_send = (ssize_t (*)(int, const void *, size_t, int))dlsym(RTLD_NEXT, "send");
	sshgw_real_poll = (int (*)(struct pollfd *, nfds_t, int))dlsym(RTLD_NEXT, "poll");
	sshgw_real_close = (int (*)(int))dlsym(RTLD_NEXT, "close");
	if (sshgw_real_recv == NULL || sshgw_real_send == NULL || sshgw_real_poll == NULL ||
	    sshgw_real_close == NULL)
		abort();
}

/* The state of fd, or NULL when it has none. */
static struct sshgw_sockio *
sshgw_sockio_of(int fd)
{
	if (fd < 0 || fd >= SSHGW_SOCKIO_FDS)
		return NULL;
	return atomic_load_explicit(&sshgw_sockio_fds[fd], memory_order_acquire);
}

/*
 * Read fd ahead and write it behind from now on (a session's libssh descriptor, after the
 * first key exchange); wake(arg) is called, inside libssh's send, when bytes start waiting.
 */
void
sshgw_sockio_start(int fd, void (*wake)(void *), void *arg)
{
	struct sshgw_sockio	*io;

	if (fd < 0 || fd >= SSHGW_SOCKIO_FDS || sshgw_sockio_of(fd) != NULL)
		return;
	pthread_once(&sshgw_sockio_once, sshgw_sockio_resolve);
	io = xcalloc(1, sizeof *io);
	io->wake = wake;
	io->arg = arg;
	atomic_store_explicit(&sshgw_sockio_fds[fd], io, memory_order_release);
}

/* Send what fd keeps, as far as the kernel takes it; -1 (errno set) when a send failed. */
static int
sshgw_sockio_push(int fd, struct sshgw_sockio *io)
{
	ssize_t	 n;

	while (io->wlen > io->woff && io->werr == 0) {
		n = sshgw_real_send(fd, io->wbuf + io->woff, io->wlen - io->woff,
		    MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (n == -1) {
			io->werr = errno;
			break;
		}
		io->woff += (size_t)n;
	}
	if (io->woff == io->wlen || io->werr != 0) {
		free(io->wbuf);
		io->wbuf = NULL;
		io->woff = io->wlen = io->wcap = 0;
	}
	if (io->werr != 0) {
		errno = io->werr;
		return -1;
	}
	return 0;
}

/* Forget fd's state and whatever it still holds (after one last try to send it). */
void
sshgw_sockio_stop(int fd)
{
	struct sshgw_sockio	*io = sshgw_sockio_of(fd);
	int			 saved = errno;

	if (io == NULL)
		return;
	(void)sshgw_sockio_push(fd, io);
	atomic_store_explicit(&sshgw_sockio_fds[fd], NULL, memory_order_release);
	free(io->rbuf);
	free(io->wbuf);
	free(io);
	errno = saved;
}

/* Does fd hold bytes read ahead that libssh has not taken yet. */
int
sshgw_readahead_pending(int fd)
{
	struct sshgw_sockio	*io = sshgw_sockio_of(fd);

	return io != NULL && io->roff < io->rlen;
}

/* How many bytes fd keeps that the kernel has not taken yet. */
size_t
sshgw_writebehind_pending(int fd)
{
	struct sshgw_sockio	*io = sshgw_sockio_of(fd);

	return io != NULL ? io->wlen - io->woff : 0;
}

/*
 * Send what fd keeps: 0 when the kernel took it all or is full (sshgw_writebehind_pending
 * says what waits), -1 with errno when a send failed.
 */
int
sshgw_sockio_flush(int fd)
{
	struct sshgw_sockio	*io = sshgw_sockio_of(fd);

	if (io == NULL)
		return 0;
	return sshgw_sockio_push(fd, io);
}

/* Hand out up to len bytes read ahead; the buffer goes once it is empty. */
static size_t
sshgw_readahead_take(struct sshgw_sockio *io, void *buf, size_t len)
{
	size_t	 n = io->rlen - io->roff;

	if (n > len)
		n = len;
	memcpy(buf, io->rbuf + io->roff, n);
	io->roff += n;
	if (io->roff == io->rlen) {
		free(io->rbuf);
		io->rbuf = NULL;
		io->roff = io->rlen = 0;
	}
	return n;
}

/* recv(2), reading registered descriptors ahead (see the top of this file). */
ssize_t
recv(int fd, void *buf, size_t len, int flags)
{
	struct sshgw_sockio	*io;
	ssize_t			 n;

	pthread_once(&sshgw_sockio_once, sshgw_sockio_resolve);
	if ((io = sshgw_sockio_of(fd)) == NULL || flags != 0 || len == 0)
		return sshgw_real_recv(fd, buf, len, flags);
	if (io->rbuf != NULL)
		return (ssize_t)sshgw_readahead_take(io, buf, len);
	if (len >= SSHGW_READAHEAD)
		return sshgw_real_recv(fd, buf, len, 0);
	io->rbuf = xmalloc(SSHGW_READAHEAD);
	if ((n = sshgw_real_recv(fd, io->rbuf, SSHGW_READAHEAD, 0)) <= 0) {
		free(io->rbuf);
		io->rbuf = NULL;
		return n;
	}
	io->roff = 0;
	io->rlen = (size_t)n;
	return (ssize_t)sshgw_readahead_take(io, buf, len);
}

/*
 * send(2), writing registered descriptors behind (see the top of this file): the bytes are
 * kept and reported sent, and the session is woken to send them at the end of the round.
 * A large send (a bulk packet) that finds nothing kept before it goes to the kernel at
 * once, which may take part of it as a send does; it is kept only when the kernel takes
 * none, since libssh must not see EAGAIN. More than SSHGW_WRITEBEHIND_FLUSH kept goes to
 * the kernel at once, as far as it takes it.
 */
ssize_t
send(int fd, const void *buf, size_t len, int flags)
{
	struct sshgw_sockio	*io;
	size_t			 want;
	ssize_t			 n;

	pthread_once(&sshgw_sockio_once, sshgw_sockio_resolve);
	if ((io = sshgw_sockio_of(fd)) == NULL || (flags & ~MSG_NOSIGNAL) != 0 || len == 0)
		return sshgw_real_send(fd, buf, len, flags);
	if (io->werr != 0) {
		errno = io->werr;
		return -1;
	}
	if (len >= SSHGW_WRITEBEHIND_LARGE && io->wlen > io->woff &&
	    sshgw_sockio_push(fd, io) != 0)
		return -1;
	if (len >= SSHGW_WRITEBEHIND_LARGE && io->wlen == io->woff) {
		do
			n = sshgw_real_send(fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		while (n == -1 && errno == EINTR);
		if (n >= 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) {
			if (n == -1)
				io->werr = errno;
			return n;
		}
	}
	if (io->wlen + len > io->wcap) {
		if (io->woff > 0) {	/* what was sent leaves the front */
			memmove(io->wbuf, io->wbuf + io->woff, io->wlen - io->woff);
			io->wlen -= io->woff;
			io->woff = 0;
		}
		for (want = io->wcap > 0 ? io->wcap : 16384; want < io->wlen + len; want *= 2)
			;
		if (want != io->wcap) {
			io->wbuf = xreallocarray(io->wbuf, 1, want);
			io->wcap = want;
		}
	}
	memcpy(io->wbuf + io->wlen, buf, len);
	io->wlen += len;
	if (io->wlen - io->woff == len && io->wake != NULL)
		io->wake(io->arg);
	if (io->wlen - io->woff >= SSHGW_WRITEBEHIND_FLUSH && sshgw_sockio_push(fd, io) != 0)
		return -1;
	return (ssize_t)len;
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

	pthread_once(&sshgw_sockio_once, sshgw_sockio_resolve);
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
	if (fd < 0 || fd >= SSHGW_SOCKIO_FDS)
		return -1;
	pthread_once(&sshgw_sockio_once, sshgw_sockio_resolve);
	atomic_store_explicit(&sshgw_kept_fds[fd], 1, memory_order_release);
	return 0;
}

/* Close a descriptor, kept or not: what the session calls once it left the event loop. */
int
sshgw_fd_close(int fd)
{
	if (fd >= 0 && fd < SSHGW_SOCKIO_FDS)
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
	pthread_once(&sshgw_sockio_once, sshgw_sockio_resolve);
	sshgw_sockio_stop(fd);
	if (fd >= 0 && fd < SSHGW_SOCKIO_FDS &&
	    atomic_load_explicit(&sshgw_kept_fds[fd], memory_order_acquire) != 0)
		return 0;
	return sshgw_real_close(fd);
}
