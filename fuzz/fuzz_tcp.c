/* SPDX-License-Identifier: ISC */
/*
 * tunnelgw: libFuzzer target of the `tcp` command's option parser: the input as a command
 * line, split on blanks as a session splits it, each word after the first parsed as an option.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "fuzz.h"
#include "sshgw-int.h"

#define FUZZ_TCP_WORDS	16	/* words a session takes from one command line */

/* libFuzzer: once at start. */
int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_quiet();
	return 0;
}

/* A kept CIDR option must be a list the gateway can parse later. */
static void
fuzz_tcp_check_cidr(const char *v)
{
	struct cidrlist	*l;
	char		*why = NULL;

	if (v == NULL)
		return;
	if (cidrlist_parse(v, &l, &why) != 0)
		fuzz_fail("a kept CIDR list does not parse: %s", why);
	cidrlist_free(l);
}

/* Check the options after one word, and that a refused word changed nothing. */
static void
fuzz_tcp_check(const struct sshgw_tcp_opts *o, const struct sshgw_tcp_opts *before, int rc,
    const char *cause)
{
	if (rc == 0 && cause != NULL)
		fuzz_fail("an option taken with a cause");
	if (rc != 0 && (rc != -1 || cause == NULL))
		fuzz_fail("an option refused without a cause");
	if (rc != 0 && (o->proxy_proto != before->proxy_proto ||
	    o->idle_timeout != before->idle_timeout || o->allow_cidr != before->allow_cidr ||
	    o->deny_cidr != before->deny_cidr))
		fuzz_fail("a refused option changed the options");
	if (o->proxy_proto < -1 || o->proxy_proto > 2)
		fuzz_fail("proxy_proto %d out of bounds", o->proxy_proto);
	if (o->idle_timeout < -1 || o->idle_timeout > 604800)
		fuzz_fail("idle_timeout %d out of bounds", o->idle_timeout);
	fuzz_tcp_check_cidr(o->allow_cidr);
	fuzz_tcp_check_cidr(o->deny_cidr);
}

/* libFuzzer: one input. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sshgw_tcp_opts	 o = { -1, -1, NULL, NULL }, before;
	char			*line, *p, *word, *cause;
	int			 n = 0, rc;

	if (size > SSHGW_MAX_COMMAND)
		return -1;
	p = line = fuzz_string(data, size);
	while ((word = strsep(&p, " \t")) != NULL && n < FUZZ_TCP_WORDS) {
		if (*word == '\0' || n++ == 0)
			continue;
		before = o;
		cause = NULL;
		rc = sshgw_command_tcp_option(&o, word, &cause);
		fuzz_tcp_check(&o, &before, rc, cause);
		free(cause);
		if (rc != 0)
			break;
	}
	free(o.allow_cidr);
	free(o.deny_cidr);
	free(line);
	return 0;
}
