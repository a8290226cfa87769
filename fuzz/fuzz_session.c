/* SPDX-License-Identifier: ISC */
/*
 * tunnelgw: libFuzzer target of the SSH server: a real session (sshgw_session_create) in its
 * own event loop, as a worker runs one, reads the input as what a client sends over a
 * socketpair, in pieces whose size the first byte chooses, then the client's end of file.
 * Without the keys of a finished key exchange, the input reaches the version line, the binary
 * packet layer, KEXINIT and the key-exchange messages; the daemon's hooks are stubs that
 * refuse. The session must end at the client's end of file, within FUZZ_SESSION_DEADLINE_MS.
 */
#include "config.h"

#include <sys/socket.h>

#include <errno.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "fuzz.h"
#include "hostkey.h"
#include "sshgw.h"
#include "worker.h"
#include "xmalloc.h"

#define FUZZ_SESSION_MAX_INPUT		65536
#define FUZZ_SESSION_DEADLINE_MS	2000	/* far more than a key exchange takes */

static struct event_base	*fuzz_session_base;
static struct sshgw_server	*fuzz_session_srv;
static int			 fuzz_session_gone;	/* session_closed was called */

/* Hook: every login is refused. */
static int
fuzz_session_login(struct sshgw_session *s, const struct sshgw_login *req,
    struct sshgw_verdict *v)
{
	v->log = xstrdup("refused");
	return 1;
}

/* Hook: no command options. */
static int
fuzz_session_tcp(struct sshgw_session *s, char *const *argv, int argc, char **note,
    char **cause)
{
	*note = NULL;
	return 0;
}

/* Hook: `register` is refused. */
static int
fuzz_session_register_key(struct sshgw_session *s, char **msg)
{
	*msg = xstrdup("not here");
	return -1;
}

/* Hook: `status` lists nothing. */
static char *
fuzz_session_status(struct sshgw_session *s)
{
	return xstrdup("no tunnels");
}

/* Hook: no public ports. */
static int
fuzz_session_forward_add(struct sshgw_session *s, const char *address, int port, int *bound,
    int *udp, char **reason)
{
	*reason = xstrdup("no ports here");
	return -1;
}

/* Hook: no forward to cancel. */
static int
fuzz_session_forward_cancel(struct sshgw_session *s, const char *address, int port)
{
	return -1;
}

/* Hook: the session is gone. */
static void
fuzz_session_closed(struct sshgw_session *s)
{
	fuzz_session_gone = 1;
}

static const struct sshgw_hooks fuzz_session_hooks = {
	.login = fuzz_session_login,
	.tcp = fuzz_session_tcp,
	.register_key = fuzz_session_register_key,
	.status = fuzz_session_status,
	.forward_add = fuzz_session_forward_add,
	.forward_cancel = fuzz_session_forward_cancel,
	.session_closed = fuzz_session_closed,
};

/* libFuzzer: once at start: an ed25519 host key and the SSH server settings of a worker. */
int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct conf		*c;
	struct sshgw_settings	 set;
	char			*path, *fp = NULL, *cause = NULL;
	size_t			 i;

	fuzz_quiet();
	xasprintf(&path, "%s/ssh_host_ed25519_key", fuzz_tmpdir());
	if (hostkey_ensure(path, &fp, &cause) != 0)
		fuzz_fail("host key: %s", cause);
	free(fp);
	c = conf_create();
	for (i = 0; i < c->host_keys.n; i++)
		free(c->host_keys.v[i]);
	c->host_keys.v[0] = path;
	c->host_keys.n = 1;
	if (conf_finish(c, &cause) != 0)
		fuzz_fail("configuration: %s", cause);
	worker_ssh_settings(c, &set);
	if ((fuzz_session_base = event_base_new()) == NULL ||
	    (fuzz_session_srv = sshgw_server_create(&set, &fuzz_session_hooks,
	    &cause)) == NULL)
		fuzz_fail("SSH server: %s", cause);
	conf_free(c);		/* the server keeps its own copy of the settings */
	return 0;
}

/* libFuzzer: one input: first byte, piece size (0: all at once); then the client's bytes. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sshgw_session	*s;
	int			 fds[2], late;

	if (size == 0 || size > FUZZ_SESSION_MAX_INPUT)
		return -1;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) == -1)
		fuzz_fail("socketpair: %s", strerror(errno));
	fuzz_session_gone = 0;
	if ((s = sshgw_session_create(fuzz_session_srv, fuzz_session_base, fds[0])) == NULL) {
		close(fds[1]);
		return 0;
	}
	late = fuzz_client_run(fuzz_session_base, fds[1], data + 1, size - 1,
	    (size_t)data[0] * 16, 1, NULL, NULL, FUZZ_SESSION_DEADLINE_MS);
	/* The client's end of file must end the session, promptly. */
	if (late)
		fuzz_fail("the session is still open %d ms after the client's end of file",
		    FUZZ_SESSION_DEADLINE_MS);
	if (!fuzz_session_gone)
		sshgw_session_close(s, "the client is gone");
	close(fds[1]);
	return 0;
}
