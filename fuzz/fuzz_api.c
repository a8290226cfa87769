/* SPDX-License-Identifier: ISC */
/*
 * tunnelgw: libFuzzer target of the HTTP API. A real API server (api_server_open, plain HTTP
 * on loopback, a store in the scratch folder with an account and an operator key) answers a
 * client. Most inputs become a request with that key: the first byte picks the method, the
 * input's first line is the path under /api/v1/ (with its query), the rest the JSON body;
 * the others are sent as they are, to reach the HTTP parser and the key check. Whatever comes,
 * the server must answer an HTTP status line (or close) within the deadline, and never crash.
 */
#include "config.h"

#include <sys/socket.h>

#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api.h"
#include "conf.h"
#include "fuzz.h"
#include "store.h"
#include "xmalloc.h"

#define FUZZ_API_MAX_INPUT	8192
#define FUZZ_API_DEADLINE_MS	3000	/* the server's own limit is 10 s */

static struct event_base	*fuzz_api_base;
static struct api_server	*fuzz_api;
static struct store		*fuzz_api_store;
static struct conf		*fuzz_api_conf;
static struct sockaddr_in	 fuzz_api_sin;
static char			*fuzz_api_key;

/* libFuzzer: once at start: a store with account "team", an operator key, the server. */
int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char		*cause = NULL, *path, *endpoint;
	int64_t		 id;
	socklen_t	 len = sizeof fuzz_api_sin;
	int		 fd;

	fuzz_quiet();
	xasprintf(&path, "%s/api.db", fuzz_tmpdir());
	if ((fuzz_api_store = store_open(path, 1000, &cause)) == NULL ||
	    store_account_add(fuzz_api_store, "team", -1, &cause) != 0 ||
	    store_member_add(fuzz_api_store, "team", "viewer1", "viewer", &cause) != 0 ||
	    store_apikey_create(fuzz_api_store, NULL, NULL, &fuzz_api_key, &id, &cause) != 0)
		fuzz_fail("cannot make the store: %s", cause);
	free(path);
	/* A free loopback port: bind one, note it, close it. */
	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) == -1)
		fuzz_fail("socket: %s", strerror(errno));
	memset(&fuzz_api_sin, 0, sizeof fuzz_api_sin);
	fuzz_api_sin.sin_family = AF_INET;
	fuzz_api_sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&fuzz_api_sin, sizeof fuzz_api_sin) == -1 ||
	    getsockname(fd, (struct sockaddr *)&fuzz_api_sin, &len) == -1)
		fuzz_fail("bind: %s", strerror(errno));
	close(fd);
	fuzz_api_conf = conf_create();
	if (conf_finish(fuzz_api_conf, &cause) != 0)
		fuzz_fail("conf: %s", cause);
	xasprintf(&endpoint, "127.0.0.1:%d", ntohs(fuzz_api_sin.sin_port));
	free(fuzz_api_conf->api_listen);
	fuzz_api_conf->api_listen = endpoint;
	if ((fuzz_api_base = event_base_new()) == NULL ||
	    (fuzz_api = api_server_open(fuzz_api_base, fuzz_api_conf, fuzz_api_store,
	    &cause)) == NULL)
		fuzz_fail("cannot open the API: %s", cause);
	return 0;
}

/* Make the request an input stands for, as described above; a new buffer of *len bytes. */
static char *
fuzz_api_request(const uint8_t *data, size_t size, size_t *len)
{
	static const char *const methods[] = { "GET", "POST", "PATCH", "DELETE", "PUT", "HEAD" };
	const uint8_t	*nl;
	char		*req, *line, *body, *p;
	size_t		 plen, blen;
	unsigned int	 pick = data[0];

	data++;
	size--;
	if ((pick & 7) == 7) {		/* as it is */
		req = xmalloc(size + 1);
		memcpy(req, data, size);
		*len = size;
		return req;
	}
	nl = memchr(data, '\n', size);
	plen = nl != NULL ? (size_t)(nl - data) : size;
	line = fuzz_string(data, plen);
	body = nl != NULL ? fuzz_string(nl + 1, size - plen - 1) : xstrdup("");
	blen = nl != NULL ? size - plen - 1 : 0;
	/* Bytes a request line cannot hold would only exercise the parser's first check. */
	for (p = line; *p != '\0'; p++) {
		if (*p == ' ' || *p == '\r' || (unsigned char)*p < 0x21)
			*p = '_';
	}
	*len = (size_t)xasprintf(&req, "%s /api/v1/%s HTTP/1.1\r\nHost: fuzz\r\n"
	    "Authorization: Bearer %s\r\nContent-Type: application/json\r\n"
	    "Content-Length: %zu\r\nConnection: close\r\n\r\n", methods[pick % 6], line,
	    (pick & 8) ? "tgwk_wrongwrongwrongwrongwrongwrongwrongwrongw" : fuzz_api_key, blen);
	req = xreallocarray(req, *len + blen + 1, 1);
	memcpy(req + *len, body, blen);
	*len += blen;
	free(line);
	free(body);
	return req;
}

/* libFuzzer: one input: one request, all at once; the reply must start as HTTP's do. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	 reply[64], *req;
	size_t	 got = sizeof reply - 1, len;
	int	 fd;

	if (size == 0 || size > FUZZ_API_MAX_INPUT)
		return -1;
	req = fuzz_api_request(data, size, &len);
	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) == -1 ||
	    (connect(fd, (struct sockaddr *)&fuzz_api_sin, sizeof fuzz_api_sin) == -1 &&
	    errno != EINPROGRESS))
		fuzz_fail("cannot connect to the API: %s", strerror(errno));
	if (fuzz_client_run(fuzz_api_base, fd, (const uint8_t *)req, len, 0, 1, reply, &got,
	    FUZZ_API_DEADLINE_MS) != 0)
		fuzz_fail("the API kept the connection open for %d ms", FUZZ_API_DEADLINE_MS);
	close(fd);
	free(req);
	reply[got] = '\0';
	/* libevent answers in the version the request named, even HTTP/0.1. */
	if (got != 0 && strncmp(reply, "HTTP/", 5) != 0)
		fuzz_fail("not an HTTP reply: '%.20s'", reply);
	/* Let the server free the connection before the next input. */
	event_base_loop(fuzz_api_base, EVLOOP_NONBLOCK);
	return 0;
}
