/* SPDX-License-Identifier: ISC */
/*
 * tunnelgw: unit tests of the control socket: its mode and folder rules, stale sockets, a
 * second daemon, and the request/answer exchange with tunnelgwctl's side.
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <errno.h>
#include <event2/event.h>
#include <signal.h>

#include "control.h"
#include "tg_test.h"

/* Path of the socket in the test folder, in a static buffer. */
static const char *
sock_path(const char *dir)
{
	static char	 path[128];

	snprintf(path, sizeof path, "%s/tunnelgw.sock", dir);
	return path;
}

/* Run base until the child exits; return its exit status. */
static int
serve_until_exit(struct event_base *base, pid_t pid)
{
	int	 status, i;

	for (i = 0; i < 2000; i++) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			return WIFEXITED(status) ? WEXITSTATUS(status) : 99;
		event_base_loop(base, EVLOOP_NONBLOCK);
		usleep(5000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	return 98;
}

/* In a child: send raw bytes on the socket and compare the whole reply with want's start. */
static int
raw_exchange(const char *path, const char *send_, size_t len, int shut, const char *want)
{
	struct sockaddr_un	 sun;
	char			 buf[4096];
	size_t			 got = 0;
	ssize_t			 n;
	int			 fd;

	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	strcpy(sun.sun_path, path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM, 0)) == -1 ||
	    connect(fd, (struct sockaddr *)&sun, sizeof sun) == -1 ||
	    write(fd, send_, len) != (ssize_t)len)
		return 2;
	if (shut)
		shutdown(fd, SHUT_WR);
	while (got < sizeof buf - 1 && (n = read(fd, buf + got, sizeof buf - 1 - got)) > 0)
		got += (size_t)n;
	buf[got] = '\0';
	close(fd);
	return strncmp(buf, want, strlen(want)) == 0 ? 0 : 1;
}

/* The socket is made with mode 0600, answers tunnels, and is removed when freed. */
START_TEST(test_open_query_free)
{
	struct event_base	*base = event_base_new();
	struct control		*ctl;
	struct stat		 sb;
	const char		*dir = tg_tmpdir(), *path = sock_path(dir);
	char			*cause = NULL, *answer = NULL;
	pid_t			 pid;

	ctl = control_open(base, path, &cause);
	ck_assert_msg(ctl != NULL, "%s", cause);
	ck_assert_int_eq(lstat(path, &sb), 0);
	ck_assert(S_ISSOCK(sb.st_mode));
	ck_assert_int_eq(sb.st_mode & 0777, 0600);
	if ((pid = fork()) == 0)
		_exit(control_query(path, "tunnels --json", &answer, &cause) == 0 &&
		    strcmp(answer, "[]\n") == 0 ? 0 : 1);
	ck_assert_int_eq(serve_until_exit(base, pid), 0);
	if ((pid = fork()) == 0)
		_exit(control_query(path, "tunnels", &answer, &cause) == 0 &&
		    strncmp(answer, "URL ", 4) == 0 ? 0 : 1);
	ck_assert_int_eq(serve_until_exit(base, pid), 0);
	if ((pid = fork()) == 0)
		_exit(control_query(path, "frobnicate", &answer, &cause) == -1 &&
		    strstr(cause, "refused: unknown request") != NULL ? 0 : 1);
	ck_assert_int_eq(serve_until_exit(base, pid), 0);
	control_free(ctl);
	ck_assert_int_eq(lstat(path, &sb), -1);
	ck_assert_int_eq(errno, ENOENT);
	event_base_free(base);
	tg_cleanup();
}
END_TEST

/* CRLF, a request cut short by EOF, and a request over the size limit. */
START_TEST(test_request_forms)
{
	struct event_base	*base = event_base_new();
	struct control		*ctl;
	const char		*dir = tg_tmpdir(), *path = sock_path(dir);
	char			*cause = NULL, big[1000];
	pid_t			 pid;

	ctl = control_open(base, path, &cause);
	ck_assert_msg(ctl != NULL, "%s", cause);
	if ((pid = fork()) == 0)
		_exit(raw_exchange(path, "tunnels\r\n", 9, 0, "OK\nURL "));
	ck_assert_int_eq(serve_until_exit(base, pid), 0);
	if ((pid = fork()) == 0)
		_exit(raw_exchange(path, "tunnels --json", 14, 1, "OK\n[]"));
	ck_assert_int_eq(serve_until_exit(base, pid), 0);
	memset(big, 'x', sizeof big);
	if ((pid = fork()) == 0)
		_exit(raw_exchange(path, big, sizeof big, 0, "ERR the request is not one line"));
	ck_assert_int_eq(serve_until_exit(base, pid), 0);
	control_free(ctl);
	event_base_free(base);
	tg_cleanup();
}
END_TEST

/*
 * In a child: send len bytes (and LF if nl) and read the whole reply; 0 when it starts with
 * want and ends in a clean EOF, 1 on a wrong reply, 3 when the connection was reset.
 */
static int
clean_exchange(const char *path, size_t len, int nl, const char *want)
{
	struct sockaddr_un	 sun;
	char			 buf[4096], *req;
	size_t			 got = 0;
	ssize_t			 n;
	int			 fd;

	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	strcpy(sun.sun_path, path);
	if ((req = malloc(len + 1)) == NULL)
		return 2;
	memset(req, 'x', len);
	req[len] = '\n';
	if ((fd = socket(AF_UNIX, SOCK_STREAM, 0)) == -1 ||
	    connect(fd, (struct sockaddr *)&sun, sizeof sun) == -1 ||
	    write(fd, req, len + (nl ? 1 : 0)) != (ssize_t)(len + (nl ? 1 : 0)))
		return 2;
	free(req);
	/* Give the daemon time to answer and close before we read anything. */
	usleep(200000);
	while ((n = read(fd, buf + got, sizeof buf - 1 - got)) > 0 && got < sizeof buf - 1)
		got += (size_t)n;
	if (n == -1)
		return errno == ECONNRESET ? 3 : 2;
	buf[got] = '\0';
	close(fd);
	return strncmp(buf, want, strlen(want)) == 0 ? 0 : 1;
}

/*
 * Requests of 257 bytes and more are answered with the ERR line and a clean close, not a
 * reset: the rest of the line is read and dropped (issue 12).
 */
START_TEST(test_long_request_clean_close)
{
	struct event_base	*base = event_base_new();
	struct control		*ctl;
	const char		*dir = tg_tmpdir(), *path = sock_path(dir);
	static const size_t	 sizes[] = { 257, 258, 300, 1000, 60000 };
	char			*cause = NULL;
	size_t			 i;
	pid_t			 pid;

	ctl = control_open(base, path, &cause);
	ck_assert_msg(ctl != NULL, "%s", cause);
	for (i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
		if ((pid = fork()) == 0)
			_exit(clean_exchange(path, sizes[i], 1,
			    "ERR the request is not one line of at most 256 bytes\n"));
		ck_assert_msg(serve_until_exit(base, pid) == 0, "%zu bytes: reset or wrong reply",
		    sizes[i]);
	}
	if ((pid = fork()) == 0)
		_exit(clean_exchange(path, 256, 1, "ERR unknown request"));
	ck_assert_int_eq(serve_until_exit(base, pid), 0);
	if ((pid = fork()) == 0)
		_exit(clean_exchange(path, 257, 0, "ERR the request is not one line"));
	ck_assert_int_eq(serve_until_exit(base, pid), 0);
	control_free(ctl);
	event_base_free(base);
	tg_cleanup();
}
END_TEST

/* A stale socket is replaced; a live one, or a file that is no socket, stops the start. */
START_TEST(test_stale_and_live)
{
	struct event_base	*base = event_base_new();
	struct control		*ctl, *second;
	struct sockaddr_un	 sun;
	const char		*dir = tg_tmpdir(), *path = sock_path(dir);
	char			*cause = NULL;
	int			 fd;

	/* A socket bound and closed without unlinking: what kill -9 leaves. */
	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	strcpy(sun.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sun, sizeof sun), 0);
	close(fd);
	ctl = control_open(base, path, &cause);
	ck_assert_msg(ctl != NULL, "a stale socket stopped the start: %s", cause);

	second = control_open(base, path, &cause);
	ck_assert_ptr_null(second);
	ck_assert_ptr_nonnull(strstr(cause, "another tunnelgw is running"));
	free(cause);
	cause = NULL;
	control_free(ctl);

	free(tg_write(dir, "tunnelgw.sock", "not a socket\n"));
	ck_assert_ptr_null(control_open(base, path, &cause));
	ck_assert_ptr_nonnull(strstr(cause, "is not a socket"));
	free(cause);
	event_base_free(base);
	tg_cleanup();
}
END_TEST

/* A folder others may write is refused; so is a path too long for a Unix socket. */
START_TEST(test_folder_rules)
{
	struct event_base	*base = event_base_new();
	const char		*dir = tg_tmpdir();
	char			*cause = NULL, *path, longpath[200];

	ck_assert_int_ne(asprintf(&path, "%s/open", dir), -1);
	ck_assert_int_eq(mkdir(path, 0700), 0);
	ck_assert_int_eq(chmod(path, 0777), 0);
	free(path);
	ck_assert_int_ne(asprintf(&path, "%s/open/tunnelgw.sock", dir), -1);
	ck_assert_ptr_null(control_open(base, path, &cause));
	ck_assert_ptr_nonnull(strstr(cause, "others may write folder"));
	free(cause);
	cause = NULL;
	free(path);

	memset(longpath, 'a', sizeof longpath - 1);
	longpath[0] = '/';
	longpath[sizeof longpath - 1] = '\0';
	ck_assert_ptr_null(control_open(base, longpath, &cause));
	ck_assert_ptr_nonnull(strstr(cause, "the path is longer than"));
	free(cause);
	event_base_free(base);
	tg_cleanup();
}
END_TEST

/* tunnelgwctl's side with no daemon: one clear message naming the socket. */
START_TEST(test_unreachable)
{
	const char	*dir = tg_tmpdir(), *path = sock_path(dir);
	char		*cause = NULL, *answer = NULL, *want;

	ck_assert_int_eq(control_query(path, "tunnels", &answer, &cause), -1);
	ck_assert_int_ne(asprintf(&want, "cannot reach the daemon at %s: No such file or directory",
	    path), -1);
	ck_assert_str_eq(cause, want);
	free(want);
	free(cause);
	cause = NULL;
	ck_assert_int_eq(control_query("", "tunnels", &answer, &cause), -1);
	ck_assert_ptr_nonnull(strstr(cause, "the control socket is off"));
	free(cause);
	tg_cleanup();
}
END_TEST

/* The control suite. */
static Suite *
control_suite(void)
{
	Suite	*s = suite_create("control");
	TCase	*tc = tcase_create("control");

	tcase_add_test(tc, test_open_query_free);
	tcase_add_test(tc, test_request_forms);
	tcase_add_test(tc, test_long_request_clean_close);
	tcase_add_test(tc, test_stale_and_live);
	tcase_add_test(tc, test_folder_rules);
	tcase_add_test(tc, test_unreachable);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return tg_run(control_suite());
}
