/* SPDX-License-Identifier: ISC */
/*
 * tunnelgw: the HTTP API. An evhttp server in the main thread's loop (never a worker's: the
 * data path never waits for it) answers under /api/v1/ with JSON made by jansson, over TLS
 * (bufferevent_openssl) or, on a loopback address only, plain HTTP for a reverse proxy.
 *
 * Every request carries "Authorization: Bearer KEY", an API key of tunnelgwctl apikey
 * create: a member's, which acts with the member's role in its account, or the operator's,
 * which stands above every account. Over HTTPS failed attempts are limited per source
 * address (IPv4 address or IPv6 prefix): beyond API_FAIL_BURST at API_FAIL_RATE a second,
 * the source gets 429 without its key being looked at (plain HTTP, on loopback behind a
 * proxy, leaves that to the proxy). There are no cookies, so no cross-site requests to
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

#include "addr.h"
#include "api.h"
#include "api-int.h"
#include "events.h"
#include "auth.h"
#include "conf.h"
#include "listener.h"
#include "log.h"
#include "ratelimit.h"
#include "registry.h"
#include "sshgw.h"
#include "store.h"
#include "web.h"
#include "xmalloc.h"

#define API_BACKLOG		128
#define API_TIMEOUT		10	/* seconds a client has to send its request */
#define API_MAX_HEADERS		8192	/* bytes of request line and headers */
#define API_MAX_BODY		65536	/* bytes of a request body; more is refused (413) */
#define API_FAIL_RATE		0.5	/* failed key attempts a second per source, refilled */
#define API_FAIL_BURST		10	/* ... and at most this many in a row */
#define API_FAIL_SOURCES	4096	/* sources the failure limit tracks */

/* jansson: append a piece of a document to the reply's buffer. */
static int
api_dump_piece(const char *buf, size_t len, void *arg)
{
	return evbuffer_add(arg, buf, len);
}

/* Send a JSON document (taken over) with code and content type. */
void
api_send(struct evhttp_request *req, int code, json_t *doc, const char *type)
{
	struct evkeyvalq	*headers = evhttp_request_get_output_headers(req);
	struct evbuffer		*body = evhttp_request_get_output_buffer(req);
	int			 rc;

	if (doc == NULL) {
		/* Not memory (xmalloc would have said): a value JSON cannot hold. */
		log_warn("api: an answer could not be made into JSON");
		evhttp_send_error(req, HTTP_INTERNAL, NULL);
		return;
	}
	/* Straight into the reply's buffer: a listing of 10,000 tunnels is megabytes. */
	rc = json_dump_callback(doc, api_dump_piece, body, JSON_COMPACT | JSON_ENSURE_ASCII);
	json_decref(doc);
	if (rc != 0) {
		evbuffer_drain(body, evbuffer_get_length(body));
		evhttp_send_error(req, HTTP_INTERNAL, NULL);
		return;
	}
	evhttp_add_header(headers, "Content-Type", type);
	evhttp_add_header(headers, "Cache-Control", "no-store");
	web_headers(req);
	evhttp_send_reply(req, code, NULL, NULL);
}

/* libevent: free a body handed to an evbuffer by reference once it is sent. */
static void
api_text_free(const void *data, size_t len, void *arg)
{
	free((void *)data);
}

/* Send a JSON body made elsewhere (taken over, freed once sent) with code. */
void
api_send_text(struct evhttp_request *req, int code, char *text, size_t len)
{
	struct evkeyvalq	*headers = evhttp_request_get_output_headers(req);

	evhttp_add_header(headers, "Content-Type", "application/json");
	evhttp_add_header(headers, "Cache-Control", "no-store");
	web_headers(req);
	if (evbuffer_add_reference(evhttp_request_get_output_buffer(req), text, len,
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
void
api_problem(struct evhttp_request *req, int code, const char *fmt, ...)
{
	va_list	 ap;
	char	*detail;

	va_start(ap, fmt);
	if (vasprintf(&detail, fmt, ap) == -1)
		fatal("out of memory");
	va_end(ap);
	api_send(req, code, json_pack("{s:s, s:s, s:i, s:o}", "type", "about:blank",
	    "title", api_title(code), "status", code, "detail", api_text(detail)),
	    "application/problem+json");
	free(detail);
}

/*
 * A text as a JSON string. JSON holds only UTF-8: a text that is not (a path a client sent,
 * a key's comment stored from the command line) has each byte that is not ASCII shown as
 * '?', rather than failing the answer.
 */
json_t *
api_text(const char *s)
{
	json_t	*j;
	char	*copy, *p;

	if (s == NULL)
		return json_null();
	if ((j = json_string(s)) != NULL)
		return j;
	copy = xstrdup(s);
	for (p = copy; *p != '\0'; p++) {
		if ((unsigned char)*p >= 0x80)
			*p = '?';
	}
	j = json_string(copy);
	free(copy);
	return j != NULL ? j : json_string("?");
}

/* Send 200 with a JSON document (taken over). */
void
api_ok(struct evhttp_request *req, json_t *doc)
{
	api_send(req, HTTP_OK, doc, "application/json");
}

/* A time in RFC 3339 UTC, as a JSON string; null for 0. */
json_t *
api_time(int64_t t)
{
	static json_t	*last;		/* the last time made, shared: the main thread's only */
	static int64_t	 last_t;
	struct tm	 tm;
	time_t		 tt = (time_t)t;
	char		 buf[32];

	if (t == 0 || gmtime_r(&tt, &tm) == NULL ||
	    strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		return json_null();
	if (last == NULL || last_t != t) {
		json_decref(last);
		last = json_string_nocheck(buf);
		last_t = t;
	}
	return json_incref(last);
}

/* A count that may be "none" (negative), as a JSON number or null. */
json_t *
api_limit(int64_t n)
{
	return n >= 0 ? json_integer(n) : json_null();
}

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
	/*
	 * Plain HTTP is on loopback only, behind a reverse proxy: every client then comes from
	 * the proxy's address, and limiting it would shut everyone out after one stranger's
	 * tries. The proxy limits there; keys of 256 random bits do not fall to guessing.
	 */
	if (api->ssl == NULL)
		sa = NULL;
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
	free(who->source);
}

/* The text of a JSON type, for messages. */
static const char *
api_type_name(enum api_type t)
{
	return t == API_STRING ? "a string" : t == API_INT ? "an integer" :
	    t == API_LIMIT ? "an integer or null" : "true or false";
}

/*
 * The request's body as a JSON object with only the fields of spec (NULL name ended), of
 * their types, the required ones present; NULL when it was answered (400, 413, 415, 422).
 * The caller json_decref()s what it gets.
 */
json_t *
api_body(struct api_req *r, const struct api_field *spec)
{
	struct evbuffer		*in = evhttp_request_get_input_buffer(r->req);
	const char		*type, *key;
	json_error_t		 err;
	json_t			*doc, *v;
	size_t			 len = evbuffer_get_length(in), i;
	char			 q[LOG_QUOTE_SIZE];
	int			 ok;

	type = evhttp_find_header(evhttp_request_get_input_headers(r->req), "Content-Type");
	if (len > 0 && (type == NULL || strncasecmp(type, "application/json", 16) != 0)) {
		api_problem(r->req, 415, "send the body as application/json");
		return NULL;
	}
	if (len == 0)
		doc = json_object();
	else if ((doc = json_loadb((const char *)evbuffer_pullup(in, -1), len,
	    JSON_REJECT_DUPLICATES, &err)) == NULL) {
		api_problem(r->req, 400, "the body is not JSON: %s (line %d, column %d)",
		    err.text, err.line, err.column);
		return NULL;
	}
	if (!json_is_object(doc)) {
		json_decref(doc);
		api_problem(r->req, 422, "the body must be a JSON object");
		return NULL;
	}
	json_object_foreach(doc, key, v) {
		for (i = 0; spec[i].name != NULL && strcmp(spec[i].name, key) != 0; i++)
			;
		if (spec[i].name == NULL) {
			api_problem(r->req, 422, "unknown field '%s'", log_quote(key, q));
			json_decref(doc);
			return NULL;
		}
		ok = spec[i].type == API_STRING ? json_is_string(v) :
		    spec[i].type == API_INT ? json_is_integer(v) :
		    spec[i].type == API_LIMIT ? json_is_integer(v) || json_is_null(v) :
		    json_is_boolean(v);
		if (!ok) {
			api_problem(r->req, 422, "field '%s' must be %s", key,
			    api_type_name(spec[i].type));
			json_decref(doc);
			return NULL;
		}
	}
	for (i = 0; spec[i].name != NULL; i++) {
		if (spec[i].required && json_object_get(doc, spec[i].name) == NULL) {
			api_problem(r->req, 422, "field '%s' is missing", spec[i].name);
			json_decref(doc);
			return NULL;
		}
	}
	return doc;
}

/* Record a change made through the API: an "audit" event with who, from where, what. */
void
api_audit(struct api_req *r, const char *action, const char *account, const char *object)
{
	struct events_audit	 a;
	char			*actor = NULL, qa[LOG_QUOTE_SIZE], qo[LOG_QUOTE_SIZE];

	if (!r->who->operator)
		xasprintf(&actor, "member %s", r->who->member);
	a.actor = actor != NULL ? actor : "operator";
	a.actor_account = r->who->account;
	a.source = r->who->source;
	a.action = action;
	a.account = account;
	a.object = object;
	events_audit(&a);
	log_info("api: %s%s%s from %s: %s %s%s%s", a.actor, a.actor_account != NULL ? " of " : "",
	    a.actor_account != NULL ? a.actor_account : "", a.source != NULL ? a.source : "?",
	    action, account != NULL ? log_quote(account, qa) : "", object != NULL ? " " : "",
	    object != NULL ? log_quote(object, qo) : "");
	free(actor);
}

/* The method's name, for messages. */
static const char *
api_method(enum evhttp_cmd_type m)
{
	switch (m) {
	case EVHTTP_REQ_GET: return "GET";
	case EVHTTP_REQ_POST: return "POST";
	case EVHTTP_REQ_DELETE: return "DELETE";
	case EVHTTP_REQ_PATCH: return "PATCH";
	case EVHTTP_REQ_PUT: return "PUT";
	default: return "this method";
	}
}

/*
 * What answers this method on the route, with or without an id; NULL after a 405 that
 * lists what the route takes.
 */
static void (*api_handler(struct api_req *r, const struct api_route *route))(struct api_req *)
{
	enum evhttp_cmd_type	  m = evhttp_request_get_command(r->req);
	void			(*fn)(struct api_req *) = NULL;
	char			  allow[64];

	if (r->id == NULL)
		fn = m == EVHTTP_REQ_GET ? route->list : m == EVHTTP_REQ_POST ? route->create :
		    NULL;
	else
		fn = m == EVHTTP_REQ_GET ? route->get : m == EVHTTP_REQ_PATCH ? route->update :
		    m == EVHTTP_REQ_DELETE ? route->remove : NULL;
	if (fn != NULL)
		return fn;
	allow[0] = '\0';
	if (r->id == NULL)
		snprintf(allow, sizeof allow, "%s%s%s", route->list != NULL ? "GET" : "",
		    route->list != NULL && route->create != NULL ? ", " : "",
		    route->create != NULL ? "POST" : "");
	else
		snprintf(allow, sizeof allow, "%s%s%s%s%s", route->get != NULL ? "GET, " : "",
		    route->update != NULL ? "PATCH, " : "", route->remove != NULL ? "DELETE" : "",
		    "", "");
	evhttp_add_header(evhttp_request_get_output_headers(r->req), "Allow", allow);
	api_problem(r->req, 405, "%s " API_PREFIX "%s%s takes %s", api_method(m), route->name,
	    r->id != NULL ? "/{id}" : "", allow[0] != '\0' ? allow : "nothing");
	return NULL;
}

/* The HTTP client's address as "IP:PORT", a new string. */
static char *
api_source(struct evhttp_request *req)
{
	struct evhttp_connection	*evcon = evhttp_request_get_connection(req);
	const struct sockaddr		*sa = evcon != NULL ? evhttp_connection_get_addr(evcon) :
					    NULL;

	if (sa == NULL)
		return xstrdup("?");
	return addr_format(sa, sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) :
	    sizeof(struct sockaddr_in));
}

/* evhttp: every request: find the route, authenticate, answer. */
static void
api_on_request(struct evhttp_request *req, void *arg)
{
	struct api_server		*api = arg;
	const struct evhttp_uri		*uri = evhttp_request_get_evhttp_uri(req);
	const struct api_route		*route = NULL;
	void				(*fn)(struct api_req *);
	struct api_caller		 who;
	struct api_req			 r;
	const char			*path, *query, *slash;
	char				*id = NULL;
	size_t				 i, len;

	path = uri != NULL ? evhttp_uri_get_path(uri) : NULL;
	if (path == NULL || strncmp(path, API_PREFIX, strlen(API_PREFIX)) != 0) {
		/* The dashboard's files, which need no key: what they show comes from the API. */
		if (path == NULL || !web_serve(req, *path != '\0' ? path : "/"))
			api_problem(req, 404, "not found: the dashboard is at /, the API under "
			    API_PREFIX);
		return;
	}
	path += strlen(API_PREFIX);
	slash = strchr(path, '/');
	len = slash != NULL ? (size_t)(slash - path) : strlen(path);
	for (i = 0; i < api_nroutes; i++) {
		if (strlen(api_routes[i].name) == len &&
		    strncmp(path, api_routes[i].name, len) == 0)
			route = &api_routes[i];
	}
	if (route == NULL || (slash != NULL && slash[1] == '\0')) {
		api_problem(req, 404, "no such resource under " API_PREFIX "; see doc/api.yaml");
		return;
	}
	if (slash != NULL && (id = evhttp_uridecode(slash + 1, 0, NULL)) == NULL)
		fatal("out of memory");
	if (api_authenticate(api, req, &who) != 0) {
		free(id);
		return;
	}
	who.source = api_source(req);
	memset(&r, 0, sizeof r);
	r.api = api;
	r.req = req;
	r.who = &who;
	r.id = id;
	TAILQ_INIT(&r.query);
	if ((query = evhttp_uri_get_query(uri)) != NULL &&
	    evhttp_parse_query_str(query, &r.query) != 0)
		api_problem(req, 400, "the query string is not of the form name=value&...");
	else if ((fn = api_handler(&r, route)) != NULL)
		fn(&r);
	evhttp_clear_headers(&r.query);
	api_caller_clear(&who);
	free(id);
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
