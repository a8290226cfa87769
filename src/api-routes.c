/* SPDX-License-Identifier: ISC */
/*
 * tunnelgw: the API's resources under /api/v1/. Who may do what (the role rules):
 *
 *	see anything of an account			viewer
 *	close one's own tunnel				developer
 *	close anyone's tunnel in the account		manager
 *	members, tokens, keys, API keys, addresses	manager (one's own key, token or API key:
 *							developer, or viewer for an API key)
 *	give a member a role				owner
 *	open a tunnel (POST tunnels)			the account's create_raw_tunnel
 *	accounts: create, change limits, delete	the operator
 *
 * A member never gives anyone a role above its own, nor acts for a member above it. The
 * operator stands above every account and names the one it means (field or ?account=).
 */
#include "config.h"

#include <sys/types.h>

#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api-int.h"
#include "conf.h"
#include "log.h"
#include "nodes.h"
#include "ports.h"
#include "registry.h"
#include "sshgw.h"
#include "store.h"
#include "web.h"
#include "worker.h"
#include "xmalloc.h"

/* --- helpers ------------------------------------------------------------------------------ */

/*
 * Answer a store failure by what it says: the database (503), something missing (404),
 * something in the way or a limit (409), else bad input (422). Frees cause.
 */
static void
api_store_error(struct api_req *r, char *cause)
{
	char	*other, *said;
	int	 code = 422;

	/*
	 * The store names who holds a port or a key, for the operator; a member learns only
	 * that another account does.
	 */
	if (!r->who->operator && ((other = strstr(cause, " by account '")) != NULL ||
	    (other = strstr(cause, " to account '")) != NULL)) {
		xasprintf(&said, "%.*s by another account", (int)(other - cause), cause);
		free(cause);
		cause = said;
	}
	if (strncmp(cause, "DB: ", 4) == 0) {
		log_warn("api: %s", cause);
		code = 503;
	} else if (strncmp(cause, "unknown role", 12) == 0)
		code = 422;
	else if (strstr(cause, "unknown ") != NULL || strstr(cause, "has no member") != NULL ||
	    strncmp(cause, "no ", 3) == 0 || strstr(cause, "is not reserved") != NULL)
		code = 404;
	else if (strstr(cause, "already") != NULL || strstr(cause, "only owner") != NULL ||
	    strstr(cause, "its limit") != NULL)
		code = 409;
	api_problem(r->req, code, "%s", cause);
	free(cause);
}

/* Send 201 with the new resource, or 204 with nothing. */
static void
api_created(struct api_req *r, json_t *doc)
{
	api_send(r->req, 201, doc, "application/json");
}

static void
api_no_content(struct api_req *r)
{
	web_headers(r->req);
	evhttp_send_reply(r->req, 204, "No Content", NULL);
}

/* 0 when the caller may do what (the operator, or a member of role need or above); else 403. */
static int
api_need(struct api_req *r, enum role need, const char *what)
{
	if (r->who->operator || r->who->role >= need)
		return 0;
	api_problem(r->req, 403, "%s needs the role %s or above; member '%s' of account '%s' has "
	    "the role %s", what, role_label(need), r->who->member, r->who->account,
	    role_label(r->who->role));
	return -1;
}

/* 0 when only the operator is asking; else 403. */
static int
api_operator(struct api_req *r, const char *what)
{
	if (r->who->operator)
		return 0;
	api_problem(r->req, 403, "%s is for the gateway's operator (an operator API key: "
	    "tunnelgwctl apikey create --operator)", what);
	return -1;
}

/*
 * The account a request is about: a member's own; the operator's, from the body's "account"
 * or ?account=. NULL when answered: a member naming another account (403), or the operator
 * naming none where one is needed (422). With any set, the operator may name none: "".
 */
static const char *
api_account(struct api_req *r, json_t *body, int any)
{
	const char	*want = NULL;
	char		 q[LOG_QUOTE_SIZE];

	if (body != NULL && json_object_get(body, "account") != NULL)
		want = json_string_value(json_object_get(body, "account"));
	else
		want = evhttp_find_header(&r->query, "account");
	if (!r->who->operator) {
		if (want != NULL && strcmp(want, r->who->account) != 0) {
			api_problem(r->req, 403, "member '%s' of account '%s' may not act on "
			    "account '%s'", r->who->member, r->who->account, log_quote(want, q));
			return NULL;
		}
		return r->who->account;
	}
	if (want == NULL && any)
		return "";
	if (want == NULL)
		api_problem(r->req, 422, "name the account (field or parameter 'account')");
	return want;
}

/*
 * May the caller act for member name of account (its keys, tokens, API keys): itself at
 * role self, another at manager, never one above its own role. 0, or -1 when answered.
 */
static int
api_for_member(struct api_req *r, const char *account, const char *name, enum role self,
    const char *what)
{
	struct store_member	*m = NULL;
	enum role		 role;
	char			*cause = NULL, q[LOG_QUOTE_SIZE];

	if (store_member_find(r->api->store, account, name, &m, &cause) != 0) {
		api_store_error(r, cause);
		return -1;
	}
	if (m == NULL) {
		api_problem(r->req, 404, "account '%s' has no member '%s'", account,
		    log_quote(name, q));
		return -1;
	}
	if (role_parse(m->role, &role) != 0)
		role = ROLE_OWNER;
	store_member_free(m);
	if (r->who->operator)
		return 0;
	if (strcmp(name, r->who->member) == 0)
		return api_need(r, self, what);
	if (api_need(r, ROLE_MANAGER, what) != 0)
		return -1;
	if (role > r->who->role) {
		api_problem(r->req, 403, "%s: member '%s' has the role %s, above yours (%s)", what,
		    name, role_label(role), role_label(r->who->role));
		return -1;
	}
	return 0;
}

/* A string field of a body, or def when it is absent. */
static const char *
api_str(json_t *body, const char *name, const char *def)
{
	json_t	*v = json_object_get(body, name);

	return v != NULL ? json_string_value(v) : def;
}

/* An integer field of a body, or def when it is absent. */
static json_int_t
api_int(json_t *body, const char *name, json_int_t def)
{
	json_t	*v = json_object_get(body, name);

	return v != NULL ? json_integer_value(v) : def;
}

/* Parse the id of a path as a positive number; 0 after a 404 when it is none. */
static unsigned long long
api_number_id(struct api_req *r, const char *what)
{
	unsigned long long	 n = 0;
	const char		*p;
	char			 q[LOG_QUOTE_SIZE];

	for (p = r->id; *p >= '0' && *p <= '9' && n < 1000000000000000ULL; p++)
		n = n * 10 + (unsigned long long)(*p - '0');
	if (*p != '\0' || p == r->id || n == 0) {
		api_problem(r->req, 404, "no %s '%s'", what, log_quote(r->id, q));
		return 0;
	}
	return n;
}

/*
 * Answer a listing: the records of v (n of them) whose account, a char * at account_at in
 * each, is account ("" or NULL: all), each made an object by conv, under name.
 */
static void
api_list_reply(struct api_req *r, const char *name, void *const *v, size_t n,
    size_t account_at, const char *account, json_t *(*conv)(struct api_req *, const void *))
{
	json_t		*list = json_array();
	const char	*owner;
	size_t		 i;

	for (i = 0; i < n; i++) {
		memcpy(&owner, (const char *)v[i] + account_at, sizeof owner);
		if (account == NULL || *account == '\0' || strcmp(owner, account) == 0)
			json_array_append_new(list, conv(r, v[i]));
	}
	api_ok(r->req, json_pack("{s:o}", name, list));
}

/* --- status ------------------------------------------------------------------------------- */

/* GET status: version, uptime, counts. */
static void
api_status(struct api_req *r)
{
	struct registry_totals	 t;

	json_t			*caller;

	registry_totals(&t);
	/* Who the key is, so that a client (the dashboard) offers what the role allows. */
	if (r->who->operator)
		caller = json_pack("{s:b, s:n, s:n, s:s}", "operator", 1, "account", "member",
		    "role", "operator");
	else
		caller = json_pack("{s:b, s:o, s:o, s:s}", "operator", 0, "account",
		    api_text(r->who->account), "member", api_text(r->who->member), "role",
		    role_label(r->who->role));
	api_ok(r->req, json_pack("{s:s, s:I, s:o, s:I, s:I, s:I, s:I, s:I, s:I, s:o}",
	    "version", PACKAGE_VERSION,
	    "uptime_s", (json_int_t)(time(NULL) - r->api->started),
	    "started", api_time(r->api->started),
	    "sessions", (json_int_t)sshgw_session_count(),
	    "tunnels", (json_int_t)t.tunnels,
	    "connections", (json_int_t)t.conns,
	    "connections_total", (json_int_t)t.conns_total,
	    "bytes_in_total", (json_int_t)t.bytes_in,
	    "bytes_out_total", (json_int_t)t.bytes_out,
	    "caller", caller));
}

/* --- tunnels ------------------------------------------------------------------------------ */

/* A string we made or checked (ASCII: names, URLs), or null. */
static json_t *
api_ascii(const char *s)
{
	return s != NULL ? json_string_nocheck(s) : json_null();
}

/*
 * Set o's fields to a tunnel's: an object of api_tunnel_json's, of the same status, whose
 * keys stay and whose values are replaced. A listing reuses one object for 10,000 tunnels:
 * no table of keys is made per tunnel, and no format string parsed.
 */
static void
api_tunnel_fill(json_t *o, const struct registry_view *v)
{
	json_object_set_new_nocheck(o, "id", json_integer((json_int_t)v->id));
	json_object_set_new_nocheck(o, "protocol", json_string_nocheck(
	    strncmp(v->url, "udp://", 6) == 0 ? "udp" : "tcp"));
	json_object_set_new_nocheck(o, "status", json_string_nocheck(v->awaiting ?
	    "awaiting_connection" : "online"));
	json_object_set_new_nocheck(o, "public_endpoint", api_ascii(v->url));
	json_object_set_new_nocheck(o, "account", api_ascii(v->account));
	json_object_set_new_nocheck(o, "member", api_ascii(v->member));
	json_object_set_new_nocheck(o, "forward", api_ascii(v->target));
	if (nodes_name() != NULL)
		json_object_set_new_nocheck(o, "node", api_ascii(v->node != NULL ? v->node :
		    nodes_name()));
	if (v->awaiting) {
		json_object_set_new_nocheck(o, "created", api_time(v->since));
		json_object_set_new_nocheck(o, "expires", api_time(v->expires));
		return;
	}
	json_object_set_new_nocheck(o, "client", api_ascii(v->client));
	json_object_set_new_nocheck(o, "session", json_integer((json_int_t)v->session));
	json_object_set_new_nocheck(o, "started", api_time(v->since));
	json_object_set_new_nocheck(o, "connections", json_integer(v->conns));
	json_object_set_new_nocheck(o, "bytes_in", json_integer((json_int_t)v->bytes_in));
	json_object_set_new_nocheck(o, "bytes_out", json_integer((json_int_t)v->bytes_out));
}

/* A live tunnel as an API object. */
static json_t *
api_tunnel_json(const struct registry_view *v)
{
	json_t	*o = json_object();

	api_tunnel_fill(o, v);
	return o;
}

/* A growing text: a listing written as it is walked. */
struct api_text {
	char	*buf;
	size_t	 len;
	size_t	 size;
};

/* jansson, and the listing's own pieces: append to a text. */
static int
api_text_add(const char *p, size_t len, void *arg)
{
	struct api_text	*t = arg;

	if (t->len + len + 1 > t->size) {
		t->size = t->size == 0 ? 65536 : t->size;
		while (t->len + len + 1 > t->size)
			t->size *= 2;
		t->buf = xreallocarray(t->buf, t->size, 1);
	}
	memcpy(t->buf + t->len, p, len);
	t->len += len;
	return 0;
}

/* What api_tunnel_each writes: the listing, and awaiting tunnels whose token expired. */
struct api_tunnel_list {
	struct api_text		 text;
	json_t			*online;	/* the objects reused for each tunnel */
	json_t			*awaiting;
	size_t			 n;
	unsigned long long	 expired[64];
	size_t			 nexpired;
	time_t			 now;
};

/* registry_each: write every tunnel, but awaiting ones whose token expired. */
static void
api_tunnel_each(const struct registry_view *v, void *arg)
{
	struct api_tunnel_list	*l = arg;
	json_t			*o = v->awaiting ? l->awaiting : l->online;

	if (v->awaiting && v->expires != 0 && v->expires <= l->now) {
		if (l->nexpired < sizeof l->expired / sizeof l->expired[0])
			l->expired[l->nexpired++] = v->id;
		return;
	}
	if (l->n++ > 0)
		api_text_add(",", 1, &l->text);
	api_tunnel_fill(o, v);
	if (json_dump_callback(o, api_text_add, &l->text, JSON_COMPACT) != 0)
		fatal("out of memory writing JSON");
}

/* What api_tunnel_find looks for, and what it found. */
struct api_tunnel_find {
	unsigned long long	 id;
	json_t			*found;
};

/* registry_each: the tunnel with an id. */
static void
api_tunnel_find(const struct registry_view *v, void *arg)
{
	struct api_tunnel_find	*f = arg;

	if (v->id == f->id && f->found == NULL)
		f->found = api_tunnel_json(v);
}

/*
 * Call fn for each live tunnel of account (NULL: all): this gateway's (registry_each), then
 * those of the other gateways sharing the database, when it answers.
 */
static void
api_tunnels_walk(const char *account, void (*fn)(const struct registry_view *, void *),
    void *arg)
{
	struct nodes_list	 l;
	char			*cause = NULL;
	size_t			 i;

	registry_each(account, fn, arg);
	if (nodes_others(account, &l, &cause) != 0) {
		log_warn("api: the other gateways' tunnels: %s", cause);
		free(cause);
		return;
	}
	for (i = 0; i < l.n; i++)
		fn(&l.v[i], arg);
	nodes_list_free(&l);
}

/* GET tunnels: the live tunnels of the caller's account (the operator's: all, or ?account=). */
static void
api_tunnels_list(struct api_req *r)
{
	struct api_tunnel_list	 l;
	const char		*account;
	char			*a, *url;
	long long		 token;
	size_t			 i;

	if ((account = api_account(r, NULL, 1)) == NULL)
		return;
	memset(&l, 0, sizeof l);
	l.online = json_object();
	l.awaiting = json_object();
	l.now = time(NULL);
	api_text_add("{\"tunnels\":[", 12, &l.text);
	api_tunnels_walk(*account != '\0' ? account : NULL, api_tunnel_each, &l);
	api_text_add("]}", 2, &l.text);
	json_decref(l.online);
	json_decref(l.awaiting);
	/* An awaiting tunnel whose token expired will never come: it goes. */
	for (i = 0; i < l.nexpired; i++) {
		if (registry_cancel_awaiting(l.expired[i], &a, &url, &token) == 0) {
			free(a);
			free(url);
		}
	}
	api_send_text(r->req, HTTP_OK, l.text.buf, l.text.len);
}

#define API_RESERVE_TRIES	16	/* random ports drawn before giving up on a free one */
#define API_MAX_AWAITING	64	/* tunnels an account may have awaiting their connection */

/* Does member name of account hold role need or above? 0, or -1 after a 403. */
static int
api_member_may(struct api_req *r, const char *account, const char *name, enum role need)
{
	struct store_member	*m = NULL;
	enum role		 role = 0;
	char			*cause = NULL;

	if (store_member_find(r->api->store, account, name, &m, &cause) != 0) {
		api_store_error(r, cause);
		return -1;
	}
	if (m != NULL)
		(void)role_parse(m->role, &role);
	store_member_free(m);
	if (role >= need)
		return 0;
	api_problem(r->req, 403, "opening a TCP tunnel in account '%s' needs the role %s or above; "
	    "member '%s' has the role %s", account, role_label(need), name, role_label(role));
	return -1;
}

/* The protocol a request names ("tcp" when none): "tcp", "udp", or NULL after a 422. */
static const char *
api_protocol(struct api_req *r, const char *v)
{
	if (v == NULL || strcmp(v, "tcp") == 0)
		return "tcp";
	if (strcmp(v, "udp") == 0)
		return "udp";
	api_problem(r->req, 422, "protocol must be tcp or udp");
	return NULL;
}

/*
 * Reserve port (0: a random one of the range) for account, into *out; a random port that a
 * live tunnel holds now (not reserved: drawn at random by its session) is given back and
 * another drawn, so the command line the caller gets can open it. 0, or -1 when answered.
 */
static int
api_reserve(struct api_req *r, const char *account, const char *proto, int port, int *out)
{
	const struct conf	*c = r->api->conf;
	int			 udp = strcmp(proto, "udp") == 0;
	int			 lo = udp ? c->udp_port_min : c->port_min;
	int			 hi = udp ? c->udp_port_max : c->port_max;
	char			*cause = NULL;
	int			 i;

	for (i = 0; i < API_RESERVE_TRIES; i++) {
		/* It is for the command this gateway gives: on this gateway. */
		if (store_address_reserve(r->api->store, account, proto,
		    store_shared(r->api->store) ? c->node_name : NULL, port, lo, hi, out,
		    &cause) != 0) {
			api_store_error(r, cause);
			return -1;
		}
		if (port != 0 || !ports_in_use(udp ? GRANT_UDP : GRANT_TCP, *out))
			return 0;
		if (store_address_release(r->api->store, proto, *out, &cause) != 0) {
			api_store_error(r, cause);
			return -1;
		}
	}
	api_problem(r->req, 409, "no free port found in %s %d-%d after %d tries",
	    udp ? "udp_port_range" : "port_range", lo, hi, API_RESERVE_TRIES);
	return -1;
}

/*
 * The command line that brings an awaiting tunnel online, a new string: ssh; for UDP,
 * tunnelgw-udp on helper_port toward the service first.
 */
static char *
api_ssh_command(struct api_req *r, const char *token, const char *proto, int port,
    const char *local_host, int local_port, int helper_port)
{
	const struct conf	*conf = r->api->conf;
	const char		*host = conf->public_host, *listen, *colon;
	char			*cmd, popt[32] = "";
	int			 v6 = strchr(host, ':') != NULL;

	/* The SSH port: the first listen address's, as users reach it. */
	listen = conf->listen.n > 0 ? conf->listen.v[0] : "";
	if ((colon = strrchr(listen, ':')) != NULL && strcmp(colon + 1, "22") != 0)
		snprintf(popt, sizeof popt, "-p %s ", colon + 1);
	if (strcmp(proto, "udp") == 0)
		xasprintf(&cmd, "tunnelgw-udp %d %s:%d & ssh %s-R %d:localhost:%d %s@%s%s%s udp",
		    helper_port, local_host, local_port, popt, port, helper_port, token,
		    v6 ? "[" : "", host, v6 ? "]" : "");
	else
		xasprintf(&cmd, "ssh %s-R %d:%s:%d %s@%s%s%s tcp", popt, port, local_host,
		    local_port, token, v6 ? "[" : "", host, v6 ? "]" : "");
	return cmd;
}

/*
 * POST tunnels {account?, member?, protocol?, port?, local_host?, local_port?, helper_port?,
 * expires_days?}: a tunnel that awaits its connection (a UDP one: through tunnelgw-udp on
 * helper_port toward local_host:local_port). It reserves the address (port, or a random one of the range;
 * a port the account reserved already is used as it is), makes a token for one login that
 * opens only that port, and answers with the ssh command line that brings it online. The
 * caller (or the member it names) needs the account's create_raw_tunnel role.
 */
static void
api_tunnels_create(struct api_req *r)
{
	static const struct api_field spec[] = {
		{ "account", API_STRING, 0 }, { "member", API_STRING, 0 }, { "port", API_INT, 0 },
		{ "local_host", API_STRING, 0 }, { "local_port", API_INT, 0 },
		{ "expires_days", API_INT, 0 }, { "protocol", API_STRING, 0 },
		{ "helper_port", API_INT, 0 }, { NULL, API_STRING, 0 }
	};
	struct store_account	*a = NULL;
	const char		*account, *member, *local_host, *proto;
	json_int_t		 want, local_port, days, helper_port;
	enum role		 need = ROLE_RAW_TUNNEL_DEFAULT;
	json_t			*body;
	int64_t			 token_id;
	int			 made;
	unsigned long long	 id;
	char			*cause = NULL, *owner = NULL, *token = NULL, *cmd, *url, *target;
	char			 q[LOG_QUOTE_SIZE];
	int			 port;

	if ((body = api_body(r, spec)) == NULL)
		return;
	want = api_int(body, "port", 0);
	if ((proto = api_protocol(r, api_str(body, "protocol", "tcp"))) == NULL)
		goto out;
	local_port = api_int(body, "local_port", strcmp(proto, "udp") == 0 ? 53 : 80);
	helper_port = api_int(body, "helper_port", 5300);
	days = api_int(body, "expires_days", 1);
	local_host = api_str(body, "local_host", "localhost");
	member = api_str(body, "member", r->who->operator ? STORE_OWNER_MEMBER : r->who->member);
	if ((account = api_account(r, body, 0)) == NULL)
		goto out;
	if (want < 0 || want > 65535 || local_port < 1 || local_port > 65535 || helper_port < 1 ||
	    helper_port > 65535 || days < 1 ||
	    days > STORE_MAX_DAYS || *local_host == '\0' || strlen(local_host) > 253 ||
	    strspn(local_host, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	    "0123456789.-:[]") != strlen(local_host)) {
		api_problem(r->req, 422, "port must be 1-65535 (or absent: random), local_port "
		    "and helper_port 1-65535, expires_days 1-%d, local_host a host name or address "
		    "('%s')",
		    STORE_MAX_DAYS, log_quote(local_host, q));
		goto out;
	}
	if (store_account_find(r->api->store, account, &a, &cause) != 0) {
		api_store_error(r, cause);
		goto out;
	}
	if (a == NULL) {
		api_problem(r->req, 404, "unknown account '%s'", log_quote(account, q));
		goto out;
	}
	if (a->create_raw_tunnel != NULL)
		(void)role_parse(a->create_raw_tunnel, &need);
	/* Both the caller and the member the tunnel is for need the account's role. */
	if (api_need(r, need, "opening a tunnel") != 0 ||
	    api_for_member(r, account, member, need, "opening a tunnel") != 0 ||
	    api_member_may(r, account, member, need) != 0)
		goto out;
	if (registry_awaiting_count(account) >= API_MAX_AWAITING) {
		api_problem(r->req, 409, "account '%s' has %d tunnels awaiting their connection, "
		    "the most it may (cancel one: DELETE tunnels/ID)", account, API_MAX_AWAITING);
		goto out;
	}
	/* A port the account holds already is used as it is; any other is reserved now. */
	port = (int)want;
	if (port != 0 && store_address_owner(r->api->store, proto, port, &owner, &cause) != 0) {
		api_store_error(r, cause);
		goto out;
	}
	made = port == 0 || owner == NULL || strcmp(owner, account) != 0;
	if (made && api_reserve(r, account, proto, port, &port) != 0)
		goto out;
	/* As the tunnel's own (src/tunnel.c), which takes this one's place. */
	xasprintf(&url, "%s://%s:%d", proto, r->api->conf->public_host, port);
	if (registry_awaiting_url(url)) {
		api_problem(r->req, 409, "a tunnel at %s awaits its connection already", url);
		free(url);
		goto out;
	}
	if (store_token_create_once(r->api->store, account, member, proto, port, (int)days,
	    &token, &token_id, &cause) != 0) {
		api_store_error(r, cause);
		/* Nothing awaits it: a port reserved for it goes back. */
		if (made && store_address_release(r->api->store, proto, port, &cause) != 0)
			free(cause);
		free(url);
		goto out;
	}
	xasprintf(&target, "localhost:%d", port);
	id = registry_add_awaiting(account, member, url, target, token_id,
	    time(NULL) + (time_t)days * 86400);
	cmd = api_ssh_command(r, token, proto, port, local_host, (int)local_port,
	    (int)helper_port);
	api_audit(r, "tunnel.create", account, url);
	api_created(r, json_pack("{s:I, s:s, s:s, s:s, s:s, s:s, s:s, s:I}", "id",
	    (json_int_t)id, "protocol", proto, "public_endpoint", url, "status",
	    "awaiting_connection", "ssh_command", cmd, "account", account, "member", member,
	    "token_id", (json_int_t)token_id));
	strfreezero(cmd);
	strfreezero(token);
	free(url);
	free(target);
out:
	free(owner);
	store_account_free(a);
	json_decref(body);
}

/* GET tunnels/ID: one live tunnel of the caller's account. */
static void
api_tunnels_get(struct api_req *r)
{
	struct api_tunnel_find	 f = { 0, NULL };

	if ((f.id = api_number_id(r, "tunnel")) == 0)
		return;
	api_tunnels_walk(r->who->operator ? NULL : r->who->account, api_tunnel_find, &f);
	if (f.found == NULL) {
		api_problem(r->req, 404, "no live tunnel %llu%s%s", f.id,
		    r->who->operator ? "" : " in account ", r->who->operator ? "" : r->who->account);
		return;
	}
	api_ok(r->req, f.found);
}

/*
 * DELETE tunnels/ID of a tunnel awaiting its connection: cancel it and revoke its token (its
 * address stays the account's: DELETE addresses/PORT releases it). 0 when it was one (and
 * answered), -1 when no tunnel of that id awaits.
 */
static int
api_tunnels_cancel(struct api_req *r, unsigned long long id)
{
	struct api_tunnel_find	 f = { 0, NULL };
	const char		*account, *member;
	char			*a = NULL, *url = NULL, *cause = NULL;
	long long		 token;
	int			 own;

	f.id = id;
	registry_each(r->who->operator ? NULL : r->who->account, api_tunnel_find, &f);
	if (f.found == NULL || strcmp(json_string_value(json_object_get(f.found, "status")),
	    "awaiting_connection") != 0) {
		json_decref(f.found);
		return -1;
	}
	account = json_string_value(json_object_get(f.found, "account"));
	member = json_string_value(json_object_get(f.found, "member"));
	own = !r->who->operator && member != NULL && strcmp(member, r->who->member) == 0;
	if (api_need(r, own ? ROLE_DEVELOPER : ROLE_MANAGER, own ? "cancelling one's own "
	    "tunnel" : "cancelling another member's tunnel") == 0) {
		if (registry_cancel_awaiting(id, &a, &url, &token) != 0)
			api_problem(r->req, 404, "no tunnel %llu", id);
		else {
			if (store_token_revoke(r->api->store, token, &cause) != 0)
				free(cause);	/* used or revoked already: nothing to do */
			api_audit(r, "tunnel.cancel", account, url);
			api_no_content(r);
		}
	}
	free(a);
	free(url);
	json_decref(f.found);
	return 0;
}

/*
 * The owner of live tunnel id on another gateway sharing the database: 0 with its account
 * and member (new strings), -1 when none of them holds it.
 */
static int
api_tunnels_remote(struct api_req *r, unsigned long long id, char **account, char **member)
{
	struct api_tunnel_find	 f = { id, NULL };
	const char		*m;
	struct nodes_list	 l;
	char			*cause = NULL;
	size_t			 i;

	*account = *member = NULL;
	if (nodes_others(NULL, &l, &cause) != 0) {
		log_warn("api: the other gateways' tunnels: %s", cause);
		free(cause);
		return -1;
	}
	for (i = 0; i < l.n && f.found == NULL; i++)
		api_tunnel_find(&l.v[i], &f);
	nodes_list_free(&l);
	if (f.found == NULL)
		return -1;
	*account = xstrdup(json_string_value(json_object_get(f.found, "account")));
	m = json_string_value(json_object_get(f.found, "member"));
	*member = m != NULL ? xstrdup(m) : NULL;
	json_decref(f.found);
	return 0;
}

/*
 * DELETE tunnels/ID of a tunnel another gateway holds: ask it through the database (it
 * closes it within a second); 202 as for one of ours.
 */
static void
api_tunnels_delete_remote(struct api_req *r, unsigned long long id, const char *account,
    const char *member)
{
	char	*cause = NULL, obj[32];
	int	 own;

	if (!r->who->operator && strcmp(account, r->who->account) != 0) {
		api_problem(r->req, 404, "no live tunnel %llu in account %s", id, r->who->account);
		return;
	}
	own = !r->who->operator && member != NULL && strcmp(member, r->who->member) == 0;
	if (api_need(r, own ? ROLE_DEVELOPER : ROLE_MANAGER, own ? "closing one's own tunnel" :
	    "closing another member's tunnel") != 0)
		return;
	if (nodes_close(id, &cause) != 0) {
		api_store_error(r, cause);
		return;
	}
	snprintf(obj, sizeof obj, "tunnel %llu", id);
	api_audit(r, "tunnel.close", account, obj);
	api_send(r->req, 202, json_pack("{s:I, s:s}", "id", (json_int_t)id, "status", "closing"),
	    "application/json");
}

/*
 * DELETE tunnels/ID: close a live tunnel (its public port; open connections finish). One's
 * own needs developer, anyone's in the account manager. 202: its worker closes it at once.
 */
static void
api_tunnels_delete(struct api_req *r)
{
	unsigned long long	 id;
	char			*account = NULL, *member = NULL, obj[32];
	int			 own;

	if ((id = api_number_id(r, "tunnel")) == 0)
		return;
	if (api_tunnels_cancel(r, id) == 0)
		return;
	if (registry_owner(id, &account, &member) != 0 && api_tunnels_remote(r, id, &account,
	    &member) == 0) {
		api_tunnels_delete_remote(r, id, account, member);
		goto out;
	}
	if (account == NULL || (!r->who->operator && strcmp(account, r->who->account) != 0)) {
		api_problem(r->req, 404, "no live tunnel %llu%s%s", id,
		    r->who->operator ? "" : " in account ", r->who->operator ? "" : r->who->account);
		goto out;
	}
	own = !r->who->operator && member != NULL && strcmp(member, r->who->member) == 0;
	if (api_need(r, own ? ROLE_DEVELOPER : ROLE_MANAGER, own ? "closing one's own tunnel" :
	    "closing another member's tunnel") != 0)
		goto out;
	if (registry_request_close(id) != 0) {
		api_problem(r->req, 404, "no live tunnel %llu", id);
		goto out;
	}
	worker_close_tunnels();
	snprintf(obj, sizeof obj, "tunnel %llu", id);
	api_audit(r, "tunnel.close", account, obj);
	api_send(r->req, 202, json_pack("{s:I, s:s}", "id", (json_int_t)id, "status", "closing"),
	    "application/json");
out:
	free(account);
	free(member);
}

/* --- accounts ----------------------------------------------------------------------------- */

/* An account as an API object. */
static json_t *
api_account_json(const struct store_account *a)
{
	return json_pack("{s:s, s:o, s:o, s:o, s:s, s:i, s:i, s:i, s:i, s:o}",
	    "name", a->name, "max_tunnels", api_limit(a->max_tunnels),
	    "max_addresses", api_limit(a->max_addresses),
	    "max_connections", api_limit(a->max_connections),
	    "create_raw_tunnel", a->create_raw_tunnel != NULL ? a->create_raw_tunnel : "manager",
	    "members", (int)a->nmembers, "keys", (int)a->nkeys, "tokens", (int)a->ntokens,
	    "addresses", (int)a->naddresses, "created", api_time(a->created));
}

/* Answer with account name as it is now, with code; 0, or -1 when there is none. */
static int
api_account_reply(struct api_req *r, const char *name, int code)
{
	struct store_account	*a = NULL;
	char			*cause = NULL, q[LOG_QUOTE_SIZE];

	if (store_account_find(r->api->store, name, &a, &cause) != 0) {
		api_store_error(r, cause);
		return -1;
	}
	if (a == NULL) {
		api_problem(r->req, 404, "unknown account '%s'", log_quote(name, q));
		return -1;
	}
	api_send(r->req, code, api_account_json(a), "application/json");
	store_account_free(a);
	return 0;
}

/* GET accounts: the operator's, every account; a member's, its own. */
static void
api_accounts_list(struct api_req *r)
{
	struct store_account	**v, *a;
	json_t			 *list = json_array();
	char			 *cause = NULL;
	size_t			  n, i;

	if (r->who->operator) {
		if (store_account_list(r->api->store, &v, &n, &cause) != 0) {
			json_decref(list);
			api_store_error(r, cause);
			return;
		}
		for (i = 0; i < n; i++)
			json_array_append_new(list, api_account_json(v[i]));
		store_account_list_free(v, n);
	} else {
		if (store_account_find(r->api->store, r->who->account, &a, &cause) != 0) {
			json_decref(list);
			api_store_error(r, cause);
			return;
		}
		if (a != NULL)
			json_array_append_new(list, api_account_json(a));
		store_account_free(a);
	}
	api_ok(r->req, json_pack("{s:o}", "accounts", list));
}

/* GET accounts/NAME: one account (a member: its own). */
static void
api_accounts_get(struct api_req *r)
{
	char	 q[LOG_QUOTE_SIZE];

	if (!r->who->operator && strcmp(r->id, r->who->account) != 0) {
		api_problem(r->req, 403, "member '%s' of account '%s' may not see account '%s'",
		    r->who->member, r->who->account, log_quote(r->id, q));
		return;
	}
	(void)api_account_reply(r, r->id, HTTP_OK);
}

/* A limit field of an account's body: a number, or null for none. */
static int
api_account_limit(struct api_req *r, json_t *body, const char *name, int *out)
{
	json_t	*v = json_object_get(body, name);

	if (v == NULL)
		return 0;
	if (json_is_null(v)) {
		*out = -1;
		return 0;
	}
	if (json_integer_value(v) < 0 ||
	    json_integer_value(v) > STORE_MAX_LIMIT) {
		api_problem(r->req, 422, "field '%s' must be an integer from 0 to %d, or null",
		    name, STORE_MAX_LIMIT);
		return -1;
	}
	*out = (int)json_integer_value(v);
	return 0;
}

/* The limits of an account's body (null: none) and the role a raw tunnel needs ... */
#define API_ACCOUNT_LIMITS \
	{ "max_tunnels", API_LIMIT, 0 }, { "max_addresses", API_LIMIT, 0 }, \
	{ "max_connections", API_LIMIT, 0 }, { "create_raw_tunnel", API_STRING, 0 }
/* ... with the name when it is created. */
static const struct api_field api_account_fields[] = {
	API_ACCOUNT_LIMITS, { "name", API_STRING, 1 }, { NULL, API_STRING, 0 }
};
static const struct api_field api_account_update_fields[] = {
	API_ACCOUNT_LIMITS, { NULL, API_STRING, 0 }
};

/* Apply a body's limits to account name. 0, or -1 when answered. */
static int
api_account_apply(struct api_req *r, const char *name, json_t *body)
{
	struct store_account_set set = { STORE_UNCHANGED, STORE_UNCHANGED, STORE_UNCHANGED,
	    NULL };
	char			*cause = NULL;

	if (api_account_limit(r, body, "max_tunnels", &set.max_tunnels) != 0 ||
	    api_account_limit(r, body, "max_addresses", &set.max_addresses) != 0 ||
	    api_account_limit(r, body, "max_connections", &set.max_connections) != 0)
		return -1;
	if (set.max_tunnels > STORE_MAX_TUNNELS) {
		api_problem(r->req, 422, "field 'max_tunnels' must be at most %d",
		    STORE_MAX_TUNNELS);
		return -1;
	}
	set.create_raw_tunnel = api_str(body, "create_raw_tunnel", NULL);
	if (set.max_tunnels == STORE_UNCHANGED && set.max_addresses == STORE_UNCHANGED &&
	    set.max_connections == STORE_UNCHANGED && set.create_raw_tunnel == NULL)
		return 0;
	if (store_account_set(r->api->store, name, &set, &cause) != 0) {
		api_store_error(r, cause);
		return -1;
	}
	return 0;
}

/* POST accounts {name, limits...}: create an account (the operator). */
static void
api_accounts_create(struct api_req *r)
{
	const char	*name, *role;
	enum role	 want;
	json_t		*body;
	char		*cause = NULL, q[LOG_QUOTE_SIZE];

	if (api_operator(r, "creating an account") != 0 ||
	    (body = api_body(r, api_account_fields)) == NULL)
		return;
	name = api_str(body, "name", NULL);
	/* Check what needs no data first: the account is made whole or not at all. */
	role = api_str(body, "create_raw_tunnel", "");
	if (*role != '\0' && role_parse(role, &want) != 0) {
		api_problem(r->req, 422, "unknown role '%s': one of viewer, developer, manager, "
		    "owner", log_quote(role, q));
		json_decref(body);
		return;
	}
	if (store_account_add(r->api->store, name, -1, &cause) != 0)
		api_store_error(r, cause);
	else if (api_account_apply(r, name, body) == 0) {
		api_audit(r, "account.create", name, NULL);
		(void)api_account_reply(r, name, 201);
	}
	json_decref(body);
}

/* PATCH accounts/NAME {limits...}: change an account's limits (the operator). */
static void
api_accounts_update(struct api_req *r)
{
	json_t	*body;

	if (api_operator(r, "changing an account's limits") != 0 ||
	    (body = api_body(r, api_account_update_fields)) == NULL)
		return;
	if (api_account_apply(r, r->id, body) == 0 &&
	    api_account_reply(r, r->id, HTTP_OK) == 0)
		api_audit(r, "account.update", r->id, NULL);
	json_decref(body);
}

/* DELETE accounts/NAME: delete an account and all it holds (the operator). */
static void
api_accounts_delete(struct api_req *r)
{
	char	*cause = NULL;

	if (api_operator(r, "deleting an account") != 0)
		return;
	if (store_account_del(r->api->store, r->id, &cause) != 0) {
		api_store_error(r, cause);
		return;
	}
	api_audit(r, "account.delete", r->id, NULL);
	api_no_content(r);
}

/* --- members ------------------------------------------------------------------------------ */

/* A member as an API object. */
static json_t *
api_member_json(const struct store_member *m)
{
	return json_pack("{s:s, s:s, s:s, s:i, s:i, s:i, s:o}", "account", m->account,
	    "name", m->name, "role", m->role, "keys", (int)m->nkeys, "tokens", (int)m->ntokens,
	    "apikeys", (int)m->napikeys, "created", api_time(m->created));
}

/* GET members: the members of the caller's account (the operator's: all, or ?account=). */
static void
api_members_list(struct api_req *r)
{
	struct store_member	**v;
	const char		 *account;
	json_t			 *list;
	char			 *cause = NULL;
	size_t			  n, i;

	if ((account = api_account(r, NULL, 1)) == NULL)
		return;
	if (store_member_list(r->api->store, *account != '\0' ? account : NULL, &v, &n,
	    &cause) != 0) {
		api_store_error(r, cause);
		return;
	}
	list = json_array();
	for (i = 0; i < n; i++)
		json_array_append_new(list, api_member_json(v[i]));
	store_member_list_free(v, n);
	api_ok(r->req, json_pack("{s:o}", "members", list));
}

/* Answer with member name of account as it is now, with code. */
static void
api_member_reply(struct api_req *r, const char *account, const char *name, int code)
{
	struct store_member	*m = NULL;
	char			*cause = NULL;

	if (store_member_find(r->api->store, account, name, &m, &cause) != 0 || m == NULL) {
		if (m == NULL && cause == NULL)
			xasprintf(&cause, "account '%s' has no member '%s'", account, name);
		api_store_error(r, cause);
		return;
	}
	api_send(r->req, code, api_member_json(m), "application/json");
	store_member_free(m);
}

/* May the caller give role (by name) to someone: owner for owner, never above its own. */
static int
api_may_give(struct api_req *r, const char *role)
{
	enum role	 want;
	char		 q[LOG_QUOTE_SIZE];

	if (role_parse(role, &want) != 0) {
		api_problem(r->req, 422, "unknown role '%s': one of viewer, developer, manager, "
		    "owner", log_quote(role, q));
		return -1;
	}
	if (r->who->operator || want <= r->who->role)
		return 0;
	api_problem(r->req, 403, "member '%s' has the role %s and may not give the role %s",
	    r->who->member, role_label(r->who->role), role);
	return -1;
}

/* POST members {account?, name, role}: add a member (manager; not above one's own role). */
static void
api_members_create(struct api_req *r)
{
	static const struct api_field spec[] = {
		{ "account", API_STRING, 0 }, { "name", API_STRING, 1 }, { "role", API_STRING, 1 },
		{ NULL, API_STRING, 0 }
	};
	const char	*account, *name, *role;
	json_t		*body;
	char		*cause = NULL;

	if ((body = api_body(r, spec)) == NULL)
		return;
	name = api_str(body, "name", NULL);
	role = api_str(body, "role", NULL);
	if ((account = api_account(r, body, 0)) != NULL &&
	    api_need(r, ROLE_MANAGER, "adding a member") == 0 && api_may_give(r, role) == 0) {
		if (store_member_add(r->api->store, account, name, role, &cause) != 0)
			api_store_error(r, cause);
		else {
			api_audit(r, "member.add", account, name);
			api_member_reply(r, account, name, 201);
		}
	}
	json_decref(body);
}

/* PATCH members/NAME {role} (?account= for the operator): give a member a role (owner). */
static void
api_members_update(struct api_req *r)
{
	static const struct api_field spec[] = {
		{ "account", API_STRING, 0 }, { "role", API_STRING, 1 }, { NULL, API_STRING, 0 }
	};
	const char	*account, *role;
	json_t		*body;
	char		*cause = NULL, obj[128];

	if ((body = api_body(r, spec)) == NULL)
		return;
	role = api_str(body, "role", NULL);
	if ((account = api_account(r, body, 0)) != NULL &&
	    api_need(r, ROLE_OWNER, "giving a member a role") == 0 && api_may_give(r, role) == 0) {
		if (store_member_set_role(r->api->store, account, r->id, role, &cause) != 0)
			api_store_error(r, cause);
		else {
			snprintf(obj, sizeof obj, "%s role %s", r->id, role);
			api_audit(r, "member.role", account, obj);
			api_member_reply(r, account, r->id, HTTP_OK);
		}
	}
	json_decref(body);
}

/* DELETE members/NAME (?account= for the operator): delete a member (manager; not above). */
static void
api_members_delete(struct api_req *r)
{
	const char	*account;
	char		*cause = NULL;

	if ((account = api_account(r, NULL, 0)) == NULL ||
	    api_need(r, ROLE_MANAGER, "deleting a member") != 0 ||
	    api_for_member(r, account, r->id, ROLE_MANAGER, "deleting a member") != 0)
		return;
	if (store_member_del(r->api->store, account, r->id, &cause) != 0) {
		api_store_error(r, cause);
		return;
	}
	api_audit(r, "member.delete", account, r->id);
	api_no_content(r);
}

/* --- tokens ------------------------------------------------------------------------------- */

/* A token as an API object: never its secret. */
static json_t *
api_token_json(const struct store_token *t)
{
	return json_pack("{s:I, s:s, s:o, s:o, s:o, s:o, s:o}", "id", (json_int_t)t->id,
	    "account", t->account, "member", t->member != NULL ? json_string(t->member) :
	    json_null(), "created", api_time(t->created), "expires", api_time(t->expires),
	    "revoked", api_time(t->revoked), "last_used", api_time(t->last_used));
}

/* api_list_reply: a token. */
static json_t *
api_token_conv(struct api_req *r, const void *t)
{
	return api_token_json(t);
}

/* GET tokens: the tokens of the caller's account (the operator's: all, or ?account=). */
static void
api_tokens_list(struct api_req *r)
{
	struct store_token	**v;
	const char		 *account;
	char			 *cause = NULL;
	size_t			  n;

	if ((account = api_account(r, NULL, 1)) == NULL)
		return;
	if (store_token_list(r->api->store, &v, &n, &cause) != 0) {
		api_store_error(r, cause);
		return;
	}
	api_list_reply(r, "tokens", (void *const *)v, n, offsetof(struct store_token, account),
	    account, api_token_conv);
	store_token_list_free(v, n);
}

/*
 * POST tokens {account?, member?, expires_days?}: a token for a member (default the caller,
 * or "owner" for the operator), shown this once in "token".
 */
static void
api_tokens_create(struct api_req *r)
{
	static const struct api_field spec[] = {
		{ "account", API_STRING, 0 }, { "member", API_STRING, 0 },
		{ "expires_days", API_INT, 0 }, { NULL, API_STRING, 0 }
	};
	const char	*account, *member;
	json_int_t	 days;
	json_t		*body;
	int64_t		 id;
	char		*cause = NULL, *token, obj[32];

	if ((body = api_body(r, spec)) == NULL)
		return;
	days = api_int(body, "expires_days", 0);
	member = api_str(body, "member", r->who->operator ? STORE_OWNER_MEMBER : r->who->member);
	if ((account = api_account(r, body, 0)) == NULL ||
	    api_for_member(r, account, member, ROLE_DEVELOPER, "creating a token") != 0)
		goto out;
	if (days < 0 || days > STORE_MAX_DAYS) {
		api_problem(r->req, 422, "field 'expires_days' must be from 1 to %d (0 or none: "
		    "no expiry)", STORE_MAX_DAYS);
		goto out;
	}
	if (store_token_create(r->api->store, account, member, (int)days, &token, &id,
	    &cause) != 0) {
		api_store_error(r, cause);
		goto out;
	}
	snprintf(obj, sizeof obj, "token %" PRId64, id);
	api_audit(r, "token.create", account, obj);
	api_created(r, json_pack("{s:I, s:s, s:s, s:s}", "id", (json_int_t)id, "account",
	    account, "member", member, "token", token));
	strfreezero(token);
out:
	json_decref(body);
}

/* DELETE tokens/ID: revoke a token (one's own: developer; another member's: manager). */
static void
api_tokens_delete(struct api_req *r)
{
	struct store_member	*m = NULL;
	unsigned long long	 id;
	char			*cause = NULL, obj[32];

	if ((id = api_number_id(r, "token")) == 0)
		return;
	if (store_member_of_token(r->api->store, (int64_t)id, &m, &cause) != 0) {
		api_store_error(r, cause);
		return;
	}
	if (m == NULL || (!r->who->operator && strcmp(m->account, r->who->account) != 0)) {
		api_problem(r->req, 404, "no token with id %llu", id);
		goto out;
	}
	if (api_for_member(r, m->account, m->name, ROLE_DEVELOPER, "revoking a token") != 0)
		goto out;
	if (store_token_revoke(r->api->store, (int64_t)id, &cause) != 0) {
		api_store_error(r, cause);
		goto out;
	}
	snprintf(obj, sizeof obj, "token %llu", id);
	api_audit(r, "token.revoke", m->account, obj);
	api_no_content(r);
out:
	store_member_free(m);
}

/* --- keys --------------------------------------------------------------------------------- */

/* A key as an API object. */
static json_t *
api_key_json(const struct store_key *k)
{
	return json_pack("{s:s, s:s, s:o, s:s, s:s, s:o, s:s, s:o}", "fingerprint",
	    k->fingerprint, "account", k->account, "member", k->member != NULL ?
	    json_string(k->member) : json_null(), "type", k->type, "key", k->key,
	    "comment", api_text(k->comment),
	    "added_by", k->added_by, "created", api_time(k->created));
}

/* api_list_reply: a key. */
static json_t *
api_key_conv(struct api_req *r, const void *k)
{
	return api_key_json(k);
}

/* GET keys: the keys of the caller's account (the operator's: all, or ?account=). */
static void
api_keys_list(struct api_req *r)
{
	struct store_key	**v;
	const char		 *account;
	char			 *cause = NULL;
	size_t			  n;

	if ((account = api_account(r, NULL, 1)) == NULL)
		return;
	if (store_key_list(r->api->store, &v, &n, &cause) != 0) {
		api_store_error(r, cause);
		return;
	}
	api_list_reply(r, "keys", (void *const *)v, n, offsetof(struct store_key, account),
	    account, api_key_conv);
	store_key_list_free(v, n);
}

/* POST keys {account?, member?, key}: add an SSH public key for a member. */
static void
api_keys_create(struct api_req *r)
{
	static const struct api_field spec[] = {
		{ "account", API_STRING, 0 }, { "member", API_STRING, 0 }, { "key", API_STRING, 1 },
		{ NULL, API_STRING, 0 }
	};
	struct store_key	*k = NULL;
	const char		*account, *member;
	json_t			*body;
	char			*cause = NULL;

	if ((body = api_body(r, spec)) == NULL)
		return;
	member = api_str(body, "member", r->who->operator ? STORE_OWNER_MEMBER : r->who->member);
	if ((account = api_account(r, body, 0)) == NULL ||
	    api_for_member(r, account, member, ROLE_DEVELOPER, "adding a key") != 0)
		goto out;
	if (store_key_add(r->api->store, account, member, api_str(body, "key", ""), "api", &k,
	    &cause) != 0) {
		api_store_error(r, cause);
		goto out;
	}
	api_audit(r, "key.add", account, k->fingerprint);
	api_created(r, api_key_json(k));
	store_key_free(k);
out:
	json_decref(body);
}

/* DELETE keys/FINGERPRINT: delete a key (one's own: developer; another's: manager). */
static void
api_keys_delete(struct api_req *r)
{
	struct store_member	*m = NULL;
	char			*cause = NULL, q[LOG_QUOTE_SIZE];

	if (store_member_of_key(r->api->store, r->id, &m, &cause) != 0) {
		api_store_error(r, cause);
		return;
	}
	if (m == NULL || (!r->who->operator && strcmp(m->account, r->who->account) != 0)) {
		api_problem(r->req, 404, "no key with fingerprint '%s'", log_quote(r->id, q));
		goto out;
	}
	if (api_for_member(r, m->account, m->name, ROLE_DEVELOPER, "deleting a key") != 0)
		goto out;
	if (store_key_del(r->api->store, r->id, &cause) != 0) {
		api_store_error(r, cause);
		goto out;
	}
	api_audit(r, "key.delete", m->account, r->id);
	api_no_content(r);
out:
	store_member_free(m);
}

/* --- API keys ----------------------------------------------------------------------------- */

/* An API key as an API object: never its secret. */
static json_t *
api_apikey_json(const struct store_apikey *k)
{
	return json_pack("{s:I, s:o, s:o, s:s, s:o, s:o, s:o}", "id", (json_int_t)k->id,
	    "account", k->account != NULL ? json_string(k->account) : json_null(),
	    "member", k->member != NULL ? json_string(k->member) : json_null(),
	    "role", k->account != NULL && k->role != NULL ? k->role : "operator",
	    "created", api_time(k->created), "revoked", api_time(k->revoked),
	    "last_used", api_time(k->last_used));
}

/* GET apikeys: the caller's account's API keys (the operator's: all, or ?account=). */
static void
api_apikeys_list(struct api_req *r)
{
	struct store_apikey	**v;
	const char		 *account;
	json_t			 *list;
	char			 *cause = NULL;
	size_t			  n, i;

	if ((account = api_account(r, NULL, 1)) == NULL)
		return;
	if (store_apikey_list(r->api->store, *account != '\0' ? account : NULL, &v, &n,
	    &cause) != 0) {
		api_store_error(r, cause);
		return;
	}
	list = json_array();
	for (i = 0; i < n; i++)
		json_array_append_new(list, api_apikey_json(v[i]));
	store_apikey_list_free(v, n);
	api_ok(r->req, json_pack("{s:o}", "apikeys", list));
}

/*
 * POST apikeys {account?, member?} or {operator: true}: an API key for a member (default the
 * caller; any member may make one for itself), or the operator's (the operator only); shown
 * this once in "key".
 */
static void
api_apikeys_create(struct api_req *r)
{
	static const struct api_field spec[] = {
		{ "account", API_STRING, 0 }, { "member", API_STRING, 0 },
		{ "operator", API_BOOL, 0 }, { NULL, API_STRING, 0 }
	};
	const char	*account = NULL, *member = NULL;
	json_t		*body, *op;
	int64_t		 id;
	char		*cause = NULL, *secret, obj[32];

	if ((body = api_body(r, spec)) == NULL)
		return;
	op = json_object_get(body, "operator");
	if (op != NULL && json_is_true(op)) {
		if (api_operator(r, "creating an operator API key") != 0)
			goto out;
		if (json_object_get(body, "account") != NULL ||
		    json_object_get(body, "member") != NULL) {
			api_problem(r->req, 422, "an operator API key has no account or member");
			goto out;
		}
	} else {
		member = api_str(body, "member", r->who->operator ? NULL : r->who->member);
		if (member == NULL) {
			api_problem(r->req, 422, "name the member (field 'member'), or ask for "
			    "\"operator\": true");
			goto out;
		}
		if ((account = api_account(r, body, 0)) == NULL ||
		    api_for_member(r, account, member, ROLE_VIEWER, "creating an API key") != 0)
			goto out;
	}
	if (store_apikey_create(r->api->store, account, member, &secret, &id, &cause) != 0) {
		api_store_error(r, cause);
		goto out;
	}
	snprintf(obj, sizeof obj, "apikey %" PRId64, id);
	api_audit(r, "apikey.create", account, obj);
	api_created(r, json_pack("{s:I, s:o, s:o, s:s}", "id", (json_int_t)id,
	    "account", account != NULL ? json_string(account) : json_null(),
	    "member", member != NULL ? json_string(member) : json_null(), "key", secret));
	strfreezero(secret);
out:
	json_decref(body);
}

/* DELETE apikeys/ID: revoke an API key (one's own: anyone; another member's: manager). */
static void
api_apikeys_delete(struct api_req *r)
{
	struct store_apikey	**v;
	unsigned long long	 id;
	const struct store_apikey *k = NULL;
	char			*cause = NULL, obj[32];
	size_t			 n, i;

	if ((id = api_number_id(r, "API key")) == 0)
		return;
	if (store_apikey_list(r->api->store, r->who->operator ? NULL : r->who->account, &v, &n,
	    &cause) != 0) {
		api_store_error(r, cause);
		return;
	}
	for (i = 0; i < n; i++) {
		if ((unsigned long long)v[i]->id == id)
			k = v[i];
	}
	if (k == NULL)
		api_problem(r->req, 404, "no API key with id %llu", id);
	else if ((k->account == NULL && api_operator(r, "revoking an operator API key") == 0) ||
	    (k->account != NULL && api_for_member(r, k->account, k->member, ROLE_VIEWER,
	    "revoking an API key") == 0)) {
		if (store_apikey_revoke(r->api->store, (int64_t)id, &cause) != 0)
			api_store_error(r, cause);
		else {
			snprintf(obj, sizeof obj, "apikey %llu", id);
			api_audit(r, "apikey.revoke", k->account, obj);
			api_no_content(r);
		}
	}
	store_apikey_list_free(v, n);
}

/* --- reserved addresses ------------------------------------------------------------------- */

/* A reserved address as an API object. */
static json_t *
api_address_json(struct api_req *r, const struct store_address *a)
{
	const char	*host = a->host != NULL ? a->host : r->api->conf->public_host;
	int		 v6 = strchr(host, ':') != NULL;
	char		*url;
	json_t		*doc;

	xasprintf(&url, "%s://%s%s%s:%d", a->protocol, v6 ? "[" : "", host, v6 ? "]" : "",
	    a->port);
	doc = json_pack("{s:s, s:s, s:i, s:s, s:o, s:s*}", "public_endpoint", url, "protocol",
	    a->protocol, "port", a->port, "account", a->account, "created", api_time(a->created),
	    "node", a->node);
	free(url);
	return doc;
}

/* api_list_reply: an address. */
static json_t *
api_address_conv(struct api_req *r, const void *a)
{
	return api_address_json(r, a);
}

/* GET addresses: the caller's account's reserved addresses (the operator's: all). */
static void
api_addresses_list(struct api_req *r)
{
	struct store_address	**v;
	const char		 *account;
	char			 *cause = NULL;
	size_t			  n;

	if ((account = api_account(r, NULL, 1)) == NULL)
		return;
	if (store_address_list(r->api->store, &v, &n, &cause) != 0) {
		api_store_error(r, cause);
		return;
	}
	api_list_reply(r, "addresses", (void *const *)v, n,
	    offsetof(struct store_address, account), account, api_address_conv);
	store_address_list_free(v, n);
}

/*
 * POST addresses {account?, port?, protocol?, node?}: reserve a port, TCP or UDP, for any
 * gateway or for the one node names (manager).
 */
static void
api_addresses_create(struct api_req *r)
{
	static const struct api_field spec[] = {
		{ "account", API_STRING, 0 }, { "port", API_INT, 0 },
		{ "protocol", API_STRING, 0 }, { "node", API_STRING, 0 }, { NULL, API_STRING, 0 }
	};
	struct store_address	*a = NULL;
	const char		*account, *proto, *node;
	const struct conf	*c = r->api->conf;
	json_int_t		 want;
	json_t			*body;
	char			*cause = NULL, obj[24];
	int			 port, udp;

	if ((body = api_body(r, spec)) == NULL)
		return;
	want = api_int(body, "port", 0);
	if ((proto = api_protocol(r, json_string_value(json_object_get(body, "protocol")))) ==
	    NULL || (account = api_account(r, body, 0)) == NULL ||
	    api_need(r, ROLE_MANAGER, "reserving an address") != 0)
		goto out;
	if (want < 0 || want > 65535) {
		api_problem(r->req, 422, "field 'port' must be from 1 to 65535");
		goto out;
	}
	udp = strcmp(proto, "udp") == 0;
	node = json_string_value(json_object_get(body, "node"));
	if (node != NULL && store_node_check_name(node, &cause) != 0) {
		api_problem(r->req, 422, "field 'node': %s", cause);
		free(cause);
		goto out;
	}
	if (store_address_reserve(r->api->store, account, proto, node, (int)want,
	    udp ? c->udp_port_min : c->port_min, udp ? c->udp_port_max : c->port_max, &port,
	    &cause) != 0) {
		api_store_error(r, cause);
		goto out;
	}
	snprintf(obj, sizeof obj, "%sport %d", udp ? "UDP " : "", port);
	api_audit(r, "address.reserve", account, obj);
	if (store_address_find(r->api->store, proto, port, &a, &cause) != 0 || a == NULL) {
		api_store_error(r, cause != NULL ? cause : xstrdup("the address was released "
		    "meanwhile"));
		goto out;
	}
	api_created(r, api_address_json(r, a));
out:
	store_address_free(a);
	json_decref(body);
}

/*
 * DELETE addresses/PORT[?protocol=udp]: release a reserved port of the caller's account
 * (manager).
 */
static void
api_addresses_delete(struct api_req *r)
{
	unsigned long long	 port;
	const char		*proto;
	char			*owner = NULL, *cause = NULL, obj[24];

	if ((port = api_number_id(r, "reserved port")) == 0 || port > 65535) {
		if (port > 65535)
			api_problem(r->req, 404, "no reserved port %llu", port);
		return;
	}
	if ((proto = api_protocol(r, evhttp_find_header(&r->query, "protocol"))) == NULL)
		return;
	if (store_address_owner(r->api->store, proto, (int)port, &owner, &cause) != 0) {
		api_store_error(r, cause);
		return;
	}
	if (owner == NULL || (!r->who->operator && strcmp(owner, r->who->account) != 0))
		api_problem(r->req, 404, "%sport %llu is not reserved%s%s",
		    strcmp(proto, "udp") == 0 ? "UDP " : "", port,
		    r->who->operator ? "" : " by account ", r->who->operator ? "" : r->who->account);
	else if (api_need(r, ROLE_MANAGER, "releasing an address") == 0) {
		if (store_address_release(r->api->store, proto, (int)port, &cause) != 0)
			api_store_error(r, cause);
		else {
			snprintf(obj, sizeof obj, "%sport %llu", strcmp(proto, "udp") == 0 ?
			    "UDP " : "", port);
			api_audit(r, "address.release", owner, obj);
			api_no_content(r);
		}
	}
	free(owner);
}

/* --- events ------------------------------------------------------------------------------- */

#define API_EVENTS_LIMIT	100	/* events a page holds by default */
#define API_EVENTS_MAX		1000	/* ... and at most */

/* An event as an API object; its detail is a JSON object of the rest. */
static json_t *
api_event_json(const struct store_event *e)
{
	json_t	*detail = e->detail != NULL ? json_loads(e->detail, 0, NULL) : NULL;

	return json_pack("{s:I, s:o, s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:o}",
	    "id", (json_int_t)e->id, "time", api_time(e->time), "event", e->event,
	    "account", e->account != NULL ? json_string(e->account) : json_null(),
	    "url", e->url != NULL ? json_string(e->url) : json_null(),
	    "client", e->client != NULL ? json_string(e->client) : json_null(),
	    "bytes_in", e->bytes_in >= 0 ? json_integer(e->bytes_in) : json_null(),
	    "bytes_out", e->bytes_out >= 0 ? json_integer(e->bytes_out) : json_null(),
	    "duration_ms", e->duration_ms >= 0 ? json_integer(e->duration_ms) : json_null(),
	    "detail", detail != NULL ? detail : json_object());
}

/*
 * A time parameter: Unix seconds, or RFC 3339 UTC ("2026-12-02T10:00:00Z"). 0 when absent;
 * -1 after a 422.
 */
static int64_t
api_time_param(struct api_req *r, const char *name)
{
	const char	*v = evhttp_find_header(&r->query, name);
	struct tm	 tm;
	char		*end, q[LOG_QUOTE_SIZE];
	long long	 n;

	if (v == NULL)
		return 0;
	if (*v >= '0' && *v <= '9') {
		n = strtoll(v, &end, 10);
		if (*end == '\0' && n > 0)
			return n;
	}
	memset(&tm, 0, sizeof tm);
	end = strptime(v, "%Y-%m-%dT%H:%M:%SZ", &tm);
	/* Before 1970 is none of ours, and a negative time would read as "answered". */
	if (end != NULL && *end == '\0' && (n = (long long)timegm(&tm)) > 0)
		return n;
	api_problem(r->req, 422, "parameter '%s' must be Unix seconds or a time such as "
	    "2026-12-02T10:00:00Z, not '%s'", name, log_quote(v, q));
	return -1;
}

/*
 * GET events: the newest events of the caller's account (the operator's: all, or
 * ?account=), newest first; ?type= (tunnel_opened, audit ...), ?since= and ?until= filter,
 * ?limit= (1-1000, default 100) bounds a page, and ?cursor= (the last page's next_cursor)
 * goes on where it ended.
 */
static void
api_events_list(struct api_req *r)
{
	struct store_event_filter	 f;
	struct store_event		**v;
	const char			 *account, *s;
	json_t				 *list;
	char				 *cause = NULL, *end;
	long long			  n64;
	size_t				  n, i;

	if ((account = api_account(r, NULL, 1)) == NULL)
		return;
	memset(&f, 0, sizeof f);
	f.account = *account != '\0' ? account : NULL;
	f.event = evhttp_find_header(&r->query, "type");
	f.url = evhttp_find_header(&r->query, "url");
	f.limit = API_EVENTS_LIMIT;
	if ((f.since = api_time_param(r, "since")) < 0 ||
	    (f.until = api_time_param(r, "until")) < 0)
		return;
	if ((s = evhttp_find_header(&r->query, "limit")) != NULL) {
		n64 = strtoll(s, &end, 10);
		if (*s < '0' || *s > '9' || *end != '\0' || n64 < 1 || n64 > API_EVENTS_MAX) {
			api_problem(r->req, 422, "parameter 'limit' must be from 1 to %d",
			    API_EVENTS_MAX);
			return;
		}
		f.limit = (int)n64;
	}
	if ((s = evhttp_find_header(&r->query, "cursor")) != NULL) {
		n64 = strtoll(s, &end, 10);
		if (*s < '0' || *s > '9' || *end != '\0' || n64 < 1) {
			api_problem(r->req, 422, "parameter 'cursor' must be the next_cursor of a "
			    "page");
			return;
		}
		f.before = n64;
	}
	if (store_event_query(r->api->store, &f, &v, &n, &cause) != 0) {
		api_store_error(r, cause);
		return;
	}
	list = json_array();
	for (i = 0; i < n; i++)
		json_array_append_new(list, api_event_json(v[i]));
	api_ok(r->req, json_pack("{s:o, s:o}", "events", list, "next_cursor",
	    n == (size_t)f.limit && n > 0 ? json_integer(v[n - 1]->id) : json_null()));
	store_event_list_free(v, n);
}

/* The resources; the server finds a request's by its name. */
const struct api_route api_routes[] = {
	{ "status", api_status, NULL, NULL, NULL, NULL },
	{ "tunnels", api_tunnels_list, api_tunnels_create, api_tunnels_get, NULL,
	  api_tunnels_delete },
	{ "accounts", api_accounts_list, api_accounts_create, api_accounts_get,
	  api_accounts_update, api_accounts_delete },
	{ "members", api_members_list, api_members_create, NULL, api_members_update,
	  api_members_delete },
	{ "tokens", api_tokens_list, api_tokens_create, NULL, NULL, api_tokens_delete },
	{ "keys", api_keys_list, api_keys_create, NULL, NULL, api_keys_delete },
	{ "apikeys", api_apikeys_list, api_apikeys_create, NULL, NULL, api_apikeys_delete },
	{ "addresses", api_addresses_list, api_addresses_create, NULL, NULL,
	  api_addresses_delete },
	{ "events", api_events_list, NULL, NULL, NULL, NULL },
};
const size_t api_nroutes = sizeof api_routes / sizeof api_routes[0];
