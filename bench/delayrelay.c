/*
 * delayrelay: a user-space TCP relay that adds a fixed one-way delay (loopback only).
 *
 *   delayrelay LISTENPORT TARGETPORT DELAY_MS
 *
 * Listens on 127.0.0.1:LISTENPORT (0 = any; the port is printed as "port N"), connects each
 * accepted connection to 127.0.0.1:TARGETPORT, and relays both directions. Every chunk read is
 * stamped on arrival and written out DELAY_MS later, in order; reading never stops meanwhile,
 * so the relay adds delay (a round trip of 2 x DELAY_MS) without limiting the rate: the TCP
 * windows on either side see a fast local peer and what bounds a stream is the sender's own
 * window (here: the SSH channel window). EOF is passed on DELAY_MS later too (half-close).
 * One thread, epoll, level-triggered; timer precision from epoll_pwait2 (nanoseconds).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define READSZ	(256 * 1024)

struct chunk {
	struct chunk	*next;
	double		 due;
	size_t		 len, off;	/* len 0: EOF marker */
	char		 data[];
};

struct dir {
	struct chunk	*head, *tail;
	int		 blocked;	/* waiting for EPOLLOUT on the destination */
	int		 rd_eof;	/* source reached EOF (marker queued) */
	int		 wr_done;	/* EOF passed on */
};

struct side {
	struct pair	*p;
	int		 idx;
};

struct pair {
	struct pair	*next, **prevp;
	int		 fd[2];
	struct dir	 d[2];		/* d[i]: from fd[i] to fd[1 - i] */
	struct side	 s[2];
	int		 dead;
};

static struct pair *pairs;
static double delay;
static int ep;

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
interest(struct pair *p, int i)
{
	struct epoll_event ev;

	ev.events = 0;
	if (!p->d[i].rd_eof)
		ev.events |= EPOLLIN;
	if (p->d[1 - i].blocked)
		ev.events |= EPOLLOUT;
	ev.data.ptr = &p->s[i];
	epoll_ctl(ep, EPOLL_CTL_MOD, p->fd[i], &ev);
}

static void
pair_free(struct pair *p)
{
	int i;
	struct chunk *c, *n;

	for (i = 0; i < 2; i++) {
		close(p->fd[i]);
		for (c = p->d[i].head; c != NULL; c = n) {
			n = c->next;
			free(c);
		}
	}
	*p->prevp = p->next;
	if (p->next != NULL)
		p->next->prevp = p->prevp;
	free(p);
}

static void
enqueue(struct dir *d, const char *buf, size_t len)
{
	struct chunk *c = malloc(sizeof *c + len);

	if (c == NULL)
		abort();
	c->next = NULL;
	c->due = now() + delay;
	c->len = len;
	c->off = 0;
	memcpy(c->data, buf, len);
	if (d->tail != NULL)
		d->tail->next = c;
	else
		d->head = c;
	d->tail = c;
}

static void
on_readable(struct pair *p, int i)
{
	static char buf[READSZ];
	ssize_t r = read(p->fd[i], buf, sizeof buf);

	if (r == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (r < 0) {
		p->dead = 1;
		return;
	}
	if (r == 0) {
		p->d[i].rd_eof = 1;
		enqueue(&p->d[i], buf, 0);
		interest(p, i);
		return;
	}
	enqueue(&p->d[i], buf, r);
}

/* Write out what is due in direction i; returns the next due time (0 when none waits). */
static double
flush(struct pair *p, int i, double t)
{
	struct dir *d = &p->d[i];
	int out = p->fd[1 - i];

	while (d->head != NULL && !d->blocked && d->head->due <= t) {
		struct chunk *c = d->head;

		if (c->len == 0) {
			shutdown(out, SHUT_WR);
			d->wr_done = 1;
		} else {
			ssize_t w = write(out, c->data + c->off, c->len - c->off);

			if (w == -1 && errno == EAGAIN) {
				d->blocked = 1;
				interest(p, 1 - i);
				break;
			}
			if (w <= 0) {
				p->dead = 1;
				return 0;
			}
			c->off += w;
			if (c->off < c->len)
				continue;
		}
		d->head = c->next;
		if (d->head == NULL)
			d->tail = NULL;
		free(c);
	}
	if (d->head != NULL && !d->blocked)
		return d->head->due;
	return 0;
}

int
main(int argc, char **argv)
{
	struct sockaddr_in sa;
	socklen_t sl = sizeof sa;
	struct epoll_event ev, evs[64];
	int lfd, target, one = 1, n, i;

	if (argc != 4) {
		fprintf(stderr, "usage: delayrelay LISTENPORT TARGETPORT DELAY_MS\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	target = atoi(argv[2]);
	delay = atof(argv[3]) / 1000.0;
	ep = epoll_create1(EPOLL_CLOEXEC);
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	memset(&sa, 0, sizeof sa);
	sa.sin_family = AF_INET;
	sa.sin_port = htons(atoi(argv[1]));
	sa.sin_addr.s_addr = htonl(0x7f000001);
	if (bind(lfd, (struct sockaddr *)&sa, sizeof sa) == -1 || listen(lfd, 128) == -1) {
		perror("delayrelay: listen");
		return 1;
	}
	getsockname(lfd, (struct sockaddr *)&sa, &sl);
	printf("port %d\n", ntohs(sa.sin_port));
	fflush(stdout);
	ev.events = EPOLLIN;
	ev.data.ptr = NULL;
	epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);

	for (;;) {
		double t = now(), next = 0;
		struct timespec ts, *tsp = NULL;
		struct pair *p, *pn;

		for (p = pairs; p != NULL; p = p->next)
			for (i = 0; i < 2; i++)
				if (p->d[i].head != NULL && !p->d[i].blocked &&
				    (next == 0 || p->d[i].head->due < next))
					next = p->d[i].head->due;
		if (next != 0) {
			double w = next - t;

			if (w < 0)
				w = 0;
			ts.tv_sec = (time_t)w;
			ts.tv_nsec = (long)((w - ts.tv_sec) * 1e9);
			tsp = &ts;
		}
		n = epoll_pwait2(ep, evs, 64, tsp, NULL);
		for (i = 0; i < n; i++) {
			struct side *s = evs[i].data.ptr;

			if (s == NULL) {
				int cfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC), tfd;

				if (cfd == -1)
					continue;
				tfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
				sa.sin_port = htons(target);
				if (connect(tfd, (struct sockaddr *)&sa, sizeof sa) == -1) {
					perror("delayrelay: connect to target");
					close(cfd);
					close(tfd);
					continue;
				}
				p = calloc(1, sizeof *p);
				p->fd[0] = cfd;
				p->fd[1] = tfd;
				for (int k = 0; k < 2; k++) {
					int fl = 1;

					setsockopt(p->fd[k], IPPROTO_TCP, TCP_NODELAY, &fl, sizeof fl);
					/* nonblocking from here on */
					fcntl(p->fd[k], F_SETFL, fcntl(p->fd[k], F_GETFL) | O_NONBLOCK);
					p->s[k].p = p;
					p->s[k].idx = k;
					ev.events = EPOLLIN;
					ev.data.ptr = &p->s[k];
					epoll_ctl(ep, EPOLL_CTL_ADD, p->fd[k], &ev);
				}
				p->next = pairs;
				p->prevp = &pairs;
				if (pairs != NULL)
					pairs->prevp = &p->next;
				pairs = p;
				continue;
			}
			p = s->p;
			if (p->dead)
				continue;
			if (evs[i].events & EPOLLOUT) {
				p->d[1 - s->idx].blocked = 0;
				interest(p, s->idx);
			}
			if ((evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) && !p->d[s->idx].rd_eof)
				on_readable(p, s->idx);
		}
		t = now();
		for (p = pairs; p != NULL; p = pn) {
			pn = p->next;
			for (i = 0; i < 2 && !p->dead; i++)
				flush(p, i, t);
			if (p->dead || (p->d[0].wr_done && p->d[1].wr_done))
				pair_free(p);
		}
	}
}
