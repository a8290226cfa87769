/* SPDX-License-Identifier: ISC */
/* tunnelgw: unit tests of the configuration loader: every key, every error path. */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <limits.h>
#include <pwd.h>

#include "conf.h"
#include "tg_test.h"

/* Load body as a configuration file; returns the rc, and cause/conf through pointers. */
static int
load(const char *body, struct conf **out, char **cause, char **path)
{
	const char	*dir = tg_tmpdir();
	struct conf	*c = conf_create();
	int		 rc;

	*path = tg_write(dir, "t.conf", body);
	*cause = NULL;
	rc = conf_load(c, *path, cause);
	*out = c;
	return rc;
}

/* Every default is as the table says, and paths resolve against the folder. */
START_TEST(test_defaults)
{
	struct conf	*c;
	char		*cause, *path, *expect;
	int		 rc;

	rc = load("", &c, &cause, &path);
	ck_assert_msg(rc == 0, "empty file: %s", cause);
	ck_assert_uint_eq(c->listen.n, 1);
	ck_assert_str_eq(c->listen.v[0], "0.0.0.0:2222");
	ck_assert_uint_eq(c->host_keys.n, 3);
	ck_assert_int_eq(asprintf(&expect, "%s", c->dir), (int)strlen(c->dir));
	ck_assert_int_eq(strncmp(c->host_keys.v[0], expect, strlen(expect)), 0);
	ck_assert_ptr_nonnull(strstr(c->host_keys.v[0], "/ssh_host_ed25519_key"));
	ck_assert_ptr_nonnull(strstr(c->host_keys.v[1], "/ssh_host_ecdsa_key"));
	ck_assert_ptr_nonnull(strstr(c->host_keys.v[2], "/ssh_host_rsa_key"));
	ck_assert_str_eq(c->public_bind, "0.0.0.0");
	ck_assert_str_eq(c->port_range, "10000-60000");
	ck_assert_int_eq(c->port_min, 10000);
	ck_assert_int_eq(c->port_max, 60000);
	ck_assert_int_eq(c->allow_requested_ports, 0);
	ck_assert_ptr_nonnull(strstr(c->authorized_keys, "/authorized_keys"));
	ck_assert_ptr_nonnull(strstr(c->database, "/tunnelgw.db"));
	ck_assert_int_eq(c->proxy_protocol, 0);
	ck_assert_int_eq(c->idle_timeout, 300);
	ck_assert_str_eq(c->events_log, "");
	ck_assert_str_eq(c->ciphers, conf_default_ciphers());
	ck_assert_int_eq(c->log_level, 2);
	ck_assert_int_eq(conf_syslog_facility(c), -1);
	ck_assert_int_eq(c->workers, 0);
	ck_assert_int_eq(c->login_grace_time, 30);
	ck_assert(strlen(c->public_host) > 0);
	free(expect);
	free(path);
	conf_free(c);
}
END_TEST

/* Every key can be set, and each value arrives in its field. */
START_TEST(test_every_key)
{
	struct conf	*c;
	char		*cause, *path;
	int		 rc;

	rc = load(
	    "listen = [ \"127.0.0.1:2022\", \"[::1]:2022\" ];\n"
	    "host_keys = [ \"/etc/k1\", \"keys/k2\" ];\n"
	    "public_host = \"gw.example.com\";\n"
	    "public_bind = \"::\";\n"
	    "port_range = \"20000-20010\";\n"
	    "allow_requested_ports = true;\n"
	    "authorized_keys = \"/srv/ak\";\n"
	    "database = \"state/db.sqlite\";\n"
	    "proxy_protocol = 2;\n"
	    "idle_timeout = 0;\n"
	    "events_log = \"events.jsonl\";\n"
	    "ciphers = \"chacha20-poly1305@openssh.com,aes256-gcm@openssh.com\";\n"
	    "log_level = \"debug\";\n"
	    "syslog_facility = \"local3\";\n"
	    "workers = 4;\n"
	    "login_grace_time = 5;\n", &c, &cause, &path);
	ck_assert_msg(rc == 0, "%s", cause);
	ck_assert_uint_eq(c->listen.n, 2);
	ck_assert_str_eq(c->listen.v[1], "[::1]:2022");
	ck_assert_str_eq(c->host_keys.v[0], "/etc/k1");
	ck_assert_ptr_nonnull(strstr(c->host_keys.v[1], "/keys/k2"));
	ck_assert_int_eq(c->host_keys.v[1][0], '/');
	ck_assert_str_eq(c->public_host, "gw.example.com");
	ck_assert_str_eq(c->public_bind, "::");
	ck_assert_int_eq(c->port_min, 20000);
	ck_assert_int_eq(c->port_max, 20010);
	ck_assert_int_eq(c->allow_requested_ports, 1);
	ck_assert_str_eq(c->authorized_keys, "/srv/ak");
	ck_assert_ptr_nonnull(strstr(c->database, "/state/db.sqlite"));
	ck_assert_int_eq(c->proxy_protocol, 2);
	ck_assert_int_eq(c->idle_timeout, 0);
	ck_assert_ptr_nonnull(strstr(c->events_log, "/events.jsonl"));
	ck_assert_str_eq(c->ciphers, "chacha20-poly1305@openssh.com,aes256-gcm@openssh.com");
	ck_assert_int_eq(c->log_level, 3);
	ck_assert_int_ne(conf_syslog_facility(c), -1);
	ck_assert_int_eq(c->workers, 4);
	ck_assert_int_eq(c->login_grace_time, 5);
	free(path);
	conf_free(c);
}
END_TEST

/* Relative paths resolve against the configuration file's folder, not the current one. */
START_TEST(test_relative_paths)
{
	const char	*dir = tg_tmpdir();
	struct conf	*c = conf_create();
	char		*sub, *path, *cause = NULL, *expect, *real;

	ck_assert_int_ne(asprintf(&sub, "%s/etc", dir), -1);
	ck_assert_int_eq(mkdir(sub, 0700), 0);
	path = tg_write(sub, "gw.conf", "authorized_keys = \"ak\";\nevents_log = \"\";\n");
	ck_assert_int_eq(chdir("/"), 0);
	ck_assert_msg(conf_load(c, path, &cause) == 0, "%s", cause);
	real = realpath(sub, NULL);
	ck_assert_int_ne(asprintf(&expect, "%s/ak", real), -1);
	ck_assert_str_eq(c->authorized_keys, expect);
	ck_assert_str_eq(c->events_log, "");
	free(expect);
	ck_assert_int_ne(asprintf(&expect, "%s/tunnelgw.db", real), -1);
	ck_assert_str_eq(c->database, expect);
	free(expect);
	free(real);
	free(sub);
	free(path);
	conf_free(c);
}
END_TEST

/* A bad file: its body, the line the error must name, and words the message must hold. */
struct bad_case {
	const char	*body;
	int		 line;
	const char	*expect;
};

static const struct bad_case bad_cases[] = {
	/* unknown keys, with a hint when one is close */
	{ "listen = [ \"127.0.0.1:2222\" ];\n\nlisten_addr = 1;\n", 3, "unknown option 'listen_addr'" },
	{ "# comment\npublic_hots = \"x\";\n", 2, "did you mean 'public_host'?" },
	{ "frobnicate = 1;\n", 1, "unknown option 'frobnicate'" },
	/* wrong types */
	{ "allow_requested_ports = 1;\n", 1, "'allow_requested_ports' must be true or false" },
	{ "idle_timeout = \"300\";\n", 1, "'idle_timeout' must be a whole number" },
	{ "idle_timeout = 3.5;\n", 1, "'idle_timeout' must be a whole number" },
	{ "public_host = 5;\n", 1, "'public_host' must be a string" },
	{ "database = [ \"a\" ];\n", 1, "'database' must be a string" },
	{ "listen = \"127.0.0.1:2222\";\n", 1, "'listen' must be a list of strings" },
	{ "listen = [ 2222 ];\n", 1, "entry 1 of option 'listen' must be a string" },
	{ "host_keys = { a = 1; };\n", 1, "'host_keys' must be a list of strings" },
	{ "log_level = \"loud\";\n", 1, "'log_level' must be one of \"error\", \"warn\"" },
	{ "syslog_facility = 3;\n", 1, "'syslog_facility' must be a string" },
	/* out of range */
	{ "proxy_protocol = 3;\n", 1, "'proxy_protocol' must be between 0 and 2, not 3" },
	{ "idle_timeout = -1;\n", 1, "between 0 and 604800, not -1" },
	{ "workers = 100000;\n", 1, "'workers' must be between 0 and 256" },
	{ "login_grace_time = 0;\n", 1, "'login_grace_time' must be between 1 and 600" },
	{ "idle_timeout = 99999999999L;\n", 1, "not 99999999999" },
	{ "listen = [ ];\n", 1, "'listen' must have between 1 and 16 entries, not 0" },
	/* values a checker refuses */
	{ "listen = [ \"127.0.0.1\" ];\n", 1, "'127.0.0.1' is not \"ADDRESS:PORT\"" },
	{ "listen = [ \"localhost:22\" ];\n", 1, "'localhost:22' is not" },
	{ "listen = [ \"127.0.0.1:70000\" ];\n", 1, "'127.0.0.1:70000' is not" },
	{ "listen = [ \"::1:2222\" ];\n", 1, "IPv6 as" },
	{ "listen = [ \"127.0.0.1:22\",\n  \"[::1]2222\" ];\n", 1, "'[::1]2222' is not" },
	{ "public_bind = \"gw.example.com\";\n", 1, "not a numeric IPv4 or IPv6 address" },
	{ "port_range = \"100-200\";\n", 1, "privileged ports" },
	{ "port_range = \"30000-20000\";\n", 1, "is not a port range" },
	{ "port_range = \"20000\";\n", 1, "is not a port range" },
	{ "port_range = \"20000-70000\";\n", 1, "is not a port range" },
	{ "ciphers = \"aes128-cbc\";\n", 1, "unknown or unsupported cipher 'aes128-cbc'" },
	{ "ciphers = \"aes128-ctr,aes128-ctr\";\n", 1, "cipher 'aes128-ctr' is listed twice" },
	{ "ciphers = \"aes128-ctr,\";\n", 1, "unknown or unsupported cipher ''" },
	{ "public_host = \"gw example\";\n", 1, "not a valid host name" },
	/* max_startups: a number or "start:rate:full"; source_prefix6 */
	{ "max_startups = 0;\n", 1, "'max_startups' must be between 1 and 1000000, not 0" },
	{ "max_startups = -3;\n", 1, "'max_startups' must be between 1 and 1000000, not -3" },
	{ "max_startups = \"10:30\";\n", 1, "must be a number or \"start:rate:full\"" },
	{ "max_startups = \"10:30:100:5\";\n", 1, "must be a number or \"start:rate:full\"" },
	{ "max_startups = \"10:x:100\";\n", 1, "is not a number or three numbers" },
	{ "max_startups = \"10:30:-1\";\n", 1, "is not a number or three numbers" },
	{ "max_startups = \"101:30:100\";\n", 1, "start must be between 1 and full (100), not 101" },
	{ "max_startups = \"0:30:100\";\n", 1, "start must be between 1 and full (100), not 0" },
	{ "max_startups = \"10:0:100\";\n", 1, "rate is a percentage from 1 to 100, not 0" },
	{ "max_startups = \"10:101:100\";\n", 1, "rate is a percentage from 1 to 100, not 101" },
	{ "max_startups = \"10:30:2000000\";\n", 1, "full must be between 1 and 1000000" },
	{ "max_startups = 1.5;\n", 1, "'max_startups' must be a whole number or a string" },
	{ "source_prefix6 = 0;\n", 1, "'source_prefix6' must be between 1 and 128, not 0" },
	{ "source_prefix6 = 129;\n", 1, "'source_prefix6' must be between 1 and 128, not 129" },
	/* syntax */
	{ "listen = [ \"127.0.0.1:2222\" ];\nidle_timeout 5;\n", 2, "syntax error" },
	{ "idle_timeout = 5;\nidle_timeout = 6;\n", 2, "duplicate setting" },
};

/* Each bad file fails with FILE:LINE and a message that says what is wrong. */
/*
 * A relative path that fits the loader's limit but not once the folder is put in front is
 * refused at load, so that what -T prints always loads again (found by fuzz/fuzz_conf).
 */
START_TEST(test_path_too_long_resolved)
{
	struct conf	*c;
	char		*cause, *path, *body, *name;

	name = malloc(4091);
	ck_assert_ptr_nonnull(name);
	memset(name, 'd', 4090);
	name[4090] = '\0';
	ck_assert_int_ne(asprintf(&body, "database = \"%s\";\n", name), -1);
	ck_assert_int_eq(load(body, &c, &cause, &path), -1);
	ck_assert_ptr_nonnull(strstr(cause, "once resolved against"));
	free(cause);
	free(body);
	free(name);
	free(path);
	conf_free(c);
}
END_TEST

START_TEST(test_bad)
{
	const struct bad_case	*bc = &bad_cases[_i];
	struct conf		*c;
	char			*cause, *path, *prefix;

	ck_assert_msg(load(bc->body, &c, &cause, &path) == -1, "accepted: %s", bc->body);
	ck_assert_ptr_nonnull(cause);
	ck_assert_int_ne(asprintf(&prefix, "%s:%d: ", path, bc->line), -1);
	ck_assert_msg(strncmp(cause, prefix, strlen(prefix)) == 0,
	    "want prefix '%s' in '%s'", prefix, cause);
	ck_assert_msg(strstr(cause, bc->expect) != NULL, "want '%s' in '%s'", bc->expect, cause);
	free(prefix);
	free(cause);
	free(path);
	conf_free(c);
}
END_TEST

/* A missing file is an error that names it and says why. */
START_TEST(test_missing_file)
{
	struct conf	*c = conf_create();
	char		*cause = NULL;

	ck_assert_int_eq(conf_load(c, "/nonexistent/tunnelgw.conf", &cause), -1);
	ck_assert_str_eq(cause, "/nonexistent/tunnelgw.conf: cannot open: No such file or directory");
	free(cause);
	conf_free(c);
}
END_TEST

/* An unreadable file is an error that names it and says why (tested as an unprivileged user). */
START_TEST(test_unreadable_file)
{
	const char	*dir = tg_tmpdir();
	struct passwd	*pw;
	struct conf	*c = conf_create();
	char		*path, *cause = NULL, *expect;

	path = tg_write(dir, "secret.conf", "idle_timeout = 5;\n");
	ck_assert_int_eq(chmod(path, 0), 0);
	if (geteuid() == 0) {
		/* root reads everything: become nobody in this forked test process. */
		ck_assert_int_eq(chmod(dir, 0711), 0);
		pw = getpwnam("nobody");
		ck_assert_ptr_nonnull(pw);
		ck_assert_int_eq(setgid(pw->pw_gid), 0);
		ck_assert_int_eq(setuid(pw->pw_uid), 0);
	}
	ck_assert_int_eq(conf_load(c, path, &cause), -1);
	ck_assert_int_ne(asprintf(&expect, "%s: cannot open: Permission denied", path), -1);
	ck_assert_str_eq(cause, expect);
	free(expect);
	free(cause);
	free(path);
	conf_free(c);
}
END_TEST

/* A folder given as the file is refused with a clear reason. */
START_TEST(test_folder_as_file)
{
	struct conf	*c = conf_create();
	char		*cause = NULL;

	ck_assert_int_eq(conf_load(c, "/tmp", &cause), -1);
	ck_assert_str_eq(cause, "/tmp: cannot read: is a folder");
	free(cause);
	conf_free(c);
}
END_TEST

/* What conf_print writes loads back to the same configuration (used by -T). */
START_TEST(test_print_round_trip)
{
	const char	*dir = tg_tmpdir();
	struct conf	*c, *c2 = conf_create();
	char		*out1 = NULL, *out2 = NULL, *path, *cause = NULL;
	size_t		 len1, len2;
	FILE		*fp;

	ck_assert_int_eq(load("public_host = \"a\\\"b\";\nworkers = 3;\n", &c, &cause, &path), -1);
	free(cause);
	free(path);
	conf_free(c);
	ck_assert_int_eq(load("public_host = \"gw.example.com\";\nworkers = 3;\n"
	    "listen = [ \"127.0.0.1:1\", \"[::]:2\" ];\n", &c, &cause, &path), 0);
	fp = open_memstream(&out1, &len1);
	conf_print(fp, c, 0);
	fclose(fp);
	free(path);
	path = tg_write(dir, "printed.conf", out1);
	ck_assert_msg(conf_load(c2, path, &cause) == 0, "%s", cause);
	fp = open_memstream(&out2, &len2);
	conf_print(fp, c2, 0);
	fclose(fp);
	ck_assert_str_eq(out1, out2);
	ck_assert_ptr_nonnull(strstr(out1, "workers = 3;\n"));
	ck_assert_ptr_nonnull(strstr(out1, "listen = [ \"127.0.0.1:1\", \"[::]:2\" ];\n"));
	free(out1);
	free(out2);
	free(path);
	conf_free(c);
	conf_free(c2);
}
END_TEST

/* Every option of the table is printed, once, and each has help text. */
START_TEST(test_print_every_option)
{
	struct conf	*c = conf_create();
	char		*out = NULL, *needle;
	size_t		 len, i;
	FILE		*fp;

	fp = open_memstream(&out, &len);
	conf_print(fp, c, 1);
	fclose(fp);
	for (i = 0; i < conf_table_size; i++) {
		ck_assert_int_ne(asprintf(&needle, "\n%s = ", conf_table[i].name), -1);
		ck_assert_msg(strstr(out, needle) != NULL || strncmp(out, needle + 1,
		    strlen(needle) - 1) == 0, "%s not printed", conf_table[i].name);
		ck_assert(strlen(conf_table[i].help) > 10);
		ck_assert_ptr_eq(conf_find(conf_table[i].name), &conf_table[i]);
		free(needle);
	}
	free(out);
	conf_free(c);
}
END_TEST

/* max_startups: sshd's "start:rate:full", or a plain number N that means N:100:N; -T prints it back. */
START_TEST(test_max_startups)
{
	const struct conf_option	*o = conf_find("max_startups");
	struct conf			*c;
	char				*cause, *path, *v;

	ck_assert_int_eq(load("max_startups = \"10:30:100\";\nsource_prefix6 = 48;\n", &c, &cause,
	    &path), 0);
	ck_assert_int_eq(c->max_startups.start, 10);
	ck_assert_int_eq(c->max_startups.rate, 30);
	ck_assert_int_eq(c->max_startups.full, 100);
	ck_assert_int_eq(c->source_prefix6, 48);
	v = conf_value_string(c, o);
	ck_assert_str_eq(v, "\"10:30:100\"");
	free(v);
	free(path);
	conf_free(c);
	ck_assert_int_eq(load("max_startups = 300;\n", &c, &cause, &path), 0);
	ck_assert_int_eq(c->max_startups.start, 300);
	ck_assert_int_eq(c->max_startups.rate, 100);
	ck_assert_int_eq(c->max_startups.full, 300);
	ck_assert_int_eq(c->source_prefix6, 64);
	v = conf_value_string(c, o);
	ck_assert_str_eq(v, "300");
	free(v);
	free(path);
	conf_free(c);
	/* The string form of a plain number, and start == full, are the plain cap. */
	ck_assert_int_eq(load("max_startups = \"40\";\n", &c, &cause, &path), 0);
	ck_assert_int_eq(c->max_startups.start, 40);
	ck_assert_int_eq(c->max_startups.full, 40);
	free(path);
	conf_free(c);
	/* The default starts dropping at 64 and refuses all at 256. */
	c = conf_create();
	ck_assert_int_eq(c->max_startups.start, 64);
	ck_assert_int_eq(c->max_startups.rate, 30);
	ck_assert_int_eq(c->max_startups.full, 256);
	conf_free(c);
}
END_TEST

/* Port ranges and endpoints parse as documented. */
START_TEST(test_parsers)
{
	char	*host, *cause = NULL;
	int	 lo, hi, port;

	ck_assert_int_eq(conf_parse_port_range("1024-1024", &lo, &hi), 0);
	ck_assert_int_eq(lo, 1024);
	ck_assert_int_eq(hi, 1024);
	ck_assert_int_eq(conf_parse_port_range("-5", &lo, &hi), -1);
	ck_assert_int_eq(conf_parse_port_range("+5-6", &lo, &hi), -1);
	ck_assert_int_eq(conf_split_endpoint("[::1]:443", &host, &port), 0);
	ck_assert_str_eq(host, "::1");
	ck_assert_int_eq(port, 443);
	free(host);
	ck_assert_int_eq(conf_split_endpoint("10.0.0.1:0", &host, &port), -1);
	ck_assert_int_eq(conf_split_endpoint("10.0.0.1:", &host, &port), -1);
	ck_assert_int_eq(conf_split_endpoint("[10.0.0.1]:22", &host, &port), -1);
	ck_assert_int_eq(conf_check_ciphers("", &cause), 0);
	ck_assert_int_eq(conf_check_host_name("::1", &cause), 0);
	ck_assert_int_eq(conf_check_host_name("-bad", &cause), -1);
	free(cause);
}
END_TEST

/* The configuration suite. */
static Suite *
conf_suite(void)
{
	Suite	*s = suite_create("conf");
	TCase	*tc = tcase_create("load");

	tcase_add_checked_fixture(tc, NULL, tg_cleanup);
	tcase_add_test(tc, test_defaults);
	tcase_add_test(tc, test_every_key);
	tcase_add_test(tc, test_relative_paths);
	tcase_add_test(tc, test_path_too_long_resolved);
	tcase_add_loop_test(tc, test_bad, 0, (int)(sizeof bad_cases / sizeof bad_cases[0]));
	tcase_add_test(tc, test_missing_file);
	tcase_add_test(tc, test_unreadable_file);
	tcase_add_test(tc, test_folder_as_file);
	tcase_add_test(tc, test_print_round_trip);
	tcase_add_test(tc, test_print_every_option);
	tcase_add_test(tc, test_parsers);
	tcase_add_test(tc, test_max_startups);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return tg_run(conf_suite());
}
