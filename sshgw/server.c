/* SPDX-License-Identifier: ISC */
/* tunnelgw: the SSH server settings shared by a worker's sessions: host keys and algorithms. */
#include "config.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "sshgw-int.h"
#include "xmalloc.h"

/* Key exchange: curve25519 and the NIST curves, then strong finite-field groups. */
#define SSHGW_KEX "curve25519-sha256,curve25519-sha256@libssh.org,ecdh-sha2-nistp256," \
	"ecdh-sha2-nistp384,ecdh-sha2-nistp521,diffie-hellman-group16-sha512," \
	"diffie-hellman-group18-sha512,diffie-hellman-group14-sha256"
/* MACs matter only for the CTR ciphers; encrypt-then-MAC first. */
#define SSHGW_MACS "hmac-sha2-256-etm@openssh.com,hmac-sha2-512-etm@openssh.com," \
	"hmac-sha2-256,hmac-sha2-512"
#define SSHGW_HOSTKEY_ALGS "ssh-ed25519,ecdsa-sha2-nistp256,ecdsa-sha2-nistp384," \
	"ecdsa-sha2-nistp521,rsa-sha2-512,rsa-sha2-256"
#define SSHGW_PUBKEY_TYPES "ssh-ed25519,ecdsa-sha2-nistp256,ecdsa-sha2-nistp384," \
	"ecdsa-sha2-nistp521,sk-ssh-ed25519@openssh.com,sk-ecdsa-sha2-nistp256@openssh.com," \
	"rsa-sha2-512,rsa-sha2-256"

/*
 * The host key algorithms libssh offers for the host keys it was given: those of
 * SSHGW_HOSTKEY_ALGS that one of the keys can sign with, in that order.
 */
static char *
sshgw_server_hostkey_algs(const struct sshgw_settings *set)
{
	char		 have[256] = "", look[80], *copy, *p, *name, *out;
	const char	*add;
	ssh_key		 key;
	size_t		 i, len = 0;

	for (i = 0; i < set->nhost_keys; i++) {
		if (ssh_pki_import_privkey_file(set->host_keys[i], NULL, NULL, NULL,
		    &key) != SSH_OK)
			continue;
		if (ssh_key_type(key) == SSH_KEYTYPE_RSA)
			add = "rsa-sha2-512,rsa-sha2-256";
		else
			add = ssh_key_type_to_char(ssh_key_type(key));
		if (add != NULL)
			snprintf(have + strlen(have), sizeof have - strlen(have), ",%s", add);
		ssh_key_free(key);
	}
	strcat(have, ",");
	out = xcalloc(1, sizeof SSHGW_HOSTKEY_ALGS);
	copy = p = xstrdup(SSHGW_HOSTKEY_ALGS);
	while ((name = strsep(&p, ",")) != NULL) {
		snprintf(look, sizeof look, ",%s,", name);
		if (strstr(have, look) != NULL)
			len += (size_t)snprintf(out + len, sizeof SSHGW_HOSTKEY_ALGS - len, "%s%s",
			    len > 0 ? "," : "", name);
	}
	free(copy);
	if (*out == '\0') {
		/* None could be read here: never refuse a client for host key types. */
		free(out);
		out = xstrdup(SSHGW_HOSTKEY_ALGS);
	}
	return out;
}

/* The gateway's list of one kind of algorithm, as its KEXINIT offers it. */
const char *
sshgw_server_offer(const struct sshgw_server *srv, enum sshgw_offer what)
{
	switch (what) {
	case SSHGW_OFFER_KEX:
		return SSHGW_KEX;
	case SSHGW_OFFER_HOSTKEY:
		return srv->hostkey_algs;
	case SSHGW_OFFER_CIPHER:
		return srv->set.ciphers;
	case SSHGW_OFFER_MAC:
		return SSHGW_MACS;
	case SSHGW_OFFER_COMPRESSION:
		return "none";	/* see sshgw_session_create */
	}
	return "";
}

/* Set one option of a bind, with a clear error. */
static int
sshgw_server_set(struct sshgw_server *srv, enum ssh_bind_options_e opt, const void *value,
    const char *what, char **cause)
{
	if (ssh_bind_options_set(srv->bind, opt, value) != SSH_OK) {
		xasprintf(cause, "SSH %s: %s", what, ssh_get_error(srv->bind));
		return -1;
	}
	return 0;
}

/* Keep a copy of the settings sessions read later; the host key paths are not kept. */
static void
sshgw_server_keep(struct sshgw_server *srv, const struct sshgw_settings *set)
{
	srv->set = *set;
	srv->set.host_keys = NULL;
	srv->set.nhost_keys = 0;
	srv->set.ciphers = xstrdup(set->ciphers);
	srv->set.public_host = xstrdup(set->public_host);
}

/*
 * Create the SSH server settings for one worker: its own ssh_bind, so no two threads ever
 * share one (libssh changes a bind on its first accept). set is copied: the caller may
 * free it, and its strings, once this returns.
 */
struct sshgw_server *
sshgw_server_create(const struct sshgw_settings *set,
    const struct sshgw_hooks *hooks, char **cause)
{
	struct sshgw_server	*srv;
	bool			 no = false;
	size_t			 i;

	srv = xcalloc(1, sizeof *srv);
	sshgw_server_keep(srv, set);
	srv->hooks = hooks;
	if ((srv->bind = ssh_bind_new()) == NULL)
		fatal("out of memory creating an SSH server");
	/* Never read /etc/ssh/libssh_server_config: our configuration is the only one. */
	if (sshgw_server_set(srv, SSH_BIND_OPTIONS_PROCESS_CONFIG, &no, "configuration", cause) != 0)
		goto fail;
	for (i = 0; i < set->nhost_keys; i++) {
		if (sshgw_server_set(srv, SSH_BIND_OPTIONS_HOSTKEY, set->host_keys[i],
		    "host key", cause) != 0)
			goto fail;
	}
	if (sshgw_server_set(srv, SSH_BIND_OPTIONS_CIPHERS_C_S, set->ciphers, "ciphers", cause) != 0 ||
	    sshgw_server_set(srv, SSH_BIND_OPTIONS_CIPHERS_S_C, set->ciphers, "ciphers", cause) != 0 ||
	    sshgw_server_set(srv, SSH_BIND_OPTIONS_KEY_EXCHANGE, SSHGW_KEX, "key exchange", cause) != 0 ||
	    sshgw_server_set(srv, SSH_BIND_OPTIONS_HMAC_C_S, SSHGW_MACS, "MACs", cause) != 0 ||
	    sshgw_server_set(srv, SSH_BIND_OPTIONS_HMAC_S_C, SSHGW_MACS, "MACs", cause) != 0 ||
	    sshgw_server_set(srv, SSH_BIND_OPTIONS_HOSTKEY_ALGORITHMS, SSHGW_HOSTKEY_ALGS,
	    "host key algorithms", cause) != 0 ||
	    sshgw_server_set(srv, SSH_BIND_OPTIONS_PUBKEY_ACCEPTED_KEY_TYPES, SSHGW_PUBKEY_TYPES,
	    "public key types", cause) != 0)
		goto fail;
	srv->hostkey_algs = sshgw_server_hostkey_algs(set);
	return srv;
fail:
	sshgw_server_free(srv);
	return NULL;
}

/* Free a server's settings; NULL is a no-op. */
void
sshgw_server_free(struct sshgw_server *srv)
{
	if (srv == NULL)
		return;
	if (srv->bind != NULL)
		ssh_bind_free(srv->bind);
	free(srv->hostkey_algs);
	free((char *)srv->set.ciphers);		/* our copies (sshgw_server_keep) */
	free((char *)srv->set.public_host);
	free(srv);
}
