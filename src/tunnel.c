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
#include <event2/event.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "access.h"
#include "auth.h"
#include "bridge.h"
#include "conf.h"
#include "listener.h"
#include "log.h"
#include "ports.h"
#include "registry.h"
#include "sshgw.h"
#include "tunnel.h"
#include "xmalloc.h"

#define TUNNEL_ACCEPT_BURST	64	/* connections accepted per wake-up */

struct tunnel {
	struct gwsess		*gs;
	int			 port;
	int			 fd;
	struct event		*ev;
	struct event		*pause;		/* while out of descriptors: made when needed */
	char			*url;
	struct reg_tunnel	*reg;
	LIST_ENTRY(tunnel)	 entry;
};

/* What the daemon keeps for one SSH session. */
struct gwsess {
	struct sshgw_session	*sess;
	struct event_base	*base;
	LIST_HEAD(, tunnel)	 tunnels;
	void			(*closed)(void *);	/* tells the worker the session is gone */
	void			*closed_arg;
};

static const struct conf *tunnel_conf;

/* Remember the configuration the tunnel rules read. */
void
tunnel_setup(const struct conf *c)
{
	tunnel_conf = c;
}

/* Attach the daemon's state to a new session; closed(arg) runs when the session ends. */
void
tunnel_session_attach(struct sshgw_session *s, struct event_base *base, void (*closed)(void *),
    void *arg)
{
	struct gwsess	*gs = xcalloc(1, sizeof *gs);

	gs->sess = s;
	gs->base = base;
	gs->closed = closed;
	gs->closed_arg = arg;
	LIST_INIT(&gs->tunnels);
	sshgw_session_set_data(s, gs);
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
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
		info.port = t->port;
		info.url = t->url;
		info.public_host = tunnel_conf->public_host;
		info.reg = t->reg;
		info.idle_timeout = tunnel_idle_timeout(t->gs);
		bridge_create(t->gs->base, t->gs->sess, &info, fd, (struct sockaddr *)&ss, len);
	}
}

/* Is address one a client may name for its forward: ours, or none in particular. */
static int
tunnel_address_ok(const char *address)
{
	static const char *const any[] = { "", "*", "localhost", "0.0.0.0", "::", NULL };
	size_t	 i;

	for (i = 0; any[i] != NULL; i++) {
		if (strcmp(address, any[i]) == 0)
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

/* Open a port the account reserved: its own, whatever the other rules say. */
static int
tunnel_open_reserved(struct gwsess *gs, int port, int *bound, char **reason)
{
	int	 fd;

	if ((fd = ports_open(tunnel_conf, port, reason)) == -1) {
		free(*reason);
		xasprintf(reason, "your reserved port %d is in use (by another of your sessions?)",
		    port);
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
	char			*owner;
	int			 fd;

	if (!tunnel_address_ok(address)) {
		xasprintf(reason, "'%s' is not an address of this gateway; use -R PORT:HOST:PORT "
		    "or -R %s:PORT:HOST:PORT", address, c->public_host);
		return -1;
	}
	if (ke != NULL && ke->opts.no_port_forwarding) {
		xasprintf(reason, "this key may not forward ports (no-port-forwarding or restrict)");
		return -1;
	}
	if (port == 0) {
		if ((fd = ports_open_random(c, access_reserved_ports, bound, reason)) == -1 &&
		    *reason == NULL)
			xasprintf(reason, "cannot open a public port");
		return fd;
	}
	if ((owner = access_port_owner(port)) != NULL) {
		if (strcmp(owner, account) == 0) {
			free(owner);
			return tunnel_open_reserved(gs, port, bound, reason);
		}
		free(owner);
		xasprintf(reason, "port %d is reserved by another account", port);
		return -1;
	}
	if (port < 1024) {
		xasprintf(reason, "port %d is privileged; ask for port 0 to get a free one", port);
		return -1;
	}
	if (!tunnel_permitted(ke, port)) {
		xasprintf(reason, "port %d is not permitted for this key (permitlisten)", port);
		return -1;
	}
	if (!c->allow_requested_ports) {
		xasprintf(reason, "port %d is not reserved for you, and this gateway does not "
		    "hand out requested ports; ask for port 0 to get a free one", port);
		return -1;
	}
	if (port < c->port_min || port > c->port_max) {
		xasprintf(reason, "port %d is outside the gateway's port range %s", port,
		    c->port_range);
		return -1;
	}
	if ((fd = ports_open(c, port, reason)) == -1)
		return -1;
	*bound = port;
	return fd;
}

/* sshgw hook: a tcpip-forward: open a public port and start accepting on it. */
static int
tunnel_forward_add(struct sshgw_session *s, const char *address, int port, int *bound,
    char **reason)
{
	struct gwsess	*gs = sshgw_session_data(s);
	struct tunnel	*t;
	char		*target;
	int		 fd;

	*reason = NULL;
	if ((fd = tunnel_open_port(gs, address, port, bound, reason)) == -1)
		return -1;
	t = xcalloc(1, sizeof *t);
	t->gs = gs;
	t->port = *bound;
	t->fd = fd;
	xasprintf(&t->url, "tcp://%s:%d", tunnel_conf->public_host, t->port);
	xasprintf(&target, "%s:%d", *address != '\0' ? address : "*", port);
	t->reg = registry_add(sshgw_session_account(s), t->url, target, sshgw_session_id(s));
	free(target);
	t->ev = event_new(gs->base, fd, EV_READ | EV_PERSIST, tunnel_accept, t);
	if (t->ev == NULL || event_add(t->ev, NULL) != 0)
		fatal("cannot add a public port to the event loop");
	LIST_INSERT_HEAD(&gs->tunnels, t, entry);
	log_info("%s: tunnel open for account '%s' (session %llu)", t->url,
	    sshgw_session_account(s), sshgw_session_id(s));
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
	close(t->fd);
	ports_release(t->port);
	registry_remove(t->reg);
	log_info("%s: tunnel closed", t->url);
	free(t->url);
	free(t);
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
	.key_lookup = access_key_lookup,
	.token_check = access_token_check,
	.register_key = access_register_key,
	.status = tunnel_status,
	.forward_add = tunnel_forward_add,
	.forward_remove = tunnel_forward_remove,
	.session_closed = tunnel_session_closed,
};
