/* SPDX-License-Identifier: ISC */
/*
 * tunnelgw: libFuzzer target of the gateway's side of a UDP tunnel's stream (src/udp.c): a
 * real relay on a loopback UDP socket, with three flows made by real datagrams, whose
 * stream is a stand-in channel. The input is what tunnelgw-udp would send back on the
 * stream, hello and frames, handed over in pieces whose sizes the input chooses; its first
 * byte also chooses whether the stream was confirmed, refused or closed meanwhile. Whatever
 * it is, the relay must take every byte, not crash, and free everything it made.
 */
#include "config.h"

#include <sys/socket.h>

#include <arpa/inet.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth.h"
#include "bridge.h"
#include "fuzz.h"
#include "registry.h"
#include "sshgw.h"
#include "udp.h"

#define FUZZ_UDP_FLOWS	3

static struct event_base		*fuzz_udp_base;
static struct policy			 fuzz_udp_pol;
static const struct sshgw_channel_events *fuzz_udp_ev;	/* what the relay gave open */
static void				*fuzz_udp_arg;
static int				 fuzz_udp_open;		/* the stand-in channel lives */

/* The stand-in channel: one at a time, taking everything written. */
static void *
fuzz_udp_ch_open(void *owner, const char *address, int port, const char *orig_ip,
    int orig_port, const struct sshgw_channel_events *ev, void *arg)
{
	if (fuzz_udp_open)
		fuzz_fail("a second stream while the first lives");
	fuzz_udp_ev = ev;
	fuzz_udp_arg = arg;
	fuzz_udp_open = 1;
	return &fuzz_udp_open;
}

static ssize_t
fuzz_udp_ch_write(void *ch, const void *buf, size_t len)
{
	return (ssize_t)len;
}

static size_t
fuzz_udp_ch_window(void *ch)
{
	return 1 << 20;
}

static ssize_t
fuzz_udp_ch_read(void *ch, void *buf, size_t len)
{
	return 0;
}

static size_t
fuzz_udp_ch_pending(void *ch)
{
	return 0;
}

static void
fuzz_udp_ch_backlog(void *ch, size_t len)
{
}

static void
fuzz_udp_ch_eof(void *ch)
{
}

static void
fuzz_udp_ch_free(void *ch)
{
	if (ch != NULL)
		fuzz_udp_open = 0;
}

static int
fuzz_udp_ch_pending_command(void *ch)
{
	return 0;
}

static const struct bridge_channel_ops fuzz_udp_ops = {
	.open = fuzz_udp_ch_open,
	.write = fuzz_udp_ch_write,
	.window = fuzz_udp_ch_window,
	.read = fuzz_udp_ch_read,
	.pending = fuzz_udp_ch_pending,
	.backlog = fuzz_udp_ch_backlog,
	.eof = fuzz_udp_ch_eof,
	.free = fuzz_udp_ch_free,
	.command_pending = fuzz_udp_ch_pending_command,
};

/* libFuzzer: once at start: a loop, and the rules every relay's grant keeps. */
int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_quiet();
	if ((fuzz_udp_base = event_base_new()) == NULL)
		fuzz_fail("event_base_new");
	fuzz_udp_pol.public_host = "fuzz.test";
	fuzz_udp_pol.udp_flow_timeout = 60;
	fuzz_udp_pol.max_connections = 1000;
	fuzz_udp_pol.proxy_protocol = 2;	/* the first datagram of each flow gets a header */
	return 0;
}

/* A UDP socket on loopback, port any; its address in *sin. */
static int
fuzz_udp_socket(struct sockaddr_in *sin)
{
	socklen_t	 len = sizeof *sin;
	int		 fd;

	memset(sin, 0, sizeof *sin);
	sin->sin_family = AF_INET;
	sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) == -1 ||
	    bind(fd, (struct sockaddr *)sin, sizeof *sin) == -1 ||
	    getsockname(fd, (struct sockaddr *)sin, &len) == -1)
		fuzz_fail("a loopback UDP socket");
	return fd;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct udp_relay_info	 info;
	struct udp_relay	*r;
	struct reg_tunnel	*reg;
	struct grant		*g;
	struct sockaddr_in	 pub, sin;
	struct fuzz_input	 in;
	int			 fd, clients[FUZZ_UDP_FLOWS], i, mode;
	size_t			 n;

	if (size > 1 << 17)
		return 0;
	fuzz_input_init(&in, data, size);
	mode = (int)fuzz_input_byte(&in);
	g = grant_create(&fuzz_udp_pol, "fuzz", GRANT_KEYFILE, NULL, -1);
	if ((reg = registry_add("fuzz", "udp://fuzz.test:1", "*:0", 1, -1)) == NULL)
		fuzz_fail("registry_add");
	fd = fuzz_udp_socket(&pub);
	memset(&info, 0, sizeof info);
	info.ops = &fuzz_udp_ops;
	info.owner = NULL;
	info.address = "";
	info.chan_port = 1;
	info.port = ntohs(pub.sin_port);
	info.url = "udp://fuzz.test:1";
	info.public_host = fuzz_udp_pol.public_host;
	info.grant = &g;
	info.reg = reg;
	r = udp_relay_create(fuzz_udp_base, fd, &info);

	/* Three flows, numbered 1 to 3, each from its own socket. */
	for (i = 0; i < FUZZ_UDP_FLOWS; i++) {
		clients[i] = fuzz_udp_socket(&sin);
		if (sendto(clients[i], "q", 1, 0, (struct sockaddr *)&pub, sizeof pub) != 1)
			fuzz_fail("sendto");
	}
	event_base_loop(fuzz_udp_base, EVLOOP_NONBLOCK);
	if (!fuzz_udp_open)
		fuzz_fail("no stream opened for the first datagrams");
	if (mode & 1)
		fuzz_udp_ev->opened(fuzz_udp_arg, 1, NULL);
	else if (mode & 2)
		fuzz_udp_ev->opened(fuzz_udp_arg, 0, "refused by the fuzzer");
	while (in.left > 0 && fuzz_udp_open) {
		n = fuzz_input_byte(&in) * 7 + 1;
		if (n > in.left)
			n = in.left;
		if (fuzz_udp_ev->data(fuzz_udp_arg, in.p, n) != n)
			fuzz_fail("the relay left %zu bytes of the stream untaken", n);
		in.p += n;
		in.left -= n;
		event_base_loop(fuzz_udp_base, EVLOOP_NONBLOCK);
		if ((mode & 4) && fuzz_udp_open) {
			fuzz_udp_ev->writable(fuzz_udp_arg);
			mode &= ~4;
		}
	}
	if ((mode & 8) && fuzz_udp_open)
		fuzz_udp_ev->closed(fuzz_udp_arg);
	udp_relay_free(r, "the fuzzer is done");
	if (fuzz_udp_open)
		fuzz_fail("the relay did not free its stream");
	for (i = 0; i < FUZZ_UDP_FLOWS; i++)
		close(clients[i]);
	registry_remove(reg);
	grant_release(g);
	return 0;
}
