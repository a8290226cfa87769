/* SPDX-License-Identifier: ISC */
/*
 * tunnelgw: how an SSH client logs in: a key of the keys file, a key of the database, or a
 * token, given as the user name (with any key the client proves, or none), as a password or
 * as a keyboard-interactive answer.
 *
 * OpenSSH offers its keys only after "none" has failed, so "none" always fails: a client
 * that logs in as TOKEN@gateway then proves one of its keys (which `register` can bind to the
 * account), or, holding no key, gets a keyboard-interactive round with no prompt at all.
 */
#include "config.h"

#include <sys/socket.h>

#include <event2/event.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "conf.h"
#include "log.h"
#include "sshgw-int.h"
#include "xmalloc.h"

static atomic_ulong sshgw_auth_failure_count;

/* Return how many authentication attempts were refused since the daemon started. */
unsigned long
sshgw_auth_failures(void)
{
	return atomic_load(&sshgw_auth_failure_count);
}

#define SSHGW_AUTH_METHODS \
	(SSH_AUTH_METHOD_PUBLICKEY | SSH_AUTH_METHOD_INTERACTIVE | SSH_AUTH_METHOD_PASSWORD)

/* Return how the session logged in. */
enum sshgw_auth_kind
sshgw_session_auth_kind(const struct sshgw_session *s)
{
	return s->auth_kind;
}

/* Return the id of the token the session logged in with, or 0. */
long long
sshgw_session_token_id(const struct sshgw_session *s)
{
	return s->token_id;
}

/* Return the fingerprint of the key the session logged in with, or NULL. */
const char *
sshgw_session_fingerprint(const struct sshgw_session *s)
{
	return s->fingerprint;
}

/* Return the public key the client proved, or NULL. */
ssh_key
sshgw_session_client_key(const struct sshgw_session *s)
{
	return s->client_key;
}

/* Count a refused attempt; too many end the session. */
static int
sshgw_auth_refuse(struct sshgw_session *s)
{
	atomic_fetch_add(&sshgw_auth_failure_count, 1);
	if (++s->auth_failures >= s->srv->conf->max_auth_tries)
		sshgw_session_close(s, "too many authentication failures (max_auth_tries)");
	return SSH_AUTH_DENIED;
}

/* The login is decided: record who it is and how, stop the grace timer. */
static int
sshgw_auth_success(struct sshgw_session *s, enum sshgw_auth_kind kind, char *account,
    const char *how)
{
	s->authenticated = 1;
	s->auth_kind = kind;
	s->account = account;
	if (s->grace != NULL)
		event_del(s->grace);
	sshgw_alive_start(s);
	if (s->srv->hooks->logged_in != NULL)
		s->srv->hooks->logged_in(s);
	log_info("session %llu from %s: authenticated as account '%s' %s", s->id, s->peer,
	    s->account, how);
	return SSH_AUTH_SUCCESS;
}

/* Send the client a line it shows before the login ends (a USERAUTH_BANNER). */
static void
sshgw_auth_banner(struct sshgw_session *s, const char *why)
{
	ssh_string	 banner;
	char		*text;

	xasprintf(&text, "tunnelgw: %s\r\n", why);
	if ((banner = ssh_string_from_char(text)) != NULL) {
		ssh_send_issue_banner(s->ssh, banner);
		ssh_string_free(banner);
	}
	free(text);
}

/* Does a user name name a token (the prefix every token has), so that the token decides. */
static int
sshgw_auth_is_token(const char *user)
{
	return strncmp(user, "tgw_", 4) == 0;
}

/*
 * Check a token through the daemon: 0 with *account and *id, else a logged refusal. The
 * token itself is never logged.
 */
static int
sshgw_auth_token(struct sshgw_session *s, const char *token, int touch, char **account,
    long long *id)
{
	char	*reason = NULL;
	int	 rc;

	rc = s->srv->hooks->token_check(s, token, touch, account, id, &reason);
	if (rc != 0 && sshgw_auth_is_token(token) && !s->token_told) {
		/* A token that was one once: say why it no longer works (revoked, expired). */
		log_info_limited("session %llu from %s: token refused: %s", s->id, s->peer,
		    reason != NULL ? reason : "database error");
		sshgw_auth_banner(s, reason != NULL ? reason : "the account store is not available");
		s->token_told = 1;
	}
	free(reason);
	return rc;
}

/* A user name fit for the log: never a token (anything token-like is not shown). */
static const char *
sshgw_auth_loggable(const char *user)
{
	size_t	 i, len = strlen(user);

	if (len > 32 || sshgw_auth_is_token(user))
		return "(not shown)";
	for (i = 0; i < len; i++) {
		if ((unsigned char)user[i] < 0x20 || (unsigned char)user[i] > 0x7e)
			return "(not shown)";
	}
	return user;
}

/* libssh: "none" never logs in (see the top of this file). */
static int
sshgw_auth_none(ssh_session ssh, const char *user, void *arg)
{
	return SSH_AUTH_DENIED;
}

/* Does the key's from= option allow the session's client address. */
static int
sshgw_auth_from_ok(struct sshgw_session *s, const struct keyent *ke)
{
	struct sockaddr_storage	 ss;
	socklen_t		 len = sizeof ss;

	if (ke->opts.from == NULL)
		return 1;
	if (getpeername(s->fd, (struct sockaddr *)&ss, &len) == -1)
		return 0;
	return cidrlist_match(ke->opts.from, (struct sockaddr *)&ss);
}

/* A key of the keys file. */
static int
sshgw_auth_keyfile(struct sshgw_session *s, const struct keyent *ke, char state)
{
	char	*how;

	if (!sshgw_auth_from_ok(s, ke)) {
		log_info_limited("session %llu from %s: key %s (line %d) is not allowed from "
		    "this address (from=)", s->id, s->peer, ke->fingerprint, ke->line);
		return sshgw_auth_refuse(s);
	}
	if (state == SSH_PUBLICKEY_STATE_NONE)
		return SSH_AUTH_SUCCESS;
	s->key = ke;
	s->fingerprint = xstrdup(ke->fingerprint);
	xasprintf(&how, "with %s key %s", ke->type, ke->fingerprint);
	sshgw_auth_success(s, SSHGW_AUTH_KEYFILE, xstrdup(ke->account), how);
	free(how);
	return SSH_AUTH_SUCCESS;
}

/*
 * Any key under a token user name: the token decides the account, whatever key the client
 * proves (a key of the keys file or of the database included); the key is kept for
 * `register`. A refused token refuses the login, and the client is told why.
 */
static int
sshgw_auth_token_key(struct sshgw_session *s, const char *user, ssh_key key, char state)
{
	char		*account = NULL, *how;
	long long	 id;

	if (sshgw_auth_token(s, user, state != SSH_PUBLICKEY_STATE_NONE, &account, &id) != 0)
		return sshgw_auth_refuse(s);
	if (state == SSH_PUBLICKEY_STATE_NONE) {
		free(account);
		return SSH_AUTH_SUCCESS;
	}
	s->token_id = id;
	s->fingerprint = sshgw_key_fingerprint(key);
	s->client_key = ssh_key_dup(key);
	xasprintf(&how, "with token %lld (key %s)", id, s->fingerprint);
	sshgw_auth_success(s, SSHGW_AUTH_TOKEN, account, how);
	free(how);
	return SSH_AUTH_SUCCESS;
}

/* A key that is not in the keys file: the database's, or none that we know. */
static int
sshgw_auth_db_key(struct sshgw_session *s, const char *user, ssh_key key, char state)
{
	char		*account = NULL, *fp = NULL, *how;

	if (s->srv->hooks->key_lookup(s, key, &account, &fp) != 0) {
		if (state == SSH_PUBLICKEY_STATE_NONE)
			log_info_limited("session %llu from %s: unknown key offered for user '%s'",
			    s->id, s->peer, sshgw_auth_loggable(user));
		return sshgw_auth_refuse(s);
	}
	if (state == SSH_PUBLICKEY_STATE_NONE) {
		free(account);
		free(fp);
		return SSH_AUTH_SUCCESS;
	}
	s->fingerprint = fp;
	xasprintf(&how, "with database key %s", fp);
	sshgw_auth_success(s, SSHGW_AUTH_DBKEY, account, how);
	free(how);
	return SSH_AUTH_SUCCESS;
}

/* libssh: public-key authentication: probes (state NONE) and signed attempts (VALID). */
static int
sshgw_auth_pubkey(ssh_session ssh, const char *user, struct ssh_key_struct *key, char state,
    void *arg)
{
	struct sshgw_session	*s = arg;
	const struct keyent	*ke;

	if (s->closing != NULL || s->authenticated)
		return SSH_AUTH_DENIED;
	if (state != SSH_PUBLICKEY_STATE_NONE && state != SSH_PUBLICKEY_STATE_VALID)
		return sshgw_auth_refuse(s);
	if (sshgw_auth_is_token(user))
		return sshgw_auth_token_key(s, user, key, state);
	ke = s->srv->keys != NULL ? keyfile_find(s->srv->keys, key) : NULL;
	if (ke != NULL)
		return sshgw_auth_keyfile(s, ke, state);
	return sshgw_auth_db_key(s, user, key, state);
}

/* libssh: a password: a token. */
static int
sshgw_auth_password(ssh_session ssh, const char *user, const char *password, void *arg)
{
	struct sshgw_session	*s = arg;
	char			*account;
	long long		 id;

	if (s->closing != NULL || s->authenticated)
		return SSH_AUTH_DENIED;
	if (sshgw_auth_token(s, password, 1, &account, &id) != 0)
		return sshgw_auth_refuse(s);
	s->token_id = id;
	sshgw_auth_success(s, SSHGW_AUTH_TOKEN, account, "with a token as password");
	return SSH_AUTH_SUCCESS;
}

/*
 * Keyboard-interactive, which libssh 0.10 hands over as messages: a token user name gets a
 * round with no prompt (nothing to type); anyone else is asked for a token.
 */
int
sshgw_auth_message(struct sshgw_session *s, ssh_message msg)
{
	static const char	*prompt[] = { "tunnelgw token: " };
	char			 echo[] = { 0 };
	char			*account = NULL;
	const char		*answer, *user;
	long long		 id;

	if (ssh_message_subtype(msg) != SSH_AUTH_METHOD_INTERACTIVE || s->closing != NULL ||
	    s->authenticated)
		return 1;
	if (!ssh_message_auth_kbdint_is_response(msg)) {
		user = ssh_message_auth_user(msg);
		free(s->kbd_user);
		s->kbd_user = xstrdup(user != NULL ? user : "");
		if (sshgw_auth_token(s, s->kbd_user, 0, &account, &id) == 0) {
			free(account);
			ssh_message_auth_interactive_request(msg, "", "", 0, NULL, NULL);
		} else
			ssh_message_auth_interactive_request(msg, "tunnelgw",
			    "Paste the token your operator gave you.", 1, prompt, echo);
		return 0;
	}
	if (s->kbd_user == NULL)
		return 1;
	answer = ssh_userauth_kbdint_getnanswers(s->ssh) > 0 ?
	    ssh_userauth_kbdint_getanswer(s->ssh, 0) : NULL;
	if (answer == NULL || *answer == '\0')
		answer = s->kbd_user;	/* the no-prompt round: the user name is the token */
	if (sshgw_auth_token(s, answer, 1, &account, &id) != 0) {
		sshgw_auth_refuse(s);
		return 1;
	}
	s->token_id = id;
	sshgw_auth_success(s, SSHGW_AUTH_TOKEN, account, "with a token (keyboard-interactive)");
	ssh_message_auth_reply_success(msg, 0);
	return 0;
}

/*
 * libssh 0.10.6 drops a signed publickey request that it refuses itself (a signature
 * algorithm outside the accepted list, such as SHA-1 "ssh-rsa": src/messages.c,
 * ssh_packet_userauth_request, "goto error") with no reply at all, and the request never
 * reaches a callback, so there is no message to answer it through: the client would wait
 * for login_grace_time. What libssh leaves is the error it recorded. Called after libssh
 * handled the client's packets before login: a new fatal error means such a request went
 * unanswered, and the session ends at once with a disconnect message that says why.
 */
void
sshgw_auth_unanswered(struct sshgw_session *s)
{
	static const char	 prefix[] = "Public key from client (";
	const char		*err;
	char			 alg[LOG_QUOTE_MAX + 2], q[LOG_QUOTE_SIZE], *why;
	size_t			 n;

	if (ssh_get_error_code(s->ssh) != SSH_FATAL)
		return;
	err = ssh_get_error(s->ssh);
	if (s->kex_error != NULL && strcmp(err, s->kex_error) == 0)
		return;
	if (strncmp(err, prefix, sizeof prefix - 1) == 0) {
		err += sizeof prefix - 1;
		n = strcspn(err, ")");
		if (n > sizeof alg - 1)
			n = sizeof alg - 1;
		memcpy(alg, err, n);
		alg[n] = '\0';
		xasprintf(&why, "public key signature algorithm '%s' is not accepted%s",
		    log_quote(alg, q), strcmp(alg, "ssh-rsa") == 0 ?
		    " (SHA-1): sign with rsa-sha2-256 or rsa-sha2-512" : "");
	} else {
		n = strnlen(err, sizeof alg - 1);
		memcpy(alg, err, n);
		alg[n] = '\0';
		xasprintf(&why, "authentication request refused: %s", log_quote(alg, q));
	}
	log_info_limited("session %llu from %s: %s", s->id, s->peer, why);
	sshgw_session_close(s, why);
	free(why);
	sshgw_auth_refuse(s);
}

/* Install the authentication callbacks of a new session. */
void
sshgw_auth_callbacks(struct sshgw_session *s)
{
	s->scb.auth_none_function = sshgw_auth_none;
	s->scb.auth_pubkey_function = sshgw_auth_pubkey;
	s->scb.auth_password_function = sshgw_auth_password;
	ssh_set_auth_methods(s->ssh, SSHGW_AUTH_METHODS);
}

/* Free what authentication kept. */
void
sshgw_auth_free(struct sshgw_session *s)
{
	ssh_key_free(s->client_key);
	s->client_key = NULL;
	free(s->fingerprint);
	free(s->kbd_user);
	s->fingerprint = s->kbd_user = NULL;
}

/*
 * The keys file was reloaded: a session that logged in with a key of the old file keeps its
 * tunnels if the new file still has that key for the same account, from where the client
 * connects (its options are then the new line's); NULL, or why the session must close.
 */
const char *
sshgw_session_rekey(struct sshgw_session *s, const struct keyfile *keys)
{
	const struct keyent	*ke;

	if (s->auth_kind != SSHGW_AUTH_KEYFILE || s->key == NULL)
		return NULL;
	ke = keys != NULL ? keyfile_find(keys, s->key->key) : NULL;
	if (ke == NULL)
		return "your key was removed from the keys file";
	if (strcmp(ke->account, s->account) != 0)
		return "your key now belongs to another account";
	if (!sshgw_auth_from_ok(s, ke))
		return "your key may no longer connect from this address (from=)";
	s->key = ke;
	return NULL;
}
