/* SPDX-License-Identifier: ISC */
/*
 * tunnelgw: the account store as the workers see it. Each worker has its own SQLite
 * connection (a connection is never shared between threads). Logins and forward requests
 * read it: indexed reads in WAL mode, which never wait for a writer. The only writes are a
 * token's last use and `register`, both rare, bounded by a short busy timeout.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "access.h"
#include "auth.h"
#include "log.h"
#include "sshgw.h"
#include "store.h"
#include "xmalloc.h"

static _Thread_local struct store *access_store;

/* Give this thread its store connection (NULL: no database, every lookup refuses). */
void
access_thread_store(struct store *st)
{
	access_store = st;
}

/* Log a database error once per occurrence, without failing the caller harder than a refusal. */
static void
access_db_error(const char *what, char *cause)
{
	log_warn("%s: %s", what, cause != NULL ? cause : "database error");
	free(cause);
}

/* Does the stored key line hold exactly this public key. */
static int
access_same_key(const char *line, ssh_key key)
{
	struct keyent	*ke = NULL;
	char		*cause = NULL;
	int		 same;

	if (keys_parse_line(line, &ke, &cause) != 0) {
		free(cause);
		return 0;
	}
	same = ssh_key_cmp(ke->key, key, SSH_KEY_CMP_PUBLIC) == 0;
	keyent_free(ke);
	return same;
}

/* sshgw hook: the account of a key kept in the database. */
int
access_key_lookup(struct sshgw_session *s, ssh_key key, char **account, char **fingerprint)
{
	struct store_key	*k = NULL;
	char			*fp, *cause = NULL;

	if (access_store == NULL)
		return 1;
	fp = sshgw_key_fingerprint(key);
	if (store_key_find(access_store, fp, &k, &cause) != 0) {
		access_db_error("key lookup", cause);
		free(fp);
		return -1;
	}
	if (k == NULL || !access_same_key(k->key, key)) {
		store_key_free(k);
		free(fp);
		return 1;
	}
	*account = xstrdup(k->account);
	*fingerprint = fp;
	store_key_free(k);
	return 0;
}

/* sshgw hook: check a token; with touch, record its use. */
int
access_token_check(struct sshgw_session *s, const char *token, int touch, char **account,
    long long *id, char **reason)
{
	int64_t	 tid;
	int	 rc;

	*reason = NULL;
	if (access_store == NULL || !store_token_wellformed(token)) {
		*reason = xstrdup("not a token");
		return 1;
	}
	if (touch)
		rc = store_token_verify(access_store, token, account, &tid, reason);
	else
		rc = store_token_check(access_store, token, account, &tid, reason);
	if (rc == 0)
		*id = tid;
	return rc;
}

/* sshgw hook: `register`: add the session's key to its token's account. */
int
access_register_key(struct sshgw_session *s, char **msg)
{
	struct store_key	*k = NULL;
	ssh_key			 key = sshgw_session_client_key(s);
	char			*b64 = NULL, *line, *cause = NULL;
	int			 rc = -1;

	if (sshgw_session_auth_kind(s) != SSHGW_AUTH_TOKEN) {
		xasprintf(msg, "register: log in with a token to register a key");
		return -1;
	}
	if (key == NULL) {
		xasprintf(msg, "register: no key was used to log in; run ssh -i YOUR_KEY "
		    "TOKEN@gateway register");
		return -1;
	}
	if (access_store == NULL || ssh_pki_export_pubkey_base64(key, &b64) != SSH_OK) {
		xasprintf(msg, "register: the account store is not available");
		return -1;
	}
	xasprintf(&line, "%s %s", ssh_key_type_to_char(ssh_key_type(key)), b64);
	ssh_string_free_char(b64);
	if (store_key_add(access_store, sshgw_session_account(s), line, "register", &k,
	    &cause) != 0) {
		xasprintf(msg, "register: %s", cause);
		free(cause);
	} else {
		xasprintf(msg, "registered key %s for account %s", k->fingerprint, k->account);
		log_info("session %llu: %s", sshgw_session_id(s), *msg);
		rc = 0;
	}
	store_key_free(k);
	free(line);
	return rc;
}

/* The tunnel limit an account has in the store, or -1 when it has none (or is not there). */
int
access_account_max_tunnels(const char *account)
{
	struct store_account	*a = NULL;
	char			*cause = NULL;
	int			 n;

	if (access_store == NULL)
		return -1;
	if (store_account_find(access_store, account, &a, &cause) != 0) {
		access_db_error("account lookup", cause);
		return -1;
	}
	n = a != NULL ? a->max_tunnels : -1;
	store_account_free(a);
	return n;
}

/* The account that reserved port, as a new string, or NULL when none did. */
char *
access_port_owner(int port)
{
	char	*account = NULL, *cause = NULL;

	if (access_store == NULL)
		return NULL;
	if (store_address_owner(access_store, port, &account, &cause) != 0) {
		access_db_error("reserved port lookup", cause);
		return NULL;
	}
	return account;
}

/* Mark every reserved port in a 65536-bit map; 0, or -1 when the store cannot say. */
int
access_reserved_ports(uint8_t *bits)
{
	struct store_address	**a = NULL;
	size_t			  n = 0, i;
	char			 *cause = NULL;

	memset(bits, 0, 65536 / 8);
	if (access_store == NULL)
		return 0;
	if (store_address_list(access_store, &a, &n, &cause) != 0) {
		access_db_error("reserved ports", cause);
		return -1;
	}
	for (i = 0; i < n; i++) {
		if (a[i]->port > 0 && a[i]->port < 65536)
			bits[a[i]->port / 8] |= (uint8_t)(1u << (a[i]->port % 8));
	}
	store_address_list_free(a, n);
	return 0;
}

/*
 * After the store changed: NULL when the session's login still stands, else why it does
 * not (its token revoked or expired, its key or account deleted).
 */
const char *
access_still_allowed(struct sshgw_session *s)
{
	struct store_key	*k = NULL;
	char			*cause = NULL;
	int			 rc;

	if (access_store == NULL)
		return NULL;
	switch (sshgw_session_auth_kind(s)) {
	case SSHGW_AUTH_TOKEN:
		rc = store_token_active(access_store, sshgw_session_token_id(s), &cause);
		if (rc < 0) {
			access_db_error("token check", cause);
			return NULL;
		}
		return rc ? NULL : "your token was revoked, has expired, or its account was deleted";
	case SSHGW_AUTH_DBKEY:
		if (store_key_find(access_store, sshgw_session_fingerprint(s), &k, &cause) != 0) {
			access_db_error("key check", cause);
			return NULL;
		}
		rc = k != NULL && strcmp(k->account, sshgw_session_account(s)) == 0;
		store_key_free(k);
		return rc ? NULL : "your key was deleted or moved to another account, "
		    "or its account was deleted";
	default:
		return NULL;
	}
}
