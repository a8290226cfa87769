/* SPDX-License-Identifier: ISC */
/*
 * tunnelgwctl: the operator's command line: accounts, tokens, keys, addresses, events, live
 * tunnels.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "conf.h"
#include "control.h"
#include "store.h"
#include "json.h"
#include "log.h"
#include "xmalloc.h"

/* The configuration file read without -f: $(sysconfdir)/tunnelgw/tunnelgw.conf. */
#ifndef TG_CONFFILE
#define TG_CONFFILE "/etc/tunnelgw/tunnelgw.conf"
#endif

#define CTL_EVENTS_LIMIT	50	/* events listed by default */
#define CTL_EVENTS_MAX		1000000	/* highest --limit */

struct ctl_command;

struct ctl {
	struct conf			*conf;
	int				 json;
	const struct ctl_command	*cmd;	/* the command running */
	struct store			*store;
};

/* The kind of a column's values: how --json writes them. */
enum ctl_type {
	CTL_STRING,
	CTL_NUMBER,
	CTL_TIME,	/* RFC 3339 UTC */
	CTL_JSON,	/* a JSON value, written as it is */
};

/* One column of a listing: its header (lower-cased, its --json key) and kind. */
struct ctl_column {
	const char	*name;
	enum ctl_type	 type;
};

/* A listing: rows of cells, NULL where there is no value ("-", null in JSON). */
struct ctl_table {
	const struct ctl_column	*cols;
	size_t			 ncols;
	char			**cells;	/* nrows * ncols */
	size_t			 nrows;
};

/* One command: its words, how many arguments it takes, and what runs it. */
struct ctl_command {
	const char	*noun;
	const char	*verb;		/* NULL: the noun alone is the command */
	int		 min_args;
	int		 max_args;
	const char	*args;
	const char	*help;
	int		(*run)(struct ctl *, int, char **);
};

/* Print "tunnelgwctl: message" on stderr; returns 1, the exit status of a failure. */
static int
ctl_error(const char *fmt, ...)
{
	va_list	 ap;

	fputs("tunnelgwctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return 1;
}

/* Report cause, free it, and return 1. */
static int
ctl_fail(char *cause)
{
	ctl_error("%s", cause);
	free(cause);
	return 1;
}

/* Print why and the usage of the running command as an error; returns -1. */
static int
ctl_usage_error(struct ctl *ctl, const char *why)
{
	const struct ctl_command	*cmd = ctl->cmd;

	ctl_error("%s (usage: tunnelgwctl %s%s%s %s)", why, cmd->noun,
	    cmd->verb != NULL ? " " : "", cmd->verb != NULL ? cmd->verb : "", cmd->args);
	return -1;
}

/* Parse a decimal number of 1 to 10 digits from lo to hi; what names it in the message. */
static int
ctl_number(const char *s, long long lo, long long hi, const char *what, long long *v)
{
	char		 q[LOG_QUOTE_SIZE];
	long long	 n = 0;
	size_t		 i, len = strnlen(s, 11);

	if (len == 0 || len > 10 || strspn(s, "0123456789") != len)
		goto bad;
	for (i = 0; i < len; i++)
		n = n * 10 + (s[i] - '0');
	if (n < lo || n > hi)
		goto bad;
	*v = n;
	return 0;

bad:
	ctl_error("%s '%s' is not a number from %lld to %lld", what, log_quote(s, q), lo, hi);
	return -1;
}

/*
 * Split a command's arguments into exactly npos positional ones and the options opts (NULL
 * ended), each given as "--opt VALUE" or "--opt=VALUE"; vals[i] stays NULL when opts[i] is
 * absent.
 */
static int
ctl_opts(struct ctl *ctl, int argc, char **argv, const char *const *opts, const char **vals,
    char **pos, int npos)
{
	char	 q[LOG_QUOTE_SIZE], why[LOG_QUOTE_MAX + 64];
	size_t	 len;
	int	 i, o, n = 0;

	for (o = 0; opts[o] != NULL; o++)
		vals[o] = NULL;
	for (i = 0; i < argc; i++) {
		for (o = 0; opts[o] != NULL; o++) {
			len = strlen(opts[o]);
			if (strncmp(argv[i], "--", 2) == 0 &&
			    strncmp(argv[i] + 2, opts[o], len) == 0 &&
			    (argv[i][2 + len] == '\0' || argv[i][2 + len] == '='))
				break;
		}
		if (opts[o] != NULL) {
			if (vals[o] != NULL)
				return ctl_usage_error(ctl, "an option is given twice");
			if (argv[i][2 + len] == '=')
				vals[o] = argv[i] + 3 + len;
			else if (i + 1 < argc)
				vals[o] = argv[++i];
			else {
				snprintf(why, sizeof why, "--%s needs a value", opts[o]);
				return ctl_usage_error(ctl, why);
			}
		} else if (argv[i][0] == '-' && argv[i][1] != '\0') {
			snprintf(why, sizeof why, "unknown option '%s'", log_quote(argv[i], q));
			return ctl_usage_error(ctl, why);
		} else if (n == npos) {
			return ctl_usage_error(ctl, "too many arguments");
		} else
			pos[n++] = argv[i];
	}
	if (n != npos)
		return ctl_usage_error(ctl, "missing argument");
	return 0;
}

/* ctl_opts with one option. */
static int
ctl_args(struct ctl *ctl, int argc, char **argv, const char *opt, const char **val,
    char **pos, int npos)
{
	const char *const	 opts[] = { opt, NULL };

	return ctl_opts(ctl, argc, argv, opts, val, pos, npos);
}

/* Check a member name before the database is opened. */
static int
ctl_member_name(const char *name)
{
	char	*cause;

	if (name != NULL && store_member_check_name(name, &cause) != 0)
		return ctl_fail(cause);
	return 0;
}

/*
 * Record a change made here as an "audit" event in the database, as the daemon records the
 * API's: who (tunnelgwctl, and the local user), from where (this host), what, to what. A
 * failure to record is said on stderr; the change stands.
 */
static void
ctl_audit(struct ctl *ctl, const char *action, const char *account, const char *object)
{
	struct store_event	 ev;
	struct passwd		*pw = getpwuid(getuid());
	json_t			*d;
	char			*actor, *detail, *cause = NULL;

	xasprintf(&actor, "tunnelgwctl (user %s)", pw != NULL ? pw->pw_name : "?");
	memset(&ev, 0, sizeof ev);
	ev.time = (int64_t)time(NULL);
	ev.event = (char *)"audit";
	ev.account = (char *)account;
	ev.client = (char *)"local";
	ev.bytes_in = ev.bytes_out = ev.duration_ms = -1;
	d = json_pack("{s:s, s:s?, s:s}", "action", action, "object", object, "actor", actor);
	detail = d != NULL ? json_dumps(d, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	json_decref(d);
	ev.detail = detail;
	if (detail == NULL || store_event_add(ctl->store, &ev, 1, 0, 0, &cause) != 0) {
		fprintf(stderr, "tunnelgwctl: the change was made, but not recorded as an event: "
		    "%s\n", cause != NULL ? cause : "out of memory");
		free(cause);
	}
	free(detail);
	free(actor);
}

/* Open the database the configuration names. */
static int
ctl_open(struct ctl *ctl)
{
	char	*cause;

	if ((ctl->store = store_open(ctl->conf->database, STORE_BUSY_TIMEOUT, &cause)) == NULL)
		return ctl_fail(cause);
	return 0;
}

/* --- listings ----------------------------------------------------------------------------- */

/* Make an empty listing with these columns. */
static struct ctl_table *
ctl_table_create(const struct ctl_column *cols, size_t ncols)
{
	struct ctl_table	*t = xcalloc(1, sizeof *t);

	t->cols = cols;
	t->ncols = ncols;
	return t;
}

/* Free a listing; NULL is a no-op. */
static void
ctl_table_free(struct ctl_table *t)
{
	size_t	 i;

	if (t == NULL)
		return;
	for (i = 0; i < t->nrows * t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
	free(t);
}

/* Add a row of empty cells and return it. */
static char **
ctl_table_add(struct ctl_table *t)
{
	size_t	 i;
	char	**row;

	t->cells = xreallocarray(t->cells, t->nrows + 1, t->ncols * sizeof *t->cells);
	row = t->cells + t->nrows++ * t->ncols;
	for (i = 0; i < t->ncols; i++)
		row[i] = NULL;
	return row;
}

/* Set a cell to a copy of s, or no value when s is NULL. */
static void
ctl_set(char **cell, const char *s)
{
	*cell = s != NULL ? xstrdup(s) : NULL;
}

/* Set a cell to a number. */
static void
ctl_set_number(char **cell, long long v)
{
	xasprintf(cell, "%lld", v);
}

/* Set a cell to a count, or no value when it is negative (none). */
static void
ctl_set_count(char **cell, int64_t v)
{
	if (v >= 0)
		ctl_set_number(cell, v);
}

/* Set a cell to a time in RFC 3339 UTC, or no value for 0. */
static void
ctl_set_time(char **cell, int64_t t)
{
	struct tm	 tm;
	time_t		 tt = (time_t)t;
	char		 buf[32];

	if (t == 0 || gmtime_r(&tt, &tm) == NULL ||
	    strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0) {
		*cell = NULL;
		return;
	}
	*cell = xstrdup(buf);
}

/* Print a listing as columns under a header, aligned, "-" for no value. */
static void
ctl_table_print(FILE *fp, const struct ctl_table *t)
{
	size_t		*width, r, c, len;
	const char	*s;

	width = xreallocarray(NULL, t->ncols, sizeof *width);
	for (c = 0; c < t->ncols; c++) {
		width[c] = strlen(t->cols[c].name);
		for (r = 0; r < t->nrows; r++) {
			s = t->cells[r * t->ncols + c];
			len = s != NULL ? strlen(s) : 1;
			if (len > width[c])
				width[c] = len;
		}
	}
	for (r = 0; r <= t->nrows; r++) {
		for (c = 0; c < t->ncols; c++) {
			s = r == 0 ? t->cols[c].name : t->cells[(r - 1) * t->ncols + c];
			if (s == NULL)
				s = "-";
			if (c + 1 == t->ncols)
				fprintf(fp, "%s\n", s);
			else
				fprintf(fp, "%-*s  ", (int)width[c], s);
		}
	}
	free(width);
}

/* Write a column's header in lower case, as a JSON key. */
static void
ctl_json_key(FILE *fp, const char *name)
{
	fputc('"', fp);
	for (; *name != '\0'; name++)
		fputc(*name >= 'A' && *name <= 'Z' ? *name - 'A' + 'a' : *name, fp);
	fputs("\": ", fp);
}

/* Write row r of a listing as a JSON object. */
static void
ctl_json_row(FILE *fp, const struct ctl_table *t, size_t r)
{
	const char	*s;
	size_t		 c;

	fputc('{', fp);
	for (c = 0; c < t->ncols; c++) {
		ctl_json_key(fp, t->cols[c].name);
		s = t->cells[r * t->ncols + c];
		if (s == NULL)
			fputs("null", fp);
		else if (t->cols[c].type == CTL_NUMBER || t->cols[c].type == CTL_JSON)
			fputs(s, fp);
		else
			json_write_string(fp, s);
		fputs(c + 1 < t->ncols ? ", " : "}", fp);
	}
}

/* Print a listing as a JSON array of objects, one per line. */
static void
ctl_table_json(FILE *fp, const struct ctl_table *t)
{
	size_t	 r;

	if (t->nrows == 0) {
		fputs("[]\n", fp);
		return;
	}
	fputs("[\n", fp);
	for (r = 0; r < t->nrows; r++) {
		fputs("  ", fp);
		ctl_json_row(fp, t, r);
		fputs(r + 1 < t->nrows ? ",\n" : "\n", fp);
	}
	fputs("]\n", fp);
}

/* Print a listing as the options ask, and free it. Returns 0. */
static int
ctl_table_output(struct ctl *ctl, struct ctl_table *t)
{
	if (ctl->json)
		ctl_table_json(stdout, t);
	else
		ctl_table_print(stdout, t);
	ctl_table_free(t);
	return 0;
}

/*
 * Say what a command that changes something did, in one line: "NOUN VALUE DONE" (account
 * alice added), or with --json {"KEY": VALUE, "DONE": true}, VALUE a number when number is
 * set. Returns 0.
 */
static int
ctl_done(struct ctl *ctl, const char *key, const char *value, int number, const char *done)
{
	if (!ctl->json) {
		printf("%s %s %s\n", ctl->cmd->noun, value, done);
		return 0;
	}
	printf("{\"%s\": ", key);
	if (number)
		fputs(value, stdout);
	else
		json_write_string(stdout, value);
	printf(", \"%s\": true}\n", done);
	return 0;
}

/* --- accounts ----------------------------------------------------------------------------- */

static const struct ctl_column ctl_account_columns[] = {
	{ "NAME", CTL_STRING }, { "MAX_TUNNELS", CTL_NUMBER }, { "KEYS", CTL_NUMBER },
	{ "TOKENS", CTL_NUMBER }, { "ADDRESSES", CTL_NUMBER }, { "CREATED", CTL_TIME },
	{ "MEMBERS", CTL_NUMBER }, { "MAX_ADDRESSES", CTL_NUMBER },
	{ "MAX_CONNECTIONS", CTL_NUMBER }, { "CREATE_RAW_TUNNEL", CTL_STRING },
};
#define CTL_NACCOUNT_COLUMNS	(sizeof ctl_account_columns / sizeof ctl_account_columns[0])

/* account add NAME [--max-tunnels N]: create an account. */
static int
ctl_account_add(struct ctl *ctl, int argc, char **argv)
{
	const char	*val;
	char		*name, *cause;
	long long	 max = -1;

	if (ctl_args(ctl, argc, argv, "max-tunnels", &val, &name, 1) != 0)
		return 1;
	if (val != NULL && ctl_number(val, 0, STORE_MAX_TUNNELS, "--max-tunnels", &max) != 0)
		return 1;
	if (store_account_check_name(name, &cause) != 0)
		return ctl_fail(cause);
	if (ctl_open(ctl) != 0)
		return 1;
	if (store_account_add(ctl->store, name, (int)max, &cause) != 0)
		return ctl_fail(cause);
	ctl_audit(ctl, "account.create", name, NULL);
	return ctl_done(ctl, "name", name, 0, "added");
}

/* account list: the accounts with their limits and counts. */
static int
ctl_account_list(struct ctl *ctl, int argc, char **argv)
{
	struct store_account	**v;
	struct ctl_table	 *t;
	char			 *cause, **row;
	size_t			  n, i;

	if (ctl_open(ctl) != 0)
		return 1;
	if (store_account_list(ctl->store, &v, &n, &cause) != 0)
		return ctl_fail(cause);
	t = ctl_table_create(ctl_account_columns, CTL_NACCOUNT_COLUMNS);
	for (i = 0; i < n; i++) {
		row = ctl_table_add(t);
		ctl_set(&row[0], v[i]->name);
		ctl_set_count(&row[1], v[i]->max_tunnels);
		ctl_set_number(&row[2], v[i]->nkeys);
		ctl_set_number(&row[3], v[i]->ntokens);
		ctl_set_number(&row[4], v[i]->naddresses);
		ctl_set_time(&row[5], v[i]->created);
		ctl_set_number(&row[6], v[i]->nmembers);
		ctl_set_count(&row[7], v[i]->max_addresses);
		ctl_set_count(&row[8], v[i]->max_connections);
		ctl_set(&row[9], v[i]->create_raw_tunnel != NULL ? v[i]->create_raw_tunnel :
		    "manager");
	}
	store_account_list_free(v, n);
	return ctl_table_output(ctl, t);
}

/* Read a limit of account set: a number from 0 to max, or "none". */
static int
ctl_limit(const char *val, int max, const char *what, int *out)
{
	long long	 n;

	if (val == NULL)
		return 0;
	if (strcmp(val, "none") == 0) {
		*out = -1;
		return 0;
	}
	if (ctl_number(val, 0, max, what, &n) != 0)
		return -1;
	*out = (int)n;
	return 0;
}

/*
 * account set NAME [--max-tunnels N|none] [--max-addresses N|none]
 * [--max-connections N|none] [--create-raw-tunnel ROLE]: change an account's limits.
 */
static int
ctl_account_set(struct ctl *ctl, int argc, char **argv)
{
	static const char *const opts[] = { "max-tunnels", "max-addresses", "max-connections",
	    "create-raw-tunnel", NULL };
	struct store_account_set set = { STORE_UNCHANGED, STORE_UNCHANGED, STORE_UNCHANGED,
	    NULL };
	const char		*vals[4];
	char			*name, *cause;

	if (ctl_opts(ctl, argc, argv, opts, vals, &name, 1) != 0)
		return 1;
	if (vals[0] == NULL && vals[1] == NULL && vals[2] == NULL && vals[3] == NULL) {
		ctl_usage_error(ctl, "nothing to set");
		return 1;
	}
	if (ctl_limit(vals[0], STORE_MAX_TUNNELS, "--max-tunnels", &set.max_tunnels) != 0 ||
	    ctl_limit(vals[1], STORE_MAX_LIMIT, "--max-addresses", &set.max_addresses) != 0 ||
	    ctl_limit(vals[2], STORE_MAX_LIMIT, "--max-connections",
	    &set.max_connections) != 0)
		return 1;
	set.create_raw_tunnel = vals[3];
	if (ctl_open(ctl) != 0)
		return 1;
	if (store_account_set(ctl->store, name, &set, &cause) != 0)
		return ctl_fail(cause);
	ctl_audit(ctl, "account.update", name, NULL);
	return ctl_done(ctl, "name", name, 0, "changed");
}

/* account del NAME: delete an account with its tokens, keys and addresses. */
static int
ctl_account_del(struct ctl *ctl, int argc, char **argv)
{
	char	*cause;

	if (ctl_open(ctl) != 0)
		return 1;
	if (store_account_del(ctl->store, argv[0], &cause) != 0)
		return ctl_fail(cause);
	ctl_audit(ctl, "account.delete", argv[0], NULL);
	return ctl_done(ctl, "name", argv[0], 0, "deleted");
}

/* --- tokens ------------------------------------------------------------------------------- */

static const struct ctl_column ctl_token_columns[] = {
	{ "ID", CTL_NUMBER }, { "ACCOUNT", CTL_STRING }, { "CREATED", CTL_TIME },
	{ "EXPIRES", CTL_TIME }, { "REVOKED", CTL_TIME }, { "LAST_USED", CTL_TIME },
	{ "MEMBER", CTL_STRING },
};
#define CTL_NTOKEN_COLUMNS	(sizeof ctl_token_columns / sizeof ctl_token_columns[0])

/* Write all of buf to standard output with write(2): no stdio buffer keeps a copy. */
static int
ctl_write_secret(const char *buf)
{
	size_t	 off = 0, len = strlen(buf);
	ssize_t	 r;

	if (fflush(stdout) != 0)
		return -1;
	while (off < len) {
		if ((r = write(STDOUT_FILENO, buf + off, len - off)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		off += (size_t)r;
	}
	return 0;
}

/*
 * Print text that shows a new secret, and wipe it. Nobody saw a secret that cannot be
 * shown, and it must not stay valid: then revoke it (what names it) and fail.
 */
static int
ctl_show_secret(struct ctl *ctl, char *text, int (*revoke)(struct store *, int64_t, char **),
    int64_t id, const char *what)
{
	char	*cause;
	int	 rc;

	rc = ctl_write_secret(text) == 0 ? 0 : errno;
	strfreezero(text);
	if (rc == 0)
		return 0;
	if (revoke(ctl->store, id, &cause) != 0)
		free(cause);
	return ctl_error("cannot print the %s (%s); %s %lld was revoked", what, strerror(rc),
	    what, (long long)id);
}

/* The text that shows a new token: the token alone on a line, or a JSON object. */
static char *
ctl_token_text(struct ctl *ctl, const char *account, const char *member, const char *token,
    int64_t id, int64_t days)
{
	char	*text, *created, *expires, *exp;
	int64_t	 now = (int64_t)time(NULL);

	if (!ctl->json) {
		xasprintf(&text, "%s\n", token);
		return text;
	}
	/* The names and the token need no JSON escaping: all are [A-Za-z0-9._@-]. */
	ctl_set_time(&created, now);
	ctl_set_time(&expires, days == 0 ? 0 : now + days * 86400);
	if (expires != NULL)
		xasprintf(&exp, "\"%s\"", expires);
	else
		exp = xstrdup("null");
	xasprintf(&text, "{\"id\": %lld, \"account\": \"%s\", \"member\": \"%s\", "
	    "\"token\": \"%s\", \"created\": \"%s\", \"expires\": %s}\n", (long long)id,
	    account, member, token, created != NULL ? created : "", exp);
	free(created);
	free(expires);
	free(exp);
	return text;
}

/*
 * token create ACCOUNT [--expires DAYS] [--member NAME]: print a new token, once; its id on
 * stderr.
 */
static int
ctl_token_create(struct ctl *ctl, int argc, char **argv)
{
	static const char *const opts[] = { "expires", "member", NULL };
	const char	*vals[2], *member;
	char		*account, *cause, *token, *text, obj[32];
	long long	 days = 0;
	int64_t		 id;

	if (ctl_opts(ctl, argc, argv, opts, vals, &account, 1) != 0)
		return 1;
	if (vals[0] != NULL && ctl_number(vals[0], 1, STORE_MAX_DAYS, "--expires", &days) != 0)
		return 1;
	member = vals[1] != NULL ? vals[1] : STORE_OWNER_MEMBER;
	if (ctl_member_name(member) != 0 || ctl_open(ctl) != 0)
		return 1;
	if (store_token_create(ctl->store, account, member, (int)days, &token, &id,
	    &cause) != 0)
		return ctl_fail(cause);
	text = ctl_token_text(ctl, account, member, token, id, days);
	strfreezero(token);
	if (ctl_show_secret(ctl, text, store_token_revoke, id, "token") != 0)
		return 1;
	snprintf(obj, sizeof obj, "token %lld", (long long)id);
	ctl_audit(ctl, "token.create", account, obj);
	if (!ctl->json)
		fprintf(stderr, "token %lld for account %s (member %s); it is shown only this "
		    "once\n", (long long)id, account, member);
	return 0;
}

/* token list: the tokens, never their secret. */
static int
ctl_token_list(struct ctl *ctl, int argc, char **argv)
{
	struct store_token	**v;
	struct ctl_table	 *t;
	char			 *cause, **row;
	size_t			  n, i;

	if (ctl_open(ctl) != 0)
		return 1;
	if (store_token_list(ctl->store, &v, &n, &cause) != 0)
		return ctl_fail(cause);
	t = ctl_table_create(ctl_token_columns, CTL_NTOKEN_COLUMNS);
	for (i = 0; i < n; i++) {
		row = ctl_table_add(t);
		ctl_set_number(&row[0], v[i]->id);
		ctl_set(&row[1], v[i]->account);
		ctl_set_time(&row[2], v[i]->created);
		ctl_set_time(&row[3], v[i]->expires);
		ctl_set_time(&row[4], v[i]->revoked);
		ctl_set_time(&row[5], v[i]->last_used);
		ctl_set(&row[6], v[i]->member);
	}
	store_token_list_free(v, n);
	return ctl_table_output(ctl, t);
}

/* token revoke ID: revoke a token. */
static int
ctl_token_revoke(struct ctl *ctl, int argc, char **argv)
{
	struct store_token	*t = NULL;
	char		*cause, num[32], obj[48];
	long long	 id;

	if (ctl_number(argv[0], 1, INT64_MAX / 2, "token id", &id) != 0)
		return 1;
	if (ctl_open(ctl) != 0)
		return 1;
	if (store_token_find(ctl->store, id, &t, &cause) != 0)
		return ctl_fail(cause);
	if (store_token_revoke(ctl->store, id, &cause) != 0) {
		store_token_free(t);
		return ctl_fail(cause);
	}
	snprintf(num, sizeof num, "%lld", id);
	snprintf(obj, sizeof obj, "token %lld", id);
	ctl_audit(ctl, "token.revoke", t != NULL ? t->account : NULL, obj);
	store_token_free(t);
	return ctl_done(ctl, "id", num, 1, "revoked");
}

/* --- keys --------------------------------------------------------------------------------- */

static const struct ctl_column ctl_key_columns[] = {
	{ "FINGERPRINT", CTL_STRING }, { "ACCOUNT", CTL_STRING }, { "TYPE", CTL_STRING },
	{ "COMMENT", CTL_STRING }, { "ADDED_BY", CTL_STRING }, { "CREATED", CTL_TIME },
	{ "MEMBER", CTL_STRING },
};
#define CTL_NKEY_COLUMNS	(sizeof ctl_key_columns / sizeof ctl_key_columns[0])

/* Add a key record as a row of a key listing. */
static void
ctl_key_row(struct ctl_table *t, const struct store_key *k)
{
	char	**row = ctl_table_add(t);

	ctl_set(&row[0], k->fingerprint);
	ctl_set(&row[1], k->account);
	ctl_set(&row[2], k->type);
	ctl_set(&row[3], k->comment);
	ctl_set(&row[4], k->added_by);
	ctl_set_time(&row[5], k->created);
	ctl_set(&row[6], k->member);
}

/*
 * key add ACCOUNT 'TYPE BASE64 [COMMENT]' [--member NAME]: prints the fingerprint (--json:
 * the key).
 */
static int
ctl_key_add(struct ctl *ctl, int argc, char **argv)
{
	struct store_key	*k;
	struct ctl_table	*t;
	const char		*member;
	char			*cause, *pos[2];

	if (ctl_args(ctl, argc, argv, "member", &member, pos, 2) != 0 ||
	    ctl_member_name(member) != 0 || ctl_open(ctl) != 0)
		return 1;
	if (store_key_add(ctl->store, pos[0], member, pos[1], "tunnelgwctl", &k, &cause) != 0)
		return ctl_fail(cause);
	ctl_audit(ctl, "key.add", k->account, k->fingerprint);
	if (ctl->json) {
		t = ctl_table_create(ctl_key_columns, CTL_NKEY_COLUMNS);
		ctl_key_row(t, k);
		ctl_json_row(stdout, t, 0);
		fputc('\n', stdout);
		ctl_table_free(t);
	} else
		printf("%s\n", k->fingerprint);
	store_key_free(k);
	return 0;
}

/* key list: the keys with their accounts. */
static int
ctl_key_list(struct ctl *ctl, int argc, char **argv)
{
	struct store_key	**v;
	struct ctl_table	 *t;
	char			 *cause;
	size_t			  n, i;

	if (ctl_open(ctl) != 0)
		return 1;
	if (store_key_list(ctl->store, &v, &n, &cause) != 0)
		return ctl_fail(cause);
	t = ctl_table_create(ctl_key_columns, CTL_NKEY_COLUMNS);
	for (i = 0; i < n; i++)
		ctl_key_row(t, v[i]);
	store_key_list_free(v, n);
	return ctl_table_output(ctl, t);
}

/* key del FINGERPRINT: delete a key. */
static int
ctl_key_del(struct ctl *ctl, int argc, char **argv)
{
	struct store_key	*k = NULL;
	char			*cause;

	if (ctl_open(ctl) != 0)
		return 1;
	if (store_key_find(ctl->store, argv[0], &k, &cause) != 0)
		return ctl_fail(cause);
	if (store_key_del(ctl->store, argv[0], &cause) != 0) {
		store_key_free(k);
		return ctl_fail(cause);
	}
	ctl_audit(ctl, "key.delete", k != NULL ? k->account : NULL, argv[0]);
	store_key_free(k);
	return ctl_done(ctl, "fingerprint", argv[0], 0, "deleted");
}

/* --- members ------------------------------------------------------------------------------ */

static const struct ctl_column ctl_member_columns[] = {
	{ "ACCOUNT", CTL_STRING }, { "NAME", CTL_STRING }, { "ROLE", CTL_STRING },
	{ "KEYS", CTL_NUMBER }, { "TOKENS", CTL_NUMBER }, { "APIKEYS", CTL_NUMBER },
	{ "CREATED", CTL_TIME },
};
#define CTL_NMEMBER_COLUMNS	(sizeof ctl_member_columns / sizeof ctl_member_columns[0])

/* member add ACCOUNT NAME --role ROLE: add a member to an account. */
static int
ctl_member_add(struct ctl *ctl, int argc, char **argv)
{
	const char	*role;
	char		*pos[2], *cause;

	if (ctl_args(ctl, argc, argv, "role", &role, pos, 2) != 0)
		return 1;
	if (role == NULL) {
		ctl_usage_error(ctl, "a member needs --role (viewer, developer, manager or owner)");
		return 1;
	}
	if (ctl_member_name(pos[1]) != 0 || ctl_open(ctl) != 0)
		return 1;
	if (store_member_add(ctl->store, pos[0], pos[1], role, &cause) != 0)
		return ctl_fail(cause);
	ctl_audit(ctl, "member.add", pos[0], pos[1]);
	return ctl_done(ctl, "name", pos[1], 0, "added");
}

/* member list ACCOUNT: the members of an account with their roles. */
static int
ctl_member_list(struct ctl *ctl, int argc, char **argv)
{
	struct store_member	**v;
	struct ctl_table	 *t;
	char			 *cause, **row;
	size_t			  n, i;

	if (ctl_open(ctl) != 0)
		return 1;
	if (store_member_list(ctl->store, argv[0], &v, &n, &cause) != 0)
		return ctl_fail(cause);
	t = ctl_table_create(ctl_member_columns, CTL_NMEMBER_COLUMNS);
	for (i = 0; i < n; i++) {
		row = ctl_table_add(t);
		ctl_set(&row[0], v[i]->account);
		ctl_set(&row[1], v[i]->name);
		ctl_set(&row[2], v[i]->role);
		ctl_set_number(&row[3], v[i]->nkeys);
		ctl_set_number(&row[4], v[i]->ntokens);
		ctl_set_number(&row[5], v[i]->napikeys);
		ctl_set_time(&row[6], v[i]->created);
	}
	store_member_list_free(v, n);
	return ctl_table_output(ctl, t);
}

/* member del ACCOUNT NAME: delete a member with its keys, tokens and API keys. */
static int
ctl_member_del(struct ctl *ctl, int argc, char **argv)
{
	char	*cause;

	if (ctl_open(ctl) != 0)
		return 1;
	if (store_member_del(ctl->store, argv[0], argv[1], &cause) != 0)
		return ctl_fail(cause);
	ctl_audit(ctl, "member.delete", argv[0], argv[1]);
	return ctl_done(ctl, "name", argv[1], 0, "deleted");
}

/* member role ACCOUNT NAME ROLE: give a member another role. */
static int
ctl_member_role(struct ctl *ctl, int argc, char **argv)
{
	char	*cause, obj[160];

	if (ctl_open(ctl) != 0)
		return 1;
	if (store_member_set_role(ctl->store, argv[0], argv[1], argv[2], &cause) != 0)
		return ctl_fail(cause);
	snprintf(obj, sizeof obj, "%s role %s", argv[1], argv[2]);
	ctl_audit(ctl, "member.role", argv[0], obj);
	return ctl_done(ctl, "name", argv[1], 0, "changed");
}

/* --- API keys ----------------------------------------------------------------------------- */

static const struct ctl_column ctl_apikey_columns[] = {
	{ "ID", CTL_NUMBER }, { "ACCOUNT", CTL_STRING }, { "MEMBER", CTL_STRING },
	{ "ROLE", CTL_STRING }, { "CREATED", CTL_TIME }, { "REVOKED", CTL_TIME },
	{ "LAST_USED", CTL_TIME },
};
#define CTL_NAPIKEY_COLUMNS	(sizeof ctl_apikey_columns / sizeof ctl_apikey_columns[0])

/*
 * apikey create ACCOUNT MEMBER | apikey create --operator: print a new API key, once; its id
 * on stderr.
 */
static int
ctl_apikey_create(struct ctl *ctl, int argc, char **argv)
{
	const char	*account = NULL, *member = NULL;
	char		*cause, *secret, *text, obj[32];
	int64_t		 id;

	if (argc == 1 && strcmp(argv[0], "--operator") == 0)
		;
	else if (argc == 2 && argv[0][0] != '-' && argv[1][0] != '-') {
		account = argv[0];
		member = argv[1];
	} else {
		ctl_usage_error(ctl, "name an account and its member, or --operator");
		return 1;
	}
	if (ctl_member_name(member) != 0 || ctl_open(ctl) != 0)
		return 1;
	if (store_apikey_create(ctl->store, account, member, &secret, &id, &cause) != 0)
		return ctl_fail(cause);
	/* The names and the key need no JSON escaping: all are [A-Za-z0-9._@-]. */
	if (!ctl->json)
		xasprintf(&text, "%s\n", secret);
	else if (account == NULL)
		xasprintf(&text, "{\"id\": %lld, \"operator\": true, \"key\": \"%s\"}\n",
		    (long long)id, secret);
	else
		xasprintf(&text, "{\"id\": %lld, \"account\": \"%s\", \"member\": \"%s\", "
		    "\"key\": \"%s\"}\n", (long long)id, account, member, secret);
	strfreezero(secret);
	if (ctl_show_secret(ctl, text, store_apikey_revoke, id, "API key") != 0)
		return 1;
	snprintf(obj, sizeof obj, "apikey %lld", (long long)id);
	ctl_audit(ctl, "apikey.create", account, obj);
	if (!ctl->json && account == NULL)
		fprintf(stderr, "API key %lld for the operator; it is shown only this once\n",
		    (long long)id);
	else if (!ctl->json)
		fprintf(stderr, "API key %lld for account %s (member %s); it is shown only this "
		    "once\n", (long long)id, account, member);
	return 0;
}

/* apikey list [ACCOUNT]: the API keys, never their secret. */
static int
ctl_apikey_list(struct ctl *ctl, int argc, char **argv)
{
	struct store_apikey	**v;
	struct ctl_table	 *t;
	char			 *cause, **row;
	size_t			  n, i;

	if (ctl_open(ctl) != 0)
		return 1;
	if (store_apikey_list(ctl->store, argc > 0 ? argv[0] : NULL, &v, &n, &cause) != 0)
		return ctl_fail(cause);
	t = ctl_table_create(ctl_apikey_columns, CTL_NAPIKEY_COLUMNS);
	for (i = 0; i < n; i++) {
		row = ctl_table_add(t);
		ctl_set_number(&row[0], v[i]->id);
		ctl_set(&row[1], v[i]->account);
		ctl_set(&row[2], v[i]->member);
		ctl_set(&row[3], v[i]->account != NULL ? v[i]->role : "operator");
		ctl_set_time(&row[4], v[i]->created);
		ctl_set_time(&row[5], v[i]->revoked);
		ctl_set_time(&row[6], v[i]->last_used);
	}
	store_apikey_list_free(v, n);
	return ctl_table_output(ctl, t);
}

/* apikey revoke ID: revoke an API key. */
static int
ctl_apikey_revoke(struct ctl *ctl, int argc, char **argv)
{
	char		*cause, num[32], obj[48];
	long long	 id;

	if (ctl_number(argv[0], 1, INT64_MAX / 2, "API key id", &id) != 0)
		return 1;
	if (ctl_open(ctl) != 0)
		return 1;
	if (store_apikey_revoke(ctl->store, id, &cause) != 0)
		return ctl_fail(cause);
	snprintf(num, sizeof num, "%lld", id);
	snprintf(obj, sizeof obj, "apikey %lld", id);
	ctl_audit(ctl, "apikey.revoke", NULL, obj);
	return ctl_done(ctl, "id", num, 1, "revoked");
}

/* --- addresses ---------------------------------------------------------------------------- */

/* The last column, NODE, only where gateways share the database. */
static const struct ctl_column ctl_address_columns[] = {
	{ "URL", CTL_STRING }, { "ACCOUNT", CTL_STRING }, { "CREATED", CTL_TIME },
	{ "NODE", CTL_STRING },
};

/* The columns of an address listing: NODE where gateways share the database. */
static size_t
ctl_address_ncols(struct ctl *ctl)
{
	return store_shared(ctl->store) ? 4 : 3;
}

/*
 * Set a cell to the public address of a port of protocol ("tcp" or "udp"):
 * PROTOCOL://HOST:PORT, IPv6 in brackets; HOST is public_host unless another is given.
 */
static void
ctl_set_url_on(struct ctl *ctl, char **cell, const char *protocol, int port, const char *other)
{
	const char	*host = other != NULL ? other : ctl->conf->public_host;
	int		 v6 = strchr(host, ':') != NULL;

	xasprintf(cell, "%s://%s%s%s:%d", protocol, v6 ? "[" : "", host, v6 ? "]" : "", port);
}

/* Set a cell to the public address of a port of protocol on this gateway. */
static void
ctl_set_url(struct ctl *ctl, char **cell, const char *protocol, int port)
{
	ctl_set_url_on(ctl, cell, protocol, port, NULL);
}

/* Take a --udp word out of argv: "udp" when it was there, else "tcp". */
static const char *
ctl_take_protocol(int *argc, char **argv)
{
	int	 i;

	for (i = 0; i < *argc; i++) {
		if (strcmp(argv[i], "--udp") == 0) {
			memmove(&argv[i], &argv[i + 1], (size_t)(*argc - i - 1) * sizeof *argv);
			(*argc)--;
			return "udp";
		}
	}
	return "tcp";
}

/* Add an address as a row of an address listing: on its node's host, when it has one. */
static void
ctl_address_row(struct ctl *ctl, struct ctl_table *t, const struct store_address *a)
{
	char	**row = ctl_table_add(t);

	ctl_set_url_on(ctl, &row[0], a->protocol, a->port, a->host);
	ctl_set(&row[1], a->account);
	ctl_set_time(&row[2], a->created);
	if (t->ncols > 3)
		ctl_set(&row[3], a->node);
}

/* Take a --node NAME out of argv: the name, NULL when not there, or "" when it has no value. */
static const char *
ctl_take_node(int *argc, char **argv)
{
	const char	*node;
	int		 i;

	for (i = 0; i < *argc; i++) {
		if (strcmp(argv[i], "--node") != 0)
			continue;
		node = i + 1 < *argc ? argv[i + 1] : "";
		memmove(&argv[i], &argv[i + (*node != '\0' ? 2 : 1)],
		    (size_t)(*argc - i - (*node != '\0' ? 2 : 1)) * sizeof *argv);
		*argc -= *node != '\0' ? 2 : 1;
		return node;
	}
	return NULL;
}

/*
 * address reserve ACCOUNT [PORT] [--udp] [--node NAME]: prints tcp://HOST:PORT, or udp://...
 * (--json: the address). With --node, the address belongs to that gateway alone.
 */
static int
ctl_address_reserve(struct ctl *ctl, int argc, char **argv)
{
	struct store_address	*a;
	struct ctl_table	*t;
	const char		*proto = ctl_take_protocol(&argc, argv);
	const char		*node = ctl_take_node(&argc, argv);
	int			 udp = strcmp(proto, "udp") == 0;
	char			*cause, obj[24];
	long long		 want = 0;
	int			 port;

	if (argc < 1 || argc > 2 || (node != NULL && *node == '\0'))
		return ctl_fail(xstrdup("usage: address reserve ACCOUNT [PORT] [--udp] "
		    "[--node NAME]"));
	if (argc == 2 && ctl_number(argv[1], 1, 65535, "port", &want) != 0)
		return 1;
	if (ctl_open(ctl) != 0)
		return 1;
	if (store_address_reserve(ctl->store, argv[0], proto, node, (int)want,
	    udp ? ctl->conf->udp_port_min : ctl->conf->port_min,
	    udp ? ctl->conf->udp_port_max : ctl->conf->port_max, &port, &cause) != 0)
		return ctl_fail(cause);
	snprintf(obj, sizeof obj, "%sport %d", udp ? "UDP " : "", port);
	ctl_audit(ctl, "address.reserve", argv[0], obj);
	if (store_address_find(ctl->store, proto, port, &a, &cause) != 0)
		return ctl_fail(cause);
	if (a == NULL)
		return ctl_fail(xstrdup("the address was released meanwhile"));
	t = ctl_table_create(ctl_address_columns, ctl_address_ncols(ctl));
	ctl_address_row(ctl, t, a);
	store_address_free(a);
	if (ctl->json) {
		ctl_json_row(stdout, t, 0);
		fputc('\n', stdout);
	} else
		printf("%s\n", t->cells[0]);
	ctl_table_free(t);
	return 0;
}

/* address list: the reserved addresses. */
static int
ctl_address_list(struct ctl *ctl, int argc, char **argv)
{
	struct store_address	**v;
	struct ctl_table	 *t;
	char			 *cause;
	size_t			  n, i;

	if (ctl_open(ctl) != 0)
		return 1;
	if (store_address_list(ctl->store, &v, &n, &cause) != 0)
		return ctl_fail(cause);
	t = ctl_table_create(ctl_address_columns, ctl_address_ncols(ctl));
	for (i = 0; i < n; i++)
		ctl_address_row(ctl, t, v[i]);
	store_address_list_free(v, n);
	return ctl_table_output(ctl, t);
}

/* address release PORT [--udp]: release a reserved port. */
static int
ctl_address_release(struct ctl *ctl, int argc, char **argv)
{
	const char	*proto = ctl_take_protocol(&argc, argv);
	char		*cause, *url, *owner = NULL, obj[32];
	long long	 port;

	if (argc != 1)
		return ctl_fail(xstrdup("usage: address release PORT [--udp]"));
	if (ctl_number(argv[0], 1, 65535, "port", &port) != 0)
		return 1;
	if (ctl_open(ctl) != 0)
		return 1;
	if (store_address_owner(ctl->store, proto, (int)port, &owner, &cause) != 0)
		return ctl_fail(cause);
	if (store_address_release(ctl->store, proto, (int)port, &cause) != 0) {
		free(owner);
		return ctl_fail(cause);
	}
	snprintf(obj, sizeof obj, "%sport %lld", strcmp(proto, "udp") == 0 ? "UDP " : "", port);
	ctl_audit(ctl, "address.release", owner, obj);
	free(owner);
	ctl_set_url(ctl, &url, proto, (int)port);
	ctl_done(ctl, "url", url, 0, "released");
	free(url);
	return 0;
}

/* --- events ------------------------------------------------------------------------------ */

static const struct ctl_column ctl_event_columns[] = {
	{ "TIME", CTL_TIME }, { "EVENT", CTL_STRING }, { "ACCOUNT", CTL_STRING },
	{ "URL", CTL_STRING }, { "CLIENT", CTL_STRING }, { "BYTES_IN", CTL_NUMBER },
	{ "BYTES_OUT", CTL_NUMBER }, { "DURATION_MS", CTL_NUMBER }, { "DETAIL", CTL_JSON },
};

/*
 * Is argv[*i] the option --opt, as "--opt VALUE" or "--opt=VALUE"? 1 with *val set (and *i
 * moved past a separate value), 0 when it is another argument, -1 when the value is missing.
 */
static int
ctl_option(int argc, char **argv, int *i, const char *opt, const char **val)
{
	const char	*a = argv[*i];
	size_t		 len = strlen(opt);

	if (strncmp(a, "--", 2) != 0 || strncmp(a + 2, opt, len) != 0)
		return 0;
	if (a[2 + len] == '=') {
		*val = a + 3 + len;
		return 1;
	}
	if (a[2 + len] != '\0')
		return 0;
	if (*i + 1 >= argc)
		return -1;
	*val = argv[++*i];
	return 1;
}

/* Add an event as a row of an event listing. */
static void
ctl_event_row(struct ctl_table *t, const struct store_event *e)
{
	char	**row = ctl_table_add(t);

	ctl_set_time(&row[0], e->time);
	ctl_set(&row[1], e->event);
	ctl_set(&row[2], e->account);
	ctl_set(&row[3], e->url);
	ctl_set(&row[4], e->client);
	ctl_set_count(&row[5], e->bytes_in);
	ctl_set_count(&row[6], e->bytes_out);
	ctl_set_count(&row[7], e->duration_ms);
	ctl_set(&row[8], e->detail);
}

/* events [--account NAME] [--limit N]: the newest events in the database, newest first. */
static int
ctl_events(struct ctl *ctl, int argc, char **argv)
{
	struct store_event	**v;
	struct ctl_table	 *t;
	const char		 *account = NULL, *val = NULL;
	char			 *cause, q[LOG_QUOTE_SIZE], why[LOG_QUOTE_MAX + 64];
	long long		  limit = CTL_EVENTS_LIMIT;
	size_t			  n, i;
	int			  a, rc;

	for (a = 0; a < argc; a++) {
		if ((rc = ctl_option(argc, argv, &a, "account", &account)) == 0)
			rc = ctl_option(argc, argv, &a, "limit", &val);
		if (rc == -1) {
			snprintf(why, sizeof why, "%s needs a value", log_quote(argv[a], q));
			ctl_usage_error(ctl, why);
			return 1;
		}
		if (rc == 0) {
			snprintf(why, sizeof why, "unknown argument '%s'", log_quote(argv[a], q));
			ctl_usage_error(ctl, why);
			return 1;
		}
	}
	if (val != NULL && ctl_number(val, 1, CTL_EVENTS_MAX, "--limit", &limit) != 0)
		return 1;
	if (ctl_open(ctl) != 0)
		return 1;
	if (store_event_list(ctl->store, account, (int)limit, &v, &n, &cause) != 0)
		return ctl_fail(cause);
	t = ctl_table_create(ctl_event_columns, 9);
	for (i = 0; i < n; i++)
		ctl_event_row(t, v[i]);
	store_event_list_free(v, n);
	return ctl_table_output(ctl, t);
}

/* --- live tunnels ------------------------------------------------------------------------- */

/* tunnels: the running daemon's live tunnels, asked over its control socket. */
static int
ctl_tunnels(struct ctl *ctl, int argc, char **argv)
{
	char	*answer, *cause;

	if (control_query(ctl->conf->control_socket, ctl->json ? "tunnels --json" : "tunnels",
	    &answer, &cause) != 0)
		return ctl_fail(cause);
	fputs(answer, stdout);
	free(answer);
	return 0;
}

static const struct ctl_command ctl_commands[] = {
	{ "account", "add", 1, 3, "NAME [--max-tunnels N]", "create an account", ctl_account_add },
	{ "account", "set", 2, 9, "NAME [--max-tunnels N|none] [--max-addresses N|none] "
	  "[--max-connections N|none] [--create-raw-tunnel ROLE]", "change an account's limits",
	  ctl_account_set },
	{ "account", "list", 0, 0, "", "list accounts", ctl_account_list },
	{ "account", "del", 1, 1, "NAME", "delete an account and close its sessions", ctl_account_del },
	{ "member", "add", 2, 4, "ACCOUNT NAME --role ROLE", "add a member to an account",
	  ctl_member_add },
	{ "member", "list", 1, 1, "ACCOUNT", "list an account's members", ctl_member_list },
	{ "member", "del", 2, 2, "ACCOUNT NAME", "delete a member, its keys and tokens",
	  ctl_member_del },
	{ "member", "role", 3, 3, "ACCOUNT NAME ROLE", "give a member another role",
	  ctl_member_role },
	{ "token", "create", 1, 5, "ACCOUNT [--expires DAYS] [--member NAME]",
	  "create a token, printed once", ctl_token_create },
	{ "token", "list", 0, 0, "", "list tokens (never their secret)", ctl_token_list },
	{ "token", "revoke", 1, 1, "ID", "revoke a token and close its sessions", ctl_token_revoke },
	{ "key", "add", 2, 4, "ACCOUNT 'ssh-ed25519 AAAA... comment' [--member NAME]",
	  "add a public key", ctl_key_add },
	{ "key", "list", 0, 0, "", "list keys", ctl_key_list },
	{ "key", "del", 1, 1, "FINGERPRINT", "delete a key and close its sessions", ctl_key_del },
	{ "apikey", "create", 1, 2, "ACCOUNT MEMBER | --operator",
	  "create an API key, printed once", ctl_apikey_create },
	{ "apikey", "list", 0, 1, "[ACCOUNT]", "list API keys (never their secret)",
	  ctl_apikey_list },
	{ "apikey", "revoke", 1, 1, "ID", "revoke an API key", ctl_apikey_revoke },
	{ "address", "reserve", 1, 5, "ACCOUNT [PORT] [--udp] [--node NAME]",
	  "reserve a public port (a UDP one with --udp) for an account, on any gateway or on "
	  "NAME alone", ctl_address_reserve },
	{ "address", "list", 0, 0, "", "list reserved addresses", ctl_address_list },
	{ "address", "release", 1, 2, "PORT [--udp]", "release a reserved port",
	  ctl_address_release },
	{ "tunnels", NULL, 0, 0, "", "live tunnels: url, account, forward, conns, bytes, since",
	  ctl_tunnels },
	{ "events", NULL, 0, 4, "[--account NAME] [--limit N]",
	  "recent events, newest first (default 50)", ctl_events },
};

/* Print usage and the command list to fp. */
static void
ctl_usage(FILE *fp)
{
	const struct ctl_command	*cmd;
	char				 words[160];
	size_t				 i;

	fprintf(fp, "usage: tunnelgwctl [-f FILE] [--json] COMMAND ...\n"
	    "  -f FILE   configuration file (default %s)\n"
	    "  --json    print JSON instead of columns\n"
	    "  -V        print the version\n\ncommands:\n", TG_CONFFILE);
	for (i = 0; i < sizeof ctl_commands / sizeof ctl_commands[0]; i++) {
		cmd = &ctl_commands[i];
		snprintf(words, sizeof words, "%s%s%s %s", cmd->noun, cmd->verb ? " " : "",
		    cmd->verb ? cmd->verb : "", cmd->args);
		fprintf(fp, "  %-48s %s\n", words, cmd->help);
	}
}

/* Find the command named by argv; *used gets how many words named it. */
static const struct ctl_command *
ctl_find(int argc, char **argv, int *used)
{
	const struct ctl_command	*cmd;
	size_t				 i;

	for (i = 0; i < sizeof ctl_commands / sizeof ctl_commands[0]; i++) {
		cmd = &ctl_commands[i];
		if (strcmp(argv[0], cmd->noun) != 0)
			continue;
		if (cmd->verb == NULL) {
			*used = 1;
			return cmd;
		}
		if (argc >= 2 && strcmp(argv[1], cmd->verb) == 0) {
			*used = 2;
			return cmd;
		}
	}
	return NULL;
}

/* Take --json out of a command's arguments, where it may come after the command too. */
static int
ctl_strip_json(struct ctl *ctl, int argc, char **argv)
{
	int	 i, n = 0;

	for (i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0)
			ctl->json = 1;
		else
			argv[n++] = argv[i];
	}
	return n;
}

/* tunnelgwctl: parse the options, find the command, load the configuration, run it. */
int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const struct ctl_command	*cmd;
	struct ctl			 ctl = { NULL, 0, NULL, NULL };
	const char			*path = TG_CONFFILE;
	char				*cause = NULL;
	int				 ch, used, nargs, rc;

	while ((ch = getopt_long(argc, argv, "+f:hjV", longopts, NULL)) != -1) {
		switch (ch) {
		case 'f':
			path = optarg;
			break;
		case 'j':
			ctl.json = 1;
			break;
		case 'h':
			ctl_usage(stdout);
			return 0;
		case 'V':
			printf("tunnelgwctl %s\n", PACKAGE_VERSION);
			return 0;
		default:
			ctl_usage(stderr);
			return 1;
		}
	}
	argc -= optind;
	argv += optind;
	if (argc == 0) {
		ctl_usage(stderr);
		return 1;
	}
	if ((cmd = ctl_find(argc, argv, &used)) == NULL) {
		fprintf(stderr, "tunnelgwctl: unknown command '%s%s%s' (try tunnelgwctl --help)\n",
		    argv[0], argc > 1 ? " " : "", argc > 1 ? argv[1] : "");
		return 1;
	}
	nargs = ctl_strip_json(&ctl, argc - used, argv + used);
	if (nargs < cmd->min_args || nargs > cmd->max_args) {
		fprintf(stderr, "tunnelgwctl: usage: tunnelgwctl %s%s%s %s\n", cmd->noun,
		    cmd->verb ? " " : "", cmd->verb ? cmd->verb : "", cmd->args);
		return 1;
	}
	ctl.conf = conf_create();
	if (conf_load(ctl.conf, path, &cause) != 0) {
		fprintf(stderr, "tunnelgwctl: %s\n", cause);
		free(cause);
		conf_free(ctl.conf);
		return 1;
	}
	ctl.cmd = cmd;
	rc = cmd->run(&ctl, nargs, argv + used);
	store_close(ctl.store);
	conf_free(ctl.conf);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		if (rc == 0)
			ctl_error("cannot write the output: %s", strerror(errno));
		return 1;
	}
	return rc;
}
