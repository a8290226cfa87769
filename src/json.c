/* SPDX-License-Identifier: ISC */
/*
 * tunnelgw: JSON strings, for the events log, tunnelgwctl --json and the control socket:
 * quotes, backslashes and control characters escaped, bytes that are not UTF-8 replaced by
 * U+FFFD, so whatever a client or a file held comes out as valid JSON.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "json.h"

/* The length of the valid UTF-8 sequence at s, or 0 if it is not one. */
static size_t
json_utf8_len(const unsigned char *s)
{
	size_t		 n, i;
	uint32_t	 cp;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2, cp = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3, cp = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4, cp = s[0] & 0x07;
	else
		return 0;
	for (i = 1; i < n; i++) {	/* stops at a NUL: it is not a continuation byte */
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((n == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
	    (n == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0;
	return n;
}

/* Is s (NUL-terminated) all valid UTF-8? */
int
json_utf8_valid(const char *s)
{
	const unsigned char	*p = (const unsigned char *)s;
	size_t			 n;

	while (*p != '\0') {
		if ((n = json_utf8_len(p)) == 0)
			return 0;
		p += n;
	}
	return 1;
}

/*
 * The JSON form of the character at p in piece (at most 6 bytes), its length in *len;
 * returns how many bytes of p it stands for. Bytes that are not UTF-8 become U+FFFD.
 */
static size_t
json_piece(const unsigned char *p, char piece[8], size_t *len)
{
	size_t	 n;

	switch (*p) {
	case '"':
	case '\\':
		piece[0] = '\\';
		piece[1] = (char)*p;
		*len = 2;
		return 1;
	case '\n':
		memcpy(piece, "\\n", *len = 2);
		return 1;
	case '\r':
		memcpy(piece, "\\r", *len = 2);
		return 1;
	case '\t':
		memcpy(piece, "\\t", *len = 2);
		return 1;
	}
	if (*p < 0x20 || *p == 0x7f) {
		snprintf(piece, 8, "\\u%04x", *p);
		*len = 6;
		return 1;
	}
	if ((n = json_utf8_len(p)) == 0) {
		memcpy(piece, "\\ufffd", *len = 6);
		return 1;
	}
	memcpy(piece, p, n);
	*len = n;
	return n;
}

/*
 * Write s into buf as a quoted JSON string of at most size - 1 bytes and a NUL: quotes,
 * backslashes and control characters escaped, bytes that are not UTF-8 replaced by U+FFFD.
 * What does not fit is cut between characters, never inside an escape or a UTF-8 sequence,
 * and marked by "..." before the closing quote. Returns the length written; size must be at
 * least 6 (else buf gets "" and 0 is returned).
 */
size_t
json_quote_into(char *buf, size_t size, const char *s)
{
	const unsigned char	*p;
	char			 piece[8];
	size_t			 plen, used, total = 2, len = 0, room;
	int			 cut;

	if (size < JSON_STRING_MIN) {
		if (size > 0)
			buf[0] = '\0';
		return 0;
	}
	for (p = (const unsigned char *)s; *p != '\0' && total < size; total += plen)
		p += json_piece(p, piece, &plen);
	cut = total + 1 > size;
	room = size - 2 - (cut ? 3 : 0);	/* the closing quote, the NUL, the "..." */
	buf[len++] = '"';
	for (p = (const unsigned char *)s; *p != '\0'; p += used) {
		used = json_piece(p, piece, &plen);
		if (len + plen > room)
			break;
		memcpy(buf + len, piece, plen);
		len += plen;
	}
	if (cut) {
		memcpy(buf + len, "...", 3);
		len += 3;
	}
	buf[len++] = '"';
	buf[len] = '\0';
	return len;
}

/* Write s to fp as a quoted JSON string (no length limit). */
void
json_write_string(FILE *fp, const char *s)
{
	const unsigned char	*p = (const unsigned char *)s;
	char			 piece[8];
	size_t			 len;

	fputc('"', fp);
	while (*p != '\0') {
		p += json_piece(p, piece, &len);
		fwrite(piece, 1, len, fp);
	}
	fputc('"', fp);
}
