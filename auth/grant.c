/* SPDX-License-Identifier: ISC */
/*
 * tunnelgw: grants. A grant is what one login may do: built once from the key line (or
 * none), the account's row and the configuration's policy, then merged with the options of
 * a `tcp` command when it runs, as OpenSSH merges a key's options with the command line.
 * Every rule below is a function of the grant and the request alone: no lookups, no clock,
 * no sockets, so each is table-tested (tests/check_grant.c).
 */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "auth.h"
#include "log.h"
#include "xmalloc.h"

#define GRANT_MAX_IDLE	604800	/* longest --idle-timeout, in seconds */

/* Return the label of a refusal, as tunnelgw_refusals_total{reason} shows it. */
const char *
refusal_label(enum refusal r)
{
	static const char *const label[] = {
		[REFUSAL_NONE] = "none",
		[REFUSAL_BAD_ADDRESS] = "bad_address",
		[REFUSAL_FORWARDING_DISABLED] = "forwarding_disabled",
		[REFUSAL_ROLE] = "role",
		[REFUSAL_NO_FREE_PORT] = "no_free_port",
		[REFUSAL_PORT_RESERVED] = "port_reserved",
		[REFUSAL_PORT_NOT_ALLOWED] = "port_not_allowed",
		[REFUSAL_PORT_IN_USE] = "port_in_use",
		[REFUSAL_TUNNEL_LIMIT] = "tunnel_limit",
		[REFUSAL_IP_RULE] = "ip_rule",
		[REFUSAL_CONNECTION_LIMIT] = "connection_limit",
		[REFUSAL_CONN_RATE] = "conn_rate",
		[REFUSAL_SESSION_LIMIT] = "session_limit",
		[REFUSAL_SSH_RATE] = "ssh_rate",
		[REFUSAL_STARTUPS] = "startups",
		[REFUSAL_OTHER] = "other",
	};

	if ((size_t)r >= sizeof label / sizeof label[0] || label[r] == NULL)
		return "other";
	return label[r];
}

static const char *const role_labels[] = {
	[ROLE_VIEWER] = "viewer",
	[ROLE_DEVELOPER] = "developer",
	[ROLE_MANAGER] = "manager",
	[ROLE_OWNER] = "owner",
};

/* Read a role's name into *role; 0, or -1 for a name that is none. */
int
role_parse(const char *name, enum role *role)
{
	int	 r;

	for (r = ROLE_VIEWER; r <= ROLE_OWNER; r++)
		if (strcmp(name, role_labels[r]) == 0) {
			*role = (enum role)r;
			return 0;
		}
	return -1;
}

/* The name of a role ("viewer" ... "owner"). */
const char *
role_label(enum role role)
{
	if (role < ROLE_VIEWER || role > ROLE_OWNER)
		return "none";
	return role_labels[role];
}

/*
 * The role a keys-file login acts with: its line's role= (manager when not set). A login
 * with a key or token of the database acts as its member (grant_set_member); until it is
 * told which, it may do nothing a role decides.
 */
static enum role
grant_role(enum grant_how how, const struct keyopts *key)
{
	if (how != GRANT_KEYFILE)
		return 0;
	return key != NULL && key->role != 0 ? (enum role)key->role : ROLE_KEYFILE_DEFAULT;
}

/* Set a command's options to "not set". */
static void
grant_cmd_init(struct grant_cmd *c)
{
	memset(c, 0, sizeof *c);
	c->proxy_proto = -1;
	c->idle_timeout = -1;
}

/* Free a command's options, and leave them "not set". */
void
grant_cmd_clear(struct grant_cmd *c)
{
	cidrlist_free(c->allow);
	cidrlist_free(c->deny);
	grant_cmd_init(c);
}

/*
 * A new grant, held once, for account, proved as how, with the key line's options (NULL:
 * none) and the account's own tunnel limit from the store (-1: none).
 */
struct grant *
grant_create(const struct policy *pol, const char *account, enum grant_how how,
    const struct keyopts *key, int account_max_tunnels)
{
	struct grant	*g = xcalloc(1, sizeof *g);

	g->refs = 1;
	g->pol = pol;
	g->account = xstrdup(account);
	g->how = how;
	g->account_max_tunnels = account_max_tunnels;
	g->account_max_connections = -1;
	keyopts_copy(&g->key, key);
	g->role = grant_role(how, key);
	g->raw_tunnel_role = ROLE_RAW_TUNNEL_DEFAULT;
	grant_cmd_init(&g->cmd);
	return g;
}

/* Hold a grant once more; returns it. */
struct grant *
grant_hold(struct grant *g)
{
	g->refs++;
	return g;
}

/* Let go of a grant; the last holder frees it. NULL is a no-op. */
void
grant_release(struct grant *g)
{
	if (g == NULL || --g->refs > 0)
		return;
	free(g->account);
	free(g->member);
	keyopts_clear(&g->key);
	grant_cmd_clear(&g->cmd);
	free(g);
}

/* The keys file was reloaded: the login's key line now reads as key. */
void
grant_set_key(struct grant *g, const struct keyopts *key)
{
	keyopts_clear(&g->key);
	keyopts_copy(&g->key, key);
	g->role = grant_role(g->how, key);
}

/*
 * A login of the database acts as member m of its account, with the account's limits and the
 * role it sets for raw tunnels; called again when the store changes them.
 */
void
grant_set_member(struct grant *g, const struct grant_member *m)
{
	free(g->member);
	g->member = xstrdup(m->name);
	g->role = m->role;
	g->raw_tunnel_role = m->raw_tunnel_role != 0 ? m->raw_tunnel_role :
	    ROLE_RAW_TUNNEL_DEFAULT;
	g->account_max_tunnels = m->max_tunnels;
	g->account_max_connections = m->max_connections;
	g->token_port = m->token_port;
	g->token_proto = m->token_proto;
}

/* Parse a whole number option value within bounds. */
static int
grant_number(const char *v, int min, int max, int *out)
{
	char	*end;
	long	 n;

	if (*v < '0' || *v > '9')
		return -1;
	n = strtol(v, &end, 10);
	if (*end != '\0' || n < min || n > max)
		return -1;
	*out = (int)n;
	return 0;
}

/* Parse a CIDR list option into *list; 0 or -1 with *cause. */
static int
grant_cidrs(const char *name, const char *v, struct cidrlist **list, char **cause)
{
	struct cidrlist	*l;
	char		*why = NULL;

	if (cidrlist_parse(v, &l, &why) != 0) {
		xasprintf(cause, "%s: %s", name, why);
		free(why);
		return -1;
	}
	cidrlist_free(*list);
	*list = l;
	return 0;
}

/* Parse one `tcp` option (--NAME=VALUE) into c; 0 or -1 with *cause. fuzz/ calls it too. */
int
grant_cmd_option(struct grant_cmd *c, const char *arg, char **cause)
{
	const char	*eq = strchr(arg, '=');
	char		*name, q[LOG_QUOTE_SIZE];
	const char	*v;
	int		 rc = -1;

	if (strncmp(arg, "--", 2) != 0 || eq == NULL) {
		xasprintf(cause, "tcp: unknown option '%s' (try 'help')", log_quote(arg, q));
		return -1;
	}
	name = xstrndup(arg, (size_t)(eq - arg));
	v = eq + 1;
	if (strcmp(name, "--proxy-proto") == 0 || strcmp(name, "--upstream-proxy-protocol") == 0) {
		if ((rc = grant_number(v, 0, 2, &c->proxy_proto)) != 0)
			xasprintf(cause, "tcp: %s must be 0, 1 or 2, not '%s'", name,
			    log_quote(v, q));
	} else if (strcmp(name, "--idle-timeout") == 0) {
		if ((rc = grant_number(v, 0, GRANT_MAX_IDLE, &c->idle_timeout)) != 0)
			xasprintf(cause, "tcp: %s must be seconds from 0 to %d, not '%s'", name,
			    GRANT_MAX_IDLE, log_quote(v, q));
	} else if (strcmp(name, "--allow-cidr") == 0)
		rc = grant_cidrs(name, v, &c->allow, cause);
	else if (strcmp(name, "--deny-cidr") == 0)
		rc = grant_cidrs(name, v, &c->deny, cause);
	else
		xasprintf(cause, "tcp: unknown option '%s' (try 'help')", log_quote(name, q));
	free(name);
	return rc;
}

/* Move what one command set into the grant's command options. */
static void
grant_cmd_merge(struct grant_cmd *into, struct grant_cmd *from)
{
	if (from->proxy_proto >= 0)
		into->proxy_proto = from->proxy_proto;
	if (from->idle_timeout >= 0)
		into->idle_timeout = from->idle_timeout;
	if (from->allow != NULL) {
		cidrlist_free(into->allow);
		into->allow = from->allow;
		from->allow = NULL;
	}
	if (from->deny != NULL) {
		cidrlist_free(into->deny);
		into->deny = from->deny;
		from->deny = NULL;
	}
}

/*
 * A `tcp` command's options (argv[1..argc-1]): all of them, or none when one is wrong;
 * 0, or -1 with *cause.
 */
int
grant_command(struct grant *g, char *const *argv, int argc, char **cause)
{
	struct grant_cmd	 c;
	int			 i;

	grant_cmd_init(&c);
	for (i = 1; i < argc; i++) {
		if (grant_cmd_option(&c, argv[i], cause) != 0) {
			grant_cmd_clear(&c);
			return -1;
		}
	}
	grant_cmd_merge(&g->cmd, &c);
	grant_cmd_clear(&c);
	return 0;
}

/* Does a user name name a token (the prefix every token has), so that the token decides. */
int
grant_names_token(const char *user)
{
	return strncmp(user, GRANT_TOKEN_PREFIX, sizeof GRANT_TOKEN_PREFIX - 1) == 0;
}

/*
 * May a token log in at the Unix time now: 0, or 1 with *why (a new string, which never
 * holds the secret). found says whether the store knows it; id, revoked and expires are
 * its row's (0: not revoked, never expires).
 */
int
grant_token_usable(int found, long long id, long long revoked, long long expires,
    long long now, char **why)
{
	if (!found) {
		xasprintf(why, "unknown token");
		return 1;
	}
	if (revoked != 0) {
		xasprintf(why, "token %lld was revoked", id);
		return 1;
	}
	if (expires != 0 && expires <= now) {
		xasprintf(why, "token %lld has expired", id);
		return 1;
	}
	return 0;
}

/* May a key line's login come from this address (its from= option). */
int
grant_login_from(const struct keyopts *key, const struct sockaddr *sa)
{
	if (key == NULL || key->from == NULL)
		return 1;
	return sa != NULL && cidrlist_match(key->from, sa);
}

/* The PROXY protocol version for new connections: the command's, the key's, the policy's. */
int
grant_proxy_proto(const struct grant *g)
{
	if (g->cmd.proxy_proto >= 0)
		return g->cmd.proxy_proto;
	if (g->key.proxy_proto >= 0)
		return g->key.proxy_proto;
	return g->pol->proxy_protocol;
}

/* Seconds a public connection may stay idle (0: no limit): the command's, else the policy's. */
int
grant_idle_timeout(const struct grant *g)
{
	return g->cmd.idle_timeout >= 0 ? g->cmd.idle_timeout : g->pol->idle_timeout;
}

/*
 * The most tunnels the account may hold (-1: no limit): the key line's max-tunnels, else
 * the account's in the store, else the policy's max_tunnels (0 there: no limit).
 */
int
grant_max_tunnels(const struct grant *g)
{
	if (g->key.max_tunnels >= 0)
		return g->key.max_tunnels;
	if (g->account_max_tunnels >= 0)
		return g->account_max_tunnels;
	return g->pol->max_tunnels > 0 ? g->pol->max_tunnels : -1;
}

/*
 * Is address one a client may name for its forward: ours, or none in particular. Clients
 * say "any" and "loopback" in several ways (OpenSSH sends "localhost" when the user gave no
 * address, Go's x/crypto sends "127.0.0.1" for Listen("tcp", "localhost:0"), others "",
 * "*", "0.0.0.0", "::" or "::1"); all mean "the gateway's public address" here, and the
 * forwarded channels carry back the exact string the client sent.
 */
static int
grant_address_ok(const struct policy *pol, const char *address)
{
	static const char *const any[] = {
		"", "*", "0.0.0.0", "::", "localhost", "127.0.0.1", "::1", NULL
	};
	size_t	 i;

	for (i = 0; any[i] != NULL; i++) {
		if (strcasecmp(address, any[i]) == 0)
			return 1;
	}
	return strcasecmp(address, pol->public_host) == 0 ||
	    strcmp(address, pol->public_bind) == 0;
}

/* May this key ask for this port, by its permitlisten= options. */
static int
grant_permitted(const struct keyopts *key, int port)
{
	size_t	 i;

	if (key->npermitlisten == 0)
		return 1;
	for (i = 0; i < key->npermitlisten; i++) {
		if (key->permitlisten[i] == 0 || key->permitlisten[i] == port)
			return 1;
	}
	return 0;
}

/* A port the account did not reserve: the rules for naming a port of the range. */
static enum refusal
grant_requested(const struct grant *g, enum grant_proto proto, int port, char **why)
{
	const struct policy	*pol = g->pol;
	const char		*range = proto == GRANT_UDP ? pol->udp_port_range : pol->port_range;
	int			 lo = proto == GRANT_UDP ? pol->udp_port_min : pol->port_min;
	int			 hi = proto == GRANT_UDP ? pol->udp_port_max : pol->port_max;

	if (port < 1024) {
		xasprintf(why, "port %d is privileged; ask for port 0 to get a free one", port);
		return REFUSAL_PORT_NOT_ALLOWED;
	}
	if (!grant_permitted(&g->key, port)) {
		xasprintf(why, "port %d is not permitted for this key (permitlisten)", port);
		return REFUSAL_PORT_NOT_ALLOWED;
	}
	if (!pol->allow_requested_ports) {
		xasprintf(why, "port %d is not reserved for you, and this gateway does not "
		    "hand out requested ports; ask for port 0 to get a free one", port);
		return REFUSAL_PORT_NOT_ALLOWED;
	}
	if (port < lo || port > hi) {
		xasprintf(why, "port %d is outside the gateway's %s %s", port,
		    proto == GRANT_UDP ? "udp_port_range" : "port range", range);
		return REFUSAL_PORT_NOT_ALLOWED;
	}
	return REFUSAL_NONE;
}

/*
 * May the login open a TCP tunnel at all, by its role: REFUSAL_NONE, or REFUSAL_ROLE with
 * *why (a new string) saying which role it has, which it needs and who can change it.
 */
enum refusal
grant_role_refusal(const struct grant *g, char **why)
{
	if (g->role >= g->raw_tunnel_role)
		return REFUSAL_NONE;
	if (g->member == NULL)
		xasprintf(why, "opening a TCP tunnel in account '%s' needs the role %s or above; "
		    "this key has the role %s (the gateway's operator sets it: role= in the keys "
		    "file)", g->account, role_label(g->raw_tunnel_role), role_label(g->role));
	else
		xasprintf(why, "opening a TCP tunnel in account '%s' needs the role %s or above; "
		    "member '%s' has the role %s (an owner of the account can change it: "
		    "tunnelgwctl member role %s %s ROLE)", g->account,
		    role_label(g->raw_tunnel_role), g->member, role_label(g->role), g->account,
		    g->member);
	return REFUSAL_ROLE;
}

/* A protocol's name, as URLs begin and the store names it: "tcp" or "udp". */
const char *
grant_proto_name(enum grant_proto proto)
{
	return proto == GRANT_UDP ? "udp" : "tcp";
}

/* Seconds a UDP flow may stay silent: the command's --idle-timeout, or udp_flow_timeout. */
int
grant_flow_timeout(const struct grant *g)
{
	return g->cmd.idle_timeout >= 0 ? g->cmd.idle_timeout : g->pol->udp_flow_timeout;
}

/*
 * May the login forward address:port as a tunnel of proto, where owner is the account that
 * reserved port for proto (NULL: none, or port 0). REFUSAL_NONE with *how (a random port,
 * its reservation, the port it named), else the refusal with *why (a new string) to tell
 * the client.
 */
enum refusal
grant_forward(const struct grant *g, enum grant_proto proto, const char *address, int port,
    const char *owner, enum grant_port *how, char **why)
{
	char	 q[LOG_QUOTE_SIZE];

	if (!grant_address_ok(g->pol, address)) {
		xasprintf(why, "'%s' is not an address of this gateway; use -R PORT:HOST:PORT "
		    "or -R %s:PORT:HOST:PORT", log_quote(address, q), g->pol->public_host);
		return REFUSAL_BAD_ADDRESS;
	}
	if (g->key.no_port_forwarding) {
		xasprintf(why, "this key may not forward ports (no-port-forwarding or restrict)");
		return REFUSAL_FORWARDING_DISABLED;
	}
	if (grant_role_refusal(g, why) != REFUSAL_NONE)
		return REFUSAL_ROLE;
	if (g->token_port != 0 && proto != g->token_proto) {
		xasprintf(why, "this token opens only %s port %d: use the %s command",
		    g->token_proto == GRANT_UDP ? "UDP" : "TCP", g->token_port,
		    grant_proto_name(g->token_proto));
		return REFUSAL_PORT_NOT_ALLOWED;
	}
	if (g->token_port != 0 && port != g->token_port) {
		xasprintf(why, "this token opens only port %d: use -R %d:localhost:PORT",
		    g->token_port, g->token_port);
		return REFUSAL_PORT_NOT_ALLOWED;
	}
	if (port == 0) {
		*how = GRANT_PORT_RANDOM;
		return REFUSAL_NONE;
	}
	if (owner != NULL) {
		if (strcmp(owner, g->account) != 0) {
			xasprintf(why, "port %d is reserved by another account", port);
			return REFUSAL_PORT_RESERVED;
		}
		*how = GRANT_PORT_RESERVED;
		return REFUSAL_NONE;
	}
	*how = GRANT_PORT_REQUESTED;
	return grant_requested(g, proto, port, why);
}

/* The account holds as many tunnels as grant_max_tunnels() allows: say so in *why. */
enum refusal
grant_tunnel_limit(const struct grant *g, int elsewhere, char **why)
{
	int		 limit = grant_max_tunnels(g);
	const char	*which;
	char		 where[48] = "";

	/* Which limit it is, and who can raise it: as grant_max_tunnels picks it. */
	if (g->key.max_tunnels >= 0)
		which = "the key's max-tunnels in the keys file; the gateway's operator can raise it";
	else if (g->account_max_tunnels >= 0)
		which = "the account's max-tunnels; the gateway's operator can raise it: "
		    "tunnelgwctl account set";
	else
		which = "the gateway's max_tunnels; its operator can raise it in tunnelgw.conf";
	if (elsewhere > 0)
		snprintf(where, sizeof where, " (%d on other gateways)", elsewhere);
	xasprintf(why, "account '%s' already has %d tunnel%s open%s, its limit (%s)", g->account,
	    limit, limit == 1 ? "" : "s", where, which);
	return REFUSAL_TUNNEL_LIMIT;
}

/* A public port the rules allowed could not be opened: no free one (port 0), or in use. */
enum refusal
grant_port_failed(int port)
{
	return port == 0 ? REFUSAL_NO_FREE_PORT : REFUSAL_PORT_IN_USE;
}

/*
 * The port a forward named is in use, by holder's session (0 and NULL: unknown) since the
 * Unix time since. When an older session of the same account holds it (a client that
 * reconnected after its laptop slept, say), that session must answer a keepalive at once
 * or be closed: return 1 with *why to tell the client, and the caller probes that session.
 * Else 0: the port is simply in use.
 */
int
grant_port_holder(const struct grant *g, int port, const char *holder,
    unsigned long long session, unsigned long long self, long long since, char **why)
{
	char	 when[32];
	time_t	 t = (time_t)since;
	struct tm tm;

	if (holder == NULL || strcmp(holder, g->account) != 0 || session == self)
		return 0;
	gmtime_r(&t, &tm);
	strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S UTC", &tm);
	xasprintf(why, "port %d is held by your session %llu (since %s); it must answer "
	    "within 2 seconds or be closed, which frees the port: connect again then", port,
	    session, when);
	return 1;
}

/*
 * May a public client at sa connect to the login's tunnels: REFUSAL_NONE, or REFUSAL_IP_RULE
 * with *why. Any deny list that matches refuses (deny wins); every allow list that is set
 * (configuration, key, command) must match.
 */
enum refusal
grant_client(const struct grant *g, const struct sockaddr *sa, const char **why)
{
	const struct policy	*pol = g->pol;

	*why = NULL;
	if (pol->deny != NULL && cidrlist_match(pol->deny, sa))
		*why = "denied by deny_cidr";
	else if (g->key.deny != NULL && cidrlist_match(g->key.deny, sa))
		*why = "denied by the key's deny-cidr";
	else if (g->cmd.deny != NULL && cidrlist_match(g->cmd.deny, sa))
		*why = "denied by --deny-cidr";
	else if (pol->allow != NULL && !cidrlist_match(pol->allow, sa))
		*why = "not in allow_cidr";
	else if (g->key.allow != NULL && !cidrlist_match(g->key.allow, sa))
		*why = "not in the key's allow-cidr";
	else if (g->cmd.allow != NULL && !cidrlist_match(g->cmd.allow, sa))
		*why = "not in --allow-cidr";
	return *why != NULL ? REFUSAL_IP_RULE : REFUSAL_NONE;
}

/*
 * May one more public connection open, with open_all open on the gateway, open_account in
 * the account's tunnels and open_tunnel on its tunnel: REFUSAL_NONE, or
 * REFUSAL_CONNECTION_LIMIT with *why.
 */
enum refusal
grant_connection(const struct grant *g, int open_all, int open_account, int open_tunnel,
    const char **why)
{
	const struct policy	*pol = g->pol;

	*why = NULL;
	if (open_all >= pol->max_connections)
		*why = "the gateway holds max_connections connections";
	else if (pol->max_connections_per_tunnel > 0 &&
	    open_tunnel >= pol->max_connections_per_tunnel)
		*why = "the tunnel holds max_connections_per_tunnel connections";
	else if (g->account_max_connections >= 0 && open_account >= g->account_max_connections)
		*why = "the account holds its max-connections connections (the gateway's operator "
		    "can raise it: tunnelgwctl account set)";
	return *why != NULL ? REFUSAL_CONNECTION_LIMIT : REFUSAL_NONE;
}
