/* SPDX-License-Identifier: ISC */
/*
 * tunnelgw: worker threads. Each has its own libevent base and its own SSH server settings,
 * and owns the sessions handed to it outright: their handshake, tunnels and connections all
 * run in that thread, so the data path takes no locks. The main thread accepts SSH clients
 * and passes each socket to the worker with the fewest sessions through a pipe.
 */
#include "config.h"

#include <sys/queue.h>

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "access.h"
#include "auth.h"
#include "bridge.h"
#include "client.h"
#include "conf.h"
#include "log.h"
#include "sshgw.h"
#include "startups.h"
#include "store.h"
#include "tunnel.h"
#include "udp.h"
#include "worker.h"
#include "xmalloc.h"

#define WORKER_STOP	(-1)	/* what the main thread sends to end a worker */
#define WORKER_RECHECK	(-2)	/* ... to have it check its sessions against the store */
#define WORKER_KEYS	(-3)	/* ... to move its sessions to the reloaded keys file */
#define WORKER_DRAIN	(-4)	/* ... to close its public ports: the gateway is stopping */
#define WORKER_PROBE	(-5)	/* ... to probe the sessions named in worker_probes */
#define WORKER_CLOSE	(-6)	/* ... to close the tunnels asked to close (the registry) */
#define WORKER_PROBE_MS	2000	/* how long a probed session has to answer */
#define WORKER_PROBES	32	/* sessions waiting to be probed, at most */
#define WORKER_PROBE_AGE 5	/* seconds a probe request stays valid */

/*
 * Sessions a worker should probe at once (a newer session of the same account wants a port
 * one of them holds): every worker looks, the one that owns the session probes it.
 */
static pthread_mutex_t	worker_probe_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
	unsigned long long	 session;
	time_t			 when;
}			worker_probes[WORKER_PROBES];
#define WORKER_STORE_BUSY 250	/* ms a worker waits for the store's write lock */
#define WORKER_RECHECK_MAX 256	/* accounts waiting to be checked; more: every session */

/* What each worker is to check against the store (struct worker's recheck fields). */
static pthread_mutex_t	worker_recheck_lock = PTHREAD_MUTEX_INITIALIZER;

struct worker;

struct worker {
	int			 id;
	pthread_t		 thread;
	struct event_base	*base;
	int			 pipe[2];
	struct event		*inbox;
	struct sshgw_server	*srv;
	struct store		*store;
	atomic_int		 load;
	TAILQ_HEAD(, client)	 clients;
	/* Under worker_recheck_lock: the sessions to check, of every account or of these. */
	int			 recheck_all;
	char			**recheck;
	size_t			 nrecheck;
};

static struct worker	*workers;
static int		 nworkers;
static _Atomic(const struct keyfile *) worker_keys;	/* the keys file to move to */
static atomic_int	 worker_keys_pending;		/* workers yet to move */
static atomic_int	 worker_drain_seconds;

/* Return how many workers run. */
int
worker_count(void)
{
	return nworkers;
}

static struct policy	 worker_policy;	/* what every grant starts from */

/* sshgw hook: a session logged in: it no longer counts among the startups. */
static void
worker_logged_in(struct sshgw_session *s)
{
	struct client	*c = client_of(s);

	if (c != NULL && c->startup) {
		startups_leave((struct sockaddr *)&c->peer);
		c->startup = 0;
	}
}

/* sshgw hook: a session ended (logged in or not): its tunnels and its record go. */
static void
worker_session_closed(struct sshgw_session *s)
{
	struct client	*c = client_of(s);

	if (c == NULL)
		return;
	tunnel_close_all(c);
	if (c->startup)
		startups_leave((struct sockaddr *)&c->peer);
	TAILQ_REMOVE(&c->worker->clients, c, entry);
	atomic_fetch_sub(&c->worker->load, 1);
	client_free(c);
}

/*
 * sshgw hook: a `tcp` or `udp` command: its options join the client's grant (`udp` makes
 * the session's forwards UDP tunnels); the note shows the client's tunnels so far, and
 * tells when PROXY headers go to their service.
 */
static int
worker_tcp(struct sshgw_session *s, char *const *argv, int argc, char **note, char **cause)
{
	struct client	*c = client_of(s);
	char		*banner;
	int		 v;

	*note = NULL;
	if (c == NULL || c->grant == NULL) {
		*cause = xstrdup("not logged in");
		return -1;
	}
	/* A login whose role may not open tunnels is told so at once, with who can change it. */
	if (grant_role_refusal(c->grant, cause) != REFUSAL_NONE)
		return -1;
	if (grant_command(c->grant, argv, argc, cause) != 0)
		return -1;
	if (strcmp(argv[0], "udp") == 0) {
		if (c->grant->cmd.proxy_proto == 1) {
			*cause = xstrdup("udp: PROXY protocol v1 has no form for UDP; use "
			    "--proxy-proto=2");
			return -1;
		}
		if (tunnel_make_udp(c, cause) != 0)
			return -1;
	}
	banner = tunnel_banner(c);
	v = grant_proxy_proto(c->grant);
	if (v != 0 && c->udp)
		/* A v1 header has no form for UDP: the gateway's or key's v1 sends none. */
		xasprintf(note, "%s%s", banner, v == 2 ? "PROXY protocol v2 headers go in front "
		    "of each flow's first datagram" : "PROXY protocol v1 has no UDP form: no "
		    "headers are sent (--proxy-proto=2 sends v2)");
	else if (v != 0)
		xasprintf(note, "%sPROXY protocol v%d headers are sent to your service", banner, v);
	if (*note != NULL || *banner == '\0')
		free(banner);
	else
		*note = banner;
	return 0;
}

/* What the SSH layer asks of the daemon, and who answers. */
static const struct sshgw_hooks worker_hooks = {
	.login = access_login,
	.logged_in = worker_logged_in,
	.tcp = worker_tcp,
	.register_key = access_register_key,
	.status = tunnel_status,
	.forward_add = tunnel_forward_add,
	.forward_cancel = tunnel_forward_cancel,
	.session_closed = worker_session_closed,
};

/* Take over an SSH client socket in this worker. */
static void
worker_adopt(struct worker *w, int fd)
{
	struct sshgw_session	*s;
	struct client		*c;
	struct sockaddr_storage	 ss;
	socklen_t		 len = sizeof ss;

	/* The main thread counted it among the startups: count it out when it logs in or ends. */
	if (getpeername(fd, (struct sockaddr *)&ss, &len) == -1)
		memset(&ss, 0, sizeof ss);
	if ((s = sshgw_session_create(w->srv, w->base, fd)) == NULL) {
		startups_leave((struct sockaddr *)&ss);
		atomic_fetch_sub(&w->load, 1);
		return;
	}
	c = client_create(s, w, w->base, (struct sockaddr *)&ss);
	TAILQ_INSERT_TAIL(&w->clients, c, entry);
}

/* Close every session of this worker and leave its loop. */
static void
worker_shutdown(struct worker *w)
{
	struct client	*c;

	while ((c = TAILQ_FIRST(&w->clients)) != NULL)
		sshgw_session_close(c->sess, "the gateway is shutting down");
	event_base_loopexit(w->base, NULL);
}

/* Order account names, for bsearch. */
static int
worker_name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Under worker_recheck_lock: forget the accounts w was to check. */
static void
worker_recheck_clear(struct worker *w)
{
	store_changed_free(w->recheck, w->nrecheck);
	w->recheck = NULL;
	w->nrecheck = 0;
}

/*
 * The account store changed: close the sessions whose login no longer stands, of the
 * accounts the change concerns (or of every one).
 */
static void
worker_recheck(struct worker *w)
{
	struct client	*c, *next;
	const char	*why;
	char		*msg, **names;
	size_t		 n;
	int		 all;

	pthread_mutex_lock(&worker_recheck_lock);
	all = w->recheck_all;
	names = w->recheck;
	n = w->nrecheck;
	w->recheck_all = 0;
	w->recheck = NULL;
	w->nrecheck = 0;
	pthread_mutex_unlock(&worker_recheck_lock);
	if (!all && n == 0)
		return;
	if (n > 1)
		qsort(names, n, sizeof *names, worker_name_cmp);
	for (c = TAILQ_FIRST(&w->clients); c != NULL; c = next) {
		next = TAILQ_NEXT(c, entry);
		if (!all && (c->grant == NULL || bsearch(&c->grant->account, names, n,
		    sizeof *names, worker_name_cmp) == NULL))
			continue;
		if ((why = access_still_allowed(c)) == NULL)
			continue;
		sshgw_session_notice(c->sess, "tunnelgw: closing: %s", why);
		xasprintf(&msg, "closed by the operator: %s", why);
		sshgw_session_close(c->sess, msg);
		free(msg);
	}
	store_changed_free(names, n);
}

/* Close this worker's tunnels that were asked to close. */
static void
worker_close_mine(struct worker *w)
{
	struct client	*c;

	TAILQ_FOREACH(c, &w->clients, entry)
		(void)tunnel_close_wanted(c);
}

/* The keys file was reloaded: new logins use it, and sessions of removed keys close. */
static void
worker_rekey(struct worker *w)
{
	const struct keyfile	*keys = atomic_load(&worker_keys);
	struct client		*c, *next;
	const char		*why;

	access_thread_keys(keys);
	for (c = TAILQ_FIRST(&w->clients); c != NULL; c = next) {
		next = TAILQ_NEXT(c, entry);
		if ((why = access_rekey(c, keys)) == NULL)
			continue;
		sshgw_session_notice(c->sess, "tunnelgw: closing: %s", why);
		sshgw_session_close(c->sess, why);
	}
	atomic_fetch_sub(&worker_keys_pending, 1);
}

/* The gateway is stopping: close public ports, tell every session how long it has left. */
static void
worker_drain(struct worker *w)
{
	struct client	*c;
	int		 secs = atomic_load(&worker_drain_seconds);

	TAILQ_FOREACH(c, &w->clients, entry) {
		tunnel_close_all(c);
		sshgw_session_notice(c->sess, "tunnelgw: the gateway is shutting down; open "
		    "connections may finish within %d seconds, new ones are refused", secs);
	}
}

static void	worker_tell_all(int);

/* Is a session on the list of sessions to probe. */
static int
worker_probe_wanted(unsigned long long id)
{
	time_t	 now = time(NULL);
	size_t	 i;
	int	 found = 0;

	pthread_mutex_lock(&worker_probe_lock);
	for (i = 0; i < WORKER_PROBES; i++) {
		if (worker_probes[i].session == id && now - worker_probes[i].when <= WORKER_PROBE_AGE)
			found = 1;
	}
	pthread_mutex_unlock(&worker_probe_lock);
	return found;
}

/* Probe the sessions of this worker that are on the list. */
static void
worker_probe_mine(struct worker *w)
{
	struct client	*c;

	TAILQ_FOREACH(c, &w->clients, entry) {
		if (worker_probe_wanted(sshgw_session_id(c->sess)))
			sshgw_alive_probe(c->sess, WORKER_PROBE_MS);
	}
}

/*
 * Have the session with this id, in whichever worker owns it, answer within
 * WORKER_PROBE_MS or close. Any thread may call this.
 */
void
worker_probe(unsigned long long session)
{
	time_t	 now = time(NULL);
	size_t	 i, slot = 0;

	pthread_mutex_lock(&worker_probe_lock);
	for (i = 0; i < WORKER_PROBES; i++) {
		if (worker_probes[i].when < worker_probes[slot].when)
			slot = i;	/* the oldest entry makes room */
	}
	worker_probes[slot].session = session;
	worker_probes[slot].when = now;
	pthread_mutex_unlock(&worker_probe_lock);
	worker_tell_all(WORKER_PROBE);
}

/* libevent: sockets (or the stop word) from the main thread. */
static void
worker_inbox(evutil_socket_t fd, short what, void *arg)
{
	struct worker	*w = arg;
	int		 fds[64];
	ssize_t		 n;
	size_t		 i;

	n = read(fd, fds, sizeof fds);
	if (n <= 0)
		return;
	for (i = 0; i < (size_t)n / sizeof fds[0]; i++) {
		if (fds[i] == WORKER_STOP) {
			worker_shutdown(w);
			return;
		}
		if (fds[i] == WORKER_RECHECK) {
			worker_recheck(w);
			continue;
		}
		if (fds[i] == WORKER_KEYS) {
			worker_rekey(w);
			continue;
		}
		if (fds[i] == WORKER_DRAIN) {
			worker_drain(w);
			continue;
		}
		if (fds[i] == WORKER_PROBE) {
			worker_probe_mine(w);
			continue;
		}
		if (fds[i] == WORKER_CLOSE) {
			worker_close_mine(w);
			continue;
		}
		worker_adopt(w, fds[i]);
	}
}

/* A worker thread: run its loop until told to stop. */
static void *
worker_main(void *arg)
{
	struct worker	*w = arg;

	log_debug("worker %d running", w->id);
	access_thread_store(w->store);
	access_thread_keys(atomic_load(&worker_keys));
	event_base_dispatch(w->base);
	bridge_free_all();
	log_debug("worker %d stopped", w->id);
	return NULL;
}

/* Fill the SSH layer's settings from the configuration; set points into c's strings. */
void
worker_ssh_settings(const struct conf *c, struct sshgw_settings *set)
{
	memset(set, 0, sizeof *set);
	set->host_keys = c->host_keys.v;
	set->nhost_keys = c->host_keys.n;
	set->ciphers = c->ciphers;
	set->public_host = c->public_host;
	set->login_grace_time = c->login_grace_time;
	set->max_auth_tries = c->max_auth_tries;
	set->channel_open_timeout = c->channel_open_timeout;
	set->max_buffered = c->max_buffered;
	set->client_alive_interval = c->client_alive_interval;
	set->client_alive_count_max = c->client_alive_count_max;
}

/* Prepare one worker: its loop, inbox and SSH server settings. */
static int
worker_init(struct worker *w, int id, const struct conf *c, char **cause)
{
	struct sshgw_settings	 set;

	w->id = id;
	TAILQ_INIT(&w->clients);
	if ((w->base = event_base_new()) == NULL)
		fatal("cannot create an event loop");
	if (pipe2(w->pipe, O_CLOEXEC | O_NONBLOCK) == -1)
		fatal("pipe: %s", strerror(errno));
	w->inbox = event_new(w->base, w->pipe[0], EV_READ | EV_PERSIST, worker_inbox, w);
	if (w->inbox == NULL || event_add(w->inbox, NULL) != 0)
		fatal("cannot add a worker's inbox to its loop");
	worker_ssh_settings(c, &set);
	if ((w->srv = sshgw_server_create(&set, &worker_hooks, cause)) == NULL)
		return -1;
	/* Its own connection: SQLite connections are never shared between threads. */
	if ((w->store = store_open(c->database, WORKER_STORE_BUSY, cause)) == NULL)
		return -1;
	return 0;
}

/* The gateway-wide rules every grant starts from, out of the configuration. */
static void
worker_policy_init(const struct conf *c)
{
	struct policy	*p = &worker_policy;
	char		*cause = NULL;

	memset(p, 0, sizeof *p);
	p->public_host = c->public_host;
	p->public_bind = c->public_bind;
	p->port_range = c->port_range;
	p->port_min = c->port_min;
	p->port_max = c->port_max;
	p->allow_requested_ports = c->allow_requested_ports;
	p->udp_port_range = c->udp_port_range;
	p->udp_port_min = c->udp_port_min;
	p->udp_port_max = c->udp_port_max;
	p->udp_flow_timeout = c->udp_flow_timeout;
	p->max_tunnels = c->max_tunnels;
	p->proxy_protocol = c->proxy_protocol;
	p->idle_timeout = c->idle_timeout;
	p->max_connections = c->max_connections;
	p->max_connections_per_tunnel = c->max_connections_per_tunnel;
	p->conn_rate = c->conn_rate;
	p->conn_burst = c->conn_burst;
	if ((*c->allow_cidr != '\0' && cidrlist_parse(c->allow_cidr, &p->allow, &cause) != 0) ||
	    (*c->deny_cidr != '\0' && cidrlist_parse(c->deny_cidr, &p->deny, &cause) != 0))
		fatal("IP rules: %s", cause);	/* the configuration was checked: not reached */
}

/* Start the worker threads: the configured number, or one per CPU. */
int
worker_start_all(const struct conf *c, const struct keyfile *keys, char **cause)
{
	long	 ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	int	 i;

	nworkers = c->workers > 0 ? c->workers : (ncpu > 0 ? (int)ncpu : 1);
	workers = xcalloc((size_t)nworkers, sizeof *workers);
	worker_policy_init(c);
	access_setup(&worker_policy);
	atomic_store(&worker_keys, keys);
	tunnel_setup(c, worker_probe);
	udp_setup(c->max_buffered);
	for (i = 0; i < nworkers; i++) {
		if (worker_init(&workers[i], i, c, cause) != 0)
			return -1;
	}
	for (i = 0; i < nworkers; i++) {
		if (pthread_create(&workers[i].thread, NULL, worker_main, &workers[i]) != 0)
			fatal("cannot start worker thread %d", i);
	}
	log_info("%d worker thread%s started", nworkers, nworkers == 1 ? "" : "s");
	return 0;
}

/* Hand an accepted SSH client socket to the worker with the fewest sessions. */
void
worker_dispatch(int fd)
{
	struct worker	*w = &workers[0];
	int		 i;

	for (i = 1; i < nworkers; i++) {
		if (atomic_load(&workers[i].load) < atomic_load(&w->load))
			w = &workers[i];
	}
	atomic_fetch_add(&w->load, 1);
	if (write(w->pipe[1], &fd, sizeof fd) != (ssize_t)sizeof fd) {
		log_warn_limited("worker %d is not keeping up; dropping a new SSH connection",
		    w->id);
		atomic_fetch_sub(&w->load, 1);
		close(fd);
	}
}

/* Send a word to every worker. */
static void
worker_tell_all(int word)
{
	int	 i;

	for (i = 0; i < nworkers; i++) {
		if (write(workers[i].pipe[1], &word, sizeof word) != (ssize_t)sizeof word)
			log_warn("cannot reach worker %d", i);
	}
}

/* Ask every worker to close the tunnels the registry marks (registry_request_close). */
void
worker_close_tunnels(void)
{
	worker_tell_all(WORKER_CLOSE);
}

/* Ask every worker to check its sessions against the account store, which changed. */
void
worker_recheck_all(void)
{
	int	 i;

	pthread_mutex_lock(&worker_recheck_lock);
	for (i = 0; i < nworkers; i++) {
		workers[i].recheck_all = 1;
		worker_recheck_clear(&workers[i]);
	}
	pthread_mutex_unlock(&worker_recheck_lock);
	worker_tell_all(WORKER_RECHECK);
}

/*
 * Ask every worker to check its sessions of these n accounts against the account store,
 * which changed for them (the names are copied).
 */
void
worker_recheck_accounts(char *const *accounts, size_t n)
{
	size_t	 i, j;
	int	 k;

	if (n == 0)
		return;
	pthread_mutex_lock(&worker_recheck_lock);
	for (k = 0; k < nworkers; k++) {
		struct worker	*w = &workers[k];

		for (i = 0; i < n && !w->recheck_all; i++) {
			for (j = 0; j < w->nrecheck; j++) {
				if (strcmp(w->recheck[j], accounts[i]) == 0)
					break;
			}
			if (j < w->nrecheck)
				continue;
			if (w->nrecheck == WORKER_RECHECK_MAX) {
				w->recheck_all = 1;
				worker_recheck_clear(w);
				break;
			}
			w->recheck = xreallocarray(w->recheck, w->nrecheck + 1,
			    sizeof *w->recheck);
			w->recheck[w->nrecheck++] = xstrdup(accounts[i]);
		}
	}
	pthread_mutex_unlock(&worker_recheck_lock);
	worker_tell_all(WORKER_RECHECK);
}

/* Move every worker to a reloaded keys file; worker_keys_moving() says when all have. */
void
worker_keys_all(const struct keyfile *keys)
{
	atomic_store(&worker_keys, keys);
	atomic_fetch_add(&worker_keys_pending, nworkers);
	worker_tell_all(WORKER_KEYS);
}

/* Are workers still moving to a reloaded keys file (so the old one must stay). */
int
worker_keys_moving(void)
{
	return atomic_load(&worker_keys_pending) > 0;
}

/* Have every worker close its public ports and warn its sessions: the gateway stops. */
void
worker_drain_all(int seconds)
{
	atomic_store(&worker_drain_seconds, seconds);
	worker_tell_all(WORKER_DRAIN);
}

/* Stop every worker: each closes its sessions, then its thread ends. */
void
worker_stop_all(void)
{
	int	 i;

	worker_tell_all(WORKER_STOP);
	for (i = 0; i < nworkers; i++) {
		pthread_join(workers[i].thread, NULL);
		event_free(workers[i].inbox);
		close(workers[i].pipe[0]);
		close(workers[i].pipe[1]);
		sshgw_server_free(workers[i].srv);
		store_close(workers[i].store);
		event_base_free(workers[i].base);
		worker_recheck_clear(&workers[i]);
	}
	free(workers);
	workers = NULL;
	nworkers = 0;
	cidrlist_free(worker_policy.allow);
	cidrlist_free(worker_policy.deny);
	worker_policy.allow = worker_policy.deny = NULL;
}
