/* SPDX-License-Identifier: ISC */
/* tunnelgwctl: the operator's command line: accounts, tokens, keys, addresses, live tunnels. */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "xmalloc.h"

#ifndef SYSCONFDIR
#define SYSCONFDIR "/etc"
#endif

struct ctl {
	struct conf	*conf;
	int		 json;
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

/* A command whose store is not part of this build yet: say so and fail. */
static int
ctl_unavailable(struct ctl *ctl, int argc, char **argv)
{
	fprintf(stderr, "tunnelgwctl: this command is not available in tunnelgw %s yet\n",
	    PACKAGE_VERSION);
	return 1;
}

static const struct ctl_command ctl_commands[] = {
	{ "account", "add", 1, 3, "NAME [--max-tunnels N]", "create an account", ctl_unavailable },
	{ "account", "list", 0, 0, "", "list accounts", ctl_unavailable },
	{ "account", "del", 1, 1, "NAME", "delete an account and close its sessions", ctl_unavailable },
	{ "token", "create", 1, 3, "ACCOUNT [--expires DAYS]", "create a token, printed once",
	  ctl_unavailable },
	{ "token", "list", 0, 0, "", "list tokens (never their secret)", ctl_unavailable },
	{ "token", "revoke", 1, 1, "ID", "revoke a token and close its sessions", ctl_unavailable },
	{ "key", "add", 2, 2, "ACCOUNT 'ssh-ed25519 AAAA... comment'", "add a public key",
	  ctl_unavailable },
	{ "key", "list", 0, 0, "", "list keys", ctl_unavailable },
	{ "key", "del", 1, 1, "FINGERPRINT", "delete a key and close its sessions", ctl_unavailable },
	{ "address", "reserve", 1, 2, "ACCOUNT [PORT]", "reserve a public port for an account",
	  ctl_unavailable },
	{ "address", "list", 0, 0, "", "list reserved addresses", ctl_unavailable },
	{ "address", "release", 1, 1, "PORT", "release a reserved port", ctl_unavailable },
	{ "tunnels", NULL, 0, 0, "", "live tunnels: url, account, target, conns, bytes, since",
	  ctl_unavailable },
};

/* Print usage and the command list to fp. */
static void
ctl_usage(FILE *fp)
{
	const struct ctl_command	*cmd;
	char				 words[64];
	size_t				 i;

	fprintf(fp, "usage: tunnelgwctl [-f FILE] [--json] COMMAND ...\n"
	    "  -f FILE   configuration file (default %s/tunnelgw.conf)\n"
	    "  --json    print JSON instead of columns\n"
	    "  -V        print the version\n\ncommands:\n", SYSCONFDIR);
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

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const struct ctl_command	*cmd;
	struct ctl			 ctl = { NULL, 0 };
	const char			*path = SYSCONFDIR "/tunnelgw.conf";
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
	nargs = argc - used;
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
	rc = cmd->run(&ctl, nargs, argv + used);
	conf_free(ctl.conf);
	return rc;
}
