/* SPDX-License-Identifier: ISC */
/* tunnelgw: the daemon's side of access: the account store as the SSH layer and tunnels see it. */
#ifndef TG_ACCESS_H
#define TG_ACCESS_H

#include <stdint.h>

#include <libssh/libssh.h>

#include "auth.h"

struct client;
struct keyfile;
struct policy;
struct sshgw_login;
struct sshgw_session;
struct sshgw_verdict;
struct store;

void	 access_setup(const struct policy *);
void	 access_thread_store(struct store *);
void	 access_thread_keys(const struct keyfile *);
int	 access_login(struct sshgw_session *, const struct sshgw_login *,
	    struct sshgw_verdict *);
int	 access_register_key(struct sshgw_session *, char **);
int	 access_port_owner(enum grant_proto, int, char **, char **);
void	 access_set_node(const char *);
int	 access_reserved_ports(enum grant_proto, uint8_t *);
const char *access_still_allowed(const struct client *);
const char *access_rekey(struct client *, const struct keyfile *);

#endif
