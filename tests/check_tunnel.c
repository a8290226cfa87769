/* SPDX-License-Identifier: ISC */
/*
 * tunnelgw: unit tests of the admission of public connections to a tunnel (tunnel_admit):
 * the grant's client lists, the gateway's and the tunnel's connection limits as the
 * registry counts them, and the per-source connection rate.
 */
#include "config.h"

#include <sys/socket.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include "auth.h"
#include "ratelimit.h"
#include "registry.h"
#include "tunnel.h"
#include "xmalloc.h"
#include "tg_test.h"

#define GATEWAY_FULL	"the gateway holds max_connections connections"
#define TUNNEL_FULL	"the tunnel holds max_connections_per_tunnel connections"
#define RATE		"too many new connections from this address (conn_rate)"

/* A policy with the given connection limits and rate, and no CIDR lists. */
static struct policy
policy(int max_all, int max_tunnel, int rate, int burst)
{
	struct policy	 p = tg_policy();

	p.max_connections = max_all;
	p.max_connections_per_tunnel = max_tunnel;
	p.conn_rate = rate;
	p.conn_burst = burst;
	return p;
}

/* A CIDR list that must parse. */
static struct cidrlist *
cidrs(const char *s)
{
	struct cidrlist	*l = NULL;
	char		*cause = NULL;

	ck_assert_msg(cidrlist_parse(s, &l, &cause) == 0, "'%s': %s", s, cause);
	return l;
}


/* A tunnel of alice's on port, listed in the registry with no connections. */
static struct reg_tunnel *
tunnel(int port)
{
	struct reg_tunnel	*t;
	char			*url, *target;

	xasprintf(&url, "tcp://gw.example.com:%d", port);
	xasprintf(&target, "localhost:%d", port);
	t = registry_add("alice", url, target, 1, -1);
	ck_assert_ptr_nonnull(t);
	ck_assert_int_eq(registry_conns(t), 0);
	free(url);
	free(target);
	return t;
}

/* Admit a connection from address to t and check the answer (why NULL: admitted). */
static void
admit(const char *what, const struct grant *g, struct reg_tunnel *t, struct ratelimit **rate,
    const char *address, enum refusal want, const char *why)
{
	struct sockaddr_storage	 ss;
	const char		*got = "unset";
	enum refusal		 r;

	r = tunnel_admit(g, t, rate, tg_addr(&ss, address), &got);
	ck_assert_msg(r == want, "%s (%s): %s, want %s", what, address, refusal_label(r),
	    refusal_label(want));
	if (why == NULL)
		ck_assert_msg(got == NULL, "%s: unexpected message '%s'", what, got);
	else {
		ck_assert_msg(got != NULL, "%s: no message", what);
		ck_assert_msg(strcmp(got, why) == 0, "%s: '%s', want '%s'", what, got, why);
	}
}

/*
 * Steps of a connection-limit scenario with max_connections 3 and
 * max_connections_per_tunnel 2, on two tunnels: open (+1) or close (-1) a connection of
 * one, then admit one more to one and check the answer.
 */
static const struct {
	const char	*what;
	int		 conn_on;	/* 0: none; 1 or 2: the tunnel whose count changes */
	int		 delta;
	int		 admit_on;	/* 1 or 2 */
	const char	*why;		/* NULL: admitted */
} limit_steps[] = {
	{ "nothing open", 0, 0, 1, NULL },
	{ "tunnel 1 holds 1", 1, 1, 1, NULL },
	{ "tunnel 1 holds 2, its limit", 1, 1, 1, TUNNEL_FULL },
	{ "tunnel 2 is still free", 0, 0, 2, NULL },
	{ "tunnel 2 holds 1, the gateway 3", 2, 1, 2, GATEWAY_FULL },
	{ "the gateway limit comes first", 0, 0, 1, GATEWAY_FULL },
	{ "tunnel 2 closes one", 2, -1, 2, NULL },
	{ "tunnel 1 is still full", 0, 0, 1, TUNNEL_FULL },
	{ "tunnel 1 closes one", 1, -1, 1, NULL },
	{ "tunnel 1 closes its last", 1, -1, 2, NULL },
};

/* max_connections counts the whole gateway, max_connections_per_tunnel each tunnel. */
START_TEST(test_connection_limits)
{
	struct policy		 pol = policy(3, 2, 0, 1);
	struct grant		*g = grant_create(&pol, "alice", GRANT_KEYFILE, NULL, -1);
	struct reg_tunnel	*t[3];
	struct ratelimit	*rate = NULL;
	size_t			 i;

	ck_assert_int_eq(registry_connections_open(), 0);
	t[0] = NULL;
	t[1] = tunnel(21001);
	t[2] = tunnel(21002);
	for (i = 0; i < sizeof limit_steps / sizeof limit_steps[0]; i++) {
		if (limit_steps[i].conn_on != 0)
			registry_conn(t[limit_steps[i].conn_on], limit_steps[i].delta);
		admit(limit_steps[i].what, g, t[limit_steps[i].admit_on], &rate, "203.0.113.5",
		    limit_steps[i].why != NULL ? REFUSAL_CONNECTION_LIMIT : REFUSAL_NONE,
		    limit_steps[i].why);
	}
	ck_assert_int_eq(registry_conns(t[1]), 0);
	ck_assert_int_eq(registry_conns(t[2]), 0);
	ck_assert_int_eq(registry_connections_open(), 0);
	ck_assert_ptr_null(rate);	/* conn_rate 0: no table */
	registry_remove(t[1]);
	registry_remove(t[2]);
	grant_release(g);
}
END_TEST

/*
 * The other gateways' counts (registry_set_remote) count against an account's limits here;
 * a call without reset changes only the accounts it names, and a zero drops one.
 */
START_TEST(test_remote_counts)
{
	const struct registry_count	 all[] = { { "alice", 2, 1 }, { "bob", 1, 0 } };
	const struct registry_count	 alice_gone[] = { { "alice", 0, 0 } };
	struct reg_tunnel		*t;

	registry_set_remote(all, 2, 1);
	ck_assert_int_eq(registry_remote_tunnels("alice"), 2);
	ck_assert_int_eq(registry_remote_tunnels("bob"), 1);
	ck_assert_int_eq(registry_remote_tunnels("carol"), 0);
	t = registry_add("alice", "tcp://gw.example.com:21010", "localhost:1", 1, 3);
	ck_assert_ptr_nonnull(t);
	ck_assert_int_eq(registry_account_tunnels("alice"), 3);
	ck_assert_int_eq(registry_account_conns(t), 1);
	/* Two here and there would pass max_tunnels 3. */
	ck_assert_ptr_null(registry_add("alice", "tcp://gw.example.com:21011", "localhost:1", 1,
	    3));
	registry_set_remote(alice_gone, 1, 0);
	ck_assert_int_eq(registry_remote_tunnels("alice"), 0);
	ck_assert_int_eq(registry_remote_tunnels("bob"), 1);
	ck_assert_int_eq(registry_account_conns(t), 0);
	ck_assert_int_eq(registry_account_tunnels("alice"), 1);
	registry_set_remote(all, 1, 0);
	ck_assert_int_eq(registry_account_conns(t), 1);
	registry_set_remote(NULL, 0, 1);
	ck_assert_int_eq(registry_remote_tunnels("bob"), 0);
	ck_assert_int_eq(registry_account_conns(t), 0);
	registry_remove(t);
}
END_TEST

/* max_connections_per_tunnel 0 sets no limit on a tunnel; max_connections still holds. */
START_TEST(test_no_tunnel_limit)
{
	struct policy		 pol = policy(60, 0, 0, 1);
	struct grant		*g = grant_create(&pol, "alice", GRANT_KEYFILE, NULL, -1);
	struct reg_tunnel	*t = tunnel(21000);
	struct ratelimit	*rate = NULL;
	int			 i;

	for (i = 0; i < 59; i++)
		registry_conn(t, 1);
	admit("59 open", g, t, &rate, "203.0.113.5", REFUSAL_NONE, NULL);
	registry_conn(t, 1);
	admit("60 open", g, t, &rate, "203.0.113.5", REFUSAL_CONNECTION_LIMIT, GATEWAY_FULL);
	for (i = 0; i < 60; i++)
		registry_conn(t, -1);
	ck_assert_int_eq(registry_connections_open(), 0);
	registry_remove(t);
	grant_release(g);
}
END_TEST

/* Public clients refused by a list: REFUSAL_IP_RULE, before any connection limit. */
START_TEST(test_ip_rules)
{
	struct policy		 pol = policy(100, 1, 0, 1);
	struct keyent		*ke = NULL;
	struct grant		*g;
	struct reg_tunnel	*t = tunnel(21000);
	struct ratelimit	*rate = NULL;
	char			*cause = NULL;
	char			*argv[] = { xstrdup("tcp"), xstrdup("--deny-cidr=198.51.100.7"),
				    NULL };

	pol.deny = cidrs("192.0.2.0/24");
	ck_assert_int_eq(keys_parse_line("allow-cidr=\"198.51.100.0/24,2001:db8::/32\" "
	    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAILASBAwoiGAAwbb4+n1F2a4BlM3HDJjJtf7wjOfoCKtl",
	    &ke, &cause), 0);
	g = grant_create(&pol, "alice", GRANT_KEYFILE, &ke->opts, -1);
	keyent_free(ke);
	ck_assert_int_eq(grant_command(g, argv, 2, &cause), 0);

	admit("in the key's list", g, t, &rate, "198.51.100.1", REFUSAL_NONE, NULL);
	admit("IPv6 in the key's list", g, t, &rate, "2001:db8::1", REFUSAL_NONE, NULL);
	admit("mapped, in the key's list", g, t, &rate, "::ffff:198.51.100.1", REFUSAL_NONE,
	    NULL);
	admit("deny_cidr", g, t, &rate, "192.0.2.1", REFUSAL_IP_RULE, "denied by deny_cidr");
	admit("deny_cidr, mapped", g, t, &rate, "::ffff:192.0.2.1", REFUSAL_IP_RULE,
	    "denied by deny_cidr");
	admit("--deny-cidr", g, t, &rate, "198.51.100.7", REFUSAL_IP_RULE,
	    "denied by --deny-cidr");
	admit("not in allow-cidr", g, t, &rate, "203.0.113.5", REFUSAL_IP_RULE,
	    "not in the key's allow-cidr");
	admit("IPv6 not in allow-cidr", g, t, &rate, "2001:db9::1", REFUSAL_IP_RULE,
	    "not in the key's allow-cidr");

	/* The tunnel is full: a refused client still hears of its list, not the limit. */
	registry_conn(t, 1);
	admit("full, denied", g, t, &rate, "192.0.2.1", REFUSAL_IP_RULE, "denied by deny_cidr");
	admit("full, allowed", g, t, &rate, "198.51.100.1", REFUSAL_CONNECTION_LIMIT,
	    TUNNEL_FULL);
	registry_conn(t, -1);

	free(argv[0]);
	free(argv[1]);
	registry_remove(t);
	grant_release(g);
	cidrlist_free(pol.deny);
}
END_TEST

/*
 * conn_rate 1, conn_burst 3: three connections at once from one source, the fourth
 * refused while another source is still admitted. A token comes back after a second, far
 * more than these calls take, so the answers do not depend on timing.
 */
START_TEST(test_conn_rate)
{
	struct policy		 pol = policy(100, 0, 1, 3);
	struct grant		*g = grant_create(&pol, "alice", GRANT_KEYFILE, NULL, -1);
	struct reg_tunnel	*t = tunnel(21000);
	struct ratelimit	*rate = NULL;

	admit("first", g, t, &rate, "203.0.113.5", REFUSAL_NONE, NULL);
	ck_assert_ptr_nonnull(rate);
	admit("second", g, t, &rate, "203.0.113.5", REFUSAL_NONE, NULL);
	admit("third", g, t, &rate, "203.0.113.5", REFUSAL_NONE, NULL);
	admit("fourth", g, t, &rate, "203.0.113.5", REFUSAL_CONN_RATE, RATE);
	admit("fifth", g, t, &rate, "203.0.113.5", REFUSAL_CONN_RATE, RATE);
	admit("another source", g, t, &rate, "198.51.100.1", REFUSAL_NONE, NULL);
	ratelimit_free(rate);
	registry_remove(t);
	grant_release(g);
}
END_TEST

/* IPv6 sources are counted by prefix: another address of the same /64 shares the bucket. */
START_TEST(test_conn_rate_ipv6)
{
	struct policy		 pol = policy(100, 0, 1, 2);
	struct grant		*g = grant_create(&pol, "alice", GRANT_KEYFILE, NULL, -1);
	struct reg_tunnel	*t = tunnel(21000);
	struct ratelimit	*rate = NULL;

	admit("first", g, t, &rate, "2001:db8:1:2::1", REFUSAL_NONE, NULL);
	admit("second, same /64", g, t, &rate, "2001:db8:1:2::ffff", REFUSAL_NONE, NULL);
	admit("third, same /64", g, t, &rate, "2001:db8:1:2:abcd::7", REFUSAL_CONN_RATE,
	    RATE);
	admit("another /64", g, t, &rate, "2001:db8:1:3::1", REFUSAL_NONE, NULL);
	ratelimit_free(rate);
	registry_remove(t);
	grant_release(g);
}
END_TEST

/* A connection refused by a limit or a list takes no token of its source's rate. */
START_TEST(test_conn_rate_refused)
{
	struct policy		 pol = policy(100, 1, 1, 1);
	struct grant		*g;
	struct reg_tunnel	*t = tunnel(21000);
	struct ratelimit	*rate = NULL;

	pol.deny = cidrs("192.0.2.0/24");
	g = grant_create(&pol, "alice", GRANT_KEYFILE, NULL, -1);
	registry_conn(t, 1);
	admit("full", g, t, &rate, "203.0.113.5", REFUSAL_CONNECTION_LIMIT, TUNNEL_FULL);
	admit("full again", g, t, &rate, "203.0.113.5", REFUSAL_CONNECTION_LIMIT,
	    TUNNEL_FULL);
	registry_conn(t, -1);
	admit("room again", g, t, &rate, "203.0.113.5", REFUSAL_NONE, NULL);
	admit("burst used", g, t, &rate, "203.0.113.5", REFUSAL_CONN_RATE, RATE);
	admit("denied", g, t, &rate, "192.0.2.1", REFUSAL_IP_RULE, "denied by deny_cidr");
	ratelimit_free(rate);
	registry_remove(t);
	grant_release(g);
	cidrlist_free(pol.deny);
}
END_TEST

/* conn_rate 0: no table, and no limit however many connections come. */
START_TEST(test_no_conn_rate)
{
	struct policy		 pol = policy(100, 0, 0, 1);
	struct grant		*g = grant_create(&pol, "alice", GRANT_KEYFILE, NULL, -1);
	struct reg_tunnel	*t = tunnel(21000);
	struct ratelimit	*rate = NULL;
	int			 i;

	for (i = 0; i < 1000; i++)
		admit("no rate", g, t, &rate, "203.0.113.5", REFUSAL_NONE, NULL);
	ck_assert_ptr_null(rate);
	registry_remove(t);
	grant_release(g);
}
END_TEST

/* The tunnel suite. */
static Suite *
tunnel_suite(void)
{
	Suite	*s = suite_create("tunnel");
	TCase	*tc = tcase_create("admit");

	tcase_add_test(tc, test_connection_limits);
	tcase_add_test(tc, test_no_tunnel_limit);
	tcase_add_test(tc, test_remote_counts);
	tcase_add_test(tc, test_ip_rules);
	tcase_add_test(tc, test_conn_rate);
	tcase_add_test(tc, test_conn_rate_ipv6);
	tcase_add_test(tc, test_conn_rate_refused);
	tcase_add_test(tc, test_no_conn_rate);
	suite_add_tcase(s, tc);
	return s;
}

/* Run the tunnel tests. */
int
main(void)
{
	return tg_run(tunnel_suite());
}
