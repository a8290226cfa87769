/* SPDX-License-Identifier: ISC */
/* tunnelgw: the HTTP API (/api/v1/), served from the main thread's loop. */
#ifndef TG_API_H
#define TG_API_H

struct api_server;
struct conf;
struct event_base;
struct store;

struct api_server *api_server_open(struct event_base *, const struct conf *, struct store *,
	    char **);
void	 api_server_free(struct api_server *);

#endif
