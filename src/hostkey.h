/* SPDX-License-Identifier: ISC */
/* tunnelgw: SSH host keys: created on first start, checked before every use. */
#ifndef TG_HOSTKEY_H
#define TG_HOSTKEY_H

int	 hostkey_check(const char *, char **);
int	 hostkey_ensure(const char *, char **, char **);

#endif
