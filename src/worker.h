/* SPDX-License-Identifier: ISC */
/* tunnelgw: worker threads, each owning its SSH sessions, their tunnels and connections. */
#ifndef TG_WORKER_H
#define TG_WORKER_H

struct conf;
struct keyfile;
struct sshgw_settings;

void	 worker_ssh_settings(const struct conf *, struct sshgw_settings *);
int	 worker_start_all(const struct conf *, const struct keyfile *, char **);
void	 worker_dispatch(int);
void	 worker_recheck_all(void);
void	 worker_recheck_accounts(char *const *, size_t);
void	 worker_close_tunnels(void);
void	 worker_probe(unsigned long long);
void	 worker_keys_all(const struct keyfile *);
int	 worker_keys_moving(void);
void	 worker_drain_all(int);
void	 worker_stop_all(void);
int	 worker_count(void);

#endif
