/* SPDX-License-Identifier: ISC */
/* tunnelgw: unit tests of events: JSON escaping and bounds, the events log, the store's copy. */
#include "config.h"

#include <sys/stat.h>

#include <limits.h>
#include <stdint.h>

#include "conf.h"
#include "events.h"
#include "json.h"
#include "store.h"
#include "xmalloc.h"
#include "tg_test.h"

/* Escape s into a buffer of size bytes and check the result is want. */
static void
escaped(const char *s, size_t size, const char *want)
{
	char	*buf = xmalloc(size);
	size_t	 len;

	len = json_quote_into(buf, size, s);
	ck_assert_str_eq(buf, want);
	ck_assert_uint_eq(len, strlen(want));
	ck_assert_uint_lt(len, size);
	free(buf);
}

/* Quotes, backslashes and control characters are escaped; the rest is kept. */
START_TEST(test_json_escape)
{
	escaped("alice", 64, "\"alice\"");
	escaped("", 64, "\"\"");
	escaped("a\"b\\c", 64, "\"a\\\"b\\\\c\"");
	escaped("l1\nl2\r\t", 64, "\"l1\\nl2\\r\\t\"");
	escaped("\x01\x1f\x7f", 64, "\"\\u0001\\u001f\\u007f\"");
	escaped("tcp://127.0.0.1:2000", 64, "\"tcp://127.0.0.1:2000\"");
}
END_TEST

/* Valid UTF-8 is kept whole; bytes that are not UTF-8 become U+FFFD. */
START_TEST(test_json_utf8)
{
	escaped("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", 64,
	    "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"");
	escaped("a\xff" "b", 64, "\"a\\ufffdb\"");
	escaped("\xc3", 64, "\"\\ufffd\"");			/* cut short */
	escaped("\xc0\xaf", 64, "\"\\ufffd\\ufffd\"");		/* overlong */
	escaped("\xed\xa0\x80", 64, "\"\\ufffd\\ufffd\\ufffd\"");	/* a surrogate */
}
END_TEST

/* What does not fit is cut between characters and marked with "...". */
START_TEST(test_json_truncate)
{
	char	*big, buf[EVENTS_FIELD_MAX];
	size_t	 len;

	escaped("abcdef", 9, "\"abcdef\"");		/* exactly fits: 8 and a NUL */
	escaped("abcdefg", 9, "\"abc...\"");
	escaped("abcdefg", 6, "\"...\"");
	escaped("ab\"cdefgh", 9, "\"ab...\"");		/* \" would not fit before the "..." */
	escaped("ab\"cdefgh", 10, "\"ab\\\"...\"");
	escaped("a\xe2\x82\xac" "bcdefgh", 9, "\"a...\"");	/* nor would the euro sign */
	escaped("a\xe2\x82\xac" "bcdefgh", 10, "\"a\xe2\x82\xac...\"");
	escaped("\x01\x01\x01\x01", 16, "\"\\u0001...\"");
	ck_assert_uint_eq(json_quote_into(buf, 5, "x"), 0);
	ck_assert_str_eq(buf, "");

	/* A long hostile string stays within the field's bound, and is a whole JSON string. */
	big = xmalloc(100001);
	memset(big, '\n', 100000);
	big[100000] = '\0';
	len = json_quote_into(buf, sizeof buf, big);
	ck_assert_uint_lt(len, sizeof buf);
	ck_assert_int_eq(buf[0], '"');
	ck_assert_int_eq(buf[len - 1], '"');
	ck_assert_int_eq(memcmp(buf + len - 4, "...", 3), 0);
	ck_assert_ptr_null(strchr(buf, '\n'));
	free(big);
}
END_TEST

/* A configuration with events_log at path ("" for none) and the store's copy bounded. */
static struct conf *
events_conf(const char *path, int days, int max_rows)
{
	struct conf	*c = conf_create();

	free(c->events_log);
	c->events_log = xstrdup(path);
	c->events_retention_days = days;
	c->events_max_rows = max_rows;
	return c;
}

/* Read a whole file into a new string. */
static char *
slurp(const char *path)
{
	FILE	*fp;
	char	*buf;
	long	 size;

	fp = fopen(path, "rb");
	ck_assert_ptr_nonnull(fp);
	ck_assert_int_eq(fseek(fp, 0, SEEK_END), 0);
	size = ftell(fp);
	rewind(fp);
	buf = xmalloc((size_t)size + 1);
	ck_assert_uint_eq(fread(buf, 1, (size_t)size, fp), (size_t)size);
	buf[size] = '\0';
	fclose(fp);
	return buf;
}

/* Count the lines of s, each shorter than PIPE_BUF. */
static int
lines(const char *s)
{
	const char	*nl;
	int		 n = 0;

	for (; (nl = strchr(s, '\n')) != NULL; s = nl + 1) {
		ck_assert_uint_lt((size_t)(nl - s + 1), PIPE_BUF);
		ck_assert_int_eq(*s, '{');
		ck_assert_int_eq(nl[-1], '}');
		n++;
	}
	ck_assert_str_eq(s, "");	/* nothing after the last newline */
	return n;
}

/* A connection that ended, for the tests. */
static void
connection(const char *account, uint64_t in, uint64_t out)
{
	struct events_connection	 c = {
		.account = account, .url = "tcp://gw.test:20001", .client = "127.0.0.1:40000",
		.reason = "closed", .bytes_in = in, .bytes_out = out, .duration_ms = 12,
	};

	events_connection_closed(&c);
}

/* Each event is one line with its fields; hostile values stay on their line, bounded. */
START_TEST(test_log_lines)
{
	const char		*dir = tg_tmpdir();
	struct events_tunnel	 t = {
		.account = "alice", .url = "tcp://gw.test:20001", .target = "localhost:80",
		.session = 7, .duration_ms = 1500, .connections = 2,
	};
	struct conf		*c;
	struct stat		 sb;
	char			*path, *text, *huge, *cause = NULL;

	ck_assert_int_ne(asprintf(&path, "%s/events.jsonl", dir), -1);
	c = events_conf(path, 30, 0);
	ck_assert_msg(events_open(c, &cause) == 0, "%s", cause);
	ck_assert_int_eq(stat(path, &sb), 0);
	ck_assert_int_eq(sb.st_mode & 0022, 0);	/* 0640 less the umask: never world-writable */
	events_tunnel_opened(&t);
	connection("alice", 1000, 2000);
	huge = xmalloc(20001);
	memset(huge, '"', 20000);
	huge[20000] = '\0';
	connection(huge, 1, 2);
	events_tunnel_closed(&t);
	events_close(NULL);
	text = slurp(path);
	ck_assert_int_eq(lines(text), 4);
	ck_assert_msg(strstr(text, "{\"event\":\"tunnel_opened\",\"time\":\"") == text, "%s", text);
	ck_assert_ptr_nonnull(strstr(text, "\"account\":\"alice\",\"url\":\"tcp://gw.test:20001\","
	    "\"target\":\"localhost:80\",\"session\":7}\n"));
	ck_assert_ptr_nonnull(strstr(text, "{\"event\":\"tcp_connection_closed\",\"time\":\""));
	ck_assert_ptr_nonnull(strstr(text, "\"account\":\"alice\",\"url\":\"tcp://gw.test:20001\","
	    "\"client\":\"127.0.0.1:40000\",\"bytes_in\":1000,\"bytes_out\":2000,"
	    "\"duration_ms\":12,\"reason\":\"closed\"}\n"));
	ck_assert_ptr_nonnull(strstr(text, "\"session\":7,\"duration_ms\":1500,"
	    "\"connections\":2}\n"));
	ck_assert_ptr_nonnull(strstr(text, "\\\"\\\"...\",\"url\""));	/* the cut account */
	free(text);
	free(huge);
	free(path);
	conf_free(c);
}
END_TEST

/* A folder that does not exist is a clear error, and nothing is created. */
START_TEST(test_missing_folder)
{
	const char	*dir = tg_tmpdir();
	struct conf	*c;
	char		*path, *cause = NULL;

	ck_assert_int_ne(asprintf(&path, "%s/nope/events.jsonl", dir), -1);
	c = events_conf(path, 30, 100);
	ck_assert_int_eq(events_open(c, &cause), -1);
	ck_assert_ptr_nonnull(cause);
	ck_assert_ptr_nonnull(strstr(cause, "events_log "));
	ck_assert_ptr_nonnull(strstr(cause, "No such file or directory (its folder must exist)"));
	events_close(NULL);
	free(cause);
	free(path);
	conf_free(c);
}
END_TEST

/* After the file is renamed, events_reopen() makes a new one for the next lines. */
START_TEST(test_reopen)
{
	const char	*dir = tg_tmpdir();
	struct conf	*c;
	char		*path, *old, *text, *cause = NULL;

	ck_assert_int_ne(asprintf(&path, "%s/events.jsonl", dir), -1);
	ck_assert_int_ne(asprintf(&old, "%s/events.jsonl.1", dir), -1);
	c = events_conf(path, 30, 0);
	ck_assert_msg(events_open(c, &cause) == 0, "%s", cause);
	connection("alice", 1, 1);
	ck_assert_int_eq(rename(path, old), 0);
	connection("bob", 2, 2);
	ck_assert_msg(events_reopen(&cause) == 0, "%s", cause);
	connection("carol", 3, 3);
	events_close(NULL);
	text = slurp(old);
	ck_assert_int_eq(lines(text), 2);
	ck_assert_ptr_null(strstr(text, "carol"));
	free(text);
	text = slurp(path);
	ck_assert_int_eq(lines(text), 1);
	ck_assert_ptr_nonnull(strstr(text, "\"account\":\"carol\""));
	free(text);
	free(old);
	free(path);
	conf_free(c);
}
END_TEST

/* Queued events reach the store in one flush, trimmed to events_max_rows, newest first. */
START_TEST(test_store_copy)
{
	const char		*dir = tg_tmpdir();
	struct store_event	**v;
	struct store		*st;
	struct conf		*c;
	char			*db, *cause = NULL;
	size_t			 n;

	ck_assert_int_ne(asprintf(&db, "%s/tunnelgw.db", dir), -1);
	st = store_open(db, 1000, &cause);
	ck_assert_msg(st != NULL, "%s", cause);
	c = events_conf("", 30, 3);
	ck_assert_int_eq(events_open(c, &cause), 0);
	connection("alice", 1, 10);
	connection("bob", 2, 20);
	ck_assert_int_eq(store_event_list(st, NULL, 50, &v, &n, &cause), 0);
	ck_assert_uint_eq(n, 0);	/* nothing before the flush */
	store_event_list_free(v, n);
	events_flush(st);
	connection("alice", 3, 30);
	connection("bob", 4, 40);
	connection("alice", 5, 50);
	events_flush(st);
	ck_assert_int_eq(store_event_list(st, NULL, 50, &v, &n, &cause), 0);
	ck_assert_uint_eq(n, 3);
	ck_assert_int_eq(v[0]->bytes_in, 5);
	ck_assert_int_eq(v[0]->bytes_out, 50);
	ck_assert_int_eq(v[0]->duration_ms, 12);
	ck_assert_str_eq(v[0]->event, "tcp_connection_closed");
	ck_assert_str_eq(v[0]->client, "127.0.0.1:40000");
	ck_assert_str_eq(v[0]->url, "tcp://gw.test:20001");
	ck_assert_str_eq(v[0]->detail, "{\"reason\":\"closed\"}");
	ck_assert_int_eq(v[2]->bytes_in, 3);
	store_event_list_free(v, n);
	ck_assert_int_eq(store_event_list(st, "alice", 1, &v, &n, &cause), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(v[0]->account, "alice");
	ck_assert_int_eq(v[0]->bytes_in, 5);
	store_event_list_free(v, n);
	events_close(st);
	store_close(st);
	free(db);
	conf_free(c);
}
END_TEST

/* A full queue drops and counts; events_max_rows 0 keeps nothing in the store. */
START_TEST(test_queue_bound)
{
	const char		*dir = tg_tmpdir();
	struct store_event	**v;
	struct store		*st;
	struct conf		*c;
	unsigned long long	 lost, dropped;
	char			*db, *cause = NULL;
	size_t			 n;
	int			 i;

	ck_assert_int_ne(asprintf(&db, "%s/tunnelgw.db", dir), -1);
	st = store_open(db, 1000, &cause);
	ck_assert_msg(st != NULL, "%s", cause);
	c = events_conf("", 0, 100000);
	ck_assert_int_eq(events_open(c, &cause), 0);
	for (i = 0; i < EVENTS_QUEUE_MAX + 5; i++)
		connection("alice", (uint64_t)i, 0);
	events_counts(&lost, &dropped);
	ck_assert_uint_eq(lost, 0);
	ck_assert_uint_eq(dropped, 5);
	events_flush(st);
	ck_assert_int_eq(store_event_list(st, NULL, 1, &v, &n, &cause), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_int_eq(v[0]->bytes_in, EVENTS_QUEUE_MAX - 1);	/* the newest kept */
	store_event_list_free(v, n);
	events_close(st);
	conf_free(c);

	c = events_conf("", 0, 0);
	ck_assert_int_eq(events_open(c, &cause), 0);
	connection("bob", 1, 1);
	events_flush(st);
	events_close(st);
	ck_assert_int_eq(store_event_list(st, "bob", 10, &v, &n, &cause), 0);
	ck_assert_uint_eq(n, 0);
	store_event_list_free(v, n);
	store_close(st);
	free(db);
	conf_free(c);
}
END_TEST

/* The events suite. */
static Suite *
events_suite(void)
{
	Suite	*s = suite_create("events");
	TCase	*tc = tcase_create("events");

	tcase_add_checked_fixture(tc, NULL, tg_cleanup);
	tcase_add_test(tc, test_json_escape);
	tcase_add_test(tc, test_json_utf8);
	tcase_add_test(tc, test_json_truncate);
	tcase_add_test(tc, test_log_lines);
	tcase_add_test(tc, test_missing_folder);
	tcase_add_test(tc, test_reopen);
	tcase_add_test(tc, test_store_copy);
	tcase_add_test(tc, test_queue_bound);
	suite_add_tcase(s, tc);
	return s;
}

/* Run the events tests. */
int
main(void)
{
	return tg_run(events_suite());
}
