/* SPDX-License-Identifier: ISC */
/* tunnelgw: the SSH server layer over libssh; this header is the layer's only door. */
#ifndef TG_SSHGW_H
#define TG_SSHGW_H

#include <stddef.h>
#include <sys/types.h>

#include <libssh/libssh.h>

struct event_base;

struct sshgw_server;		/* one per worker: host keys and algorithms (an ssh_bind) */
struct sshgw_session;		/* one SSH client connection */
struct sshgw_channel;		/* one forwarded-tcpip channel */

/* How a login attempt came. */
enum sshgw_login_method {
	SSHGW_LOGIN_PUBKEY,
	SSHGW_LOGIN_PASSWORD,
	SSHGW_LOGIN_KBDINT,
};

/* A login attempt, as the client made it. */
struct sshgw_login {
	enum sshgw_login_method	 method;
	const char		*user;
	ssh_key			 key;		/* publickey: the key offered or proved */
	const char		*secret;	/* password or answer: the text given */
	int			 decide;	/* 0: a probe, nothing is decided yet */
};

/* The daemon's answer to a login attempt; every string is new, and the SSH layer frees it. */
struct sshgw_verdict {
	char	*account;	/* accepted: the account */
	char	*how;		/* accepted: how, for the log ("with ssh-ed25519 key SHA256:...") */
	char	*log;		/* refused: a line for the log, or NULL */
	char	*tell;		/* refused: a line for the client, or NULL */
	int	 once;		/* refused: log and tell this kind of refusal once a session */
};

/* What the SSH layer asks of the daemon. Each runs in the session's worker thread. */
struct sshgw_hooks {
	/*
	 * A login attempt: 0 when it is accepted (with v->account and, when it decides,
	 * v->how), 1 when refused (with what to log and tell in v). Run for probes too.
	 */
	int	(*login)(struct sshgw_session *, const struct sshgw_login *,
		    struct sshgw_verdict *v);
	/*
	 * A `tcp` or `udp` command with its words (argv[0] is "tcp" or "udp"): 0, with *note
	 * a line to show under the tunnels or NULL, or -1 with *cause.
	 */
	int	(*tcp)(struct sshgw_session *, char *const *argv, int argc, char **note,
		    char **cause);
	/* `register`: bind the session's key to its token's account; 0 or -1, with *msg. */
	int	(*register_key)(struct sshgw_session *, char **msg);
	/* The session logged in (optional). */
	void	(*logged_in)(struct sshgw_session *);
	/* The `status` command: a new string listing the account's live tunnels. */
	char	*(*status)(struct sshgw_session *);
	/*
	 * A tcpip-forward: open a public port; 0 with *bound and *udp (1: a UDP port, shown
	 * as udp://), or -1 with *reason.
	 */
	int	(*forward_add)(struct sshgw_session *, const char *address, int port,
		    int *bound, int *udp, char **reason);
	/*
	 * A cancel-tcpip-forward of the forward the client asked for as address:port (port:
	 * the one it asked for, or the one it got): close that public port; 0, or -1 when the
	 * session has no such forward. The daemon keeps the session's forwards; the session
	 * ending closes them all (session_closed).
	 */
	int	(*forward_cancel)(struct sshgw_session *, const char *address, int port);
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

/*
 * The SSH layer's settings, filled by the daemon from its configuration. The server keeps a
 * copy with its own copies of the strings; host_keys is read only by sshgw_server_create.
 */
struct sshgw_settings {
	char *const	*host_keys;		/* paths of the host key files */
	size_t		 nhost_keys;
	const char	*ciphers;		/* offered both ways, as libssh names them */
	const char	*public_host;		/* HOST of the "Forwarding tcp://HOST:PORT" lines */
	int		 login_grace_time;	/* seconds a client has to log in */
	int		 max_auth_tries;	/* refused attempts that end a session */
	int		 channel_open_timeout;	/* seconds a client has to answer a channel open */
	size_t		 max_buffered;		/* bytes all sessions together may hold */
	int		 client_alive_interval;	/* seconds of silence before a keepalive; 0 = none */
	int		 client_alive_count_max; /* unanswered keepalives that end a session */
};


struct sshgw_server *sshgw_server_create(const struct sshgw_settings *,
	    const struct sshgw_hooks *, char **);
void	 sshgw_server_free(struct sshgw_server *);

struct sshgw_session *sshgw_session_create(struct sshgw_server *, struct event_base *, int);
void	 sshgw_session_close(struct sshgw_session *, const char *);
int	 sshgw_alive_probe(struct sshgw_session *, int);
void	 sshgw_session_set_data(struct sshgw_session *, void *);
void	*sshgw_session_data(const struct sshgw_session *);
unsigned long long sshgw_session_id(const struct sshgw_session *);
void	 sshgw_session_notice(struct sshgw_session *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
size_t	 sshgw_session_count(void);
unsigned long sshgw_login_failures(void);

struct sshgw_channel *sshgw_channel_open(struct sshgw_session *, const char *, int,
	    const char *, int,
	    const struct sshgw_channel_events *, void *);
ssize_t	 sshgw_channel_write(struct sshgw_channel *, const void *, size_t);
size_t	 sshgw_channel_window(struct sshgw_channel *);
ssize_t	 sshgw_channel_read(struct sshgw_channel *, void *, size_t);
size_t	 sshgw_channel_pending(const struct sshgw_channel *);
void	 sshgw_channel_backlog(struct sshgw_channel *, size_t);
size_t	 sshgw_channel_held(void);
int	 sshgw_channel_command_pending(const struct sshgw_channel *);
void	 sshgw_channel_eof(struct sshgw_channel *);
void	 sshgw_channel_free(struct sshgw_channel *);

#endif
