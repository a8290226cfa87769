/* SPDX-License-Identifier: ISC */
/* tunnelgw: the SSH server layer over libssh; this header is the layer's only door. */
#ifndef TG_SSHGW_H
#define TG_SSHGW_H

#include <stddef.h>
#include <sys/types.h>

#include <libssh/libssh.h>

struct conf;
struct event_base;
struct keyent;
struct keyfile;

struct sshgw_server;		/* one per worker: host keys and algorithms (an ssh_bind) */
struct sshgw_session;		/* one SSH client connection */
struct sshgw_channel;		/* one forwarded-tcpip channel */

/* What the SSH layer asks of the daemon. Each runs in the session's worker thread. */
struct sshgw_hooks {
	/*
	 * A key the keys file does not list: 0 with the account that owns it in the database
	 * and its fingerprint (new strings), 1 when nobody does, -1 on a database error.
	 */
	int	(*key_lookup)(struct sshgw_session *, ssh_key, char **account, char **fingerprint);
	/*
	 * A token, given as user name, password or answer: 0 with its account (a new string)
	 * and id, 1 when refused with *reason (unknown, revoked, expired), -1 on a database
	 * error. touch records the use: the login is decided.
	 */
	int	(*token_check)(struct sshgw_session *, const char *, int touch, char **account,
		    long long *id, char **reason);
	/* `register`: bind the session's key to its token's account; 0 or -1, with *msg. */
	int	(*register_key)(struct sshgw_session *, char **msg);
	/* The session logged in (optional). */
	void	(*logged_in)(struct sshgw_session *);
	/* The `status` command: a new string listing the account's live tunnels. */
	char	*(*status)(struct sshgw_session *);
	/* A tcpip-forward: open a public port; 0 with *bound, or -1 with *reason. */
	int	(*forward_add)(struct sshgw_session *, const char *address, int port,
		    int *bound, char **reason);
	/* A cancel-tcpip-forward, or the session ending: close a public port. */
	void	(*forward_remove)(struct sshgw_session *, int bound);
	/* The session is gone (authenticated or not); whatever the daemon holds for it must go. */
	void	(*session_closed)(struct sshgw_session *);
};

/* What a forwarded channel tells its owner. Called after libssh has returned, never inside it. */
struct sshgw_channel_events {
	/* The client confirmed the channel (ok = 1) or refused it (ok = 0, with a reason). */
	void	(*opened)(void *arg, int ok, const char *reason);
	/*
	 * Data from the client: return how much was taken; the rest stays buffered by libssh.
	 * Runs inside libssh, and may come before opened: a client can confirm the channel and
	 * send data in one packet burst.
	 */
	size_t	(*data)(void *arg, const void *buf, size_t len);
	/* The client will send no more data. */
	void	(*eof)(void *arg);
	/* The client closed the channel, or the session ended: the owner must free the channel. */
	void	(*closed)(void *arg);
	/* The client's window opened again after a write was cut short. */
	void	(*writable)(void *arg);
};

/* How a session logged in. */
enum sshgw_auth_kind {
	SSHGW_AUTH_NONE,
	SSHGW_AUTH_KEYFILE,	/* a key of the keys file */
	SSHGW_AUTH_DBKEY,	/* a key of the database (tunnelgwctl key add, or register) */
	SSHGW_AUTH_TOKEN,	/* a token, with or without a key */
};

/* The options of a `tcp` command, with -1 where the command did not set one. */
struct sshgw_tcp_opts {
	int		 proxy_proto;
	int		 idle_timeout;
	char		*allow_cidr;
	char		*deny_cidr;
};

int	 hostkey_check(const char *, char **);
int	 hostkey_ensure(const char *, char **, char **);
char	*sshgw_key_fingerprint(ssh_key);

struct sshgw_server *sshgw_server_create(const struct conf *, const struct keyfile *,
	    const struct sshgw_hooks *, char **);
void	 sshgw_server_free(struct sshgw_server *);
void	 sshgw_server_set_keys(struct sshgw_server *, const struct keyfile *);

struct sshgw_session *sshgw_session_create(struct sshgw_server *, struct event_base *, int);
void	 sshgw_session_close(struct sshgw_session *, const char *);
int	 sshgw_session_probe(struct sshgw_session *, int);
const char *sshgw_session_rekey(struct sshgw_session *, const struct keyfile *);
void	 sshgw_session_set_data(struct sshgw_session *, void *);
void	*sshgw_session_data(const struct sshgw_session *);
unsigned long long sshgw_session_id(const struct sshgw_session *);
const char *sshgw_session_peer(const struct sshgw_session *);
const char *sshgw_session_account(const struct sshgw_session *);
const struct keyent *sshgw_session_key(const struct sshgw_session *);
enum sshgw_auth_kind sshgw_session_auth_kind(const struct sshgw_session *);
long long sshgw_session_token_id(const struct sshgw_session *);
const char *sshgw_session_fingerprint(const struct sshgw_session *);
ssh_key	 sshgw_session_client_key(const struct sshgw_session *);
const struct sshgw_tcp_opts *sshgw_session_tcp_opts(const struct sshgw_session *);
void	 sshgw_session_notice(struct sshgw_session *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
size_t	 sshgw_session_count(void);
unsigned long sshgw_auth_failures(void);

struct sshgw_channel *sshgw_channel_open(struct sshgw_session *, int, const char *, int,
	    const struct sshgw_channel_events *, void *);
ssize_t	 sshgw_channel_write(struct sshgw_channel *, const void *, size_t);
size_t	 sshgw_channel_window(struct sshgw_channel *);
ssize_t	 sshgw_channel_read(struct sshgw_channel *, void *, size_t);
size_t	 sshgw_channel_pending(const struct sshgw_channel *);
void	 sshgw_channel_backlog(struct sshgw_channel *, size_t);
size_t	 sshgw_channel_held(void);
int	 sshgw_channel_command_pending(const struct sshgw_channel *);
int	 sshgw_channel_proxy_proto(const struct sshgw_channel *);
void	 sshgw_channel_eof(struct sshgw_channel *);
void	 sshgw_channel_free(struct sshgw_channel *);

#endif
