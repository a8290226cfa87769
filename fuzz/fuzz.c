/* SPDX-License-Identifier: ISC */
/*
 * tunnelgw: helpers of the libFuzzer targets: quiet logs, input as strings or fields, a scratch
 * folder, and a client that sends an input over a socket while an event loop serves it.
 */
#include "config.h"

#include <sys/socket.h>

#include <errno.h>
#include <event2/event.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz.h"
#include "log.h"
#include "xmalloc.h"

/* The client end of a socket, sending an input in pieces and reading the reply. */
struct fuzz_client {
	struct event_base	*base;
	int			 fd;
	const uint8_t		*data;
	size_t			 size;
	size_t			 off;
	size_t			 piece;		/* bytes per send; 0: all at once */
	int			 shut;		/* end our side after the last byte */
	char			*reply;		/* NULL: read and drop */
	size_t			*got;
	size_t			 max;
	struct event		*wr;
	int			 late;
};

static char	fuzz_dir[64];

/* Log errors only: a target runs millions of inputs, most of them refused with a log line. */
void
fuzz_quiet(void)
{
	log_set_level(LOG_LEVEL_ERROR);
}

/* The input as a new NUL-terminated string; a NUL byte inside ends it early, as in C. */
char *
fuzz_string(const uint8_t *data, size_t size)
{
	char	*s = xmalloc(size + 1);

	memcpy(s, data, size);
	s[size] = '\0';
	return s;
}

/* Remove one entry of the scratch folder. */
static int
fuzz_rm(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	return remove(path);
}

/* At exit: remove the scratch folder and what is in it. */
static void
fuzz_cleanup(void)
{
	if (fuzz_dir[0] != '\0')
		nftw(fuzz_dir, fuzz_rm, 16, FTW_DEPTH | FTW_PHYS);
}

/* A private scratch folder (mode 0700) made on first use and removed at exit. */
const char *
fuzz_tmpdir(void)
{
	if (fuzz_dir[0] != '\0')
		return fuzz_dir;
	snprintf(fuzz_dir, sizeof fuzz_dir, "/tmp/tg-fuzz-XXXXXX");
	if (mkdtemp(fuzz_dir) == NULL)
		fuzz_fail("cannot make a scratch folder");
	atexit(fuzz_cleanup);
	return fuzz_dir;
}

/* Write len bytes to name in the scratch folder; returns its path, a new string. */
char *
fuzz_write(const char *name, const void *data, size_t len)
{
	char	*path;
	FILE	*fp;

	xasprintf(&path, "%s/%s", fuzz_tmpdir(), name);
	if ((fp = fopen(path, "w")) == NULL || fwrite(data, 1, len, fp) != len ||
	    fclose(fp) != 0)
		fuzz_fail("cannot write %s", path);
	return path;
}

/* A broken property: say which, then abort so libFuzzer keeps the input. */
void
fuzz_fail(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	fputs("fuzz: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	abort();
}

/* Start handing out the bytes of an input. */
void
fuzz_input_init(struct fuzz_input *in, const uint8_t *data, size_t size)
{
	in->p = data;
	in->left = size;
}

/* The next byte of the input, or 0 past its end. */
unsigned int
fuzz_input_byte(struct fuzz_input *in)
{
	if (in->left == 0)
		return 0;
	in->left--;
	return *in->p++;
}

/* The next len bytes of the input into buf, zeros past its end. */
void
fuzz_input_bytes(struct fuzz_input *in, void *buf, size_t len)
{
	size_t	 n = len < in->left ? len : in->left;

	memcpy(buf, in->p, n);
	memset((uint8_t *)buf + n, 0, len - n);
	in->p += n;
	in->left -= n;
}

/* libevent: the socket is writable: send the next piece; end our side after the last. */
static void
fuzz_client_write(evutil_socket_t fd, short what, void *arg)
{
	struct fuzz_client	*cl = arg;
	size_t			 len = cl->size - cl->off;
	ssize_t			 n;

	if (cl->piece != 0 && cl->piece < len)
		len = cl->piece;
	if (len > 0 && (n = send(fd, cl->data + cl->off, len, MSG_NOSIGNAL)) != -1)
		cl->off += (size_t)n;
	else if (len > 0 && errno != EAGAIN && errno != EINTR)
		cl->off = cl->size;	/* the server hung up already */
	if (cl->off < cl->size)
		return;
	if (cl->shut)
		shutdown(fd, SHUT_WR);
	event_del(cl->wr);
}

/* libevent: the server sent something, or closed: keep what fits, stop at the end. */
static void
fuzz_client_read(evutil_socket_t fd, short what, void *arg)
{
	struct fuzz_client	*cl = arg;
	char			 sink[16384], *p = sink;
	size_t			 room = sizeof sink;
	ssize_t			 n;

	if (cl->reply != NULL && *cl->got < cl->max) {
		p = cl->reply + *cl->got;
		room = cl->max - *cl->got;
	}
	n = read(fd, p, room);
	if (n > 0 && p != sink)
		*cl->got += (size_t)n;
	if (n == 0 || (n == -1 && errno != EAGAIN && errno != EINTR))
		event_base_loopbreak(cl->base);
}

/* libevent: the deadline passed. */
static void
fuzz_client_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct fuzz_client	*cl = arg;

	cl->late = 1;
	event_base_loopbreak(cl->base);
}

/*
 * Run base while the non-blocking socket fd sends size bytes of data, piece bytes at a time
 * (0: all at once), then ends its side if shut is set, and reads the reply until the server
 * closes: into reply, of *got bytes, with *got then the bytes read (reply NULL: dropped).
 * Returns 0, or -1 when ms milliseconds passed first.
 */
int
fuzz_client_run(struct event_base *base, int fd, const uint8_t *data, size_t size,
    size_t piece, int shut, char *reply, size_t *got, int ms)
{
	struct fuzz_client	 cl = { base, fd, data, size, 0, piece, shut, reply, got, 0, NULL, 0 };
	struct event		*rd, *timer;
	struct timeval		 tv = { ms / 1000, (ms % 1000) * 1000 };

	if (reply != NULL)
		cl.max = *got;
	if (got != NULL)
		*got = 0;
	cl.wr = event_new(base, fd, EV_WRITE | EV_PERSIST, fuzz_client_write, &cl);
	rd = event_new(base, fd, EV_READ | EV_PERSIST, fuzz_client_read, &cl);
	timer = evtimer_new(base, fuzz_client_deadline, &cl);
	if (cl.wr == NULL || rd == NULL || timer == NULL || event_add(cl.wr, NULL) != 0 ||
	    event_add(rd, NULL) != 0 || evtimer_add(timer, &tv) != 0)
		fuzz_fail("cannot add the client to the event loop");
	event_base_dispatch(base);
	event_free(cl.wr);
	event_free(rd);
	event_free(timer);
	return cl.late ? -1 : 0;
}
