/* SPDX-License-Identifier: ISC */
/*
 * tunnelgw: the HTTP API. An evhttp server in the main thread's loop (never a worker's: the
 * data path never waits for it) answers under /api/v1/ with JSON made by jansson, over TLS
 * (bufferevent_openssl) or, on a loopback address only, plain HTTP for a reverse proxy.
 *
 * Every request carries "Authorization: Bearer KEY", an API key of tunnelgwctl apikey
 * create: a member's, which acts with the member's role in its account, or the operator's,
 * which stands above every account. Failed attempts are limited per source address (IPv4
 * address or IPv6 prefix): beyond API_FAIL_BURST at API_FAIL_RATE a second, the source gets
 * 429 without its key being looked at. There are no cookies, so no cross-site requests to
 * forge. Errors are problem documents (RFC 9457, application/problem+json).
 *
 * The store is the main thread's connection (the daemon's): indexed reads in WAL mode that
 * never wait for a writer. The live tunnels come from the registry, under its lock.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "api.h"
#include "auth.h"
#include "conf.h"
#include "listener.h"
#include "log.h"
#include "ratelimit.h"
#include "registry.h"
#include "sshgw.h"
#include "store.h"
#include "xmalloc.h"

#define API_BACKLOG		128
#define API_TIMEOUT		10	/* seconds a client has to send its request */
#define API_MAX_HEADERS		8192	/* bytes of request line and headers */
#define API_MAX_BODY		65536	/* bytes of a request body; more is refused (413) */
#define API_FAIL_RATE		0.5	/* failed key attempts a second per source, refilled */
#define API_FAIL_BURST		10	/* ... and at most this many in a row */
#define API_FAIL_SOURCES	4096	/* sources the failure limit tracks */
#define API_PREFIX		"/api/v1/"

struct api_server {
	struct evhttp		*http;
	SSL_CTX			*ssl;		/* NULL: plain HTTP */
	struct store		*store;		/* the daemon's; outlives the server */
	const struct conf	*conf;		/* the daemon's; outlives the server */
	time_t			 started;
	struct ratelimit	*fails;
};

/* Who a request acts as: the operator, or a member of an account with its role. */
struct api_caller {
	int		 operator;
	char		*account;	/* NULL for the operator */
	char		*member;
	enum role	 role;
	int64_t		 key_id;
};

/* A request being answered. */
struct api_req {
	struct api_server		*api;
	struct evhttp_request		*req;
	const struct api_caller		*who;
	struct evkeyvalq		 query;		/* the query string's parameters */
};

/* A route: a path under API_PREFIX, the role a member needs, and what answers a GET. */
struct api_route {
	const char	*path;
	enum role	 need;
	void		(*get)(struct api_req *);
};

/* libevent: free a body handed to an evbuffer by reference once it is sent. */
static void
api_text_free(const void *data, size_t len, void *arg)
{
	free((void *)data);
}

/* Send a JSON document (taken over) with code and content type. */
static void
api_send(struct evhttp_request *req, int code, json_t *doc, const char *type)
{
	struct evkeyvalq	*headers = evhttp_request_get_output_headers(req);
	char			*text;

	text = json_dumps(doc, JSON_COMPACT | JSON_ENSURE_ASCII);
	json_decref(doc);
	if (text == NULL)
		fatal("out of memory writing JSON");
	evhttp_add_header(headers, "Content-Type", type);
	evhttp_add_header(headers, "Cache-Control", "no-store");
	evhttp_add_header(headers, "X-Content-Type-Options", "nosniff");
	if (evbuffer_add_reference(evhttp_request_get_output_buffer(req), text, strlen(text),
	    api_text_free, NULL) != 0) {
		free(text);
		evhttp_send_error(req, HTTP_INTERNAL, NULL);
		return;
	}
	evhttp_send_reply(req, code, NULL, NULL);
}

/* The reason phrase of the codes the API sends, for a problem's title. */
static const char *
api_title(int code)
{
	switch (code) {
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 409: return "Conflict";
	case 413: return "Content Too Large";
	case 422: return "Unprocessable Content";
	case 429: return "Too Many Requests";
	case 503: return "Service Unavailable";
	default: return "Internal Server Error";
	}
}

/* Send a problem document: code, and detail, which says what was wrong and what to do. */
static void
api_problem(struct evhttp_request *req, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void
api_problem(struct evhttp_request *req, int code, const char *fmt, ...)
{
	va_list	 ap;
	char	*detail;

	va_start(ap, fmt);
	if (vasprintf(&detail, fmt, ap) == -1)
		fatal("out of memory");
	va_end(ap);
	api_send(req, code, json_pack("{s:s, s:s, s:i, s:s}", "type", "about:blank",
	    "title", api_title(code), "status", code, "detail", detail),
	    "application/problem+json");
	free(detail);
}

/* Send 200 with a JSON document (taken over). */
static void
api_ok(struct evhttp_request *req, json_t *doc)
{
	api_send(req, HTTP_OK, doc, "application/json");
}

/* A time in RFC 3339 UTC, as a JSON string; null for 0. */
static json_t *
api_time(int64_t t)
{
	struct tm	 tm;
	time_t		 tt = (time_t)t;
	char		 buf[32];

	if (t == 0 || gmtime_r(&tt, &tm) == NULL ||
	    strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		return json_null();
	return json_string(buf);
}

/* A count that may be "none" (negative), as a JSON number or null. */
static json_t *
api_limit(int64_t n)
{
	return n >= 0 ? json_integer(n) : json_null();
}

/*
 * The account a request is about: a member's own; the operator's ?account= (NULL: every
 * account). A member naming another account gets 403 (and NULL with *refused set).
 */
static const char *
api_scope(struct api_req *r, int *refused)
{
	const char	*want = evhttp_find_header(&r->query, "account");
	char		 q[LOG_QUOTE_SIZE];

	*refused = 0;
	if (r->who->operator)
		return want;
	if (want != NULL && strcmp(want, r->who->account) != 0) {
		api_problem(r->req, 403, "member '%s' of account '%s' may not see account '%s'",
		    r->who->member, r->who->account, log_quote(want, q));
		*refused = 1;
		return NULL;
	}
	return r->who->account;
}

/* Report a store error as 503 (the database) and free it. */
static void
api_store_error(struct api_req *r, char *cause)
{
	log_warn("api: %s", cause);
	api_problem(r->req, 503, "%s", cause);
	free(cause);
}

/* --- routes ------------------------------------------------------------------------------ */

/* GET status: version, uptime, counts. */
static void
api_get_status(struct api_req *r)
{
	struct registry_totals	 t;

	registry_totals(&t);
	api_ok(r->req, json_pack("{s:s, s:I, s:o, s:I, s:I, s:I, s:I, s:I, s:I}",
	    "version", PACKAGE_VERSION,
	    "uptime_s", (json_int_t)(time(NULL) - r->api->started),
	    "started", api_time(r->api->started),
	    "sessions", (json_int_t)sshgw_session_count(),
	    "tunnels", (json_int_t)t.tunnels,
	    "connections", (json_int_t)t.conns,
	    "connections_total", (json_int_t)t.conns_total,
	    "bytes_in_total", (json_int_t)t.bytes_in,
	    "bytes_out_total", (json_int_t)t.bytes_out));
}

/* registry_each: a live tunnel as an API object, onto the array. */
static void
api_tunnel_json(const struct registry_view *v, void *arg)
{
	json_array_append_new(arg, json_pack("{s:I, s:s, s:s, s:s, s:s, s:I, s:o, s:i, s:I, s:I}",
	    "id", (json_int_t)v->id, "protocol", "tcp", "public_endpoint", v->url,
	    "account", v->account, "forward", v->target, "session", (json_int_t)v->session,
	    "started", api_time(v->since), "connections", v->conns,
	    "bytes_in", (json_int_t)v->bytes_in, "bytes_out", (json_int_t)v->bytes_out));
}

/* GET tunnels: the live tunnels of the caller's account (the operator's: all, or ?account=). */
static void
api_get_tunnels(struct api_req *r)
{
	const char	*account;
	json_t		*list;
	int		 refused;

	account = api_scope(r, &refused);
	if (refused)
		return;
	list = json_array();
	registry_each(account, api_tunnel_json, list);
	api_ok(r->req, json_pack("{s:o}", "tunnels", list));
}

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

/* GET accounts: the operator's, every account; a member's, its own. */
static void
api_get_accounts(struct api_req *r)
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

/* GET members: the members of the caller's account (the operator's: all, or ?account=). */
static void
api_get_members(struct api_req *r)
{
	struct store_member	**v;
	const char		 *account;
	json_t			 *list;
	char			 *cause = NULL, q[LOG_QUOTE_SIZE];
	size_t			  n, i;
	int			  refused;

	account = api_scope(r, &refused);
	if (refused)
		return;
	if (store_member_list(r->api->store, account, &v, &n, &cause) != 0) {
		if (account != NULL && strncmp(cause, "DB: ", 4) != 0) {
			api_problem(r->req, 404, "no account '%s'", log_quote(account, q));
			free(cause);
		} else
			api_store_error(r, cause);
		return;
	}
	list = json_array();
	for (i = 0; i < n; i++)
		json_array_append_new(list, json_pack("{s:s, s:s, s:s, s:i, s:i, s:i, s:o}",
		    "account", v[i]->account, "name", v[i]->name, "role", v[i]->role,
		    "keys", (int)v[i]->nkeys, "tokens", (int)v[i]->ntokens,
		    "apikeys", (int)v[i]->napikeys, "created", api_time(v[i]->created)));
	store_member_list_free(v, n);
	api_ok(r->req, json_pack("{s:o}", "members", list));
}

static const struct api_route api_routes[] = {
	{ "status", ROLE_VIEWER, api_get_status },
	{ "tunnels", ROLE_VIEWER, api_get_tunnels },
	{ "accounts", ROLE_VIEWER, api_get_accounts },
	{ "members", ROLE_VIEWER, api_get_members },
};

/* --- requests ----------------------------------------------------------------------------- */

/*
 * Who sent the request, from its bearer key: 0 with *who filled, or -1 when it was answered
 * (401, 429, 503). A failed attempt spends one of the source's tries.
 */
static int
api_authenticate(struct api_server *api, struct evhttp_request *req, struct api_caller *who)
{
	struct evhttp_connection	*evcon = evhttp_request_get_connection(req);
	const struct sockaddr		*sa = evcon != NULL ? evhttp_connection_get_addr(evcon) :
					    NULL;
	struct store_apikey		*k = NULL;
	const char			*auth;
	char				*cause = NULL;
	int				 rc;

	memset(who, 0, sizeof *who);
	if (sa != NULL && !ratelimit_would_allow(api->fails, sa, ratelimit_now())) {
		api_problem(req, 429, "too many failed API key attempts from this address; try "
		    "again later");
		return -1;
	}
	auth = evhttp_find_header(evhttp_request_get_input_headers(req), "Authorization");
	if (auth == NULL || strncasecmp(auth, "Bearer ", 7) != 0) {
		evhttp_add_header(evhttp_request_get_output_headers(req), "WWW-Authenticate",
		    "Bearer realm=\"tunnelgw\"");
		api_problem(req, 401, "send an API key as \"Authorization: Bearer KEY\" "
		    "(tunnelgwctl apikey create)");
		return -1;
	}
	auth += 7;
	while (*auth == ' ')
		auth++;
	if ((rc = store_apikey_verify(api->store, auth, &k, &cause)) != 0) {
		if (rc < 0) {
			log_warn("api: %s", cause);
			api_problem(req, 503, "the account store is not available");
		} else {
			if (sa != NULL)
				(void)ratelimit_allow(api->fails, sa, ratelimit_now());
			evhttp_add_header(evhttp_request_get_output_headers(req),
			    "WWW-Authenticate", "Bearer realm=\"tunnelgw\", error=\"invalid_token\"");
			api_problem(req, 401, "%s", cause);
		}
		free(cause);
		return -1;
	}
	who->key_id = k->id;
	if (k->account == NULL)
		who->operator = 1;
	else if (role_parse(k->role, &who->role) == 0) {
		who->account = xstrdup(k->account);
		who->member = xstrdup(k->member);
	} else {
		store_apikey_free(k);
		api_problem(req, 401, "this API key's member has no role");
		return -1;
	}
	store_apikey_free(k);
	return 0;
}

/* Free what a caller holds. */
static void
api_caller_clear(struct api_caller *who)
{
	free(who->account);
	free(who->member);
}

/* evhttp: every request: find the route, authenticate, check the role, answer. */
static void
api_on_request(struct evhttp_request *req, void *arg)
{
	struct api_server		*api = arg;
	const struct evhttp_uri		*uri = evhttp_request_get_evhttp_uri(req);
	const struct api_route		*route = NULL;
	struct api_caller		 who;
	struct api_req			 r;
	const char			*path, *query;
	size_t				 i;

	path = uri != NULL ? evhttp_uri_get_path(uri) : NULL;
	if (path == NULL || strncmp(path, API_PREFIX, strlen(API_PREFIX)) != 0) {
		api_problem(req, 404, "not found: the API is under " API_PREFIX);
		return;
	}
	for (i = 0; i < sizeof api_routes / sizeof api_routes[0]; i++) {
		if (strcmp(path + strlen(API_PREFIX), api_routes[i].path) == 0)
			route = &api_routes[i];
	}
	if (route == NULL) {
		api_problem(req, 404, "no such resource: the API serves status, tunnels, "
		    "accounts and members under " API_PREFIX);
		return;
	}
	if (api_authenticate(api, req, &who) != 0)
		return;
	memset(&r, 0, sizeof r);
	r.api = api;
	r.req = req;
	r.who = &who;
	TAILQ_INIT(&r.query);
	if (evhttp_request_get_command(req) != EVHTTP_REQ_GET) {
		evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", "GET");
		api_problem(req, 405, "%s" " takes GET", path);
	} else if (!who.operator && who.role < route->need) {
		api_problem(req, 403, "%s needs the role %s or above; member '%s' of account '%s' "
		    "has the role %s", path, role_label(route->need), who.member, who.account,
		    role_label(who.role));
	} else if ((query = evhttp_uri_get_query(uri)) != NULL &&
	    evhttp_parse_query_str(query, &r.query) != 0) {
		api_problem(req, 400, "the query string is not of the form name=value&...");
	} else
		route->get(&r);
	evhttp_clear_headers(&r.query);
	api_caller_clear(&who);
}

/* evhttp, for HTTPS: a TLS bufferevent for each new connection. */
static struct bufferevent *
api_tls_bev(struct event_base *base, void *arg)
{
	struct api_server	*api = arg;
	SSL			*ssl;

	if ((ssl = SSL_new(api->ssl)) == NULL)
		return NULL;
	return bufferevent_openssl_socket_new(base, -1, ssl, BUFFEREVENT_SSL_ACCEPTING,
	    BEV_OPT_CLOSE_ON_FREE);
}

/* The TLS context of api_tls_cert and api_tls_key: TLS 1.2 and up. */
static SSL_CTX *
api_tls_context(const struct conf *conf, char **cause)
{
	SSL_CTX		*ctx;
	unsigned long	 e;
	char		 buf[256];

	if ((ctx = SSL_CTX_new(TLS_server_method())) == NULL)
		fatal("cannot create a TLS context");
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
	if (SSL_CTX_use_certificate_chain_file(ctx, conf->api_tls_cert) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, conf->api_tls_key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		e = ERR_get_error();
		ERR_error_string_n(e, buf, sizeof buf);
		ERR_clear_error();
		xasprintf(cause, "api_tls_cert %s / api_tls_key %s: %s", conf->api_tls_cert,
		    conf->api_tls_key, buf);
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

/*
 * Serve the API on conf->api_listen from the main thread's loop, reading store; NULL with
 * *cause when the address, the certificate or its key cannot be used.
 */
struct api_server *
api_server_open(struct event_base *base, const struct conf *conf, struct store *store,
    char **cause)
{
	struct api_server	*api;
	char			*why = NULL;
	int			 fd;

	api = xcalloc(1, sizeof *api);
	api->store = store;
	api->conf = conf;
	api->started = time(NULL);
	if (*conf->api_tls_cert != '\0' &&
	    (api->ssl = api_tls_context(conf, cause)) == NULL) {
		free(api);
		return NULL;
	}
	if ((fd = listener_open_endpoint(conf->api_listen, API_BACKLOG, &why)) == -1) {
		xasprintf(cause, "api_listen: %s", why);
		free(why);
		api_server_free(api);
		return NULL;
	}
	if ((api->http = evhttp_new(base)) == NULL)
		fatal("cannot create the API's HTTP server");
	api->fails = ratelimit_create(API_FAIL_RATE, API_FAIL_BURST, API_FAIL_SOURCES);
	evhttp_set_timeout(api->http, API_TIMEOUT);
	evhttp_set_max_headers_size(api->http, API_MAX_HEADERS);
	evhttp_set_max_body_size(api->http, API_MAX_BODY);
	evhttp_set_allowed_methods(api->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST |
	    EVHTTP_REQ_DELETE | EVHTTP_REQ_PATCH | EVHTTP_REQ_PUT | EVHTTP_REQ_HEAD);
	if (api->ssl != NULL)
		evhttp_set_bevcb(api->http, api_tls_bev, api);
	evhttp_set_gencb(api->http, api_on_request, api);
	if (evhttp_accept_socket_with_handle(api->http, fd) == NULL) {
		close(fd);
		xasprintf(cause, "api_listen %s: cannot serve HTTP on it", conf->api_listen);
		api_server_free(api);
		return NULL;
	}
	log_info("serving the API on %s://%s" API_PREFIX, api->ssl != NULL ? "https" : "http",
	    conf->api_listen);
	return api;
}

/* Stop serving the API: close the listening socket and every HTTP connection. */
void
api_server_free(struct api_server *api)
{
	if (api == NULL)
		return;
	if (api->http != NULL)
		evhttp_free(api->http);
	ratelimit_free(api->fails);
	SSL_CTX_free(api->ssl);
	free(api);
}
