/* SPDX-License-Identifier: ISC */
/*
 * tunnelgw: tunnels. A granted tcpip-forward becomes a listening socket on a public port,
 * in the worker that owns the SSH session; each connection accepted there becomes a bridge
 * through a forwarded-tcpip channel. In a `udp` session it becomes a public UDP socket whose
 * datagrams a relay carries (src/udp.c). Which ports and connections are allowed is the
 * client's grant's to say (auth/grant.c); this file opens, counts and closes.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include <errno.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "access.h"
#include "addr.h"
#include "auth.h"
#include "bridge.h"
#include "client.h"
#include "conf.h"
#include "events.h"
#include "listener.h"
#include "log.h"
#include "metrics.h"
#include "ports.h"
#include "ratelimit.h"
#include "registry.h"
#include "sshgw.h"
#include "tunnel.h"
#include "udp.h"
#include "xmalloc.h"

#define TUNNEL_ACCEPT_BURST	64	/* connections accepted per wake-up */
#define TUNNEL_MAX_PER_CLIENT	64	/* forwards one SSH client may hold */

/* A granted tcpip-forward: what the client asked for, and the public port it got. */
struct tunnel {
	struct client		*c;		/* owns the tunnel */
	enum grant_proto	 proto;
	char			*address;	/* the bind address, exactly as the client sent it */
	int			 requested;	/* the port it asked for (0: any) */
	int			 chan_port;	/* the port the client knows it by (channels name it) */
	int			 port;		/* the public port */
	int			 fd;		/* TCP: the listener (UDP: the relay's) */
	struct event		*ev;		/* TCP: accepting */
	struct udp_relay	*udp;		/* UDP: the flows and their stream */
	struct event		*pause;		/* while out of descriptors: made when needed */
	struct ratelimit	*rate;		/* conn_rate per source address */
	char			*url;
	char			*target;	/* what the client asked for, for events */
	int64_t			 opened_ms;	/* events_clock_ms() at open */
	unsigned long long	 nconns;	/* public connections bridged */
	struct reg_tunnel	*reg;
	TAILQ_ENTRY(tunnel)	 entry;
};

static const struct conf *tunnel_conf;		/* for the public ports (ports.c) */
static void (*tunnel_probe)(unsigned long long);	/* asks a session, in any worker, to answer */

/*
 * Remember the configuration public ports are opened with, and how to probe a session in
 * whichever worker owns it (the workers give it, so this file needs none of theirs).
 */
void
tunnel_setup(const struct conf *c, void (*probe)(unsigned long long))
{
	tunnel_conf = c;
	tunnel_probe = probe;
}

/*
 * May a public connection from sa proceed on the tunnel whose counters are reg: REFUSAL_NONE,
 * or the refusal with *why (IP rules, the caps on connections, the rate per source address).
 * The grant decides; the tunnel gives the counts and keeps the rate's state in *rate (made
 * when first needed). A refused connection is closed at once, never forwarded.
 */
enum refusal
tunnel_admit(const struct grant *g, struct reg_tunnel *reg, struct ratelimit **rate,
    const struct sockaddr *sa, const char **why)
{
	enum refusal	 r;

	if ((r = grant_client(g, sa, why)) != REFUSAL_NONE ||
	    (r = grant_connection(g, registry_connections_open(), registry_account_conns(reg),
	    registry_conns(reg), why)) != REFUSAL_NONE)
		return r;
	if (g->pol->conn_rate > 0) {
		if (*rate == NULL)
			*rate = ratelimit_create(g->pol->conn_rate, g->pol->conn_burst, 256);
		if (!ratelimit_allow(*rate, sa, ratelimit_now())) {
			*why = "too many new connections from this address (conn_rate)";
			return REFUSAL_CONN_RATE;
		}
	}
	return REFUSAL_NONE;
}

/* Log a refused public connection, within a log limit shared by every worker. */
static void
tunnel_log_refusal(struct tunnel *t, const struct sockaddr *sa, socklen_t len, const char *why)
{
	char	*peer;

	peer = addr_format(sa, len);
	log_info_limited("%s: connection from %s refused: %s", t->url, peer, why);
	free(peer);
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

	if (t->pause == NULL && (t->pause = evtimer_new(t->c->base, tunnel_resume, t)) == NULL)
		fatal("cannot add a timer to the event loop");
	event_del(t->ev);
	evtimer_add(t->pause, &tv);
}

/* Bridge an admitted public connection through a new channel of the tunnel's client. */
static void
tunnel_bridge(struct tunnel *t, int fd, const struct sockaddr *sa, socklen_t len)
{
	struct bridge_tunnel_info	 info;
	int				 on = 1;

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
	info.address = t->address;
	info.port = t->chan_port;
	info.url = t->url;
	info.public_host = t->c->grant->pol->public_host;
	info.reg = t->reg;
	info.grant = t->c->grant;
	if (bridge_create(t->c->base, &tunnel_channel_ops, t->c->sess, &info, fd, sa, len) == 0)
		t->nconns++;
}

/* libevent: connections wait on a tunnel's public port. */
static void
tunnel_accept(evutil_socket_t lfd, short what, void *arg)
{
	struct tunnel			*t = arg;
	const char			*why;
	enum refusal			 r;
	struct sockaddr_storage		 ss;
	socklen_t			 len;
	int				 i, fd;

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
		if ((r = tunnel_admit(t->c->grant, t->reg, &t->rate, (struct sockaddr *)&ss,
		    &why)) != REFUSAL_NONE) {
			metrics_count_refusal(r);
			tunnel_log_refusal(t, (struct sockaddr *)&ss, len, why);
			close(fd);
			continue;
		}
		tunnel_bridge(t, fd, (struct sockaddr *)&ss, len);
	}
}

/*
 * A port the client asked for could not be opened (in use). When an older session of the
 * same account holds it, the grant explains, and that session is probed at once.
 */
static void
tunnel_port_busy(struct client *c, enum grant_proto proto, int port, char **reason)
{
	char			*url, *holder = NULL, *why = NULL;
	unsigned long long	 session = 0;
	time_t			 since = 0;

	xasprintf(&url, "%s://%s:%d", grant_proto_name(proto), c->grant->pol->public_host, port);
	if (registry_holder(url, &holder, &session, &since) != 0) {
		free(holder);
		holder = NULL;
	}
	free(url);
	if (grant_port_holder(c->grant, port, holder, session, sshgw_session_id(c->sess),
	    (long long)since, &why)) {
		if (tunnel_probe != NULL)
			tunnel_probe(session);
		free(*reason);
		*reason = why;	/* else *reason from ports_open() says it is in use */
	}
	free(holder);
}

/*
 * May the client forward address:port as proto: 0 with *how, or -1 with *reason (and
 * counted).
 */
static int
tunnel_may(struct client *c, enum grant_proto proto, const char *address, int port,
    enum grant_port *how, char **reason)
{
	enum refusal	 r;
	char		*owner, *elsewhere;

	if (access_port_owner(proto, port, &owner, &elsewhere) != 0) {
		xasprintf(reason, "the gateway cannot check reserved ports now (its database does "
		    "not answer); try again in a moment");
		metrics_count_refusal(REFUSAL_OTHER);
		return -1;
	}
	r = grant_forward(c->grant, proto, address, port, owner, how, reason);
	if (r == REFUSAL_NONE && elsewhere != NULL && owner != NULL &&
	    strcmp(owner, c->grant->account) == 0) {
		/* The account's own address, on another gateway: say which. */
		r = REFUSAL_PORT_RESERVED;
		*reason = elsewhere;
		elsewhere = NULL;
	}
	free(owner);
	free(elsewhere);
	if (r == REFUSAL_NONE)
		return 0;
	metrics_count_refusal(r);
	return -1;
}

/*
 * Open the public port (TCP or UDP) a forward asks for, as the grant allows; fd, or -1 with
 * *reason.
 */
static int
tunnel_open_port(struct client *c, enum grant_proto proto, const char *address, int port,
    int *bound, char **reason)
{
	enum grant_port	 how;
	int		 fd;

	if (tunnel_may(c, proto, address, port, &how, reason) != 0)
		return -1;
	if (how == GRANT_PORT_RANDOM)
		fd = ports_open_random(tunnel_conf, proto, access_reserved_ports, bound, reason);
	else if ((fd = ports_open(tunnel_conf, proto, port, reason)) == -1)
		tunnel_port_busy(c, proto, port, reason);
	else
		*bound = port;
	if (fd == -1) {
		metrics_count_refusal(grant_port_failed(port));
		if (*reason == NULL)
			xasprintf(reason, "cannot open a public port");
	}
	return fd;
}

/* Report a tunnel opened (closed 0) or closed (1) as an event. */
static void
tunnel_event(const struct tunnel *t, int closed)
{
	struct events_tunnel	 ev = {
		.account = t->c->grant->account,
		.url = t->url,
		.target = t->target,
		.session = sshgw_session_id(t->c->sess),
	};

	if (!closed) {
		events_tunnel_opened(&ev);
		return;
	}
	ev.duration_ms = events_clock_ms() - t->opened_ms;
	ev.connections = t->nconns;	/* UDP: its flows, counted when the relay went */
	events_tunnel_closed(&ev);
}

/* The client's forward asked for as address:port (port: asked for, or got), or NULL. */
static struct tunnel *
tunnel_find(struct client *c, const char *address, int port)
{
	struct tunnel	*t;

	TAILQ_FOREACH(t, &c->tunnels, entry) {
		if (strcmp(t->address, address) == 0 &&
		    (t->chan_port == port || (port != 0 && t->requested == port)))
			return t;
	}
	return NULL;
}

/* Start relaying a UDP tunnel's socket. */
static void
tunnel_start_udp(struct tunnel *t)
{
	struct udp_relay_info	 info = {
		.ops = &tunnel_channel_ops,
		.owner = t->c->sess,
		.address = t->address,
		.chan_port = t->chan_port,
		.port = t->port,
		.url = t->url,
		.public_host = t->c->grant->pol->public_host,
		.grant = &t->c->grant,
		.reg = t->reg,
	};

	t->udp = udp_relay_create(t->c->base, t->fd, &info);
}

/*
 * Open a tunnel of proto for the forward address:port (0: any), which the client knows by
 * chan_port (0: the port it gets); 0 with *bound, or -1 with *reason.
 */
static int
tunnel_add(struct client *c, enum grant_proto proto, const char *address, int port,
    int chan_port, int *bound, char **reason)
{
	struct sshgw_session	*s = c->sess;
	struct tunnel		*t;
	char			*target, *url, *peer, q[LOG_QUOTE_SIZE];
	int			 fd;

	if ((fd = tunnel_open_port(c, proto, address, port, bound, reason)) == -1)
		return -1;
	xasprintf(&url, "%s://%s:%d", grant_proto_name(proto), c->grant->pol->public_host, *bound);
	/* The target is shown in status, tunnelgwctl and events: quote what the client sent. */
	xasprintf(&target, "%s:%d", *address != '\0' ? log_quote(address, q) : "*", port);
	t = xcalloc(1, sizeof *t);
	t->reg = registry_add(c->grant->account, url, target, sshgw_session_id(s),
	    grant_max_tunnels(c->grant));
	if (t->reg != NULL) {
		peer = addr_format((struct sockaddr *)&c->peer, sizeof c->peer);
		registry_set_owner(t->reg, c->grant->member, peer);
		free(peer);
	}
	if (t->reg == NULL) {
		metrics_count_refusal(grant_tunnel_limit(c->grant,
		    registry_remote_tunnels(c->grant->account), reason));
		free(target);
		close(fd);
		ports_release(proto, *bound);
		free(url);
		free(t);
		return -1;
	}
	t->c = c;
	t->proto = proto;
	t->address = xstrdup(address);
	t->requested = port;
	t->port = *bound;
	t->chan_port = chan_port != 0 ? chan_port : *bound;
	t->fd = fd;
	t->url = url;
	t->target = target;
	t->opened_ms = events_clock_ms();
	if (proto == GRANT_UDP)
		tunnel_start_udp(t);
	else {
		t->ev = event_new(c->base, fd, EV_READ | EV_PERSIST, tunnel_accept, t);
		if (t->ev == NULL || event_add(t->ev, NULL) != 0)
			fatal("cannot add a public port to the event loop");
	}
	TAILQ_INSERT_TAIL(&c->tunnels, t, entry);
	c->ntunnels++;
	log_info("%s: tunnel open for account '%s' (session %llu)", t->url, c->grant->account,
	    sshgw_session_id(s));
	tunnel_event(t, 0);
	return 0;
}

/*
 * The protocol of a new forward of port: UDP once the session ran `udp`; also before it, for
 * the port of a token for one UDP tunnel, or a port the account reserved for UDP and not for
 * TCP, since OpenSSH asks for its forwards before it sends the command, and the TCP rules
 * would refuse the port.
 */
static enum grant_proto
tunnel_proto(struct client *c, int port)
{
	char			*tcp, *udp;
	enum grant_proto	 proto = GRANT_TCP;

	if (c->udp)
		return GRANT_UDP;
	if (c->grant->token_port != 0 && port == c->grant->token_port)
		return c->grant->token_proto;	/* a token for one tunnel says which */
	/* A store that cannot say picks TCP: the forward's own check then refuses it. */
	if (port == 0 || access_port_owner(GRANT_UDP, port, &udp, NULL) != 0 || udp == NULL)
		return GRANT_TCP;
	if (access_port_owner(GRANT_TCP, port, &tcp, NULL) != 0)
		tcp = NULL;
	if (strcmp(udp, c->grant->account) == 0 &&
	    (tcp == NULL || strcmp(tcp, c->grant->account) != 0))
		proto = GRANT_UDP;
	free(tcp);
	free(udp);
	return proto;
}

/*
 * sshgw hook: a tcpip-forward: open a public port and start accepting on it (a UDP port,
 * *udp set, once the session ran `udp` or for a port reserved for UDP).
 */
int
tunnel_forward_add(struct sshgw_session *s, const char *address, int port, int *bound,
    int *udp, char **reason)
{
	struct client		*c = client_of(s);
	enum grant_proto	 proto;

	*reason = NULL;
	if (c == NULL || c->grant == NULL) {
		*reason = xstrdup("not logged in");
		return -1;
	}
	if (c->ntunnels == TUNNEL_MAX_PER_CLIENT) {
		*reason = xstrdup("too many forwards in one session");
		return -1;
	}
	if (port != 0 && tunnel_find(c, address, port) != NULL) {
		*reason = xstrdup("already forwarded in this session");
		return -1;
	}
	proto = tunnel_proto(c, port);
	*udp = proto == GRANT_UDP;
	return tunnel_add(c, proto, address, port, 0, bound, reason);
}

/* Close a tunnel's public port at once; its open connections carry on. */
static void
tunnel_close(struct tunnel *t)
{
	TAILQ_REMOVE(&t->c->tunnels, t, entry);
	t->c->ntunnels--;
	if (t->udp != NULL) {
		t->nconns = udp_relay_flows_total(t->udp);
		udp_relay_free(t->udp, "the tunnel closed");	/* and its socket */
		t->udp = NULL;
	} else {
		event_free(t->ev);
		close(t->fd);
	}
	if (t->pause != NULL)
		event_free(t->pause);
	ratelimit_free(t->rate);
	ports_release(t->proto, t->port);
	registry_remove(t->reg);
	log_info("%s: tunnel closed", t->url);
	tunnel_event(t, 1);
	free(t->address);
	free(t->url);
	free(t->target);
	free(t);
}

/* sshgw hook: a cancel-tcpip-forward: close that public port; 0, or -1 when none. */
int
tunnel_forward_cancel(struct sshgw_session *s, const char *address, int port)
{
	struct client	*c = client_of(s);
	struct tunnel	*t;
	char		 q[LOG_QUOTE_SIZE];
	int		 requested, bound;

	if (c == NULL || (t = tunnel_find(c, address, port)) == NULL)
		return -1;
	log_quote(t->address, q);
	requested = t->requested;
	bound = t->port;
	tunnel_close(t);
	log_info("session %llu (%s): forward '%s':%d cancelled, port %d closed",
	    sshgw_session_id(s), c->grant->account, q, requested, bound);
	return 0;
}

/*
 * The session ran `udp`: its forwards so far (OpenSSH asks for them before it sends the
 * command) become UDP tunnels. Each TCP port closes and a UDP port opens as the grant
 * allows; the client keeps knowing the forward by the port it was told. 0, or -1 with
 * *reason when one cannot (the others stay).
 */
int
tunnel_make_udp(struct client *c, char **reason)
{
	struct tunnel	*t, *next;
	enum grant_port	 how;
	char		*address;
	int		 requested, chan_port, bound, rc = 0;

	c->udp = 1;
	*reason = NULL;
	/* Every forward may be UDP by the rules, or none changes (the command fails). */
	TAILQ_FOREACH(t, &c->tunnels, entry) {
		if (t->proto == GRANT_TCP && tunnel_may(c, GRANT_UDP, t->address, t->requested,
		    &how, reason) != 0)
			return -1;
	}
	for (t = TAILQ_FIRST(&c->tunnels); t != NULL && rc == 0; t = next) {
		next = TAILQ_NEXT(t, entry);
		if (t->proto == GRANT_UDP)
			continue;
		address = xstrdup(t->address);
		requested = t->requested;
		chan_port = t->chan_port;
		tunnel_close(t);
		rc = tunnel_add(c, GRANT_UDP, address, requested, chan_port, &bound, reason);
		free(address);
	}
	return rc;
}

/* The lines a `tcp` command shows for the client's tunnels so far, in a new string. */
char *
tunnel_banner(const struct client *c)
{
	const struct tunnel	*t;
	char			*text = xstrdup(""), *more;

	TAILQ_FOREACH(t, &c->tunnels, entry) {
		xasprintf(&more, "%sForwarding  %s\n", text, t->url);
		free(text);
		text = more;
	}
	return text;
}

/*
 * Close the client's tunnels that were asked to close (through the API), telling the
 * client; their open connections go on. Returns how many closed.
 */
int
tunnel_close_wanted(struct client *c)
{
	struct tunnel	*t, *next;
	int		 n = 0;

	for (t = TAILQ_FIRST(&c->tunnels); t != NULL; t = next) {
		next = TAILQ_NEXT(t, entry);
		if (!registry_close_wanted(t->reg))
			continue;
		sshgw_session_notice(c->sess, "tunnelgw: %s was closed through the API", t->url);
		log_info("session %llu (%s): %s closed through the API",
		    sshgw_session_id(c->sess), c->grant->account, t->url);
		tunnel_close(t);
		n++;
	}
	return n;
}

/* Close every public port of a client (it ends, or the gateway stops); connections go on. */
void
tunnel_close_all(struct client *c)
{
	while (!TAILQ_EMPTY(&c->tunnels))
		tunnel_close(TAILQ_FIRST(&c->tunnels));
}

/* sshgw hook: the `status` command: the account's live tunnels, in every session. */
char *
tunnel_status(struct sshgw_session *s)
{
	struct client	*c = client_of(s);
	char		*text;
	int		 n = 0;

	text = c != NULL && c->grant != NULL ? registry_format(c->grant->account, 0, &n) : NULL;
	if (n > 0)
		return text;
	free(text);
	return xstrdup("no live tunnels for this account\n");
}
