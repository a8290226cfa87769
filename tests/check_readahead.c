/* SPDX-License-Identifier: ISC */
/* tunnelgw: unit tests of the read-ahead under libssh (sshgw/readahead.c). */
#include "config.h"

#include <sys/ioctl.h>
#include <sys/socket.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
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
	sshgw_readahead_start(sv[0]);
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
	sshgw_readahead_start(sv[0]);
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
	sshgw_readahead_start(sv[0]);
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
	sshgw_readahead_start(fd);
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

int
main(void)
{
	Suite	*s = suite_create("readahead");
	TCase	*tc = tcase_create("readahead");

	tcase_add_test(tc, test_reads_ahead);
	tcase_add_test(tc, test_passes_through);
	tcase_add_test(tc, test_never_claims_writable);
	tcase_add_test(tc, test_kept_until_session_closes);
	suite_add_tcase(s, tc);
	return tg_run(s);
}
