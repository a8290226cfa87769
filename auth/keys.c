/* SPDX-License-Identifier: ISC */
/* tunnelgw: the authorized_keys-style keys file: parse key lines and their options, find keys. */
#include "config.h"

#include <sys/types.h>

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth.h"
#include "log.h"
#include "xmalloc.h"

#define KEYS_MAX_PROBLEMS	1000	/* problems listed; more are only counted */
#define KEYS_MAX_OPTION		32	/* longest option name */

#define KEYS_STR1(x)		#x
#define KEYS_STR(x)		KEYS_STR1(x)	/* a number macro as a string */

/* One problem of a keys file: its line (for ordering) and its "FILE:LINE: message". */
struct keyproblem {
	int		 line;
	char		*msg;
};

struct keyfile {
	struct keyent		**v;		/* file order */
	struct keyent		**sorted;	/* by fingerprint, for keyfile_find */
	size_t			  n;
	struct keyproblem	 *problems;	/* by line */
	size_t			  nproblems;
	size_t			  unlisted;	/* problems past KEYS_MAX_PROBLEMS */
};

/* One option of a key line: its name, whether it takes =VALUE, and what it sets. */
struct keys_option {
	const char	*name;
	int		 value;
	int		(*set)(struct keyopts *, const char *, char **);
};

/* The key types accepted: those OpenSSH issues that libssh can parse. */
static const char *const keys_types[] = {
	"ssh-ed25519",
	"ssh-rsa",
	"ecdsa-sha2-nistp256",
	"ecdsa-sha2-nistp384",
	"ecdsa-sha2-nistp521",
	"sk-ssh-ed25519@openssh.com",
	"sk-ecdsa-sha2-nistp256@openssh.com",
	NULL
};

/* Is c a blank between the fields of a line? */
static int
keys_isblank(char c)
{
	return c == ' ' || c == '\t';
}

/* Parse a number of 1 to 6 digits, at most max, into *v; -1 if it is not one. */
static int
keys_parse_number(const char *s, int max, int *v)
{
	size_t	 i;
	int	 n = 0;

	if (s[0] == '\0' || strlen(s) > 6)
		return -1;
	for (i = 0; s[i] != '\0'; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		n = n * 10 + (s[i] - '0');
	}
	if (n > max)
		return -1;
	*v = n;
	return 0;
}

/* account="NAME": 1-64 characters of A-Z a-z 0-9 . _ @ -. */
static int
keys_opt_account(struct keyopts *o, const char *v, char **cause)
{
	char	 q[LOG_QUOTE_SIZE];
	size_t	 len = strlen(v);

	if (o->account != NULL) {
		xasprintf(cause, "account given more than once");
		return -1;
	}
	if (len == 0 || len > KEYS_MAX_ACCOUNT ||
	    strspn(v, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._@-") != len) {
		xasprintf(cause, "account '%s' is not 1-%d characters of A-Z a-z 0-9 . _ @ -",
		    log_quote(v, q), KEYS_MAX_ACCOUNT);
		return -1;
	}
	o->account = xstrdup(v);
	return 0;
}

/* max-tunnels=N: 0 to KEYS_MAX_TUNNELS. */
static int
keys_opt_max_tunnels(struct keyopts *o, const char *v, char **cause)
{
	if (o->max_tunnels != -1) {
		xasprintf(cause, "max-tunnels given more than once");
		return -1;
	}
	if (keys_parse_number(v, KEYS_MAX_TUNNELS, &o->max_tunnels) != 0) {
		xasprintf(cause, "max-tunnels must be a number from 0 to %d", KEYS_MAX_TUNNELS);
		return -1;
	}
	return 0;
}

/* Parse the port of a permitlisten: 1-65535, or "*" (0, any port). */
static int
keys_parse_port(const char *s, int *port)
{
	if (strcmp(s, "*") == 0) {
		*port = 0;
		return 0;
	}
	if (keys_parse_number(s, 65535, port) != 0 || *port == 0)
		return -1;
	return 0;
}

/* permitlisten="[HOST:]PORT", HOST may be "[IPV6]"; only the port is kept. */
static int
keys_opt_permitlisten(struct keyopts *o, const char *v, char **cause)
{
	const char	*port = v, *colon;
	char		 q[LOG_QUOTE_SIZE];
	int		 n;

	if (v[0] == '[') {
		if ((colon = strstr(v, "]:")) == NULL || colon == v + 1)
			goto bad;
		port = colon + 2;
	} else if ((colon = strrchr(v, ':')) != NULL) {
		if (colon == v || memchr(v, ':', (size_t)(colon - v)) != NULL)
			goto bad;
		port = colon + 1;
	}
	if (keys_parse_port(port, &n) != 0)
		goto bad;
	o->permitlisten = xreallocarray(o->permitlisten, o->npermitlisten + 1,
	    sizeof *o->permitlisten);
	o->permitlisten[o->npermitlisten++] = n;
	return 0;

bad:
	xasprintf(cause, "permitlisten '%s' is not \"PORT\" or \"HOST:PORT\" with a port from "
	    "1 to 65535 or *", log_quote(v, q));
	return -1;
}

/* Parse a CIDR list option into *l, which must not be set yet. */
static int
keys_opt_cidr(struct cidrlist **l, const char *name, const char *v, char **cause)
{
	char	*why;

	if (*l != NULL) {
		xasprintf(cause, "%s given more than once", name);
		return -1;
	}
	if (cidrlist_parse(v, l, &why) != 0) {
		xasprintf(cause, "%s: %s", name, why);
		free(why);
		return -1;
	}
	return 0;
}

/* from="CIDR,...": where the SSH client may connect from. */
static int
keys_opt_from(struct keyopts *o, const char *v, char **cause)
{
	return keys_opt_cidr(&o->from, "from", v, cause);
}

/* allow-cidr="CIDR,...": who may connect to this key's public ports. */
static int
keys_opt_allow(struct keyopts *o, const char *v, char **cause)
{
	return keys_opt_cidr(&o->allow, "allow-cidr", v, cause);
}

/* deny-cidr="CIDR,...": who may not connect to this key's public ports. */
static int
keys_opt_deny(struct keyopts *o, const char *v, char **cause)
{
	return keys_opt_cidr(&o->deny, "deny-cidr", v, cause);
}

/* proxy-proto=N: 0, 1 or 2. */
static int
keys_opt_proxy_proto(struct keyopts *o, const char *v, char **cause)
{
	if (o->proxy_proto != -1) {
		xasprintf(cause, "proxy-proto given more than once");
		return -1;
	}
	if (strlen(v) != 1 || v[0] < '0' || v[0] > '2') {
		xasprintf(cause, "proxy-proto must be 0, 1 or 2");
		return -1;
	}
	o->proxy_proto = v[0] - '0';
	return 0;
}

/* role=NAME: the member's role in its account (viewer, developer, manager, owner). */
static int
keys_opt_role(struct keyopts *o, const char *v, char **cause)
{
	enum role	 r;

	if (o->role != 0) {
		xasprintf(cause, "role given more than once");
		return -1;
	}
	if (role_parse(v, &r) != 0) {
		xasprintf(cause, "role must be viewer, developer, manager or owner");
		return -1;
	}
	o->role = (int)r;
	return 0;
}

/* no-port-forwarding and restrict: the key may not forward (OpenSSH's meaning). */
static int
keys_opt_no_forwarding(struct keyopts *o, const char *v, char **cause)
{
	o->no_port_forwarding = 1;
	return 0;
}

/* port-forwarding: lifts an earlier restrict, as in OpenSSH. */
static int
keys_opt_forwarding(struct keyopts *o, const char *v, char **cause)
{
	o->no_port_forwarding = 0;
	return 0;
}

/* OpenSSH options that mean nothing on a tunnel gateway: accepted and ignored. */
static int
keys_opt_moot(struct keyopts *o, const char *v, char **cause)
{
	return 0;
}

/* cert-authority: this gateway does not take certificates. */
static int
keys_opt_cert_authority(struct keyopts *o, const char *v, char **cause)
{
	xasprintf(cause, "certificate authorities are not supported");
	return -1;
}

static const struct keys_option keys_options[] = {
	{ "account",		1, keys_opt_account },
	{ "max-tunnels",	1, keys_opt_max_tunnels },
	{ "permitlisten",	1, keys_opt_permitlisten },
	{ "from",		1, keys_opt_from },
	{ "allow-cidr",		1, keys_opt_allow },
	{ "deny-cidr",		1, keys_opt_deny },
	{ "proxy-proto",	1, keys_opt_proxy_proto },
	{ "role",		1, keys_opt_role },
	{ "no-port-forwarding",	0, keys_opt_no_forwarding },
	{ "restrict",		0, keys_opt_no_forwarding },
	{ "port-forwarding",	0, keys_opt_forwarding },
	{ "no-pty",		0, keys_opt_moot },
	{ "pty",		0, keys_opt_moot },
	{ "no-agent-forwarding", 0, keys_opt_moot },
	{ "agent-forwarding",	0, keys_opt_moot },
	{ "no-x11-forwarding",	0, keys_opt_moot },
	{ "x11-forwarding",	0, keys_opt_moot },
	{ "no-user-rc",		0, keys_opt_moot },
	{ "user-rc",		0, keys_opt_moot },
	{ "cert-authority",	0, keys_opt_cert_authority },
};

/* Find an option by name, ignoring case. */
static const struct keys_option *
keys_find_option(const char *name)
{
	size_t	 i;

	for (i = 0; i < sizeof keys_options / sizeof keys_options[0]; i++) {
		if (strcasecmp(keys_options[i].name, name) == 0)
			return &keys_options[i];
	}
	return NULL;
}

/*
 * Read a value at *pp: "quoted", where \" stands for ", or bare up to the next comma.
 * Returns a new string and moves *pp past it, or NULL when the end quote is missing.
 */
static char *
keys_read_value(const char **pp)
{
	const char	*p = *pp;
	char		*v, *out;

	if (*p != '"') {
		v = xstrndup(p, strcspn(p, ","));
		*pp = p + strlen(v);
		return v;
	}
	out = v = xmalloc(strlen(p));
	for (p++; *p != '"'; p++) {
		if (*p == '\0') {
			free(v);
			return NULL;
		}
		if (p[0] == '\\' && p[1] == '"')
			p++;
		*out++ = *p;
	}
	*out = '\0';
	*pp = p + 1;
	return v;
}

/* Apply one option, name and optional value, to o. */
static int
keys_apply_option(struct keyopts *o, const char *name, const char *v, char **cause)
{
	const struct keys_option	*opt;
	char				 q[LOG_QUOTE_SIZE];

	if ((opt = keys_find_option(name)) == NULL) {
		xasprintf(cause, "unknown option '%s'", log_quote(name, q));
		return -1;
	}
	if (opt->value && v == NULL) {
		xasprintf(cause, "option '%s' needs a value", opt->name);
		return -1;
	}
	if (!opt->value && v != NULL) {
		xasprintf(cause, "option '%s' takes no value", opt->name);
		return -1;
	}
	return opt->set(o, v, cause);
}

/* Parse the comma-separated options s (no unquoted blanks) into o. */
static int
keys_parse_options(const char *s, struct keyopts *o, char **cause)
{
	const char	*p = s;
	char		 name[KEYS_MAX_OPTION + 1], *v, q[LOG_QUOTE_SIZE];
	size_t		 len;
	int		 rc;

	for (;;) {
		len = strcspn(p, "=,");
		if (len == 0) {
			xasprintf(cause, "empty option");
			return -1;
		}
		if (len > KEYS_MAX_OPTION) {
			xasprintf(cause, "unknown option '%s'", log_quote(p, q));
			return -1;
		}
		memcpy(name, p, len);
		name[len] = '\0';
		p += len;
		v = NULL;
		if (*p == '=') {
			p++;
			if ((v = keys_read_value(&p)) == NULL) {
				xasprintf(cause, "missing end quote in option '%s'",
				    log_quote(name, q));
				return -1;
			}
		}
		rc = keys_apply_option(o, name, v, cause);
		free(v);
		if (rc != 0)
			return -1;
		if (*p == '\0')
			return 0;
		if (*p != ',') {
			xasprintf(cause, "unexpected text after option '%s' (missing comma?)",
			    log_quote(name, q));
			return -1;
		}
		p++;
	}
}

/* The value of one base64 character, or -1. */
static int
keys_b64_value(char c)
{
	static const char	 alphabet[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const char		*p;

	if (c == '\0' || (p = strchr(alphabet, c)) == NULL)
		return -1;
	return (int)(p - alphabet);
}

/* Decode strict, padded base64 into a new buffer; NULL if s is not that. */
static unsigned char *
keys_b64_decode(const char *s, size_t *outlen)
{
	unsigned char	*out;
	size_t		 len = strlen(s), i, j, o = 0, pad = 0;
	uint32_t	 v;
	int		 d = 0;

	if (len == 0 || len % 4 != 0)
		return NULL;
	out = xmalloc(len / 4 * 3);
	for (i = 0; i < len; i += 4) {
		for (v = 0, j = 0; j < 4; j++) {
			if (s[i + j] == '=' && i + 4 == len && j >= 2)
				pad++;
			else if (pad != 0 || (d = keys_b64_value(s[i + j])) == -1)
				goto fail;
			else
				v |= (uint32_t)d;
			v <<= j < 3 ? 6 : 0;
		}
		out[o++] = (unsigned char)(v >> 16);
		if (pad < 2)
			out[o++] = (unsigned char)(v >> 8);
		if (pad < 1)
			out[o++] = (unsigned char)v;
	}
	*outlen = o;
	return out;

fail:
	free(out);
	return NULL;
}

/* Check that the key blob's own type name is type; the blob is len bytes. */
static int
keys_check_blob_type(const unsigned char *blob, size_t len, const char *type, char **cause)
{
	uint32_t	 n;
	char		*inner, q[LOG_QUOTE_SIZE];

	if (len < 4)
		goto bad;
	n = (uint32_t)blob[0] << 24 | (uint32_t)blob[1] << 16 | (uint32_t)blob[2] << 8 | blob[3];
	if (n > len - 4)
		goto bad;
	if (n == strlen(type) && memcmp(blob + 4, type, n) == 0)
		return 0;
	inner = xstrndup((const char *)blob + 4, n);
	xasprintf(cause, "key type mismatch: the key data is of type '%s'", log_quote(inner, q));
	free(inner);
	return -1;

bad:
	xasprintf(cause, "invalid %s key data", type);
	return -1;
}

/* Check that libssh's encoding of key is exactly blob: no trailing or inconsistent data. */
static int
keys_check_round_trip(const ssh_key key, const unsigned char *blob, size_t len)
{
	char		*b64;
	unsigned char	*again;
	size_t		 againlen;
	int		 rc = -1;

	if (ssh_pki_export_pubkey_base64(key, &b64) != SSH_OK)
		return -1;
	if ((again = keys_b64_decode(b64, &againlen)) != NULL) {
		if (againlen == len && memcmp(again, blob, len) == 0)
			rc = 0;
		free(again);
	}
	ssh_string_free_char(b64);
	return rc;
}

/* The SHA256 fingerprint of key, as ssh-keygen -l prints it, in a new string; NULL on error. */
char *
keys_fingerprint(const ssh_key key)
{
	unsigned char	*hash = NULL;
	size_t		 hlen = 0;
	char		*fp, *out;

	if (ssh_get_publickey_hash(key, SSH_PUBLICKEY_HASH_SHA256, &hash, &hlen) != SSH_OK)
		return NULL;
	fp = ssh_get_fingerprint_hash(SSH_PUBLICKEY_HASH_SHA256, hash, hlen);
	ssh_clean_pubkey_hash(&hash);
	if (fp == NULL)
		return NULL;
	out = xstrdup(fp);
	ssh_string_free_char(fp);
	return out;
}

/* Is type a key type name this gateway accepts? */
static int
keys_type_supported(const char *type)
{
	size_t	 i;

	for (i = 0; keys_types[i] != NULL; i++) {
		if (strcmp(keys_types[i], type) == 0)
			return 1;
	}
	return 0;
}

/* Check a key type name: one of keys_types, with a clear message for the others. */
static int
keys_check_type(const char *type, char **cause)
{
	char	 q[LOG_QUOTE_SIZE];

	if (keys_type_supported(type))
		return 0;
	if (strstr(type, "-cert-v01@openssh.com") != NULL)
		xasprintf(cause, "certificates are not supported ('%s')", log_quote(type, q));
	else if (ssh_key_type_from_name(type) != SSH_KEYTYPE_UNKNOWN)
		xasprintf(cause, "unsupported key type '%s'", log_quote(type, q));
	else
		xasprintf(cause, "unknown key type '%s'", log_quote(type, q));
	return -1;
}

/* Import the key of type and base64 data b64 into ke: key, type and fingerprint. */
static int
keys_parse_key(struct keyent *ke, const char *type, const char *b64, char **cause)
{
	unsigned char	*blob;
	size_t		 len;
	int		 rc = -1;

	if (keys_check_type(type, cause) != 0)
		return -1;
	if ((blob = keys_b64_decode(b64, &len)) == NULL) {
		xasprintf(cause, "invalid base64 in %s key data", type);
		return -1;
	}
	if (keys_check_blob_type(blob, len, type, cause) != 0)
		goto out;
	if (ssh_pki_import_pubkey_base64(b64, ssh_key_type_from_name(type), &ke->key) != SSH_OK ||
	    ssh_key_type(ke->key) != ssh_key_type_from_name(type) ||
	    keys_check_round_trip(ke->key, blob, len) != 0) {
		xasprintf(cause, "invalid %s key data", type);
		goto out;
	}
	if ((ke->fingerprint = keys_fingerprint(ke->key)) == NULL) {
		xasprintf(cause, "cannot compute the fingerprint of this %s key", type);
		goto out;
	}
	ke->type = xstrdup(type);
	rc = 0;

out:
	free(blob);
	return rc;
}

/* Skip blanks. */
static char *
keys_skip_blanks(char *p)
{
	while (keys_isblank(*p))
		p++;
	return p;
}

/* End the field at p (quotes may hold blanks) with a NUL; return the start of the next one. */
static char *
keys_cut_field(char *p)
{
	int	 quoted = 0;

	for (; *p != '\0' && (quoted || !keys_isblank(*p)); p++) {
		if (quoted && p[0] == '\\' && p[1] == '"')
			p++;
		else if (*p == '"')
			quoted = !quoted;
	}
	if (*p != '\0')
		*p++ = '\0';
	return keys_skip_blanks(p);
}

/*
 * Split a trimmed, non-empty line into options, type, base64 and comment (NULL when absent).
 * A first field that is not a key type holds options, unless the next field looks like key
 * data ("AAAA..."): then it is an unknown key type, which deserves that message.
 */
static void
keys_split(char *line, char **opts, char **type, char **b64, char **comment)
{
	char	*next;

	*opts = NULL;
	*type = line;
	next = keys_cut_field(line);
	if (ssh_key_type_from_name(line) == SSH_KEYTYPE_UNKNOWN &&
	    (strncmp(next, "AAAA", 4) != 0 || strpbrk(line, "=\"") != NULL)) {
		*opts = line;
		*type = next;
		next = keys_cut_field(next);
	}
	*b64 = next;
	next = keys_cut_field(next);
	*comment = *next != '\0' ? next : NULL;
}

/* Set key options to "none given". */
void
keyopts_init(struct keyopts *o)
{
	memset(o, 0, sizeof *o);
	o->max_tunnels = -1;
	o->proxy_proto = -1;
}

/* Free the contents of key options, and leave them all "not set". */
void
keyopts_clear(struct keyopts *o)
{
	free(o->account);
	free(o->permitlisten);
	cidrlist_free(o->from);
	cidrlist_free(o->allow);
	cidrlist_free(o->deny);
	keyopts_init(o);
}

/* Copy key options into dst, which holds none; src NULL: all "not set". */
void
keyopts_copy(struct keyopts *dst, const struct keyopts *src)
{
	keyopts_init(dst);
	if (src == NULL)
		return;
	*dst = *src;
	dst->account = src->account != NULL ? xstrdup(src->account) : NULL;
	if (src->npermitlisten > 0) {
		dst->permitlisten = xcalloc(src->npermitlisten, sizeof *dst->permitlisten);
		memcpy(dst->permitlisten, src->permitlisten,
		    src->npermitlisten * sizeof *dst->permitlisten);
	} else
		dst->permitlisten = NULL;
	dst->from = cidrlist_dup(src->from);
	dst->allow = cidrlist_dup(src->allow);
	dst->deny = cidrlist_dup(src->deny);
}

/* Free a key entry; NULL is a no-op. */
void
keyent_free(struct keyent *ke)
{
	if (ke == NULL)
		return;
	ssh_key_free(ke->key);
	free(ke->fingerprint);
	free(ke->type);
	free(ke->comment);
	keyopts_clear(&ke->opts);
	free(ke);
}

/* Parse the fields of a trimmed, non-empty line copy into ke. */
static int
keys_parse_fields(char *buf, struct keyent *ke, char **cause)
{
	char	*opts, *type, *b64, *comment, q[LOG_QUOTE_SIZE];

	keys_split(buf, &opts, &type, &b64, &comment);
	if (opts != NULL && keys_parse_options(opts, &ke->opts, cause) != 0)
		return -1;
	if (*type == '\0') {
		xasprintf(cause, "missing key type");
		return -1;
	}
	if (*b64 == '\0') {
		xasprintf(cause, "missing key data after '%s'", log_quote(type, q));
		return -1;
	}
	if (keys_parse_key(ke, type, b64, cause) != 0)
		return -1;
	if (comment != NULL)
		ke->comment = xstrdup(comment);
	return 0;
}

/* Parse one line: 0 and a new entry, 1 for a blank or comment line, -1 and a cause if malformed. */
int
keys_parse_line(const char *line, struct keyent **out, char **cause)
{
	struct keyent	*ke;
	char		*buf, *p;
	size_t		 len;

	*out = NULL;
	if ((len = strnlen(line, KEYS_MAX_LINE + 1)) > KEYS_MAX_LINE) {
		xasprintf(cause, "line longer than %d bytes", KEYS_MAX_LINE);
		return -1;
	}
	buf = xstrndup(line, len);
	while (len > 0 && (keys_isblank(buf[len - 1]) || buf[len - 1] == '\n' ||
	    buf[len - 1] == '\r'))
		buf[--len] = '\0';
	p = keys_skip_blanks(buf);
	if (*p == '\0' || *p == '#') {
		free(buf);
		return 1;
	}
	ke = xcalloc(1, sizeof *ke);
	keyopts_init(&ke->opts);
	if (keys_parse_fields(p, ke, cause) != 0) {
		free(buf);
		keyent_free(ke);
		return -1;
	}
	free(buf);
	ke->account = ke->opts.account != NULL ? ke->opts.account : ke->fingerprint;
	*out = ke;
	return 0;
}

/* Record a problem "PATH:LINE: message"; past KEYS_MAX_PROBLEMS, only count it. */
static void
keyfile_add_problem(struct keyfile *kf, const char *path, int line, const char *msg)
{
	struct keyproblem	*p;

	if (kf->nproblems >= KEYS_MAX_PROBLEMS) {
		kf->unlisted++;
		return;
	}
	kf->problems = xreallocarray(kf->problems, kf->nproblems + 1, sizeof *kf->problems);
	p = &kf->problems[kf->nproblems++];
	p->line = line;
	xasprintf(&p->msg, "%s:%d: %s", path, line, msg);
}

/* Add an entry to the file's array, which grows by doubling. */
static void
keyfile_add(struct keyfile *kf, struct keyent *ke, size_t *size)
{
	if (kf->n == *size) {
		*size = *size == 0 ? 64 : *size * 2;
		kf->v = xreallocarray(kf->v, *size, sizeof *kf->v);
	}
	kf->v[kf->n++] = ke;
}

/*
 * Read one line into buf (KEYS_MAX_LINE + 1 bytes), without its newline; a longer line is cut
 * and *why says so, as it does for a NUL byte. Returns 0 at the end of the file.
 */
static int
keyfile_getline(FILE *fp, char *buf, const char **why)
{
	size_t	 len = 0;
	int	 c;

	*why = NULL;
	while ((c = getc(fp)) != EOF && c != '\n') {
		if (c == '\0' && *why == NULL)
			*why = "line holds a NUL byte";
		if (len < KEYS_MAX_LINE)
			buf[len++] = (char)c;
		else
			*why = "line longer than " KEYS_STR(KEYS_MAX_LINE) " bytes";
	}
	buf[len] = '\0';
	return c != EOF || len != 0 || *why != NULL;
}

/* Read and parse every line of fp; 0, or the errno of a read error. */
static int
keyfile_read(struct keyfile *kf, FILE *fp, const char *path)
{
	const char	*why;
	char		*buf, *cause;
	struct keyent	*ke;
	size_t		 size = 0;
	int		 line = 0, rc, error;

	buf = xmalloc(KEYS_MAX_LINE + 1);
	while (keyfile_getline(fp, buf, &why)) {
		if (line == INT_MAX) {
			keyfile_add_problem(kf, path, line, "too many lines, the rest is ignored");
			break;
		}
		line++;
		if (why != NULL) {
			keyfile_add_problem(kf, path, line, why);
			continue;
		}
		if ((rc = keys_parse_line(buf, &ke, &cause)) == -1) {
			keyfile_add_problem(kf, path, line, cause);
			free(cause);
		} else if (rc == 0) {
			ke->line = line;
			keyfile_add(kf, ke, &size);
		}
	}
	error = ferror(fp) ? errno : 0;
	free(buf);
	return error;
}

/* Order entries by fingerprint, then line. */
static int
keyfile_cmp_fingerprint(const void *a, const void *b)
{
	const struct keyent	*ka = *(struct keyent *const *)a;
	const struct keyent	*kb = *(struct keyent *const *)b;
	int			 c;

	if ((c = strcmp(ka->fingerprint, kb->fingerprint)) != 0)
		return c;
	return (ka->line > kb->line) - (ka->line < kb->line);
}

/* Order entries by line. */
static int
keyfile_cmp_line(const void *a, const void *b)
{
	const struct keyent	*ka = *(struct keyent *const *)a;
	const struct keyent	*kb = *(struct keyent *const *)b;

	return (ka->line > kb->line) - (ka->line < kb->line);
}

/* Order problems by line. */
static int
keyfile_cmp_problem(const void *a, const void *b)
{
	const struct keyproblem	*pa = a, *pb = b;

	return (pa->line > pb->line) - (pa->line < pb->line);
}

/* Sort by fingerprint, drop later duplicates of a key as problems, keep file order in v. */
static void
keyfile_index(struct keyfile *kf, const char *path)
{
	struct keyent	*first = NULL, *ke;
	char		*msg;
	size_t		 i, n = 0;

	if (kf->n > 1)
		qsort(kf->v, kf->n, sizeof *kf->v, keyfile_cmp_fingerprint);
	for (i = 0; i < kf->n; i++) {
		ke = kf->v[i];
		if (first != NULL && strcmp(first->fingerprint, ke->fingerprint) == 0 &&
		    ssh_key_cmp(first->key, ke->key, SSH_KEY_CMP_PUBLIC) == 0) {
			xasprintf(&msg, "duplicate of line %d", first->line);
			keyfile_add_problem(kf, path, ke->line, msg);
			free(msg);
			keyent_free(ke);
			continue;
		}
		first = kf->v[n++] = ke;
	}
	kf->n = n;
	kf->sorted = xcalloc(n == 0 ? 1 : n, sizeof *kf->sorted);
	if (n != 0)
		memcpy(kf->sorted, kf->v, n * sizeof *kf->v);
	if (n > 1)
		qsort(kf->v, n, sizeof *kf->v, keyfile_cmp_line);
	if (kf->nproblems > 1)
		qsort(kf->problems, kf->nproblems, sizeof *kf->problems, keyfile_cmp_problem);
}

/* Load a keys file; bad lines become problems. NULL and a cause if it cannot be read. */
struct keyfile *
keyfile_load(const char *path, char **cause)
{
	struct keyfile	*kf;
	struct keyproblem *p;
	FILE		*fp;
	int		 error;

	if ((fp = fopen(path, "r")) == NULL) {
		xasprintf(cause, "%s: cannot open: %s", path, strerror(errno));
		return NULL;
	}
	kf = xcalloc(1, sizeof *kf);
	if ((error = keyfile_read(kf, fp, path)) != 0) {
		xasprintf(cause, "%s: cannot read: %s", path, strerror(error));
		fclose(fp);
		keyfile_free(kf);
		return NULL;
	}
	fclose(fp);
	keyfile_index(kf, path);
	if (kf->unlisted != 0) {
		kf->problems = xreallocarray(kf->problems, kf->nproblems + 1, sizeof *kf->problems);
		p = &kf->problems[kf->nproblems++];
		p->line = INT_MAX;
		xasprintf(&p->msg, "%s: %zu more problems not listed", path, kf->unlisted);
	}
	return kf;
}

/* Compare a fingerprint with an entry's, for bsearch. */
static int
keyfile_cmp_find(const void *fp, const void *elem)
{
	return strcmp(fp, (*(struct keyent *const *)elem)->fingerprint);
}

/* The entry of a public key, or NULL when the file does not hold it. */
const struct keyent *
keyfile_find(const struct keyfile *kf, const ssh_key key)
{
	struct keyent	**found;
	char		 *fp;

	if (kf == NULL || key == NULL || kf->n == 0)
		return NULL;
	if ((fp = keys_fingerprint(key)) == NULL)
		return NULL;
	found = bsearch(fp, kf->sorted, kf->n, sizeof *kf->sorted, keyfile_cmp_find);
	free(fp);
	if (found == NULL || ssh_key_cmp((*found)->key, key, SSH_KEY_CMP_PUBLIC) != 0)
		return NULL;
	return *found;
}

/* Number of keys loaded. */
size_t
keyfile_count(const struct keyfile *kf)
{
	return kf == NULL ? 0 : kf->n;
}

/* Key i in file order, or NULL past the end. */
const struct keyent *
keyfile_get(const struct keyfile *kf, size_t i)
{
	if (kf == NULL || i >= kf->n)
		return NULL;
	return kf->v[i];
}

/* Number of problems found while loading. */
size_t
keyfile_nproblems(const struct keyfile *kf)
{
	return kf == NULL ? 0 : kf->nproblems;
}

/* Problem i, "FILE:LINE: message", in line order; NULL past the end. */
const char *
keyfile_problem(const struct keyfile *kf, size_t i)
{
	if (kf == NULL || i >= kf->nproblems)
		return NULL;
	return kf->problems[i].msg;
}

/* Free a keys file and its keys; NULL is a no-op. */
void
keyfile_free(struct keyfile *kf)
{
	size_t	 i;

	if (kf == NULL)
		return;
	for (i = 0; i < kf->n; i++)
		keyent_free(kf->v[i]);
	free(kf->v);
	free(kf->sorted);
	for (i = 0; i < kf->nproblems; i++)
		free(kf->problems[i].msg);
	free(kf->problems);
	free(kf);
}
