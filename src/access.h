/* SPDX-License-Identifier: ISC */
/* tunnelgw: the daemon's side of access: the account store as the SSH layer and tunnels see it. */
#ifndef TG_ACCESS_H
#define TG_ACCESS_H

#include <stdint.h>

#include <libssh/libssh.h>

struct store;
struct sshgw_session;

void	 access_thread_store(struct store *);
int	 access_key_lookup(struct sshgw_session *, ssh_key, char **, char **);
int	 access_token_check(struct sshgw_session *, const char *, int, char **, long long *,
	    char **);
int	 access_register_key(struct sshgw_session *, char **);
char	*access_port_owner(int);
int	 access_account_max_tunnels(const char *);
int	 access_reserved_ports(uint8_t *);
const char *access_still_allowed(struct sshgw_session *);

#endif
