/* SPDX-License-Identifier: ISC */
/*
 * tunnelgw: the table of configuration options. Parsing, defaults, `tunnelgw -T` and the
 * comments of tunnelgw.conf.example all come from here, so they cannot drift apart.
 */
#include "config.h"

#include <stddef.h>

#include "conf.h"

#define OFF(f)	offsetof(struct conf, f)

static const char *const listen_default[] = { "0.0.0.0:2222", NULL };
static const char *const host_keys_default[] = {
	"ssh_host_ed25519_key", "ssh_host_ecdsa_key", "ssh_host_rsa_key", NULL
};
static const char *const log_level_choices[] = { "error", "warn", "info", "debug", "trace", NULL };

/* Index 0 means syslog is off; conf_syslog_facility() maps the rest. */
const char *const conf_facility_choices[] = {
	"none", "daemon", "auth", "authpriv", "user", "local0", "local1", "local2", "local3",
	"local4", "local5", "local6", "local7", NULL
};

const struct conf_option conf_table[] = {
	{ .name = "listen", .type = CONF_LIST, .offset = OFF(listen),
	  .def_list = listen_default, .min = 1, .max = 16, .check = conf_check_endpoint,
	  .help = "Where SSH clients connect: \"ADDRESS:PORT\" entries; IPv6 as \"[::]:2222\"." },
	{ .name = "host_keys", .type = CONF_PATH_LIST, .offset = OFF(host_keys),
	  .def_list = host_keys_default, .min = 1, .max = 8,
	  .help = "SSH host key files, one per key type. A missing file is created with mode 0600 "
		  "on first start: ECDSA (P-256) when its name holds \"ecdsa\", RSA (3072 bits) when it "
		  "holds \"rsa\", else ed25519. The default offers the three types sshd makes, so "
		  "clients pinned to any of them get in." },
	{ .name = "public_host", .type = CONF_STRING, .offset = OFF(public_host),
	  .def_str = "", .check = conf_check_host_name,
	  .help = "The host name shown in tcp:// URLs; \"\" uses this machine's host name." },
	{ .name = "public_bind", .type = CONF_STRING, .offset = OFF(public_bind),
	  .def_str = "0.0.0.0", .check = conf_check_address,
	  .help = "The address public ports listen on (\"::\" for IPv6 and IPv4)." },
	{ .name = "port_range", .type = CONF_STRING, .offset = OFF(port_range),
	  .def_str = "10000-60000", .check = conf_check_port_range,
	  .help = "Random public ports are drawn from this range, \"LOW-HIGH\", 1024 or above." },
	{ .name = "allow_requested_ports", .type = CONF_BOOL, .offset = OFF(allow_requested_ports),
	  .def_num = 0,
	  .help = "May a client ask for a port in port_range (udp_port_range for UDP) that it has "
		  "not reserved." },
	{ .name = "udp_port_range", .type = CONF_STRING, .offset = OFF(udp_port_range),
	  .def_str = "10000-60000", .check = conf_check_port_range,
	  .help = "Random public ports of UDP tunnels (the `udp` command) are drawn from this "
		  "range, \"LOW-HIGH\", 1024 or above. UDP ports are apart from TCP ones: the two "
		  "ranges may overlap." },
	{ .name = "udp_flow_timeout", .type = CONF_INT, .offset = OFF(udp_flow_timeout),
	  .def_num = 60, .min = 1, .max = 86400,
	  .help = "Seconds without a datagram either way before a UDP flow (a public source "
		  "address and port) ends; `udp --idle-timeout=SECONDS` sets it per tunnel." },
	{ .name = "authorized_keys", .type = CONF_PATH, .offset = OFF(authorized_keys),
	  .def_str = "authorized_keys",
	  .help = "authorized_keys-style file of the keys that may log in, with their options." },
	{ .name = "database", .type = CONF_PATH, .offset = OFF(database),
	  .def_str = "tunnelgw.db",
	  .help = "Database of accounts, tokens, keys and reserved addresses: an SQLite file, created on first start, or a postgresql:// URI that several gateways share." },
	{ .name = "node_name", .type = CONF_STRING, .offset = OFF(node_name),
	  .def_str = "", .check = conf_check_node_name,
	  .help = "This gateway's name among those sharing a PostgreSQL database: 1-64 characters "
		  "of A-Z a-z 0-9 . _ -, unique among them (a gateway started with a name another "
		  "running one holds stops, saying so); \"\" uses this machine's host name." },
	{ .name = "node_lease", .type = CONF_INT, .offset = OFF(node_lease),
	  .def_num = 15, .min = 3, .max = 3600,
	  .help = "Seconds the shared list keeps this gateway's tunnels after its last word: a "
		  "gateway that dies leaves the list that much later. It renews every second." },
	{ .name = "proxy_protocol", .type = CONF_INT, .offset = OFF(proxy_protocol),
	  .def_num = 0, .min = 0, .max = 2,
	  .help = "Default PROXY protocol header sent toward the user's service: 0 (off), 1 or 2." },
	{ .name = "idle_timeout", .type = CONF_INT, .offset = OFF(idle_timeout),
	  .def_num = 300, .min = 0, .max = 604800,
	  .help = "Seconds without traffic before a public connection is closed; 0 never closes it." },
	{ .name = "events_log", .type = CONF_PATH, .offset = OFF(events_log),
	  .def_str = "",
	  .help = "JSON-lines file of tunnel and connection events; \"\" turns it off." },
	{ .name = "events_retention_days", .type = CONF_INT, .offset = OFF(events_retention_days),
	  .def_num = 30, .min = 0, .max = 36500,
	  .help = "Days events are kept in the database (for tunnelgwctl events); 0 keeps them "
		  "whatever their age, within events_max_rows." },
	{ .name = "events_max_rows", .type = CONF_INT, .offset = OFF(events_max_rows),
	  .def_num = 100000, .min = 0, .max = 100000000,
	  .help = "Most events kept in the database, the newest; 0 keeps none there (events_log "
		  "is independent of it)." },
	{ .name = "control_socket", .type = CONF_PATH, .offset = OFF(control_socket),
	  .def_str = "tunnelgw.sock",
	  .help = "Unix socket on which the daemon answers tunnelgwctl about live state (tunnels), "
		  "made with mode 0600 in a folder only tunnelgw's user may write. The default lies "
		  "next to the configuration file, like the database, so that tunnelgwctl -f FILE "
		  "finds the daemon of that file; under systemd use \"/run/tunnelgw/tunnelgw.sock\". "
		  "\"\" turns it off." },
	{ .name = "metrics_listen", .type = CONF_STRING, .offset = OFF(metrics_listen),
	  .def_str = "", .check = conf_check_endpoint_or_off,
	  .help = "Where Prometheus metrics are served over HTTP at /metrics, \"ADDRESS:PORT\" "
		  "such as \"127.0.0.1:9100\"; keep it on a loopback address. \"\" turns it off." },
	{ .name = "api_listen", .type = CONF_STRING, .offset = OFF(api_listen),
	  .def_str = "", .check = conf_check_endpoint_or_off,
	  .help = "Where the HTTP API (/api/v1/) and the web dashboard (/) are served, "
		  "\"ADDRESS:PORT\" such as "
		  "\"127.0.0.1:8443\". Without api_tls_cert and api_tls_key it speaks plain HTTP, "
		  "and only on a loopback address (for a reverse proxy in front). \"\" turns it off." },
	{ .name = "api_tls_cert", .type = CONF_PATH, .offset = OFF(api_tls_cert),
	  .def_str = "",
	  .help = "PEM certificate (with its chain) the API serves HTTPS with; set api_tls_key "
		  "too. \"\" serves plain HTTP." },
	{ .name = "api_tls_key", .type = CONF_PATH, .offset = OFF(api_tls_key),
	  .def_str = "",
	  .help = "PEM private key of api_tls_cert; readable by tunnelgw's user only." },
	{ .name = "ciphers", .type = CONF_STRING, .offset = OFF(ciphers),
	  .def_str = "", .check = conf_check_ciphers,
	  .help = "SSH ciphers offered, in order. \"\" offers every strong cipher common clients "
		  "need: AES-GCM, ChaCha20-Poly1305 and AES-CTR (with encrypt-then-MAC), AES-GCM first "
		  "where the CPU has AES instructions. Narrow it to shut out clients that lack the "
		  "ciphers left: Dropbear and paramiko need ChaCha20-Poly1305 or AES-CTR." },
	{ .name = "log_level", .type = CONF_CHOICE, .offset = OFF(log_level),
	  .def_num = 2, .choices = log_level_choices,
	  .help = "How much to log: \"error\", \"warn\", \"info\", \"debug\" or \"trace\"; each -v adds one." },
	{ .name = "syslog_facility", .type = CONF_CHOICE, .offset = OFF(syslog_facility),
	  .def_num = 0, .choices = conf_facility_choices,
	  .help = "Also log to syslog with this facility (\"daemon\", \"auth\", \"local0\"...); \"none\" keeps "
		  "logging on stderr only." },
	{ .name = "workers", .type = CONF_INT, .offset = OFF(workers),
	  .def_num = 0, .min = 0, .max = 256,
	  .help = "Worker threads that carry SSH sessions and their tunnels; 0 starts one per CPU." },
	{ .name = "client_alive_interval", .type = CONF_INT, .offset = OFF(client_alive_interval),
	  .def_num = 30, .min = 0, .max = 86400,
	  .help = "Seconds without a word from a logged-in SSH client after which the gateway "
		  "asks it for an answer (as sshd's ClientAliveInterval); 0 never asks. TCP "
		  "keepalives cannot find a client that is stopped or asleep: its kernel still "
		  "answers them." },
	{ .name = "client_alive_count_max", .type = CONF_INT,
	  .offset = OFF(client_alive_count_max), .def_num = 3, .min = 1, .max = 1000,
	  .help = "Unanswered requests after which the client is disconnected and its ports "
		  "freed: a silent client goes after client_alive_interval times this many "
		  "seconds." },
	{ .name = "login_grace_time", .type = CONF_INT, .offset = OFF(login_grace_time),
	  .def_num = 30, .min = 1, .max = 600,
	  .help = "Seconds an SSH client has to authenticate before it is disconnected." },
	{ .name = "max_auth_tries", .type = CONF_INT, .offset = OFF(max_auth_tries),
	  .def_num = 6, .min = 1, .max = 100,
	  .help = "Refused authentication attempts after which an SSH client is disconnected." },
	{ .name = "max_startups", .type = CONF_STARTUPS, .offset = OFF(max_startups),
	  .def_str = "64:30:256", .min = 1, .max = 1000000,
	  .help = "SSH connections not yet authenticated, in all, as sshd's MaxStartups: "
		  "\"start:rate:full\" accepts every new one while fewer than start wait, refuses "
		  "each with a probability of rate percent growing linearly to 100 as their number "
		  "nears full, and refuses all at full, so that a flood of idle connections cannot "
		  "lock every login out; a plain number N refuses only at N. Refused connections "
		  "are closed at once." },
	{ .name = "max_startups_per_source", .type = CONF_INT, .offset = OFF(max_startups_per_source),
	  .def_num = 16, .min = 1, .max = 1000000,
	  .help = "Most SSH connections not yet authenticated from one source (an IPv4 address, "
		  "or an IPv6 prefix of source_prefix6 bits)." },
	{ .name = "source_prefix6", .type = CONF_INT, .offset = OFF(source_prefix6),
	  .def_num = 64, .min = 1, .max = 128,
	  .help = "Leading bits of an IPv6 address that make one source for every per-source "
		  "limit (ssh_rate, ssh_burst, max_startups_per_source, conn_rate, conn_burst): "
		  "an IPv6 client usually holds a whole /64 and can use a new address for each "
		  "connection. 128 counts each address apart. IPv4 sources are single addresses." },
	{ .name = "ssh_rate", .type = CONF_INT, .offset = OFF(ssh_rate),
	  .def_num = 20, .min = 0, .max = 1000000,
	  .help = "New SSH connections a second allowed from one source, on average; 0 sets no "
		  "limit. Beyond it connections are closed at once." },
	{ .name = "ssh_burst", .type = CONF_INT, .offset = OFF(ssh_burst),
	  .def_num = 60, .min = 1, .max = 1000000,
	  .help = "New SSH connections one source may make at once before ssh_rate applies." },
	{ .name = "max_sessions", .type = CONF_INT, .offset = OFF(max_sessions),
	  .def_num = 50000, .min = 1, .max = 10000000,
	  .help = "Most SSH sessions at once; beyond it new SSH connections are closed." },
	{ .name = "max_tunnels", .type = CONF_INT, .offset = OFF(max_tunnels),
	  .def_num = 32, .min = 0, .max = 1000000,
	  .help = "Most tunnels one account may have open at once, unless its key line "
		  "(max-tunnels=) or its account (tunnelgwctl account add --max-tunnels) says "
		  "otherwise; 0 sets no limit." },
	{ .name = "max_connections", .type = CONF_INT, .offset = OFF(max_connections),
	  .def_num = 200000, .min = 1, .max = 10000000,
	  .help = "Most public connections open at once, in all; more are closed at once." },
	{ .name = "max_connections_per_tunnel", .type = CONF_INT,
	  .offset = OFF(max_connections_per_tunnel), .def_num = 10000, .min = 0, .max = 10000000,
	  .help = "Most public connections open at once through one tunnel; 0 sets no limit." },
	{ .name = "max_buffered_mib", .type = CONF_INT, .offset = OFF(max_buffered_mib),
	  .def_num = 256, .min = 16, .max = 1048576,
	  .help = "MiB the gateway may hold, in all, of data on its way to public clients that "
		  "read slower than the SSH clients send. Beyond it the SSH connections that hold "
		  "such data are not read until it drains, which slows those senders instead of "
		  "using more memory. One public connection holds at most 256 KiB plus the SSH "
		  "window granted to its channel (at most 3 MiB, grown only while that public "
		  "client reads)." },
	{ .name = "conn_rate", .type = CONF_INT, .offset = OFF(conn_rate),
	  .def_num = 100, .min = 0, .max = 1000000,
	  .help = "New public connections a second allowed from one source to one tunnel, on "
		  "average; 0 sets no limit. Beyond it connections are closed at once. For a UDP "
		  "tunnel it counts new flows (a DNS client makes one per query), whose datagrams "
		  "are dropped beyond it." },
	{ .name = "conn_burst", .type = CONF_INT, .offset = OFF(conn_burst),
	  .def_num = 200, .min = 1, .max = 1000000,
	  .help = "New public connections one source may make to one tunnel at once before "
		  "conn_rate applies." },
	{ .name = "allow_cidr", .type = CONF_STRING, .offset = OFF(allow_cidr),
	  .def_str = "", .check = conf_check_cidrs,
	  .help = "Public clients allowed to connect to any tunnel, \"CIDR,CIDR...\"; \"\" allows "
		  "all. Key lines and the tcp command may narrow it further." },
	{ .name = "deny_cidr", .type = CONF_STRING, .offset = OFF(deny_cidr),
	  .def_str = "", .check = conf_check_cidrs,
	  .help = "Public clients refused on every tunnel, \"CIDR,CIDR...\"; a deny wins over any "
		  "allow." },
	{ .name = "channel_open_timeout", .type = CONF_INT, .offset = OFF(channel_open_timeout),
	  .def_num = 30, .min = 1, .max = 600,
	  .help = "Seconds an SSH client has to accept a new public connection before it is closed." },
	{ .name = "drain_timeout", .type = CONF_INT, .offset = OFF(drain_timeout),
	  .def_num = 10, .min = 0, .max = 3600,
	  .help = "On SIGTERM, seconds open public connections may take to finish once new ones "
		  "are refused, before every session is closed." },
	{ .name = "user", .type = CONF_STRING, .offset = OFF(user),
	  .def_str = "", .check = conf_check_user,
	  .help = "When started as root: the user to run as once the listening sockets, host keys, "
		  "database and control socket are open (they are given to this user); \"\" keeps "
		  "the user tunnelgw was started as." },
};

const size_t conf_table_size = sizeof conf_table / sizeof conf_table[0];
