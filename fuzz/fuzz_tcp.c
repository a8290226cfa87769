/* SPDX-License-Identifier: ISC */
/*
 * tunnelgw: libFuzzer target of the `tcp` command's option parser (grant_cmd_option): the
 * input as a command line, split on blanks as a session splits it, each word after the first
 * parsed as an option.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "fuzz.h"

#define FUZZ_TCP_WORDS	16	/* words a session takes from one command line */
#define FUZZ_TCP_MAX	1024	/* the longest command line a session takes */

/* libFuzzer: once at start. */
int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_quiet();
	return 0;
}

/* A kept CIDR option must be a list that formats and parses back to as many entries. */
static void
fuzz_tcp_check_cidr(const struct cidrlist *l)
{
	struct cidrlist	*again;
	char		*text, *why = NULL;

	if (l == NULL)
		return;
	text = cidrlist_format(l);
	if (cidrlist_parse(text, &again, &why) != 0)
		fuzz_fail("a kept CIDR list does not parse again: %s", why);
	if (cidrlist_count(again) != cidrlist_count(l))
		fuzz_fail("a kept CIDR list changed in a round trip");
	cidrlist_free(again);
	free(text);
}

/* Check the options after one word, and that a refused word changed nothing. */
static void
fuzz_tcp_check(const struct grant_cmd *o, const struct grant_cmd *before, int rc,
    const char *cause)
{
	if (rc == 0 && cause != NULL)
		fuzz_fail("an option taken with a cause");
	if (rc != 0 && (rc != -1 || cause == NULL))
		fuzz_fail("an option refused without a cause");
	if (rc != 0 && (o->proxy_proto != before->proxy_proto ||
	    o->idle_timeout != before->idle_timeout || o->allow != before->allow ||
	    o->deny != before->deny))
		fuzz_fail("a refused option changed the options");
	if (o->proxy_proto < -1 || o->proxy_proto > 2)
		fuzz_fail("proxy_proto %d out of bounds", o->proxy_proto);
	if (o->idle_timeout < -1 || o->idle_timeout > 604800)
		fuzz_fail("idle_timeout %d out of bounds", o->idle_timeout);
	fuzz_tcp_check_cidr(o->allow);
	fuzz_tcp_check_cidr(o->deny);
}

/* libFuzzer: one input. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct grant_cmd	 o = { -1, -1, NULL, NULL }, before;
	char			*line, *p, *word, *cause;
	int			 n = 0, rc;

	if (size > FUZZ_TCP_MAX)
		return -1;
	p = line = fuzz_string(data, size);
	while ((word = strsep(&p, " \t")) != NULL && n < FUZZ_TCP_WORDS) {
		if (*word == '\0' || n++ == 0)
			continue;
		before = o;
		cause = NULL;
		rc = grant_cmd_option(&o, word, &cause);
		fuzz_tcp_check(&o, &before, rc, cause);
		free(cause);
		if (rc != 0)
			break;
	}
	grant_cmd_clear(&o);
	free(line);
	return 0;
}
