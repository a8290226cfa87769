/* SPDX-License-Identifier: ISC */
/*
 * tunnelgw-udp: the user's side of a tunnelgw UDP tunnel. It accepts the gateway's streams
 * (carried to LISTEN_PORT by "ssh -R 0:localhost:LISTEN_PORT ... udp") and relays their
 * datagrams to and from the UDP service at HOST:UDP_PORT, one UDP socket per flow so that
 * replies find their flow. The stream format is doc/udp.md, version 1.
 *
 * One file, POSIX only, so that it builds with "cc -O2 -o tunnelgw-udp tunnelgw-udp.c" on
 * Linux, macOS and the BSDs; tunnelgw's own build also builds and installs it.
 *
 *   tunnelgw-udp [-v] [-l ADDRESS] LISTEN_PORT HOST:UDP_PORT
 */
#if defined(__linux__) && !defined(_GNU_SOURCE)
#define _GNU_SOURCE
#endif

#include <sys/types.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#ifndef TUNNELGW_VERSION
#define TUNNELGW_VERSION	"standalone"
#endif

#define TGU_VERSION		1	/* the stream format's version (doc/udp.md) */
#define TGU_HELLO_LEN		8
#define TGU_HDR			7	/* type, flow, length */
#define TGU_MAX_PAYLOAD		65535
#define TGU_DATA		1
#define TGU_OPEN		2
#define TGU_CLOSE		3
#define TGU_IDLE		4	/* the gateway's flow timeout */
#define TGU_MAX_DATAGRAM	65507

#define RBUF_SIZE	(TGU_HELLO_LEN + TGU_HDR + TGU_MAX_PAYLOAD)
#define WBUF_MAX	(1024 * 1024)	/* bytes toward the gateway per stream; beyond: drop */
#define MAX_STREAMS	64
#define MAX_FLOWS	16384		/* per stream */
#define FLOW_BUCKETS	4096
#define FLOW_IDLE	300		/* seconds a flow may be silent before it is closed, until
					   the gateway says its own (IDLE) */
#define IDLE_MARGIN	5		/* ... then that much longer: the gateway's CLOSE comes first */
#define IDLE_NEVER	86400		/* ... when it says never: a day, should its CLOSE be lost */
#define READS_PER_WAKE	64		/* datagrams read from one flow socket per wake-up */

static const unsigned char tgu_magic[6] = { 'T', 'G', 'U', 'D', 'P', 0 };

struct stream;

struct flow {
	uint32_t	 id;
	int		 fd;		/* UDP, connected to the service */
	struct stream	*s;
	time_t		 last;
	uint64_t	 to_service, from_service, dropped;
	char		 client[64];	/* the public client, from OPEN */
	struct flow	*next;		/* in its stream's bucket */
};

struct stream {
	int		 fd;
	int		 hello_in;	/* the gateway's hello was read */
	unsigned char	*rbuf;
	size_t		 rlen;
	unsigned char	*wbuf;
	size_t		 wlen, woff;
	struct flow	*buckets[FLOW_BUCKETS];
	size_t		 nflows;
	long		 idle;		/* seconds before a silent flow is closed */
	uint64_t	 flows_total, to_service, from_service, dropped;
	int		 dead;
};

static struct sockaddr_storage	target;
static socklen_t		target_len;
static struct stream		*streams[MAX_STREAMS];
static size_t			nstreams;
static int			verbose;
static volatile sig_atomic_t	want_stats, want_exit;
static int			silent;		/* say nothing (the fuzz target) */
static uint64_t			total_flows, total_to, total_from, total_dropped;

static void	say(const char *, ...) __attribute__((format(printf, 1, 2)));

static void
say(const char *fmt, ...)
{
	va_list	ap;

	if (silent)
		return;
	fputs("tunnelgw-udp: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static void *
zalloc(size_t n)
{
	void	*p = calloc(1, n);

	if (p == NULL) {
		say("out of memory");
		exit(1);
	}
	return p;
}

static int
nonblock(int fd)
{
	int	fl = fcntl(fd, F_GETFL);

	if (fl == -1 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) == -1)
		return -1;
	(void)fcntl(fd, F_SETFD, FD_CLOEXEC);
	return 0;
}

/* --- the stream format ------------------------------------------------------------------- */

static uint32_t
get32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void
put_hdr(unsigned char *p, int type, uint32_t flow, size_t len)
{
	p[0] = (unsigned char)type;
	p[1] = (unsigned char)(flow >> 24);
	p[2] = (unsigned char)(flow >> 16);
	p[3] = (unsigned char)(flow >> 8);
	p[4] = (unsigned char)flow;
	p[5] = (unsigned char)(len >> 8);
	p[6] = (unsigned char)len;
}

/* Is p (TGU_HELLO_LEN bytes) a hello of a version we speak? */
static int
tgu_hello_ok(const unsigned char *p)
{
	return memcmp(p, tgu_magic, sizeof tgu_magic) == 0 && p[6] == TGU_VERSION;
}

/*
 * Split buf[0..len) into whole frames, calling fn(arg, type, flow, payload, length) for
 * each; return how many bytes they took (the rest is a frame not yet whole).
 */
static size_t
tgu_frames(const unsigned char *buf, size_t len,
    void (*fn)(void *, int, uint32_t, const unsigned char *, size_t), void *arg)
{
	size_t	off = 0, n;

	while (len - off >= TGU_HDR) {
		n = (size_t)buf[off + 5] << 8 | buf[off + 6];
		if (len - off - TGU_HDR < n)
			break;
		fn(arg, buf[off], get32(buf + off + 1), buf + off + TGU_HDR, n);
		off += TGU_HDR + n;
	}
	return off;
}

/* --- flows -------------------------------------------------------------------------------- */

static struct flow **
flow_slot(struct stream *s, uint32_t id)
{
	struct flow	**fp = &s->buckets[id % FLOW_BUCKETS];

	while (*fp != NULL && (*fp)->id != id)
		fp = &(*fp)->next;
	return fp;
}

static void
flow_report(const struct flow *f, const char *why)
{
	if (verbose)
		say("flow %u from %s closed (%s): %llu datagrams to the service, %llu back, "
		    "%llu dropped", f->id, f->client, why, (unsigned long long)f->to_service,
		    (unsigned long long)f->from_service, (unsigned long long)f->dropped);
}

static void
flow_free(struct stream *s, uint32_t id, const char *why)
{
	struct flow	**fp = flow_slot(s, id), *f = *fp;

	if (f == NULL)
		return;
	*fp = f->next;
	flow_report(f, why);
	close(f->fd);
	free(f);
	s->nflows--;
}

/* Queue a frame toward the gateway; 0, or -1 when there is no room (the caller drops). */
static int
stream_put(struct stream *s, int type, uint32_t flow, const void *p, size_t n)
{
	if (s->dead || s->wlen - s->woff + TGU_HDR + n > WBUF_MAX)
		return -1;
	if (s->wlen + TGU_HDR + n > WBUF_MAX) {
		memmove(s->wbuf, s->wbuf + s->woff, s->wlen - s->woff);
		s->wlen -= s->woff;
		s->woff = 0;
	}
	put_hdr(s->wbuf + s->wlen, type, flow, n);
	if (n > 0)
		memcpy(s->wbuf + s->wlen + TGU_HDR, p, n);
	s->wlen += TGU_HDR + n;
	return 0;
}

static void
flow_open(struct stream *s, uint32_t id, const unsigned char *p, size_t n)
{
	struct flow	**fp = flow_slot(s, id), *f;
	char		 addr[INET6_ADDRSTRLEN] = "?";
	int		 fd = -1, port = 0;

	if (*fp != NULL || id == 0)
		return;		/* a flow is opened once */
	if (s->nflows >= MAX_FLOWS ||
	    (fd = socket(target.ss_family, SOCK_DGRAM, 0)) == -1 || nonblock(fd) == -1 ||
	    connect(fd, (struct sockaddr *)&target, target_len) == -1) {
		if (fd != -1)
			close(fd);
		say("flow %u: no socket toward the service: %s", id, s->nflows >= MAX_FLOWS ?
		    "too many flows" : strerror(errno));
		(void)stream_put(s, TGU_CLOSE, id, NULL, 0);
		return;
	}
	f = zalloc(sizeof *f);
	f->id = id;
	f->fd = fd;
	f->s = s;
	f->last = time(NULL);
	if (n == 7 && p[0] == 4) {
		inet_ntop(AF_INET, p + 1, addr, sizeof addr);
		port = p[5] << 8 | p[6];
	} else if (n == 19 && p[0] == 6) {	/* n is 7 or 19 before p[0] is read */
		inet_ntop(AF_INET6, p + 1, addr, sizeof addr);
		port = p[17] << 8 | p[18];
	}
	snprintf(f->client, sizeof f->client, n == 19 && p[0] == 6 ? "[%s]:%d" : "%s:%d", addr,
	    port);
	f->next = NULL;
	*fp = f;
	s->nflows++;
	s->flows_total++;
	total_flows++;
	if (verbose)
		say("flow %u from %s", id, f->client);
}

/* One frame from the gateway. */
static void
stream_frame(void *arg, int type, uint32_t id, const unsigned char *p, size_t n)
{
	struct stream	*s = arg;
	struct flow	*f;

	switch (type) {
	case TGU_OPEN:
		flow_open(s, id, p, n);
		break;
	case TGU_DATA:
		if ((f = *flow_slot(s, id)) == NULL)
			break;		/* it may have crossed our CLOSE */
		f->last = time(NULL);
		if (n <= TGU_MAX_DATAGRAM + 64 && send(f->fd, p, n, 0) == (ssize_t)n) {
			f->to_service++;
			s->to_service++;
			total_to++;
		} else {
			f->dropped++;
			s->dropped++;
			total_dropped++;
		}
		break;
	case TGU_CLOSE:
		flow_free(s, id, "closed by the gateway");
		break;
	case TGU_IDLE:
		if (n == 4) {
			unsigned long secs = (unsigned long)p[0] << 24 | (unsigned long)p[1] << 16 |
			    (unsigned long)p[2] << 8 | p[3];

			s->idle = secs == 0 || secs > IDLE_NEVER ? IDLE_NEVER :
			    (long)secs + IDLE_MARGIN;
		}
		break;
	default:
		break;		/* a type of a later version */
	}
}

/* --- streams ------------------------------------------------------------------------------ */

static void
stream_free(struct stream *s)
{
	struct flow	*f, *next;
	size_t		 i;

	for (i = 0; i < FLOW_BUCKETS; i++) {
		for (f = s->buckets[i]; f != NULL; f = next) {
			next = f->next;
			flow_report(f, "the stream ended");
			close(f->fd);
			free(f);
		}
	}
	close(s->fd);
	free(s->rbuf);
	free(s->wbuf);
	free(s);
}

static void
stream_accept(int lfd)
{
	struct stream	*s;
	int		 fd, one = 1;

	if ((fd = accept(lfd, NULL, NULL)) == -1)
		return;
	if (nstreams >= MAX_STREAMS || nonblock(fd) == -1) {
		say("refusing a stream: %s", nstreams >= MAX_STREAMS ? "too many streams" :
		    strerror(errno));
		close(fd);
		return;
	}
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	s = zalloc(sizeof *s);
	s->fd = fd;
	s->idle = FLOW_IDLE;
	s->rbuf = zalloc(RBUF_SIZE);
	s->wbuf = zalloc(WBUF_MAX);
	memcpy(s->wbuf, tgu_magic, sizeof tgu_magic);
	s->wbuf[6] = TGU_VERSION;
	s->wbuf[7] = 0;
	s->wlen = TGU_HELLO_LEN;
	streams[nstreams++] = s;
	if (verbose)
		say("a stream from the gateway (%zu open)", nstreams);
}

/* Read what the gateway sent and act on its whole frames; -1 when the stream is over. */
static int
stream_read(struct stream *s)
{
	ssize_t	r;
	size_t	used, off = 0;

	r = recv(s->fd, s->rbuf + s->rlen, RBUF_SIZE - s->rlen, 0);
	if (r == 0)
		return -1;
	if (r < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? 0 : -1;
	s->rlen += (size_t)r;
	if (!s->hello_in) {
		if (s->rlen < TGU_HELLO_LEN)
			return 0;
		if (!tgu_hello_ok(s->rbuf)) {
			say("a stream that does not begin with a tunnelgw UDP hello (version %d); "
			    "closing it", TGU_VERSION);
			return -1;
		}
		s->hello_in = 1;
		off = TGU_HELLO_LEN;
	}
	used = tgu_frames(s->rbuf + off, s->rlen - off, stream_frame, s);
	off += used;
	memmove(s->rbuf, s->rbuf + off, s->rlen - off);
	s->rlen -= off;
	return 0;
}

static int
stream_flush(struct stream *s)
{
	ssize_t	w;

	while (s->woff < s->wlen) {
		w = send(s->fd, s->wbuf + s->woff, s->wlen - s->woff, 0);
		if (w < 0)
			return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? 0 : -1;
		s->woff += (size_t)w;
	}
	s->woff = s->wlen = 0;
	return 0;
}

/* The service answered on flow f: send its datagrams back, as many as are there. */
static void
flow_read(struct flow *f)
{
	static unsigned char	 buf[TGU_MAX_PAYLOAD];
	struct stream		*s = f->s;
	ssize_t			 r;
	int			 i;

	for (i = 0; i < READS_PER_WAKE; i++) {
		r = recv(f->fd, buf, sizeof buf, 0);
		if (r < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR &&
			    errno != ECONNREFUSED)
				f->dropped++;
			return;
		}
		f->last = time(NULL);
		if (stream_put(s, TGU_DATA, f->id, buf, (size_t)r) == 0) {
			f->from_service++;
			s->from_service++;
			total_from++;
		} else {
			f->dropped++;
			s->dropped++;
			total_dropped++;
		}
	}
}

#ifndef TGU_NO_MAIN
static void
stats(void)
{
	say("%zu streams, %llu flows, %llu datagrams to the service, %llu back, %llu dropped",
	    nstreams, (unsigned long long)total_flows, (unsigned long long)total_to,
	    (unsigned long long)total_from, (unsigned long long)total_dropped);
}

static void
on_signal(int sig)
{
	if (sig == SIGUSR1)
		want_stats = 1;
	else
		want_exit = 1;
}

/* Close flows idle for the stream's idle seconds, telling the gateway. */
static void
expire(struct stream *s, time_t now)
{
	struct flow	*f, *next;
	size_t		 i;

	for (i = 0; i < FLOW_BUCKETS; i++) {
		for (f = s->buckets[i]; f != NULL; f = next) {
			next = f->next;
			if (now - f->last >= s->idle) {
				(void)stream_put(s, TGU_CLOSE, f->id, NULL, 0);
				flow_free(s, f->id, "idle");
			}
		}
	}
}

static int
run(int lfd)
{
	struct pollfd	*pfd = NULL;
	struct flow	**pflow = NULL, *f;
	size_t		 cap = 0, n, i, j, b;
	time_t		 now, swept = time(NULL);

	while (!want_exit) {
		n = 1 + nstreams;
		for (i = 0; i < nstreams; i++)
			n += streams[i]->nflows;
		if (n > cap) {
			cap = n * 2;
			free(pfd);
			free(pflow);
			pfd = zalloc(cap * sizeof *pfd);
			pflow = zalloc(cap * sizeof *pflow);
		}
		pfd[0].fd = lfd;
		pfd[0].events = nstreams < MAX_STREAMS ? POLLIN : 0;
		n = 1;
		for (i = 0; i < nstreams; i++) {
			pfd[n].fd = streams[i]->fd;
			pfd[n].events = POLLIN | (streams[i]->woff < streams[i]->wlen ? POLLOUT : 0);
			pflow[n++] = NULL;
		}
		for (i = 0; i < nstreams; i++) {
			for (b = 0; b < FLOW_BUCKETS; b++) {
				for (f = streams[i]->buckets[b]; f != NULL; f = f->next) {
					pfd[n].fd = f->fd;
					pfd[n].events = POLLIN;
					pflow[n++] = f;
				}
			}
		}
		if (poll(pfd, n, 1000) == -1) {
			if (errno == EINTR)
				goto signals;
			say("poll: %s", strerror(errno));
			return 1;
		}
		/* Replies first (their flows may be closed by what the streams say next). */
		for (i = 1 + nstreams; i < n; i++) {
			if (pfd[i].revents != 0)
				flow_read(pflow[i]);
		}
		for (i = 0; i < nstreams; i++) {
			if (pfd[1 + i].revents & (POLLIN | POLLHUP | POLLERR)) {
				if (stream_read(streams[i]) != 0)
					streams[i]->dead = 1;
			}
		}
		if (pfd[0].revents & POLLIN)
			stream_accept(lfd);
		now = time(NULL);
		for (i = 0; i < nstreams; i++) {
			if (now - swept >= 5)
				expire(streams[i], now);
			if (!streams[i]->dead && stream_flush(streams[i]) != 0)
				streams[i]->dead = 1;
		}
		if (now - swept >= 5)
			swept = now;
		for (i = j = 0; i < nstreams; i++) {
			if (streams[i]->dead) {
				if (verbose)
					say("a stream ended: %llu flows, %llu datagrams to the "
					    "service, %llu back, %llu dropped",
					    (unsigned long long)streams[i]->flows_total,
					    (unsigned long long)streams[i]->to_service,
					    (unsigned long long)streams[i]->from_service,
					    (unsigned long long)streams[i]->dropped);
				stream_free(streams[i]);
			} else
				streams[j++] = streams[i];
		}
		nstreams = j;
signals:
		if (want_stats) {
			want_stats = 0;
			stats();
		}
	}
	stats();
	free(pfd);
	free(pflow);
	return 0;
}

static void
usage(void)
{
	fprintf(stderr, "usage: tunnelgw-udp [-v] [-l ADDRESS] LISTEN_PORT HOST:UDP_PORT\n"
	    "  relays the datagrams of a tunnelgw UDP tunnel: run it beside\n"
	    "  ssh -R 0:localhost:LISTEN_PORT USER@GATEWAY udp\n"
	    "  -l ADDRESS  listen for the gateway's streams on ADDRESS (default 127.0.0.1)\n"
	    "  -v          say when streams and flows open and close\n"
	    "  -V          print the version\n");
	exit(2);
}

/* Split "HOST:PORT" or "[HOST]:PORT" into host and port (pointers into s, which is changed). */
static int
split_hostport(char *s, char **host, char **port)
{
	char	*colon;

	if (*s == '[') {
		if ((colon = strstr(s, "]:")) == NULL)
			return -1;
		*colon = '\0';
		*host = s + 1;
		*port = colon + 2;
	} else {
		if ((colon = strrchr(s, ':')) == NULL || strchr(s, ':') != colon)
			return -1;
		*colon = '\0';
		*host = s;
		*port = colon + 1;
	}
	return **host != '\0' && **port != '\0' ? 0 : -1;
}

int
main(int argc, char **argv)
{
	struct addrinfo		 hints, *res = NULL;
	struct sigaction	 sa;
	struct rlimit		 rl;
	const char		*listen_addr = "127.0.0.1";
	char			*host, *port, *spec;
	int			 ch, lfd, one = 1, rc;

	while ((ch = getopt(argc, argv, "l:vVh")) != -1) {
		switch (ch) {
		case 'l': listen_addr = optarg; break;
		case 'v': verbose = 1; break;
		case 'V': printf("tunnelgw-udp %s (stream format %d)\n", TUNNELGW_VERSION,
			      TGU_VERSION); return 0;
		default: usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc != 2)
		usage();
	spec = strdup(argv[1]);
	if (spec == NULL || split_hostport(spec, &host, &port) != 0) {
		say("'%s' is not HOST:UDP_PORT (an IPv6 address in brackets: [::1]:53)", argv[1]);
		free(spec);
		return 2;
	}
	memset(&hints, 0, sizeof hints);
	hints.ai_socktype = SOCK_DGRAM;
	if ((rc = getaddrinfo(host, port, &hints, &res)) != 0) {
		say("%s: %s", argv[1], gai_strerror(rc));
		free(spec);
		return 1;
	}
	memcpy(&target, res->ai_addr, res->ai_addrlen);
	target_len = (socklen_t)res->ai_addrlen;
	freeaddrinfo(res);
	res = NULL;

	memset(&hints, 0, sizeof hints);
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICHOST;
	if ((rc = getaddrinfo(listen_addr, argv[0], &hints, &res)) != 0) {
		say("listen on %s port %s: %s", listen_addr, argv[0], gai_strerror(rc));
		return 1;
	}
	if ((lfd = socket(res->ai_family, SOCK_STREAM, 0)) == -1 ||
	    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) == -1 ||
	    bind(lfd, res->ai_addr, res->ai_addrlen) == -1 || listen(lfd, 16) == -1 ||
	    nonblock(lfd) == -1) {
		say("listen on %s port %s: %s", listen_addr, argv[0], strerror(errno));
		return 1;
	}
	freeaddrinfo(res);

	/* A socket per flow: as many descriptors as the system lets us have. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	sa.sa_handler = on_signal;
	sigaction(SIGUSR1, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	say("relaying streams on %s port %s to udp %s", listen_addr, argv[0], argv[1]);
	free(spec);
	return run(lfd);
}
#endif
