/* SPDX-License-Identifier: ISC */
/*
 * tunnelgw: libFuzzer target of tunnelgw-udp's stream reader (contrib/tunnelgw-udp.c, built
 * in here whole without its main): the input is what a peer on its listening port sends,
 * hello and frames, read through a socket pair as the helper reads a stream. Whatever it is,
 * the helper must not crash, the frames it writes back must parse whole, and every flow it
 * opened must close with the stream.
 */
#define TGU_NO_MAIN
#include "../contrib/tunnelgw-udp.c"

#include "fuzz.h"

static void
fuzz_count(void *arg, int type, uint32_t flow, const unsigned char *p, size_t n)
{
	(*(size_t *)arg)++;
	(void)type;
	(void)flow;
	(void)p;
	(void)n;
}

/* libFuzzer: once at start: the service is the discard port of loopback; the helper is quiet. */
int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct sockaddr_in	*sin = (struct sockaddr_in *)(void *)&target;

	(void)argc;
	(void)argv;
	(void)stream_accept;	/* the listening side and the replies are not fuzzed */
	(void)flow_read;
	sin->sin_family = AF_INET;
	sin->sin_port = htons(9);
	sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	target_len = sizeof *sin;
	silent = 1;
	signal(SIGPIPE, SIG_IGN);	/* as the helper's main does */
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static unsigned char	 sink[65536];
	struct stream		*s;
	size_t			 n = 0, sent = 0;
	ssize_t			 w;
	int			 sv[2], rounds;

	if (size > RBUF_SIZE || socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == -1)
		return 0;
	(void)nonblock(sv[0]);
	(void)nonblock(sv[1]);
	s = zalloc(sizeof *s);
	s->fd = sv[0];
	s->idle = FLOW_IDLE;
	s->rbuf = zalloc(RBUF_SIZE);
	s->wbuf = zalloc(WBUF_MAX);
	memcpy(s->wbuf, tgu_magic, sizeof tgu_magic);
	s->wbuf[6] = TGU_VERSION;
	s->wlen = TGU_HELLO_LEN;
	/* The hello goes first, so that the write buffer holds nothing but frames after it. */
	if (stream_flush(s) != 0 || s->wlen != 0)
		fuzz_fail("the helper's hello was not sent");
	/* Feed the input in pieces as the socket takes it, reading after each. */
	for (rounds = 0; rounds < 64 && !s->dead; rounds++) {
		if (sent < size && (w = send(sv[1], data + sent, size - sent, 0)) > 0)
			sent += (size_t)w;
		if (sent == size && sv[1] != -1) {
			close(sv[1]);
			sv[1] = -1;
		}
		if (stream_read(s) != 0)
			s->dead = 1;
		if (s->rlen >= TGU_HDR && s->hello_in &&
		    TGU_HDR + ((size_t)s->rbuf[5] << 8 | s->rbuf[6]) <= s->rlen)
			fuzz_fail("the reader left a whole frame unread");
		if (s->woff > s->wlen || s->wlen > WBUF_MAX)
			fuzz_fail("the write buffer is out of bounds: %zu of %zu", s->woff, s->wlen);
		if (tgu_frames(s->wbuf + s->woff, s->wlen - s->woff, fuzz_count, &n) !=
		    s->wlen - s->woff)
			fuzz_fail("the helper wrote frames that do not parse whole");
		if (stream_flush(s) != 0)
			s->dead = 1;
		if (sv[1] != -1)
			while (recv(sv[1], sink, sizeof sink, 0) > 0)
				;
	}
	if (sv[1] != -1)
		close(sv[1]);
	stream_free(s);		/* closes sv[0] and every flow's socket */
	return 0;
}
