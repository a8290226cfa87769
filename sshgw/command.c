/* SPDX-License-Identifier: ISC */
/*
 * tunnelgw: the session channel: the command a user runs (`tcp`, `help`, `status`, ...),
 * the banner that lists their tunnels, and the one-line refusals that say why.
 */
#include "config.h"

#include <event2/event.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "sshgw-int.h"
#include "xmalloc.h"

#define COMMAND_USAGE \
	"usage: ssh -R 0:localhost:PORT [-N] USER@GATEWAY [COMMAND]\n" \
	"commands:\n" \
	"  tcp [OPTIONS]   show your tunnels' public addresses and keep them open (the default)\n" \
	"      --proxy-proto=0|1|2       PROXY protocol header toward your service\n" \
	"      --allow-cidr=CIDR[,CIDR]  only these public clients may connect\n" \
	"      --deny-cidr=CIDR[,CIDR]   these public clients may not connect\n" \
	"      --idle-timeout=SECONDS    close public connections idle this long\n" \
	"  udp [OPTIONS]   the same for a UDP service, through tunnelgw-udp on your side:\n" \
	"                  tunnelgw-udp PORT HOST:UDP_PORT, then -R 0:localhost:PORT ... udp\n" \
	"      --proxy-proto=0|2, --allow-cidr, --deny-cidr as for tcp\n" \
	"      --idle-timeout=SECONDS    end flows silent this long (default 60)\n" \
	"  status          list your account's live tunnels\n" \
	"  register        after logging in as TOKEN@gateway with a key: keep that key\n" \
	"  help            this text\n" \
	"With -N no command runs and the tunnels work the same.\n"

/* Write one line (or lines) to the session channel, stdout or stderr, with pty line ends. */
void
sshgw_command_write(struct sshgw_session *s, int to_stderr, const char *text)
{
	const char	*p, *nl;
	char		*line;
	int		 n;

	if (s->sch == NULL || s->sch_closed)
		return;
	for (p = text; *p != '\0'; p = nl + 1) {
		nl = strchr(p, '\n');
		if (nl == NULL)
			nl = p + strlen(p);
		n = xasprintf(&line, "%.*s%s", (int)(nl - p), p, s->pty ? "\r\n" : "\n");
		if (to_stderr)
			ssh_channel_write_stderr(s->sch, line, (uint32_t)n);
		else
			ssh_channel_write(s->sch, line, (uint32_t)n);
		free(line);
		if (*nl == '\0')
			break;
	}
	sshgw_session_update(s);
}

/* End the command: exit status, EOF and CLOSE, in that order so the client prints the status. */
static void
sshgw_command_finish(struct sshgw_session *s, int status)
{
	ssh_channel_request_send_exit_status(s->sch, status);
	ssh_channel_send_eof(s->sch);
	ssh_channel_close(s->sch);
	s->sch_closed = 1;
	sshgw_session_update(s);
}

/* Refuse a command with one line on stderr and exit status 2. */
static void
sshgw_command_fail(struct sshgw_session *s, const char *msg)
{
	char	*line;

	xasprintf(&line, "tunnelgw: %s", msg);
	sshgw_command_write(s, 1, line);
	free(line);
	log_info("session %llu (%s): command refused: %s", s->id, s->account, msg);
	sshgw_command_finish(s, 2);
}

/*
 * Write the banner line of one forward: its public address alone. The client's local target
 * (the HOST:PORT after the port in -R) never reaches the gateway, so it is not shown.
 */
static void
sshgw_command_banner(struct sshgw_session *s, int bound, int udp)
{
	char	*line;

	xasprintf(&line, "Forwarding  %s://%s:%d", udp ? "udp" : "tcp", s->srv->set.public_host,
	    bound);
	sshgw_command_write(s, 0, line);
	free(line);
}

/*
 * Is a command on its way whose options may matter to a new connection: a session channel
 * is open but its command has not run yet.
 */
int
sshgw_command_pending(const struct sshgw_session *s)
{
	return s->sch != NULL && !s->sch_closed && (!s->command_seen || s->command != NULL);
}

/* A forward was granted (a UDP one: udp): a running `tcp` or `udp` shows it at once. */
void
sshgw_command_forward_added(struct sshgw_session *s, const char *address, int requested,
    int bound, int udp)
{
	char	 q[LOG_QUOTE_SIZE];

	log_info("session %llu (%s): forward '%s':%d granted: %s://%s:%d", s->id, s->account,
	    log_quote(address, q), requested, udp ? "udp" : "tcp", s->srv->set.public_host,
	    bound);
	if (s->tcp_active && !s->sch_closed)
		sshgw_command_banner(s, bound, udp);
}

#define COMMAND_NO_FORWARD \
	"no tunnel to show: this connection asked for none. Ask for one with -R:\n" \
	"  ssh -R 0:localhost:PORT USER@GATEWAY tcp        a random public port\n" \
	"  ssh -R NNNNN:localhost:PORT USER@GATEWAY tcp    a fixed one: reserved for your\n" \
	"      account, or free in the gateway's range where it allows requested ports\n" \
	"  PuTTY/plink cannot ask for port 0: use a fixed port (plink -R NNNNN:localhost:PORT)"
#define COMMAND_FORWARD_WAIT	500	/* ms `tcp` waits for a forward request after it */

/* libevent: `tcp` ran and no forward request came soon after: say how to ask for one. */
static void
sshgw_command_no_forward(evutil_socket_t fd, short what, void *arg)
{
	struct sshgw_session	*s = arg;

	if (s->forwards_asked > 0 || s->sch == NULL || s->sch_closed || s->closing != NULL)
		return;
	s->tcp_active = 0;	/* the session ends with nothing to close */
	sshgw_command_write(s, 1, "tunnelgw: " COMMAND_NO_FORWARD);
	log_info("session %llu (%s): tcp without a forward request: told how to ask for one",
	    s->id, s->account);
	sshgw_command_finish(s, 2);
	sshgw_session_touched(s);
}

/*
 * A `tcp` in a connection that asked for no forward: clients send their forward requests
 * before the command, but some send them just after, so wait a moment before telling the
 * user that nothing was asked for.
 */
static void
sshgw_command_wait_forward(struct sshgw_session *s)
{
	struct timeval	 tv = { 0, COMMAND_FORWARD_WAIT * 1000 };

	if (s->forwards_asked > 0)
		return;
	if (s->tcp_wait == NULL &&
	    (s->tcp_wait = evtimer_new(s->base, sshgw_command_no_forward, s)) == NULL)
		fatal("cannot add a timer to the event loop");
	evtimer_add(s->tcp_wait, &tv);
}

/*
 * Run `tcp [OPTIONS]` or `udp [OPTIONS]`: the daemon takes the options and says what to
 * show (the tunnels so far, whether PROXY headers go out); later tunnels show as they come,
 * and it stays open.
 */
static void
sshgw_command_tcp(struct sshgw_session *s, char **argv, int argc)
{
	char	*cause = NULL, *note = NULL;

	if (s->srv->hooks->tcp(s, argv, argc, &note, &cause) != 0) {
		sshgw_command_fail(s, cause);
		free(cause);
		return;
	}
	s->tcp_active = 1;
	if (note != NULL)
		sshgw_command_write(s, 0, note);
	free(note);
	sshgw_command_wait_forward(s);
}

/* Run `status`: the account's live tunnels, in this session and its others. */
static void
sshgw_command_status(struct sshgw_session *s)
{
	char	*text = s->srv->hooks->status(s);

	sshgw_command_write(s, 0, text);
	free(text);
	sshgw_command_finish(s, 0);
}

/* Run `register`: bind the key the client proved to its token's account. */
static void
sshgw_command_register(struct sshgw_session *s)
{
	char	*msg = NULL;

	if (s->srv->hooks->register_key(s, &msg) != 0) {
		sshgw_command_fail(s, msg);
		free(msg);
		return;
	}
	sshgw_command_write(s, 0, msg);
	free(msg);
	sshgw_command_finish(s, 0);
}

/* Split a command line on blanks into at most max words; returns the count, or -1. */
static int
sshgw_command_split(char *line, char **argv, int max)
{
	char	*word;
	int	 argc = 0;

	while ((word = strsep(&line, " \t")) != NULL) {
		if (*word == '\0')
			continue;
		if (argc == max)
			return -1;
		argv[argc++] = word;
	}
	return argc;
}

/* Run the command the client sent (or `tcp` for a shell). */
static void
sshgw_command_run(struct sshgw_session *s)
{
	char	*line = s->command, *argv[16], *msg, q[LOG_QUOTE_SIZE], tcp[] = "tcp";
	int	 argc;

	s->command = NULL;
	argc = sshgw_command_split(line, argv, 16);
	if (argc < 0)
		sshgw_command_fail(s, "too many words in the command (try 'help')");
	else if (argc == 0 || strcmp(argv[0], "tcp") == 0) {
		argv[0] = tcp;	/* a shell runs `tcp` */
		sshgw_command_tcp(s, argv, argc == 0 ? 1 : argc);
	}
	else if (strcmp(argv[0], "udp") == 0)
		sshgw_command_tcp(s, argv, argc);
	else if (strcmp(argv[0], "help") == 0) {
		sshgw_command_write(s, 0, COMMAND_USAGE);
		sshgw_command_finish(s, 0);
	} else if (strcmp(argv[0], "status") == 0)
		sshgw_command_status(s);
	else if (strcmp(argv[0], "register") == 0)
		sshgw_command_register(s);
	else {
		xasprintf(&msg, "unknown command '%s' (try 'help')", log_quote(argv[0], q));
		sshgw_command_fail(s, msg);
		free(msg);
	}
	free(line);
}

/* Deferred session-channel work: show kept refusals, run a received command. */
void
sshgw_command_post(struct sshgw_session *s)
{
	size_t	 i;

	if (s->sch == NULL || s->sch_closed)
		return;
	for (i = 0; i < s->nnotices; i++) {
		sshgw_command_write(s, 1, s->notices[i]);
		free(s->notices[i]);
	}
	s->nnotices = 0;
	if (s->command != NULL)
		sshgw_command_run(s);
}

/* libssh: a pty for the session: granted, so line ends and Ctrl-C work as a user expects. */
static int
sshgw_command_on_pty(ssh_session ssh, ssh_channel ch, const char *term, int w, int h, int pw,
    int ph, void *arg)
{
	struct sshgw_session	*s = arg;

	s->pty = 1;
	return 0;
}

/* Keep a command to run once libssh has answered the request. */
static int
sshgw_command_take(struct sshgw_session *s, const char *command)
{
	if (s->command != NULL || s->tcp_active || s->sch_closed)
		return 1;
	if (strlen(command) > SSHGW_MAX_COMMAND)
		command = "(too long)";
	s->command = xstrdup(command);
	s->command_seen = 1;
	sshgw_session_kick(s);
	return 0;
}

/* libssh: an exec request: the command. */
static int
sshgw_command_on_exec(ssh_session ssh, ssh_channel ch, const char *command, void *arg)
{
	return sshgw_command_take(arg, command);
}

/* libssh: a shell request (no command given): as `tcp`. */
static int
sshgw_command_on_shell(ssh_session ssh, ssh_channel ch, void *arg)
{
	return sshgw_command_take(arg, "");
}

/* libssh: environment variables are not used; refuse them. */
static int
sshgw_command_on_env(ssh_session ssh, ssh_channel ch, const char *name, const char *value,
    void *arg)
{
	return 1;
}

/* libssh: input on the session channel: Ctrl-C or Ctrl-D on a pty ends the session. */
static int
sshgw_command_on_data(ssh_session ssh, ssh_channel ch, void *data, uint32_t len, int is_stderr,
    void *arg)
{
	struct sshgw_session	*s = arg;

	if (s->pty && (memchr(data, 0x03, len) != NULL || memchr(data, 0x04, len) != NULL))
		sshgw_session_close(s, "closed by the user");
	return (int)len;
}

/* libssh: the client closed the session channel: the tunnels of a `tcp` session go with it. */
static void
sshgw_command_on_close(ssh_session ssh, ssh_channel ch, void *arg)
{
	struct sshgw_session	*s = arg;

	if (s->tcp_active)
		sshgw_session_close(s, "the client closed the session");
	s->sch_closed = 1;
}

/* libssh: the client opens a session channel; one per connection, after authentication. */
ssh_channel
sshgw_command_channel_open(ssh_session ssh, void *arg)
{
	struct sshgw_session	*s = arg;

	if (!s->authenticated || s->sch != NULL || s->closing != NULL)
		return NULL;
	if ((s->sch = ssh_channel_new(ssh)) == NULL)
		return NULL;
	memset(&s->schcb, 0, sizeof s->schcb);
	s->schcb.userdata = s;
	s->schcb.channel_pty_request_function = sshgw_command_on_pty;
	s->schcb.channel_exec_request_function = sshgw_command_on_exec;
	s->schcb.channel_shell_request_function = sshgw_command_on_shell;
	s->schcb.channel_env_request_function = sshgw_command_on_env;
	s->schcb.channel_data_function = sshgw_command_on_data;
	s->schcb.channel_close_function = sshgw_command_on_close;
	ssh_callbacks_init(&s->schcb);
	ssh_set_channel_callbacks(s->sch, &s->schcb);
	return s->sch;
}

/* Forget the session channel; libssh frees it with the session. */
void
sshgw_command_free(struct sshgw_session *s)
{
	if (s->tcp_wait != NULL)
		event_free(s->tcp_wait);
	s->tcp_wait = NULL;
	if (s->sch != NULL && s->ssh != NULL)
		ssh_remove_channel_callbacks(s->sch, &s->schcb);
	s->sch = NULL;
	free(s->command);
	s->command = NULL;
}
