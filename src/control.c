/* SPDX-License-Identifier: ISC */
/*
 * tunnelgw: the control socket. The daemon listens on a Unix socket (mode 0600, in a folder
 * only its user can write) from the main thread's loop; tunnelgwctl connects, sends one
 * request line and reads the reply until the daemon closes the connection:
 *
 *	request:  "tunnels" or "tunnels --json", then LF
 *	reply:    "OK" LF and the answer, or "ERR message" LF
 *
 * Every client is bounded: a request line of at most CONTROL_MAX_REQUEST bytes,
 * CONTROL_TIMEOUT seconds for the whole exchange, and CONTROL_MAX_CLIENTS served at once
 * (more wait in the backlog). Once the reply is sent the daemon shuts its side down and
 * reads and discards whatever the client still sends (the rest of an over-long request)
 * until the client closes: closing a socket with unread data in it would reset the
 * connection, and the client could lose the reply. Both ends of the protocol live in this
 * file.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "control.h"
#include "listener.h"
#include "log.h"
#include "nodes.h"
#include "registry.h"
#include "xmalloc.h"

#define CONTROL_BACKLOG		64
#define CONTROL_MAX_CLIENTS	16	/* served at once; more wait in the backlog */
#define CONTROL_MAX_REQUEST	256	/* bytes in a request line */
#define CONTROL_TIMEOUT		5	/* seconds for a client's whole exchange */
#define CONTROL_MAX_REPLY	(256 * 1024 * 1024)	/* the most tunnelgwctl reads */
#define CONTROL_MAX_DISCARD	(64 * 1024)	/* bytes dropped after the reply, at most */

/* One connected control client. */
struct control_client {
	struct control			*ctl;
	struct bufferevent		*bev;
	struct event			*deadline;
	int				 answered;
	int				 draining;	/* replied: wait for the client's EOF */
	size_t				 discarded;
	LIST_ENTRY(control_client)	 entry;
};

struct control {
	struct event_base		*base;
	char				*path;
	int				 fd;
	dev_t				 dev;		/* the socket file we made, so that we */
	ino_t				 ino;		/* remove only ours */
	struct event			*ev;		/* NULL once closing */
	struct event			*resume;	/* after a pause for lack of resources */
	int				 nclients;
	LIST_HEAD(, control_client)	 clients;
};

/*
 * The live tunnels of every gateway sharing the database (of this one alone without one),
 * in columns under a header or as a JSON array. With the database away, this gateway's.
 */
static char *
control_tunnels(int json)
{
	char	*out, *cause;

	out = nodes_format(NULL, json, NULL, &cause);
	if (cause != NULL) {
		log_warn("tunnels: the other gateways' tunnels: %s", cause);
		free(cause);
	}
	return out;
}

/* The live tunnels, in columns under a header. */
static char *
control_tunnels_text(void)
{
	return control_tunnels(0);
}

/* The live tunnels, as a JSON array. */
static char *
control_tunnels_json(void)
{
	return control_tunnels(1);
}

/* The requests the daemon answers: the whole line, and what makes the answer. */
static const struct control_request {
	const char	*line;
	char		*(*answer)(void);
} control_requests[] = {
	{ "tunnels", control_tunnels_text },
	{ "tunnels --json", control_tunnels_json },
};

/* libevent: free an answer handed to an evbuffer by reference, once it is sent. */
static void
control_text_free(const void *data, size_t len, void *arg)
{
	free((void *)data);
}

/* Forget a client: close its connection; accepting resumes if the cap had stopped it. */
static void
control_client_free(struct control_client *cl)
{
	struct control	*ctl = cl->ctl;

	LIST_REMOVE(cl, entry);
	ctl->nclients--;
	event_free(cl->deadline);
	bufferevent_free(cl->bev);
	free(cl);
	if (ctl->ev != NULL && !evtimer_pending(ctl->resume, NULL))
		event_add(ctl->ev, NULL);
}

/* Answer a request line (NULL: not one line within the size limit); close once it is sent. */
static void
control_client_answer(struct control_client *cl, const char *line)
{
	struct evbuffer	*out = bufferevent_get_output(cl->bev);
	char		*text = NULL;
	size_t		 i;

	cl->answered = 1;
	bufferevent_disable(cl->bev, EV_READ);
	if (line == NULL) {
		evbuffer_add_printf(out, "ERR the request is not one line of at most %d bytes\n",
		    CONTROL_MAX_REQUEST);
		return;
	}
	for (i = 0; i < sizeof control_requests / sizeof control_requests[0]; i++) {
		if (strcmp(line, control_requests[i].line) == 0) {
			text = control_requests[i].answer();
			break;
		}
	}
	if (text == NULL) {
		evbuffer_add_printf(out, "ERR unknown request (this daemon answers: tunnels, "
		    "tunnels --json)\n");
		return;
	}
	evbuffer_add(out, "OK\n", 3);
	if (evbuffer_add_reference(out, text, strlen(text), control_text_free, NULL) != 0)
		fatal("out of memory answering a control client");
}

/* Is line, of len bytes, a request line: within the size limit, with no NUL inside. */
static int
control_line_ok(const char *line, size_t len)
{
	return len <= CONTROL_MAX_REQUEST && strlen(line) == len;
}

/* Drop what a client sent after its request; close one that sends too much of it. */
static void
control_client_discard(struct control_client *cl)
{
	struct evbuffer	*in = bufferevent_get_input(cl->bev);

	cl->discarded += evbuffer_get_length(in);
	evbuffer_drain(in, evbuffer_get_length(in));
	if (cl->discarded > CONTROL_MAX_DISCARD)
		control_client_free(cl);
}

/* libevent: the request arrived, or part of it; or, once answered, more to discard. */
static void
control_client_read(struct bufferevent *bev, void *arg)
{
	struct control_client	*cl = arg;
	struct evbuffer		*in = bufferevent_get_input(bev);
	char			*line;
	size_t			 len;

	if (cl->draining) {
		control_client_discard(cl);
		return;
	}
	if (cl->answered)
		return;
	if ((line = evbuffer_readln(in, &len, EVBUFFER_EOL_CRLF)) == NULL) {
		/* Reading stops at CONTROL_MAX_REQUEST + 1 bytes (the watermark). */
		if (evbuffer_get_length(in) > CONTROL_MAX_REQUEST)
			control_client_answer(cl, NULL);
		return;
	}
	control_client_answer(cl, control_line_ok(line, len) ? line : NULL);
	free(line);
}

/*
 * libevent: the answer is sent: end our side (the client reads EOF after the reply), then
 * discard what the client still sends until it closes too, so the close resets nothing.
 */
static void
control_client_written(struct bufferevent *bev, void *arg)
{
	struct control_client	*cl = arg;

	if (!cl->answered || cl->draining || evbuffer_get_length(bufferevent_get_output(bev)) != 0)
		return;
	cl->draining = 1;
	if (shutdown(bufferevent_getfd(bev), SHUT_WR) == -1 ||
	    bufferevent_enable(bev, EV_READ) != 0) {
		control_client_free(cl);
		return;
	}
	control_client_discard(cl);
}

/*
 * libevent: end of input or an error. A request cut short by EOF is taken as it is; after
 * the reply, the client's EOF ends the exchange.
 */
static void
control_client_event(struct bufferevent *bev, short what, void *arg)
{
	struct control_client	*cl = arg;
	struct evbuffer		*in = bufferevent_get_input(bev);
	char			 line[CONTROL_MAX_REQUEST + 1];
	size_t			 len;

	if ((what & BEV_EVENT_EOF) && !(what & BEV_EVENT_ERROR) && !cl->answered &&
	    (len = evbuffer_get_length(in)) > 0 && len <= CONTROL_MAX_REQUEST) {
		evbuffer_remove(in, line, len);
		line[len] = '\0';
		if (line[len - 1] == '\r')
			line[--len] = '\0';
		control_client_answer(cl, control_line_ok(line, len) ? line : NULL);
		return;
	}
	control_client_free(cl);
}

/* libevent: a client took too long over its exchange. */
static void
control_client_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct control_client	*cl = arg;

	log_debug("control socket: a client took longer than %d s; closed", CONTROL_TIMEOUT);
	control_client_free(cl);
}

/* Serve a newly accepted control client. */
static void
control_client_create(struct control *ctl, int fd)
{
	struct control_client	*cl = xcalloc(1, sizeof *cl);
	struct timeval		 tv = { CONTROL_TIMEOUT, 0 };

	cl->ctl = ctl;
	cl->bev = bufferevent_socket_new(ctl->base, fd, BEV_OPT_CLOSE_ON_FREE);
	cl->deadline = evtimer_new(ctl->base, control_client_timeout, cl);
	if (cl->bev == NULL || cl->deadline == NULL || evtimer_add(cl->deadline, &tv) != 0)
		fatal("cannot add a control client to the event loop");
	bufferevent_setcb(cl->bev, control_client_read, control_client_written,
	    control_client_event, cl);
	bufferevent_setwatermark(cl->bev, EV_READ, 0, CONTROL_MAX_REQUEST + 1);
	if (bufferevent_enable(cl->bev, EV_READ | EV_WRITE) != 0)
		fatal("cannot add a control client to the event loop");
	LIST_INSERT_HEAD(&ctl->clients, cl, entry);
	ctl->nclients++;
}

/* libevent: accepting may resume after a pause for lack of resources. */
static void
control_resume(evutil_socket_t fd, short what, void *arg)
{
	struct control	*ctl = arg;

	if (ctl->nclients < CONTROL_MAX_CLIENTS)
		event_add(ctl->ev, NULL);
}

/* libevent: tunnelgwctl is connecting; beyond the cap, clients wait in the backlog. */
static void
control_accept(evutil_socket_t fd, short what, void *arg)
{
	struct control	*ctl = arg;
	struct timeval	 tv = { 0, LISTENER_PAUSE_MS * 1000 };
	int		 c;

	while (ctl->nclients < CONTROL_MAX_CLIENTS) {
		c = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (c == -1) {
			if (listener_exhausted("accepting control clients", errno)) {
				event_del(ctl->ev);
				evtimer_add(ctl->resume, &tv);
			} else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR &&
			    errno != ECONNABORTED)
				log_warn("control socket: accept: %s", strerror(errno));
			return;
		}
		control_client_create(ctl, c);
	}
	event_del(ctl->ev);
}

/* Fill a Unix socket address for path; -1 with *cause when the path is too long. */
static int
control_address(const char *path, struct sockaddr_un *sun, char **cause)
{
	memset(sun, 0, sizeof *sun);
	sun->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof sun->sun_path) {
		xasprintf(cause, "control_socket %s: the path is longer than %zu bytes", path,
		    sizeof sun->sun_path - 1);
		return -1;
	}
	memcpy(sun->sun_path, path, strlen(path) + 1);
	return 0;
}

/*
 * Check the socket's folder: a folder, ours or root's, that nobody else may write, so nobody
 * else can put their own socket in our place.
 */
static int
control_check_folder(const char *path, char **cause)
{
	struct stat	 sb;
	char		*dir = xstrdup(path), *slash = strrchr(dir, '/');
	int		 rc = -1;

	if (slash == NULL)
		strcpy(dir, ".");
	else if (slash == dir)
		slash[1] = '\0';
	else
		*slash = '\0';
	if (stat(dir, &sb) == -1)
		xasprintf(cause, "control_socket %s: folder %s: %s", path, dir, strerror(errno));
	else if (!S_ISDIR(sb.st_mode))
		xasprintf(cause, "control_socket %s: %s is not a folder", path, dir);
	else if (sb.st_uid != geteuid() && sb.st_uid != 0)
		xasprintf(cause, "control_socket %s: folder %s belongs to another user; the socket "
		    "needs a folder only tunnelgw's user can write", path, dir);
	else if ((sb.st_mode & (S_IWGRP | S_IWOTH)) != 0)
		xasprintf(cause, "control_socket %s: others may write folder %s (mode %04o); use "
		    "a folder only tunnelgw's user can write, such as /run/tunnelgw, or "
		    "chmod go-w %s", path, dir, (unsigned int)(sb.st_mode & 07777), dir);
	else
		rc = 0;
	free(dir);
	return rc;
}

/*
 * Make way for the socket at path: nothing there, or a socket nobody answers on (left by a
 * daemon that was killed), which is removed. A daemon answering there, or a file that is not
 * a socket, is an error.
 */
static int
control_clear(const char *path, const struct sockaddr_un *sun, char **cause)
{
	struct stat	 sb;
	int		 fd, rc, err;

	if (lstat(path, &sb) == -1) {
		if (errno == ENOENT)
			return 0;
		xasprintf(cause, "control_socket %s: %s", path, strerror(errno));
		return -1;
	}
	if (!S_ISSOCK(sb.st_mode)) {
		xasprintf(cause, "control_socket %s exists and is not a socket; remove it or set "
		    "control_socket to another path", path);
		return -1;
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) == -1) {
		xasprintf(cause, "control_socket %s: socket: %s", path, strerror(errno));
		return -1;
	}
	/* Non-blocking: a live daemon with a full backlog answers EAGAIN, not a wait. */
	rc = connect(fd, (const struct sockaddr *)sun, sizeof *sun);
	err = errno;
	close(fd);
	if (rc == 0 || err == EAGAIN) {
		xasprintf(cause, "another tunnelgw is running: its control socket %s answers", path);
		return -1;
	}
	if (err != ECONNREFUSED) {
		xasprintf(cause, "control_socket %s: cannot tell whether a daemon uses it: %s",
		    path, strerror(err));
		return -1;
	}
	if (unlink(path) == -1 && errno != ENOENT) {
		xasprintf(cause, "control_socket %s: cannot remove the stale socket: %s", path,
		    strerror(errno));
		return -1;
	}
	log_info("control socket %s was left by a daemon that did not stop cleanly; replacing it",
	    path);
	return 0;
}

/* Bind a new listening socket at path with mode 0600; the descriptor, or -1 with *cause. */
static int
control_bind(const char *path, const struct sockaddr_un *sun, char **cause)
{
	mode_t	 mask;
	int	 fd, rc, err;

	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) == -1) {
		xasprintf(cause, "control_socket %s: socket: %s", path, strerror(errno));
		return -1;
	}
	/*
	 * Made with mode 0600 from the start, so there is no moment in which others could
	 * connect. The umask is the process's; nothing else runs yet while the daemon starts.
	 */
	mask = umask(0177);
	rc = bind(fd, (const struct sockaddr *)sun, sizeof *sun);
	err = errno;
	umask(mask);
	if (rc == -1) {
		xasprintf(cause, "control_socket %s: cannot create it: %s (set control_socket to a "
		    "path in a folder tunnelgw can write, or to \"\" to turn it off)", path,
		    strerror(err));
		close(fd);
		return -1;
	}
	if (chmod(path, 0600) == -1 || listen(fd, CONTROL_BACKLOG) == -1) {
		xasprintf(cause, "control_socket %s: %s", path, strerror(errno));
		unlink(path);
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * Listen for tunnelgwctl on the Unix socket at path, in the loop of base (the main
 * thread's); a stale socket left by a killed daemon is replaced. Returns the control
 * server, or NULL with *cause.
 */
struct control *
control_open(struct event_base *base, const char *path, char **cause)
{
	struct sockaddr_un	 sun;
	struct control		*ctl;
	struct stat		 sb;
	int			 fd;

	if (control_address(path, &sun, cause) != 0 || control_check_folder(path, cause) != 0 ||
	    control_clear(path, &sun, cause) != 0)
		return NULL;
	if ((fd = control_bind(path, &sun, cause)) == -1)
		return NULL;
	ctl = xcalloc(1, sizeof *ctl);
	ctl->base = base;
	ctl->path = xstrdup(path);
	ctl->fd = fd;
	if (stat(path, &sb) == 0) {
		ctl->dev = sb.st_dev;
		ctl->ino = sb.st_ino;
	}
	LIST_INIT(&ctl->clients);
	ctl->ev = event_new(base, fd, EV_READ | EV_PERSIST, control_accept, ctl);
	ctl->resume = evtimer_new(base, control_resume, ctl);
	if (ctl->ev == NULL || ctl->resume == NULL || event_add(ctl->ev, NULL) != 0)
		fatal("cannot add the control socket to the event loop");
	log_info("control socket %s ready for tunnelgwctl", path);
	return ctl;
}

/* Close the control socket and its clients, and remove the socket file if it is ours. */
void
control_free(struct control *ctl)
{
	struct stat	 sb;

	if (ctl == NULL)
		return;
	event_free(ctl->ev);
	ctl->ev = NULL;
	while (!LIST_EMPTY(&ctl->clients))
		control_client_free(LIST_FIRST(&ctl->clients));
	event_free(ctl->resume);
	close(ctl->fd);
	if (lstat(ctl->path, &sb) == 0 && sb.st_dev == ctl->dev && sb.st_ino == ctl->ino)
		unlink(ctl->path);
	free(ctl->path);
	free(ctl);
}

/* Write all of buf to fd; 0, or -1 with errno. */
static int
control_send(int fd, const char *buf, size_t len)
{
	ssize_t	 n;

	while (len > 0) {
		if ((n = send(fd, buf, len, MSG_NOSIGNAL)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Read from fd until EOF into a new NUL-terminated string; NULL with errno set on failure. */
static char *
control_receive(int fd, size_t *len)
{
	char	*buf = NULL;
	size_t	 size = 0;
	ssize_t	 n;

	*len = 0;
	for (;;) {
		if (size - *len < 4096) {
			if (size >= CONTROL_MAX_REPLY) {
				free(buf);
				errno = EMSGSIZE;
				return NULL;
			}
			size = size == 0 ? 65536 : size * 2;
			buf = xreallocarray(buf, 1, size);
		}
		if ((n = read(fd, buf + *len, size - *len - 1)) == -1) {
			if (errno == EINTR)
				continue;
			free(buf);
			return NULL;
		}
		if (n == 0)
			break;
		*len += (size_t)n;
	}
	buf[*len] = '\0';
	return buf;
}

/* Turn a reply into the answer (0, in *answer) or the daemon's refusal (-1, in *cause). */
static int
control_parse_reply(const char *path, char *buf, size_t len, char **answer, char **cause)
{
	char	*nl;

	if (len >= 3 && memcmp(buf, "OK\n", 3) == 0) {
		memmove(buf, buf + 3, len - 3 + 1);
		*answer = buf;
		return 0;
	}
	if (len >= 4 && memcmp(buf, "ERR ", 4) == 0) {
		if ((nl = strchr(buf, '\n')) != NULL)
			*nl = '\0';
		xasprintf(cause, "the daemon at %s refused: %.200s", path, buf + 4);
	} else if (len == 0)
		xasprintf(cause, "the daemon at %s closed the connection without an answer", path);
	else
		xasprintf(cause, "the daemon at %s answered something this tunnelgwctl does not "
		    "understand", path);
	free(buf);
	return -1;
}

/*
 * tunnelgwctl: send request to the daemon listening at path and return its answer in
 * *answer, a new string; -1 with *cause when the daemon cannot be reached or refuses.
 */
int
control_query(const char *path, const char *request, char **answer, char **cause)
{
	struct sockaddr_un	 sun;
	struct timeval		 tv = { 2 * CONTROL_TIMEOUT, 0 };
	char			*line, *buf;
	size_t			 len;
	int			 fd, rc;

	if (*path == '\0') {
		xasprintf(cause, "the control socket is off (control_socket = \"\" in the "
		    "configuration), so live state cannot be asked for");
		return -1;
	}
	if (control_address(path, &sun, cause) != 0)
		return -1;
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1) {
		xasprintf(cause, "socket: %s", strerror(errno));
		return -1;
	}
	/* The timeouts also bound connect(), which waits while the daemon's backlog is full. */
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	if (connect(fd, (struct sockaddr *)&sun, sizeof sun) == -1) {
		xasprintf(cause, "cannot reach the daemon at %s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	xasprintf(&line, "%s\n", request);
	rc = control_send(fd, line, strlen(line));
	free(line);
	if (rc != 0 || (buf = control_receive(fd, &len)) == NULL) {
		xasprintf(cause, "no answer from the daemon at %s: %s", path,
		    errno == EAGAIN || errno == EWOULDBLOCK ? "timed out" : strerror(errno));
		close(fd);
		return -1;
	}
	close(fd);
	return control_parse_reply(path, buf, len, answer, cause);
}
