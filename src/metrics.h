/* SPDX-License-Identifier: ISC */
/* tunnelgw: process-wide counters, and the Prometheus endpoint that shows them. */
#ifndef TG_METRICS_H
#define TG_METRICS_H

struct event_base;
struct metrics_server;

/* Why something was refused: the label values of tunnelgw_refusals_total{reason}. */
#define METRICS_BAD_ADDRESS		"bad_address"
#define METRICS_FORWARDING_DISABLED	"forwarding_disabled"
#define METRICS_NO_FREE_PORT		"no_free_port"
#define METRICS_PORT_RESERVED		"port_reserved"
#define METRICS_PORT_NOT_ALLOWED	"port_not_allowed"
#define METRICS_PORT_IN_USE		"port_in_use"
#define METRICS_TUNNEL_LIMIT		"tunnel_limit"
#define METRICS_IP_RULE			"ip_rule"
#define METRICS_CONNECTION_LIMIT	"connection_limit"
#define METRICS_CONN_RATE		"conn_rate"
#define METRICS_SESSION_LIMIT		"session_limit"
#define METRICS_SSH_RATE		"ssh_rate"
#define METRICS_STARTUPS		"startups"

void	 metrics_count_refusal(const char *);
unsigned long long metrics_refusals(const char *);
char	*metrics_format(void);

struct metrics_server *metrics_server_open(struct event_base *, const char *, char **);
void	 metrics_server_free(struct metrics_server *);

#endif
