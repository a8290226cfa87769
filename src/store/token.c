/* SPDX-License-Identifier: ISC */
/* tunnelgw: token secrets, whatever the backend: their form, making them, hashing them. */
#include "config.h"

#include <stdint.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "auth.h"
#include "backend.h"
#include "store.h"
#include "xmalloc.h"

#define STORE_TOKEN_BYTES	32	/* random bytes in a token or an API key */
#define STORE_SECRET_CHARS	43	/* their base64url characters */

/* Is c a character of base64url? */
static int
store_token_b64url_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	    c == '-' || c == '_';
}

/* Does s have the form of a secret: prefix and 43 base64url characters? */
static int
store_secret_wellformed(const char *s, const char *prefix)
{
	size_t	 plen = strlen(prefix), len = plen + STORE_SECRET_CHARS, i;

	if (strnlen(s, len + 1) != len || strncmp(s, prefix, plen) != 0)
		return 0;
	for (i = plen; i < len; i++) {
		if (!store_token_b64url_char(s[i]))
			return 0;
	}
	return 1;
}

/* Does s have the form of a token: "tgw_" and 43 base64url characters? */
int
store_token_wellformed(const char *s)
{
	return store_secret_wellformed(s, STORE_TOKEN_PREFIX);
}

/* Does s have the form of an API key: "tgwk_" and 43 base64url characters? */
int
store_apikey_wellformed(const char *s)
{
	return store_secret_wellformed(s, STORE_APIKEY_PREFIX);
}

/* Encode len bytes as base64url without padding into out, which has room for it and a NUL. */
static void
store_token_b64url(const unsigned char *in, size_t len, char *out)
{
	static const char	 alphabet[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	uint32_t		 v;
	size_t			 i, o = 0;

	for (i = 0; i + 2 < len; i += 3) {
		v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
		out[o++] = alphabet[(v >> 18) & 63];
		out[o++] = alphabet[(v >> 12) & 63];
		out[o++] = alphabet[(v >> 6) & 63];
		out[o++] = alphabet[v & 63];
	}
	if (len - i == 1) {
		v = (uint32_t)in[i] << 16;
		out[o++] = alphabet[(v >> 18) & 63];
		out[o++] = alphabet[(v >> 12) & 63];
	} else if (len - i == 2) {
		v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
		out[o++] = alphabet[(v >> 18) & 63];
		out[o++] = alphabet[(v >> 12) & 63];
		out[o++] = alphabet[(v >> 6) & 63];
	}
	out[o] = '\0';
}

/*
 * Make a new secret (a token or an API key): prefix and STORE_TOKEN_BYTES of OpenSSL's
 * random generator.
 */
char *
store_token_generate(const char *prefix, char **cause)
{
	unsigned char	 raw[STORE_TOKEN_BYTES];
	char		*token;
	size_t		 plen = strlen(prefix);

	if (RAND_bytes(raw, sizeof raw) != 1) {
		xasprintf(cause, "cannot get random bytes from OpenSSL");
		return NULL;
	}
	token = xmalloc(plen + STORE_SECRET_CHARS + 1);
	memcpy(token, prefix, plen);
	store_token_b64url(raw, sizeof raw, token + plen);
	OPENSSL_cleanse(raw, sizeof raw);
	return token;
}

/* SHA-256 of a token into h->hash; its first 8 bytes, big-endian, into h->lookup. */
int
store_token_hash(const char *token, struct store_hash *h, char **cause)
{
	unsigned int	 len = 0;
	uint64_t	 u = 0;
	int		 i;

	if (EVP_Digest(token, strlen(token), h->hash, &len, EVP_sha256(), NULL) != 1 ||
	    len != STORE_HASH_LEN) {
		xasprintf(cause, "cannot compute SHA-256 with OpenSSL");
		return -1;
	}
	for (i = 0; i < 8; i++)
		u = u << 8 | h->hash[i];
	memcpy(&h->lookup, &u, sizeof h->lookup);
	return 0;
}

/* May the token a hash matched be used at now? 0 if so, else 1 and cause says why not. */
int
store_token_usable(const struct store_match *m, int64_t now, char **cause)
{
	if (m->account != NULL && m->once && m->last_used != 0 && m->revoked == 0) {
		xasprintf(cause, "token %lld was for one login, and it was used", (long long)m->id);
		return 1;
	}
	return grant_token_usable(m->account != NULL, m->id, m->revoked, m->expires, now,
	    cause);
}
