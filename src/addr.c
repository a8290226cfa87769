/* SPDX-License-Identifier: ISC */
/* tunnelgw: socket addresses as text, for logs and messages; shared by every layer. */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <string.h>

#include "addr.h"
#include "xmalloc.h"

/* Format a socket address as "IP:PORT" or "[IPV6]:PORT" in a new string; "?" if it cannot. */
char *
addr_format(const struct sockaddr *sa, socklen_t len)
{
	const struct sockaddr_in6	*s6 = (const struct sockaddr_in6 *)sa;
	struct sockaddr_in		 s4;
	char				 host[INET6_ADDRSTRLEN], port[8], *s;

	/* An IPv4 client of a dual-stack ("::") socket is shown as the IPv4 address it is. */
	if (sa->sa_family == AF_INET6 && len >= sizeof *s6 &&
	    IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) {
		memset(&s4, 0, sizeof s4);
		s4.sin_family = AF_INET;
		s4.sin_port = s6->sin6_port;
		memcpy(&s4.sin_addr, s6->sin6_addr.s6_addr + 12, 4);
		sa = (const struct sockaddr *)&s4;
		len = sizeof s4;
	}
	if (getnameinfo(sa, len, host, sizeof host, port, sizeof port,
	    NI_NUMERICHOST | NI_NUMERICSERV) != 0)
		return xstrdup("?");
	if (sa->sa_family == AF_INET6)
		xasprintf(&s, "[%s]:%s", host, port);
	else
		xasprintf(&s, "%s:%s", host, port);
	return s;
}
