/* SPDX-License-Identifier: ISC */
/*
 * tunnelgw: unit tests of grants: every rule a login is judged by (forward address and port,
 * tunnel limits, PROXY protocol and idle timeout, `tcp` options, public client lists,
 * connection limits, port holders, refusal labels), table by table, with the exact messages
 * a client or an operator sees.
 */
#include "config.h"

#include <sys/socket.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <time.h>

#include "auth.h"
#include "metrics.h"
#include "store.h"
#include "xmalloc.h"
#include "tg_test.h"

/* An ed25519 public key made with ssh-keygen; the tests only need a valid one. */
#define ED25519	"AAAAC3NzaC1lZDI1NTE5AAAAILASBAwoiGAAwbb4+n1F2a4BlM3HDJjJtf7wjOfoCKtl"

#define NARGS	6	/* most `tcp` options in one table row */

/* The policies a table row may run under. */
enum pol {
	POL_DEFAULT,	/* requested ports on, range 20000-29999 */
	POL_NOREQ,	/* requested ports off */
	POL_LOW,	/* range 1000-2000, reaching below 1024 */
	POL_NOLIMIT,	/* max_tunnels 0 */
};

/* A policy of kind k, with no CIDR lists. */
static struct policy
policy(enum pol k)
{
	struct policy	 p = tg_policy();

	switch (k) {
	case POL_NOREQ:
		p.allow_requested_ports = 0;
		break;
	case POL_LOW:
		p.port_range = "1000-2000";
		p.port_min = 1000;
		p.port_max = 2000;
		break;
	case POL_NOLIMIT:
		p.max_tunnels = 0;
		break;
	case POL_DEFAULT:
		break;
	}
	return p;
}

/* The key line with options opts ("" or NULL: none), which must parse. */
static struct keyent *
key_line(const char *opts)
{
	struct keyent	*ke = NULL;
	char		*line, *cause = NULL;

	if (opts != NULL && *opts != '\0')
		xasprintf(&line, "%s ssh-ed25519 " ED25519 " test", opts);
	else
		xasprintf(&line, "ssh-ed25519 " ED25519 " test");
	ck_assert_msg(keys_parse_line(line, &ke, &cause) == 0, "'%s': %s", line, cause);
	ck_assert_ptr_nonnull(ke);
	free(line);
	return ke;
}

/*
 * A grant for account "alice" under pol with the key options opts (NULL: no key line) and
 * the account row's limit; the key entry is freed at once, as a reload of the keys file
 * would, so every case also shows the grant keeps its own copy.
 */
static struct grant *
grant_for(const struct policy *pol, const char *opts, int account_max)
{
	struct keyent	*ke;
	struct grant	*g;

	if (opts == NULL)
		return grant_create(pol, "alice", GRANT_KEYFILE, NULL, account_max);
	ke = key_line(opts);
	g = grant_create(pol, "alice", GRANT_KEYFILE, &ke->opts, account_max);
	keyent_free(ke);
	return g;
}

/* Run the `tcp` command with the options args (NULL-terminated) on g; 0 or -1 with *cause. */
static int
run_command(struct grant *g, const char *const *args, char **cause)
{
	char	*argv[NARGS + 2];
	int	 argc = 0, rc, i;

	argv[argc++] = xstrdup("tcp");
	for (i = 0; i < NARGS && args[i] != NULL; i++)
		argv[argc++] = xstrdup(args[i]);
	argv[argc] = NULL;
	rc = grant_command(g, argv, argc, cause);
	for (i = 0; i < argc; i++)
		free(argv[i]);
	return rc;
}

/* Run a `tcp` command that must succeed. */
static void
command_ok(struct grant *g, const char *const *args)
{
	char	*cause = NULL;

	ck_assert_msg(run_command(g, args, &cause) == 0, "tcp %s: %s",
	    args[0] != NULL ? args[0] : "", cause);
	ck_assert_ptr_null(cause);
}

/* A CIDR list that must parse; NULL or "" gives NULL. */
static struct cidrlist *
cidrs(const char *s)
{
	struct cidrlist	*l = NULL;
	char		*cause = NULL;

	if (s == NULL || *s == '\0')
		return NULL;
	ck_assert_msg(cidrlist_parse(s, &l, &cause) == 0, "'%s': %s", s, cause);
	return l;
}


/* Compare a message with the one expected (NULL: none). */
static void
same_message(size_t i, const char *got, const char *want)
{
	if (want == NULL)
		ck_assert_msg(got == NULL, "case %zu: unexpected message '%s'", i, got);
	else {
		ck_assert_msg(got != NULL, "case %zu: no message, want '%s'", i, want);
		ck_assert_msg(strcmp(got, want) == 0, "case %zu: message\n  '%s'\nwant\n  '%s'",
		    i, got, want);
	}
}

#define BAD_ADDR(a)	"'" a "' is not an address of this gateway; use -R PORT:HOST:PORT " \
			"or -R gw.example.com:PORT:HOST:PORT"
#define NO_FWD		"this key may not forward ports (no-port-forwarding or restrict)"
#define PRIVILEGED(p)	"port " #p " is privileged; ask for port 0 to get a free one"
#define NOT_PERMITTED(p) "port " #p " is not permitted for this key (permitlisten)"
#define NOT_RESERVED(p)	"port " #p " is not reserved for you, and this gateway does not " \
			"hand out requested ports; ask for port 0 to get a free one"
#define OUTSIDE(p, r)	"port " #p " is outside the gateway's port range " r
#define RESERVED(p)	"port " #p " is reserved by another account"
#define ROLE_LOW(r)	"opening a TCP tunnel in account 'alice' needs the role manager or " \
			"above; this key has the role " r " (the gateway's operator sets it: " \
			"role= in the keys file)"

/* grant_forward cases: the grant, the request, and what it gets. */
static const struct {
	enum pol	 pol;
	const char	*key;		/* key options; NULL: no key line */
	const char	*address;
	int		 port;
	const char	*owner;		/* the account that reserved port; NULL: none */
	enum refusal	 want;
	enum grant_port	 how;		/* when want is REFUSAL_NONE */
	const char	*why;		/* when it is not */
} forward_cases[] = {
	/* Every way of saying "any", "loopback" or this gateway. */
	{ POL_DEFAULT, NULL, "", 0, NULL, REFUSAL_NONE, GRANT_PORT_RANDOM, NULL },
	{ POL_DEFAULT, NULL, "*", 0, NULL, REFUSAL_NONE, GRANT_PORT_RANDOM, NULL },
	{ POL_DEFAULT, NULL, "0.0.0.0", 0, NULL, REFUSAL_NONE, GRANT_PORT_RANDOM, NULL },
	{ POL_DEFAULT, NULL, "::", 0, NULL, REFUSAL_NONE, GRANT_PORT_RANDOM, NULL },
	{ POL_DEFAULT, NULL, "localhost", 0, NULL, REFUSAL_NONE, GRANT_PORT_RANDOM, NULL },
	{ POL_DEFAULT, NULL, "LOCALHOST", 0, NULL, REFUSAL_NONE, GRANT_PORT_RANDOM, NULL },
	{ POL_DEFAULT, NULL, "LocalHost", 0, NULL, REFUSAL_NONE, GRANT_PORT_RANDOM, NULL },
	{ POL_DEFAULT, NULL, "127.0.0.1", 0, NULL, REFUSAL_NONE, GRANT_PORT_RANDOM, NULL },
	{ POL_DEFAULT, NULL, "::1", 0, NULL, REFUSAL_NONE, GRANT_PORT_RANDOM, NULL },
	{ POL_DEFAULT, NULL, "gw.example.com", 0, NULL, REFUSAL_NONE, GRANT_PORT_RANDOM, NULL },
	{ POL_DEFAULT, NULL, "GW.Example.COM", 0, NULL, REFUSAL_NONE, GRANT_PORT_RANDOM, NULL },
	{ POL_DEFAULT, NULL, "192.0.2.10", 0, NULL, REFUSAL_NONE, GRANT_PORT_RANDOM, NULL },
	{ POL_DEFAULT, NULL, "localhost", 21000, NULL, REFUSAL_NONE, GRANT_PORT_REQUESTED,
	    NULL },
	/* Anything else is not an address of this gateway, whatever the port. */
	{ POL_DEFAULT, NULL, "192.0.2.11", 0, NULL, REFUSAL_BAD_ADDRESS, 0,
	    BAD_ADDR("192.0.2.11") },
	{ POL_DEFAULT, NULL, "192.0.2.010", 0, NULL, REFUSAL_BAD_ADDRESS, 0,
	    BAD_ADDR("192.0.2.010") },
	{ POL_DEFAULT, NULL, "10.0.0.1", 21000, NULL, REFUSAL_BAD_ADDRESS, 0,
	    BAD_ADDR("10.0.0.1") },
	{ POL_DEFAULT, NULL, "127.0.0.2", 0, NULL, REFUSAL_BAD_ADDRESS, 0,
	    BAD_ADDR("127.0.0.2") },
	{ POL_DEFAULT, NULL, "::2", 0, NULL, REFUSAL_BAD_ADDRESS, 0, BAD_ADDR("::2") },
	{ POL_DEFAULT, NULL, "[::]", 0, NULL, REFUSAL_BAD_ADDRESS, 0, BAD_ADDR("[::]") },
	{ POL_DEFAULT, NULL, "localhost.", 0, NULL, REFUSAL_BAD_ADDRESS, 0,
	    BAD_ADDR("localhost.") },
	{ POL_DEFAULT, NULL, " localhost", 0, NULL, REFUSAL_BAD_ADDRESS, 0,
	    BAD_ADDR(" localhost") },
	{ POL_DEFAULT, NULL, "example.com", 0, NULL, REFUSAL_BAD_ADDRESS, 0,
	    BAD_ADDR("example.com") },
	{ POL_DEFAULT, NULL, "gw.example.com.evil", 0, NULL, REFUSAL_BAD_ADDRESS, 0,
	    BAD_ADDR("gw.example.com.evil") },
	{ POL_DEFAULT, NULL, "bad\naddress\x7f", 0, NULL, REFUSAL_BAD_ADDRESS, 0,
	    BAD_ADDR("bad?address?") },
	{ POL_DEFAULT, NULL,
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaXYZ", 0, NULL,
	    REFUSAL_BAD_ADDRESS, 0,
	    BAD_ADDR("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa...") },
	/* The address is judged before the key's no-port-forwarding. */
	{ POL_DEFAULT, "no-port-forwarding", "10.0.0.1", 0, NULL, REFUSAL_BAD_ADDRESS, 0,
	    BAD_ADDR("10.0.0.1") },
	/* A key that may not forward: refused before any port rule. */
	{ POL_DEFAULT, "no-port-forwarding", "", 0, NULL, REFUSAL_FORWARDING_DISABLED, 0,
	    NO_FWD },
	{ POL_DEFAULT, "restrict", "localhost", 0, NULL, REFUSAL_FORWARDING_DISABLED, 0,
	    NO_FWD },
	{ POL_DEFAULT, "no-port-forwarding", "", 80, NULL, REFUSAL_FORWARDING_DISABLED, 0,
	    NO_FWD },
	{ POL_DEFAULT, "no-port-forwarding", "", 21000, "alice",
	    REFUSAL_FORWARDING_DISABLED, 0, NO_FWD },
	{ POL_DEFAULT, "no-port-forwarding", "", 21000, "bob", REFUSAL_FORWARDING_DISABLED,
	    0, NO_FWD },
	{ POL_DEFAULT, "restrict,port-forwarding", "", 0, NULL, REFUSAL_NONE,
	    GRANT_PORT_RANDOM, NULL },
	/* Port 0: a free port of the range, whatever the port rules. */
	{ POL_NOREQ, NULL, "", 0, NULL, REFUSAL_NONE, GRANT_PORT_RANDOM, NULL },
	{ POL_DEFAULT, "permitlisten=\"21000\"", "", 0, NULL, REFUSAL_NONE,
	    GRANT_PORT_RANDOM, NULL },
	/* The account's own reservation, even privileged, outside the range, requests off. */
	{ POL_DEFAULT, NULL, "", 21000, "alice", REFUSAL_NONE, GRANT_PORT_RESERVED, NULL },
	{ POL_DEFAULT, NULL, "", 22, "alice", REFUSAL_NONE, GRANT_PORT_RESERVED, NULL },
	{ POL_DEFAULT, NULL, "", 40000, "alice", REFUSAL_NONE, GRANT_PORT_RESERVED, NULL },
	{ POL_NOREQ, NULL, "gw.example.com", 21000, "alice", REFUSAL_NONE,
	    GRANT_PORT_RESERVED, NULL },
	/* Another account's reservation, whatever the other rules would say. */
	{ POL_DEFAULT, NULL, "", 21000, "bob", REFUSAL_PORT_RESERVED, 0, RESERVED(21000) },
	{ POL_DEFAULT, NULL, "", 80, "bob", REFUSAL_PORT_RESERVED, 0, RESERVED(80) },
	{ POL_NOREQ, NULL, "", 21000, "bob", REFUSAL_PORT_RESERVED, 0, RESERVED(21000) },
	{ POL_DEFAULT, NULL, "", 21000, "Alice", REFUSAL_PORT_RESERVED, 0, RESERVED(21000) },
	{ POL_DEFAULT, NULL, "", 21000, "alice2", REFUSAL_PORT_RESERVED, 0, RESERVED(21000) },
	/* Privileged ports, before every other port rule. */
	{ POL_DEFAULT, NULL, "", 1, NULL, REFUSAL_PORT_NOT_ALLOWED, 0, PRIVILEGED(1) },
	{ POL_DEFAULT, NULL, "", 80, NULL, REFUSAL_PORT_NOT_ALLOWED, 0, PRIVILEGED(80) },
	{ POL_LOW, NULL, "", 1023, NULL, REFUSAL_PORT_NOT_ALLOWED, 0, PRIVILEGED(1023) },
	{ POL_LOW, NULL, "", 1000, NULL, REFUSAL_PORT_NOT_ALLOWED, 0, PRIVILEGED(1000) },
	{ POL_LOW, NULL, "", 1024, NULL, REFUSAL_NONE, GRANT_PORT_REQUESTED, NULL },
	{ POL_NOREQ, NULL, "", 443, NULL, REFUSAL_PORT_NOT_ALLOWED, 0, PRIVILEGED(443) },
	{ POL_DEFAULT, "permitlisten=\"443\"", "", 443, NULL, REFUSAL_PORT_NOT_ALLOWED, 0,
	    PRIVILEGED(443) },
	/* permitlisten: the listed ports, "*" (0) for any; the host part is ignored. */
	{ POL_DEFAULT, "permitlisten=\"21000\"", "", 21000, NULL, REFUSAL_NONE,
	    GRANT_PORT_REQUESTED, NULL },
	{ POL_DEFAULT, "permitlisten=\"21000\"", "", 21001, NULL, REFUSAL_PORT_NOT_ALLOWED,
	    0, NOT_PERMITTED(21001) },
	{ POL_DEFAULT, "permitlisten=\"21000\",permitlisten=\"22000\"", "", 22000, NULL,
	    REFUSAL_NONE, GRANT_PORT_REQUESTED, NULL },
	{ POL_DEFAULT, "permitlisten=\"21000\",permitlisten=\"22000\"", "", 23000, NULL,
	    REFUSAL_PORT_NOT_ALLOWED, 0, NOT_PERMITTED(23000) },
	{ POL_DEFAULT, "permitlisten=\"*\"", "", 25000, NULL, REFUSAL_NONE,
	    GRANT_PORT_REQUESTED, NULL },
	{ POL_DEFAULT, "permitlisten=\"21000\",permitlisten=\"*\"", "", 25000, NULL,
	    REFUSAL_NONE, GRANT_PORT_REQUESTED, NULL },
	{ POL_DEFAULT, "permitlisten=\"localhost:21000\"", "", 21000, NULL, REFUSAL_NONE,
	    GRANT_PORT_REQUESTED, NULL },
	{ POL_DEFAULT, "permitlisten=\"[::1]:21000\"", "", 21001, NULL,
	    REFUSAL_PORT_NOT_ALLOWED, 0, NOT_PERMITTED(21001) },
	/* permitlisten comes before requested ports being off and before the range. */
	{ POL_NOREQ, "permitlisten=\"22000\"", "", 21000, NULL, REFUSAL_PORT_NOT_ALLOWED, 0,
	    NOT_PERMITTED(21000) },
	{ POL_DEFAULT, "permitlisten=\"22000\"", "", 40000, NULL, REFUSAL_PORT_NOT_ALLOWED,
	    0, NOT_PERMITTED(40000) },
	{ POL_DEFAULT, "permitlisten=\"40000\"", "", 40000, NULL, REFUSAL_PORT_NOT_ALLOWED,
	    0, OUTSIDE(40000, "20000-29999") },
	/* Requested ports off: only port 0 and reservations. */
	{ POL_NOREQ, NULL, "", 21000, NULL, REFUSAL_PORT_NOT_ALLOWED, 0, NOT_RESERVED(21000) },
	{ POL_NOREQ, NULL, "", 40000, NULL, REFUSAL_PORT_NOT_ALLOWED, 0, NOT_RESERVED(40000) },
	{ POL_NOREQ, "permitlisten=\"21000\"", "", 21000, NULL, REFUSAL_PORT_NOT_ALLOWED, 0,
	    NOT_RESERVED(21000) },
	/* The range, both ends. */
	{ POL_DEFAULT, NULL, "", 19999, NULL, REFUSAL_PORT_NOT_ALLOWED, 0,
	    OUTSIDE(19999, "20000-29999") },
	{ POL_DEFAULT, NULL, "", 20000, NULL, REFUSAL_NONE, GRANT_PORT_REQUESTED, NULL },
	{ POL_DEFAULT, NULL, "", 29999, NULL, REFUSAL_NONE, GRANT_PORT_REQUESTED, NULL },
	{ POL_DEFAULT, NULL, "", 30000, NULL, REFUSAL_PORT_NOT_ALLOWED, 0,
	    OUTSIDE(30000, "20000-29999") },
	{ POL_DEFAULT, NULL, "", 65535, NULL, REFUSAL_PORT_NOT_ALLOWED, 0,
	    OUTSIDE(65535, "20000-29999") },
	{ POL_LOW, NULL, "", 2001, NULL, REFUSAL_PORT_NOT_ALLOWED, 0,
	    OUTSIDE(2001, "1000-2000") },
	{ POL_LOW, NULL, "", 2000, NULL, REFUSAL_NONE, GRANT_PORT_REQUESTED, NULL },
	{ POL_DEFAULT, NULL, "192.0.2.10", 25000, NULL, REFUSAL_NONE, GRANT_PORT_REQUESTED,
	    NULL },
	/* Roles: a TCP tunnel needs manager or above; a line without role= is a manager. */
	{ POL_DEFAULT, "role=viewer", "", 0, NULL, REFUSAL_ROLE, 0, ROLE_LOW("viewer") },
	{ POL_DEFAULT, "role=developer", "", 0, NULL, REFUSAL_ROLE, 0, ROLE_LOW("developer") },
	{ POL_DEFAULT, "role=developer", "", 21000, "alice", REFUSAL_ROLE, 0,
	    ROLE_LOW("developer") },
	{ POL_DEFAULT, "role=manager", "", 0, NULL, REFUSAL_NONE, GRANT_PORT_RANDOM, NULL },
	{ POL_DEFAULT, "role=owner", "", 0, NULL, REFUSAL_NONE, GRANT_PORT_RANDOM, NULL },
	{ POL_DEFAULT, "role=\"owner\",max-tunnels=2", "", 21000, NULL, REFUSAL_NONE,
	    GRANT_PORT_REQUESTED, NULL },
	/* The address is judged first, the role before any port rule. */
	{ POL_DEFAULT, "role=viewer", "10.0.0.1", 0, NULL, REFUSAL_BAD_ADDRESS, 0,
	    BAD_ADDR("10.0.0.1") },
	{ POL_DEFAULT, "role=viewer", "", 80, NULL, REFUSAL_ROLE, 0, ROLE_LOW("viewer") },
};

/* grant_forward: the address, the key, the reservation, then the port rules in order. */
START_TEST(test_forward)
{
	size_t		 i;

	for (i = 0; i < sizeof forward_cases / sizeof forward_cases[0]; i++) {
		struct policy	 pol = policy(forward_cases[i].pol);
		struct grant	*g = grant_for(&pol, forward_cases[i].key, -1);
		enum grant_port	 how = (enum grant_port)-1;
		enum refusal	 r;
		char		*why = NULL;

		r = grant_forward(g, GRANT_TCP, forward_cases[i].address, forward_cases[i].port,
		    forward_cases[i].owner, &how, &why);
		ck_assert_msg(r == forward_cases[i].want, "case %zu (port %d): %s, want %s", i,
		    forward_cases[i].port, refusal_label(r),
		    refusal_label(forward_cases[i].want));
		same_message(i, why, forward_cases[i].why);
		if (r == REFUSAL_NONE)
			ck_assert_msg(how == forward_cases[i].how, "case %zu: how %d, want %d", i,
			    (int)how, (int)forward_cases[i].how);
		free(why);
		grant_release(g);
	}
}
END_TEST

/* grant_max_tunnels cases: key line, account row, policy. */
static const struct {
	enum pol	 pol;
	const char	*key;
	int		 account_max;
	int		 want;
} max_tunnels_cases[] = {
	{ POL_DEFAULT, NULL, -1, 32 },
	{ POL_NOLIMIT, NULL, -1, -1 },
	{ POL_DEFAULT, "", -1, 32 },
	{ POL_DEFAULT, "proxy-proto=1", -1, 32 },
	{ POL_NOLIMIT, "no-port-forwarding", -1, -1 },
	{ POL_DEFAULT, NULL, 5, 5 },
	{ POL_DEFAULT, NULL, 0, 0 },
	{ POL_NOLIMIT, NULL, 5, 5 },
	{ POL_DEFAULT, "proxy-proto=1", 7, 7 },
	{ POL_DEFAULT, "max-tunnels=2", 5, 2 },
	{ POL_DEFAULT, "max-tunnels=2", -1, 2 },
	{ POL_NOLIMIT, "max-tunnels=2", -1, 2 },
	{ POL_DEFAULT, "max-tunnels=0", 5, 0 },
	{ POL_DEFAULT, "max-tunnels=50", 5, 50 },
	{ POL_DEFAULT, "max-tunnels=100000", -1, 100000 },
};

/* grant_max_tunnels: the key line's max-tunnels, else the account's, else the policy's. */
START_TEST(test_max_tunnels)
{
	size_t		 i;

	for (i = 0; i < sizeof max_tunnels_cases / sizeof max_tunnels_cases[0]; i++) {
		struct policy	 pol = policy(max_tunnels_cases[i].pol);
		struct grant	*g = grant_for(&pol, max_tunnels_cases[i].key,
				    max_tunnels_cases[i].account_max);

		ck_assert_msg(grant_max_tunnels(g) == max_tunnels_cases[i].want,
		    "case %zu: %d, want %d", i, grant_max_tunnels(g),
		    max_tunnels_cases[i].want);
		grant_release(g);
	}
}
END_TEST

/* grant_tunnel_limit cases: the limit and what the client is told. */
static const struct {
	const char	*key;
	int		 account_max;
	int		 elsewhere;	/* on other gateways */
	const char	*why;
} tunnel_limit_cases[] = {
#define BY_ACCOUNT " (the account's max-tunnels; the gateway's operator can raise it: " \
	"tunnelgwctl account set)"
#define BY_KEY " (the key's max-tunnels in the keys file; the gateway's operator can raise it)"
#define BY_GATEWAY " (the gateway's max_tunnels; its operator can raise it in tunnelgw.conf)"
	{ NULL, 1, 0, "account 'alice' already has 1 tunnel open, its limit" BY_ACCOUNT },
	{ NULL, 2, 0, "account 'alice' already has 2 tunnels open, its limit" BY_ACCOUNT },
	{ NULL, 0, 0, "account 'alice' already has 0 tunnels open, its limit" BY_ACCOUNT },
	{ NULL, -1, 0, "account 'alice' already has 32 tunnels open, its limit" BY_GATEWAY },
	{ "max-tunnels=1", 5, 0, "account 'alice' already has 1 tunnel open, its limit" BY_KEY },
	{ "max-tunnels=3", -1, 0, "account 'alice' already has 3 tunnels open, its limit" BY_KEY },
	{ NULL, 2, 1, "account 'alice' already has 2 tunnels open (1 on other gateways), its limit"
	    BY_ACCOUNT },
};

/* grant_tunnel_limit: the message names the account and its limit, singular or plural. */
START_TEST(test_tunnel_limit)
{
	struct policy	 pol = policy(POL_DEFAULT);
	size_t		 i;

	for (i = 0; i < sizeof tunnel_limit_cases / sizeof tunnel_limit_cases[0]; i++) {
		struct grant	*g = grant_for(&pol, tunnel_limit_cases[i].key,
				    tunnel_limit_cases[i].account_max);
		char		*why = NULL;

		ck_assert_int_eq(grant_tunnel_limit(g, tunnel_limit_cases[i].elsewhere, &why),
		    REFUSAL_TUNNEL_LIMIT);
		same_message(i, why, tunnel_limit_cases[i].why);
		free(why);
		grant_release(g);
	}
}
END_TEST

/* grant_proxy_proto and grant_idle_timeout cases: command, key, policy. */
static const struct {
	const char	*cmd[NARGS + 1];
	const char	*key;
	int		 pol_proxy;
	int		 pol_idle;
	int		 proxy;
	int		 idle;
} settings_cases[] = {
	{ { NULL }, NULL, 0, 300, 0, 300 },
	{ { NULL }, NULL, 2, 0, 2, 0 },
	{ { NULL }, "max-tunnels=3", 1, 300, 1, 300 },
	{ { NULL }, "proxy-proto=1", 2, 300, 1, 300 },
	{ { NULL }, "proxy-proto=0", 2, 300, 0, 300 },
	{ { NULL }, "proxy-proto=2", 0, 300, 2, 300 },
	{ { "--proxy-proto=2", NULL }, "proxy-proto=1", 0, 300, 2, 300 },
	{ { "--proxy-proto=0", NULL }, "proxy-proto=1", 2, 300, 0, 300 },
	{ { "--proxy-proto=1", NULL }, NULL, 2, 300, 1, 300 },
	{ { "--upstream-proxy-protocol=1", NULL }, NULL, 0, 300, 1, 300 },
	{ { "--upstream-proxy-protocol=0", NULL }, "proxy-proto=2", 2, 300, 0, 300 },
	{ { "--idle-timeout=60", NULL }, "proxy-proto=2", 0, 300, 2, 60 },
	{ { "--idle-timeout=0", NULL }, NULL, 0, 300, 0, 0 },
	{ { "--idle-timeout=604800", NULL }, NULL, 0, 0, 0, 604800 },
	{ { "--allow-cidr=10.0.0.0/8", NULL }, "proxy-proto=1", 0, 45, 1, 45 },
	{ { "--proxy-proto=1", "--idle-timeout=5", NULL }, "proxy-proto=2", 0, 300, 1, 5 },
};

/* grant_proxy_proto: the command, the key, the policy; grant_idle_timeout: command, policy. */
START_TEST(test_settings)
{
	size_t		 i;

	for (i = 0; i < sizeof settings_cases / sizeof settings_cases[0]; i++) {
		struct policy	 pol = policy(POL_DEFAULT);
		struct grant	*g;

		pol.proxy_protocol = settings_cases[i].pol_proxy;
		pol.idle_timeout = settings_cases[i].pol_idle;
		g = grant_for(&pol, settings_cases[i].key, -1);
		command_ok(g, settings_cases[i].cmd);
		ck_assert_msg(grant_proxy_proto(g) == settings_cases[i].proxy,
		    "case %zu: proxy %d, want %d", i, grant_proxy_proto(g),
		    settings_cases[i].proxy);
		ck_assert_msg(grant_idle_timeout(g) == settings_cases[i].idle,
		    "case %zu: idle %d, want %d", i, grant_idle_timeout(g),
		    settings_cases[i].idle);
		grant_release(g);
	}
}
END_TEST

/*
 * grant_command cases: a first command (must succeed), then the command under test, and
 * the command options after both. A bad CIDR's message is cidr.c's, after the option name.
 */
static const struct {
	const char	*before[NARGS + 1];
	const char	*args[NARGS + 1];
	const char	*cause;		/* NULL: must succeed */
	const char	*cidr_option;	/* the cause is "OPTION: " and cidr.c's message */
	const char	*cidr_value;
	int		 proxy;
	int		 idle;
	const char	*allow;		/* formatted; "": not set */
	const char	*deny;
} command_cases[] = {
	/* Each option and its bounds. */
	{ { NULL }, { NULL }, NULL, NULL, NULL, -1, -1, "", "" },
	{ { NULL }, { "--proxy-proto=0", NULL }, NULL, NULL, NULL, 0, -1, "", "" },
	{ { NULL }, { "--proxy-proto=1", NULL }, NULL, NULL, NULL, 1, -1, "", "" },
	{ { NULL }, { "--proxy-proto=2", NULL }, NULL, NULL, NULL, 2, -1, "", "" },
	{ { NULL }, { "--proxy-proto=3", NULL },
	    "tcp: --proxy-proto must be 0, 1 or 2, not '3'", NULL, NULL, -1, -1, "", "" },
	{ { NULL }, { "--proxy-proto=", NULL },
	    "tcp: --proxy-proto must be 0, 1 or 2, not ''", NULL, NULL, -1, -1, "", "" },
	{ { NULL }, { "--proxy-proto=-1", NULL },
	    "tcp: --proxy-proto must be 0, 1 or 2, not '-1'", NULL, NULL, -1, -1, "", "" },
	{ { NULL }, { "--proxy-proto=+1", NULL },
	    "tcp: --proxy-proto must be 0, 1 or 2, not '+1'", NULL, NULL, -1, -1, "", "" },
	{ { NULL }, { "--proxy-proto= 1", NULL },
	    "tcp: --proxy-proto must be 0, 1 or 2, not ' 1'", NULL, NULL, -1, -1, "", "" },
	{ { NULL }, { "--proxy-proto=1x", NULL },
	    "tcp: --proxy-proto must be 0, 1 or 2, not '1x'", NULL, NULL, -1, -1, "", "" },
	{ { NULL }, { "--proxy-proto=v2", NULL },
	    "tcp: --proxy-proto must be 0, 1 or 2, not 'v2'", NULL, NULL, -1, -1, "", "" },
	{ { NULL }, { "--upstream-proxy-protocol=2", NULL }, NULL, NULL, NULL, 2, -1, "", "" },
	{ { NULL }, { "--upstream-proxy-protocol=9", NULL },
	    "tcp: --upstream-proxy-protocol must be 0, 1 or 2, not '9'", NULL, NULL, -1, -1,
	    "", "" },
	{ { NULL }, { "--idle-timeout=0", NULL }, NULL, NULL, NULL, -1, 0, "", "" },
	{ { NULL }, { "--idle-timeout=007", NULL }, NULL, NULL, NULL, -1, 7, "", "" },
	{ { NULL }, { "--idle-timeout=604800", NULL }, NULL, NULL, NULL, -1, 604800, "", "" },
	{ { NULL }, { "--idle-timeout=604801", NULL },
	    "tcp: --idle-timeout must be seconds from 0 to 604800, not '604801'", NULL, NULL,
	    -1, -1, "", "" },
	{ { NULL }, { "--idle-timeout=99999999999999999999", NULL },
	    "tcp: --idle-timeout must be seconds from 0 to 604800, not '99999999999999999999'",
	    NULL, NULL, -1, -1, "", "" },
	{ { NULL }, { "--idle-timeout=1h", NULL },
	    "tcp: --idle-timeout must be seconds from 0 to 604800, not '1h'", NULL, NULL, -1,
	    -1, "", "" },
	{ { NULL }, { "--idle-timeout=-5", NULL },
	    "tcp: --idle-timeout must be seconds from 0 to 604800, not '-5'", NULL, NULL, -1,
	    -1, "", "" },
	{ { NULL }, { "--allow-cidr=10.0.0.0/8", NULL }, NULL, NULL, NULL, -1, -1,
	    "10.0.0.0/8", "" },
	{ { NULL }, { "--deny-cidr=10.1.0.0/16, ::1", NULL }, NULL, NULL, NULL, -1, -1, "",
	    "10.1.0.0/16,::1/128" },
	{ { NULL }, { "--allow-cidr=10.0.0.300", NULL }, NULL, "--allow-cidr", "10.0.0.300",
	    -1, -1, "", "" },
	{ { NULL }, { "--deny-cidr=10.0.0.1/8", NULL }, NULL, "--deny-cidr", "10.0.0.1/8", -1,
	    -1, "", "" },
	{ { NULL }, { "--allow-cidr=", NULL }, NULL, "--allow-cidr", "", -1, -1, "", "" },
	/* Unknown options, quoted printably. */
	{ { NULL }, { "--bogus=1", NULL }, "tcp: unknown option '--bogus' (try 'help')", NULL,
	    NULL, -1, -1, "", "" },
	{ { NULL }, { "--proxy-proto", NULL },
	    "tcp: unknown option '--proxy-proto' (try 'help')", NULL, NULL, -1, -1, "", "" },
	{ { NULL }, { "proxy-proto=1", NULL },
	    "tcp: unknown option 'proxy-proto=1' (try 'help')", NULL, NULL, -1, -1, "", "" },
	{ { NULL }, { "-p=1", NULL }, "tcp: unknown option '-p=1' (try 'help')", NULL, NULL,
	    -1, -1, "", "" },
	{ { NULL }, { "--Proxy-Proto=1", NULL },
	    "tcp: unknown option '--Proxy-Proto' (try 'help')", NULL, NULL, -1, -1, "", "" },
	{ { NULL }, { "--a\tb\x1b=1", NULL }, "tcp: unknown option '--a?b?' (try 'help')",
	    NULL, NULL, -1, -1, "", "" },
	{ { NULL }, { "", NULL }, "tcp: unknown option '' (try 'help')", NULL, NULL, -1, -1,
	    "", "" },
	/* Within one command, the last of an option wins; CIDR lists are replaced. */
	{ { NULL }, { "--proxy-proto=1", "--proxy-proto=2", NULL }, NULL, NULL, NULL, 2, -1,
	    "", "" },
	{ { NULL }, { "--allow-cidr=10.0.0.0/8", "--allow-cidr=192.168.0.0/16", NULL }, NULL,
	    NULL, NULL, -1, -1, "192.168.0.0/16", "" },
	/* All or nothing: a bad option leaves none of the others merged. */
	{ { "--proxy-proto=1", "--allow-cidr=10.0.0.0/8", NULL },
	    { "--proxy-proto=2", "--idle-timeout=60", "--deny-cidr=192.0.2.0/24", "--bogus=1",
	    NULL }, "tcp: unknown option '--bogus' (try 'help')", NULL, NULL, 1, -1,
	    "10.0.0.0/8", "" },
	{ { NULL }, { "--allow-cidr=10.0.0.0/8", "--idle-timeout=5", "--deny-cidr=nope",
	    NULL }, NULL, "--deny-cidr", "nope", -1, -1, "", "" },
	{ { "--idle-timeout=30", NULL }, { "--idle-timeout=60", "--proxy-proto=7", NULL },
	    "tcp: --proxy-proto must be 0, 1 or 2, not '7'", NULL, NULL, -1, 30, "", "" },
	/* Later commands override what they set and keep the rest. */
	{ { "--proxy-proto=1", "--idle-timeout=30", "--allow-cidr=10.0.0.0/8",
	    "--deny-cidr=10.9.0.0/16", NULL },
	    { "--proxy-proto=2", "--allow-cidr=192.168.0.0/16", NULL }, NULL, NULL, NULL, 2, 30,
	    "192.168.0.0/16", "10.9.0.0/16" },
	{ { "--proxy-proto=2", "--idle-timeout=30", NULL },
	    { "--proxy-proto=0", "--idle-timeout=0", NULL }, NULL, NULL, NULL, 0, 0, "", "" },
	{ { "--deny-cidr=10.9.0.0/16", NULL }, { "--deny-cidr=2001:db8::/32", NULL }, NULL,
	    NULL, NULL, -1, -1, "", "2001:db8::/32" },
	{ { "--upstream-proxy-protocol=2", NULL }, { "--proxy-proto=1", NULL }, NULL, NULL,
	    NULL, 1, -1, "", "" },
};

/* The message grant_command gives for the bad CIDR list value of option. */
static char *
cidr_cause(const char *option, const char *value)
{
	struct cidrlist	*l = NULL;
	char		*why = NULL, *cause;

	ck_assert_int_eq(cidrlist_parse(value, &l, &why), -1);
	ck_assert_ptr_nonnull(why);
	xasprintf(&cause, "%s: %s", option, why);
	free(why);
	return cause;
}

/* Check one list of a grant's command options against its formatted form. */
static void
same_cidrs(size_t i, const struct cidrlist *l, const char *want)
{
	char	*got = cidrlist_format(l);

	ck_assert_msg(strcmp(got, want) == 0, "case %zu: list '%s', want '%s'", i, got, want);
	free(got);
}

/* grant_command: every option's bounds and messages; all or nothing; later ones override. */
START_TEST(test_command)
{
	size_t		 i;

	for (i = 0; i < sizeof command_cases / sizeof command_cases[0]; i++) {
		struct policy	 pol = policy(POL_DEFAULT);
		struct grant	*g = grant_for(&pol, NULL, -1);
		char		*cause = NULL, *want = NULL;
		int		 rc;

		command_ok(g, command_cases[i].before);
		rc = run_command(g, command_cases[i].args, &cause);
		if (command_cases[i].cidr_option != NULL)
			want = cidr_cause(command_cases[i].cidr_option,
			    command_cases[i].cidr_value);
		else if (command_cases[i].cause != NULL)
			want = xstrdup(command_cases[i].cause);
		ck_assert_msg(rc == (want != NULL ? -1 : 0), "case %zu: rc %d", i, rc);
		same_message(i, cause, want);
		ck_assert_msg(g->cmd.proxy_proto == command_cases[i].proxy,
		    "case %zu: proxy %d, want %d", i, g->cmd.proxy_proto, command_cases[i].proxy);
		ck_assert_msg(g->cmd.idle_timeout == command_cases[i].idle,
		    "case %zu: idle %d, want %d", i, g->cmd.idle_timeout, command_cases[i].idle);
		same_cidrs(i, g->cmd.allow, command_cases[i].allow);
		same_cidrs(i, g->cmd.deny, command_cases[i].deny);
		free(want);
		free(cause);
		grant_release(g);
	}
}
END_TEST

/* grant_command reads argv[1..argc-1] only: argv[0] is the command's name. */
START_TEST(test_command_argv0)
{
	struct policy	 pol = policy(POL_DEFAULT);
	struct grant	*g = grant_for(&pol, NULL, -1);
	char		*argv[] = { xstrdup("--bogus=1"), xstrdup("--proxy-proto=2"), NULL };
	char		*cause = NULL;

	ck_assert_int_eq(grant_command(g, argv, 2, &cause), 0);
	ck_assert_ptr_null(cause);
	ck_assert_int_eq(grant_proxy_proto(g), 2);
	ck_assert_int_eq(grant_command(g, argv, 1, &cause), 0);
	ck_assert_int_eq(grant_proxy_proto(g), 2);
	free(argv[0]);
	free(argv[1]);
	grant_release(g);
}
END_TEST

/* grant_client cases: the lists of policy, key and command, and a public client. */
static const struct {
	const char	*pol_allow;
	const char	*pol_deny;
	const char	*key;
	const char	*cmd[NARGS + 1];
	const char	*address;
	const char	*why;		/* NULL: REFUSAL_NONE */
} client_cases[] = {
	/* Nothing set: everyone. */
	{ NULL, NULL, NULL, { NULL }, "203.0.113.5", NULL },
	{ NULL, NULL, NULL, { NULL }, "2001:db8::1", NULL },
	{ NULL, NULL, NULL, { NULL }, "::ffff:203.0.113.5", NULL },
	{ NULL, NULL, "max-tunnels=1", { "--proxy-proto=1", NULL }, "10.0.0.1", NULL },
	/* Each deny list. */
	{ NULL, "203.0.113.0/24", NULL, { NULL }, "203.0.113.5", "denied by deny_cidr" },
	{ NULL, "203.0.113.0/24", NULL, { NULL }, "198.51.100.1", NULL },
	{ NULL, NULL, "deny-cidr=\"203.0.113.0/24\"", { NULL }, "203.0.113.5",
	    "denied by the key's deny-cidr" },
	{ NULL, NULL, "deny-cidr=\"203.0.113.0/24\"", { NULL }, "203.0.114.5", NULL },
	{ NULL, NULL, NULL, { "--deny-cidr=203.0.113.0/24", NULL }, "203.0.113.5",
	    "denied by --deny-cidr" },
	{ NULL, NULL, NULL, { "--deny-cidr=203.0.113.0/24", NULL }, "203.0.112.255", NULL },
	/* Each allow list. */
	{ "10.0.0.0/8", NULL, NULL, { NULL }, "10.1.2.3", NULL },
	{ "10.0.0.0/8", NULL, NULL, { NULL }, "11.0.0.1", "not in allow_cidr" },
	{ NULL, NULL, "allow-cidr=\"10.0.0.0/8\"", { NULL }, "10.1.2.3", NULL },
	{ NULL, NULL, "allow-cidr=\"10.0.0.0/8\"", { NULL }, "11.0.0.1",
	    "not in the key's allow-cidr" },
	{ NULL, NULL, NULL, { "--allow-cidr=10.0.0.0/8", NULL }, "10.1.2.3", NULL },
	{ NULL, NULL, NULL, { "--allow-cidr=10.0.0.0/8", NULL }, "11.0.0.1",
	    "not in --allow-cidr" },
	/* Every deny list wins over every allow list. */
	{ "10.0.0.0/8", "10.1.0.0/16", NULL, { NULL }, "10.1.2.3", "denied by deny_cidr" },
	{ "10.0.0.0/8", NULL, "deny-cidr=\"10.1.0.0/16\"", { NULL }, "10.1.2.3",
	    "denied by the key's deny-cidr" },
	{ "10.0.0.0/8", NULL, "allow-cidr=\"10.0.0.0/8\"", { "--allow-cidr=10.0.0.0/8",
	    "--deny-cidr=10.1.2.3", NULL }, "10.1.2.3", "denied by --deny-cidr" },
	{ NULL, "10.1.0.0/16", "allow-cidr=\"10.1.0.0/16\"", { "--allow-cidr=10.1.0.0/16",
	    NULL }, "10.1.2.3", "denied by deny_cidr" },
	{ NULL, NULL, "allow-cidr=\"192.168.0.0/16\"", { "--deny-cidr=10.1.0.0/16", NULL },
	    "10.1.2.3", "denied by --deny-cidr" },
	{ "192.168.0.0/16", NULL, "deny-cidr=\"10.1.0.0/16\"", { NULL }, "10.1.2.3",
	    "denied by the key's deny-cidr" },
	/* Deny lists in order: the configuration's, the key's, the command's. */
	{ NULL, "10.0.0.0/8", "deny-cidr=\"10.0.0.0/8\"", { "--deny-cidr=10.0.0.0/8", NULL },
	    "10.1.2.3", "denied by deny_cidr" },
	{ NULL, NULL, "deny-cidr=\"10.0.0.0/8\"", { "--deny-cidr=10.0.0.0/8", NULL },
	    "10.1.2.3", "denied by the key's deny-cidr" },
	/* Every allow list that is set must match. */
	{ "10.0.0.0/8", NULL, "allow-cidr=\"10.1.0.0/16\"", { "--allow-cidr=10.1.2.0/24",
	    NULL }, "10.1.2.3", NULL },
	{ "10.0.0.0/8", NULL, "allow-cidr=\"10.1.0.0/16\"", { "--allow-cidr=10.1.2.0/24",
	    NULL }, "10.1.3.3", "not in --allow-cidr" },
	{ "10.0.0.0/8", NULL, "allow-cidr=\"10.1.0.0/16\"", { "--allow-cidr=10.1.2.0/24",
	    NULL }, "10.2.0.1", "not in the key's allow-cidr" },
	{ "10.0.0.0/8", NULL, "allow-cidr=\"10.1.0.0/16\"", { "--allow-cidr=10.1.2.0/24",
	    NULL }, "11.0.0.1", "not in allow_cidr" },
	/* IPv6. */
	{ "2001:db8::/32", NULL, NULL, { NULL }, "2001:db8::1", NULL },
	{ "2001:db8::/32", NULL, NULL, { NULL }, "2001:db9::1", "not in allow_cidr" },
	{ "2001:db8::/32", NULL, NULL, { NULL }, "10.0.0.1", "not in allow_cidr" },
	{ NULL, "2001:db8:bad::/48", NULL, { NULL }, "2001:db8:bad::7",
	    "denied by deny_cidr" },
	{ NULL, "2001:db8:bad::/48", NULL, { NULL }, "2001:db8:bae::7", NULL },
	{ NULL, NULL, "allow-cidr=\"2001:db8::/32\"", { NULL }, "2001:db9::1",
	    "not in the key's allow-cidr" },
	{ NULL, NULL, NULL, { "--deny-cidr=::1", NULL }, "::1", "denied by --deny-cidr" },
	/* IPv4-mapped IPv6 addresses meet the IPv4 entries. */
	{ NULL, "192.0.2.0/24", NULL, { NULL }, "::ffff:192.0.2.7", "denied by deny_cidr" },
	{ "10.0.0.0/8", NULL, NULL, { NULL }, "::ffff:10.0.0.1", NULL },
	{ "10.0.0.0/8", NULL, NULL, { NULL }, "::ffff:11.0.0.1", "not in allow_cidr" },
	{ NULL, NULL, "deny-cidr=\"192.0.2.0/24\"", { NULL }, "::ffff:192.0.2.7",
	    "denied by the key's deny-cidr" },
	{ NULL, NULL, "allow-cidr=\"10.0.0.0/8\"", { NULL }, "::ffff:10.1.1.1", NULL },
	{ NULL, NULL, NULL, { "--allow-cidr=10.0.0.0/8", NULL }, "::ffff:11.1.1.1",
	    "not in --allow-cidr" },
};

/* grant_client: any deny list that matches refuses; every allow list set must match. */
START_TEST(test_client)
{
	size_t		 i;

	for (i = 0; i < sizeof client_cases / sizeof client_cases[0]; i++) {
		struct policy		 pol = policy(POL_DEFAULT);
		struct grant		*g;
		struct sockaddr_storage	 ss;
		const char		*why = "unset";
		enum refusal		 r;

		pol.allow = cidrs(client_cases[i].pol_allow);
		pol.deny = cidrs(client_cases[i].pol_deny);
		g = grant_for(&pol, client_cases[i].key, -1);
		command_ok(g, client_cases[i].cmd);
		r = grant_client(g, tg_addr(&ss, client_cases[i].address), &why);
		ck_assert_msg(r == (client_cases[i].why != NULL ? REFUSAL_IP_RULE : REFUSAL_NONE),
		    "case %zu (%s): %s", i, client_cases[i].address, refusal_label(r));
		same_message(i, why, client_cases[i].why);
		grant_release(g);
		cidrlist_free(pol.allow);
		cidrlist_free(pol.deny);
	}
}
END_TEST

#define GATEWAY_FULL	"the gateway holds max_connections connections"
#define TUNNEL_FULL	"the tunnel holds max_connections_per_tunnel connections"

/* grant_connection cases: the limits, the counts, and the answer. */
static const struct {
	int		 max_all;
	int		 max_tunnel;
	int		 open_all;
	int		 open_tunnel;
	const char	*why;		/* NULL: REFUSAL_NONE */
} connection_cases[] = {
	{ 100, 10, 0, 0, NULL },
	{ 100, 10, 99, 9, NULL },
	{ 100, 10, 100, 0, GATEWAY_FULL },
	{ 100, 10, 150, 0, GATEWAY_FULL },
	{ 100, 10, 50, 10, TUNNEL_FULL },
	{ 100, 10, 50, 11, TUNNEL_FULL },
	{ 100, 10, 100, 10, GATEWAY_FULL },
	{ 100, 1, 0, 0, NULL },
	{ 100, 1, 1, 1, TUNNEL_FULL },
	{ 100, 0, 99, 99, NULL },
	{ 100, 0, 99, 1000000, NULL },
	{ 100, 0, 100, 0, GATEWAY_FULL },
	{ 1, 0, 0, 0, NULL },
	{ 1, 0, 1, 0, GATEWAY_FULL },
	{ 10000000, 10000000, 9999999, 9999999, NULL },
	{ 10000000, 10000000, 9999999, 10000000, TUNNEL_FULL },
};

/* grant_connection: max_connections, then max_connections_per_tunnel (0: none). */
START_TEST(test_connection)
{
	size_t		 i;

	for (i = 0; i < sizeof connection_cases / sizeof connection_cases[0]; i++) {
		struct policy	 pol = policy(POL_DEFAULT);
		struct grant	*g;
		const char	*why = "unset";
		enum refusal	 r;

		pol.max_connections = connection_cases[i].max_all;
		pol.max_connections_per_tunnel = connection_cases[i].max_tunnel;
		g = grant_for(&pol, NULL, -1);
		r = grant_connection(g, connection_cases[i].open_all, 0,
		    connection_cases[i].open_tunnel, &why);
		ck_assert_msg(r == (connection_cases[i].why != NULL ? REFUSAL_CONNECTION_LIMIT :
		    REFUSAL_NONE), "case %zu: %s", i, refusal_label(r));
		same_message(i, why, connection_cases[i].why);
		grant_release(g);
	}
}
END_TEST

/* An account's max-connections counts every open connection of its tunnels. */
START_TEST(test_connection_account)
{
	static const struct grant_member m = { "ops", ROLE_MANAGER, 0, -1, 5, 0, GRANT_TCP };
	struct policy	 pol = policy(POL_DEFAULT);
	struct grant	*g;
	const char	*why;

	pol.max_connections = 100;
	g = grant_create(&pol, "alice", GRANT_TOKEN, NULL, -1);
	ck_assert_int_eq(grant_connection(g, 10, 1000, 0, &why), REFUSAL_NONE);
	grant_set_member(g, &m);
	ck_assert_int_eq(grant_connection(g, 10, 4, 0, &why), REFUSAL_NONE);
	ck_assert_int_eq(grant_connection(g, 10, 5, 0, &why), REFUSAL_CONNECTION_LIMIT);
	ck_assert_ptr_nonnull(strstr(why, "max-connections"));
	ck_assert_ptr_nonnull(strstr(why, "tunnelgwctl account set"));
	ck_assert_int_eq(grant_connection(g, 100, 0, 0, &why), REFUSAL_CONNECTION_LIMIT);
	ck_assert_str_eq(why, GATEWAY_FULL);
	grant_release(g);
}
END_TEST

/* grant_login_from cases: the key line (NULL: none), the SSH client (NULL: unknown). */
static const struct {
	const char	*key;
	const char	*address;
	int		 want;
} login_from_cases[] = {
	{ NULL, "203.0.113.5", 1 },
	{ NULL, NULL, 1 },
	{ "", "203.0.113.5", 1 },
	{ "", NULL, 1 },
	{ "allow-cidr=\"10.0.0.0/8\"", "203.0.113.5", 1 },
	{ "from=\"10.0.0.0/8\"", "10.1.2.3", 1 },
	{ "from=\"10.0.0.0/8\"", "11.0.0.1", 0 },
	{ "from=\"10.0.0.0/8\"", "::ffff:10.0.0.1", 1 },
	{ "from=\"10.0.0.0/8\"", "::ffff:11.0.0.1", 0 },
	{ "from=\"10.0.0.0/8\"", "2001:db8::1", 0 },
	{ "from=\"10.0.0.0/8\"", NULL, 0 },
	{ "from=\"2001:db8::/32,192.0.2.1\"", "2001:db8::5", 1 },
	{ "from=\"2001:db8::/32,192.0.2.1\"", "192.0.2.1", 1 },
	{ "from=\"2001:db8::/32,192.0.2.1\"", "192.0.2.2", 0 },
	{ "from=\"2001:db8::/32,192.0.2.1\"", "2001:db9::5", 0 },
};

/* grant_login_from: a key line's from= decides where its logins may come from. */
START_TEST(test_login_from)
{
	size_t		 i;

	for (i = 0; i < sizeof login_from_cases / sizeof login_from_cases[0]; i++) {
		struct keyent		*ke = NULL;
		struct sockaddr_storage	 ss;
		int			 got;

		if (login_from_cases[i].key != NULL)
			ke = key_line(login_from_cases[i].key);
		got = grant_login_from(ke != NULL ? &ke->opts : NULL,
		    tg_addr(&ss, login_from_cases[i].address));
		ck_assert_msg(got == login_from_cases[i].want, "case %zu: %d, want %d", i, got,
		    login_from_cases[i].want);
		keyent_free(ke);
	}
}
END_TEST

/* grant_names_token cases. */
static const struct {
	const char	*user;
	int		 want;
} names_token_cases[] = {
	{ "tgw_abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG", 1 },
	{ "tgw_", 1 },
	{ "tgw_x", 1 },
	{ "tgw", 0 },
	{ "tgw-abc", 0 },
	{ "TGW_abc", 0 },
	{ "Tgw_abc", 0 },
	{ "xtgw_abc", 0 },
	{ " tgw_abc", 0 },
	{ "v2", 0 },
	{ "", 0 },
};

/* grant_names_token: the token prefix, exactly, and the same one the store issues. */
/* A token's row decides: unknown, revoked, expired (at the second it expires), or usable. */
static const struct {
	int		 found;
	long long	 revoked, expires, now;
	const char	*why;		/* NULL: usable */
} token_cases[] = {
	{ 0, 0, 0, 1000, "unknown token" },
	{ 1, 0, 0, 1000, NULL },
	{ 1, 999, 0, 1000, "token 7 was revoked" },
	{ 1, 999, 500, 1000, "token 7 was revoked" },
	{ 1, 0, 1001, 1000, NULL },
	{ 1, 0, 1000, 1000, "token 7 has expired" },
	{ 1, 0, 999, 1000, "token 7 has expired" },
};

START_TEST(test_token_usable)
{
	size_t	 i;
	char	*why;
	int	 rc;

	for (i = 0; i < sizeof token_cases / sizeof token_cases[0]; i++) {
		why = NULL;
		rc = grant_token_usable(token_cases[i].found, 7, token_cases[i].revoked,
		    token_cases[i].expires, token_cases[i].now, &why);
		if (token_cases[i].why == NULL) {
			ck_assert_msg(rc == 0 && why == NULL, "case %zu: refused: %s", i, why);
			continue;
		}
		ck_assert_msg(rc == 1, "case %zu: usable", i);
		ck_assert_str_eq(why, token_cases[i].why);
		free(why);
	}
}
END_TEST

START_TEST(test_names_token)
{
	size_t	 i;

	ck_assert_str_eq(GRANT_TOKEN_PREFIX, STORE_TOKEN_PREFIX);
	for (i = 0; i < sizeof names_token_cases / sizeof names_token_cases[0]; i++) {
		ck_assert_msg(grant_names_token(names_token_cases[i].user) ==
		    names_token_cases[i].want, "case %zu: '%s'", i, names_token_cases[i].user);
	}
}
END_TEST

/* grant_port_failed cases. */
static const struct {
	int		 port;
	enum refusal	 want;
} port_failed_cases[] = {
	{ 0, REFUSAL_NO_FREE_PORT },
	{ 1, REFUSAL_PORT_IN_USE },
	{ 1024, REFUSAL_PORT_IN_USE },
	{ 21000, REFUSAL_PORT_IN_USE },
	{ 65535, REFUSAL_PORT_IN_USE },
};

/* grant_port_failed: no free port for port 0, else the port named is in use. */
START_TEST(test_port_failed)
{
	size_t	 i;

	for (i = 0; i < sizeof port_failed_cases / sizeof port_failed_cases[0]; i++) {
		ck_assert_msg(grant_port_failed(port_failed_cases[i].port) ==
		    port_failed_cases[i].want, "case %zu", i);
	}
}
END_TEST

#define HELD(p, s, t)	"port " #p " is held by your session " s " (since " t "); it must " \
			"answer within 2 seconds or be closed, which frees the port: connect " \
			"again then"

/* grant_port_holder cases: who holds the port, from which session, since when. */
static const struct {
	int			 port;
	const char		*holder;
	unsigned long long	 session;
	unsigned long long	 self;
	long long		 since;
	const char		*why;	/* NULL: 0 */
} port_holder_cases[] = {
	{ 21000, "alice", 7, 9, 0, HELD(21000, "7", "1970-01-01 00:00:00 UTC") },
	{ 21000, "alice", 7, 9, 1700000000, HELD(21000, "7", "2023-11-14 22:13:20 UTC") },
	{ 25000, "alice", 10, 9, 951782400, HELD(25000, "10", "2000-02-29 00:00:00 UTC") },
	{ 29999, "alice", 18446744073709551615ULL, 1, 1700000000,
	    HELD(29999, "18446744073709551615", "2023-11-14 22:13:20 UTC") },
	{ 21000, "alice", 9, 9, 1700000000, NULL },
	{ 21000, "bob", 7, 9, 1700000000, NULL },
	{ 21000, "Alice", 7, 9, 1700000000, NULL },
	{ 21000, "alice2", 7, 9, 1700000000, NULL },
	{ 21000, NULL, 0, 9, 0, NULL },
	{ 21000, NULL, 7, 9, 1700000000, NULL },
};

/* grant_port_holder: only an older session of the same account is probed; the date is UTC. */
START_TEST(test_port_holder)
{
	struct policy	 pol = policy(POL_DEFAULT);
	struct grant	*g = grant_for(&pol, NULL, -1);
	size_t		 i;

	/* The date must not follow the local time zone. */
	setenv("TZ", "Asia/Tokyo", 1);
	tzset();
	for (i = 0; i < sizeof port_holder_cases / sizeof port_holder_cases[0]; i++) {
		char	*why = NULL;
		int	 rc;

		rc = grant_port_holder(g, port_holder_cases[i].port, port_holder_cases[i].holder,
		    port_holder_cases[i].session, port_holder_cases[i].self,
		    port_holder_cases[i].since, &why);
		ck_assert_msg(rc == (port_holder_cases[i].why != NULL), "case %zu: %d", i, rc);
		same_message(i, why, port_holder_cases[i].why);
		free(why);
	}
	grant_release(g);
}
END_TEST

/* Every refusal and its label; values past REFUSAL_OTHER are "other" too. */
static const struct {
	enum refusal	 r;
	const char	*label;
} label_cases[] = {
	{ REFUSAL_NONE, "none" },
	{ REFUSAL_BAD_ADDRESS, "bad_address" },
	{ REFUSAL_FORWARDING_DISABLED, "forwarding_disabled" },
	{ REFUSAL_ROLE, "role" },
	{ REFUSAL_NO_FREE_PORT, "no_free_port" },
	{ REFUSAL_PORT_RESERVED, "port_reserved" },
	{ REFUSAL_PORT_NOT_ALLOWED, "port_not_allowed" },
	{ REFUSAL_PORT_IN_USE, "port_in_use" },
	{ REFUSAL_TUNNEL_LIMIT, "tunnel_limit" },
	{ REFUSAL_IP_RULE, "ip_rule" },
	{ REFUSAL_CONNECTION_LIMIT, "connection_limit" },
	{ REFUSAL_CONN_RATE, "conn_rate" },
	{ REFUSAL_SESSION_LIMIT, "session_limit" },
	{ REFUSAL_SSH_RATE, "ssh_rate" },
	{ REFUSAL_STARTUPS, "startups" },
	{ REFUSAL_OTHER, "other" },
	{ REFUSAL_OTHER + 1, "other" },
	{ (enum refusal)1000, "other" },
};

/* refusal_label: each refusal's label; unknown values are "other". */
START_TEST(test_refusal_label)
{
	size_t	 i;

	for (i = 0; i < sizeof label_cases / sizeof label_cases[0]; i++) {
		ck_assert_msg(strcmp(refusal_label(label_cases[i].r), label_cases[i].label) == 0,
		    "case %zu: '%s', want '%s'", i, refusal_label(label_cases[i].r),
		    label_cases[i].label);
	}
}
END_TEST

/*
 * The reasons /metrics shows in tunnelgw_refusals_total{reason="..."}, each followed by a
 * space, in a new string.
 */
static char *
metrics_reasons(void)
{
	static const char	 series[] = "tunnelgw_refusals_total{reason=\"";
	char			*text = metrics_format(), *out = xstrdup(""), *more;
	const char		*p, *end;

	ck_assert_ptr_nonnull(text);
	for (p = text; (p = strstr(p, series)) != NULL; p = end) {
		p += sizeof series - 1;
		end = strchr(p, '"');
		ck_assert_ptr_nonnull(end);
		xasprintf(&more, "%s%.*s ", out, (int)(end - p), p);
		free(out);
		out = more;
	}
	free(text);
	return out;
}

/* Is word one of the space-separated words of list? */
static int
has_word(const char *list, const char *word)
{
	size_t		 len = strlen(word);
	const char	*p;

	for (p = list; (p = strstr(p, word)) != NULL; p += len) {
		if ((p == list || p[-1] == ' ') && p[len] == ' ')
			return 1;
	}
	return 0;
}

/* /metrics shows a series for every refusal but "none", by its label, and no other. */
START_TEST(test_refusal_label_metrics)
{
	char	*shown = metrics_reasons(), *labels = xstrdup(""), *more;
	size_t	 i;

	for (i = 0; i < sizeof label_cases / sizeof label_cases[0]; i++) {
		if (label_cases[i].r == REFUSAL_NONE)
			continue;
		ck_assert_msg(has_word(shown, label_cases[i].label),
		    "/metrics has no series for '%s' (it shows: %s)", label_cases[i].label, shown);
		xasprintf(&more, "%s%s ", labels, label_cases[i].label);
		free(labels);
		labels = more;
	}
	for (more = strtok(shown, " "); more != NULL; more = strtok(NULL, " "))
		ck_assert_msg(has_word(labels, more), "/metrics shows an unknown reason '%s'",
		    more);
	free(labels);
	free(shown);
}
END_TEST

/*
 * Read the text of the man page's tunnelgw_refusals_total entry: from its .It line to the
 * next .It or .El; a new string.
 */
static char *
refusals_doc(void)
{
	const char	*srcdir = getenv("top_srcdir");
	char		*path, line[1024], *text = xstrdup("");
	char		*more;
	FILE		*fp;
	int		 in = 0;

	xasprintf(&path, "%s/doc/tunnelgw.8", srcdir != NULL ? srcdir : "..");
	fp = fopen(path, "r");
	ck_assert_msg(fp != NULL, "cannot open %s (set top_srcdir)", path);
	while (fgets(line, sizeof line, fp) != NULL) {
		if (in && (strncmp(line, ".It ", 4) == 0 || strncmp(line, ".El", 3) == 0))
			break;
		if (strncmp(line, ".It Li tunnelgw_refusals_total", 30) == 0)
			in = 1;
		if (in) {
			xasprintf(&more, "%s%s", text, line);
			free(text);
			text = more;
		}
	}
	fclose(fp);
	free(path);
	ck_assert_msg(*text != '\0', "no tunnelgw_refusals_total entry in doc/tunnelgw.8");
	return text;
}

/* Does the man page text name label as ".Li label" at the start of a line? */
static int
doc_names(const char *text, const char *label)
{
	const char	*p;
	char		*want;
	size_t		 len;
	int		 found = 0;

	xasprintf(&want, ".Li %s", label);
	len = strlen(want);
	for (p = text; (p = strstr(p, want)) != NULL; p += len) {
		if ((p == text || p[-1] == '\n') && (p[len] == '\n' || p[len] == ' ')) {
			found = 1;
			break;
		}
	}
	free(want);
	return found;
}

/* doc/tunnelgw.8 lists every reason /metrics shows in tunnelgw_refusals_total. */
START_TEST(test_refusal_label_doc)
{
	char	*text = refusals_doc(), *shown = metrics_reasons(), *missing = xstrdup("");
	char	*more, *label;

	for (label = strtok(shown, " "); label != NULL; label = strtok(NULL, " ")) {
		if (doc_names(text, label))
			continue;
		xasprintf(&more, "%s %s", missing, label);
		free(missing);
		missing = more;
	}
	ck_assert_msg(*missing == '\0',
	    "doc/tunnelgw.8 does not list these reasons of tunnelgw_refusals_total:%s", missing);
	free(missing);
	free(shown);
	free(text);
}
END_TEST

/* Every role name reads back as itself, in order; anything else is no role. */
START_TEST(test_roles)
{
	static const char *const names[] = { "viewer", "developer", "manager", "owner" };
	static const char *const bad[] = { "", "Owner", "admin", "owner ", "manager,", "1" };
	enum role	 r;
	size_t		 i;

	for (i = 0; i < 4; i++) {
		ck_assert_int_eq(role_parse(names[i], &r), 0);
		ck_assert_int_eq(r, ROLE_VIEWER + (int)i);
		ck_assert_str_eq(role_label(r), names[i]);
	}
	ck_assert(ROLE_VIEWER < ROLE_DEVELOPER && ROLE_DEVELOPER < ROLE_MANAGER &&
	    ROLE_MANAGER < ROLE_OWNER);
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
		ck_assert_int_eq(role_parse(bad[i], &r), -1);
	ck_assert_str_eq(role_label((enum role)0), "none");
}
END_TEST

/*
 * The role matrix over SSH: each role of a keys-file line, and each way a login is proved,
 * against opening a tunnel (allowed from manager up); a reload that changes role= applies
 * to the next request.
 */
START_TEST(test_role_matrix)
{
	static const struct {
		enum grant_how	 how;
		const char	*opts;
		enum role	 role;
		enum refusal	 want;
	} cases[] = {
		{ GRANT_KEYFILE, "role=viewer", ROLE_VIEWER, REFUSAL_ROLE },
		{ GRANT_KEYFILE, "role=developer", ROLE_DEVELOPER, REFUSAL_ROLE },
		{ GRANT_KEYFILE, "role=manager", ROLE_MANAGER, REFUSAL_NONE },
		{ GRANT_KEYFILE, "role=owner", ROLE_OWNER, REFUSAL_NONE },
		{ GRANT_KEYFILE, NULL, ROLE_MANAGER, REFUSAL_NONE },
		{ GRANT_KEYFILE, "max-tunnels=3", ROLE_MANAGER, REFUSAL_NONE },
		/* A database login acts only as the member the store names. */
		{ GRANT_DBKEY, NULL, 0, REFUSAL_ROLE },
		{ GRANT_TOKEN, NULL, 0, REFUSAL_ROLE },
	};
	struct policy	 pol = policy(POL_DEFAULT);
	struct keyent	*ke, *ke2;
	struct grant	*g;
	enum grant_port	 how;
	char		*why;
	size_t		 i;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		ke = cases[i].opts != NULL ? key_line(cases[i].opts) : NULL;
		g = grant_create(&pol, "alice", cases[i].how, ke != NULL ? &ke->opts : NULL, -1);
		ck_assert_msg(g->role == cases[i].role, "case %zu: role %s", i, role_label(g->role));
		why = NULL;
		ck_assert_int_eq(grant_forward(g, GRANT_TCP, "", 0, NULL, &how, &why), cases[i].want);
		ck_assert((why != NULL) == (cases[i].want != REFUSAL_NONE));
		free(why);
		grant_release(g);
		keyent_free(ke);
	}
	ke = key_line("role=developer");
	ke2 = key_line("role=manager");
	g = grant_create(&pol, "alice", GRANT_KEYFILE, &ke->opts, -1);
	why = NULL;
	ck_assert_int_eq(grant_forward(g, GRANT_TCP, "", 0, NULL, &how, &why), REFUSAL_ROLE);
	free(why);
	grant_set_key(g, &ke2->opts);
	ck_assert_int_eq(g->role, ROLE_MANAGER);
	why = NULL;
	ck_assert_int_eq(grant_forward(g, GRANT_TCP, "", 0, NULL, &how, &why), REFUSAL_NONE);
	grant_set_key(g, &ke->opts);
	ck_assert_int_eq(g->role, ROLE_DEVELOPER);
	grant_release(g);
	keyent_free(ke);
	keyent_free(ke2);
}
END_TEST

/*
 * The role matrix of database members: each role against opening a tunnel, with the
 * account's create_raw_tunnel at its default (manager), lowered to developer and raised to
 * owner; the refusal names the member and who can change its role.
 */
START_TEST(test_member_matrix)
{
	static const enum role raws[] = { 0, ROLE_DEVELOPER, ROLE_OWNER, ROLE_VIEWER };
	struct policy		 pol = policy(POL_DEFAULT);
	struct grant_member	 m;
	struct grant		*g;
	enum grant_port		 how;
	enum role		 role, need;
	char			*why;
	size_t			 i;

	for (i = 0; i < sizeof raws / sizeof raws[0]; i++) {
		for (role = ROLE_VIEWER; role <= ROLE_OWNER; role++) {
			need = raws[i] != 0 ? raws[i] : ROLE_MANAGER;
			m = (struct grant_member){ "dev1", role, raws[i], -1, -1, 0, GRANT_TCP };
			g = grant_create(&pol, "team", i % 2 ? GRANT_TOKEN : GRANT_DBKEY, NULL, -1);
			grant_set_member(g, &m);
			ck_assert_str_eq(g->member, "dev1");
			ck_assert_int_eq(g->raw_tunnel_role, need);
			why = NULL;
			ck_assert_int_eq(grant_forward(g, GRANT_TCP, "", 0, NULL, &how, &why),
			    role >= need ? REFUSAL_NONE : REFUSAL_ROLE);
			if (role < need) {
				ck_assert_ptr_nonnull(strstr(why, "member 'dev1' has the role"));
				ck_assert_ptr_nonnull(strstr(why, role_label(need)));
				ck_assert_ptr_nonnull(strstr(why,
				    "tunnelgwctl member role team dev1 ROLE"));
			} else
				ck_assert_ptr_null(why);
			free(why);
			grant_release(g);
		}
	}
	/* The store changed the member's role: the next request sees it. */
	g = grant_create(&pol, "team", GRANT_TOKEN, NULL, -1);
	m = (struct grant_member){ "dev1", ROLE_DEVELOPER, 0, 3, -1, 0, GRANT_TCP };
	grant_set_member(g, &m);
	why = NULL;
	ck_assert_int_eq(grant_forward(g, GRANT_TCP, "", 0, NULL, &how, &why), REFUSAL_ROLE);
	free(why);
	ck_assert_int_eq(grant_max_tunnels(g), 3);
	m.role = ROLE_MANAGER;
	grant_set_member(g, &m);
	why = NULL;
	ck_assert_int_eq(grant_forward(g, GRANT_TCP, "", 0, NULL, &how, &why), REFUSAL_NONE);
	grant_release(g);
}
END_TEST

/* A grant is held by its client and each connection: the last release frees it. */
START_TEST(test_hold_release)
{
	struct policy	 pol = policy(POL_DEFAULT);
	char		 account[] = "alice";
	struct grant	*g;

	g = grant_create(&pol, account, GRANT_TOKEN, NULL, 4);
	account[0] = 'X';	/* the grant keeps its own copy */
	ck_assert_uint_eq(g->refs, 1);
	ck_assert_ptr_eq(grant_hold(g), g);
	ck_assert_ptr_eq(grant_hold(g), g);
	ck_assert_uint_eq(g->refs, 3);
	grant_release(g);
	grant_release(g);
	ck_assert_uint_eq(g->refs, 1);
	ck_assert_str_eq(g->account, "alice");
	ck_assert_int_eq(g->how, GRANT_TOKEN);
	ck_assert_int_eq(grant_max_tunnels(g), 4);
	grant_release(g);	/* the last: ASan reports a leak or a use after this */
	grant_release(NULL);
}
END_TEST

/* The grant owns copies of the key line's options; a reload replaces them, and only them. */
START_TEST(test_set_key)
{
	struct policy		 pol = policy(POL_DEFAULT);
	struct keyent		*ke;
	struct grant		*g;
	struct sockaddr_storage	 ss;
	enum grant_port		 how;
	const char		*cwhy;
	char			*why = NULL;

	ke = key_line("account=\"alice\",max-tunnels=2,permitlisten=\"21000\","
	    "from=\"10.0.0.0/8\",allow-cidr=\"192.0.2.0/24\",deny-cidr=\"192.0.2.66\","
	    "proxy-proto=1");
	g = grant_create(&pol, ke->account, GRANT_KEYFILE, &ke->opts, -1);
	keyent_free(ke);
	command_ok(g, (const char *const []){ "--idle-timeout=9", NULL });

	ck_assert_int_eq(grant_max_tunnels(g), 2);
	ck_assert_int_eq(grant_proxy_proto(g), 1);
	ck_assert_int_eq(grant_login_from(&g->key, tg_addr(&ss, "10.2.3.4")), 1);
	ck_assert_int_eq(grant_login_from(&g->key, tg_addr(&ss, "11.2.3.4")), 0);
	ck_assert_int_eq(grant_forward(g, GRANT_TCP, "", 21000, NULL, &how, &why), REFUSAL_NONE);
	ck_assert_int_eq(how, GRANT_PORT_REQUESTED);
	ck_assert_int_eq(grant_forward(g, GRANT_TCP, "", 22000, NULL, &how, &why),
	    REFUSAL_PORT_NOT_ALLOWED);
	ck_assert_str_eq(why, NOT_PERMITTED(22000));
	free(why);
	why = NULL;
	ck_assert_int_eq(grant_client(g, tg_addr(&ss, "192.0.2.5"), &cwhy), REFUSAL_NONE);
	ck_assert_int_eq(grant_client(g, tg_addr(&ss, "192.0.2.66"), &cwhy), REFUSAL_IP_RULE);
	ck_assert_str_eq(cwhy, "denied by the key's deny-cidr");
	ck_assert_int_eq(grant_client(g, tg_addr(&ss, "198.51.100.1"), &cwhy), REFUSAL_IP_RULE);
	ck_assert_str_eq(cwhy, "not in the key's allow-cidr");

	/* The keys file was reloaded: the line now reads otherwise. */
	ke = key_line("account=\"alice\",max-tunnels=5,permitlisten=\"22000\","
	    "deny-cidr=\"192.0.2.5\",no-port-forwarding");
	grant_set_key(g, &ke->opts);
	keyent_free(ke);
	ck_assert_int_eq(grant_max_tunnels(g), 5);
	ck_assert_int_eq(grant_proxy_proto(g), 0);
	ck_assert_int_eq(grant_idle_timeout(g), 9);
	ck_assert_int_eq(grant_login_from(&g->key, tg_addr(&ss, "11.2.3.4")), 1);
	ck_assert_int_eq(grant_forward(g, GRANT_TCP, "", 22000, NULL, &how, &why),
	    REFUSAL_FORWARDING_DISABLED);
	ck_assert_str_eq(why, NO_FWD);
	free(why);
	why = NULL;
	ck_assert_int_eq(grant_client(g, tg_addr(&ss, "198.51.100.1"), &cwhy), REFUSAL_NONE);
	ck_assert_int_eq(grant_client(g, tg_addr(&ss, "192.0.2.5"), &cwhy), REFUSAL_IP_RULE);
	ck_assert_str_eq(cwhy, "denied by the key's deny-cidr");

	/* Without a key line (it was removed): all "not set". */
	grant_set_key(g, NULL);
	ck_assert_int_eq(grant_max_tunnels(g), 32);
	ck_assert_int_eq(grant_client(g, tg_addr(&ss, "192.0.2.5"), &cwhy), REFUSAL_NONE);
	ck_assert_int_eq(grant_forward(g, GRANT_TCP, "", 22001, NULL, &how, &why), REFUSAL_NONE);
	ck_assert_int_eq(how, GRANT_PORT_REQUESTED);
	ck_assert_str_eq(g->account, "alice");
	grant_release(g);
}
END_TEST

/* The grant suite. */
static Suite *
grant_suite(void)
{
	Suite	*s = suite_create("grant");
	TCase	*tc = tcase_create("grant");

	tcase_add_test(tc, test_forward);
	tcase_add_test(tc, test_max_tunnels);
	tcase_add_test(tc, test_tunnel_limit);
	tcase_add_test(tc, test_settings);
	tcase_add_test(tc, test_command);
	tcase_add_test(tc, test_command_argv0);
	tcase_add_test(tc, test_client);
	tcase_add_test(tc, test_connection);
	tcase_add_test(tc, test_login_from);
	tcase_add_test(tc, test_names_token);
	tcase_add_test(tc, test_token_usable);
	tcase_add_test(tc, test_port_failed);
	tcase_add_test(tc, test_port_holder);
	tcase_add_test(tc, test_refusal_label);
	tcase_add_test(tc, test_refusal_label_metrics);
	tcase_add_test(tc, test_refusal_label_doc);
	tcase_add_test(tc, test_hold_release);
	tcase_add_test(tc, test_roles);
	tcase_add_test(tc, test_role_matrix);
	tcase_add_test(tc, test_member_matrix);
	tcase_add_test(tc, test_connection_account);
	tcase_add_test(tc, test_set_key);
	suite_add_tcase(s, tc);
	return s;
}

/* Run the grant tests. */
int
main(void)
{
	return tg_run(grant_suite());
}
