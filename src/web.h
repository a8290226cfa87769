/* SPDX-License-Identifier: ISC */
/* tunnelgw: the dashboard's files, compiled in (web/embed.sh), served at / of api_listen. */
#ifndef TG_WEB_H
#define TG_WEB_H

#include <stddef.h>

struct evhttp_request;

/* A file of the dashboard: its URL path, its Content-Type, its bytes. */
struct web_asset {
	const char		*path;
	const char		*type;
	const unsigned char	*data;
	size_t			 len;
};

/* web-assets.c, made by web/embed.sh */
extern const struct web_asset	web_assets[];
extern const size_t		web_nassets;

/* The Content-Security-Policy of every answer: no inline script or style, nothing foreign. */
#define WEB_CSP	"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; " \
		"connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'; " \
		"require-trusted-types-for 'script'; trusted-types 'none'"

int	web_serve(struct evhttp_request *, const char *);
void	web_headers(struct evhttp_request *);

#endif
