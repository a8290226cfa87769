/* SPDX-License-Identifier: ISC */
/*
 * tunnelgw: this gateway's part in what gateways sharing a database know of each other
 * (PostgreSQL; with SQLite none of this runs). In the main thread, once a second and when a
 * change is heard of:
 *
 * - the sync: the lease of this node renewed, and the changes to its live tunnels since the
 *   last sync written (added, gone; their connection and byte counts, for listings, every
 *   NODES_BYTES_EVERY syncs), in one transaction; it hands back the tunnels another node
 *   asked to close;
 * - the counts: each account's tunnels and connections on the other nodes, for
 *   max_tunnels and max_connections here (registry_set_remote). Each node writes its own by
 *   account when they move, and reads the others' changes since its last read
 *   (src/nodes-counts.c): a second costs what changed in it, not the size of the list.
 *
 * A node whose lease ran out (it died, or lost the database that long) leaves the list, its
 * tunnels with it, at the next sync of any node; when it comes back it joins again and lists
 * them all. Nothing here is on the path of a byte: a worker never waits for the database for
 * these, and the counts are at most a sync old.
 *
 * It has a connection of its own (store_open), with a short busy timeout, so a database that
 * stops answering holds the main thread at most NODES_BUSY_MS and 1 s, once.
 *
 * Each start makes a random instance id: the node's row is held by one run. A gateway started
 * with a node_name another running gateway holds waits at start for that lease to run out (a
 * run that crashed), then gives up saying why; a run whose row another took over stops
 * syncing and says so once a minute.
 */
#include "config.h"

#include <event2/event.h>
#include <openssl/rand.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "access.h"
#include "conf.h"
#include "log.h"
#include "nodes.h"
#include "registry.h"
#include "store.h"
#include "worker.h"
#include "xmalloc.h"

#define NODES_BUSY_MS		1000	/* ms a sync waits for the database's locks */
#define NODES_BYTES_EVERY	10	/* syncs between writes of a tunnel's counts */
#define NODES_REPORT		60	/* seconds between reports of the same trouble */

/* A live tunnel as the last sync wrote it. */
struct nodes_row {
	int64_t		 id;
	int		 conns;
	int64_t		 bytes_in;
	int64_t		 bytes_out;
};

static struct {
	struct store		*store;		/* NULL: not shared, nothing runs */
	const struct conf	*conf;		/* the daemon's, which outlives this */
	char			*name;
	int			 lease;
	char			 instance[33];	/* this run's, in hex */
	struct event		*tick;
	int			 joined;	/* 0: join (again) before the next sync */
	struct nodes_row	*rows;		/* what the shared list holds of ours, by id */
	size_t			 nrows;
	unsigned int		 syncs;
	time_t			 failing;	/* since when syncs fail; 0: they work */
	long long		 others_tunnels;	/* the counts last read, all accounts */
	long long		 others_conns;
	char			*counts_sig;	/* the other nodes those counts are of */
	int64_t			 counts_seq;	/* the last change of theirs read */
	time_t			 reported;
} nodes;

/* Order rows by id. */
static int
nodes_row_cmp(const void *a, const void *b)
{
	int64_t	 x = ((const struct store_live *const *)a)[0]->id;
	int64_t	 y = ((const struct store_live *const *)b)[0]->id;

	return x < y ? -1 : x > y;
}

/* registry_each: collect this gateway's live tunnels (not those awaiting their client). */
static void
nodes_collect(const struct registry_view *v, void *arg)
{
	struct {
		struct store_live	**v;
		size_t			  n;
	}			*l = arg;
	struct store_live	*r;

	if (v->awaiting)
		return;
	r = xcalloc(1, sizeof *r);
	r->id = (int64_t)v->id;
	r->account = xstrdup(v->account);
	r->member = v->member != NULL ? xstrdup(v->member) : NULL;
	r->client = v->client != NULL ? xstrdup(v->client) : NULL;
	r->url = xstrdup(v->url);
	r->target = xstrdup(v->target);
	r->since = (int64_t)v->since;
	r->conns = v->conns;
	r->bytes_in = (int64_t)v->bytes_in;
	r->bytes_out = (int64_t)v->bytes_out;
	l->v = xreallocarray(l->v, l->n + 1, sizeof *l->v);
	l->v[l->n++] = r;
}

/* Log a failed sync once a minute; say when they work again. */
static void
nodes_trouble(const char *what, char *cause)
{
	time_t	 now = time(NULL);

	if (nodes.failing == 0 || now - nodes.reported >= NODES_REPORT) {
		log_warn("node %s: %s: %s", nodes.name, what, cause);
		nodes.reported = now;
	}
	if (nodes.failing == 0)
		nodes.failing = now;
	free(cause);
}

/* A new random id for this run of the node. */
static void
nodes_new_instance(void)
{
	unsigned char	 raw[16];
	size_t		 i;

	if (RAND_bytes(raw, sizeof raw) != 1)
		fatal("cannot make a random instance id");
	for (i = 0; i < sizeof raw; i++)
		snprintf(nodes.instance + 2 * i, 3, "%02x", raw[i]);
}

/* This run as the store knows it; valid while nodes.name is. */
static struct store_node
nodes_me(void)
{
	return (struct store_node){ nodes.name, nodes.instance, nodes.conf->public_host,
	    nodes.lease };
}

/* Join the shared list: (again) as if nothing of ours were there. */
static int
nodes_join(void)
{
	struct store_node	 me = nodes_me();
	char			*cause = NULL;
	int64_t			 number;

	if (store_node_join(nodes.store, &me, &number, &cause) != 0) {
		nodes_trouble("cannot join the gateways sharing the database", cause);
		return -1;
	}
	free(nodes.rows);
	nodes.rows = NULL;
	nodes.nrows = 0;
	nodes_counts_joined();
	nodes.joined = 1;
	return 0;
}

/*
 * Compare this gateway's live tunnels (sorted by id) with what the list holds: the new ones
 * into *add, the ids gone into *gone, and with bytes set those whose counts moved into
 * *changed. The records stay in live; the arrays are new.
 */
static void
nodes_diff(struct store_live **live, size_t n, int bytes, struct store_live ***add,
    size_t *nadd, int64_t **gone, size_t *ngone, struct store_live ***changed, size_t *nch)
{
	size_t	 i = 0, j = 0;

	*add = xreallocarray(NULL, n + 1, sizeof **add);
	*changed = xreallocarray(NULL, n + 1, sizeof **changed);
	*gone = xreallocarray(NULL, nodes.nrows + 1, sizeof **gone);
	*nadd = *ngone = *nch = 0;
	while (i < n || j < nodes.nrows) {
		if (j == nodes.nrows || (i < n && live[i]->id < nodes.rows[j].id))
			(*add)[(*nadd)++] = live[i++];
		else if (i == n || nodes.rows[j].id < live[i]->id)
			(*gone)[(*ngone)++] = nodes.rows[j++].id;
		else {
			if (bytes && (live[i]->conns != nodes.rows[j].conns ||
			    live[i]->bytes_in != nodes.rows[j].bytes_in ||
			    live[i]->bytes_out != nodes.rows[j].bytes_out))
				(*changed)[(*nch)++] = live[i];
			else {
				/* Not written: what the list holds stays the reference. */
				live[i]->conns = nodes.rows[j].conns;
				live[i]->bytes_in = nodes.rows[j].bytes_in;
				live[i]->bytes_out = nodes.rows[j].bytes_out;
			}
			i++;
			j++;
		}
	}
}

/* The sync succeeded: what the list holds of ours is now live. */
static void
nodes_written(struct store_live **live, size_t n)
{
	size_t	 i;

	nodes.rows = xreallocarray(nodes.rows, n + 1, sizeof *nodes.rows);
	for (i = 0; i < n; i++) {
		nodes.rows[i].id = live[i]->id;
		nodes.rows[i].conns = live[i]->conns;
		nodes.rows[i].bytes_in = live[i]->bytes_in;
		nodes.rows[i].bytes_out = live[i]->bytes_out;
	}
	nodes.nrows = n;
}

/* Close the tunnels of ours another node asked to close. */
static void
nodes_close_asked(const int64_t *ids, size_t n)
{
	size_t	 i, closing = 0;

	for (i = 0; i < n; i++) {
		if (registry_request_close((unsigned long long)ids[i]) == 0) {
			log_info("node %s: tunnel %lld: closed at another node's request",
			    nodes.name, (long long)ids[i]);
			closing++;
		}
	}
	if (closing > 0)
		worker_close_tunnels();
}

/* Read what moved in the other nodes' counts by account, for the limits here. */
static void
nodes_counts(void)
{
	struct store_live_count	**v;
	char			 *cause = NULL, *sig;
	size_t			  n;
	int64_t			  last;
	int			  reset;
	long long		  tunnels = nodes.others_tunnels, conns = nodes.others_conns;

	if (store_live_counts(nodes.store, nodes.name, nodes.counts_sig, nodes.counts_seq, &v, &n,
	    &last, &sig, &reset, &cause) != 0) {
		nodes_trouble("cannot read the other gateways' counts", cause);
		return;
	}
	nodes_counts_theirs(v, n, reset, &tunnels, &conns);
	store_live_counts_free(v, n);
	free(nodes.counts_sig);
	nodes.counts_sig = sig;
	nodes.counts_seq = last;
	if (tunnels != nodes.others_tunnels || conns != nodes.others_conns)
		log_debug("node %s: the other gateways hold %lld tunnels with %lld connections",
		    nodes.name, tunnels, conns);
	nodes.others_tunnels = tunnels;
	nodes.others_conns = conns;
}

/* One sync (see the top of this file). */
static void
nodes_sync(void)
{
	struct {
		struct store_live	**v;
		size_t			  n;
	}			  l = { NULL, 0 };
	struct store_node	  me = nodes_me();
	struct store_live	**add, **changed;
	struct store_live_count	**counts;
	int64_t			 *gone, *close;
	size_t			  nadd, ngone, nch, nclose, ncounts;
	char			 *cause = NULL;
	int			  rc;

	if (!nodes.joined && nodes_join() != 0)
		return;
	registry_each(NULL, nodes_collect, &l);
	if (l.n > 1)
		qsort(l.v, l.n, sizeof *l.v, nodes_row_cmp);
	nodes_diff(l.v, l.n, ++nodes.syncs % NODES_BYTES_EVERY == 0, &add, &nadd, &gone, &ngone,
	    &changed, &nch);
	nodes_counts_ours(l.v, l.n, &counts, &ncounts);
	rc = store_node_sync(nodes.store, &me, add, nadd, gone, ngone,
	    changed, nch, counts, ncounts, &close, &nclose, &cause);
	if (rc == 0)
		nodes_counts_written(counts, ncounts);
	store_live_counts_free(counts, ncounts);
	free(add);
	free(gone);
	free(changed);
	if (rc == 1) {
		/* Our lease ran out meanwhile: the others dropped us. Join and list it all. */
		log_warn("node %s: the shared list had dropped this gateway (its lease of %d s ran "
		    "out, or another gateway took its node_name); joining again", nodes.name,
		    nodes.lease);
		nodes.joined = 0;
	} else if (rc != 0)
		nodes_trouble("cannot sync with the gateways sharing the database", cause);
	else {
		nodes_written(l.v, l.n);
		if (nodes.failing != 0) {
			log_info("node %s: in sync again after %lld s", nodes.name,
			    (long long)(time(NULL) - nodes.failing));
			nodes.failing = 0;
		}
		nodes_close_asked(close, nclose);
		free(close);
		nodes_counts();
	}
	store_live_list_free(l.v, l.n);
	if (rc == 1 && nodes_join() == 0)
		nodes_sync();
}

/* libevent: the second's sync. */
static void
nodes_tick(evutil_socket_t fd, short what, void *arg)
{
	nodes_sync();
}

/*
 * Take part in the shared state when the database is shared: join as conf's node_name, give
 * this gateway's tunnels ids no other gateway gives, and sync every second on base. 0 (also
 * when there is nothing to share), or -1 with *cause.
 */
int
nodes_start(const struct conf *c, struct event_base *base, char **cause)
{
	struct timeval		 tv = { 1, 0 };
	struct store_node	 me;
	char			*why = NULL;
	int64_t			 number;
	time_t			 deadline;
	int			 rc, waited = 0;

	if ((nodes.store = store_open(c->database, NODES_BUSY_MS, cause)) == NULL)
		return -1;
	if (!store_shared(nodes.store)) {
		store_close(nodes.store);
		nodes.store = NULL;
		return 0;
	}
	nodes.conf = c;
	nodes.name = xstrdup(c->node_name);
	nodes.lease = c->node_lease;
	nodes_new_instance();
	me = nodes_me();
	/*
	 * Another run holds the name: one that crashed leaves it when its lease runs out, so wait
	 * that long (before this gateway is ready); one that runs keeps it, and this one stops.
	 */
	deadline = time(NULL) + nodes.lease + 2;
	while ((rc = store_node_join(nodes.store, &me, &number, &why)) == 1 &&
	    time(NULL) < deadline) {
		if (!waited)
			log_warn("node %s: %s; waiting up to %d s in case that gateway stopped "
			    "without leaving", nodes.name, why, nodes.lease + 2);
		waited = 1;
		free(why);
		why = NULL;
		sleep(1);
	}
	if (rc != 0) {
		xasprintf(cause, "node %s: cannot join the gateways sharing the database: %s",
		    nodes.name, why);
		free(why);
		nodes_stop(0);
		return -1;
	}
	nodes.joined = 1;
	registry_id_base((unsigned long long)number << 32);
	access_set_node(nodes.name);
	nodes.tick = event_new(base, -1, EV_PERSIST, nodes_tick, NULL);
	if (nodes.tick == NULL || event_add(nodes.tick, &tv) != 0)
		fatal("cannot add a timer to the event loop");
	log_info("node %s (number %lld, %s) shares %s; its lease is %d s", nodes.name,
	    (long long)number, c->public_host, store_where(nodes.store), nodes.lease);
	nodes_counts();
	return 0;
}

/* A change was heard of (maybe a close asked of us): sync now. */
void
nodes_poke(void)
{
	if (nodes.store != NULL)
		nodes_sync();
}

/* Stop; with leave, take this gateway and its tunnels off the list at once (a clean stop). */
void
nodes_stop(int leave)
{
	struct store_node	 me;
	char			*cause = NULL;

	if (nodes.store == NULL)
		return;
	me = nodes_me();
	if (leave && store_node_leave(nodes.store, &me, &cause) != 0) {
		log_warn("node %s: cannot leave the list (it goes when its lease runs out): %s",
		    nodes.name, cause);
		free(cause);
	}
	if (nodes.tick != NULL)
		event_free(nodes.tick);
	access_set_node(NULL);
	store_close(nodes.store);
	free(nodes.name);
	free(nodes.rows);
	free(nodes.counts_sig);
	nodes_counts_free();
	memset(&nodes, 0, sizeof nodes);
}

/* This gateway's name where gateways share a database; NULL where they do not. */
const char *
nodes_name(void)
{
	return nodes.store != NULL ? nodes.name : NULL;
}

/*
 * The live tunnels of the other gateways (account's, when not NULL), as views into l (free
 * it with nodes_list_free). 0 (none where the database is not shared), or -1 with *cause.
 */
int
nodes_others(const char *account, struct nodes_list *l, char **cause)
{
	struct registry_view	*w;
	size_t			 i;

	memset(l, 0, sizeof *l);
	if (nodes.store == NULL)
		return 0;
	if (store_live_list(nodes.store, account, &l->live, &l->nlive, cause) != 0)
		return -1;
	l->v = xcalloc(l->nlive + 1, sizeof *l->v);
	for (i = 0; i < l->nlive; i++) {
		if (strcmp(l->live[i]->node, nodes.name) == 0)
			continue;
		w = &l->v[l->n++];
		w->id = (unsigned long long)l->live[i]->id;
		w->account = l->live[i]->account;
		w->member = l->live[i]->member;
		w->client = l->live[i]->client;
		w->url = l->live[i]->url;
		w->target = l->live[i]->target;
		w->since = (time_t)l->live[i]->since;
		w->conns = l->live[i]->conns;
		w->bytes_in = (unsigned long long)l->live[i]->bytes_in;
		w->bytes_out = (unsigned long long)l->live[i]->bytes_out;
		w->node = l->live[i]->node;
	}
	return 0;
}

/* Free what nodes_others filled. */
void
nodes_list_free(struct nodes_list *l)
{
	free(l->v);
	store_live_list_free(l->live, l->nlive);
	memset(l, 0, sizeof *l);
}

/*
 * The live tunnels of every gateway (account's, when not NULL), as registry_format_nodes
 * writes them; with the database away, this gateway's alone, and *cause says why.
 */
char *
nodes_format(const char *account, int json, int *count, char **cause)
{
	struct nodes_list	 l;
	char			*out;

	*cause = NULL;
	if (nodes.store == NULL)
		return registry_format(account, json, count);
	if (nodes_others(account, &l, cause) != 0)
		memset(&l, 0, sizeof l);
	out = registry_format_nodes(account, json, count, nodes.name, l.v, l.n);
	nodes_list_free(&l);
	return out;
}

/*
 * Ask the gateway that holds live tunnel id (another one) to close it: 0, or -1 with *cause
 * ("no live tunnel N" when none holds it).
 */
int
nodes_close(unsigned long long id, char **cause)
{
	if (nodes.store == NULL) {
		xasprintf(cause, "no live tunnel %llu", id);
		return -1;
	}
	return store_live_close(nodes.store, (int64_t)id, cause);
}
