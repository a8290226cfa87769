/* SPDX-License-Identifier: ISC */
/* tunnelgw: print tunnelgw.conf.example from the option table. */
#include "config.h"

#include <stdio.h>

#include "conf.h"

int
main(void)
{
	struct conf	*c = conf_create();

	printf("# tunnelgw.conf: configuration of the tunnelgw SSH reverse-tunnel gateway.\n"
	    "# Every option is listed at its default. Syntax: libconfig (name = value;).\n"
	    "# Relative paths are relative to the folder of this file.\n"
	    "# Check a configuration with: tunnelgw -t -f FILE\n"
	    "# This file is generated from the option table: make update-example.\n\n");
	conf_print(stdout, c, 1);
	conf_free(c);
	return 0;
}
