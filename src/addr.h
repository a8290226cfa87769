/* SPDX-License-Identifier: ISC */
/* tunnelgw: socket addresses as text, for logs and messages; shared by every layer. */
#ifndef TG_ADDR_H
#define TG_ADDR_H

#include <sys/socket.h>

char	*addr_format(const struct sockaddr *, socklen_t);

#endif
