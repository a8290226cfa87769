/* SPDX-License-Identifier: ISC */
/*
 * tunnelgw: the daemon: loads the keys, starts the workers, accepts SSH clients on the
 * listen addresses and hands each to a worker, and stops on a signal.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <errno.h>
#include <event2/event.h>
#include <libssh/libssh.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "api.h"
#include "auth.h"
#include "conf.h"
#include "control.h"
#include "daemon.h"
#include "events.h"
#include "listener.h"
#include "log.h"
#include "nodes.h"
#include "metrics.h"
#include "ratelimit.h"
#include "registry.h"
#include "source.h"
#include "sshgw.h"
#include "startups.h"
#include "store.h"
#include "worker.h"
#include "xmalloc.h"

#define DAEMON_BACKLOG		1024
#define DAEMON_ACCEPT_BURST	64
#define DAEMON_STORE_POLL_MS	250	/* ms between looks for changes (tunnelgwctl, nodes) */
#define DAEMON_STORE_TICKS	4	/* polls per flush of the events (one a second) */
#define DAEMON_STORE_REPORT	60	/* seconds between reports of the same store trouble */

static int	daemon_verbose;		/* -v count, added to log_level */

struct daemon;
static void	daemon_free_old_keys(struct daemon *, int);

struct daemon {
	struct conf	 *conf;
	struct keyfile	 *keys;
	struct event_base *base;
	struct event	**listeners;
	size_t		  nlisteners;
	struct event	 *pause;
	struct ratelimit *ssh_rate;
	struct event	 *sigs[3];
	struct store	 *store;
	struct event	 *store_poll;
	int64_t		  store_seq;
	unsigned int	  store_ticks;
	time_t		  store_failing;	/* when the store last failed to answer; 0: it answers */
	time_t		  store_reported;	/* when that was last logged */
	struct control	 *control;
	struct metrics_server *metrics;
	struct api_server *api;
	int		  workers_up;
	struct keyfile	**old_keys;	/* replaced by a reload, kept until no worker uses them */
	size_t		  nold_keys;
	struct event	 *drain;	/* ticks while connections finish before a stop */
	time_t		  drain_until;
};

/* libevent: look for changes tunnelgwctl made; workers then check their sessions. */
static void
daemon_store_poll(evutil_socket_t fd, short what, void *arg)
{
	struct daemon	*d = arg;
	int64_t		 seq;
	char		*cause = NULL, **accounts;
	size_t		 n;
	time_t		 now = time(NULL);

	if (++d->store_ticks % DAEMON_STORE_TICKS == 0) {
		if (d->nold_keys > 0)
			daemon_free_old_keys(d, 0);
		events_flush(d->store);
	}

	if (store_changes(d->store, &seq, &cause) != 0) {
		/* A database server away: said once a minute, not four times a second. */
		if (d->store_failing == 0 || now - d->store_reported >= DAEMON_STORE_REPORT) {
			log_warn("account store: %s", cause);
			d->store_reported = now;
		}
		if (d->store_failing == 0)
			d->store_failing = now;
		free(cause);
		return;
	}
	if (d->store_failing != 0) {
		log_info("account store: %s answers again after %lld s", store_where(d->store),
		    (long long)(now - d->store_failing));
		d->store_failing = 0;
	}
	if (seq == d->store_seq)
		return;
	d->store_seq = seq;
	if (store_changed_accounts(d->store, &accounts, &n) != 0) {
		log_debug("account store changed (%lld): checking every session", (long long)seq);
		worker_recheck_all();
	} else {
		log_debug("account store changed (%lld): checking the sessions of %zu account%s",
		    (long long)seq, n, n == 1 ? "" : "s");
		worker_recheck_accounts(accounts, n);
		store_changed_free(accounts, n);
	}
	nodes_poke();
}

/* Open (or create) the account store and watch it for changes. */
static int
daemon_open_store(struct daemon *d, char **cause)
{
	struct timeval	 tv = { 0, DAEMON_STORE_POLL_MS * 1000 };
	char		**accounts;
	size_t		 n;

	if ((d->store = store_open(d->conf->database, STORE_BUSY_TIMEOUT, cause)) == NULL)
		return -1;
	if (store_changes(d->store, &d->store_seq, cause) != 0)
		return -1;
	/* What changed before the start concerns no session: there is none yet. */
	if (store_changed_accounts(d->store, &accounts, &n) == 0)
		store_changed_free(accounts, n);
	d->store_poll = event_new(d->base, -1, EV_PERSIST, daemon_store_poll, d);
	if (d->store_poll == NULL || event_add(d->store_poll, &tv) != 0)
		fatal("cannot add a timer to the event loop");
	log_info("account store %s open", store_where(d->store));
	return 0;
}

/* libevent: accepting may resume after a pause for lack of resources. */
static void
daemon_resume(evutil_socket_t fd, short what, void *arg)
{
	struct daemon	*d = arg;
	size_t		 i;

	for (i = 0; i < d->nlisteners; i++)
		event_add(d->listeners[i], NULL);
}

/* Stop accepting SSH clients for a moment: descriptors or memory ran out. */
static void
daemon_pause(struct daemon *d)
{
	struct timeval	 tv = { 0, LISTENER_PAUSE_MS * 1000 };
	size_t		 i;

	for (i = 0; i < d->nlisteners; i++)
		event_del(d->listeners[i]);
	evtimer_add(d->pause, &tv);
}

/*
 * Decide whether a new SSH client may proceed: not over max_sessions, within ssh_rate for
 * its source, within the caps on connections not yet authenticated. A refused client is
 * closed at once; the refusal is logged within a log limit (log_ratelimited).
 */
static int
daemon_admit(struct daemon *d, int fd)
{
	struct sockaddr_storage	 ss;
	socklen_t		 len = sizeof ss;
	const char		*why = NULL;
	enum refusal		 r = REFUSAL_STARTUPS;
	char			*peer;

	if (getpeername(fd, (struct sockaddr *)&ss, &len) == -1) {
		close(fd);
		return 0;
	}
	if (sshgw_session_count() >= (size_t)d->conf->max_sessions) {
		why = "the gateway holds max_sessions sessions";
		r = REFUSAL_SESSION_LIMIT;
	} else if (!ratelimit_allow(d->ssh_rate, (struct sockaddr *)&ss, ratelimit_now())) {
		why = "too many new SSH connections from this source (ssh_rate)";
		r = REFUSAL_SSH_RATE;
	} else if (startups_enter((struct sockaddr *)&ss, &why) == 0)
		return 1;
	metrics_count_refusal(r);
	peer = addr_format((struct sockaddr *)&ss, len);
	log_warn_limited("SSH connection from %s refused: %s", peer, why);
	free(peer);
	close(fd);
	return 0;
}

/* libevent: SSH clients wait on a listen address; hand each to a worker. */
static void
daemon_accept(evutil_socket_t fd, short what, void *arg)
{
	struct daemon	*d = arg;
	int		 c, i;

	for (i = 0; i < DAEMON_ACCEPT_BURST; i++) {
		c = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (c == -1) {
			if (listener_exhausted("accepting SSH clients", errno))
				daemon_pause(d);
			else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR &&
			    errno != ECONNABORTED)
				log_warn("accept: %s", strerror(errno));
			return;
		}
		if (daemon_admit(d, c))
			worker_dispatch(c);
	}
}

/* Give a file to the user the daemon will run as, if it exists. */
static int
daemon_give(const char *path, const struct passwd *pw, char **cause)
{
	if (chown(path, pw->pw_uid, pw->pw_gid) == 0 || errno == ENOENT)
		return 0;
	xasprintf(cause, "cannot give %s to user %s: %s", path, pw->pw_name, strerror(errno));
	return -1;
}

/*
 * With user set, and started as root: once everything that needs root is open (listening
 * sockets, host keys, the database, the control socket), give the daemon's files to the user
 * and become it, for good.
 */
static int
daemon_drop_privileges(struct daemon *d, char **cause)
{
	const struct conf	*c = d->conf;
	struct passwd		*pw;
	char			*wal, *shm;
	int			 rc;

	if (*c->user == '\0')
		return 0;
	if (geteuid() != 0) {
		xasprintf(cause, "user is set to '%s' but tunnelgw was not started as root",
		    c->user);
		return -1;
	}
	if ((pw = getpwnam(c->user)) == NULL) {
		xasprintf(cause, "no such user '%s'", c->user);
		return -1;
	}
	xasprintf(&wal, "%s-wal", c->database);
	xasprintf(&shm, "%s-shm", c->database);
	/* An SQLite file and its journal are the daemon's; a database server's are not. */
	rc = (!store_is_uri(c->database) && (daemon_give(c->database, pw, cause) != 0 ||
	    daemon_give(wal, pw, cause) != 0 || daemon_give(shm, pw, cause) != 0)) ||
	    (*c->control_socket != '\0' &&
	    daemon_give(c->control_socket, pw, cause) != 0) || (*c->events_log != '\0' &&
	    daemon_give(c->events_log, pw, cause) != 0);
	free(wal);
	free(shm);
	if (rc)
		return -1;
	if (setgroups(0, NULL) == -1 || setgid(pw->pw_gid) == -1 || setuid(pw->pw_uid) == -1 ||
	    setuid(0) != -1) {
		xasprintf(cause, "cannot become user %s: %s", pw->pw_name, strerror(errno));
		return -1;
	}
	log_info("running as user %s (uid %u)", pw->pw_name, (unsigned int)pw->pw_uid);
	return 0;
}

/* Free the keys files a reload replaced, once every worker has moved off them. */
static void
daemon_free_old_keys(struct daemon *d, int force)
{
	size_t	 i;

	if (!force && worker_keys_moving())
		return;
	for (i = 0; i < d->nold_keys; i++)
		keyfile_free(d->old_keys[i]);
	free(d->old_keys);
	d->old_keys = NULL;
	d->nold_keys = 0;
}

/* Say which options of a new configuration differ and take effect only at a restart. */
static void
daemon_reload_report(const struct conf *old, const struct conf *new)
{
	const struct conf_option	*o;
	char				*a, *b;
	size_t				 i;

	for (i = 0; i < conf_table_size; i++) {
		o = &conf_table[i];
		if (strcmp(o->name, "log_level") == 0 || strcmp(o->name, "authorized_keys") == 0)
			continue;
		a = conf_value_string(old, o);
		b = conf_value_string(new, o);
		if (strcmp(a, b) != 0)
			log_warn("reload: %s changed (%s -> %s); restart tunnelgw to apply it",
			    o->name, a, b);
		free(a);
		free(b);
	}
}

/*
 * SIGHUP: read the configuration and the keys file again. An invalid configuration or keys
 * file is refused with the error and the running one stays. log_level and the keys file
 * apply at once: sessions whose key was removed close, everyone else keeps their tunnels.
 */
static void
daemon_reload(struct daemon *d)
{
	struct conf	*c = conf_create();
	struct keyfile	*keys;
	char		*cause = NULL;
	size_t		 i;

	log_info("SIGHUP: reloading %s", d->conf->path);
	if (conf_load(c, d->conf->path, &cause) != 0) {
		log_error("reload refused, the running configuration stays: %s", cause);
		goto out;
	}
	if ((keys = keyfile_load(c->authorized_keys, &cause)) == NULL) {
		log_error("reload refused, the running configuration stays: %s", cause);
		goto out;
	}
	for (i = 0; i < keyfile_nproblems(keys); i++)
		log_warn("%s (line skipped)", keyfile_problem(keys, i));
	daemon_reload_report(d->conf, c);
	if (events_reopen(&cause) != 0) {
		log_warn("reload: %s", cause);
		free(cause);
		cause = NULL;
	}
	d->conf->log_level = c->log_level;
	log_set_level(c->log_level + daemon_verbose);
	if (d->keys != NULL) {
		d->old_keys = xreallocarray(d->old_keys, d->nold_keys + 1, sizeof *d->old_keys);
		d->old_keys[d->nold_keys++] = d->keys;
	}
	d->keys = keys;
	worker_keys_all(keys);
	log_info("reload: %zu key%s loaded from %s", keyfile_count(keys),
	    keyfile_count(keys) == 1 ? "" : "s", c->authorized_keys);
out:
	free(cause);
	conf_free(c);
}

/* libevent: while stopping, end as soon as the last public connection finished, or time is up. */
static void
daemon_drain_tick(evutil_socket_t fd, short what, void *arg)
{
	struct daemon	*d = arg;
	int		 open = registry_connections_open();

	if (open > 0 && time(NULL) < d->drain_until)
		return;
	if (open > 0)
		log_info("stopping: %d connection%s still open after drain_timeout", open,
		    open == 1 ? "" : "s");
	event_base_loopbreak(d->base);
}

/*
 * Stop on the signal named why: stop accepting, let open public connections finish for up to
 * drain_timeout seconds, then stop. A second stop signal while they finish stops at once.
 */
static void
daemon_stop(struct daemon *d, const char *why)
{
	struct timeval	 tick = { 0, 100 * 1000 };
	size_t		 i;
	int		 open = registry_connections_open();

	if (d->drain != NULL) {
		log_info("%s again: stopping at once, closing %d open connection%s", why, open,
		    open == 1 ? "" : "s");
		event_base_loopbreak(d->base);
		return;
	}
	if (d->conf->drain_timeout == 0) {
		log_info("%s: stopping", why);
		event_base_loopbreak(d->base);
		return;
	}
	for (i = 0; i < d->nlisteners; i++)
		event_del(d->listeners[i]);
	if (d->pause != NULL)
		evtimer_del(d->pause);
	worker_drain_all(d->conf->drain_timeout);
	d->drain_until = time(NULL) + d->conf->drain_timeout;
	d->drain = event_new(d->base, -1, EV_PERSIST, daemon_drain_tick, d);
	if (d->drain == NULL || event_add(d->drain, &tick) != 0)
		fatal("cannot add a timer to the event loop");
	/* One line, so whoever pressed Ctrl-C knows why nothing seems to happen. */
	if (open == 0)
		log_info("%s: stopping; new connections are refused", why);
	else
		log_info("%s: stopping; new connections are refused; waiting up to %d seconds "
		    "for %d open connection%s to finish (a second Ctrl-C, SIGINT or SIGTERM "
		    "stops at once)", why, d->conf->drain_timeout, open, open == 1 ? "" : "s");
}

/* SIGTERM or SIGINT stop (a second one at once); SIGHUP reloads. */
static void
daemon_signal(evutil_socket_t sig, short what, void *arg)
{
	struct daemon	*d = arg;

	if (sig == SIGHUP) {
		daemon_reload(d);
		return;
	}
	daemon_stop(d, strsignal((int)sig));
}

/* Open every listen address of the configuration. */
static int
daemon_listen(struct daemon *d, char **cause)
{
	struct event	*ev;
	size_t		 i;
	int		 fd;

	d->listeners = xcalloc(d->conf->listen.n, sizeof *d->listeners);
	if ((d->pause = evtimer_new(d->base, daemon_resume, d)) == NULL)
		fatal("cannot add a timer to the event loop");
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

/* Load the keys file; a missing file means no key logs in, which is logged, not fatal. */
static int
daemon_load_keys(struct daemon *d, char **cause)
{
	size_t	 i;

	if ((d->keys = keyfile_load(d->conf->authorized_keys, cause)) == NULL) {
		if (access(d->conf->authorized_keys, F_OK) == 0)
			return -1;
		log_warn("%s; no key can log in", *cause);
		free(*cause);
		*cause = NULL;
		return 0;
	}
	for (i = 0; i < keyfile_nproblems(d->keys); i++)
		log_warn("%s (line skipped)", keyfile_problem(d->keys, i));
	log_info("%zu key%s loaded from %s", keyfile_count(d->keys),
	    keyfile_count(d->keys) == 1 ? "" : "s", d->conf->authorized_keys);
	return 0;
}

/*
 * Raise the soft limit on open files to the hard limit: every tunnel holds a descriptor and
 * every public connection another, so the usual soft limit of 1024 would cap a gateway at a
 * few hundred connections while the hard limit (systemd: LimitNOFILE) allows far more.
 */
static void
daemon_raise_nofile(void)
{
	struct rlimit	 rl;
	rlim_t		 was;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1) {
		log_warn("getrlimit(RLIMIT_NOFILE): %s", strerror(errno));
		return;
	}
	was = rl.rlim_cur;
	if (rl.rlim_cur != rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) == -1) {
			log_warn("cannot raise the open files limit to the hard limit %llu: %s",
			    (unsigned long long)rl.rlim_max, strerror(errno));
			rl.rlim_cur = was;
		}
	}
	log_info("open files limit: %llu%s", (unsigned long long)rl.rlim_cur,
	    rl.rlim_cur != was ? " (soft limit raised to the hard limit)" : "");
}

/* Open what operators watch the daemon through: the control socket, the metrics, the API. */
static int
daemon_open_ops(struct daemon *d, char **cause)
{
	if (*d->conf->control_socket != '\0' &&
	    (d->control = control_open(d->base, d->conf->control_socket, cause)) == NULL)
		return -1;
	if (*d->conf->metrics_listen != '\0' &&
	    (d->metrics = metrics_server_open(d->base, d->conf->metrics_listen, cause)) == NULL)
		return -1;
	if (*d->conf->api_listen != '\0' &&
	    (d->api = api_server_open(d->base, d->conf, d->store, cause)) == NULL)
		return -1;
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
	if (d->pause != NULL)
		event_free(d->pause);
	control_free(d->control);
	api_server_free(d->api);
	metrics_server_free(d->metrics);
	ratelimit_free(d->ssh_rate);
	if (d->workers_up)
		worker_stop_all();
	nodes_stop(1);
	for (i = 0; i < sizeof d->sigs / sizeof d->sigs[0]; i++) {
		if (d->sigs[i] != NULL)
			event_free(d->sigs[i]);
	}
	if (d->store_poll != NULL)
		event_free(d->store_poll);
	events_close(d->store);
	store_close(d->store);
	if (d->base != NULL)
		event_base_free(d->base);
	daemon_free_old_keys(d, 1);
	if (d->drain != NULL)
		event_free(d->drain);
	keyfile_free(d->keys);
	free(d);
}

/* Run the daemon until a stop signal; returns 0, or -1 with *cause when it cannot start. */
int
daemon_run(struct conf *conf, int verbose, char **cause)
{
	static const int signals[] = { SIGTERM, SIGINT, SIGHUP };
	struct daemon	*d;
	size_t		 i;
	int		 rc = -1;

	d = xcalloc(1, sizeof *d);
	d->conf = conf;
	daemon_verbose = verbose;
	daemon_raise_nofile();
	d->ssh_rate = ratelimit_create(conf->ssh_rate, conf->ssh_burst, 4096);
	startups_setup(conf->max_startups.start, conf->max_startups.rate, conf->max_startups.full,
	    conf->max_startups_per_source);
	source_setup(conf->source_prefix6);
	signal(SIGPIPE, SIG_IGN);
	ssh_init();
	if ((d->base = event_base_new()) == NULL)
		fatal("cannot create the event loop");
	for (i = 0; i < sizeof signals / sizeof signals[0]; i++) {
		d->sigs[i] = evsignal_new(d->base, signals[i], daemon_signal, d);
		if (d->sigs[i] == NULL || event_add(d->sigs[i], NULL) == -1)
			fatal("cannot watch signal %d", signals[i]);
	}
	/*
	 * The control socket before the node joins: a second daemon on this host is told so at
	 * once, not after waiting out the lease of the first one's node_name.
	 */
	if (daemon_load_keys(d, cause) != 0 || daemon_open_store(d, cause) != 0 ||
	    events_open(conf, cause) != 0 || daemon_open_ops(d, cause) != 0 ||
	    nodes_start(conf, d->base, cause) != 0 || daemon_listen(d, cause) != 0)
		goto out;
	if (worker_start_all(conf, d->keys, cause) != 0)
		goto out;
	d->workers_up = 1;
	if (daemon_drop_privileges(d, cause) != 0)
		goto out;
	log_info("ready");
	event_base_dispatch(d->base);
	rc = 0;
out:
	daemon_free(d);
	ssh_finalize();
	return rc;
}
