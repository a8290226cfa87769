/* SPDX-License-Identifier: ISC */
/* tunnelgw: this gateway's part in the state gateways sharing a database keep. */
#ifndef TG_NODES_H
#define TG_NODES_H

#include <stddef.h>

#include "registry.h"

struct conf;
struct event_base;
struct store_live;
struct store_live_count;

/* The other gateways' live tunnels: n views into the nlive records of live. */
struct nodes_list {
	struct registry_view	 *v;
	size_t			  n;
	struct store_live	**live;
	size_t			  nlive;
};

int		 nodes_start(const struct conf *, struct event_base *, char **);
void		 nodes_poke(void);
void		 nodes_stop(int);
const char	*nodes_name(void);
int		 nodes_others(const char *, struct nodes_list *, char **);
void		 nodes_list_free(struct nodes_list *);
char		*nodes_format(const char *, int, int *, char **);
int		 nodes_close(unsigned long long, char **);

/* nodes-counts.c */
void		 nodes_counts_ours(struct store_live **, size_t, struct store_live_count ***,
		     size_t *);
void		 nodes_counts_written(struct store_live_count **, size_t);
void		 nodes_counts_joined(void);
void		 nodes_counts_theirs(struct store_live_count **, size_t, int, long long *,
		     long long *);
void		 nodes_counts_free(void);

#endif
