/* SPDX-License-Identifier: ISC */
/*
 * tunnelgw: libFuzzer target of the configuration loader: the input as a configuration file
 * (conf_load); a file that loads must print (conf_print) as one that loads to the same values.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "fuzz.h"
#include "xmalloc.h"

/* libFuzzer: once at start. */
int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_quiet();
	return 0;
}

/* Print every option of c, as `tunnelgw -T` does, into a new string. */
static char *
fuzz_conf_print(const struct conf *c, size_t *len)
{
	char	*out = NULL;
	FILE	*fp;

	if ((fp = open_memstream(&out, len)) == NULL)
		fuzz_fail("open_memstream");
	conf_print(fp, c, 0);
	fclose(fp);
	return out;
}

/* Load the file name (in the scratch folder) holding len bytes of text; NULL if refused. */
static struct conf *
fuzz_conf_load(const char *name, const void *text, size_t len, char **cause)
{
	struct conf	*c = conf_create();
	char		*path = fuzz_write(name, text, len);

	if (conf_load(c, path, cause) != 0) {
		if (*cause == NULL)
			fuzz_fail("conf_load failed without a cause");
		conf_free(c);
		c = NULL;
	}
	free(path);
	return c;
}

/* libFuzzer: one input. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct conf	*c, *again;
	char		*cause = NULL, *text, *text2;
	size_t		 len, len2;

	/* @include reads other files: outside what one input can describe. */
	if (size > 65536 || memmem(data, size, "@include", 8) != NULL)
		return -1;
	if ((c = fuzz_conf_load("in.conf", data, size, &cause)) == NULL) {
		free(cause);
		return 0;
	}
	text = fuzz_conf_print(c, &len);
	if ((again = fuzz_conf_load("again.conf", text, len, &cause)) == NULL)
		fuzz_fail("the printed configuration does not load: %s\n%s", cause, text);
	text2 = fuzz_conf_print(again, &len2);
	if (len != len2 || memcmp(text, text2, len) != 0)
		fuzz_fail("the printed configuration loads to other values:\n%s\n--\n%s", text,
		    text2);
	free(text);
	free(text2);
	conf_free(c);
	conf_free(again);
	return 0;
}
