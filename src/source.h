/* SPDX-License-Identifier: ISC */
/* tunnelgw: client addresses as keys of the per-source limits; IPv6 grouped by prefix. */
#ifndef TG_SOURCE_H
#define TG_SOURCE_H

#include <sys/socket.h>

#define SOURCE_PREFIX6_DEFAULT	64

void	 source_setup(int);
void	 source_key(const struct sockaddr *, unsigned char *);

#endif
