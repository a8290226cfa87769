/* SPDX-License-Identifier: ISC */
/* tunnelgw: public key lines made into key records, whatever the backend keeps them in. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "backend.h"
#include "store.h"
#include "xmalloc.h"

/* Check that a parsed key line starts with its type: options are not taken here. */
static int
store_key_no_options(const char *line, const struct keyent *ke, char **cause)
{
	size_t	 len = strlen(ke->type);

	line += strspn(line, " \t");
	if (strncmp(line, ke->type, len) == 0 && (line[len] == ' ' || line[len] == '\t'))
		return 0;
	xasprintf(cause, "a key given here takes no options: give 'TYPE BASE64 [COMMENT]'");
	return -1;
}

/* Check that a comment holds no control characters (it is shown on one line). */
static int
store_key_check_comment(const char *comment, char **cause)
{
	const unsigned char	*p;

	if (comment == NULL)
		return 0;
	for (p = (const unsigned char *)comment; *p != '\0'; p++) {
		if (*p < 0x20 || *p == 0x7f) {
			xasprintf(cause, "the key comment holds a control character");
			return -1;
		}
	}
	return 0;
}

/* Parse an OpenSSH public key line (no options) into a key record for account. */
struct store_key *
store_key_parse(const char *account, const char *line, const char *added_by, char **cause)
{
	struct store_key	*k;
	struct keyent		*ke;
	char			*b64, *why;
	int			 rc;

	if ((rc = keys_parse_line(line, &ke, &why)) != 0) {
		if (rc == 1)
			xasprintf(cause, "the key line is empty");
		else {
			xasprintf(cause, "invalid key: %s", why);
			free(why);
		}
		return NULL;
	}
	why = NULL;
	if (store_key_no_options(line, ke, &why) != 0 ||
	    store_key_check_comment(ke->comment, &why) != 0 ||
	    ssh_pki_export_pubkey_base64(ke->key, &b64) != SSH_OK) {
		if (why == NULL)
			xasprintf(&why, "cannot encode the key");
		*cause = why;
		keyent_free(ke);
		return NULL;
	}
	k = xcalloc(1, sizeof *k);
	k->fingerprint = xstrdup(ke->fingerprint);
	k->account = xstrdup(account);
	k->type = xstrdup(ke->type);
	xasprintf(&k->key, "%s %s", ke->type, b64);
	k->comment = ke->comment != NULL ? xstrdup(ke->comment) : NULL;
	k->added_by = xstrdup(added_by);
	k->created = store_now();
	ssh_string_free_char(b64);
	keyent_free(ke);
	return k;
}
