/* SPDX-License-Identifier: ISC */
/* tunnelgw: listening TCP sockets. */
#ifndef TG_LISTENER_H
#define TG_LISTENER_H

#include <sys/socket.h>

int	 listener_open(const char *, int, int, char **);
int	 listener_open_udp(const char *, int, char **);
int	 listener_open_endpoint(const char *, int, char **);
int	 listener_port(int);
int	 listener_exhausted(const char *, int);
void	 listener_addr16(const struct sockaddr *, unsigned char *);

#define LISTENER_DGRAM_BUFFER	(4 << 20)	/* what a UDP socket may hold unread */
#define LISTENER_PAUSE_MS	100	/* how long accepting stops when out of resources */

#endif
