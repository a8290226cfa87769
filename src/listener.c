/* SPDX-License-Identifier: ISC */
/* tunnelgw: listening TCP sockets and UDP sockets, opened by us so their options are ours. */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "conf.h"
#include "listener.h"
#include "log.h"
#include "xmalloc.h"

/*
 * Let a UDP socket hold a burst of datagrams (LISTENER_DGRAM_BUFFER) between two reads: the
 * system's default (net.core.rmem_default, often 208 KiB) drops most of a burst of a few
 * hundred small datagrams, whose kernel overhead dwarfs their size. SO_RCVBUFFORCE passes
 * net.core.rmem_max where the process may (CAP_NET_ADMIN); else SO_RCVBUF is capped by it.
 */
static void
listener_dgram_buffer(int fd)
{
	int	 size = LISTENER_DGRAM_BUFFER;

	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size) == -1)
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
}

/*
 * Open a non-blocking socket of type (SOCK_STREAM, SOCK_DGRAM) bound to numeric address and
 * port (0 = any free port); returns the descriptor, or -1 with *cause set and errno kept.
 */
static int
listener_bind(const char *address, int port, int type, char **cause)
{
	struct addrinfo	 hints, *ai = NULL;
	char		 service[16];
	int		 fd = -1, on = 1, rc, err;

	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = type;
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE;
	snprintf(service, sizeof service, "%d", port);
	if ((rc = getaddrinfo(address, service, &hints, &ai)) != 0) {
		xasprintf(cause, "cannot listen on %s port %d: %s", address, port, gai_strerror(rc));
		return -1;
	}
	fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1)
		goto fail;
	if (type == SOCK_STREAM &&
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) == -1)
		goto fail;
	/* "::" should take IPv4 too only if asked for; a v6 address stays v6. */
	if (ai->ai_family == AF_INET6 && strcmp(address, "::") != 0 &&
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof on) == -1)
		goto fail;
	/* A datagram says which of our addresses it reached: replies leave from that one. */
	if (type == SOCK_DGRAM && ai->ai_family == AF_INET6 &&
	    setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &on, sizeof on) == -1)
		goto fail;
	if (type == SOCK_DGRAM && (ai->ai_family == AF_INET || strcmp(address, "::") == 0) &&
	    setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &on, sizeof on) == -1)
		goto fail;
	if (type == SOCK_DGRAM)
		listener_dgram_buffer(fd);
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) == -1)
		goto fail;
	freeaddrinfo(ai);
	return fd;
fail:
	err = errno;
	xasprintf(cause, "cannot %s on %s%s%s port %d: %s", type == SOCK_DGRAM ? "bind UDP" :
	    "listen", ai->ai_family == AF_INET6 ? "[" : "", address,
	    ai->ai_family == AF_INET6 ? "]" : "", port, strerror(err));
	if (fd != -1)
		close(fd);
	freeaddrinfo(ai);
	errno = err;
	return -1;
}

/*
 * Open a non-blocking listening socket on numeric address and port (0 = any free port);
 * returns the descriptor, or -1 with *cause set.
 */
int
listener_open(const char *address, int port, int backlog, char **cause)
{
	int	 fd, err;

	if ((fd = listener_bind(address, port, SOCK_STREAM, cause)) == -1)
		return -1;
	if (listen(fd, backlog) == -1) {
		err = errno;
		xasprintf(cause, "cannot listen on %s port %d: %s", address, port, strerror(err));
		close(fd);
		errno = err;
		return -1;
	}
	return fd;
}

/*
 * Open a non-blocking UDP socket on numeric address and port that reports each datagram's
 * destination address (IP_PKTINFO, IPV6_RECVPKTINFO); the descriptor, or -1 with *cause.
 */
int
listener_open_udp(const char *address, int port, char **cause)
{
	return listener_bind(address, port, SOCK_DGRAM, cause);
}

/* Open a listening socket on "ADDRESS:PORT". */
int
listener_open_endpoint(const char *endpoint, int backlog, char **cause)
{
	char	*host;
	int	 port, fd;

	if (conf_split_endpoint(endpoint, &host, &port) != 0) {
		xasprintf(cause, "invalid listen address '%s'", endpoint);
		return -1;
	}
	fd = listener_open(host, port, backlog, cause);
	free(host);
	return fd;
}

/* Return the local port a socket is bound to, or -1. */
int
listener_port(int fd)
{
	struct sockaddr_storage	 ss;
	socklen_t		 len = sizeof ss;

	if (getsockname(fd, (struct sockaddr *)&ss, &len) == -1)
		return -1;
	if (ss.ss_family == AF_INET)
		return ntohs(((struct sockaddr_in *)&ss)->sin_port);
	if (ss.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	return -1;
}

/*
 * Sort an accept() failure: 1 when the process or system is out of a resource (descriptors,
 * memory), so the caller should stop accepting for a moment instead of spinning on a
 * listening socket that stays readable; 0 otherwise. Exhaustion is logged at most once every
 * ten seconds per thread, with how many times it happened meanwhile.
 */
int
listener_exhausted(const char *what, int err)
{
	static _Thread_local time_t	last;
	static _Thread_local unsigned	skipped;
	time_t				now;

	if (err != EMFILE && err != ENFILE && err != ENOBUFS && err != ENOMEM)
		return 0;
	now = time(NULL);
	if (now - last >= 10) {
		log_warn("%s: %s: new connections wait%s", what, strerror(err),
		    skipped > 0 ? " (and more times since the last report)" : "");
		last = now;
		skipped = 0;
	} else
		skipped++;
	return 1;
}

/* The address of a socket as 16 bytes, IPv4 as IPv4-mapped IPv6: a key for per-address tables. */
void
listener_addr16(const struct sockaddr *sa, unsigned char *out)
{
	memset(out, 0, 16);
	if (sa->sa_family == AF_INET) {
		out[10] = out[11] = 0xff;
		memcpy(out + 12, &((const struct sockaddr_in *)sa)->sin_addr, 4);
	} else if (sa->sa_family == AF_INET6)
		memcpy(out, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
}
