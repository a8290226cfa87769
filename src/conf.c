/* SPDX-License-Identifier: ISC */
/* tunnelgw: load, check and print the configuration described by conf_table. */
#include "config.h"

#include <sys/types.h>
#include <sys/stat.h>

#include <arpa/inet.h>
#include <errno.h>
#include <libconfig.h>
#include <netinet/in.h>
#include <pwd.h>
#include <stdint.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "auth.h"
#include "conf.h"
#include "log.h"
#include "store.h"
#include "xmalloc.h"

#define CONF_MAX_STRING	4096

extern const char *const conf_facility_choices[];

static const char *const conf_ciphers_known[] = {
	"aes128-gcm@openssh.com", "aes256-gcm@openssh.com", "chacha20-poly1305@openssh.com",
	"aes128-ctr", "aes192-ctr", "aes256-ctr", NULL
};

/* Return a pointer to the field of option o inside c. */
static void *
conf_field(const struct conf *c, const struct conf_option *o)
{
	return (char *)c + o->offset;
}

/* Free the strings of a list and empty it. */
static void
conf_strlist_clear(struct strlist *l)
{
	size_t	 i;

	for (i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

/* Append a copy of s to a list. */
static void
conf_strlist_add(struct strlist *l, const char *s)
{
	l->v = xreallocarray(l->v, l->n + 1, sizeof *l->v);
	l->v[l->n++] = xstrdup(s);
}

/* Set option o of c to its default. */
static void
conf_set_default(struct conf *c, const struct conf_option *o)
{
	void	*f = conf_field(c, o);
	size_t	 i;

	switch (o->type) {
	case CONF_BOOL:
	case CONF_INT:
	case CONF_CHOICE:
		*(int *)f = (int)o->def_num;
		break;
	case CONF_STRING:
	case CONF_PATH:
		free(*(char **)f);
		*(char **)f = xstrdup(o->def_str);
		break;
	case CONF_LIST:
	case CONF_PATH_LIST:
		conf_strlist_clear(f);
		for (i = 0; o->def_list[i] != NULL; i++)
			conf_strlist_add(f, o->def_list[i]);
		break;
	case CONF_STARTUPS:
		if (conf_parse_startups(o->def_str, o, f, NULL) != 0)
			abort();	/* the table's own default: not reached */
		break;
	}
}

/* Create a configuration holding every option's default. */
struct conf *
conf_create(void)
{
	struct conf	*c;
	size_t		 i;

	c = xcalloc(1, sizeof *c);
	for (i = 0; i < conf_table_size; i++)
		conf_set_default(c, &conf_table[i]);
	if (conf_parse_port_range(c->port_range, &c->port_min, &c->port_max) != 0 ||
	    conf_parse_port_range(c->udp_port_range, &c->udp_port_min, &c->udp_port_max) != 0)
		abort();
	return c;
}

/* Free a configuration; NULL is a no-op. */
void
conf_free(struct conf *c)
{
	const struct conf_option	*o;
	size_t				 i;

	if (c == NULL)
		return;
	for (i = 0; i < conf_table_size; i++) {
		o = &conf_table[i];
		if (o->type == CONF_STRING || o->type == CONF_PATH)
			free(*(char **)conf_field(c, o));
		else if (o->type == CONF_LIST || o->type == CONF_PATH_LIST)
			conf_strlist_clear(conf_field(c, o));
	}
	free(c->path);
	free(c->dir);
	free(c);
}

/* Find an option by name. */
const struct conf_option *
conf_find(const char *name)
{
	size_t	 i;

	for (i = 0; i < conf_table_size; i++) {
		if (strcmp(conf_table[i].name, name) == 0)
			return &conf_table[i];
	}
	return NULL;
}

/* Edit distance between two short strings, for "did you mean" hints. */
static size_t
conf_distance(const char *a, const char *b)
{
	size_t	 la = strlen(a), lb = strlen(b), i, j, prev, cur, up;
	size_t	 row[64];

	if (la >= 64 || lb >= 64)
		return SIZE_MAX;
	for (j = 0; j <= lb; j++)
		row[j] = j;
	for (i = 1; i <= la; i++) {
		prev = row[0];
		row[0] = i;
		for (j = 1; j <= lb; j++) {
			up = row[j];
			cur = prev + (a[i - 1] != b[j - 1]);
			if (up + 1 < cur)
				cur = up + 1;
			if (row[j - 1] + 1 < cur)
				cur = row[j - 1] + 1;
			row[j] = cur;
			prev = up;
		}
	}
	return row[lb];
}

/* Return the option whose name is closest to name, if any is close enough. */
static const char *
conf_suggest(const char *name)
{
	const char	*best = NULL;
	size_t		 i, d, bestd = 3;

	for (i = 0; i < conf_table_size; i++) {
		d = conf_distance(name, conf_table[i].name);
		if (d < bestd) {
			bestd = d;
			best = conf_table[i].name;
		}
	}
	return best;
}

/* Return the name of choice i of the option called name. */
const char *
conf_choice_name(const char *name, int i)
{
	const struct conf_option	*o = conf_find(name);
	int				 n;

	if (o == NULL || o->choices == NULL || i < 0)
		return "?";
	for (n = 0; o->choices[n] != NULL; n++) {
		if (n == i)
			return o->choices[n];
	}
	return "?";
}

/* Return the syslog facility configured, or -1 when syslog is off. */
int
conf_syslog_facility(const struct conf *c)
{
	static const int facilities[] = {
		-1, LOG_DAEMON, LOG_AUTH, LOG_AUTHPRIV, LOG_USER, LOG_LOCAL0, LOG_LOCAL1,
		LOG_LOCAL2, LOG_LOCAL3, LOG_LOCAL4, LOG_LOCAL5, LOG_LOCAL6, LOG_LOCAL7
	};

	if (c->syslog_facility < 0 ||
	    (size_t)c->syslog_facility >= sizeof facilities / sizeof facilities[0])
		return -1;
	return facilities[c->syslog_facility];
}

/* Parse a port number from s into *port; 0 on success. */
static int
conf_parse_port(const char *s, int *port)
{
	char	*end;
	long	 v;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < 1 || v > 65535)
		return -1;
	*port = (int)v;
	return 0;
}

/* Is s a numeric IPv4 or IPv6 address. */
static int
conf_is_address(const char *s)
{
	struct in6_addr	 a6;
	struct in_addr	 a4;

	return inet_pton(AF_INET, s, &a4) == 1 || inet_pton(AF_INET6, s, &a6) == 1;
}

/* Check a numeric IPv4 or IPv6 address. */
int
conf_check_address(const char *s, char **cause)
{
	if (!conf_is_address(s)) {
		xasprintf(cause, "'%s' is not a numeric IPv4 or IPv6 address", s);
		return -1;
	}
	return 0;
}

/* Split "ADDRESS:PORT" or "[IPV6]:PORT" into a new *host and *port; 0 on success. */
int
conf_split_endpoint(const char *s, char **host, int *port)
{
	const char	*colon, *close;
	char		*h;
	int		 v6;

	if (*s == '[') {
		if ((close = strchr(s, ']')) == NULL || close[1] != ':')
			return -1;
		h = xstrndup(s + 1, (size_t)(close - s - 1));
		colon = close + 1;
		v6 = 1;
	} else {
		if ((colon = strrchr(s, ':')) == NULL)
			return -1;
		h = xstrndup(s, (size_t)(colon - s));
		v6 = 0;
	}
	if ((strchr(h, ':') != NULL) != v6 || !conf_is_address(h) ||
	    conf_parse_port(colon + 1, port) != 0) {
		free(h);
		return -1;
	}
	*host = h;
	return 0;
}

/* Check "ADDRESS:PORT" or "[IPV6]:PORT". */
int
conf_check_endpoint(const char *s, char **cause)
{
	char	*host;
	int	 port;

	if (conf_split_endpoint(s, &host, &port) != 0) {
		xasprintf(cause, "'%s' is not \"ADDRESS:PORT\" with a numeric address and a port "
		    "from 1 to 65535 (IPv6 as \"[::]:2222\")", s);
		return -1;
	}
	free(host);
	return 0;
}

/* Is the host of "ADDRESS:PORT" a loopback address (127.0.0.0/8 or ::1)? */
int
conf_endpoint_loopback(const char *endpoint)
{
	struct in6_addr	 a6;
	struct in_addr	 a4;
	char		*host;
	int		 port, rc = 0;

	if (conf_split_endpoint(endpoint, &host, &port) != 0)
		return 0;
	if (inet_pton(AF_INET, host, &a4) == 1)
		rc = (ntohl(a4.s_addr) >> 24) == 127;
	else if (inet_pton(AF_INET6, host, &a6) == 1)
		rc = IN6_IS_ADDR_LOOPBACK(&a6);
	free(host);
	return rc;
}

/* Check "ADDRESS:PORT", or "" for off. */
int
conf_check_endpoint_or_off(const char *s, char **cause)
{
	return *s == '\0' ? 0 : conf_check_endpoint(s, cause);
}

/* Parse "LOW-HIGH" into *lo and *hi; 0 on success. */
int
conf_parse_port_range(const char *s, int *lo, int *hi)
{
	const char	*dash = strchr(s, '-');
	char		*first;
	int		 rc;

	if (dash == NULL)
		return -1;
	first = xstrndup(s, (size_t)(dash - s));
	rc = conf_parse_port(first, lo);
	free(first);
	if (rc != 0 || conf_parse_port(dash + 1, hi) != 0 || *lo > *hi)
		return -1;
	return 0;
}

/* Parse a whole number from 0 to 1000000000 that fills all of s into *v; 0 on success. */
static int
conf_parse_number(const char *s, long long *v)
{
	char	*end;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	*v = strtoll(s, &end, 10);
	return errno != 0 || *end != '\0' || *v > 1000000000 ? -1 : 0;
}

/*
 * Parse a max_startups value for option o: "N", or sshd's "start:rate:full" with 1 <= start
 * <= full, full within o's bounds and 1 <= rate <= 100. 0, or -1 with *cause (if not NULL).
 */
int
conf_parse_startups(const char *s, const struct conf_option *o, struct conf_startups *out,
    char **cause)
{
	char		*copy = xstrdup(s), *p = copy, *field[3];
	long long	 v[3];
	int		 n = 0, rc = -1;

	while (n < 3 && (field[n] = strsep(&p, ":")) != NULL)
		n++;
	if ((n != 1 && n != 3) || p != NULL) {
		if (cause != NULL)
			xasprintf(cause, "option '%s' must be a number or \"start:rate:full\", not "
			    "\"%.64s\"", o->name, s);
		goto out;
	}
	for (rc = 0; rc < n; rc++) {
		if (conf_parse_number(field[rc], &v[rc]) != 0)
			break;
	}
	if (rc != n) {
		if (cause != NULL)
			xasprintf(cause, "option '%s': \"%.64s\" is not a number or three numbers "
			    "\"start:rate:full\"", o->name, s);
		rc = -1;
		goto out;
	}
	rc = -1;
	if (n == 1) {
		v[1] = 100;
		v[2] = v[0];
	}
	if (v[2] < o->min || v[2] > o->max) {
		if (cause != NULL)
			xasprintf(cause, "option '%s'%s must be between %lld and %lld, not %lld",
			    o->name, n == 1 ? "" : ": full", o->min, o->max, v[2]);
	} else if (v[0] < 1 || v[0] > v[2]) {
		if (cause != NULL)
			xasprintf(cause, "option '%s': start must be between 1 and full (%lld), "
			    "not %lld", o->name, v[2], v[0]);
	} else if (v[1] < 1 || v[1] > 100) {
		if (cause != NULL)
			xasprintf(cause, "option '%s': rate is a percentage from 1 to 100, not "
			    "%lld", o->name, v[1]);
	} else {
		out->start = (int)v[0];
		out->rate = (int)v[1];
		out->full = (int)v[2];
		rc = 0;
	}
out:
	free(copy);
	return rc;
}

/* Apply a max_startups setting: a whole number (full), or a string "start:rate:full". */
static int
conf_apply_startups(struct conf_startups *field, const struct conf_option *o,
    const config_setting_t *s, char **cause)
{
	const char	*v;
	char		 num[32];

	if (config_setting_type(s) == CONFIG_TYPE_INT ||
	    config_setting_type(s) == CONFIG_TYPE_INT64) {
		if (config_setting_get_int64(s) < 0) {
			xasprintf(cause, "option '%s' must be between %lld and %lld, not %lld",
			    o->name, o->min, o->max, (long long)config_setting_get_int64(s));
			return -1;
		}
		snprintf(num, sizeof num, "%lld", (long long)config_setting_get_int64(s));
		v = num;
	} else if (config_setting_type(s) == CONFIG_TYPE_STRING) {
		if ((v = config_setting_get_string(s)) == NULL || strlen(v) > 64) {
			xasprintf(cause, "option '%s' must be a number or \"start:rate:full\"",
			    o->name);
			return -1;
		}
	} else {
		xasprintf(cause, "option '%s' must be a whole number or a string "
		    "\"start:rate:full\"", o->name);
		return -1;
	}
	return conf_parse_startups(v, o, field, cause);
}

/* Check a port range: "LOW-HIGH", unprivileged, LOW <= HIGH. */
int
conf_check_port_range(const char *s, char **cause)
{
	int	 lo, hi;

	if (conf_parse_port_range(s, &lo, &hi) != 0) {
		xasprintf(cause, "'%s' is not a port range \"LOW-HIGH\" with 1 <= LOW <= HIGH <= 65535", s);
		return -1;
	}
	if (lo < 1024) {
		xasprintf(cause, "'%s' includes privileged ports; start at 1024 or above", s);
		return -1;
	}
	return 0;
}

/* Check a host name for URLs: empty, a numeric address, or letters, digits, dots and dashes. */
int
conf_check_host_name(const char *s, char **cause)
{
	size_t	 i, len = strlen(s);

	if (len == 0 || conf_is_address(s))
		return 0;
	if (len > 253)
		goto bad;
	for (i = 0; i < len; i++) {
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		    (s[i] >= '0' && s[i] <= '9') || s[i] == '.' || s[i] == '-'))
			goto bad;
	}
	if (s[0] == '.' || s[0] == '-')
		goto bad;
	return 0;
bad:
	xasprintf(cause, "'%s' is not a valid host name", s);
	return -1;
}

/* Check a node name: "" (the host name) or what store_node_check_name allows. */
int
conf_check_node_name(const char *s, char **cause)
{
	return *s == '\0' ? 0 : store_node_check_name(s, cause);
}

/* Check a user name: "" or one the system knows. */
int
conf_check_user(const char *s, char **cause)
{
	if (*s == '\0' || getpwnam(s) != NULL)
		return 0;
	xasprintf(cause, "no such user '%s'", s);
	return -1;
}

/* Check a CIDR list ("" is none). */
int
conf_check_cidrs(const char *s, char **cause)
{
	struct cidrlist	*l;

	if (*s == '\0')
		return 0;
	if (cidrlist_parse(s, &l, cause) != 0)
		return -1;
	cidrlist_free(l);
	return 0;
}

/* Check a comma-separated cipher list: known names, no repeats; "" is automatic. */
int
conf_check_ciphers(const char *s, char **cause)
{
	char	*copy, *p, *name;
	size_t	 i;
	int	 seen[16] = { 0 }, rc = -1;

	if (*s == '\0')
		return 0;
	copy = p = xstrdup(s);
	while ((name = strsep(&p, ",")) != NULL) {
		for (i = 0; conf_ciphers_known[i] != NULL; i++) {
			if (strcmp(name, conf_ciphers_known[i]) == 0)
				break;
		}
		if (conf_ciphers_known[i] == NULL) {
			xasprintf(cause, "unknown or unsupported cipher '%s' (supported: "
			    "aes128-gcm@openssh.com, aes256-gcm@openssh.com, "
			    "chacha20-poly1305@openssh.com, aes128-ctr, aes192-ctr, aes256-ctr)", name);
			goto out;
		}
		if (seen[i]++) {
			xasprintf(cause, "cipher '%s' is listed twice", name);
			goto out;
		}
	}
	rc = 0;
out:
	free(copy);
	return rc;
}

/*
 * The cipher offer used when ciphers is "": every strong cipher a common client needs.
 * A client takes the first cipher of its own list that the server offers, whatever the
 * server's order, so nothing narrower keeps everyone in: Dropbear's dbclient (routers, IoT
 * boards) has only ChaCha20-Poly1305 and AES-CTR, paramiko 2.12 only AES-CTR, and OpenSSH
 * users may pin either. The CTR modes go with the encrypt-then-MAC MACs offered first.
 * The order still decides for clients that follow the server's preference: AES-GCM first
 * where the processor has AES instructions, ChaCha20-Poly1305 first elsewhere.
 */
const char *
conf_default_ciphers(void)
{
	static const char aes_first[] = "aes128-gcm@openssh.com,aes256-gcm@openssh.com,"
	    "chacha20-poly1305@openssh.com,aes128-ctr,aes192-ctr,aes256-ctr";
	static const char chacha_first[] = "chacha20-poly1305@openssh.com,"
	    "aes128-gcm@openssh.com,aes256-gcm@openssh.com,aes128-ctr,aes192-ctr,aes256-ctr";

#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__)
	if (__builtin_cpu_supports("aes"))
		return aes_first;
#elif defined(__aarch64__)
	return aes_first;
#endif
	return chacha_first;
}

/* Build "FILE:LINE: " for a setting. */
static char *
conf_where(const config_setting_t *s, const char *path)
{
	const char	*file = config_setting_source_file(s);
	char		*where;

	xasprintf(&where, "%s:%u", file != NULL ? file : path, config_setting_source_line(s));
	return where;
}

/* Read a string setting, checking its length; NULL with *cause set when it is no string. */
static const char *
conf_get_string(const config_setting_t *s, const char *what, char **cause)
{
	const char	*v;

	if (config_setting_type(s) != CONFIG_TYPE_STRING ||
	    (v = config_setting_get_string(s)) == NULL) {
		xasprintf(cause, "%s must be a string in double quotes", what);
		return NULL;
	}
	if (strlen(v) > CONF_MAX_STRING) {
		xasprintf(cause, "%s is longer than %d characters", what, CONF_MAX_STRING);
		return NULL;
	}
	return v;
}

/* Parse a list setting into l, checking its type, size and items. */
static int
conf_apply_list(struct strlist *l, const struct conf_option *o, const config_setting_t *s,
    char **cause)
{
	const char	*v;
	char		*why = NULL, *what;
	int		 i, n;

	if (!config_setting_is_aggregate(s) || config_setting_type(s) == CONFIG_TYPE_GROUP) {
		xasprintf(cause, "option '%s' must be a list of strings, like [ \"a\", \"b\" ]",
		    o->name);
		return -1;
	}
	n = config_setting_length(s);
	if (n < o->min || n > o->max) {
		xasprintf(cause, "option '%s' must have between %lld and %lld entries, not %d",
		    o->name, o->min, o->max, n);
		return -1;
	}
	for (i = 0; i < n; i++) {
		xasprintf(&what, "entry %d of option '%s'", i + 1, o->name);
		v = conf_get_string(config_setting_get_elem(s, (unsigned int)i), what, cause);
		free(what);
		if (v == NULL)
			goto fail;
		if (o->check != NULL && o->check(v, &why) != 0) {
			xasprintf(cause, "option '%s': %s", o->name, why);
			free(why);
			goto fail;
		}
		conf_strlist_add(l, v);
	}
	return 0;
fail:
	conf_strlist_clear(l);
	return -1;
}

/* Parse an integer setting within the option's bounds. */
static int
conf_apply_int(int *field, const struct conf_option *o, const config_setting_t *s,
    char **cause)
{
	long long	 v;

	if (config_setting_type(s) == CONFIG_TYPE_INT)
		v = config_setting_get_int(s);
	else if (config_setting_type(s) == CONFIG_TYPE_INT64)
		v = config_setting_get_int64(s);
	else {
		xasprintf(cause, "option '%s' must be a whole number", o->name);
		return -1;
	}
	if (v < o->min || v > o->max) {
		xasprintf(cause, "option '%s' must be between %lld and %lld, not %lld", o->name,
		    o->min, o->max, v);
		return -1;
	}
	*field = (int)v;
	return 0;
}

/* Parse a choice setting: one of the option's strings. */
static int
conf_apply_choice(int *field, const struct conf_option *o, const config_setting_t *s,
    char **cause)
{
	const char	*v;
	char		*list = NULL, *tmp, *what;
	int		 i;

	xasprintf(&what, "option '%s'", o->name);
	v = conf_get_string(s, what, cause);
	free(what);
	if (v == NULL)
		return -1;
	for (i = 0; o->choices[i] != NULL; i++) {
		if (strcmp(v, o->choices[i]) == 0) {
			*field = i;
			return 0;
		}
	}
	for (i = 0; o->choices[i] != NULL; i++) {
		xasprintf(&tmp, "%s%s\"%s\"", list ? list : "", list ? ", " : "", o->choices[i]);
		free(list);
		list = tmp;
	}
	xasprintf(cause, "option '%s' must be one of %s, not \"%s\"", o->name, list, v);
	free(list);
	return -1;
}

/* Apply one setting to c after checking its type and value. */
static int
conf_apply(struct conf *c, const struct conf_option *o, const config_setting_t *s, char **cause)
{
	void		*f = conf_field(c, o);
	struct strlist	 l = { NULL, 0 };
	const char	*v;
	char		*why = NULL, *what;

	switch (o->type) {
	case CONF_BOOL:
		if (config_setting_type(s) != CONFIG_TYPE_BOOL) {
			xasprintf(cause, "option '%s' must be true or false", o->name);
			return -1;
		}
		*(int *)f = config_setting_get_bool(s) ? 1 : 0;
		return 0;
	case CONF_INT:
		return conf_apply_int(f, o, s, cause);
	case CONF_CHOICE:
		return conf_apply_choice(f, o, s, cause);
	case CONF_STRING:
	case CONF_PATH:
		xasprintf(&what, "option '%s'", o->name);
		v = conf_get_string(s, what, cause);
		free(what);
		if (v == NULL)
			return -1;
		if (o->check != NULL && o->check(v, &why) != 0) {
			xasprintf(cause, "option '%s': %s", o->name, why);
			free(why);
			return -1;
		}
		free(*(char **)f);
		*(char **)f = xstrdup(v);
		return 0;
	case CONF_LIST:
	case CONF_PATH_LIST:
		if (conf_apply_list(&l, o, s, cause) != 0)
			return -1;
		conf_strlist_clear(f);
		*(struct strlist *)f = l;
		return 0;
	case CONF_STARTUPS:
		return conf_apply_startups(f, o, s, cause);
	}
	return -1;
}

/* Open path for reading, with a clear error when it cannot be. */
static FILE *
conf_open(const char *path, char **cause)
{
	struct stat	 sb;
	FILE		*fp;

	if ((fp = fopen(path, "r")) == NULL) {
		xasprintf(cause, "%s: cannot open: %s", path, strerror(errno));
		return NULL;
	}
	if (fstat(fileno(fp), &sb) == -1 || !S_ISREG(sb.st_mode)) {
		xasprintf(cause, "%s: cannot read: %s", path,
		    S_ISDIR(sb.st_mode) ? "is a folder" : "not a regular file");
		fclose(fp);
		return NULL;
	}
	return fp;
}

/* Remember the absolute path of the file and its folder. */
static int
conf_set_origin(struct conf *c, const char *path, char **cause)
{
	char	*abs, *slash;

	if ((abs = realpath(path, NULL)) == NULL) {
		xasprintf(cause, "%s: %s", path, strerror(errno));
		return -1;
	}
	free(c->path);
	free(c->dir);
	c->path = xstrdup(abs);
	slash = strrchr(abs, '/');
	if (slash == abs)
		slash[1] = '\0';
	else
		*slash = '\0';
	c->dir = abs;
	return 0;
}

/* Load the file at path into c over the defaults, then finish; 0 or -1 with *cause. */
int
conf_load(struct conf *c, const char *path, char **cause)
{
	const struct conf_option	*o;
	config_setting_t		*root, *s;
	config_t			 cf;
	const char			*name, *hint, *efile;
	char				*where, *why = NULL;
	FILE				*fp;
	unsigned int			 i;
	int				 rc = -1;

	if ((fp = conf_open(path, cause)) == NULL)
		return -1;
	if (conf_set_origin(c, path, cause) != 0) {
		fclose(fp);
		return -1;
	}
	config_init(&cf);
	config_set_include_dir(&cf, c->dir);
	if (config_read(&cf, fp) != CONFIG_TRUE) {
		efile = config_error_file(&cf);
		xasprintf(cause, "%s:%d: %s", efile != NULL ? efile : path,
		    config_error_line(&cf), config_error_text(&cf));
		goto out;
	}
	root = config_root_setting(&cf);
	for (i = 0; i < (unsigned int)config_setting_length(root); i++) {
		s = config_setting_get_elem(root, i);
		name = config_setting_name(s);
		where = conf_where(s, path);
		if ((o = conf_find(name)) == NULL) {
			hint = conf_suggest(name);
			if (hint != NULL)
				xasprintf(cause, "%s: unknown option '%s' (did you mean '%s'?)",
				    where, name, hint);
			else
				xasprintf(cause, "%s: unknown option '%s'", where, name);
			free(where);
			goto out;
		}
		if (conf_apply(c, o, s, &why) != 0) {
			xasprintf(cause, "%s: %s", where, why);
			free(why);
			free(where);
			goto out;
		}
		free(where);
	}
	rc = conf_finish(c, cause);
out:
	config_destroy(&cf);
	fclose(fp);
	return rc;
}

/*
 * Resolve a relative path against dir; "" stays "" (it means off), and so does a database
 * server's URI. -1 if it gets too long.
 */
static int
conf_resolve(char **p, const char *dir)
{
	char	*abs;

	if (**p == '\0' || **p == '/' || store_is_uri(*p))
		return 0;
	/* Within the loader's limit, so that the printed configuration (-T) loads again. */
	if (xasprintf(&abs, "%s/%s", strcmp(dir, "/") == 0 ? "" : dir, *p) > CONF_MAX_STRING) {
		free(abs);
		return -1;
	}
	free(*p);
	*p = abs;
	return 0;
}

/* Derive what the options imply: absolute paths, the port range, the host name. */
/* The API's options together: a certificate and its key, or neither and loopback only. */
static int
conf_finish_api(struct conf *c, char **cause)
{
	if ((*c->api_tls_cert == '\0') != (*c->api_tls_key == '\0')) {
		xasprintf(cause, "api_tls_cert and api_tls_key go together: set both, or neither "
		    "for plain HTTP on a loopback address");
		return -1;
	}
	if (*c->api_listen != '\0' && *c->api_tls_cert == '\0' &&
	    !conf_endpoint_loopback(c->api_listen)) {
		xasprintf(cause, "api_listen '%s' is not a loopback address: plain HTTP is served "
		    "only on loopback (behind a reverse proxy); set api_tls_cert and api_tls_key "
		    "to serve HTTPS there", c->api_listen);
		return -1;
	}
	return 0;
}

int
conf_finish(struct conf *c, char **cause)
{
	const struct conf_option	*o;
	struct strlist			*l;
	char				 host[256], cwd[PATH_MAX], *why = NULL;
	size_t				 i, j;
	int				 rc = 0;

	if (c->dir == NULL) {
		if (getcwd(cwd, sizeof cwd) == NULL) {
			xasprintf(cause, "cannot find the current folder: %s", strerror(errno));
			return -1;
		}
		c->dir = xstrdup(cwd);
	}
	for (i = 0; i < conf_table_size; i++) {
		o = &conf_table[i];
		if (o->type == CONF_PATH)
			rc = conf_resolve(conf_field(c, o), c->dir);
		else if (o->type == CONF_PATH_LIST) {
			l = conf_field(c, o);
			for (j = 0; j < l->n && rc == 0; j++)
				rc = conf_resolve(&l->v[j], c->dir);
		}
		if (rc != 0) {
			xasprintf(cause, "option '%s': a path longer than %d characters once "
			    "resolved against %s", o->name, CONF_MAX_STRING, c->dir);
			return -1;
		}
	}
	if (conf_parse_port_range(c->port_range, &c->port_min, &c->port_max) != 0) {
		xasprintf(cause, "invalid port_range '%s'", c->port_range);
		return -1;
	}
	if (conf_parse_port_range(c->udp_port_range, &c->udp_port_min, &c->udp_port_max) != 0) {
		xasprintf(cause, "invalid udp_port_range '%s'", c->udp_port_range);
		return -1;
	}
	c->max_buffered = (size_t)c->max_buffered_mib << 20;
	if (*c->public_host == '\0') {
		if (gethostname(host, sizeof host) == -1 || *host == '\0')
			strncpy(host, "localhost", sizeof host);
		host[sizeof host - 1] = '\0';
		free(c->public_host);
		c->public_host = xstrdup(host);
	}
	if (*c->node_name == '\0') {
		if (gethostname(host, sizeof host) == -1 || *host == '\0' ||
		    store_node_check_name(host, &why) != 0) {
			free(why);
			why = NULL;
			strncpy(host, "localhost", sizeof host);
		}
		host[sizeof host - 1] = '\0';
		free(c->node_name);
		c->node_name = xstrdup(host);
	}
	if (*c->ciphers == '\0') {
		free(c->ciphers);
		c->ciphers = xstrdup(conf_default_ciphers());
	}
	return conf_finish_api(c, cause);
}

/* Print s as a libconfig string literal. */
static void
conf_print_string(FILE *fp, const char *s)
{
	fputc('"', fp);
	for (; *s != '\0'; s++) {
		if (*s == '"' || *s == '\\')
			fprintf(fp, "\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			fprintf(fp, "\\x%02x", (unsigned char)*s);
		else
			fputc(*s, fp);
	}
	fputc('"', fp);
}

/* Print the value of option o in c. */
static void
conf_print_value(FILE *fp, const struct conf *c, const struct conf_option *o)
{
	const void			*f = conf_field(c, o);
	const struct strlist		*l;
	const struct conf_startups	*su;
	char				*spec;
	size_t				 i;

	switch (o->type) {
	case CONF_BOOL:
		fputs(*(const int *)f ? "true" : "false", fp);
		break;
	case CONF_INT:
		fprintf(fp, "%d", *(const int *)f);
		break;
	case CONF_CHOICE:
		conf_print_string(fp, o->choices[*(const int *)f]);
		break;
	case CONF_STRING:
	case CONF_PATH:
		conf_print_string(fp, *(char *const *)f);
		break;
	case CONF_LIST:
	case CONF_PATH_LIST:
		l = f;
		fputs("[ ", fp);
		for (i = 0; i < l->n; i++) {
			if (i != 0)
				fputs(", ", fp);
			conf_print_string(fp, l->v[i]);
		}
		fputs(" ]", fp);
		break;
	case CONF_STARTUPS:
		su = f;
		if (su->start == su->full) {
			fprintf(fp, "%d", su->full);
			break;
		}
		xasprintf(&spec, "%d:%d:%d", su->start, su->rate, su->full);
		conf_print_string(fp, spec);
		free(spec);
		break;
	}
}

/* Return the value of option o in c as a new string, as conf_print writes it. */
char *
conf_value_string(const struct conf *c, const struct conf_option *o)
{
	char	*out = NULL;
	size_t	 len;
	FILE	*fp;

	if ((fp = open_memstream(&out, &len)) == NULL)
		fatal("out of memory");
	conf_print_value(fp, c, o);
	fclose(fp);
	return out;
}

/* Print help as "# " comment lines wrapped at 78 columns. */
static void
conf_print_help(FILE *fp, const char *help)
{
	const char	*p = help, *end, *space;
	size_t		 width = 76;

	while (*p != '\0') {
		end = p + strlen(p);
		if ((size_t)(end - p) > width) {
			end = p + width;
			for (space = end; space > p && *space != ' '; space--)
				;
			if (space > p)
				end = space;
		}
		fprintf(fp, "# %.*s\n", (int)(end - p), p);
		p = end;
		while (*p == ' ')
			p++;
	}
}

/* Print every option as "name = value;", with its help above it when with_help is set. */
void
conf_print(FILE *fp, const struct conf *c, int with_help)
{
	size_t	 i;

	for (i = 0; i < conf_table_size; i++) {
		if (with_help) {
			if (i != 0)
				fputc('\n', fp);
			conf_print_help(fp, conf_table[i].help);
		}
		fprintf(fp, "%s = ", conf_table[i].name);
		conf_print_value(fp, c, &conf_table[i]);
		fputs(";\n", fp);
	}
}
