/* SPDX-License-Identifier: ISC */
/* tunnelgw: the daemon's one record of an SSH client: its login, its grant, its tunnels. */
#ifndef TG_CLIENT_H
#define TG_CLIENT_H

#include <sys/queue.h>
#include <sys/socket.h>

#include <libssh/libssh.h>

struct event_base;
struct grant;
struct sshgw_session;
struct tunnel;
struct worker;

/*
 * One SSH client as the daemon sees it. Made by its worker when the socket arrives, freed
 * when the SSH layer reports the session gone (client_free, after its tunnels closed); used
 * only in that worker's thread. The SSH session points back to it (sshgw_session_data).
 */
struct client {
	struct sshgw_session	*sess;		/* lives exactly as long as this record */
	struct worker		*worker;	/* the worker thread that owns it */
	struct event_base	*base;		/* that worker's loop */
	struct sockaddr_storage	 peer;
	int			 startup;	/* counted among the startups until it logs in */

	/* The login, once decided. */
	struct grant		*grant;		/* held here; NULL before the login */
	long long		 token_id;	/* the token that logged in, or 0 */
	char			*fingerprint;	/* the key that logged in, or NULL */
	ssh_key			 key;		/* that key (for `register` and reloads), or NULL */

	int			 udp;		/* ran `udp`: its forwards are UDP tunnels */
	TAILQ_HEAD(, tunnel)	 tunnels;	/* its forwards, oldest first (src/tunnel.c) */
	unsigned int		 ntunnels;
	TAILQ_ENTRY(client)	 entry;		/* its worker's list */
};

struct client	*client_create(struct sshgw_session *, struct worker *, struct event_base *,
		    const struct sockaddr *);
struct client	*client_of(const struct sshgw_session *);
void		 client_logged_in(struct client *, struct grant *, long long, const char *,
		    ssh_key);
void		 client_free(struct client *);

#endif
