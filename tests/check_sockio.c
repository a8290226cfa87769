/* SPDX-License-Identifier: ISC */
/* tunnelgw: unit tests of the socket calls under libssh (sshgw/sockio.c). */
#include "config.h"

#include <sys/ioctl.h>
#include <sys/socket.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

#include "sshgw-int.h"
#include "tg_test.h"

#define TOTAL	(3 * SSHGW_READAHEAD + 1000)	/* more than one read-ahead holds */

/* How many bytes the kernel holds for reading on fd, in *n. */
static int
ioctl_queued(int fd, int *n)
{
	return ioctl(fd, FIONREAD, n);
}

/* A socket pair with TOTAL known bytes written into one end, all in the kernel already. */
static void
pair_with_bytes(int sv[2], unsigned char *sent)
{
	int	 size = 4 * TOTAL, i;
	ssize_t	 n;
	size_t	 off = 0;

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	setsockopt(sv[0], SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
	setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
	for (i = 0; i < TOTAL; i++)
		sent[i] = (unsigned char)(i * 7 + i / 251);
	while (off < TOTAL) {
		n = write(sv[1], sent + off, TOTAL - off);
		ck_assert_int_gt(n, 0);
		off += (size_t)n;
	}
}

/* Does fd poll readable right now. */
static int
readable(int fd)
{
	struct pollfd	 pfd = { .fd = fd, .events = POLLIN };

	return poll(&pfd, 1, 0) == 1 && (pfd.revents & POLLIN) != 0;
}

/*
 * 4096-byte reads of a registered descriptor get every byte in order; after the first, the
 * kernel holds less than was taken (the rest waits in the read-ahead), and poll() still
 * says readable while bytes wait there, and not once all are taken.
 */
START_TEST(test_reads_ahead)
{
	static unsigned char	 sent[TOTAL], got[TOTAL];
	int			 sv[2], queued;
	size_t			 off = 0;
	ssize_t			 n;

	pair_with_bytes(sv, sent);
	sshgw_sockio_start(sv[0], NULL, NULL);
	n = recv(sv[0], got, 4096, 0);
	ck_assert_int_eq(n, 4096);
	off = 4096;
	ck_assert_int_eq(ioctl_queued(sv[0], &queued), 0);
	ck_assert_int_eq(queued, TOTAL - SSHGW_READAHEAD);
	ck_assert(sshgw_readahead_pending(sv[0]));
	while (off < TOTAL) {
		ck_assert_msg(readable(sv[0]), "not readable at %zu", off);
		n = recv(sv[0], got + off, 4096, 0);
		ck_assert_int_gt(n, 0);
		off += (size_t)n;
	}
	ck_assert_mem_eq(got, sent, TOTAL);
	ck_assert(!sshgw_readahead_pending(sv[0]));
	ck_assert(!readable(sv[0]));
	close(sv[1]);
	ck_assert_int_eq(recv(sv[0], got, 4096, 0), 0);		/* the peer's EOF comes through */
	close(sv[0]);
}
END_TEST

/*
 * While bytes wait read ahead, a poll for reading and writing reports readable only:
 * libssh takes a send that fails after a reported POLLOUT for a broken connection, so
 * writability is never claimed without the kernel.
 */
START_TEST(test_never_claims_writable)
{
	static unsigned char	 sent[TOTAL], got[4096];
	struct pollfd		 pfd;
	int			 sv[2];

	pair_with_bytes(sv, sent);
	sshgw_sockio_start(sv[0], NULL, NULL);
	ck_assert_int_eq(recv(sv[0], got, sizeof got, 0), 4096);
	ck_assert(sshgw_readahead_pending(sv[0]));
	pfd.fd = sv[0];
	pfd.events = POLLIN | POLLOUT;
	pfd.revents = 0;
	ck_assert_int_eq(poll(&pfd, 1, 0), 1);
	ck_assert_int_eq(pfd.revents, POLLIN);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

/* A peek and an unregistered descriptor read as always; close() forgets the descriptor. */
START_TEST(test_passes_through)
{
	static unsigned char	 sent[TOTAL], got[TOTAL];
	int			 sv[2], fd, queued;

	pair_with_bytes(sv, sent);
	ck_assert_int_eq(recv(sv[0], got, 4096, 0), 4096);	/* not registered */
	ck_assert_int_eq(ioctl_queued(sv[0], &queued), 0);
	ck_assert_int_eq(queued, TOTAL - 4096);
	sshgw_sockio_start(sv[0], NULL, NULL);
	ck_assert_int_eq(recv(sv[0], got, 100, MSG_PEEK), 100);
	ck_assert_int_eq(ioctl_queued(sv[0], &queued), 0);
	ck_assert_int_eq(queued, TOTAL - 4096);
	ck_assert_int_eq(recv(sv[0], got, 4096, 0), 4096);
	ck_assert(sshgw_readahead_pending(sv[0]));
	fd = sv[0];
	close(sv[0]);
	ck_assert(!sshgw_readahead_pending(fd));
	close(sv[1]);
}
END_TEST

/*
 * A kept descriptor survives close() (libssh's), which forgets its read-ahead; the peer sees
 * no end until sshgw_fd_close(), after which the number is closed and unkept.
 */
START_TEST(test_kept_until_session_closes)
{
	static unsigned char	 sent[TOTAL], got[4096];
	int			 sv[2], fd;
	ssize_t			 n;

	pair_with_bytes(sv, sent);
	fd = sv[0];
	ck_assert_int_eq(sshgw_fd_keep(fd), 0);
	sshgw_sockio_start(fd, NULL, NULL);
	ck_assert_int_eq(recv(fd, got, sizeof got, 0), 4096);
	ck_assert(sshgw_readahead_pending(fd));
	ck_assert_int_eq(close(fd), 0);			/* as libssh does */
	ck_assert(!sshgw_readahead_pending(fd));
	ck_assert_int_ne(fcntl(fd, F_GETFD), -1);	/* still open */
	ck_assert_int_eq(write(sv[1], "x", 1), 1);	/* the peer still has a connection */
	ck_assert_int_eq(sshgw_fd_close(fd), 0);
	ck_assert_int_eq(fcntl(fd, F_GETFD), -1);
	ck_assert_int_eq(errno, EBADF);
	n = recv(sv[1], got, sizeof got, MSG_DONTWAIT);	/* now it ends (reset: bytes unread) */
	ck_assert(n == 0 || (n == -1 && errno == ECONNRESET));
	/* The number is unkept: reused for another socket, close() closes it. */
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	ck_assert_int_eq(close(sv[0]), 0);
	ck_assert_int_eq(fcntl(sv[0], F_GETFD), -1);
	close(sv[1]);
	/* Too high to keep: the caller duplicates instead. */
	ck_assert_int_eq(sshgw_fd_keep(1 << 20), -1);
	ck_assert_int_eq(sshgw_fd_keep(-1), -1);
}
END_TEST

static int	woken;

static void
wake(void *arg)
{
	ck_assert_ptr_eq(arg, &woken);
	woken++;
}

/* How many bytes can be read from fd now, into buf (up to len). */
static size_t
drain(int fd, unsigned char *buf, size_t len)
{
	size_t	 off = 0;
	ssize_t	 n;

	while (off < len && (n = recv(fd, buf + off, len - off, MSG_DONTWAIT)) > 0)
		off += (size_t)n;
	return off;
}

/*
 * Sends to a registered descriptor are kept, in order, and reported whole; the wake
 * function hears of the first only; one flush hands them all to the kernel.
 */
START_TEST(test_writes_behind)
{
	static unsigned char	 got[8192];
	int			 sv[2];

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	woken = 0;
	sshgw_sockio_start(sv[0], wake, &woken);
	ck_assert_int_eq(send(sv[0], "abc", 3, MSG_NOSIGNAL), 3);
	ck_assert_int_eq(send(sv[0], "defg", 4, MSG_NOSIGNAL), 4);
	ck_assert_int_eq(woken, 1);
	ck_assert_uint_eq(sshgw_writebehind_pending(sv[0]), 7);
	ck_assert_uint_eq(drain(sv[1], got, sizeof got), 0);	/* nothing left yet */
	ck_assert_int_eq(sshgw_sockio_flush(sv[0]), 0);
	ck_assert_uint_eq(sshgw_writebehind_pending(sv[0]), 0);
	ck_assert_uint_eq(drain(sv[1], got, sizeof got), 7);
	ck_assert_mem_eq(got, "abcdefg", 7);
	ck_assert_int_eq(send(sv[0], "h", 1, MSG_NOSIGNAL), 1);
	ck_assert_int_eq(woken, 2);				/* waiting again */
	close(sv[0]);				/* libssh's close sends what waits */
	ck_assert_uint_eq(drain(sv[1], got, sizeof got), 1);
	ck_assert_int_eq(got[0], 'h');
	close(sv[1]);
}
END_TEST

/*
 * What the kernel cannot take waits, in order, for the next flush, and libssh never sees
 * EAGAIN; a send that failed makes the next send and the flush fail with its error.
 */
START_TEST(test_full_socket_and_failure)
{
	static unsigned char	 sent[1 << 20], got[1 << 20];
	int			 sv[2], size = 4096, i;
	size_t			 off = 0, total = 0;

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
	setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
	for (i = 0; i < (int)sizeof sent; i++)
		sent[i] = (unsigned char)(i * 13 + i / 509);
	sshgw_sockio_start(sv[0], NULL, NULL);
	for (i = 0; i < 256; i++)	/* 1 MiB in small sends: past the 256 KiB push */
		ck_assert_int_eq(send(sv[0], sent + i * 4096, 4096, MSG_NOSIGNAL), 4096);
	ck_assert_int_eq(sshgw_sockio_flush(sv[0]), 0);
	ck_assert_uint_gt(sshgw_writebehind_pending(sv[0]), 0);		/* the kernel is full */
	while (total < sizeof got) {
		off = drain(sv[1], got + total, sizeof got - total);
		total += off;
		ck_assert_int_eq(sshgw_sockio_flush(sv[0]), 0);
		ck_assert_msg(off > 0 || sshgw_writebehind_pending(sv[0]) > 0 ||
		    total == sizeof got, "stuck at %zu", total);
	}
	ck_assert_mem_eq(got, sent, sizeof sent);
	ck_assert_uint_eq(sshgw_writebehind_pending(sv[0]), 0);
	close(sv[1]);					/* the peer goes */
	ck_assert_int_eq(send(sv[0], "x", 1, MSG_NOSIGNAL), 1);	/* kept: no error yet */
	ck_assert_int_eq(sshgw_sockio_flush(sv[0]), -1);
	ck_assert_int_eq(errno, EPIPE);
	ck_assert_int_eq(send(sv[0], "y", 1, MSG_NOSIGNAL), -1);
	ck_assert_int_eq(errno, EPIPE);
	close(sv[0]);
}
END_TEST

/*
 * A large send with nothing kept before it goes to the kernel, which may take part of it;
 * when the kernel takes none, it is kept whole, never EAGAIN; behind kept bytes, it waits
 * its turn.
 */
START_TEST(test_large_sends)
{
	static unsigned char	 sent[1 << 18], got[1 << 19];
	int			 sv[2], size = 4096;
	size_t			 total = 0, sum = 0;
	ssize_t			 n;

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
	setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
	memset(sent, 'L', sizeof sent);
	sshgw_sockio_start(sv[0], NULL, NULL);
	n = send(sv[0], sent, 32768, MSG_NOSIGNAL);
	ck_assert_int_gt(n, 0);
	ck_assert_int_lt(n, 32768);			/* what the kernel took, as a send */
	ck_assert_uint_eq(sshgw_writebehind_pending(sv[0]), 0);
	sum = (size_t)n;
	ck_assert_int_eq(send(sv[0], sent, 32768, MSG_NOSIGNAL), 32768);	/* full: kept */
	ck_assert_uint_eq(sshgw_writebehind_pending(sv[0]), 32768);
	sum += 32768;
	ck_assert_int_eq(send(sv[0], "s", 1, MSG_NOSIGNAL), 1);		/* small: kept */
	ck_assert_int_eq(send(sv[0], sent, 16384, MSG_NOSIGNAL), 16384);	/* after them */
	sum += 1 + 16384;
	while (total < sum) {
		total += drain(sv[1], got + total, sizeof got - total);
		ck_assert_int_eq(sshgw_sockio_flush(sv[0]), 0);
	}
	ck_assert_uint_eq(total, sum);
	ck_assert_int_eq(got[sum - 16384 - 1], 's');			/* in order */
	ck_assert_int_eq(got[sum - 16384 - 2], 'L');
	ck_assert_int_eq(got[sum - 1], 'L');
	close(sv[0]);
	close(sv[1]);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("sockio");
	TCase	*tc = tcase_create("sockio");

	tcase_add_test(tc, test_reads_ahead);
	tcase_add_test(tc, test_passes_through);
	tcase_add_test(tc, test_never_claims_writable);
	tcase_add_test(tc, test_kept_until_session_closes);
	tcase_add_test(tc, test_writes_behind);
	tcase_add_test(tc, test_full_socket_and_failure);
	tcase_add_test(tc, test_large_sends);
	suite_add_tcase(s, tc);
	return tg_run(s);
}
