/*
 * connload: small load client and echo server for bench/run (loopback only).
 *
 *   connload echo PORT[,PORT...]         epoll echo server on 127.0.0.1 (port 0 = any); prints
 *                                        "ports P1 P2 ..." once listening, runs until killed
 *   connload lat PORT N MAXSEC           N times, one at a time: connect, send 16 bytes, read
 *                                        the 16-byte echo, close; prints n, p50_us, p99_us
 *   connload rate PORT CONC SECONDS      CONC connections at a time doing the same for SECONDS;
 *                                        prints conns, secs, rate (completed per second), errors
 *   connload rtt PORT N SIZE MAXSEC      one connection, N round trips of SIZE bytes; prints
 *                                        n, p50_us, p99_us
 *   connload hold N PORT[,PORT...]       opens N connections spread over the ports, probes each
 *                                        with a 16-byte echo, prints "held=... ok=... failed=...",
 *                                        keeps them open until stdin reaches EOF (gives up
 *                                        on those still opening after 20 s without progress)
 *
 * Client sockets are bound to source addresses 127.0.0.2-127.0.0.251 in turn (with
 * IP_BIND_ADDRESS_NO_PORT) so that loopback source ports do not run out. TCP_NODELAY is set on
 * every socket. All measurements use CLOCK_MONOTONIC.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

#define MSG 16
static const char payload[MSG] = "0123456789abcdef";
static unsigned src_next;

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

static void
print_pct(double *v, size_t n)
{
	if (n == 0) {
		printf("n=0 p50_us=nan p99_us=nan\n");
		return;
	}
	qsort(v, n, sizeof *v, cmp_double);
	printf("n=%zu p50_us=%.1f p99_us=%.1f max_us=%.1f\n", n, v[(n - 1) / 2] * 1e6,
	    v[(size_t)((n - 1) * 0.99)] * 1e6, v[n - 1] * 1e6);
}

/* A client socket to 127.0.0.1:port from the next source address; nonblocking if asked. */
static int
client_socket(int port, int nonblock, int rotate)
{
	struct sockaddr_in sa;
	int fd, one = 1;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | (nonblock ? SOCK_NONBLOCK : 0), 0);
	if (fd == -1)
		return -1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	if (rotate) {
		setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
		memset(&sa, 0, sizeof sa);
		sa.sin_family = AF_INET;
		sa.sin_addr.s_addr = htonl(0x7f000002 + (src_next++ % 250));
		if (bind(fd, (struct sockaddr *)&sa, sizeof sa) == -1) {
			close(fd);
			return -1;
		}
	}
	memset(&sa, 0, sizeof sa);
	sa.sin_family = AF_INET;
	sa.sin_port = htons(port);
	sa.sin_addr.s_addr = htonl(0x7f000001);
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) == -1 && errno != EINPROGRESS) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

static int
read_full(int fd, char *buf, size_t len)
{
	size_t got = 0;
	ssize_t r;

	while (got < len) {
		r = read(fd, buf + got, len - got);
		if (r <= 0) {
			if (r == -1 && errno == EINTR)
				continue;
			return -1;
		}
		got += r;
	}
	return 0;
}

static int
write_full(int fd, const char *buf, size_t len)
{
	size_t put = 0;
	ssize_t r;

	while (put < len) {
		r = write(fd, buf + put, len - put);
		if (r <= 0) {
			if (r == -1 && errno == EINTR)
				continue;
			return -1;
		}
		put += r;
	}
	return 0;
}

/* ---- echo server ---------------------------------------------------------------------- */

struct econn {
	char	*buf;
	size_t	 off, len;
};

static int
cmd_echo(char *ports)
{
	struct rlimit rl;
	struct econn *conns;
	struct epoll_event ev, evs[256];
	int ep, lfds[64], nl = 0, i, n, one = 1;
	char *p;

	getrlimit(RLIMIT_NOFILE, &rl);
	conns = calloc(rl.rlim_cur + 1, sizeof *conns);
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (conns == NULL || ep == -1)
		die("echo: setup");
	printf("ports");
	for (p = strtok(ports, ","); p != NULL && nl < 64; p = strtok(NULL, ",")) {
		struct sockaddr_in sa;
		socklen_t sl = sizeof sa;
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
		memset(&sa, 0, sizeof sa);
		sa.sin_family = AF_INET;
		sa.sin_port = htons(atoi(p));
		sa.sin_addr.s_addr = htonl(0x7f000001);
		if (bind(fd, (struct sockaddr *)&sa, sizeof sa) == -1 || listen(fd, 4096) == -1)
			die("echo: bind/listen");
		getsockname(fd, (struct sockaddr *)&sa, &sl);
		printf(" %d", ntohs(sa.sin_port));
		ev.events = EPOLLIN;
		ev.data.u64 = (uint64_t)fd | (1ULL << 32);
		epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
		lfds[nl++] = fd;
	}
	printf("\n");
	fflush(stdout);
	for (;;) {
		n = epoll_wait(ep, evs, 256, -1);
		for (i = 0; i < n; i++) {
			int fd = (int)(uint32_t)evs[i].data.u64;
			struct econn *c;
			ssize_t r;

			if (evs[i].data.u64 >> 32) {
				int cfd;

				while ((cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) != -1) {
					if ((rlim_t)cfd > rl.rlim_cur) {
						close(cfd);
						continue;
					}
					setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
					ev.events = EPOLLIN;
					ev.data.u64 = (uint64_t)cfd;
					epoll_ctl(ep, EPOLL_CTL_ADD, cfd, &ev);
				}
				continue;
			}
			c = &conns[fd];
			if (c->len > 0) {	/* writable: flush what waits */
				r = write(fd, c->buf + c->off, c->len - c->off);
				if (r == -1 && errno == EAGAIN)
					continue;
				if (r <= 0)
					goto drop;
				c->off += r;
				if (c->off < c->len)
					continue;
				c->off = c->len = 0;
				ev.events = EPOLLIN;
				ev.data.u64 = (uint64_t)fd;
				epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev);
				continue;
			}
			if (c->buf == NULL && (c->buf = malloc(65536)) == NULL)
				goto drop;
			r = read(fd, c->buf, 65536);
			if (r == -1 && errno == EAGAIN)
				continue;
			if (r <= 0)
				goto drop;
			{
				ssize_t w = write(fd, c->buf, r);

				if (w == -1 && errno != EAGAIN)
					goto drop;
				if (w < 0)
					w = 0;
				if (w < r) {
					c->off = w;
					c->len = r;
					ev.events = EPOLLOUT;
					ev.data.u64 = (uint64_t)fd;
					epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev);
				} else if (r < 65536) {
					/* small message answered: give the buffer back (idle conns hold none) */
					free(c->buf);
					c->buf = NULL;
				}
			}
			continue;
drop:
			free(c->buf);
			memset(c, 0, sizeof *c);
			close(fd);
		}
	}
	(void)lfds;
	return 0;
}

/* ---- latency, one at a time ----------------------------------------------------------- */

static int
cmd_lat(int port, long n, double maxsec)
{
	double *v = calloc(n, sizeof *v), start = now(), t0;
	char buf[MSG];
	long i, errors = 0;
	size_t k = 0;

	for (i = 0; i < n && now() - start < maxsec; i++) {
		int fd;

		t0 = now();
		fd = client_socket(port, 0, 1);
		if (fd == -1 || write_full(fd, payload, MSG) == -1 || read_full(fd, buf, MSG) == -1 ||
		    memcmp(buf, payload, MSG) != 0) {
			errors++;
			if (fd != -1)
				close(fd);
			continue;
		}
		v[k++] = now() - t0;
		close(fd);
	}
	print_pct(v, k);
	printf("errors=%ld secs=%.2f\n", errors, now() - start);
	return k > 0 ? 0 : 1;
}

/* ---- round trips on one connection ---------------------------------------------------- */

static int
cmd_rtt(int port, long n, int size, double maxsec)
{
	double *v = calloc(n, sizeof *v), start, t0;
	char *out = malloc(size), *in = malloc(size);
	long i;
	size_t k = 0;
	int fd;

	memset(out, 'x', size);
	fd = client_socket(port, 0, 0);
	if (fd == -1)
		die("rtt: connect");
	/* one warm-up round trip: the first one carries the channel open */
	if (write_full(fd, out, size) == -1 || read_full(fd, in, size) == -1)
		die("rtt: warm-up");
	start = now();
	for (i = 0; i < n && now() - start < maxsec; i++) {
		t0 = now();
		if (write_full(fd, out, size) == -1 || read_full(fd, in, size) == -1)
			die("rtt: round trip");
		v[k++] = now() - t0;
	}
	close(fd);
	print_pct(v, k);
	printf("secs=%.2f\n", now() - start);
	return 0;
}

/* ---- many at a time: rate and hold ---------------------------------------------------- */

enum { C_FREE, C_CONNECTING, C_READING, C_HELD };

struct lconn {
	int	 fd, state, got;
	double	 t0;
	char	 buf[MSG];
};

static int nports, ports[64];

static void
err_count(long *errs, int e)
{
	if (e >= 0 && e < 256)
		errs[e]++;
	else
		errs[0]++;
}

static void
print_errs(long *errs, const char *prefix)
{
	int e;

	for (e = 0; e < 256; e++)
		if (errs[e] > 0)
			printf("%s%s=%ld\n", prefix, e == 0 ? "eof/timeout" : strerror(e), errs[e]);
}

static int
lconn_start(int ep, struct lconn *c, long idx, long *errs)
{
	struct epoll_event ev;

	c->fd = client_socket(ports[idx % nports], 1, 1);
	if (c->fd == -1) {
		err_count(errs, errno);
		c->state = C_FREE;
		return -1;
	}
	c->state = C_CONNECTING;
	c->got = 0;
	c->t0 = now();
	ev.events = EPOLLOUT;
	ev.data.ptr = c;
	epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
	return 0;
}

/* Advance one connection; returns 1 when its echo came back, -1 on failure, 0 otherwise. */
static int
lconn_step(int ep, struct lconn *c, long *errs)
{
	struct epoll_event ev;
	int err = 0;
	socklen_t sl = sizeof err;
	ssize_t r;

	if (c->state == C_CONNECTING) {
		getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &sl);
		if (err != 0 || write(c->fd, payload, MSG) != MSG) {
			err_count(errs, err ? err : errno);
			return -1;
		}
		c->state = C_READING;
		ev.events = EPOLLIN;
		ev.data.ptr = c;
		epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
		return 0;
	}
	if (c->state == C_READING) {
		r = read(c->fd, c->buf + c->got, MSG - c->got);
		if (r == -1 && errno == EAGAIN)
			return 0;
		if (r <= 0) {
			err_count(errs, r == 0 ? 0 : errno);
			return -1;
		}
		c->got += r;
		if (c->got < MSG)
			return 0;
		return 1;
	}
	/* held: anything arriving now means the peer closed or reset */
	r = read(c->fd, c->buf, MSG);
	if (r == -1 && errno == EAGAIN)
		return 0;
	err_count(errs, r == 0 ? 0 : errno);
	return -1;
}

static void
lconn_close(int ep, struct lconn *c)
{
	epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	c->fd = -1;
	c->state = C_FREE;
}

static int
cmd_rate(int conc, double secs)
{
	struct lconn *cs = calloc(conc, sizeof *cs);
	struct epoll_event evs[256];
	long done = 0, failed = 0, idx = 0, errs[256] = { 0 };
	double start = now(), end = start + secs, t;
	int ep = epoll_create1(EPOLL_CLOEXEC), i, n;

	for (i = 0; i < conc; i++)
		lconn_start(ep, &cs[i], idx++, errs);
	while ((t = now()) < end) {
		n = epoll_wait(ep, evs, 256, 50);
		for (i = 0; i < n; i++) {
			struct lconn *c = evs[i].data.ptr;
			int r = lconn_step(ep, c, errs);

			if (r == 0)
				continue;
			if (r > 0)
				done++;
			else
				failed++;
			lconn_close(ep, c);
			if (now() < end)
				lconn_start(ep, c, idx++, errs);
		}
		for (i = 0; i < conc; i++)	/* retry slots whose socket() or connect() failed */
			if (cs[i].state == C_FREE && now() < end && lconn_start(ep, &cs[i], idx++, errs) == -1)
				failed++;
	}
	t = now() - start;
	printf("conns=%ld secs=%.2f rate=%.0f errors=%ld\n", done, t, done / t, failed);
	print_errs(errs, "error ");
	return done > 0 ? 0 : 1;
}

static int
cmd_hold(long n, double maxsec)
{
	struct lconn *cs = calloc(n, sizeof *cs);
	struct epoll_event evs[256];
	long ok = 0, failed = 0, next = 0, inflight = 0, errs[256] = { 0 };
	long maxinflight = 512;
	double start = now(), lastp = start, lastchange = start;
	long lastdone = 0;
	int ep = epoll_create1(EPOLL_CLOEXEC), i, k;
	char c;

	if (cs == NULL)
		die("hold: calloc");
	while (ok + failed < n && now() - start < maxsec) {
		while (next < n && inflight < maxinflight) {
			if (lconn_start(ep, &cs[next], next, errs) == 0)
				inflight++;
			else
				failed++;
			next++;
		}
		k = epoll_wait(ep, evs, 256, 100);
		for (i = 0; i < k; i++) {
			struct lconn *lc = evs[i].data.ptr;
			int was = lc->state, r = lconn_step(ep, lc, errs);

			if (r == 0)
				continue;
			if (r > 0) {
				ok++;
				inflight--;
				lc->state = C_HELD;
				continue;
			}
			if (was == C_HELD)
				ok--;
			else
				inflight--;
			failed++;
			lconn_close(ep, lc);
		}
		if (ok + failed != lastdone) {
			lastdone = ok + failed;
			lastchange = now();
		} else if (now() - lastchange > 20) {
			fprintf(stderr, "connload hold: no progress for 20 s: giving up on %ld in flight\n",
			    inflight);
			break;
		}
		if (now() - lastp > 5) {
			lastp = now();
			fprintf(stderr, "connload hold: %.0f s: ok=%ld failed=%ld in flight=%ld\n",
			    lastp - start, ok, failed, inflight);
		}
	}
	/* what did not finish in time counts as failed (timeout) */
	for (i = 0; i < next; i++)
		if (cs[i].state == C_CONNECTING || cs[i].state == C_READING) {
			failed++;
			errs[0]++;
		}
	failed += n - next;
	printf("held=%ld ok=%ld failed=%ld secs=%.1f\n", ok, ok, failed, now() - start);
	print_errs(errs, "error ");
	fflush(stdout);
	while (read(0, &c, 1) > 0)
		;
	return 0;
}

static void
parse_ports(char *s)
{
	char *p;

	for (p = strtok(s, ","); p != NULL && nports < 64; p = strtok(NULL, ","))
		ports[nports++] = atoi(p);
}

int
main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc >= 3 && strcmp(argv[1], "echo") == 0)
		return cmd_echo(argv[2]);
	if (argc >= 5 && strcmp(argv[1], "lat") == 0)
		return cmd_lat(atoi(argv[2]), atol(argv[3]), atof(argv[4]));
	if (argc >= 5 && strcmp(argv[1], "rate") == 0) {
		parse_ports(argv[2]);
		return cmd_rate(atoi(argv[3]), atof(argv[4]));
	}
	if (argc >= 6 && strcmp(argv[1], "rtt") == 0)
		return cmd_rtt(atoi(argv[2]), atol(argv[3]), atoi(argv[4]), atof(argv[5]));
	if (argc >= 4 && strcmp(argv[1], "hold") == 0) {
		parse_ports(argv[3]);
		return cmd_hold(atol(argv[2]), argc >= 5 ? atof(argv[4]) : 300);
	}
	fprintf(stderr, "usage: connload echo PORTS | lat PORT N MAXSEC | rate PORTS CONC SECS |"
	    " rtt PORT N SIZE MAXSEC | hold N PORTS [MAXSEC]\n");
	return 2;
}
