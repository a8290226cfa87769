/* SPDX-License-Identifier: ISC */
/*
 * tunnelgw: libFuzzer target of the CIDR list parser: the input as a list (cidrlist_parse).
 * A list that parses must format (cidrlist_format) to a canonical list that parses to itself
 * and matches the same addresses; the addresses tried come from the input's own bytes.
 */
#include "config.h"

#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "fuzz.h"

/* libFuzzer: once at start. */
int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_quiet();
	return 0;
}

/* Parse s, which must parse: the canonical form must. */
static struct cidrlist *
fuzz_cidr_reparse(const char *s)
{
	struct cidrlist	*l;
	char		*why = NULL;

	if (cidrlist_parse(s, &l, &why) != 0)
		fuzz_fail("the canonical list '%s' does not parse: %s", s, why);
	return l;
}

/* Do a and b match the IPv4, IPv6 and IPv4-mapped addresses made of 16 bytes alike? */
static void
fuzz_cidr_match(const struct cidrlist *a, const struct cidrlist *b, const uint8_t *bytes)
{
	struct sockaddr_in	 sin;
	struct sockaddr_in6	 sin6, mapped;
	int			 m4;

	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	memcpy(&sin.sin_addr, bytes, 4);
	memset(&sin6, 0, sizeof sin6);
	sin6.sin6_family = AF_INET6;
	memcpy(&sin6.sin6_addr, bytes, 16);
	mapped = sin6;
	memset(&mapped.sin6_addr, 0, 10);
	memset((uint8_t *)&mapped.sin6_addr + 10, 0xff, 2);
	memcpy((uint8_t *)&mapped.sin6_addr + 12, bytes, 4);

	m4 = cidrlist_match(a, (struct sockaddr *)&sin);
	if (m4 != cidrlist_match(b, (struct sockaddr *)&sin) ||
	    cidrlist_match(a, (struct sockaddr *)&sin6) !=
	    cidrlist_match(b, (struct sockaddr *)&sin6) ||
	    cidrlist_match(a, (struct sockaddr *)&mapped) !=
	    cidrlist_match(b, (struct sockaddr *)&mapped))
		fuzz_fail("the canonical list matches other addresses");
	if (m4 && !cidrlist_match(a, (struct sockaddr *)&mapped))
		fuzz_fail("an IPv4 address matches, its IPv4-mapped form does not");
}

/* Every network of the canonical text matches its own address, in both lists. */
static void
fuzz_cidr_own(const struct cidrlist *a, const struct cidrlist *b, const char *text)
{
	struct sockaddr_in6	 sin6;
	struct sockaddr_in	 sin;
	struct sockaddr		*sa;
	char			*copy = strdup(text), *p = copy, *entry;

	while ((entry = strsep(&p, ",")) != NULL) {
		entry[strcspn(entry, "/")] = '\0';
		memset(&sin, 0, sizeof sin);
		memset(&sin6, 0, sizeof sin6);
		sin.sin_family = AF_INET;
		sin6.sin6_family = AF_INET6;
		if (inet_pton(AF_INET, entry, &sin.sin_addr) == 1)
			sa = (struct sockaddr *)&sin;
		else if (inet_pton(AF_INET6, entry, &sin6.sin6_addr) == 1)
			sa = (struct sockaddr *)&sin6;
		else
			fuzz_fail("'%s' in the canonical list is no address", entry);
		if (!cidrlist_match(a, sa) || !cidrlist_match(b, sa))
			fuzz_fail("network '%s' does not match its own address", entry);
	}
	free(copy);
}

/* libFuzzer: one input. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cidrlist	*l = NULL, *again;
	char		*s = fuzz_string(data, size), *why = NULL, *text, *text2;
	uint8_t		 bytes[16];
	size_t		 i;

	if (cidrlist_parse(s, &l, &why) != 0) {
		if (l != NULL || why == NULL)
			fuzz_fail("a refused list without a cause, or with a list");
		free(why);
		free(s);
		return 0;
	}
	if (cidrlist_count(l) == 0 || cidrlist_count(l) > CIDRLIST_MAX)
		fuzz_fail("%zu entries", cidrlist_count(l));
	text = cidrlist_format(l);
	again = fuzz_cidr_reparse(text);
	text2 = cidrlist_format(again);
	if (strcmp(text, text2) != 0 || cidrlist_count(l) != cidrlist_count(again))
		fuzz_fail("canonical forms differ: '%s' and '%s'", text, text2);
	fuzz_cidr_own(l, again, text);
	/* Addresses from the input's bytes, read from its start and from its end. */
	for (i = 0; i < 16; i++)
		bytes[i] = size > 0 ? data[i % size] : 0;
	fuzz_cidr_match(l, again, bytes);
	for (i = 0; i < 16; i++)
		bytes[i] = size > 0 ? data[size - 1 - i % size] : 0;
	fuzz_cidr_match(l, again, bytes);
	cidrlist_free(again);
	cidrlist_free(l);
	free(text);
	free(text2);
	free(s);
	return 0;
}
