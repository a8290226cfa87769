/* SPDX-License-Identifier: ISC */
/* tunnelgw: what the files of the SSH layer share among themselves; private to sshgw/. */
#ifndef TG_SSHGW_INT_H
#define TG_SSHGW_INT_H

#include <sys/queue.h>

#include <libssh/libssh.h>
#include <libssh/callbacks.h>
#include <libssh/server.h>
#include <time.h>

#include "sshgw.h"

#ifndef TAILQ_FOREACH_SAFE
#define TAILQ_FOREACH_SAFE(var, head, field, tvar)			\
	for ((var) = TAILQ_FIRST((head));				\
	    (var) && ((tvar) = TAILQ_NEXT((var), field), 1);		\
	    (var) = (tvar))
#endif

#define SSHGW_MAX_OPENING	256	/* channels one session may have waiting for the client */
#define SSHGW_MAX_NOTICES	16	/* refusal lines kept until a session channel opens */
#define SSHGW_MAX_CANCELS	64	/* forward cancels kept while the daemon is in a call */
#define SSHGW_MAX_COMMAND	1024	/* longest command line accepted */
#define SSHGW_POLL_BURST	64	/* packets read per wake-up before yielding to others */
#define SSHGW_MAX_UNFLUSHED	(1024 * 1024)	/* bytes queued toward a client not reading */
#define SSHGW_MAX_PENDING	(4 * 1024 * 1024) /* bytes a client may send past its window */
#define SSHGW_WINDOW		(3 * 1024 * 1024) /* receive window we grant while data flows */
#define SSHGW_REST_MS		100	/* a session not read looks again this often */
#define SSHGW_REST_HELD		(256 * 1024)	/* held bytes that make a session rest, over budget */
#define SSHGW_READAHEAD		(64 * 1024)	/* bytes read from the client's socket at once */

struct sshgw_server {
	ssh_bind			 bind;
	struct sshgw_settings		 set;		/* a copy: its strings are ours, no host_keys */
	const struct sshgw_hooks	*hooks;
	char				*hostkey_algs;	/* offered for the host keys loaded */
};

/* The gateway's algorithm lists, as its KEXINIT offers them. */
enum sshgw_offer {
	SSHGW_OFFER_KEX,
	SSHGW_OFFER_HOSTKEY,
	SSHGW_OFFER_CIPHER,
	SSHGW_OFFER_MAC,
	SSHGW_OFFER_COMPRESSION,
};

enum sshgw_chan_state {
	CHAN_OPENING,		/* waiting for the client's answer */
	CHAN_OPEN,
	CHAN_CLOSED,		/* closed by the client, or its session ended */
	CHAN_FAILED,		/* the client refused it, or did not answer in time */
};

/* Notices a channel owes its owner, delivered after libssh returns. */
#define CHAN_NOTE_OPENED	0x1
#define CHAN_NOTE_FAILED	0x2
#define CHAN_NOTE_EOF		0x4
#define CHAN_NOTE_CLOSED	0x8
#define CHAN_NOTE_GROW		0x10	/* not for the owner: grant the client more window */

struct sshgw_channel {
	struct sshgw_session			*sess;
	ssh_channel				 ch;
	struct ssh_channel_callbacks_struct	 cb;
	const struct sshgw_channel_events	*ev;		/* NULL: the owner let go while opening */
	void					*arg;
	enum sshgw_chan_state			 state;
	char					*address;
	int					 bound;
	char					*orig_ip;
	int					 orig_port;
	time_t					 deadline;
	size_t					 pending;	/* bytes libssh holds that the owner did not take */
	size_t					 since_grow;	/* bytes received since we last granted window */
	int					 notes;
	char					*reason;
	int					 blocked;	/* a write was cut short */
	int					 zero_window;	/* ... settled: window empty, or unflushed held it */
	int					 eof_sent;
	int					 confirmed;	/* the client answered yes */
	size_t					 backlog;	/* the owner's bytes not yet written out */
	TAILQ_ENTRY(sshgw_channel)		 entry;		/* every channel of the session */
	TAILQ_ENTRY(sshgw_channel)		 wait;		/* opening or blocked on the window */
	TAILQ_ENTRY(sshgw_channel)		 note;		/* notices pending */
	int					 on_wait;
	unsigned long				 wait_round;	/* the session's round it began waiting in */
	int					 on_note;
};

TAILQ_HEAD(sshgw_channels, sshgw_channel);

struct sshgw_session {
	unsigned long long			 id;
	struct sshgw_server			*srv;
	struct event_base			*base;
	ssh_session				 ssh;
	ssh_event				 sev;
	struct event				*io;
	struct event				*kick;
	struct event				*grace;
	struct event				*tick;		/* runs while channels are opening */
	struct ssh_server_callbacks_struct	 scb;
	struct ssh_callbacks_struct		 ccb;		/* progress of the key exchange */
	struct sshgw_negotiate			*nego;		/* the client's KEXINIT, until kex_done */
	int					 fd;
	char					*peer;
	int					 kex_done;
	int					 authenticated;
	int					 auth_failures;
	char					*account;	/* once logged in */
	char					*kbd_user;	/* user name of a keyboard-interactive round */
	int					 told;		/* a once-a-session refusal was told */
	char					*kex_error;	/* libssh's error when the key exchange ended */

	/* The session channel, where commands run and the banner is shown. */
	ssh_channel				 sch;
	struct ssh_channel_callbacks_struct	 schcb;
	int					 pty;
	char					*command;	/* received, not yet run */
	int					 command_seen;	/* an exec or shell request came */
	int					 tcp_active;
	struct event				*tcp_wait;	/* `tcp` waiting for a forward request */
	unsigned int				 forwards_asked;	/* tcpip-forward requests seen */
	int					 sch_closed;
	char					*notices[SSHGW_MAX_NOTICES];
	/*
	 * The daemon is inside a call of this layer that lets libssh read (opening a channel,
	 * writing during a key re-exchange): a cancel-tcpip-forward that arrives then is kept
	 * and passed on after, so the daemon never frees what the call's caller holds.
	 */
	int					 owner_call;
	struct {
		char				*address;
		int				 port;
	}					 cancels[SSHGW_MAX_CANCELS];
	size_t					 ncancels;
	size_t					 nnotices;

	struct sshgw_channels			 channels;
	struct sshgw_channels			 waiting;
	unsigned long				 wait_round;	/* walks of the waiting list */
	struct sshgw_channels			 noted;
	size_t					 nopening;
	int					 in_process;
	char					*closing;	/* why, once the session must end */
	short					 events;	/* what io waits for */
	size_t					 unflushed;	/* written since libssh's buffer was last empty */
	int					 flush_due;	/* bytes written behind; post sends them */
	size_t					 held;		/* its channels' pending and backlog bytes */
	int					 paused;	/* not read: see sshgw_session_rest() */
	struct event				*pause;
	struct ssh_counter_struct		 sock;		/* bytes libssh read from the socket */
	struct ssh_counter_struct		 rx;		/* packets libssh took from the client */
	uint64_t				 rx_seen;	/* rx.in_packets when last looked */
	int64_t					 heard;		/* ms, when the client was last heard */
	int64_t					 alive_sent;	/* ms, last keepalive sent since then */
	int					 alive_missed;	/* keepalives sent since it last did */
	int					 probe_waiting;	/* an immediate probe awaits an answer */
	struct event				*alive;		/* every client_alive_interval */
	struct event				*probe;		/* an immediate probe's deadline */
	void					*data;
};

int	 sshgw_login_message(struct sshgw_session *, ssh_message);
void	 sshgw_login_unanswered(struct sshgw_session *);
const char *sshgw_server_offer(const struct sshgw_server *, enum sshgw_offer);
struct sshgw_negotiate *sshgw_negotiate_create(const struct ssh_counter_struct *);
void	 sshgw_negotiate_free(struct sshgw_negotiate *);
void	 sshgw_negotiate_peek(struct sshgw_negotiate *, int);
int	 sshgw_negotiate_check(const struct sshgw_negotiate *, const struct sshgw_server *,
	    char **);
void	 sshgw_negotiate_disconnect(int, const char *);
void	 sshgw_login_callbacks(struct sshgw_session *);
void	 sshgw_login_free(struct sshgw_session *);
void	 sshgw_session_kick(struct sshgw_session *);
void	 sshgw_session_update(struct sshgw_session *);
void	 sshgw_session_touched(struct sshgw_session *);
void	 sshgw_channel_post(struct sshgw_session *, int);
void	 sshgw_channel_detach_all(struct sshgw_session *);
int	 sshgw_channel_over_budget(const struct sshgw_session *);
void	 sshgw_sockio_start(int, void (*)(void *), void *);
void	 sshgw_sockio_stop(int);
int	 sshgw_sockio_flush(int);
int	 sshgw_readahead_pending(int);
size_t	 sshgw_writebehind_pending(int);
int	 sshgw_fd_keep(int);
int	 sshgw_fd_close(int);
void	 sshgw_alive_start(struct sshgw_session *);
void	 sshgw_alive_check(struct sshgw_session *);
void	 sshgw_alive_stop(struct sshgw_session *);
void	 sshgw_command_post(struct sshgw_session *);
void	 sshgw_command_forward_added(struct sshgw_session *, const char *, int, int, int);
void	 sshgw_command_write(struct sshgw_session *, int, const char *);
void	 sshgw_command_free(struct sshgw_session *);
int	 sshgw_command_pending(const struct sshgw_session *);
ssh_channel sshgw_command_channel_open(ssh_session, void *);

#endif
