/* SPDX-License-Identifier: ISC */
/*
 * tunnelgw: unit tests of the bridge over a fake channel: the public side is one end of a
 * socket pair, the test holds the other end and plays the SSH client through the channel
 * table, and the loop is run one step at a time until what is awaited holds.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>

#include "auth.h"
#include "bridge.h"
#include "log.h"
#include "registry.h"
#include "sshgw.h"
#include "xmalloc.h"
#include "tg_test.h"

#define STEPS		100000		/* loop steps a condition may take, at most */
#define WAIT_STEPS	2000		/* the same for steps that wait for the tick */
#define BULK		(1024 * 1024)	/* bytes sent each way by the bulk test */
#define CHUNK		(64 * 1024)	/* bytes either peer sends at once */
#define TICK_US		1000		/* the tick that bounds a waiting step */
#define OWNER_HOST	"192.0.2.7"
#define OWNER_PORT	40001
#define PUBLIC_PORT	2000

/* A growing byte buffer. */
struct tbuf {
	unsigned char	*data;
	size_t		 off;
	size_t		 len;
};

/* The fake channel, and what the bridge did with it. */
struct fake {
	const struct sshgw_channel_events *ev;
	void		*arg;
	void		*owner;		/* what open was given */
	char		 address[64];
	int		 port;
	char		 orig_ip[64];
	int		 orig_port;
	int		 refuse;	/* open returns NULL */
	const char	*greeting;	/* data the client sends inside open */
	size_t		 window;	/* bytes write takes; used up by writes */
	int		 window_calls;
	int		 command_pending;
	struct tbuf	 got;		/* what the bridge wrote: public -> client */
	struct tbuf	 held;		/* client bytes not taken (pending) */
	size_t		 backlog;
	int		 eofs;		/* eof calls */
	size_t		 got_at_eof;
	int		 frees;		/* free calls with the channel */
};

/* The test's end of the public connection. */
struct pub {
	int		 fd;		/* the test's end */
	int		 bridge_fd;	/* the bridge's end, to look at what it left unread */
	const unsigned char *src;	/* what the public client sends */
	size_t		 src_len;
	size_t		 sent;
	int		 shut_after;	/* send EOF once src is sent */
	int		 reading;
	struct tbuf	 got;		/* what it read */
	int		 eof;		/* read ended (EOF or reset) */
};

static struct fake		 fk;
static struct pub		 pb;
static char			 fk_chan;	/* the fake's channel handle */
static char			 fk_owner;
static const unsigned char	*ssh_src;	/* what the fake SSH client sends */
static size_t			 ssh_len, ssh_sent;
static int			 pump_wait;	/* steps may block until the tick */
static struct event_base	*base;
static struct event		*tick;
static struct reg_tunnel	*reg;
static struct policy		 pol;		/* proxy_protocol: the header */
static struct grant		*grant;
static unsigned char		*pattern_a, *pattern_b;

/* Return the bytes a buffer holds. */
static size_t
tbuf_used(const struct tbuf *b)
{
	return b->len - b->off;
}

/* Append to a buffer. */
static void
tbuf_add(struct tbuf *b, const void *data, size_t len)
{
	b->data = xreallocarray(b->data, 1, b->len + len + 1);
	memcpy(b->data + b->len, data, len);
	b->len += len;
	b->data[b->len] = '\0';
}

/* Drop bytes from the front of a buffer. */
static void
tbuf_drop(struct tbuf *b, size_t n)
{
	b->off += n;
}

/* Does a buffer hold exactly len bytes equal to want. */
static int
tbuf_is(const struct tbuf *b, const void *want, size_t len)
{
	return tbuf_used(b) == len && memcmp(b->data + b->off, want, len) == 0;
}

/* Check that the bridge hands the fake's own channel, and only while it is open. */
static void
fake_check(void *ch)
{
	ck_assert_ptr_eq(ch, &fk_chan);
	ck_assert_int_eq(fk.frees, 0);
}

/* The client sends data: offered with what it left before, as libssh does. */
static size_t
fake_send(const void *data, size_t len)
{
	size_t	 taken;

	tbuf_add(&fk.held, data, len);
	taken = fk.ev->data(fk.arg, fk.held.data + fk.held.off, tbuf_used(&fk.held));
	ck_assert_uint_le(taken, tbuf_used(&fk.held));
	tbuf_drop(&fk.held, taken);
	return taken;
}

/* Channel op: open; the client may speak inside the call, before the bridge has ch. */
static void *
fake_open(void *owner, const char *address, int port, const char *orig_ip, int orig_port,
    const struct sshgw_channel_events *ev, void *arg)
{
	fk.owner = owner;
	snprintf(fk.address, sizeof fk.address, "%s", address);
	fk.port = port;
	snprintf(fk.orig_ip, sizeof fk.orig_ip, "%s", orig_ip);
	fk.orig_port = orig_port;
	fk.ev = ev;
	fk.arg = arg;
	if (fk.refuse)
		return NULL;
	if (fk.greeting != NULL)
		fake_send(fk.greeting, strlen(fk.greeting));
	return &fk_chan;
}

/* Channel op: take what the window allows. */
static ssize_t
fake_write(void *ch, const void *buf, size_t len)
{
	fake_check(ch);
	if (len > fk.window)
		len = fk.window;
	fk.window -= len;
	tbuf_add(&fk.got, buf, len);
	return (ssize_t)len;
}

/* Channel op: the window. */
static size_t
fake_window(void *ch)
{
	fake_check(ch);
	fk.window_calls++;
	return fk.window;
}

/* Channel op: take bytes the bridge left behind. */
static ssize_t
fake_read(void *ch, void *buf, size_t len)
{
	fake_check(ch);
	if (len > tbuf_used(&fk.held))
		len = tbuf_used(&fk.held);
	memcpy(buf, fk.held.data + fk.held.off, len);
	tbuf_drop(&fk.held, len);
	return (ssize_t)len;
}

/* Channel op: how many bytes the bridge left behind. */
static size_t
fake_pending(void *ch)
{
	fake_check(ch);
	return tbuf_used(&fk.held);
}

/* Channel op: what the bridge holds; called without a channel while open runs. */
static void
fake_backlog(void *ch, size_t len)
{
	if (ch != NULL)
		fake_check(ch);
	fk.backlog = len;
}

/* Channel op: the public side sent EOF. */
static void
fake_eof(void *ch)
{
	fake_check(ch);
	fk.eofs++;
	fk.got_at_eof = tbuf_used(&fk.got);
}

/* Channel op: let the channel go. */
static void
fake_free(void *ch)
{
	if (ch == NULL)
		return;
	fake_check(ch);
	fk.frees++;
}

/* Channel op: is the command still to come. */
static int
fake_command_pending(void *ch)
{
	if (ch != NULL)
		fake_check(ch);
	return fk.command_pending;
}

static const struct bridge_channel_ops fake_ops = {
	.open = fake_open,
	.write = fake_write,
	.window = fake_window,
	.read = fake_read,
	.pending = fake_pending,
	.backlog = fake_backlog,
	.eof = fake_eof,
	.free = fake_free,
	.command_pending = fake_command_pending,
};

/* libevent: the tick that ends a waiting step. */
static void
on_tick(evutil_socket_t fd, short what, void *arg)
{
}

/* The public client's part of a step: send what is left, read what came. */
static void
pump_public(void)
{
	unsigned char	 buf[CHUNK];
	size_t		 len = pb.src_len - pb.sent;
	ssize_t		 n;

	if (len > CHUNK)
		len = CHUNK;
	if (len > 0 && (n = write(pb.fd, pb.src + pb.sent, len)) > 0)
		pb.sent += (size_t)n;
	if (pb.shut_after && pb.sent == pb.src_len) {
		ck_assert_int_eq(shutdown(pb.fd, SHUT_WR), 0);
		pb.shut_after = 0;
	}
	if (!pb.reading || pb.eof)
		return;
	n = read(pb.fd, buf, sizeof buf);
	if (n > 0)
		tbuf_add(&pb.got, buf, (size_t)n);
	else if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK))
		pb.eof = 1;
}

/* One step: each peer acts, then the loop runs once. */
static void
pump(void)
{
	size_t	 len = ssh_len - ssh_sent;

	pump_public();
	if (len > CHUNK)
		len = CHUNK;
	if (len > 0 && tbuf_used(&fk.held) == 0 && fk.frees == 0) {
		fake_send(ssh_src + ssh_sent, len);
		ssh_sent += len;
	}
	event_base_loop(base, pump_wait ? EVLOOP_ONCE : EVLOOP_ONCE | EVLOOP_NONBLOCK);
}

/* Step until cond holds, at most STEPS (or WAIT_STEPS) times. */
#define pump_until(cond) do {						\
	int	 steps_, max_ = pump_wait ? WAIT_STEPS : STEPS;		\
	for (steps_ = 0; steps_ < max_ && !(cond); steps_++)		\
		pump();							\
	ck_assert_msg((cond), "not reached in %d steps: %s", max_, #cond);	\
} while (0)

/* Step n times. */
static void
pump_n(int n)
{
	while (n-- > 0)
		pump();
}

/* Return how many bytes wait unread at the bridge's end of the public connection. */
static int
unread(void)
{
	int	 n = -1;

	ck_assert_int_eq(ioctl(pb.bridge_fd, FIONREAD, &n), 0);
	return n;
}

/* Fill len bytes with a pattern that shows lost, repeated or reordered chunks. */
static unsigned char *
pattern(size_t len, unsigned int seed)
{
	unsigned char	*p = xmalloc(len);
	size_t		 i;

	for (i = 0; i < len; i++)
		p[i] = (unsigned char)(i % 251 + seed);
	return p;
}

/* The public client will send len bytes of src, then EOF when shut. */
static void
public_sends(const void *src, size_t len, int shut)
{
	pb.src = src;
	pb.src_len = len;
	pb.sent = 0;
	pb.shut_after = shut;
}

/* The SSH client will send len bytes of src, a chunk whenever the bridge took the last. */
static void
ssh_sends(const void *src, size_t len)
{
	ssh_src = src;
	ssh_len = len;
	ssh_sent = 0;
}

/* Make a connected pair of non-blocking sockets over loopback TCP, for PROXY headers. */
static void
tcp_pair(int *bridge_fd, int *test_fd)
{
	struct sockaddr_in	 sin;
	socklen_t		 len = sizeof sin;
	int			 l;

	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_ne(l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), -1);
	ck_assert_int_eq(bind(l, (struct sockaddr *)&sin, sizeof sin), 0);
	ck_assert_int_eq(listen(l, 1), 0);
	ck_assert_int_eq(getsockname(l, (struct sockaddr *)&sin, &len), 0);
	ck_assert_int_ne(*test_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), -1);
	ck_assert_int_eq(connect(*test_fd, (struct sockaddr *)&sin, sizeof sin), 0);
	*bridge_fd = accept4(l, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	ck_assert_int_ne(*bridge_fd, -1);
	ck_assert_int_ne(fcntl(*test_fd, F_SETFL, O_NONBLOCK), -1);
	close(l);
}

/* Bridge a new public connection (TCP when tcp, else a socket pair); returns bridge_create's. */
static int
start(int tcp)
{
	struct bridge_tunnel_info	 info = {
		.port = PUBLIC_PORT,
		.address = "localhost",
		.url = "tcp://gw.example.net:2000",
		.public_host = "gw.example.net",
		.grant = grant,
		.reg = reg,
	};
	struct sockaddr_storage		 ss;
	struct sockaddr_in		*sin = (struct sockaddr_in *)&ss;
	socklen_t			 len = sizeof ss;
	int				 sv[2];

	memset(&ss, 0, sizeof ss);
	if (tcp) {
		tcp_pair(&sv[0], &sv[1]);
		ck_assert_int_eq(getpeername(sv[0], (struct sockaddr *)&ss, &len), 0);
	} else {
		ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
		    sv), 0);
		sin->sin_family = AF_INET;
		sin->sin_port = htons(OWNER_PORT);
		ck_assert_int_eq(inet_pton(AF_INET, OWNER_HOST, &sin->sin_addr), 1);
		len = sizeof *sin;
	}
	pb.bridge_fd = sv[0];
	pb.fd = sv[1];
	return bridge_create(base, &fake_ops, &fk_owner, &info, sv[0], (struct sockaddr *)&ss, len);
}

/* Start a bridge over a socket pair and have the client confirm its channel. */
static void
start_open(size_t window)
{
	fk.window = window;
	ck_assert_int_eq(start(0), 0);
	fk.ev->opened(fk.arg, 1, NULL);
}

/* Checked fixture: a loop with a tick, a registry tunnel, a grant, a fresh fake and client. */
static void
setup(void)
{
	struct timeval	 tv = { 0, TICK_US };

	memset(&fk, 0, sizeof fk);
	memset(&pb, 0, sizeof pb);
	pb.reading = 1;
	ssh_sends(NULL, 0);
	pump_wait = 0;
	ck_assert_ptr_nonnull(base = event_base_new());
	tick = event_new(base, -1, EV_PERSIST, on_tick, NULL);
	ck_assert_ptr_nonnull(tick);
	ck_assert_int_eq(event_add(tick, &tv), 0);
	reg = registry_add("alice", "tcp://gw.example.net:2000", "localhost:2000", 1, -1);
	ck_assert_ptr_nonnull(reg);
	memset(&pol, 0, sizeof pol);
	pol.public_host = "gw.example.net";
	grant = grant_create(&pol, "alice", GRANT_KEYFILE, NULL, -1);
	pattern_a = pattern(BULK, 0);
	pattern_b = pattern(BULK, 101);
}

/* Checked fixture: free what setup made, and whatever bridge a test left. */
static void
teardown(void)
{
	bridge_free_all();
	ck_assert_int_eq(registry_connections_open(), 0);
	registry_remove(reg);
	grant_release(grant);
	event_free(tick);
	event_base_free(base);
	close(pb.fd);
	free(fk.got.data);
	free(fk.held.data);
	free(pb.got.data);
	free(pattern_a);
	free(pattern_b);
}

/* 1 MB each way arrives intact; the connection counts while open; both EOFs end it. */
START_TEST(test_bulk_both_ways)
{
	struct registry_totals	 t0, t1;

	registry_totals(&t0);
	start_open((size_t)1 << 40);
	ck_assert_ptr_eq(fk.owner, &fk_owner);
	ck_assert_str_eq(fk.address, "localhost");
	ck_assert_int_eq(fk.port, PUBLIC_PORT);
	ck_assert_str_eq(fk.orig_ip, OWNER_HOST);
	ck_assert_int_eq(fk.orig_port, OWNER_PORT);
	ck_assert_int_eq(registry_connections_open(), 1);
	ck_assert_int_eq(registry_conns(reg), 1);
	public_sends(pattern_a, BULK, 1);
	ssh_sends(pattern_b, BULK);
	pump_until(fk.eofs == 1 && tbuf_used(&pb.got) == BULK);
	ck_assert(tbuf_is(&fk.got, pattern_a, BULK));
	ck_assert(tbuf_is(&pb.got, pattern_b, BULK));
	ck_assert_uint_eq(fk.got_at_eof, BULK);
	registry_totals(&t1);
	ck_assert_uint_eq(t1.bytes_in - t0.bytes_in, BULK);
	ck_assert_uint_eq(t1.bytes_out - t0.bytes_out, BULK);
	fk.ev->eof(fk.arg);
	pump_until(pb.eof);
	ck_assert_int_eq(fk.frees, 1);
	ck_assert_int_eq(registry_connections_open(), 0);
	ck_assert_int_eq(registry_conns(reg), 0);
}
END_TEST

/* What a service sends before the client confirms the channel reaches the public client. */
START_TEST(test_service_first)
{
	static const char	 greeting[] = "220 smtp.example ESMTP\r\n";
	static const char	 more[] = "220-more before opened\r\n";
	char			 want[sizeof greeting + sizeof more];

	fk.greeting = greeting;
	fk.window = 1024;
	ck_assert_int_eq(start(0), 0);
	fake_send(more, strlen(more));
	snprintf(want, sizeof want, "%s%s", greeting, more);
	pump_until(tbuf_used(&pb.got) == strlen(want));
	ck_assert(tbuf_is(&pb.got, want, strlen(want)));
	ck_assert_uint_eq(fk.backlog, 0);
	fk.ev->opened(fk.arg, 1, NULL);
	public_sends("EHLO me\r\n", 9, 0);
	pump_until(tbuf_used(&fk.got) == 9);
	ck_assert(tbuf_is(&fk.got, "EHLO me\r\n", 9));
}
END_TEST

/* A channel the client refuses closes the public connection. */
START_TEST(test_refused)
{
	ck_assert_int_eq(start(0), 0);
	public_sends("hello", 5, 0);
	pump_n(20);
	ck_assert_int_eq(registry_connections_open(), 1);
	fk.ev->opened(fk.arg, 0, "connect failed");
	ck_assert_int_eq(fk.frees, 1);
	ck_assert_int_eq(registry_connections_open(), 0);
	pump_until(pb.eof);
	ck_assert_uint_eq(tbuf_used(&pb.got), 0);
	ck_assert_uint_eq(tbuf_used(&fk.got), 0);
}
END_TEST

/* A channel that cannot be opened at all closes the public connection at once. */
START_TEST(test_open_fails)
{
	fk.refuse = 1;
	ck_assert_int_eq(start(0), -1);
	ck_assert_int_eq(registry_connections_open(), 0);
	pump_until(pb.eof);
	ck_assert_int_eq(fk.frees, 0);
}
END_TEST

/*
 * With no window the public socket is not read, nor even watched (the bridge does not ask
 * the window again each step); writable resumes it, in order.
 */
START_TEST(test_backpressure)
{
	unsigned char	*p = pattern_a;
	int		 calls;

	start_open(0);
	public_sends(p, 1000, 0);
	pump_n(100);
	ck_assert_uint_eq(pb.sent, 1000);
	calls = fk.window_calls;
	pump_n(100);
	ck_assert_int_eq(fk.window_calls, calls);
	ck_assert_uint_eq(tbuf_used(&fk.got), 0);
	ck_assert_int_eq(unread(), 1000);
	fk.window = 300;
	fk.ev->writable(fk.arg);
	pump_until(tbuf_used(&fk.got) == 300);
	pump_n(100);
	ck_assert_uint_eq(tbuf_used(&fk.got), 300);
	ck_assert_int_eq(unread(), 700);
	fk.window = 100000;
	fk.ev->writable(fk.arg);
	pump_until(tbuf_used(&fk.got) == 1000);
	ck_assert(tbuf_is(&fk.got, p, 1000));
}
END_TEST

/* EOF from the public client reaches the channel; the other way still flows after it. */
START_TEST(test_public_eof)
{
	static const char	 req[] = "GET / HTTP/1.0\r\n\r\n";
	static const char	 resp[] = "HTTP/1.0 200 OK\r\n\r\nhello";

	start_open(100000);
	public_sends(req, strlen(req), 1);
	pump_until(fk.eofs == 1);
	ck_assert(tbuf_is(&fk.got, req, strlen(req)));
	ck_assert_uint_eq(fk.got_at_eof, strlen(req));
	ssh_sends(resp, strlen(resp));
	pump_until(tbuf_used(&pb.got) == strlen(resp));
	ck_assert(tbuf_is(&pb.got, resp, strlen(resp)));
	pump_n(100);
	ck_assert_int_eq(pb.eof, 0);
	ck_assert_int_eq(fk.frees, 0);
	fk.ev->eof(fk.arg);
	pump_until(pb.eof);
	ck_assert_int_eq(fk.eofs, 1);
	ck_assert_int_eq(fk.frees, 1);
	ck_assert_int_eq(registry_connections_open(), 0);
}
END_TEST

/* A closed channel lets the public client read all that was sent, then EOF. */
START_TEST(test_channel_closed)
{
	size_t	 sent = 0;
	int	 sndbuf = 32 * 1024;

	start_open(100000);
	ck_assert_int_eq(setsockopt(pb.bridge_fd, SOL_SOCKET, SO_SNDBUF, &sndbuf,
	    sizeof sndbuf), 0);
	pb.reading = 0;
	while (tbuf_used(&fk.held) == 0 && sent + CHUNK <= BULK) {
		fake_send(pattern_b + sent, CHUNK);
		sent += CHUNK;
		pump_n(2);
	}
	/* The public client does not read: the bridge filled its buffer and left the rest. */
	ck_assert_uint_gt(tbuf_used(&fk.held), 0);
	ck_assert_uint_gt(fk.backlog, 0);
	fk.ev->closed(fk.arg);
	ck_assert_int_eq(fk.frees, 1);
	ck_assert_uint_eq(tbuf_used(&fk.held), 0);
	pb.reading = 1;
	pump_until(pb.eof);
	ck_assert(tbuf_is(&pb.got, pattern_b, sent));
	ck_assert_int_eq(registry_connections_open(), 0);
}
END_TEST

/* The ports of a TCP public connection: the client's (src) and the public port (dst). */
static void
public_ports(unsigned int *src, unsigned int *dst)
{
	struct sockaddr_in	 sin;
	socklen_t		 len = sizeof sin;

	ck_assert_int_eq(getsockname(pb.fd, (struct sockaddr *)&sin, &len), 0);
	*src = ntohs(sin.sin_port);
	len = sizeof sin;
	ck_assert_int_eq(getsockname(pb.bridge_fd, (struct sockaddr *)&sin, &len), 0);
	*dst = ntohs(sin.sin_port);
}

/* Write the v1 line a TCP public connection should get, followed by then, into buf. */
static void
v1_line(char *buf, size_t size, const char *then)
{
	unsigned int	 src, dst;

	public_ports(&src, &dst);
	snprintf(buf, size, "PROXY TCP4 127.0.0.1 127.0.0.1 %u %u\r\n%s", src, dst, then);
}

/* A PROXY v1 line goes first to the channel, then the public client's bytes. */
START_TEST(test_proxy_v1)
{
	char	 want[160];

	pol.proxy_protocol = 1;
	fk.window = 100000;
	ck_assert_int_eq(start(1), 0);
	v1_line(want, sizeof want, "hello");
	public_sends("hello", 5, 0);
	pump_n(20);
	ck_assert_uint_eq(tbuf_used(&fk.got), 0);	/* nothing before the channel opens */
	fk.ev->opened(fk.arg, 1, NULL);
	pump_until(tbuf_used(&fk.got) == strlen(want));
	ck_assert_str_eq((char *)fk.got.data, want);
}
END_TEST

/* Read a big-endian 16-bit number. */
static unsigned int
be16(const unsigned char *p)
{
	return (unsigned int)p[0] << 8 | p[1];
}

/* A PROXY v2 header goes first: addresses, ports, the public host and a connection id. */
START_TEST(test_proxy_v2)
{
	static const unsigned char sig[12] = {
		0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A
	};
	static const unsigned char lo[4] = { 127, 0, 0, 1 };
	const unsigned char	*h;
	size_t			 hlen, off;
	unsigned int		 src, dst;

	pol.proxy_protocol = 2;
	ck_assert_int_eq(start(1), 0);
	public_ports(&src, &dst);
	public_sends("hello", 5, 0);
	fk.window = 100000;
	fk.ev->opened(fk.arg, 1, NULL);
	pump_until(tbuf_used(&fk.got) > 16 &&
	    tbuf_used(&fk.got) == 16 + be16(fk.got.data + 14) + 5);
	h = fk.got.data;
	hlen = 16 + be16(h + 14);
	ck_assert_int_eq(memcmp(h, sig, sizeof sig), 0);
	ck_assert_uint_eq(h[12], 0x21);			/* version 2, PROXY */
	ck_assert_uint_eq(h[13], 0x11);			/* TCP over IPv4 */
	ck_assert_int_eq(memcmp(h + 16, lo, 4), 0);
	ck_assert_int_eq(memcmp(h + 20, lo, 4), 0);
	ck_assert_uint_eq(be16(h + 24), src);
	ck_assert_uint_eq(be16(h + 26), dst);
	off = 28;
	ck_assert_uint_eq(h[off], 0x02);			/* authority */
	ck_assert_uint_eq(be16(h + off + 1), strlen("gw.example.net"));
	ck_assert_int_eq(memcmp(h + off + 3, "gw.example.net", 14), 0);
	off += 3 + 14;
	ck_assert_uint_eq(h[off], 0x05);			/* unique id: the connection's */
	ck_assert_uint_gt(be16(h + off + 1), 0);
	ck_assert_uint_eq(off + 3 + be16(h + off + 1), hlen);
	for (off += 3; off < hlen; off++)
		ck_assert(h[off] >= '0' && h[off] <= '9');
	ck_assert_int_eq(memcmp(h + hlen, "hello", 5), 0);
}
END_TEST

/* A connection whose addresses no PROXY header can carry is closed, not forwarded bare. */
START_TEST(test_proxy_unix)
{
	pol.proxy_protocol = 1;
	start_open(100000);
	ck_assert_int_eq(fk.frees, 1);
	pump_until(pb.eof);
	ck_assert_uint_eq(tbuf_used(&fk.got), 0);
}
END_TEST

/* While the command is still to come, public bytes wait; its PROXY header goes first. */
START_TEST(test_command_pending)
{
	char		 want[160], *cause = NULL;
	char		 w0[] = "tcp", w1[] = "--proxy-proto=1";
	char *const	 cmd[] = { w0, w1 };

	fk.command_pending = 1;
	fk.window = 100000;
	ck_assert_int_eq(start(1), 0);
	v1_line(want, sizeof want, "early");
	fk.ev->opened(fk.arg, 1, NULL);
	public_sends("early", 5, 0);
	pump_wait = 1;
	pump_n(30);
	ck_assert_uint_eq(pb.sent, 5);
	ck_assert_uint_eq(tbuf_used(&fk.got), 0);
	ck_assert_int_eq(unread(), 5);
	ck_assert_int_eq(grant_command(grant, cmd, 2, &cause), 0);
	fk.command_pending = 0;
	pump_until(tbuf_used(&fk.got) == strlen(want));
	ck_assert_str_eq((char *)fk.got.data, want);
}
END_TEST

/* The bridge suite. */
static Suite *
bridge_suite(void)
{
	Suite	*s = suite_create("bridge");
	TCase	*tc = tcase_create("bridge");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_bulk_both_ways);
	tcase_add_test(tc, test_service_first);
	tcase_add_test(tc, test_refused);
	tcase_add_test(tc, test_open_fails);
	tcase_add_test(tc, test_backpressure);
	tcase_add_test(tc, test_public_eof);
	tcase_add_test(tc, test_channel_closed);
	tcase_add_test(tc, test_proxy_v1);
	tcase_add_test(tc, test_proxy_v2);
	tcase_add_test(tc, test_proxy_unix);
	tcase_add_test(tc, test_command_pending);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	signal(SIGPIPE, SIG_IGN);
	log_set_level(LOG_LEVEL_WARN);
	return tg_run(bridge_suite());
}
