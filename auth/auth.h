/* SPDX-License-Identifier: ISC */
/* tunnelgw: the auth layer, who may do what; this header is the layer's only door. */
#ifndef TG_AUTH_H
#define TG_AUTH_H

#include <sys/socket.h>

#include <stddef.h>

#include <libssh/libssh.h>

/* cidr.c: lists of IPv4/IPv6 networks, as in from=, allow-cidr= and deny-cidr=. */
#define CIDRLIST_MAX	256	/* most entries in one list */

struct cidrlist;

int		 cidrlist_parse(const char *, struct cidrlist **, char **);
int		 cidrlist_match(const struct cidrlist *, const struct sockaddr *);
size_t		 cidrlist_count(const struct cidrlist *);
char		*cidrlist_format(const struct cidrlist *);
void		 cidrlist_free(struct cidrlist *);

/* keys.c: the authorized_keys-style keys file. */
#define KEYS_MAX_LINE		16384	/* longest line, newline excluded */
#define KEYS_MAX_ACCOUNT	64	/* longest account="NAME" */
#define KEYS_MAX_TUNNELS	100000	/* highest max-tunnels=N */

/* The options of one key line; each field says when it was not given. */
struct keyopts {
	char		*account;	/* NULL: the key's SHA256 fingerprint is its account */
	int		 max_tunnels;	/* -1: not set */
	int		*permitlisten;	/* ports; 0 = any port; NULL/0 entries: not set */
	size_t		 npermitlisten;
	struct cidrlist	*from;		/* NULL: not set */
	struct cidrlist	*allow;		/* NULL: not set */
	struct cidrlist	*deny;		/* NULL: not set */
	int		 proxy_proto;	/* -1: not set */
	int		 no_port_forwarding; /* no-port-forwarding or restrict: may not forward */
};

/* One key line. */
struct keyent {
	ssh_key		 key;		/* libssh public key */
	char		*fingerprint;	/* "SHA256:..." as ssh-keygen -l prints it */
	char		*type;		/* "ssh-ed25519" ... */
	char		*comment;	/* NULL when none */
	int		 line;		/* line number in its file; 0 from keys_parse_line */
	struct keyopts	 opts;
	const char	*account;	/* opts.account or fingerprint: never NULL */
};

struct keyfile;

struct keyfile	*keyfile_load(const char *, char **);
const struct keyent *keyfile_find(const struct keyfile *, const ssh_key);
size_t		 keyfile_count(const struct keyfile *);
const struct keyent *keyfile_get(const struct keyfile *, size_t);
size_t		 keyfile_nproblems(const struct keyfile *);
const char	*keyfile_problem(const struct keyfile *, size_t);
void		 keyfile_free(struct keyfile *);
int		 keys_parse_line(const char *, struct keyent **, char **);
void		 keyent_free(struct keyent *);

#endif
