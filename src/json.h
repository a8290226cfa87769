/* SPDX-License-Identifier: ISC */
/* tunnelgw: JSON strings, escaped and valid whatever bytes they are given. */
#ifndef TG_JSON_H
#define TG_JSON_H

#include <stddef.h>
#include <stdio.h>

#define JSON_STRING_MIN	6	/* "\"...\"" and a NUL: the smallest buffer for json_quote_into */

size_t	 json_quote_into(char *, size_t, const char *);
void	 json_write_string(FILE *, const char *);

int	 json_utf8_valid(const char *);

#endif
