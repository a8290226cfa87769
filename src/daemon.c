/* SPDX-License-Identifier: ISC */
/* tunnelgw: the daemon: opens the SSH listeners, runs the loop, stops on a signal. */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>

#include <errno.h>
#include <event2/event.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "daemon.h"
#include "listener.h"
#include "log.h"
#include "xmalloc.h"

#define DAEMON_BACKLOG	1024

struct daemon {
	struct conf	 *conf;
	struct event_base *base;
	struct event	**listeners;
	size_t		  nlisteners;
	struct event	 *sigs[3];
};

/* Accept pending SSH connections; the SSH layer is not attached yet, so close them. */
static void
daemon_accept(evutil_socket_t fd, short what, void *arg)
{
	int	 c;

	while ((c = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) != -1) {
		log_warn("SSH service not available in this build; closing connection");
		close(c);
	}
}

/* Stop on SIGTERM or SIGINT; SIGHUP is acknowledged. */
static void
daemon_signal(evutil_socket_t sig, short what, void *arg)
{
	struct daemon	*d = arg;

	if (sig == SIGHUP) {
		log_info("SIGHUP: configuration reload is not supported yet");
		return;
	}
	log_info("%s: stopping", strsignal((int)sig));
	event_base_loopbreak(d->base);
}

/* Open every listen address of the configuration. */
static int
daemon_listen(struct daemon *d, char **cause)
{
	struct event	*ev;
	size_t		 i;
	int		 fd;

	d->listeners = xcalloc(d->conf->listen.n, sizeof *d->listeners);
	for (i = 0; i < d->conf->listen.n; i++) {
		fd = listener_open_endpoint(d->conf->listen.v[i], DAEMON_BACKLOG, cause);
		if (fd == -1)
			return -1;
		ev = event_new(d->base, fd, EV_READ | EV_PERSIST, daemon_accept, d);
		if (ev == NULL || event_add(ev, NULL) == -1)
			fatal("cannot add a listener to the event loop");
		d->listeners[d->nlisteners++] = ev;
		log_info("listening for SSH on %s", d->conf->listen.v[i]);
	}
	return 0;
}

/* Free everything the daemon holds. */
static void
daemon_free(struct daemon *d)
{
	size_t	 i;

	for (i = 0; i < d->nlisteners; i++) {
		close(event_get_fd(d->listeners[i]));
		event_free(d->listeners[i]);
	}
	free(d->listeners);
	for (i = 0; i < sizeof d->sigs / sizeof d->sigs[0]; i++) {
		if (d->sigs[i] != NULL)
			event_free(d->sigs[i]);
	}
	if (d->base != NULL)
		event_base_free(d->base);
	free(d);
}

/* Run the daemon until a stop signal; returns 0, or -1 with *cause when it cannot start. */
int
daemon_run(struct conf *conf, char **cause)
{
	static const int signals[] = { SIGTERM, SIGINT, SIGHUP };
	struct daemon	*d;
	size_t		 i;
	int		 rc = -1;

	d = xcalloc(1, sizeof *d);
	d->conf = conf;
	if ((d->base = event_base_new()) == NULL)
		fatal("cannot create the event loop");
	signal(SIGPIPE, SIG_IGN);
	for (i = 0; i < sizeof signals / sizeof signals[0]; i++) {
		d->sigs[i] = evsignal_new(d->base, signals[i], daemon_signal, d);
		if (d->sigs[i] == NULL || event_add(d->sigs[i], NULL) == -1)
			fatal("cannot watch signal %d", signals[i]);
	}
	if (daemon_listen(d, cause) != 0)
		goto out;
	log_info("ready");
	event_base_dispatch(d->base);
	rc = 0;
out:
	daemon_free(d);
	return rc;
}
