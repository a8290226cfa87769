/* SPDX-License-Identifier: ISC */
/* tunnelgw: the daemon's one record of an SSH client (see client.h for its lifetime). */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "client.h"
#include "sshgw.h"
#include "xmalloc.h"

/* A record for a new SSH session from peer, owned by worker; the session points to it. */
struct client *
client_create(struct sshgw_session *s, struct worker *w, struct event_base *base,
    const struct sockaddr *peer)
{
	struct client	*c = xcalloc(1, sizeof *c);

	c->sess = s;
	c->worker = w;
	c->base = base;
	if (peer->sa_family == AF_INET6)
		memcpy(&c->peer, peer, sizeof(struct sockaddr_in6));
	else if (peer->sa_family == AF_INET)
		memcpy(&c->peer, peer, sizeof(struct sockaddr_in));
	c->startup = 1;
	TAILQ_INIT(&c->tunnels);
	sshgw_session_set_data(s, c);
	return c;
}

/* The record of an SSH session, or NULL when it has none (yet, or any more). */
struct client *
client_of(const struct sshgw_session *s)
{
	return sshgw_session_data(s);
}

/*
 * The login is decided: keep its grant (the record now holds it), the token's id (0: none),
 * the fingerprint and a copy of the key the client proved (NULL: none).
 */
void
client_logged_in(struct client *c, struct grant *g, long long token_id, const char *fp,
    ssh_key key)
{
	grant_release(c->grant);
	c->grant = g;
	c->token_id = token_id;
	free(c->fingerprint);
	c->fingerprint = fp != NULL ? xstrdup(fp) : NULL;
	ssh_key_free(c->key);
	c->key = key != NULL ? ssh_key_dup(key) : NULL;
}

/* Free the record; its tunnels must be closed already. */
void
client_free(struct client *c)
{
	if (c == NULL)
		return;
	sshgw_session_set_data(c->sess, NULL);
	grant_release(c->grant);
	free(c->fingerprint);
	ssh_key_free(c->key);
	free(c);
}
