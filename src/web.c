/* SPDX-License-Identifier: ISC */
/*
 * tunnelgw: the dashboard's static files. They are compiled into the daemon (web/embed.sh
 * makes web-assets.c from web/), so the API listener serves them at / with nothing installed
 * beside it and no path to configure; the dashboard itself talks to the API alone, with the
 * key its user signs in with.
 */
#include "config.h"

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "web.h"

/* The headers every answer of the listener carries: what a browser may do with it. */
void
web_headers(struct evhttp_request *req)
{
	struct evkeyvalq	*h = evhttp_request_get_output_headers(req);

	evhttp_add_header(h, "Content-Security-Policy", WEB_CSP);
	evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
	evhttp_add_header(h, "X-Frame-Options", "DENY");
	evhttp_add_header(h, "Referrer-Policy", "no-referrer");
	evhttp_add_header(h, "Cross-Origin-Opener-Policy", "same-origin");
	evhttp_add_header(h, "Cross-Origin-Resource-Policy", "same-origin");
}

/* A file's entity tag: its FNV-1a hash, so a browser revalidates and the file is not sent. */
static void
web_etag(const struct web_asset *a, char *buf, size_t len)
{
	uint64_t	h = 0xcbf29ce484222325ULL;
	size_t		i;

	for (i = 0; i < a->len; i++) {
		h ^= a->data[i];
		h *= 0x100000001b3ULL;
	}
	snprintf(buf, len, "\"%016llx\"", (unsigned long long)h);
}

/*
 * Answer a request for path outside the API with a dashboard file: 1 when answered (the
 * file, 304, or 405 for a method other than GET and HEAD), 0 when no file has that path.
 */
int
web_serve(struct evhttp_request *req, const char *path)
{
	struct evkeyvalq	*out = evhttp_request_get_output_headers(req);
	const struct web_asset	*a = NULL;
	enum evhttp_cmd_type	 m = evhttp_request_get_command(req);
	const char		*inm;
	char			 etag[24];
	size_t			 i;

	for (i = 0; i < web_nassets; i++) {
		if (strcmp(web_assets[i].path, path) == 0)
			a = &web_assets[i];
	}
	if (a == NULL)
		return 0;
	web_headers(req);
	if (m != EVHTTP_REQ_GET && m != EVHTTP_REQ_HEAD) {
		evhttp_add_header(out, "Allow", "GET, HEAD");
		evhttp_send_error(req, HTTP_BADMETHOD, NULL);
		return 1;
	}
	web_etag(a, etag, sizeof etag);
	evhttp_add_header(out, "ETag", etag);
	evhttp_add_header(out, "Cache-Control", "no-cache");
	inm = evhttp_find_header(evhttp_request_get_input_headers(req), "If-None-Match");
	if (inm != NULL && strcmp(inm, etag) == 0) {
		evhttp_send_reply(req, HTTP_NOTMODIFIED, NULL, NULL);
		return 1;
	}
	evhttp_add_header(out, "Content-Type", a->type);
	if (evbuffer_add_reference(evhttp_request_get_output_buffer(req), a->data, a->len,
	    NULL, NULL) != 0) {
		evhttp_send_error(req, HTTP_INTERNAL, NULL);
		return 1;
	}
	evhttp_send_reply(req, HTTP_OK, NULL, NULL);
	return 1;
}
