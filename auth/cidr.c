/* SPDX-License-Identifier: ISC */
/* tunnelgw: lists of IPv4 and IPv6 networks, and matching addresses against them. */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "log.h"
#include "xmalloc.h"

/* Longest entry: a full IPv6 address with an embedded IPv4 one, and "/128". */
#define CIDR_MAX_ENTRY	(INET6_ADDRSTRLEN + 4)

/* One network: family, prefix length and address with the host bits zero. */
struct cidr {
	int		 family;	/* AF_INET or AF_INET6 */
	unsigned int	 bits;		/* 0-32 or 0-128 */
	uint8_t		 addr[16];	/* 4 or 16 bytes used, network byte order */
};

struct cidrlist {
	struct cidr	*v;
	size_t		 n;
};

/* The IPv4-mapped IPv6 prefix, ::ffff:0:0/96. */
static const uint8_t cidr_mapped_prefix[12] = {
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff
};

/* Is c a blank that may surround an entry? */
static int
cidr_isblank(char c)
{
	return c == ' ' || c == '\t';
}

/* Number of address bytes of a family. */
static size_t
cidr_addrlen(int family)
{
	return family == AF_INET ? 4 : 16;
}

/* Does addr (of the cidr's family) fall inside the first bits of c->addr? */
static int
cidr_contains(const struct cidr *c, const uint8_t *addr)
{
	unsigned int	 whole = c->bits / 8, rest = c->bits % 8;
	uint8_t		 mask;

	if (memcmp(c->addr, addr, whole) != 0)
		return 0;
	if (rest == 0)
		return 1;
	mask = (uint8_t)(0xff << (8 - rest));
	return (c->addr[whole] & mask) == (addr[whole] & mask);
}

/* Clear the bits of c->addr past the prefix. */
static void
cidr_mask(struct cidr *c)
{
	size_t		 len = cidr_addrlen(c->family);
	unsigned int	 whole = c->bits / 8, rest = c->bits % 8;

	if (whole >= len)
		return;
	if (rest != 0)
		c->addr[whole++] &= (uint8_t)(0xff << (8 - rest));
	memset(c->addr + whole, 0, len - whole);
}

/* Parse a prefix length of 1-3 digits, at most max; -1 if it is not one. */
static int
cidr_parse_bits(const char *s, unsigned int max)
{
	unsigned int	 v = 0;
	size_t		 i;

	if (s[0] == '\0' || strlen(s) > 3)
		return -1;
	for (i = 0; s[i] != '\0'; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (unsigned int)(s[i] - '0');
	}
	if (v > max)
		return -1;
	return (int)v;
}

/* Format one network as "ADDRESS/BITS" into buf. */
static void
cidr_format_one(const struct cidr *c, char *buf, size_t len)
{
	char	 addr[INET6_ADDRSTRLEN];

	if (inet_ntop(c->family, c->addr, addr, sizeof addr) == NULL)
		abort();
	snprintf(buf, len, "%s/%u", addr, c->bits);
}

/* Parse one trimmed, non-empty entry (len bytes at s) into c. */
static int
cidr_parse_one(const char *s, size_t len, struct cidr *c, char **cause)
{
	char		 buf[CIDR_MAX_ENTRY + 1], *slash, fixed[CIDR_MAX_ENTRY + 8];
	struct cidr	 net;
	unsigned int	 max;
	int		 bits;

	if (len > CIDR_MAX_ENTRY) {
		xasprintf(cause, "too long for an address");
		return -1;
	}
	memcpy(buf, s, len);
	buf[len] = '\0';

	memset(c, 0, sizeof *c);
	slash = strchr(buf, '/');
	if (slash != NULL)
		*slash = '\0';
	c->family = strchr(buf, ':') != NULL ? AF_INET6 : AF_INET;
	if (inet_pton(c->family, buf, c->addr) != 1) {
		xasprintf(cause, "not a numeric IPv%d address", c->family == AF_INET ? 4 : 6);
		return -1;
	}
	max = c->family == AF_INET ? 32 : 128;
	c->bits = max;
	if (slash != NULL) {
		if ((bits = cidr_parse_bits(slash + 1, max)) == -1) {
			xasprintf(cause, "prefix length must be a number from 0 to %u", max);
			return -1;
		}
		c->bits = (unsigned int)bits;
	}
	net = *c;
	cidr_mask(&net);
	if (memcmp(net.addr, c->addr, sizeof c->addr) != 0) {
		cidr_format_one(&net, fixed, sizeof fixed);
		xasprintf(cause, "host bits set after the /%u prefix (did you mean %s?)",
		    c->bits, fixed);
		return -1;
	}
	return 0;
}

/*
 * Say which entry of a list did not parse, quoting it: the text may come from a client (a
 * `tcp --allow-cidr` option) and the message goes to the log.
 */
static void
cidr_refuse_entry(const char *start, size_t len, size_t n, const char *why, char **cause)
{
	char	*entry, q[LOG_QUOTE_SIZE];

	if (len > CIDR_MAX_ENTRY) {
		xasprintf(cause, "entry %zu: %s", n, why);
		return;
	}
	entry = xstrndup(start, len);
	xasprintf(cause, "'%s' (entry %zu): %s", log_quote(entry, q), n, why);
	free(entry);
}

/* Parse a comma-separated list of networks; a bare address is a /32 or /128. */
int
cidrlist_parse(const char *s, struct cidrlist **out, char **cause)
{
	struct cidrlist	*l;
	const char	*p, *end, *start, *stop;
	char		*why;
	size_t		 n = 1, len;

	*out = NULL;
	for (p = s; *p != '\0'; p++) {
		if (*p == ',' && ++n > CIDRLIST_MAX) {
			xasprintf(cause, "too many entries (at most %d)", CIDRLIST_MAX);
			return -1;
		}
	}
	l = xcalloc(1, sizeof *l);
	l->v = xcalloc(n, sizeof *l->v);
	for (p = s;; p = end + 1) {
		if ((end = strchr(p, ',')) == NULL)
			end = p + strlen(p);
		for (start = p; start < end && cidr_isblank(*start); start++)
			;
		for (stop = end; stop > start && cidr_isblank(stop[-1]); stop--)
			;
		len = (size_t)(stop - start);
		if (len == 0) {
			if (n == 1)
				xasprintf(cause, "empty list");
			else
				xasprintf(cause, "entry %zu is empty", l->n + 1);
			goto fail;
		}
		if (cidr_parse_one(start, len, &l->v[l->n], &why) != 0) {
			cidr_refuse_entry(start, len, l->n + 1, why, cause);
			free(why);
			goto fail;
		}
		l->n++;
		if (*end == '\0')
			break;
	}
	*out = l;
	return 0;

fail:
	cidrlist_free(l);
	return -1;
}

/* Does address addr of the given family fall in any network of the list? */
static int
cidrlist_match_addr(const struct cidrlist *l, int family, const uint8_t *addr)
{
	size_t	 i;

	for (i = 0; i < l->n; i++) {
		if (l->v[i].family == family && cidr_contains(&l->v[i], addr))
			return 1;
	}
	return 0;
}

/* 1 if the address of sa is in the list; an IPv4-mapped IPv6 address also matches IPv4 entries. */
int
cidrlist_match(const struct cidrlist *l, const struct sockaddr *sa)
{
	const struct sockaddr_in	*sin;
	const struct sockaddr_in6	*sin6;
	const uint8_t			*a6;

	if (l == NULL || sa == NULL)
		return 0;
	switch (sa->sa_family) {
	case AF_INET:
		sin = (const struct sockaddr_in *)(const void *)sa;
		return cidrlist_match_addr(l, AF_INET, (const uint8_t *)&sin->sin_addr);
	case AF_INET6:
		sin6 = (const struct sockaddr_in6 *)(const void *)sa;
		a6 = (const uint8_t *)&sin6->sin6_addr;
		if (cidrlist_match_addr(l, AF_INET6, a6))
			return 1;
		if (memcmp(a6, cidr_mapped_prefix, sizeof cidr_mapped_prefix) == 0)
			return cidrlist_match_addr(l, AF_INET, a6 + 12);
		return 0;
	}
	return 0;
}

/* Number of networks in the list; 0 for NULL. */
size_t
cidrlist_count(const struct cidrlist *l)
{
	return l == NULL ? 0 : l->n;
}

/* The list in canonical form, "a/n,b/m", as a new string; "" for NULL. */
char *
cidrlist_format(const struct cidrlist *l)
{
	char	*out, one[CIDR_MAX_ENTRY + 8];
	size_t	 i, len = 0, size;

	if (l == NULL)
		return xstrdup("");
	size = l->n * sizeof one + 1;
	out = xmalloc(size);
	out[0] = '\0';
	for (i = 0; i < l->n; i++) {
		cidr_format_one(&l->v[i], one, sizeof one);
		len += (size_t)snprintf(out + len, size - len, "%s%s", i == 0 ? "" : ",", one);
	}
	return out;
}

/* A copy of a list (NULL for NULL), for an owner that must not share the original. */
struct cidrlist *
cidrlist_dup(const struct cidrlist *l)
{
	struct cidrlist	*out;

	if (l == NULL)
		return NULL;
	out = xcalloc(1, sizeof *out);
	out->n = l->n;
	out->v = xcalloc(l->n > 0 ? l->n : 1, sizeof *out->v);
	memcpy(out->v, l->v, l->n * sizeof *out->v);
	return out;
}

/* Free a list; NULL is a no-op. */
void
cidrlist_free(struct cidrlist *l)
{
	if (l == NULL)
		return;
	free(l->v);
	free(l);
}
