/* SPDX-License-Identifier: ISC */
/*
 * tunnelgw: metrics. Each count is kept where it happens, in an atomic that only grows:
 * refusals here (metrics_count_refusal), failed logins in the SSH layer
 * (sshgw_login_failures), connections and bytes in the registry, whose totals outlive the
 * tunnels. metrics_format() reads them into Prometheus' text format when asked, and an
 * evhttp server in the main thread serves that at /metrics. Nothing here names an account,
 * a key or a client address: the endpoint shows how much, never who.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "listener.h"
#include "log.h"
#include "metrics.h"
#include "registry.h"
#include "sshgw.h"
#include "udp.h"
#include "xmalloc.h"

#define METRICS_BACKLOG		64
#define METRICS_TIMEOUT		10	/* seconds an HTTP client has to send its request */
#define METRICS_MAX_HEADERS	8192	/* bytes of request line and headers */
#define METRICS_MAX_BODY	1024	/* a GET has none; anything bigger is refused (413) */

struct metrics_server {
	struct evhttp	*http;
};

/*
 * A counter for every refusal reason (auth/grant.c names them), so each series exists from
 * the start at 0: rates over a series that appears only at its first event miss that event.
 */
static atomic_ullong	metrics_refused[REFUSAL_OTHER + 1];

/* Return the slot of a refusal; anything out of range counts as REFUSAL_OTHER. */
static size_t
metrics_reason_index(enum refusal r)
{
	return r > REFUSAL_NONE && r <= REFUSAL_OTHER ? (size_t)r : REFUSAL_OTHER;
}

/* Count a refusal. Any thread may call it. */
void
metrics_count_refusal(enum refusal r)
{
	atomic_fetch_add_explicit(&metrics_refused[metrics_reason_index(r)], 1,
	    memory_order_relaxed);
}

/* Return how many refusals of a reason were counted. */
unsigned long long
metrics_refusals(enum refusal r)
{
	return atomic_load(&metrics_refused[metrics_reason_index(r)]);
}

/* Print one metric without labels: its help, its type and its value. */
static void
metrics_put(FILE *fp, const char *name, const char *type, const char *help,
    unsigned long long value)
{
	fprintf(fp, "# HELP %s %s\n# TYPE %s %s\n%s %llu\n", name, help, name, type, name, value);
}

/* Return every metric in Prometheus' text exposition format (version 0.0.4), a new string. */
char *
metrics_format(void)
{
	struct registry_totals	 t;
	struct udp_totals	 u;
	char			*out = NULL;
	size_t			 len, i;
	FILE			*fp;

	registry_totals(&t);
	if ((fp = open_memstream(&out, &len)) == NULL)
		fatal("out of memory formatting metrics");
	fprintf(fp, "# HELP tunnelgw_build_info The running version.\n"
	    "# TYPE tunnelgw_build_info gauge\ntunnelgw_build_info{version=\"%s\"} 1\n",
	    PACKAGE_VERSION);
	metrics_put(fp, "tunnelgw_sessions", "gauge",
	    "SSH sessions open now, logged in or not yet.", sshgw_session_count());
	metrics_put(fp, "tunnelgw_tunnels", "gauge", "Tunnels (public ports) open now.",
	    (unsigned long long)t.tunnels);
	metrics_put(fp, "tunnelgw_connections", "gauge", "Public connections open now.",
	    t.conns);
	metrics_put(fp, "tunnelgw_buffered_bytes", "gauge",
	    "Bytes held on their way to public clients that read slower than SSH clients send.",
	    (unsigned long long)sshgw_channel_held());
	metrics_put(fp, "tunnelgw_connections_total", "counter",
	    "Public connections accepted and bridged since the start.", t.conns_total);
	metrics_put(fp, "tunnelgw_bytes_in_total", "counter",
	    "Bytes from public clients toward the users' services since the start.", t.bytes_in);
	metrics_put(fp, "tunnelgw_bytes_out_total", "counter",
	    "Bytes from the users' services toward public clients since the start.", t.bytes_out);
	udp_totals(&u);
	metrics_put(fp, "tunnelgw_udp_flows", "gauge",
	    "UDP flows (public source addresses and ports) open now.", u.flows);
	metrics_put(fp, "tunnelgw_udp_flows_total", "counter",
	    "UDP flows since the start.", u.flows_total);
	fputs("# HELP tunnelgw_udp_datagrams_total UDP datagrams carried since the start, by "
	    "direction (in: public client to service).\n"
	    "# TYPE tunnelgw_udp_datagrams_total counter\n", fp);
	fprintf(fp, "tunnelgw_udp_datagrams_total{direction=\"in\"} %llu\n"
	    "tunnelgw_udp_datagrams_total{direction=\"out\"} %llu\n", u.dgrams_in, u.dgrams_out);
	fputs("# HELP tunnelgw_udp_drops_total UDP datagrams dropped since the start (a full "
	    "stream, a full socket), by direction.\n"
	    "# TYPE tunnelgw_udp_drops_total counter\n", fp);
	fprintf(fp, "tunnelgw_udp_drops_total{direction=\"in\"} %llu\n"
	    "tunnelgw_udp_drops_total{direction=\"out\"} %llu\n", u.drops_in, u.drops_out);
	metrics_put(fp, "tunnelgw_auth_failures_total", "counter",
	    "Refused SSH authentication attempts since the start.", sshgw_login_failures());
	fputs("# HELP tunnelgw_refusals_total Requests refused since the start, by reason.\n"
	    "# TYPE tunnelgw_refusals_total counter\n", fp);
	for (i = REFUSAL_NONE + 1; i <= REFUSAL_OTHER; i++)
		fprintf(fp, "tunnelgw_refusals_total{reason=\"%s\"} %llu\n",
		    refusal_label((enum refusal)i),
		    (unsigned long long)atomic_load(&metrics_refused[i]));
	fclose(fp);
	return out;
}

/* libevent: free a text handed to an evbuffer by reference once it is sent. */
static void
metrics_text_free(const void *data, size_t len, void *arg)
{
	free((void *)data);
}

/* Send a reply of code with a plain-text body that takes text over (freed when sent). */
static void
metrics_reply(struct evhttp_request *req, int code, const char *reason, char *text,
    const char *type)
{
	struct evkeyvalq	*headers = evhttp_request_get_output_headers(req);
	struct evbuffer		*body = evhttp_request_get_output_buffer(req);

	evhttp_add_header(headers, "Content-Type", type);
	evhttp_add_header(headers, "Cache-Control", "no-store");
	if (evbuffer_add_reference(body, text, strlen(text), metrics_text_free, NULL) != 0) {
		free(text);
		evhttp_send_error(req, HTTP_INTERNAL, NULL);
		return;
	}
	evhttp_send_reply(req, code, reason, NULL);
}

/* evhttp: /metrics: the metrics for GET; 405 for any other method. */
static void
metrics_on_metrics(struct evhttp_request *req, void *arg)
{
	if (evhttp_request_get_command(req) != EVHTTP_REQ_GET) {
		evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", "GET");
		metrics_reply(req, 405, "Method Not Allowed", xstrdup("only GET is served here\n"),
		    "text/plain; charset=utf-8");
		return;
	}
	metrics_reply(req, HTTP_OK, "OK", metrics_format(),
	    "text/plain; version=0.0.4; charset=utf-8");
}

/* evhttp: any other path: 404, with a hint. */
static void
metrics_on_other(struct evhttp_request *req, void *arg)
{
	metrics_reply(req, HTTP_NOTFOUND, "Not Found",
	    xstrdup("not found: tunnelgw serves its metrics at /metrics\n"),
	    "text/plain; charset=utf-8");
}

/*
 * Serve the metrics over HTTP on endpoint ("ADDRESS:PORT") from the main thread's loop;
 * returns the server, or NULL with *cause when the address cannot be listened on.
 */
struct metrics_server *
metrics_server_open(struct event_base *base, const char *endpoint, char **cause)
{
	struct metrics_server	*m;
	char			*why = NULL;
	int			 fd;

	if ((fd = listener_open_endpoint(endpoint, METRICS_BACKLOG, &why)) == -1) {
		xasprintf(cause, "metrics_listen: %s", why);
		free(why);
		return NULL;
	}
	m = xcalloc(1, sizeof *m);
	if ((m->http = evhttp_new(base)) == NULL)
		fatal("cannot create the metrics HTTP server");
	evhttp_set_timeout(m->http, METRICS_TIMEOUT);
	evhttp_set_max_headers_size(m->http, METRICS_MAX_HEADERS);
	evhttp_set_max_body_size(m->http, METRICS_MAX_BODY);
	if (evhttp_set_cb(m->http, "/metrics", metrics_on_metrics, m) != 0)
		fatal("cannot route /metrics");
	evhttp_set_gencb(m->http, metrics_on_other, m);
	if (evhttp_accept_socket_with_handle(m->http, fd) == NULL) {
		close(fd);
		xasprintf(cause, "metrics_listen %s: cannot serve HTTP on it", endpoint);
		metrics_server_free(m);
		return NULL;
	}
	if (!conf_endpoint_loopback(endpoint))
		log_warn("metrics_listen %s is not a loopback address: anyone who can reach it can "
		    "read the gateway's counts", endpoint);
	log_info("serving metrics on http://%s/metrics", endpoint);
	return m;
}

/* Stop serving the metrics: close the listening socket and every HTTP connection. */
void
metrics_server_free(struct metrics_server *m)
{
	if (m == NULL)
		return;
	if (m->http != NULL)
		evhttp_free(m->http);
	free(m);
}
