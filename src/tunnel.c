/* SPDX-License-Identifier: ISC */
/*
 * tunnelgw: tunnels. A granted tcpip-forward becomes a listening socket on a public port,
 * in the worker that owns the SSH session; each connection accepted there becomes a bridge
 * through a forwarded-tcpip channel. The rules for which ports a client may have live here.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include <errno.h>
#include <stdatomic.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "access.h"
#include "auth.h"
#include "bridge.h"
#include "conf.h"
#include "events.h"
#include "listener.h"
#include "log.h"
#include "metrics.h"
#include "ports.h"
#include "ratelimit.h"
#include "registry.h"
#include "sshgw.h"
#include "startups.h"
#include "tunnel.h"
#include "xmalloc.h"

#define TUNNEL_ACCEPT_BURST	64	/* connections accepted per wake-up */

struct tunnel {
	struct gwsess		*gs;
	int			 port;
	int			 fd;
	struct event		*ev;
	struct event		*pause;		/* while out of descriptors: made when needed */
	struct ratelimit	*rate;		/* conn_rate per source address */
	char			*url;
	char			*target;	/* what the client asked for, for events */
	int64_t			 opened_ms;	/* events_clock_ms() at open */
	unsigned long long	 nconns;	/* public connections bridged */
	struct reg_tunnel	*reg;
	LIST_ENTRY(tunnel)	 entry;
};

/* What the daemon keeps for one SSH session. */
struct gwsess {
	struct sshgw_session	*sess;
	struct event_base	*base;
	LIST_HEAD(, tunnel)	 tunnels;
	struct sockaddr_storage	 peer;
	int			 startup;	/* counted among the startups until it logs in */
	const char		*cmd_allow_src;	/* the tcp command's lists, and their parsed form */
	const char		*cmd_deny_src;
	struct cidrlist		*cmd_allow;
	struct cidrlist		*cmd_deny;
	void			(*closed)(void *);	/* tells the worker the session is gone */
	void			*closed_arg;
};

static const struct conf *tunnel_conf;
static void (*tunnel_probe)(unsigned long long);	/* asks a session, in any worker, to answer */
static struct cidrlist	*tunnel_allow;		/* allow_cidr, deny_cidr */
static struct cidrlist	*tunnel_deny;
static atomic_int	 tunnel_connections;	/* public connections open, in all */

/*
 * Remember the configuration the tunnel rules read, and how to probe a session in whichever
 * worker owns it (the workers give it, so this file needs none of theirs); parse IP rules.
 */
void
tunnel_setup(const struct conf *c, void (*probe)(unsigned long long))
{
	char	*cause = NULL;

	tunnel_conf = c;
	tunnel_probe = probe;
	if ((*c->allow_cidr != '\0' && cidrlist_parse(c->allow_cidr, &tunnel_allow, &cause) != 0) ||
	    (*c->deny_cidr != '\0' && cidrlist_parse(c->deny_cidr, &tunnel_deny, &cause) != 0))
		fatal("IP rules: %s", cause);	/* the configuration was checked: not reached */
}

/* Forget the configuration's IP rules. */
void
tunnel_cleanup(void)
{
	cidrlist_free(tunnel_allow);
	cidrlist_free(tunnel_deny);
	tunnel_allow = tunnel_deny = NULL;
}

/* Return how many public connections are open, in all. */
int
tunnel_connections_open(void)
{
	return atomic_load(&tunnel_connections);
}

/* Count a public connection opening (1) or closing (-1), in all. */
void
tunnel_count_connection(int delta)
{
	atomic_fetch_add(&tunnel_connections, delta);
}

/*
 * Attach the daemon's state to a new session from peer, counted among the startups;
 * closed(arg) runs when the session ends.
 */
void
tunnel_session_attach(struct sshgw_session *s, struct event_base *base,
    const struct sockaddr *peer, void (*closed)(void *), void *arg)
{
	struct gwsess	*gs = xcalloc(1, sizeof *gs);

	gs->sess = s;
	gs->base = base;
	gs->closed = closed;
	gs->closed_arg = arg;
	memcpy(&gs->peer, peer, peer->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) :
	    sizeof(struct sockaddr_in));
	gs->startup = 1;
	LIST_INIT(&gs->tunnels);
	sshgw_session_set_data(s, gs);
}

/* sshgw hook: the session logged in: it no longer counts among the startups. */
static void
tunnel_logged_in(struct sshgw_session *s)
{
	struct gwsess	*gs = sshgw_session_data(s);

	if (gs != NULL && gs->startup) {
		startups_leave((struct sockaddr *)&gs->peer);
		gs->startup = 0;
	}
}

/* Parse a tcp command's CIDR list again when the command changed it. */
static void
tunnel_cmd_list(const char *src, const char **cached, struct cidrlist **list)
{
	char	*cause = NULL;

	if (src == *cached)
		return;
	cidrlist_free(*list);
	*list = NULL;
	*cached = src;
	if (src != NULL && cidrlist_parse(src, list, &cause) != 0)
		free(cause);	/* checked when the command ran: not reached */
}

/*
 * The IP rules for a public client of this session's tunnels: NULL when it may connect,
 * else why not. Any deny list that matches refuses (deny wins); every allow list that is
 * set (configuration, key, command) must match.
 */
static const char *
tunnel_ip_refusal(struct gwsess *gs, const struct sockaddr *sa)
{
	const struct keyent		*ke = sshgw_session_key(gs->sess);
	const struct sshgw_tcp_opts	*o = sshgw_session_tcp_opts(gs->sess);

	tunnel_cmd_list(o->allow_cidr, &gs->cmd_allow_src, &gs->cmd_allow);
	tunnel_cmd_list(o->deny_cidr, &gs->cmd_deny_src, &gs->cmd_deny);
	if (tunnel_deny != NULL && cidrlist_match(tunnel_deny, sa))
		return "denied by deny_cidr";
	if (ke != NULL && ke->opts.deny != NULL && cidrlist_match(ke->opts.deny, sa))
		return "denied by the key's deny-cidr";
	if (gs->cmd_deny != NULL && cidrlist_match(gs->cmd_deny, sa))
		return "denied by --deny-cidr";
	if (tunnel_allow != NULL && !cidrlist_match(tunnel_allow, sa))
		return "not in allow_cidr";
	if (ke != NULL && ke->opts.allow != NULL && !cidrlist_match(ke->opts.allow, sa))
		return "not in the key's allow-cidr";
	if (gs->cmd_allow != NULL && !cidrlist_match(gs->cmd_allow, sa))
		return "not in --allow-cidr";
	return NULL;
}

/*
 * May this public connection proceed: NULL, or why not (IP rules, the caps on connections,
 * the rate per source address). A refused connection is closed at once, never forwarded.
 */
static const char *
tunnel_admit(struct tunnel *t, const struct sockaddr *sa, const char **label)
{
	const struct conf	*c = tunnel_conf;
	const char		*why;

	*label = METRICS_CONNECTION_LIMIT;
	if ((why = tunnel_ip_refusal(t->gs, sa)) != NULL) {
		*label = METRICS_IP_RULE;
		return why;
	}
	if (atomic_load(&tunnel_connections) >= c->max_connections)
		return "the gateway holds max_connections connections";
	if (c->max_connections_per_tunnel > 0 &&
	    registry_conns(t->reg) >= c->max_connections_per_tunnel)
		return "the tunnel holds max_connections_per_tunnel connections";
	if (c->conn_rate > 0) {
		if (t->rate == NULL)
			t->rate = ratelimit_create(c->conn_rate, c->conn_burst, 256);
		if (!ratelimit_allow(t->rate, sa, ratelimit_now())) {
			*label = METRICS_CONN_RATE;
			return "too many new connections from this address (conn_rate)";
		}
	}
	return NULL;
}

/* Log a refused public connection, within a log limit shared by every worker. */
static void
tunnel_log_refusal(struct tunnel *t, const struct sockaddr *sa, socklen_t len, const char *why)
{
	char	*peer;

	peer = listener_format(sa, len);
	log_info_limited("%s: connection from %s refused: %s", t->url, peer, why);
	free(peer);
}

/* The idle timeout for a tunnel's connections: the tcp command's, else the configuration's. */
static int
tunnel_idle_timeout(const struct gwsess *gs)
{
	const struct sshgw_tcp_opts	*o = sshgw_session_tcp_opts(gs->sess);

	return o->idle_timeout >= 0 ? o->idle_timeout : tunnel_conf->idle_timeout;
}

/* libevent: a tunnel may accept again after a pause for lack of resources. */
static void
tunnel_resume(evutil_socket_t fd, short what, void *arg)
{
	struct tunnel	*t = arg;

	event_add(t->ev, NULL);
}

/* Stop accepting on a tunnel for a moment: descriptors or memory ran out. */
static void
tunnel_pause(struct tunnel *t)
{
	struct timeval	 tv = { 0, LISTENER_PAUSE_MS * 1000 };

	if (t->pause == NULL && (t->pause = evtimer_new(t->gs->base, tunnel_resume, t)) == NULL)
		fatal("cannot add a timer to the event loop");
	event_del(t->ev);
	evtimer_add(t->pause, &tv);
}

/* libevent: connections wait on a tunnel's public port. */
static void
tunnel_accept(evutil_socket_t lfd, short what, void *arg)
{
	struct tunnel			*t = arg;
	struct bridge_tunnel_info	 info;
	const char			*why, *label;
	struct sockaddr_storage		 ss;
	socklen_t			 len;
	int				 i, fd, on = 1;

	for (i = 0; i < TUNNEL_ACCEPT_BURST; i++) {
		len = sizeof ss;
		fd = accept4(lfd, (struct sockaddr *)&ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd == -1) {
			if (listener_exhausted("accepting public connections", errno))
				tunnel_pause(t);
			else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR &&
			    errno != ECONNABORTED)
				log_warn("%s: accept: %s", t->url, strerror(errno));
			return;
		}
		if ((why = tunnel_admit(t, (struct sockaddr *)&ss, &label)) != NULL) {
			metrics_count_refusal(label);
			tunnel_log_refusal(t, (struct sockaddr *)&ss, len, why);
			close(fd);
			continue;
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
		info.port = t->port;
		info.url = t->url;
		info.public_host = tunnel_conf->public_host;
		info.reg = t->reg;
		info.idle_timeout = tunnel_idle_timeout(t->gs);
		if (bridge_create(t->gs->base, t->gs->sess, &info, fd, (struct sockaddr *)&ss,
		    len) == 0)
			t->nconns++;
	}
}

/*
 * Is address one a client may name for its forward: ours, or none in particular. Clients
 * say "any" and "loopback" in several ways (OpenSSH sends "localhost" when the user gave no
 * address, Go's x/crypto sends "127.0.0.1" for Listen("tcp", "localhost:0"), others "",
 * "*", "0.0.0.0", "::" or "::1"); all mean "the gateway's public address" here, and the
 * forwarded channels carry back the exact string the client sent.
 */
static int
tunnel_address_ok(const char *address)
{
	static const char *const any[] = {
		"", "*", "0.0.0.0", "::", "localhost", "127.0.0.1", "::1", NULL
	};
	size_t	 i;

	for (i = 0; any[i] != NULL; i++) {
		if (strcasecmp(address, any[i]) == 0)
			return 1;
	}
	return strcasecmp(address, tunnel_conf->public_host) == 0 ||
	    strcmp(address, tunnel_conf->public_bind) == 0;
}

/* May this key ask for this port, by its permitlisten= options. */
static int
tunnel_permitted(const struct keyent *ke, int port)
{
	size_t	 i;

	if (ke == NULL || ke->opts.npermitlisten == 0)
		return 1;
	for (i = 0; i < ke->opts.npermitlisten; i++) {
		if (ke->opts.permitlisten[i] == 0 || ke->opts.permitlisten[i] == port)
			return 1;
	}
	return 0;
}

/*
 * A port the session asked for is in use: say who holds it. When an older session of the
 * same account does (a client that reconnected after its laptop slept, say), that session
 * must answer a keepalive at once or be closed, which frees the port for the next try.
 */
static void
tunnel_port_busy(struct gwsess *gs, int port, char **reason)
{
	const char		*account = sshgw_session_account(gs->sess);
	char			*url, *holder = NULL, when[32];
	unsigned long long	 session;
	time_t			 since;
	struct tm		 tm;

	metrics_count_refusal(METRICS_PORT_IN_USE);
	xasprintf(&url, "tcp://%s:%d", tunnel_conf->public_host, port);
	if (registry_holder(url, &holder, &session, &since) != 0 ||
	    strcmp(holder, account) != 0 || session == sshgw_session_id(gs->sess)) {
		free(url);
		free(holder);
		return;		/* *reason from ports_open() says it is in use */
	}
	free(url);
	free(holder);
	if (tunnel_probe != NULL)
		tunnel_probe(session);
	gmtime_r(&since, &tm);
	strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S UTC", &tm);
	free(*reason);
	xasprintf(reason, "port %d is held by your session %llu (since %s); it must answer "
	    "within 2 seconds or be closed, which frees the port: connect again then", port,
	    session, when);
}

/* Open a port the account reserved: its own, whatever the other rules say. */
static int
tunnel_open_reserved(struct gwsess *gs, int port, int *bound, char **reason)
{
	int	 fd;

	if ((fd = ports_open(tunnel_conf, port, reason)) == -1) {
		tunnel_port_busy(gs, port, reason);
		return -1;
	}
	*bound = port;
	return fd;
}

/* Open the public port a forward asks for, after checking the rules; fd, or -1 with *reason. */
static int
tunnel_open_port(struct gwsess *gs, const char *address, int port, int *bound, char **reason)
{
	const struct conf	*c = tunnel_conf;
	const struct keyent	*ke = sshgw_session_key(gs->sess);
	const char		*account = sshgw_session_account(gs->sess);
	char			*owner, q[LOG_QUOTE_SIZE];
	int			 fd;

	if (!tunnel_address_ok(address)) {
		metrics_count_refusal(METRICS_BAD_ADDRESS);
		xasprintf(reason, "'%s' is not an address of this gateway; use -R PORT:HOST:PORT "
		    "or -R %s:PORT:HOST:PORT", log_quote(address, q), c->public_host);
		return -1;
	}
	if (ke != NULL && ke->opts.no_port_forwarding) {
		metrics_count_refusal(METRICS_FORWARDING_DISABLED);
		xasprintf(reason, "this key may not forward ports (no-port-forwarding or restrict)");
		return -1;
	}
	if (port == 0) {
		if ((fd = ports_open_random(c, access_reserved_ports, bound, reason)) == -1)
			metrics_count_refusal(METRICS_NO_FREE_PORT);
		if (fd == -1 && *reason == NULL)
			xasprintf(reason, "cannot open a public port");
		return fd;
	}
	if ((owner = access_port_owner(port)) != NULL) {
		if (strcmp(owner, account) == 0) {
			free(owner);
			return tunnel_open_reserved(gs, port, bound, reason);
		}
		free(owner);
		metrics_count_refusal(METRICS_PORT_RESERVED);
		xasprintf(reason, "port %d is reserved by another account", port);
		return -1;
	}
	if (port < 1024) {
		metrics_count_refusal(METRICS_PORT_NOT_ALLOWED);
		xasprintf(reason, "port %d is privileged; ask for port 0 to get a free one", port);
		return -1;
	}
	if (!tunnel_permitted(ke, port)) {
		metrics_count_refusal(METRICS_PORT_NOT_ALLOWED);
		xasprintf(reason, "port %d is not permitted for this key (permitlisten)", port);
		return -1;
	}
	if (!c->allow_requested_ports) {
		metrics_count_refusal(METRICS_PORT_NOT_ALLOWED);
		xasprintf(reason, "port %d is not reserved for you, and this gateway does not "
		    "hand out requested ports; ask for port 0 to get a free one", port);
		return -1;
	}
	if (port < c->port_min || port > c->port_max) {
		metrics_count_refusal(METRICS_PORT_NOT_ALLOWED);
		xasprintf(reason, "port %d is outside the gateway's port range %s", port,
		    c->port_range);
		return -1;
	}
	if ((fd = ports_open(c, port, reason)) == -1) {
		tunnel_port_busy(gs, port, reason);
		return -1;
	}
	*bound = port;
	return fd;
}

/*
 * The most tunnels the session's account may hold (-1: no limit): its key line's
 * max-tunnels, else its account's in the store, else max_tunnels (0 there: no limit).
 */
static int
tunnel_limit(struct gwsess *gs)
{
	const struct keyent	*ke = sshgw_session_key(gs->sess);
	int			 n;

	if (ke != NULL && ke->opts.max_tunnels >= 0)
		return ke->opts.max_tunnels;
	if ((n = access_account_max_tunnels(sshgw_session_account(gs->sess))) >= 0)
		return n;
	return tunnel_conf->max_tunnels > 0 ? tunnel_conf->max_tunnels : -1;
}

/* Report a tunnel opened (closed 0) or closed (1) as an event. */
static void
tunnel_event(const struct tunnel *t, int closed)
{
	struct events_tunnel	 ev = {
		.account = sshgw_session_account(t->gs->sess),
		.url = t->url,
		.target = t->target,
		.session = sshgw_session_id(t->gs->sess),
	};

	if (!closed) {
		events_tunnel_opened(&ev);
		return;
	}
	ev.duration_ms = events_clock_ms() - t->opened_ms;
	ev.connections = t->nconns;
	events_tunnel_closed(&ev);
}

/* sshgw hook: a tcpip-forward: open a public port and start accepting on it. */
static int
tunnel_forward_add(struct sshgw_session *s, const char *address, int port, int *bound,
    char **reason)
{
	struct gwsess	*gs = sshgw_session_data(s);
	struct tunnel	*t;
	char		*target, *url, q[LOG_QUOTE_SIZE];
	int		 fd, limit = tunnel_limit(gs);

	*reason = NULL;
	if ((fd = tunnel_open_port(gs, address, port, bound, reason)) == -1)
		return -1;
	xasprintf(&url, "tcp://%s:%d", tunnel_conf->public_host, *bound);
	/* The target is shown in status, tunnelgwctl and events: quote what the client sent. */
	xasprintf(&target, "%s:%d", *address != '\0' ? log_quote(address, q) : "*", port);
	t = xcalloc(1, sizeof *t);
	t->reg = registry_add(sshgw_session_account(s), url, target, sshgw_session_id(s), limit);
	if (t->reg == NULL) {
		free(target);
		metrics_count_refusal(METRICS_TUNNEL_LIMIT);
		xasprintf(reason, "account '%s' already has %d tunnel%s open, its limit",
		    sshgw_session_account(s), limit, limit == 1 ? "" : "s");
		close(fd);
		ports_release(*bound);
		free(url);
		free(t);
		return -1;
	}
	t->gs = gs;
	t->port = *bound;
	t->fd = fd;
	t->url = url;
	t->target = target;
	t->opened_ms = events_clock_ms();
	t->ev = event_new(gs->base, fd, EV_READ | EV_PERSIST, tunnel_accept, t);
	if (t->ev == NULL || event_add(t->ev, NULL) != 0)
		fatal("cannot add a public port to the event loop");
	LIST_INSERT_HEAD(&gs->tunnels, t, entry);
	log_info("%s: tunnel open for account '%s' (session %llu)", t->url,
	    sshgw_session_account(s), sshgw_session_id(s));
	tunnel_event(t, 0);
	return 0;
}

/* sshgw hook: close a tunnel's public port at once; its open connections carry on. */
static void
tunnel_forward_remove(struct sshgw_session *s, int bound)
{
	struct gwsess	*gs = sshgw_session_data(s);
	struct tunnel	*t;

	LIST_FOREACH(t, &gs->tunnels, entry) {
		if (t->port == bound)
			break;
	}
	if (t == NULL)
		return;
	LIST_REMOVE(t, entry);
	event_free(t->ev);
	if (t->pause != NULL)
		event_free(t->pause);
	ratelimit_free(t->rate);
	close(t->fd);
	ports_release(t->port);
	registry_remove(t->reg);
	log_info("%s: tunnel closed", t->url);
	tunnel_event(t, 1);
	free(t->url);
	free(t->target);
	free(t);
}

/* The gateway is stopping: close the session's public ports; open connections carry on. */
void
tunnel_session_drain(struct sshgw_session *s)
{
	struct gwsess	*gs = sshgw_session_data(s);

	while (gs != NULL && !LIST_EMPTY(&gs->tunnels))
		tunnel_forward_remove(s, LIST_FIRST(&gs->tunnels)->port);
}

/* sshgw hook: the session is gone; its tunnels were removed before this. */
static void
tunnel_session_closed(struct sshgw_session *s)
{
	struct gwsess	*gs = sshgw_session_data(s);

	if (gs == NULL)
		return;
	while (!LIST_EMPTY(&gs->tunnels))
		tunnel_forward_remove(s, LIST_FIRST(&gs->tunnels)->port);
	if (gs->startup)
		startups_leave((struct sockaddr *)&gs->peer);
	cidrlist_free(gs->cmd_allow);
	cidrlist_free(gs->cmd_deny);
	if (gs->closed != NULL)
		gs->closed(gs->closed_arg);
	sshgw_session_set_data(s, NULL);
	free(gs);
}

/* sshgw hook: the `status` command: the account's live tunnels, in every session. */
static char *
tunnel_status(struct sshgw_session *s)
{
	char	*text;
	int	 n;

	text = registry_format(sshgw_session_account(s), 0, &n);
	if (n > 0)
		return text;
	free(text);
	return xstrdup("no live tunnels for this account\n");
}

const struct sshgw_hooks tunnel_hooks = {
	.logged_in = tunnel_logged_in,
	.key_lookup = access_key_lookup,
	.token_check = access_token_check,
	.register_key = access_register_key,
	.status = tunnel_status,
	.forward_add = tunnel_forward_add,
	.forward_remove = tunnel_forward_remove,
	.session_closed = tunnel_session_closed,
};
