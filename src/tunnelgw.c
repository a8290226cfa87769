/* SPDX-License-Identifier: ISC */
/* tunnelgw: the gateway daemon's entry point: options, configuration, start-up. */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth.h"
#include "conf.h"
#include "daemon.h"
#include "hostkey.h"
#include "log.h"
#include "store.h"
#include "xmalloc.h"

/* The configuration file read without -f: $(sysconfdir)/tunnelgw/tunnelgw.conf. */
#ifndef TG_CONFFILE
#define TG_CONFFILE "/etc/tunnelgw/tunnelgw.conf"
#endif

/* Print usage to fp. */
static void
usage(FILE *fp)
{
	fprintf(fp,
	    "usage: tunnelgw [-f FILE] [-t] [-T] [-v]... [-V]\n"
	    "  -f FILE  configuration file (default %s)\n"
	    "  -t       check the configuration and exit: 0 when valid, 1 when not\n"
	    "  -T       print the effective configuration and exit\n"
	    "  -v       more logging (repeatable)\n"
	    "  -V       print the version and exit\n", TG_CONFFILE);
}

/* Check the keys file for -t: every line must load; a missing file is only a warning. */
static int
check_keys(const struct conf *c, char **cause)
{
	struct keyfile	*kf;

	if ((kf = keyfile_load(c->authorized_keys, cause)) == NULL) {
		if (access(c->authorized_keys, F_OK) == 0)
			return -1;
		fprintf(stderr, "tunnelgw: warning: %s; no key can log in\n", *cause);
		free(*cause);
		*cause = NULL;
		return 0;
	}
	if (keyfile_nproblems(kf) > 0) {
		*cause = xstrdup(keyfile_problem(kf, 0));
		keyfile_free(kf);
		return -1;
	}
	keyfile_free(kf);
	return 0;
}

/*
 * Check the database for -t: a missing file will be created; one that exists, or a database
 * server, must open.
 */
static int
check_database(const struct conf *c, char **cause)
{
	struct store	*st;

	if (!store_is_uri(c->database) && access(c->database, F_OK) == -1 && errno == ENOENT)
		return 0;
	if ((st = store_open(c->database, STORE_BUSY_TIMEOUT, cause)) == NULL)
		return -1;
	store_close(st);
	return 0;
}

/* Check everything the configuration names, for -t. */
static int
check_all(const struct conf *c, char **cause)
{
	size_t	 i;

	for (i = 0; i < c->host_keys.n; i++) {
		if (hostkey_check(c->host_keys.v[i], cause) != 0)
			return -1;
	}
	if (check_keys(c, cause) != 0)
		return -1;
	return check_database(c, cause);
}

/* Create missing host keys and make sure every one loads. */
static int
ensure_host_keys(const struct conf *c, char **cause)
{
	char	*fp;
	size_t	 i;

	for (i = 0; i < c->host_keys.n; i++) {
		if (hostkey_ensure(c->host_keys.v[i], &fp, cause) != 0)
			return -1;
		log_info("host key %s: %s", c->host_keys.v[i], fp);
		free(fp);
	}
	return 0;
}

int
main(int argc, char **argv)
{
	struct conf	*c;
	const char	*path = TG_CONFFILE;
	char		*cause = NULL;
	int		 ch, test = 0, print = 0, verbose = 0;

	while ((ch = getopt(argc, argv, "f:tTvVh")) != -1) {
		switch (ch) {
		case 'f':
			path = optarg;
			break;
		case 't':
			test = 1;
			break;
		case 'T':
			print = 1;
			break;
		case 'v':
			verbose++;
			break;
		case 'V':
			printf("tunnelgw %s\n", PACKAGE_VERSION);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 1;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 1;
	}

	c = conf_create();
	if (conf_load(c, path, &cause) != 0 || (test && check_all(c, &cause) != 0)) {
		fprintf(stderr, "tunnelgw: %s\n", cause);
		free(cause);
		conf_free(c);
		return 1;
	}
	if (print)
		conf_print(stdout, c, 0);
	if (test || print) {
		conf_free(c);
		return 0;
	}

	log_open("tunnelgw", c->log_level + verbose, conf_syslog_facility(c));
	log_info("tunnelgw %s starting with %s", PACKAGE_VERSION, c->path);
	if (ensure_host_keys(c, &cause) != 0 || daemon_run(c, verbose, &cause) != 0) {
		log_error("%s", cause);
		free(cause);
		conf_free(c);
		return 1;
	}
	log_info("stopped");
	conf_free(c);
	return 0;
}
