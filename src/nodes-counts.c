/* SPDX-License-Identifier: ISC */
/*
 * tunnelgw: the tunnels and connections of each account, by gateway, for limits across the
 * gateways sharing a database (src/nodes.c), kept so that a second's work is the second's
 * changes, not the whole list:
 *
 * - ours: the counts by account this gateway wrote last (table node_accounts); a sync writes
 *   only the accounts whose counts moved, a zero for one that has no tunnel left;
 * - theirs: every other gateway's rows, by gateway and account, read by change number
 *   (node_accounts.seq) since the last read, and the sums by account that the registry
 *   counts against max_tunnels and max_connections. When the set of gateways changes (one
 *   joined, left or ran out of lease), they are read again whole.
 *
 * Main thread only.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nodes.h"
#include "registry.h"
#include "store.h"
#include "xmalloc.h"

#define NCOUNTS_BUCKETS	4096

/* A count: of an account (ours, theirs summed) or of an account on one gateway (key NODE\n ACCOUNT). */
struct ncount {
	char		*key;
	int		 tunnels;
	int		 conns;
	struct ncount	*next;
};

/* A table of counts by key. */
struct ncounts {
	struct ncount	*b[NCOUNTS_BUCKETS];
	size_t		 n;
};

static struct ncounts	ncounts_ours;		/* as written */
static struct ncounts	ncounts_theirs;		/* by gateway and account */
static struct ncounts	ncounts_sums;		/* theirs, by account */

/* The bucket of a key. */
static uint32_t
ncounts_hash(const char *key)
{
	uint32_t	 h = 2166136261u;

	for (; *key != '\0'; key++)
		h = (h ^ (unsigned char)*key) * 16777619u;
	return h % NCOUNTS_BUCKETS;
}

/* The count of key in t, or NULL; with create, a new zero one. */
static struct ncount *
ncounts_get(struct ncounts *t, const char *key, int create)
{
	struct ncount	*c;
	uint32_t	 h = ncounts_hash(key);

	for (c = t->b[h]; c != NULL; c = c->next) {
		if (strcmp(c->key, key) == 0)
			return c;
	}
	if (!create)
		return NULL;
	c = xcalloc(1, sizeof *c);
	c->key = xstrdup(key);
	c->next = t->b[h];
	t->b[h] = c;
	t->n++;
	return c;
}

/* Empty t. */
static void
ncounts_clear(struct ncounts *t)
{
	struct ncount	*c, *next;
	size_t		 i;

	for (i = 0; i < NCOUNTS_BUCKETS; i++) {
		for (c = t->b[i]; c != NULL; c = next) {
			next = c->next;
			free(c->key);
			free(c);
		}
		t->b[i] = NULL;
	}
	t->n = 0;
}

/*
 * Our counts by account now, from our live tunnels, against what we wrote last: *out gets
 * the accounts whose counts moved (zero for those gone; new records), and what is written
 * once the sync succeeds is remembered by nodes_counts_written.
 */
void
nodes_counts_ours(struct store_live **live, size_t n, struct store_live_count ***out,
    size_t *nout)
{
	struct ncounts		 now;
	struct ncount		*c, *o;
	struct store_live_count	*r;
	size_t			 i;

	memset(&now, 0, sizeof now);
	for (i = 0; i < n; i++) {
		c = ncounts_get(&now, live[i]->account, 1);
		c->tunnels++;
		c->conns += live[i]->conns;
	}
	*out = NULL;
	*nout = 0;
	for (i = 0; i < NCOUNTS_BUCKETS; i++) {
		for (c = now.b[i]; c != NULL; c = c->next) {
			o = ncounts_get(&ncounts_ours, c->key, 0);
			if (o != NULL && o->tunnels == c->tunnels && o->conns == c->conns)
				continue;
			r = xcalloc(1, sizeof *r);
			r->account = xstrdup(c->key);
			r->tunnels = c->tunnels;
			r->conns = c->conns;
			*out = xreallocarray(*out, *nout + 1, sizeof **out);
			(*out)[(*nout)++] = r;
		}
		for (o = ncounts_ours.b[i]; o != NULL; o = o->next) {
			if ((o->tunnels == 0 && o->conns == 0) || ncounts_get(&now, o->key, 0) != NULL)
				continue;
			r = xcalloc(1, sizeof *r);
			r->account = xstrdup(o->key);
			*out = xreallocarray(*out, *nout + 1, sizeof **out);
			(*out)[(*nout)++] = r;
		}
	}
	ncounts_clear(&now);
}

/* The counts of *nodes_counts_ours were written. */
void
nodes_counts_written(struct store_live_count **v, size_t n)
{
	struct ncount	*c;
	size_t		 i;

	for (i = 0; i < n; i++) {
		c = ncounts_get(&ncounts_ours, v[i]->account, 1);
		c->tunnels = v[i]->tunnels;
		c->conns = v[i]->conns;
	}
}

/* We joined (again): the database holds zeros for every account of ours. */
void
nodes_counts_joined(void)
{
	ncounts_clear(&ncounts_ours);
}

/*
 * Take the other gateways' rows read since the last read (all of them, after reset), and
 * hand the sums of the accounts they name to the registry (of every account, after reset).
 * *tunnels and *conns, the sums over every account, move by what changed.
 */
void
nodes_counts_theirs(struct store_live_count **v, size_t n, int reset, long long *tunnels,
    long long *conns)
{
	struct registry_count	*rc;
	struct ncount		*c, *s;
	char			*key;
	size_t			 i;

	if (reset) {
		ncounts_clear(&ncounts_theirs);
		ncounts_clear(&ncounts_sums);
		*tunnels = *conns = 0;
	}
	rc = xreallocarray(NULL, n + 1, sizeof *rc);
	for (i = 0; i < n; i++) {
		xasprintf(&key, "%s\n%s", v[i]->node, v[i]->account);
		c = ncounts_get(&ncounts_theirs, key, 1);
		free(key);
		s = ncounts_get(&ncounts_sums, v[i]->account, 1);
		s->tunnels += v[i]->tunnels - c->tunnels;
		s->conns += v[i]->conns - c->conns;
		*tunnels += v[i]->tunnels - c->tunnels;
		*conns += v[i]->conns - c->conns;
		c->tunnels = v[i]->tunnels;
		c->conns = v[i]->conns;
		/* The table's key outlives the call: the sums are dropped only at a reset. */
		rc[i].account = s->key;
		rc[i].tunnels = s->tunnels;
		rc[i].conns = s->conns;
	}
	if (n > 0 || reset)
		registry_set_remote(rc, n, reset);
	free(rc);
}

/* Forget everything (the daemon stops). */
void
nodes_counts_free(void)
{
	ncounts_clear(&ncounts_ours);
	ncounts_clear(&ncounts_theirs);
	ncounts_clear(&ncounts_sums);
}
