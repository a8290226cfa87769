/* SPDX-License-Identifier: ISC */
/*
 * tunnelgw: how an SSH client logs in, as far as the SSH protocol goes: the methods offered,
 * probes and signed attempts, banners, failure counts. Who may log in is the daemon's to
 * say (the login hook); the client may prove a key, or give a secret as the user name, as a
 * password or as a keyboard-interactive answer.
 *
 * OpenSSH offers its keys only after "none" has failed, so "none" always fails: a client
 * that logs in as TOKEN@gateway then proves one of its keys (which `register` can bind to the
 * account), or, holding no key, gets a keyboard-interactive round with no prompt at all.
 */
#include "config.h"

#include <event2/event.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "sshgw-int.h"
#include "xmalloc.h"

static atomic_ulong sshgw_login_failure_count;

/* Return how many authentication attempts were refused since the daemon started. */
unsigned long
sshgw_login_failures(void)
{
	return atomic_load(&sshgw_login_failure_count);
}

#define SSHGW_LOGIN_METHODS \
	(SSH_AUTH_METHOD_PUBLICKEY | SSH_AUTH_METHOD_INTERACTIVE | SSH_AUTH_METHOD_PASSWORD)

/* Count a refused attempt; too many end the session. */
static int
sshgw_login_refuse(struct sshgw_session *s)
{
	atomic_fetch_add(&sshgw_login_failure_count, 1);
	if (++s->auth_failures >= s->srv->set.max_auth_tries)
		sshgw_session_close(s, "too many authentication failures (max_auth_tries)");
	return SSH_AUTH_DENIED;
}

/* The login is decided: record who it is, stop the grace timer, say how in the log. */
static int
sshgw_login_success(struct sshgw_session *s, struct sshgw_verdict *v)
{
	s->authenticated = 1;
	s->account = v->account;
	v->account = NULL;
	if (s->grace != NULL)
		event_del(s->grace);
	sshgw_alive_start(s);
	if (s->srv->hooks->logged_in != NULL)
		s->srv->hooks->logged_in(s);
	log_info("session %llu from %s: authenticated as account '%s' %s", s->id, s->peer,
	    s->account, v->how != NULL ? v->how : "");
	return SSH_AUTH_SUCCESS;
}

/* Send the client a line it shows before the login ends (a USERAUTH_BANNER). */
static void
sshgw_login_banner(struct sshgw_session *s, const char *why)
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

/* Free what a verdict holds. */
static void
sshgw_login_verdict_free(struct sshgw_verdict *v)
{
	free(v->account);
	free(v->how);
	free(v->tell);
	free(v->log);
	memset(v, 0, sizeof *v);
}

/*
 * Ask the daemon about a login attempt: 1 when it is accepted (and, when it decides, the
 * session is logged in), 0 when refused: what the daemon gave is logged and told.
 */
static int
sshgw_login_ask(struct sshgw_session *s, const struct sshgw_login *req)
{
	struct sshgw_verdict	 v;
	int			 ok;

	memset(&v, 0, sizeof v);
	ok = s->srv->hooks->login(s, req, &v) == 0;
	if (ok && req->decide)
		sshgw_login_success(s, &v);
	if (!ok && (!v.once || !s->told)) {
		if (v.log != NULL)
			log_info_limited("session %llu from %s: %s", s->id, s->peer, v.log);
		if (v.tell != NULL)
			sshgw_login_banner(s, v.tell);
		s->told |= v.once;
	}
	sshgw_login_verdict_free(&v);
	return ok;
}

/* libssh: "none" never logs in (see the top of this file). */
static int
sshgw_login_none(ssh_session ssh, const char *user, void *arg)
{
	return SSH_AUTH_DENIED;
}

/* libssh: public-key authentication: probes (state NONE) and signed attempts (VALID). */
static int
sshgw_login_pubkey(ssh_session ssh, const char *user, struct ssh_key_struct *key, char state,
    void *arg)
{
	struct sshgw_session	*s = arg;
	struct sshgw_login	 req = {
		.method = SSHGW_LOGIN_PUBKEY, .user = user, .key = key,
		.decide = state == SSH_PUBLICKEY_STATE_VALID,
	};

	if (s->closing != NULL || s->authenticated)
		return SSH_AUTH_DENIED;
	if (state != SSH_PUBLICKEY_STATE_NONE && state != SSH_PUBLICKEY_STATE_VALID)
		return sshgw_login_refuse(s);
	return sshgw_login_ask(s, &req) ? SSH_AUTH_SUCCESS : sshgw_login_refuse(s);
}

/* libssh: a password: a token. */
static int
sshgw_login_password(ssh_session ssh, const char *user, const char *password, void *arg)
{
	struct sshgw_session	*s = arg;
	struct sshgw_login	 req = {
		.method = SSHGW_LOGIN_PASSWORD, .user = user, .secret = password, .decide = 1,
	};

	if (s->closing != NULL || s->authenticated)
		return SSH_AUTH_DENIED;
	return sshgw_login_ask(s, &req) ? SSH_AUTH_SUCCESS : sshgw_login_refuse(s);
}

/*
 * Keyboard-interactive, which libssh 0.10 hands over as messages: a user name the daemon
 * takes as a secret gets a round with no prompt (nothing to type); anyone else is asked.
 */
int
sshgw_login_message(struct sshgw_session *s, ssh_message msg)
{
	static const char	*prompt[] = { "tunnelgw token: " };
	char			 echo[] = { 0 };
	struct sshgw_login	 req = { .method = SSHGW_LOGIN_KBDINT };
	const char		*answer, *user;

	if (ssh_message_subtype(msg) != SSH_AUTH_METHOD_INTERACTIVE || s->closing != NULL ||
	    s->authenticated)
		return 1;
	if (!ssh_message_auth_kbdint_is_response(msg)) {
		user = ssh_message_auth_user(msg);
		free(s->kbd_user);
		s->kbd_user = xstrdup(user != NULL ? user : "");
		req.user = req.secret = s->kbd_user;
		if (sshgw_login_ask(s, &req))
			ssh_message_auth_interactive_request(msg, "", "", 0, NULL, NULL);
		else
			ssh_message_auth_interactive_request(msg, "tunnelgw",
			    "Paste the token your operator gave you.", 1, prompt, echo);
		return 0;
	}
	if (s->kbd_user == NULL)
		return 1;
	answer = ssh_userauth_kbdint_getnanswers(s->ssh) > 0 ?
	    ssh_userauth_kbdint_getanswer(s->ssh, 0) : NULL;
	if (answer == NULL || *answer == '\0')
		answer = s->kbd_user;	/* the no-prompt round: the user name is the secret */
	req.user = s->kbd_user;
	req.secret = answer;
	req.decide = 1;
	if (!sshgw_login_ask(s, &req)) {
		sshgw_login_refuse(s);
		return 1;
	}
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
sshgw_login_unanswered(struct sshgw_session *s)
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
	sshgw_login_refuse(s);
}

/* Install the authentication callbacks of a new session. */
void
sshgw_login_callbacks(struct sshgw_session *s)
{
	s->scb.auth_none_function = sshgw_login_none;
	s->scb.auth_pubkey_function = sshgw_login_pubkey;
	s->scb.auth_password_function = sshgw_login_password;
	ssh_set_auth_methods(s->ssh, SSHGW_LOGIN_METHODS);
}

/* Free what authentication kept. */
void
sshgw_login_free(struct sshgw_session *s)
{
	free(s->kbd_user);
	s->kbd_user = NULL;
}
