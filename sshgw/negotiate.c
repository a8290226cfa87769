/* SPDX-License-Identifier: ISC */
/*
 * tunnelgw: telling a client why its algorithms and the gateway's do not meet.
 *
 * libssh 0.10.6 ends a key exchange whose algorithms do not match by closing the socket, and
 * nothing in its API shows the client's offer. So while a session is in its first key
 * exchange the gateway keeps a copy of what the client sent first (its banner and KEXINIT,
 * read with MSG_PEEK just before libssh reads the same bytes), compares that KEXINIT with its
 * own offer, and when nothing matches sends an SSH_MSG_DISCONNECT that says what did not.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "sshgw-int.h"
#include "xmalloc.h"

#define NEG_KEEP	8192	/* client bytes kept; a longer banner and KEXINIT is not examined */
#define NEG_BANNER_MAX	255	/* longest identification line (RFC 4253 4.2) */
#define NEG_LISTS	10	/* name-lists in a KEXINIT */
#define NEG_OFFER_MAX	480	/* longest rendering of the client's offer in a message */
#define NEG_WHY_MAX	1024	/* longest disconnect description sent */

#define SSH_MSG_DISCONNECT_		1
#define SSH_MSG_KEXINIT_		20
#define SSH_DISCONNECT_KEX_FAILED	3

struct sshgw_negotiate {
	const struct ssh_counter_struct	*counter;	/* bytes libssh has read (the session's) */
	unsigned char			 buf[NEG_KEEP];	/* the client's first len bytes */
	size_t				 len;
	int				 done;		/* the KEXINIT is whole in buf, or never will be */
};

/* A name-list of the client's KEXINIT: where it lies in buf. */
struct neg_list {
	const char	*p;
	size_t		 len;
};

/* What the gateway checks, in the order a mismatch is reported. */
static const struct {
	const char		*what;		/* "no matching WHAT" */
	int			 list;		/* index in the KEXINIT */
	enum sshgw_offer	 offer;
} sshgw_negotiate_table[] = {
	{ "key exchange method", 0, SSHGW_OFFER_KEX },
	{ "host key type", 1, SSHGW_OFFER_HOSTKEY },
	{ "cipher", 2, SSHGW_OFFER_CIPHER },
	{ "cipher", 3, SSHGW_OFFER_CIPHER },
	{ "MAC", 4, SSHGW_OFFER_MAC },
	{ "MAC", 5, SSHGW_OFFER_MAC },
	{ "compression method", 6, SSHGW_OFFER_COMPRESSION },
	{ "compression method", 7, SSHGW_OFFER_COMPRESSION },
};

/*
 * Start keeping a new session's first bytes. counter is the session's socket counter
 * (ssh_set_counters), which says how much libssh has read; it outlives this object.
 */
struct sshgw_negotiate *
sshgw_negotiate_create(const struct ssh_counter_struct *counter)
{
	struct sshgw_negotiate	*n;

	n = xcalloc(1, sizeof *n);
	n->counter = counter;
	return n;
}

/* Stop keeping a session's first bytes; NULL is a no-op. */
void
sshgw_negotiate_free(struct sshgw_negotiate *n)
{
	free(n);
}

/* Read a big-endian uint32. */
static uint32_t
sshgw_negotiate_u32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/*
 * Find the name-lists of the client's KEXINIT, which follows its banner line: 1 when found
 * (lists filled if not NULL), 0 when more bytes are needed, -1 when it cannot be found.
 */
static int
sshgw_negotiate_kexinit(const struct sshgw_negotiate *n, struct neg_list *lists)
{
	const unsigned char	*nl, *p, *end;
	size_t			 off, scan = n->len < NEG_BANNER_MAX ? n->len : NEG_BANNER_MAX;
	uint32_t		 plen, len;
	int			 i;

	if ((nl = memchr(n->buf, '\n', scan)) == NULL)
		return n->len >= NEG_BANNER_MAX ? -1 : 0;
	off = (size_t)(nl - n->buf) + 1;
	if (n->len - off < 5)
		return 0;
	plen = sshgw_negotiate_u32(n->buf + off);
	if (plen < 2 + 17 || plen > sizeof n->buf - off - 4 || n->buf[off + 4] >= plen - 1)
		return -1;
	if (n->len - off - 4 < plen)
		return 0;
	p = n->buf + off + 5;
	end = p + (plen - 1 - n->buf[off + 4]);
	if (end - p < 17 || p[0] != SSH_MSG_KEXINIT_)
		return -1;
	for (p += 17, i = 0; i < NEG_LISTS; i++) {
		if (end - p < 4 || (len = sshgw_negotiate_u32(p)) > (size_t)(end - p - 4))
			return -1;
		if (lists != NULL) {
			lists[i].p = (const char *)p + 4;
			lists[i].len = len;
		}
		p += 4 + len;
	}
	return 1;
}

/*
 * Just before libssh reads from the socket during the first key exchange: copy what waits
 * there (MSG_PEEK leaves it for libssh), until the client's KEXINIT is whole. The copy stays
 * exact because it always starts where libssh's count of bytes read says the stream is.
 */
void
sshgw_negotiate_peek(struct sshgw_negotiate *n, int fd)
{
	uint64_t	 at = n->counter->in_bytes;
	ssize_t		 got;

	if (n->done)
		return;
	if (at > n->len || at >= sizeof n->buf) {
		n->done = 1;	/* libssh read bytes that were never seen here */
		return;
	}
	got = recv(fd, n->buf + at, sizeof n->buf - at, MSG_PEEK | MSG_DONTWAIT);
	if (got > 0 && at + (size_t)got > n->len)
		n->len = at + (size_t)got;
	if (sshgw_negotiate_kexinit(n, NULL) != 0)
		n->done = 1;
}

/* Is name (len bytes) one of the comma-separated names of list. */
static int
sshgw_negotiate_has(const char *list, const char *name, size_t len)
{
	const char	*p = list, *comma;
	size_t		 n;

	while (*p != '\0') {
		comma = strchr(p, ',');
		n = comma != NULL ? (size_t)(comma - p) : strlen(p);
		if (n == len && memcmp(p, name, len) == 0)
			return 1;
		if (comma == NULL)
			break;
		p = comma + 1;
	}
	return 0;
}

/* The client's first name in l that ours offers too, copied into out; 0, or -1 if none. */
static int
sshgw_negotiate_match(const struct neg_list *l, const char *ours, char *out, size_t outsz)
{
	const char	*p = l->p, *end = l->p + l->len, *comma;
	size_t		 n;

	while (p < end) {
		comma = memchr(p, ',', (size_t)(end - p));
		n = comma != NULL ? (size_t)(comma - p) : (size_t)(end - p);
		if (n > 0 && sshgw_negotiate_has(ours, p, n)) {
			if (n >= outsz)
				n = outsz - 1;
			memcpy(out, p, n);
			out[n] = '\0';
			return 0;
		}
		p += n + 1;
	}
	return -1;
}

/* Does a cipher carry its own integrity (then the MAC lists do not matter). */
static int
sshgw_negotiate_aead(const char *cipher)
{
	return strcmp(cipher, "chacha20-poly1305@openssh.com") == 0 ||
	    strcmp(cipher, "aes128-gcm@openssh.com") == 0 ||
	    strcmp(cipher, "aes256-gcm@openssh.com") == 0;
}

/* Render a client's name-list for a message: each name quoted with log_quote(), bounded. */
static void
sshgw_negotiate_render(const struct neg_list *l, char *out, size_t outsz)
{
	char		 name[LOG_QUOTE_MAX + 2], q[LOG_QUOTE_SIZE];
	const char	*p = l->p, *end = l->p + l->len, *comma;
	size_t		 n, used = 0, add;

	out[0] = '\0';
	while (p < end) {
		comma = memchr(p, ',', (size_t)(end - p));
		n = comma != NULL ? (size_t)(comma - p) : (size_t)(end - p);
		memcpy(name, p, n < sizeof name ? n : sizeof name - 1);
		name[n < sizeof name ? n : sizeof name - 1] = '\0';
		log_quote(name, q);
		add = strlen(q) + (used > 0);
		if (used + add + 4 >= outsz) {
			strcpy(out + used, used > 0 ? ",..." : "...");
			return;
		}
		used += (size_t)snprintf(out + used, outsz - used, "%s%s", used > 0 ? "," : "", q);
		p += n + 1;
	}
	if (used == 0)
		snprintf(out, outsz, "nothing");
}

/*
 * Compare the client's KEXINIT with the gateway's offer: 0 when they meet or the KEXINIT was
 * not seen whole; -1 with *why saying what did not match, the client's offer quoted.
 */
int
sshgw_negotiate_check(const struct sshgw_negotiate *n, const struct sshgw_server *srv,
    char **why)
{
	struct neg_list	 lists[NEG_LISTS];
	char		 ciphers[2][64] = { "", "" }, offer[NEG_OFFER_MAX], chosen[64];
	size_t		 i;
	int		 list;

	if (n == NULL || sshgw_negotiate_kexinit(n, lists) != 1)
		return 0;
	for (i = 0; i < sizeof sshgw_negotiate_table / sizeof sshgw_negotiate_table[0]; i++) {
		list = sshgw_negotiate_table[i].list;
		if ((list == 4 || list == 5) && sshgw_negotiate_aead(ciphers[list - 4]))
			continue;
		if (sshgw_negotiate_match(&lists[list],
		    sshgw_server_offer(srv, sshgw_negotiate_table[i].offer), chosen,
		    sizeof chosen) == 0) {
			if (list == 2 || list == 3)
				memcpy(ciphers[list - 2], chosen, sizeof chosen);
			continue;
		}
		sshgw_negotiate_render(&lists[list], offer, sizeof offer);
		xasprintf(why, "no matching %s: client offered '%s'; gateway offers %s",
		    sshgw_negotiate_table[i].what, offer,
		    sshgw_server_offer(srv, sshgw_negotiate_table[i].offer));
		return -1;
	}
	return 0;
}

/*
 * Send an SSH_MSG_DISCONNECT on fd, in the clear: no keys were ever agreed. The caller makes
 * sure libssh's own output (banner, KEXINIT) has all gone out before it.
 */
void
sshgw_negotiate_disconnect(int fd, const char *why)
{
	unsigned char	 pkt[NEG_WHY_MAX + 64], *p;
	size_t		 wlen = strlen(why), payload, pad;
	uint32_t	 v;

	if (wlen > NEG_WHY_MAX)
		wlen = NEG_WHY_MAX;
	payload = 1 + 4 + 4 + wlen + 4;
	pad = 8 - (4 + 1 + payload) % 8;	/* block size 8 before any cipher */
	if (pad < 4)
		pad += 8;
	memset(pkt, 0, sizeof pkt);		/* padding: nothing to hide yet */
	p = pkt;
	v = (uint32_t)(1 + payload + pad);
	*p++ = v >> 24; *p++ = v >> 16; *p++ = v >> 8; *p++ = v;
	*p++ = (unsigned char)pad;
	*p++ = SSH_MSG_DISCONNECT_;
	v = SSH_DISCONNECT_KEX_FAILED;
	*p++ = v >> 24; *p++ = v >> 16; *p++ = v >> 8; *p++ = v;
	v = (uint32_t)wlen;
	*p++ = v >> 24; *p++ = v >> 16; *p++ = v >> 8; *p++ = v;
	memcpy(p, why, wlen);
	p += wlen + 4;				/* and an empty language tag */
	(void)send(fd, pkt, (size_t)(p - pkt) + pad, MSG_NOSIGNAL | MSG_DONTWAIT);
}
