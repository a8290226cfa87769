/* SPDX-License-Identifier: ISC */
/* tunnelgw: the daemon: listeners, workers and signals. */
#ifndef TG_DAEMON_H
#define TG_DAEMON_H

struct conf;

int	 daemon_run(struct conf *, int, char **);

#endif
