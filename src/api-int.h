/* SPDX-License-Identifier: ISC */
/* tunnelgw: what the API's server (api.c) and its resources (api-routes.c) share. */
#ifndef TG_API_INT_H
#define TG_API_INT_H

#include <sys/queue.h>

#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>
#include <stdint.h>
#include <time.h>

#include "auth.h"

#define API_PREFIX		"/api/v1/"

struct conf;
struct store;

struct api_server {
	struct evhttp		*http;
	struct ssl_ctx_st	*ssl;		/* NULL: plain HTTP */
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
	char		*source;	/* "IP:PORT" of the HTTP client */
};

/* A request being answered: its route's id (the part after "NAME/"), query and body. */
struct api_req {
	struct api_server		*api;
	struct evhttp_request		*req;
	const struct api_caller		*who;
	const char			*id;		/* decoded; NULL when the path has none */
	struct evkeyvalq		 query;
};

/* A resource: its name under API_PREFIX and what answers each method (NULL: none). */
struct api_route {
	const char	*name;
	void		(*list)(struct api_req *);	/* GET NAME */
	void		(*create)(struct api_req *);	/* POST NAME */
	void		(*get)(struct api_req *);	/* GET NAME/ID */
	void		(*update)(struct api_req *);	/* PATCH NAME/ID */
	void		(*remove)(struct api_req *);	/* DELETE NAME/ID */
};

/* A field of a request body: its name, its JSON type, whether it must be there. */
enum api_type { API_STRING, API_INT, API_BOOL, API_LIMIT /* an integer or null */ };
struct api_field {
	const char	*name;
	enum api_type	 type;
	int		 required;
};

/* api.c */
void		 api_send(struct evhttp_request *, int, json_t *, const char *);
void		 api_problem(struct evhttp_request *, int, const char *, ...)
		    __attribute__((format(printf, 3, 4)));
void		 api_ok(struct evhttp_request *, json_t *);
void		 api_send_text(struct evhttp_request *, int, char *, size_t);
json_t		*api_time(int64_t);
json_t		*api_text(const char *);
json_t		*api_limit(int64_t);
json_t		*api_body(struct api_req *, const struct api_field *);
void		 api_audit(struct api_req *, const char *, const char *, const char *);

/* api-routes.c */
extern const struct api_route	api_routes[];
extern const size_t		api_nroutes;

#endif
