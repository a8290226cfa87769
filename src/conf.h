/* SPDX-License-Identifier: ISC */
/* tunnelgw: the configuration, its declarative option table, loader and printer. */
#ifndef TG_CONF_H
#define TG_CONF_H

#include <stddef.h>
#include <stdio.h>

/* A list of strings from a libconfig array. */
struct strlist {
	char	**v;
	size_t	  n;
};

/*
 * max_startups: like sshd's MaxStartups "start:rate:full". Below start connections not yet
 * authenticated are all accepted, from start on each is refused with a probability of rate
 * percent growing linearly to 100 at full, and at full all are. A plain number N means full
 * = N with nothing refused below it (start = N).
 */
struct conf_startups {
	int	 start;
	int	 rate;
	int	 full;
};

/* The effective configuration: every option of the table has a field here. */
struct conf {
	struct strlist	 listen;
	struct strlist	 host_keys;
	char		*public_host;
	char		*node_name;
	int		 node_lease;
	char		*public_bind;
	char		*port_range;
	int		 allow_requested_ports;
	char		*udp_port_range;
	int		 udp_flow_timeout;
	char		*authorized_keys;
	char		*database;
	int		 proxy_protocol;
	int		 idle_timeout;
	char		*events_log;		/* "" = off */
	int		 events_retention_days;	/* 0 = any age */
	int		 events_max_rows;	/* 0 = no copy in the database */
	char		*control_socket;	/* "" = off */
	char		*metrics_listen;	/* "" = off */
	char		*api_listen;		/* "" = off */
	char		*api_tls_cert;		/* "" = plain HTTP (loopback only) */
	char		*api_tls_key;
	char		*ciphers;
	int		 log_level;
	int		 syslog_facility;	/* index into the facility choices; 0 = off */
	int		 workers;
	int		 login_grace_time;
	int		 client_alive_interval;
	int		 client_alive_count_max;
	int		 max_auth_tries;
	struct conf_startups max_startups;
	int		 max_startups_per_source;
	int		 source_prefix6;	/* bits of an IPv6 address that make one source */
	int		 ssh_rate;
	int		 ssh_burst;
	int		 max_sessions;
	int		 max_tunnels;
	int		 max_connections;
	int		 max_connections_per_tunnel;
	int		 max_buffered_mib;
	int		 conn_rate;
	int		 conn_burst;
	char		*allow_cidr;
	char		*deny_cidr;
	int		 channel_open_timeout;
	int		 drain_timeout;
	char		*user;

	/* Derived by conf_finish(). */
	int		 port_min;
	int		 port_max;
	int		 udp_port_min;		/* udp_port_range */
	int		 udp_port_max;
	size_t		 max_buffered;		/* max_buffered_mib in bytes */
	char		*path;			/* the file loaded, absolute; NULL for defaults */
	char		*dir;			/* its folder: relative paths resolve here */
};

enum conf_type {
	CONF_BOOL,
	CONF_INT,
	CONF_STRING,
	CONF_PATH,		/* a string; relative values resolve against the file's folder */
	CONF_CHOICE,		/* a string from a fixed set, stored as its index */
	CONF_LIST,		/* an array of strings */
	CONF_PATH_LIST,		/* an array of paths */
	CONF_STARTUPS,		/* a number, or a string "start:rate:full" (struct conf_startups) */
};

/* One option: its name, type, where it lives in struct conf, default, bounds and help. */
struct conf_option {
	const char	 *name;
	enum conf_type	  type;
	size_t		  offset;
	long long	  def_num;		/* BOOL, INT, CHOICE */
	const char	 *def_str;		/* STRING, PATH, STARTUPS */
	const char *const *def_list;		/* LIST, PATH_LIST: NULL-terminated */
	long long	  min;			/* INT, STARTUPS bounds; LIST: fewest entries */
	long long	  max;			/* INT, STARTUPS bounds; LIST: most entries */
	const char *const *choices;		/* CHOICE: NULL-terminated */
	int		(*check)(const char *, char **);	/* STRING and list items */
	const char	 *help;
};

extern const struct conf_option conf_table[];
extern const size_t conf_table_size;

struct conf	*conf_create(void);
void		 conf_free(struct conf *);
int		 conf_load(struct conf *, const char *, char **);
int		 conf_finish(struct conf *, char **);
const struct conf_option *conf_find(const char *);
void		 conf_print(FILE *, const struct conf *, int);
char		*conf_value_string(const struct conf *, const struct conf_option *);
const char	*conf_choice_name(const char *, int);
int		 conf_syslog_facility(const struct conf *);

int		 conf_split_endpoint(const char *, char **, int *);
int		 conf_endpoint_loopback(const char *);
int		 conf_check_endpoint(const char *, char **);
int		 conf_check_endpoint_or_off(const char *, char **);
int		 conf_check_address(const char *, char **);
int		 conf_check_port_range(const char *, char **);
int		 conf_check_ciphers(const char *, char **);
int		 conf_check_host_name(const char *, char **);
int		 conf_check_node_name(const char *, char **);
int		 conf_check_cidrs(const char *, char **);
int		 conf_check_user(const char *, char **);
int		 conf_parse_port_range(const char *, int *, int *);
int		 conf_parse_startups(const char *, const struct conf_option *,
		    struct conf_startups *, char **);
const char	*conf_default_ciphers(void);

#endif
