/* SPDX-License-Identifier: ISC */
/*
 * tunnelgw: the registry of live tunnels, shared by all workers. A tunnel is added when its
 * forward is granted and removed when it closes, under a mutex (once per tunnel, never per
 * byte); its counters are atomics its own worker bumps and anyone may read.
 */
#include "config.h"

#include <sys/queue.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "json.h"
#include "log.h"
#include "registry.h"
#include "xmalloc.h"

/*
 * An account with live tunnels: how many it holds (under the lock) and how many public
 * connections they have open (an atomic their workers bump). Each tunnel entry holds it
 * until it is freed, so connections that outlive their tunnel's listing still count here.
 */
struct reg_account {
	char			*name;
	int			 tunnels;	/* listed */
	int			 refs;		/* tunnel entries not yet freed */
	atomic_int		 conns;
	atomic_int		 remote_conns;	/* on the other gateways (registry_set_remote) */
	LIST_ENTRY(reg_account)	 entry;
};

/* An account's live tunnels and connections on the other gateways sharing the database. */
struct reg_remote {
	char			*name;
	int			 tunnels;
	int			 conns;
	LIST_ENTRY(reg_remote)	 entry;
};

#define REGISTRY_ACCOUNT_BUCKETS	1024

struct reg_tunnel {
	unsigned long long	 id;		/* never reused while the process runs */
	struct reg_account	*acct;
	char			*account;
	char			*member;	/* NULL: a keys-file login */
	char			*client;	/* the SSH client's address; NULL: not known */
	atomic_int		 close_wanted;	/* asked to close (registry_request_close) */
	int			 awaiting;	/* made by the API, before its session came */
	long long		 token_id;	/* awaiting: the token that brings it online */
	time_t			 expires;	/* awaiting: when that token expires */
	char			*url;
	char			*target;
	unsigned long long	 session;
	time_t			 since;
	atomic_int		 conns;
	atomic_uint_fast64_t	 bytes_in;
	atomic_uint_fast64_t	 bytes_out;
	atomic_int		 refs;		/* the tunnel, and each of its connections */
	int			 listed;
	TAILQ_ENTRY(reg_tunnel)	 entry;
};

static pthread_mutex_t			registry_lock = PTHREAD_MUTEX_INITIALIZER;
static TAILQ_HEAD(, reg_tunnel)		registry_tunnels = TAILQ_HEAD_INITIALIZER(registry_tunnels);
static LIST_HEAD(, reg_account)		registry_accounts[REGISTRY_ACCOUNT_BUCKETS];
/* Tunnels the API made that wait for their SSH client (registry_add_awaiting): few. */
static TAILQ_HEAD(, reg_tunnel)		registry_awaiting = TAILQ_HEAD_INITIALIZER(registry_awaiting);
static atomic_ullong			registry_next_id = 1;
/* The other gateways' counts, by account, as the last sync found them (src/nodes.c). */
static LIST_HEAD(, reg_remote)		registry_remote[REGISTRY_ACCOUNT_BUCKETS];

static void	registry_release_locked(struct reg_tunnel *);

/* The bucket of an account's name. */
static uint32_t
registry_bucket(const char *account)
{
	uint32_t	 h = 2166136261u;
	const char	*p;

	for (p = account; *p != '\0'; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	return h % REGISTRY_ACCOUNT_BUCKETS;
}

/* Under the lock: the other gateways' counts of account, or NULL when it has none there. */
static struct reg_remote *
registry_remote_find(const char *account)
{
	struct reg_remote	*r;

	LIST_FOREACH(r, &registry_remote[registry_bucket(account)], entry) {
		if (strcmp(r->name, account) == 0)
			return r;
	}
	return NULL;
}

/* Under the lock: the entry of account, or NULL (create: a new one, never NULL). */
static struct reg_account *
registry_account_find(const char *account, int create)
{
	struct reg_account	*a;
	struct reg_remote	*r;
	uint32_t		 h = registry_bucket(account);

	LIST_FOREACH(a, &registry_accounts[h], entry) {
		if (strcmp(a->name, account) == 0)
			return a;
	}
	if (!create)
		return NULL;
	a = xcalloc(1, sizeof *a);
	a->name = xstrdup(account);
	atomic_init(&a->conns, 0);
	r = registry_remote_find(account);
	atomic_init(&a->remote_conns, r != NULL ? r->conns : 0);
	LIST_INSERT_HEAD(&registry_accounts[h], a, entry);
	return a;
}

/* Under the lock: forget an account's counts on the other gateways. */
static void
registry_remote_free(struct reg_remote *r)
{
	LIST_REMOVE(r, entry);
	free(r->name);
	free(r);
}

/*
 * Set what the other gateways sharing the database hold, for the n accounts of v (with
 * reset, for every account: those not in v hold nothing): their live tunnels count against
 * max_tunnels here, and their open connections against max_connections. Without reset, a
 * call costs its n accounts, not every account known.
 */
void
registry_set_remote(const struct registry_count *v, size_t n, int reset)
{
	struct reg_remote	*r;
	struct reg_account	*a;
	size_t			 i;

	pthread_mutex_lock(&registry_lock);
	for (i = 0; reset && i < REGISTRY_ACCOUNT_BUCKETS; i++) {
		while ((r = LIST_FIRST(&registry_remote[i])) != NULL)
			registry_remote_free(r);
		LIST_FOREACH(a, &registry_accounts[i], entry)
			atomic_store(&a->remote_conns, 0);
	}
	for (i = 0; i < n; i++) {
		if ((r = registry_remote_find(v[i].account)) == NULL &&
		    (v[i].tunnels != 0 || v[i].conns != 0)) {
			r = xcalloc(1, sizeof *r);
			r->name = xstrdup(v[i].account);
			LIST_INSERT_HEAD(&registry_remote[registry_bucket(r->name)], r, entry);
		}
		if (r != NULL && v[i].tunnels == 0 && v[i].conns == 0) {
			registry_remote_free(r);
			r = NULL;
		}
		if (r != NULL) {
			r->tunnels = v[i].tunnels;
			r->conns = v[i].conns;
		}
		if ((a = registry_account_find(v[i].account, 0)) != NULL)
			atomic_store(&a->remote_conns, r != NULL ? r->conns : 0);
	}
	pthread_mutex_unlock(&registry_lock);
}

/* Start the ids of tunnels at base + 1 (a gateway's number, in their high bits). */
void
registry_id_base(unsigned long long base)
{
	if (atomic_load(&registry_next_id) <= base)
		atomic_store(&registry_next_id, base + 1);
}

/* Under the lock: free an account's entry once no tunnel entry holds it. */
static void
registry_account_put(struct reg_account *a)
{
	if (a == NULL || --a->refs > 0)
		return;
	LIST_REMOVE(a, entry);
	free(a->name);
	free(a);
}

/*
 * Process-wide totals for the metrics; they outlive the tunnels that made them. The open
 * connections are also what max_connections and the drain at exit look at.
 */
static atomic_int			registry_conns_open;
static atomic_ullong			registry_conns_total;
static atomic_ullong			registry_bytes_in;
static atomic_ullong			registry_bytes_out;

/*
 * Record a new tunnel of account at url, for target (the bind address and port the client
 * asked for in its -R; its local target never reaches the gateway), in a session, unless
 * the account already holds limit tunnels (limit < 0: no limit): then NULL. The count and
 * the insertion happen under one lock, so sessions of one account in several workers cannot
 * pass the limit together.
 */
struct reg_tunnel *
registry_add(const char *account, const char *url, const char *target, unsigned long long session,
    int limit)
{
	struct reg_tunnel	*t, *o;
	struct reg_account	*a;
	struct reg_remote	*r;

	t = xcalloc(1, sizeof *t);
	t->account = xstrdup(account);
	t->url = xstrdup(url);
	t->target = xstrdup(target);
	t->session = session;
	t->since = time(NULL);
	t->id = atomic_fetch_add(&registry_next_id, 1);
	atomic_init(&t->refs, 1);
	t->listed = 1;
	pthread_mutex_lock(&registry_lock);
	/* A tunnel the API made for this address: it comes online, and keeps its id. */
	TAILQ_FOREACH(o, &registry_awaiting, entry) {
		if (strcmp(o->url, url) == 0 && strcmp(o->account, account) == 0)
			break;
	}
	if (o != NULL) {
		TAILQ_REMOVE(&registry_awaiting, o, entry);
		t->id = o->id;
		t->member = o->member;
		o->member = NULL;
		o->listed = 0;
		registry_release_locked(o);
	}
	a = registry_account_find(account, 1);
	a->refs++;
	t->acct = a;
	r = registry_remote_find(account);
	if (limit >= 0 && a->tunnels + (r != NULL ? r->tunnels : 0) >= limit) {
		pthread_mutex_unlock(&registry_lock);
		t->listed = 0;
		registry_release(t);
		return NULL;
	}
	a->tunnels++;
	TAILQ_INSERT_TAIL(&registry_tunnels, t, entry);
	pthread_mutex_unlock(&registry_lock);
	return t;
}

/* Return how many public connections a tunnel has open. */
int
registry_conns(const struct reg_tunnel *t)
{
	return t != NULL ? atomic_load(&((struct reg_tunnel *)t)->conns) : 0;
}

/*
 * Return how many public connections the tunnels of a tunnel's account have open, here and
 * (as the last sync found) on the other gateways sharing the database.
 */
int
registry_account_conns(const struct reg_tunnel *t)
{
	return t != NULL ? atomic_load(&t->acct->conns) + atomic_load(&t->acct->remote_conns) :
	    0;
}

/* Return the account of a tunnel (NULL for none), valid while a reference is held. */
const char *
registry_account(const struct reg_tunnel *t)
{
	return t != NULL ? t->account : NULL;
}

/* Take a reference for a connection of the tunnel, which may outlive its listing. */
struct reg_tunnel *
registry_hold(struct reg_tunnel *t)
{
	if (t != NULL)
		atomic_fetch_add(&t->refs, 1);
	return t;
}

/* Free an entry nobody holds; under the lock or not, as locked says. */
static void
registry_free(struct reg_tunnel *t, int locked)
{
	if (!locked)
		pthread_mutex_lock(&registry_lock);
	registry_account_put(t->acct);
	if (!locked)
		pthread_mutex_unlock(&registry_lock);
	free(t->account);
	free(t->member);
	free(t->client);
	free(t->url);
	free(t->target);
	free(t);
}

/* Drop a reference; the last one frees the entry. NULL is a no-op. */
void
registry_release(struct reg_tunnel *t)
{
	if (t != NULL && atomic_fetch_sub(&t->refs, 1) == 1)
		registry_free(t, 0);
}

/* registry_release, under the lock. */
static void
registry_release_locked(struct reg_tunnel *t)
{
	if (t != NULL && atomic_fetch_sub(&t->refs, 1) == 1)
		registry_free(t, 1);
}

/* The tunnel closed: unlist it, and drop its own reference. NULL is a no-op. */
void
registry_remove(struct reg_tunnel *t)
{
	if (t == NULL)
		return;
	pthread_mutex_lock(&registry_lock);
	if (t->listed) {
		TAILQ_REMOVE(&registry_tunnels, t, entry);
		t->acct->tunnels--;
	}
	t->listed = 0;
	pthread_mutex_unlock(&registry_lock);
	registry_release(t);
}

/* Count a public connection opening (+1) or closing (-1). */
void
registry_conn(struct reg_tunnel *t, int delta)
{
	if (t == NULL)
		return;
	atomic_fetch_add_explicit(&t->conns, delta, memory_order_relaxed);
	atomic_fetch_add_explicit(&t->acct->conns, delta, memory_order_relaxed);
	atomic_fetch_add_explicit(&registry_conns_open, delta, memory_order_relaxed);
	if (delta > 0)
		atomic_fetch_add_explicit(&registry_conns_total, (unsigned long long)delta,
		    memory_order_relaxed);
}

/* Return how many public connections are open now, in every worker. */
int
registry_connections_open(void)
{
	return atomic_load_explicit(&registry_conns_open, memory_order_relaxed);
}

/* Count bytes from the public side (in) and toward it (out). */
void
registry_bytes(struct reg_tunnel *t, uint64_t in, uint64_t out)
{
	if (t == NULL)
		return;
	if (in != 0) {
		atomic_fetch_add_explicit(&t->bytes_in, in, memory_order_relaxed);
		atomic_fetch_add_explicit(&registry_bytes_in, in, memory_order_relaxed);
	}
	if (out != 0) {
		atomic_fetch_add_explicit(&t->bytes_out, out, memory_order_relaxed);
		atomic_fetch_add_explicit(&registry_bytes_out, out, memory_order_relaxed);
	}
}

/* Fill *t with the tunnels open now and the process-wide connection and byte totals. */
void
registry_totals(struct registry_totals *t)
{
	struct reg_tunnel	*rt;
	int			 open;

	t->tunnels = 0;
	pthread_mutex_lock(&registry_lock);
	TAILQ_FOREACH(rt, &registry_tunnels, entry)
		t->tunnels++;
	pthread_mutex_unlock(&registry_lock);
	open = registry_connections_open();
	t->conns = open > 0 ? (unsigned long long)open : 0;
	t->conns_total = atomic_load(&registry_conns_total);
	t->bytes_in = atomic_load(&registry_bytes_in);
	t->bytes_out = atomic_load(&registry_bytes_out);
}

/* Return how many tunnels an account holds now, here and on the other gateways. */
int
registry_account_tunnels(const char *account)
{
	struct reg_account	*a;
	struct reg_remote	*r;
	int			 n;

	pthread_mutex_lock(&registry_lock);
	a = registry_account_find(account, 0);
	r = registry_remote_find(account);
	n = (a != NULL ? a->tunnels : 0) + (r != NULL ? r->tunnels : 0);
	pthread_mutex_unlock(&registry_lock);
	return n;
}

/* Return how many tunnels an account holds on the other gateways, as the last sync found. */
int
registry_remote_tunnels(const char *account)
{
	struct reg_remote	*r;
	int			 n;

	pthread_mutex_lock(&registry_lock);
	r = registry_remote_find(account);
	n = r != NULL ? r->tunnels : 0;
	pthread_mutex_unlock(&registry_lock);
	return n;
}

/*
 * Who holds the tunnel at url: 0 with its account (a new string), session and since, or -1
 * when no live tunnel has that url.
 */
int
registry_holder(const char *url, char **account, unsigned long long *session, time_t *since)
{
	struct reg_tunnel	*t;
	int			 rc = -1;

	pthread_mutex_lock(&registry_lock);
	TAILQ_FOREACH(t, &registry_tunnels, entry) {
		if (t->listed && strcmp(t->url, url) == 0) {
			*account = xstrdup(t->account);
			*session = t->session;
			*since = t->since;
			rc = 0;
			break;
		}
	}
	pthread_mutex_unlock(&registry_lock);
	return rc;
}

/* The columns of a text listing; --json uses their names in lower case, and "target" too. */
#define REGISTRY_NCOLS	7
static const char *const registry_headers[REGISTRY_NCOLS + 1] = {
	"URL", "ACCOUNT", "FORWARD", "CONNS", "BYTES_IN", "BYTES_OUT", "SINCE", "NODE"
};

/* Write when a tunnel opened, in RFC 3339 UTC, into buf. */
static void
registry_since(time_t since, char *buf, size_t len)
{
	struct tm	 tm;

	gmtime_r(&since, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* Fill v with what a live tunnel (not an awaiting one) shows; valid under the lock. */
static void
registry_view_of(const struct reg_tunnel *t, struct registry_view *v)
{
	struct reg_tunnel	*w = (struct reg_tunnel *)t;

	memset(v, 0, sizeof *v);
	v->id = t->id;
	v->account = t->account;
	v->member = t->member;
	v->client = t->client;
	v->url = t->url;
	v->target = t->target;
	v->session = t->session;
	v->since = t->since;
	v->conns = atomic_load(&w->conns);
	v->bytes_in = (unsigned long long)atomic_load(&w->bytes_in);
	v->bytes_out = (unsigned long long)atomic_load(&w->bytes_out);
}

/*
 * Write a tunnel as a JSON object, after a comma unless it is the first. "forward" is the
 * bind address and port the client asked for in its -R; "target" is its older name, kept
 * for scripts that read it. With node (gateways sharing a database), "node" names the one
 * that holds it.
 */
static void
registry_json_row(FILE *fp, const struct registry_view *v, const char *node, int first)
{
	char	 since[32];

	registry_since(v->since, since, sizeof since);
	fputs(first ? "{\"url\":" : ",{\"url\":", fp);
	json_write_string(fp, v->url);
	fputs(",\"account\":", fp);
	json_write_string(fp, v->account);
	fputs(",\"forward\":", fp);
	json_write_string(fp, v->target);
	fputs(",\"target\":", fp);
	json_write_string(fp, v->target);
	fprintf(fp, ",\"conns\":%d,\"bytes_in\":%llu,\"bytes_out\":%llu,\"since\":\"%s\"",
	    v->conns, v->bytes_in, v->bytes_out, since);
	if (node != NULL) {
		fputs(",\"node\":", fp);
		json_write_string(fp, v->node != NULL ? v->node : node);
	}
	fputc('}', fp);
}

/* Fill cells (REGISTRY_NCOLS new strings, one more with node) with a tunnel's text row. */
static void
registry_text_row(const struct registry_view *v, const char *node, char **cells)
{
	char	 since[32];

	registry_since(v->since, since, sizeof since);
	cells[0] = xstrdup(v->url);
	cells[1] = xstrdup(v->account);
	cells[2] = xstrdup(v->target);
	xasprintf(&cells[3], "%d", v->conns);
	xasprintf(&cells[4], "%llu", v->bytes_in);
	xasprintf(&cells[5], "%llu", v->bytes_out);
	cells[6] = xstrdup(since);
	if (node != NULL)
		cells[7] = xstrdup(v->node != NULL ? v->node : node);
}

/*
 * Print the header and nrows rows of ncols cells as columns two blanks apart, each as wide
 * as its widest cell in this listing: an account named by its key's fingerprint (50
 * characters) widens its column rather than pushing the rest of its row out of line.
 */
static void
registry_print_columns(FILE *fp, char **cells, size_t nrows, size_t ncols)
{
	size_t		 width[REGISTRY_NCOLS + 1], r, c, len;
	const char	*cell;

	for (c = 0; c < ncols; c++) {
		width[c] = strlen(registry_headers[c]);
		for (r = 0; r < nrows; r++) {
			if ((len = strlen(cells[r * ncols + c])) > width[c])
				width[c] = len;
		}
	}
	for (r = 0; r <= nrows; r++) {
		for (c = 0; c < ncols; c++) {
			cell = r == 0 ? registry_headers[c] : cells[(r - 1) * ncols + c];
			if (c + 1 == ncols)
				fprintf(fp, "%s\n", cell);
			else
				fprintf(fp, "%-*s  ", (int)width[c], cell);
		}
	}
}

/* What registry_format_nodes is writing. */
struct registry_out {
	FILE		*fp;
	int		 json;
	const char	*node;
	size_t		 ncols;
	char		**cells;
	size_t		 n;
};

/* Add a tunnel to a listing being written. */
static void
registry_out_add(struct registry_out *o, const struct registry_view *v)
{
	if (o->json)
		registry_json_row(o->fp, v, o->node, o->n == 0);
	else {
		o->cells = xreallocarray(o->cells, o->n + 1, o->ncols * sizeof *o->cells);
		registry_text_row(v, o->node, o->cells + o->n * o->ncols);
	}
	o->n++;
}

/*
 * Describe the live tunnels of account (NULL: all), one per line with a header, or as a
 * JSON array; returns a new string, and the number of tunnels in *count (if not NULL).
 * With node (this gateway's name, where gateways share a database), each row names the
 * gateway that holds it, and the n tunnels of extra (the other gateways') follow.
 */
char *
registry_format_nodes(const char *account, int json, int *count, const char *node,
    const struct registry_view *extra, size_t nextra)
{
	struct registry_out	 o = { NULL, json, node, REGISTRY_NCOLS + (node != NULL), NULL,
				   0 };
	struct registry_view	 v;
	struct reg_tunnel	*t;
	char			*out = NULL;
	size_t			 len, i;

	if ((o.fp = open_memstream(&out, &len)) == NULL)
		fatal("out of memory listing tunnels");
	if (json)
		fputc('[', o.fp);
	pthread_mutex_lock(&registry_lock);
	TAILQ_FOREACH(t, &registry_tunnels, entry) {
		if (account != NULL && strcmp(t->account, account) != 0)
			continue;
		registry_view_of(t, &v);
		registry_out_add(&o, &v);
	}
	pthread_mutex_unlock(&registry_lock);
	for (i = 0; i < nextra; i++) {
		if (account == NULL || strcmp(extra[i].account, account) == 0)
			registry_out_add(&o, &extra[i]);
	}
	if (json)
		fputs("]\n", o.fp);
	else
		registry_print_columns(o.fp, o.cells, o.n, o.ncols);
	for (i = 0; o.cells != NULL && i < o.n * o.ncols; i++)
		free(o.cells[i]);
	free(o.cells);
	fclose(o.fp);
	if (count != NULL)
		*count = (int)o.n;
	return out;
}

/* Describe the live tunnels of this gateway (see registry_format_nodes). */
char *
registry_format(const char *account, int json, int *count)
{
	return registry_format_nodes(account, json, count, NULL, NULL, 0);
}

/*
 * Call fn for each live tunnel of account (NULL: all), under the registry's lock: fn must
 * not call the registry, and should be quick (the workers wait for the lock to add or
 * remove a tunnel). Returns the number of tunnels shown.
 */
size_t
registry_each(const char *account, void (*fn)(const struct registry_view *, void *),
    void *arg)
{
	struct reg_tunnel	*t;
	struct registry_view	 v;
	size_t			 n = 0;

	pthread_mutex_lock(&registry_lock);
	TAILQ_FOREACH(t, &registry_tunnels, entry) {
		if (account != NULL && strcmp(t->account, account) != 0)
			continue;
		registry_view_of(t, &v);
		fn(&v, arg);
		n++;
	}
	TAILQ_FOREACH(t, &registry_awaiting, entry) {
		if (account != NULL && strcmp(t->account, account) != 0)
			continue;
		memset(&v, 0, sizeof v);
		v.id = t->id;
		v.account = t->account;
		v.member = t->member;
		v.url = t->url;
		v.target = t->target;
		v.since = t->since;
		v.awaiting = 1;
		v.expires = t->expires;
		fn(&v, arg);
		n++;
	}
	pthread_mutex_unlock(&registry_lock);
	return n;
}

/* Say who opened a tunnel: its member (NULL: none) and SSH client's address (NULL: unknown). */
void
registry_set_owner(struct reg_tunnel *t, const char *member, const char *client)
{
	if (t == NULL)
		return;
	pthread_mutex_lock(&registry_lock);
	free(t->member);
	free(t->client);
	t->member = member != NULL ? xstrdup(member) : NULL;
	t->client = client != NULL ? xstrdup(client) : NULL;
	pthread_mutex_unlock(&registry_lock);
}

/*
 * Who holds live tunnel id: 0 with its account and member (new strings; member NULL for a
 * keys-file login), or -1 when no live tunnel has that id.
 */
int
registry_owner(unsigned long long id, char **account, char **member)
{
	struct reg_tunnel	*t;
	int			 rc = -1;

	pthread_mutex_lock(&registry_lock);
	TAILQ_FOREACH(t, &registry_tunnels, entry) {
		if (t->id != id)
			continue;
		*account = xstrdup(t->account);
		*member = t->member != NULL ? xstrdup(t->member) : NULL;
		rc = 0;
		break;
	}
	pthread_mutex_unlock(&registry_lock);
	return rc;
}

/*
 * Ask for live tunnel id to close: its worker closes it when told (worker_close_tunnels).
 * 0, or -1 when no live tunnel has that id.
 */
int
registry_request_close(unsigned long long id)
{
	struct reg_tunnel	*t;
	int			 rc = -1;

	pthread_mutex_lock(&registry_lock);
	TAILQ_FOREACH(t, &registry_tunnels, entry) {
		if (t->id == id) {
			atomic_store(&t->close_wanted, 1);
			rc = 0;
			break;
		}
	}
	pthread_mutex_unlock(&registry_lock);
	return rc;
}

/* Was the tunnel asked to close? */
int
registry_close_wanted(const struct reg_tunnel *t)
{
	return t != NULL && atomic_load(&((struct reg_tunnel *)t)->close_wanted);
}

/* The id of a tunnel's entry. */
unsigned long long
registry_id(const struct reg_tunnel *t)
{
	return t != NULL ? t->id : 0;
}

/*
 * Record a tunnel the API made for account at url, for member, that waits for the SSH
 * client the token token_id (valid until expires) brings: the tunnel this client opens at
 * url takes its place and its id. Returns the id.
 */
unsigned long long
registry_add_awaiting(const char *account, const char *member, const char *url,
    const char *target, long long token_id, time_t expires)
{
	struct reg_tunnel	*t = xcalloc(1, sizeof *t);
	unsigned long long	 id;

	t->account = xstrdup(account);
	t->member = member != NULL ? xstrdup(member) : NULL;
	t->url = xstrdup(url);
	t->target = xstrdup(target);
	t->since = time(NULL);
	t->id = id = atomic_fetch_add(&registry_next_id, 1);
	t->awaiting = 1;
	t->token_id = token_id;
	t->expires = expires;
	atomic_init(&t->refs, 1);
	pthread_mutex_lock(&registry_lock);
	TAILQ_INSERT_TAIL(&registry_awaiting, t, entry);
	pthread_mutex_unlock(&registry_lock);
	return id;
}

/*
 * Take awaiting tunnel id away (cancelled, or its token expired): 0 with its account, url
 * and token id (new strings), or -1 when no tunnel awaits with that id.
 */
int
registry_cancel_awaiting(unsigned long long id, char **account, char **url,
    long long *token_id)
{
	struct reg_tunnel	*t;

	pthread_mutex_lock(&registry_lock);
	TAILQ_FOREACH(t, &registry_awaiting, entry) {
		if (t->id == id)
			break;
	}
	if (t != NULL) {
		TAILQ_REMOVE(&registry_awaiting, t, entry);
		*account = xstrdup(t->account);
		*url = xstrdup(t->url);
		*token_id = t->token_id;
		registry_release_locked(t);
	}
	pthread_mutex_unlock(&registry_lock);
	return t != NULL ? 0 : -1;
}

/* How many tunnels of account await their connection. */
int
registry_awaiting_count(const char *account)
{
	struct reg_tunnel	*t;
	int			 n = 0;

	pthread_mutex_lock(&registry_lock);
	TAILQ_FOREACH(t, &registry_awaiting, entry) {
		if (strcmp(t->account, account) == 0)
			n++;
	}
	pthread_mutex_unlock(&registry_lock);
	return n;
}

/* Does a tunnel at url await its connection? */
int
registry_awaiting_url(const char *url)
{
	struct reg_tunnel	*t;
	int			 found = 0;

	pthread_mutex_lock(&registry_lock);
	TAILQ_FOREACH(t, &registry_awaiting, entry) {
		if (strcmp(t->url, url) == 0)
			found = 1;
	}
	pthread_mutex_unlock(&registry_lock);
	return found;
}
