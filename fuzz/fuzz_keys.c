/* SPDX-License-Identifier: ISC */
/*
 * tunnelgw: libFuzzer target of the keys file: the input as one key line (keys_parse_line),
 * then as a whole file (keyfile_load), checking what a parsed entry promises its users.
 */
#include "config.h"

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

/* Check the fields of a parsed entry against the limits auth.h states. */
static void
fuzz_keys_check(const struct keyent *ke)
{
	const struct keyopts	*o = &ke->opts;
	size_t			 i;

	if (ke->key == NULL || ke->type == NULL || ke->account == NULL ||
	    ke->fingerprint == NULL || strncmp(ke->fingerprint, "SHA256:", 7) != 0)
		fuzz_fail("an entry without key, type, account or fingerprint");
	if (o->account != NULL && (strlen(o->account) == 0 ||
	    strlen(o->account) > KEYS_MAX_ACCOUNT || ke->account != o->account))
		fuzz_fail("account '%s' out of bounds", o->account);
	if (o->max_tunnels < -1 || o->max_tunnels > KEYS_MAX_TUNNELS)
		fuzz_fail("max-tunnels %d out of bounds", o->max_tunnels);
	if (o->proxy_proto < -1 || o->proxy_proto > 2)
		fuzz_fail("proxy-proto %d out of bounds", o->proxy_proto);
	for (i = 0; i < o->npermitlisten; i++) {
		if (o->permitlisten[i] < 0 || o->permitlisten[i] > 65535)
			fuzz_fail("permitlisten port %d out of bounds", o->permitlisten[i]);
	}
	if (cidrlist_count(o->from) > CIDRLIST_MAX || cidrlist_count(o->allow) > CIDRLIST_MAX ||
	    cidrlist_count(o->deny) > CIDRLIST_MAX)
		fuzz_fail("a CIDR list longer than its limit");
}

/* The input as one line. */
static void
fuzz_keys_line(const uint8_t *data, size_t size)
{
	struct keyent	*ke = NULL;
	char		*line = fuzz_string(data, size), *cause = NULL;
	int		 rc;

	rc = keys_parse_line(line, &ke, &cause);
	if (rc == 0) {
		if (cause != NULL)
			fuzz_fail("a cause with an entry");
		fuzz_keys_check(ke);
	} else if (rc == 1) {
		if (ke != NULL || cause != NULL)
			fuzz_fail("an entry or cause for a blank line");
	} else if (rc != -1 || ke != NULL || cause == NULL)
		fuzz_fail("keys_parse_line returned %d, entry %p, cause %p", rc, (void *)ke,
		    (void *)cause);
	keyent_free(ke);
	free(cause);
	free(line);
}

/* The input as a whole file: every key listed can be found again. */
static void
fuzz_keys_file(const uint8_t *data, size_t size)
{
	struct keyfile		*kf;
	const struct keyent	*ke, *found;
	char			*path = fuzz_write("keys", data, size), *cause = NULL;
	size_t			 i;

	if ((kf = keyfile_load(path, &cause)) == NULL)
		fuzz_fail("cannot load the keys file: %s", cause);
	for (i = 0; i < keyfile_count(kf); i++) {
		ke = keyfile_get(kf, i);
		fuzz_keys_check(ke);
		if ((found = keyfile_find(kf, ke->key)) == NULL ||
		    strcmp(found->fingerprint, ke->fingerprint) != 0)
			fuzz_fail("key %zu of the file cannot be found", i);
	}
	for (i = 0; i < keyfile_nproblems(kf); i++) {
		if (keyfile_problem(kf, i) == NULL)
			fuzz_fail("problem %zu missing", i);
	}
	if (keyfile_get(kf, keyfile_count(kf)) != NULL)
		fuzz_fail("an entry past the end");
	keyfile_free(kf);
	free(path);
}

/* libFuzzer: one input. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_keys_line(data, size);
	if (memchr(data, '\n', size) != NULL)
		fuzz_keys_file(data, size);
	return 0;
}
