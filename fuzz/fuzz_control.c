/* SPDX-License-Identifier: ISC */
/*
 * tunnelgw: libFuzzer target of the control socket's request handling. A real control socket
 * (control_open) serves a client that sends the input, in pieces whose size the first byte
 * chooses, and may close its side; the reply must be the one the protocol in control.c
 * describes for that request line, and the daemon must close the connection promptly.
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "control.h"
#include "fuzz.h"
#include "xmalloc.h"

#define FUZZ_CONTROL_MAX_REQUEST	256	/* CONTROL_MAX_REQUEST of control.c */
#define FUZZ_CONTROL_MAX_INPUT		4096	/* longer inputs say nothing new */
#define FUZZ_CONTROL_DEADLINE_MS	2000	/* the daemon's own limit is 5 s */

static struct event_base	*fuzz_control_base;
static struct control		*fuzz_control;
static struct sockaddr_un	 fuzz_control_sun;

/* libFuzzer: once at start: a control socket in the scratch folder. */
int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char	*cause = NULL;

	fuzz_quiet();
	memset(&fuzz_control_sun, 0, sizeof fuzz_control_sun);
	fuzz_control_sun.sun_family = AF_UNIX;
	snprintf(fuzz_control_sun.sun_path, sizeof fuzz_control_sun.sun_path, "%s/ctl.sock",
	    fuzz_tmpdir());
	if ((fuzz_control_base = event_base_new()) == NULL ||
	    (fuzz_control = control_open(fuzz_control_base, fuzz_control_sun.sun_path,
	    &cause)) == NULL)
		fuzz_fail("cannot open the control socket: %s", cause);
	return 0;
}

/* The reply the protocol promises for a request: "OK", "ERR" or "" (closed unanswered). */
static const char *
fuzz_control_expect(const uint8_t *data, size_t size)
{
	const uint8_t	*nl = memchr(data, '\n', size);
	size_t		 len;

	/* The daemon reads at most one byte past the longest request before it gives up. */
	if (nl != NULL && (size_t)(nl - data) <= FUZZ_CONTROL_MAX_REQUEST)
		len = (size_t)(nl - data);
	else if (size > FUZZ_CONTROL_MAX_REQUEST)
		return "ERR";
	else if (size == 0)
		return "";
	else
		len = size;
	if (len > 0 && data[len - 1] == '\r')
		len--;
	if (len > FUZZ_CONTROL_MAX_REQUEST || memchr(data, '\0', len) != NULL)
		return "ERR";
	if ((len == 7 && memcmp(data, "tunnels", 7) == 0) ||
	    (len == 14 && memcmp(data, "tunnels --json", 14) == 0))
		return "OK";
	return "ERR";
}

/* libFuzzer: one input: first byte, piece size (0: all at once) and whether to close. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char	*want;
	char		 reply[64];
	size_t		 got = sizeof reply - 1, piece;
	int		 fd, shut;

	if (size == 0 || size > FUZZ_CONTROL_MAX_INPUT)
		return -1;
	piece = data[0] & 0x7f;
	/* Close our side when asked, and when the daemon would otherwise wait for more. */
	shut = (data[0] & 0x80) || (memchr(data + 1, '\n', size - 1) == NULL &&
	    size - 1 <= FUZZ_CONTROL_MAX_REQUEST);
	data++;
	size--;
	want = fuzz_control_expect(data, size);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) == -1 ||
	    connect(fd, (struct sockaddr *)&fuzz_control_sun, sizeof fuzz_control_sun) == -1)
		fuzz_fail("cannot connect to the control socket: %s", strerror(errno));
	if (fuzz_client_run(fuzz_control_base, fd, data, size, piece, shut, reply, &got,
	    FUZZ_CONTROL_DEADLINE_MS) != 0)
		fuzz_fail("the daemon kept the connection open for %d ms",
		    FUZZ_CONTROL_DEADLINE_MS);
	close(fd);
	reply[got] = '\0';
	if (strcmp(want, "OK") == 0 ? strncmp(reply, "OK\n", 3) != 0 :
	    strcmp(want, "ERR") == 0 ? strncmp(reply, "ERR ", 4) != 0 : got != 0)
		fuzz_fail("expected %s, got '%.20s'", *want != '\0' ? want : "no reply", reply);
	/* Let the daemon free the client before the next input. */
	event_base_loop(fuzz_control_base, EVLOOP_NONBLOCK);
	return 0;
}
