/* SPDX-License-Identifier: ISC */
/* tunnelgw: PROXY protocol v1 and v2 headers (haproxy's proxy-protocol.txt). */
#ifndef TG_PROXYPROTO_H
#define TG_PROXYPROTO_H

#include <sys/types.h>
#include <sys/socket.h>

#define PROXYPROTO_V1_MAX	107	/* longest v1 header, CRLF included */
#define PROXYPROTO_MAX		536	/* room for any header we build (v2 with our TLVs) */
#define PROXYPROTO_MAX_TLV	255	/* longest authority or unique id we send */

ssize_t	 proxyproto_v1(char *, size_t, const struct sockaddr *, const struct sockaddr *);
ssize_t	 proxyproto_v2(char *, size_t, const struct sockaddr *, const struct sockaddr *,
	    const char *, const char *);
ssize_t	 proxyproto_v2_dgram(char *, size_t, const struct sockaddr *, const struct sockaddr *,
	    const char *, const char *);
ssize_t	 proxyproto_build(int, char *, size_t, const struct sockaddr *, const struct sockaddr *,
	    const char *, const char *);

#endif
