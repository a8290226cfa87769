/* SPDX-License-Identifier: ISC */
/* tunnelgw: socket addresses as text, for logs and messages; shared by every layer. */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>

#include "addr.h"
#include "xmalloc.h"

/* Format a socket address as "IP:PORT" or "[IPV6]:PORT" in a new string; "?" if it cannot. */
char *
addr_format(const struct sockaddr *sa, socklen_t len)
{
	char	 host[INET6_ADDRSTRLEN], port[8], *s;

	if (getnameinfo(sa, len, host, sizeof host, port, sizeof port,
	    NI_NUMERICHOST | NI_NUMERICSERV) != 0)
		return xstrdup("?");
	if (sa->sa_family == AF_INET6)
		xasprintf(&s, "[%s]:%s", host, port);
	else
		xasprintf(&s, "%s:%s", host, port);
	return s;
}
