/*
 * udpload: UDP echo server and load client for bench/run's UDP rows (loopback only).
 *
 *   udpload echo                         UDP echo server on 127.0.0.1, port any; prints
 *                                        "port P" once bound, runs until killed. It does not
 *                                        echo one-way datagrams (their first 8 bytes all
 *                                        0xff) but counts them, and answers the datagram
 *                                        "COUNT?" with that count, which it then resets
 *   udpload rtt PORT SIZE N MAXSEC       one socket, N round trips of SIZE-byte datagrams,
 *                                        one at a time (a lost one is waited for 1 s, then
 *                                        counted lost); prints n, lost, p50_us, p99_us
 *   udpload rate PORT SIZE WINDOW SECS   one socket keeps WINDOW datagrams in flight for SECS,
 *                                        each numbered; prints sent, echoed, rate (echoes a
 *                                        second), lost, and broken: replies that are not
 *                                        exactly one datagram that was sent (merged or split
 *                                        on the way), which UDP itself never makes
 *   udpload oneway PORT SIZE SECS        one socket sends one-way datagrams as fast as it can
 *                                        for SECS, then asks the echo service how many it
 *                                        got; prints sent, got, rate (got a second), lost
 *
 * Every datagram starts with its 8-byte sequence number and is filled to SIZE with a pattern
 * derived from it, so a reply is checked whole. CLOCK_MONOTONIC throughout.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAXDGRAM 65507

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
die(const char *what)
{
	perror(what);
	exit(1);
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Fill a datagram of size n (at least 8) for sequence number seq. */
static void
fill(unsigned char *p, size_t n, uint64_t seq)
{
	size_t i;

	memcpy(p, &seq, 8);
	for (i = 8; i < n; i++)
		p[i] = (unsigned char)(seq * 31 + i);
}

/* Is p (n bytes) exactly a datagram of size want that fill made? Its number in *seq. */
static int
whole(const unsigned char *p, size_t n, size_t want, uint64_t *seq)
{
	size_t i;

	if (n != want)
		return 0;
	memcpy(seq, p, 8);
	for (i = 8; i < n; i++)
		if (p[i] != (unsigned char)(*seq * 31 + i))
			return 0;
	return 1;
}

static int
client(int port, struct sockaddr_in *to)
{
	int fd, sz = 4 << 20;

	if ((fd = socket(AF_INET, SOCK_DGRAM, 0)) == -1)
		die("socket");
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz);
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
	memset(to, 0, sizeof *to);
	to->sin_family = AF_INET;
	to->sin_port = htons((uint16_t)port);
	to->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)to, sizeof *to) == -1)
		die("connect");
	return fd;
}

static const unsigned char oneway_mark[8] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

static void
echo(void)
{
	static unsigned char buf[65536];
	struct sockaddr_storage ss;
	struct sockaddr_in sin;
	socklen_t len = sizeof sin;
	unsigned long long oneway = 0;
	char count[32];
	ssize_t n;
	int fd, sz = 8 << 20;

	if ((fd = socket(AF_INET, SOCK_DGRAM, 0)) == -1)
		die("socket");
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz);
	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&sin, sizeof sin) == -1 ||
	    getsockname(fd, (struct sockaddr *)&sin, &len) == -1)
		die("bind");
	printf("port %d\n", ntohs(sin.sin_port));
	fflush(stdout);
	for (;;) {
		len = sizeof ss;
		if ((n = recvfrom(fd, buf, sizeof buf, 0, (struct sockaddr *)&ss, &len)) < 0)
			continue;
		if (n >= 8 && memcmp(buf, oneway_mark, 8) == 0) {
			oneway++;
			continue;
		}
		if (n == 6 && memcmp(buf, "COUNT?", 6) == 0) {
			n = snprintf(count, sizeof count, "%llu", oneway);
			oneway = 0;
			sendto(fd, count, (size_t)n, 0, (struct sockaddr *)&ss, len);
			continue;
		}
		sendto(fd, buf, (size_t)n, 0, (struct sockaddr *)&ss, len);
	}
}

static void
rtt(int port, size_t size, long n, double maxsec)
{
	static unsigned char out[65536], in[65536];
	struct sockaddr_in to;
	struct pollfd pfd;
	double *v = calloc((size_t)n, sizeof *v), t0, end = now() + maxsec;
	long i, got = 0, lost = 0;
	uint64_t seq;
	ssize_t r;
	int fd = client(port, &to);

	pfd.fd = fd;
	pfd.events = POLLIN;
	for (i = 0; i < n && now() < end; i++) {
		fill(out, size, (uint64_t)i);
		t0 = now();
		if (send(fd, out, size, 0) != (ssize_t)size)
			die("send");
		for (;;) {
			if (poll(&pfd, 1, 1000) <= 0) {
				lost++;
				break;
			}
			r = recv(fd, in, sizeof in, 0);
			if (r > 0 && whole(in, (size_t)r, size, &seq) && seq == (uint64_t)i) {
				v[got++] = now() - t0;
				break;
			}
		}
	}
	if (got == 0) {
		printf("n=0 lost=%ld p50_us=nan p99_us=nan\n", lost);
		return;
	}
	qsort(v, (size_t)got, sizeof *v, cmp_double);
	printf("n=%ld lost=%ld p50_us=%.1f p99_us=%.1f\n", got, lost, v[(got - 1) / 2] * 1e6,
	    v[(size_t)((got - 1) * 0.99)] * 1e6);
}

static void
rate(int port, size_t size, long window, double secs)
{
	static unsigned char out[65536], in[65536];
	struct sockaddr_in to;
	struct pollfd pfd;
	double start = now(), end = start + secs, last_rx = start;
	long sent = 0, echoed = 0, broken = 0, inflight = 0;
	uint64_t seq;
	ssize_t r;
	int fd = client(port, &to);

	pfd.fd = fd;
	pfd.events = POLLIN;
	while (now() < end) {
		while (inflight < window) {
			fill(out, size, (uint64_t)sent);
			if (send(fd, out, size, MSG_DONTWAIT) != (ssize_t)size)
				break;
			sent++;
			inflight++;
		}
		if (poll(&pfd, 1, 20) <= 0) {
			/* Nothing came back for a while: count what is in flight as lost. */
			if (now() - last_rx > 0.2)
				inflight = 0;
			continue;
		}
		while ((r = recv(fd, in, sizeof in, MSG_DONTWAIT)) > 0) {
			last_rx = now();
			if (whole(in, (size_t)r, size, &seq) && seq < (uint64_t)sent)
				echoed++;
			else
				broken++;
			if (inflight > 0)
				inflight--;
		}
	}
	/* Late replies still count; nothing new is sent. */
	while (poll(&pfd, 1, 300) > 0 && (r = recv(fd, in, sizeof in, 0)) > 0) {
		if (whole(in, (size_t)r, size, &seq) && seq < (uint64_t)sent)
			echoed++;
		else
			broken++;
	}
	printf("sent=%ld echoed=%ld rate=%.0f lost=%ld broken=%ld\n", sent, echoed,
	    echoed / secs, sent - echoed - broken > 0 ? sent - echoed - broken : 0, broken);
}

/* Ask the echo service for its count of one-way datagrams (and reset it); -1: no answer. */
static long long
oneway_count(int fd)
{
	struct pollfd	pfd = { fd, POLLIN, 0 };
	char		buf[64];
	ssize_t		r;
	int		i;

	for (i = 0; i < 5; i++) {
		send(fd, "COUNT?", 6, 0);
		while (poll(&pfd, 1, 500) > 0) {
			if ((r = recv(fd, buf, sizeof buf - 1, 0)) > 0 && r < 24) {
				buf[r] = '\0';
				return atoll(buf);
			}
		}
	}
	return -1;
}

static void
oneway(int port, size_t size, double secs)
{
	static unsigned char out[65536];
	struct sockaddr_in to;
	double end;
	long long sent = 0, got;
	int fd = client(port, &to);

	memset(out, 'o', size);
	memcpy(out, oneway_mark, 8);
	if (oneway_count(fd) < 0) {
		printf("sent=0 got=0 rate=nan lost=0 (no answer to COUNT?)\n");
		return;
	}
	end = now() + secs;
	while (now() < end) {
		int i;

		for (i = 0; i < 64; i++)
			if (send(fd, out, size, 0) == (ssize_t)size)
				sent++;
	}
	usleep(500000);		/* what is still on its way */
	got = oneway_count(fd);
	printf("sent=%lld got=%lld rate=%.0f lost=%lld\n", sent, got, got / secs,
	    got >= 0 ? sent - got : 0);
}

int
main(int argc, char **argv)
{
	size_t size;

	if (argc >= 2 && strcmp(argv[1], "echo") == 0) {
		echo();
		return 0;
	}
	if (argc == 5 && strcmp(argv[1], "oneway") == 0) {
		size = (size_t)atol(argv[3]);
		if (size < 8 || size > MAXDGRAM) {
			fprintf(stderr, "udpload: SIZE must be 8 to %d\n", MAXDGRAM);
			return 2;
		}
		oneway(atoi(argv[2]), size, atof(argv[4]));
		return 0;
	}
	if (argc != 6 || (strcmp(argv[1], "rtt") != 0 && strcmp(argv[1], "rate") != 0)) {
		fprintf(stderr, "usage: udpload echo | rtt PORT SIZE N MAXSEC | "
		    "rate PORT SIZE WINDOW SECS | oneway PORT SIZE SECS\n");
		return 2;
	}
	size = (size_t)atol(argv[3]);
	if (size < 8 || size > MAXDGRAM) {
		fprintf(stderr, "udpload: SIZE must be 8 to %d\n", MAXDGRAM);
		return 2;
	}
	if (strcmp(argv[1], "rtt") == 0)
		rtt(atoi(argv[2]), size, atol(argv[4]), atof(argv[5]));
	else
		rate(atoi(argv[2]), size, atol(argv[4]), atof(argv[5]));
	return 0;
}
