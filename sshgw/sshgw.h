/* SPDX-License-Identifier: ISC */
/* tunnelgw: the SSH server layer over libssh; this header is the layer's only door. */
#ifndef TG_SSHGW_H
#define TG_SSHGW_H

int	 hostkey_check(const char *, char **);
int	 hostkey_ensure(const char *, char **, char **);

#endif
