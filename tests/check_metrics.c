/* SPDX-License-Identifier: ISC */
/* tunnelgw: unit tests of the metrics: the text format, refusal reasons, lasting totals. */
#include "config.h"

#include <regex.h>

#include "metrics.h"
#include "registry.h"
#include "tg_test.h"

/* The value of the series named exactly series (name and labels) in text, or -1. */
static long long
series_value(const char *text, const char *series)
{
	const char	*p = text;
	size_t		 len = strlen(series);

	while ((p = strstr(p, series)) != NULL) {
		if ((p == text || p[-1] == '\n') && p[len] == ' ')
			return strtoll(p + len + 1, NULL, 10);
		p += len;
	}
	return -1;
}

/* Every line is a comment or "name{labels} value", and every documented series is there. */
START_TEST(test_format)
{
	static const char *const names[] = {
		"tunnelgw_sessions", "tunnelgw_tunnels", "tunnelgw_connections",
		"tunnelgw_connections_total", "tunnelgw_bytes_in_total", "tunnelgw_bytes_out_total",
		"tunnelgw_auth_failures_total", "tunnelgw_refusals_total{reason=\"port_in_use\"}",
		"tunnelgw_refusals_total{reason=\"other\"}", NULL
	};
	regex_t	 re;
	char	*text, *copy, *line, *p;
	int	 i, lines = 0;

	ck_assert_int_eq(regcomp(&re, "^[a-zA-Z_:][a-zA-Z0-9_:]*"
	    "(\\{[a-zA-Z_][a-zA-Z0-9_]*=\"[^\"\\\\]*\"(,[a-zA-Z_][a-zA-Z0-9_]*=\"[^\"\\\\]*\")*\\})?"
	    " [0-9]+$", REG_EXTENDED | REG_NOSUB), 0);
	text = metrics_format();
	ck_assert_int_eq(text[strlen(text) - 1], '\n');
	copy = p = strdup(text);
	while ((line = strsep(&p, "\n")) != NULL) {
		if (*line == '\0' || strncmp(line, "# HELP ", 7) == 0 ||
		    strncmp(line, "# TYPE ", 7) == 0)
			continue;
		ck_assert_msg(regexec(&re, line, 0, NULL, 0) == 0, "bad line: %s", line);
		lines++;
	}
	ck_assert_int_ge(lines, 9);
	for (i = 0; names[i] != NULL; i++)
		ck_assert_msg(series_value(text, names[i]) >= 0, "missing %s", names[i]);
	free(copy);
	free(text);
	regfree(&re);
}
END_TEST

/* A refusal counts under its reason; an unknown reason counts as "other". */
START_TEST(test_refusals)
{
	char	*text;

	ck_assert_uint_eq(metrics_refusals(REFUSAL_PORT_IN_USE), 0);
	metrics_count_refusal(REFUSAL_PORT_IN_USE);
	metrics_count_refusal(REFUSAL_PORT_IN_USE);
	metrics_count_refusal((enum refusal)1000);
	metrics_count_refusal(REFUSAL_NONE);
	ck_assert_uint_eq(metrics_refusals(REFUSAL_PORT_IN_USE), 2);
	ck_assert_uint_eq(metrics_refusals(REFUSAL_OTHER), 2);
	text = metrics_format();
	ck_assert_int_eq(series_value(text, "tunnelgw_refusals_total{reason=\"port_in_use\"}"), 2);
	ck_assert_int_eq(series_value(text, "tunnelgw_refusals_total{reason=\"other\"}"), 2);
	ck_assert_ptr_null(strstr(text, "reason=\"none\""));
	ck_assert_int_eq(series_value(text, "tunnelgw_refusals_total{reason=\"bad_address\"}"), 0);
	free(text);
}
END_TEST

/* Connection and byte totals outlive the tunnels that made them; the gauges do not. */
START_TEST(test_totals)
{
	struct registry_totals	 t;
	struct reg_tunnel	*a, *b, *conn;
	char			*text;

	a = registry_add("alice", "tcp://gw:1", "localhost:0", 1, -1);
	b = registry_add("bob", "tcp://gw:2", "localhost:0", 2, -1);
	ck_assert_ptr_nonnull(a);
	ck_assert_ptr_nonnull(b);
	conn = registry_hold(a);
	registry_conn(conn, 1);
	registry_bytes(conn, 1000, 250);
	registry_totals(&t);
	ck_assert_uint_eq(t.tunnels, 2);
	ck_assert_uint_eq(t.conns, 1);
	ck_assert_uint_eq(t.conns_total, 1);
	ck_assert_uint_eq(t.bytes_in, 1000);
	ck_assert_uint_eq(t.bytes_out, 250);

	registry_remove(a);	/* the tunnel closes; its connection carries on */
	registry_bytes(conn, 1, 2);
	registry_conn(conn, -1);
	registry_release(conn);
	registry_remove(b);
	registry_totals(&t);
	ck_assert_uint_eq(t.tunnels, 0);
	ck_assert_uint_eq(t.conns, 0);
	ck_assert_uint_eq(t.conns_total, 1);
	ck_assert_uint_eq(t.bytes_in, 1001);
	ck_assert_uint_eq(t.bytes_out, 252);
	text = metrics_format();
	ck_assert_int_eq(series_value(text, "tunnelgw_tunnels"), 0);
	ck_assert_int_eq(series_value(text, "tunnelgw_connections"), 0);
	ck_assert_int_eq(series_value(text, "tunnelgw_connections_total"), 1);
	ck_assert_int_eq(series_value(text, "tunnelgw_bytes_in_total"), 1001);
	ck_assert_int_eq(series_value(text, "tunnelgw_bytes_out_total"), 252);
	free(text);
}
END_TEST

/* The metrics suite. */
static Suite *
metrics_suite(void)
{
	Suite	*s = suite_create("metrics");
	TCase	*tc = tcase_create("metrics");

	tcase_add_test(tc, test_format);
	tcase_add_test(tc, test_refusals);
	tcase_add_test(tc, test_totals);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return tg_run(metrics_suite());
}
