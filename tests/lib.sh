# tunnelgw: helpers for the scenario tests (sourced by bash).
# Each test runs in its own temporary folder, removed at exit; daemons it started are stopped.
set -eu

: "${TUNNELGW:?run the scenario tests through make check}"
TG_TMP=$(mktemp -d /tmp/tg-scenario-XXXXXX)
TG_PIDS=""
TG_CHECKS=0
TG_NAME=$(basename "$0" .sh)

tg_cleanup() {
	local pid
	for pid in $TG_PIDS; do
		kill "$pid" 2>/dev/null || true
	done
	for pid in $TG_PIDS; do
		wait "$pid" 2>/dev/null || true
	done
	rm -rf "$TG_TMP"
}
trap tg_cleanup EXIT

# fail MESSAGE: report a failed assertion and stop the test.
fail() {
	echo "FAIL: $TG_NAME: $*" >&2
	exit 1
}

# ok MESSAGE: count and report a passed assertion.
ok() {
	TG_CHECKS=$((TG_CHECKS + 1))
	echo "ok $TG_CHECKS - $*"
}

# done_testing: end a test, which must have asserted something.
done_testing() {
	[ "$TG_CHECKS" -gt 0 ] || fail "no assertion ran"
	echo "$TG_NAME: $TG_CHECKS checks passed"
}

# expect_status WANT CMD...: run CMD, capture stdout/stderr in $TG_OUT/$TG_ERR, check the status.
expect_status() {
	local want=$1 got
	shift
	set +e
	"$@" >"$TG_TMP/out" 2>"$TG_TMP/err"
	got=$?
	set -e
	TG_OUT=$(cat "$TG_TMP/out")
	TG_ERR=$(cat "$TG_TMP/err")
	[ "$got" -eq "$want" ] || fail "'$*' exited $got, not $want; stderr: $TG_ERR"
}

# contains HAYSTACK NEEDLE WHAT: assert that a text holds a string.
contains() {
	case "$1" in
	*"$2"*) ok "$3" ;;
	*) fail "$3: '$2' not in: $1" ;;
	esac
}

# need_tool NAME HINT: put the path of the program NAME in $TG_TOOL, found on PATH or in
# /usr/sbin and /sbin (where Debian installs daemons such as haproxy and sshd, and which are
# not on an ordinary user's PATH); fail the test, with HINT, when it is nowhere.
need_tool() {
	local dir
	TG_TOOL=$(command -v "$1" 2>/dev/null) && return 0
	for dir in /usr/sbin /sbin; do
		if [ -x "$dir/$1" ] && [ ! -d "$dir/$1" ]; then
			TG_TOOL=$dir/$1
			return 0
		fi
	done
	fail "$1 is not installed, neither on PATH ($PATH) nor in /usr/sbin or /sbin${2:+ ($2)}"
}

# free_port: print a TCP port on 127.0.0.1 that nothing listens on right now.
free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# wait_for SECONDS CMD...: poll CMD every 20 ms until it succeeds or time runs out.
wait_for() {
	local limit=$(( $1 * 50 )) i=0
	shift
	while ! "$@" >/dev/null 2>&1; do
		i=$((i + 1))
		[ "$i" -lt "$limit" ] || return 1
		sleep 0.02
	done
}

# TG_TEST_PG: the folder of a test PostgreSQL server (tests/pgserver.sh, make check-postgresql).
# With it, every configuration write_conf writes names a database of that server instead of an
# SQLite file: the suite runs on PostgreSQL.
TG_PG_ADMIN=${TG_TEST_PG:+postgresql://tunnelgw@/postgres?host=$TG_TEST_PG}

# on_sqlite: true when the tests run on SQLite files (checks of the file itself need it).
on_sqlite() {
	[ -z "${TG_TEST_PG:-}" ]
}

# conf_database CONF: the database a configuration file names.
conf_database() {
	sed -n 's/^database *= *"\(.*\)";.*/\1/p' "$1"
}

# db_of CONF: the database of a configuration: its SQLite file (resolved as tunnelgw does) or
# its URI.
db_of() {
	local db
	db=$(conf_database "$1")
	db=${db:-tunnelgw.db}
	case "$db" in
	/* | postgresql://*) echo "$db" ;;
	*) echo "$(cd "$(dirname "$1")" && pwd)/$db" ;;
	esac
}

# db_dump CONF: everything the database of a configuration holds, as bytes to search.
db_dump() {
	local db
	db=$(db_of "$1")
	if on_sqlite; then
		cat "$db" "$db-wal" 2>/dev/null || true
	else
		pg_dump --data-only "$db"
	fi
}

# db_integrity CONF: "ok" when the database of a configuration is sound (SQLite's
# integrity_check; PostgreSQL checks its constraints itself: its one change counter).
db_integrity() {
	local db
	db=$(db_of "$1")
	if on_sqlite; then
		sqlite3 "$db" 'PRAGMA integrity_check'
	else
		[ "$(psql "$db" -qAtc 'SELECT count(*) FROM changes')" = 1 ] && echo ok
	fi
}

# pg_database FILE: the URI of this test's database for the SQLite file FILE, made when missing.
pg_database() {
	local name
	name=$(printf 'tg_%s_%s_%s' "$TG_NAME" "$(basename "$1" .db)" "$$" | tr -c 'a-zA-Z0-9_' _)
	name=${name:0:63}
	if [ -z "$(psql "$TG_PG_ADMIN" -qAtc "SELECT 1 FROM pg_database WHERE datname = '$name'")" ]
	then
		psql "$TG_PG_ADMIN" -qc "CREATE DATABASE $name" >/dev/null
	fi
	echo "postgresql://tunnelgw@/$name?host=$TG_TEST_PG"
}

# pg_conf_line LINE: LINE, or under TG_TEST_PG with a database server's URI for its database.
pg_conf_line() {
	local line=$1 file
	case "$line" in
	database*=*)
		if [ -n "${TG_TEST_PG:-}" ]; then
			file=$(printf '%s' "$line" | sed -n 's/^database *= *"\(.*\)";.*/\1/p')
			line="database = \"$(pg_database "${file:-tunnelgw.db}")\";"
		fi ;;
	esac
	printf '%s\n' "$line"
}

# write_conf FILE [EXTRA...]: a loopback configuration in FILE's folder, plus extra lines.
write_conf() {
	local file=$1
	shift
	TG_SSH_PORT=$(free_port)
	{
		echo "listen = [ \"127.0.0.1:$TG_SSH_PORT\" ];"
		case "$*" in *public_host*) ;; *) echo "public_host = \"127.0.0.1\";" ;; esac
		case "$*" in *public_bind*) ;; *) echo "public_bind = \"127.0.0.1\";" ;; esac
		for line in "$@"; do
			pg_conf_line "$line"
		done
		case "$*" in
		*database*) ;;
		*) on_sqlite || pg_conf_line 'database = "tunnelgw.db";' ;;
		esac
	} >"$file"
}

# start_gw CONF: start tunnelgw in the background, log in $TG_TMP/gw.log, wait until ready.
start_gw() {
	local conf=$1
	# Empty the log first: the background shell truncates it only when it gets to run, and
	# until then the wait below could read the previous run's "ready".
	: >"$TG_TMP/gw.log"
	"$TUNNELGW" -f "$conf" -v >"$TG_TMP/gw.log" 2>&1 &
	TG_GW_PID=$!
	TG_PIDS="$TG_PIDS $TG_GW_PID"
	wait_for 10 grep -q ': ready' "$TG_TMP/gw.log" || {
		cat "$TG_TMP/gw.log" >&2
		fail "tunnelgw did not become ready"
	}
}

# wait_gw: wait for the gateway to exit; its exit status goes to $TG_GW_RC.
wait_gw() {
	set +e
	wait "$TG_GW_PID"
	TG_GW_RC=$?
	set -e
}

# stop_gw: stop the gateway with SIGTERM and check that it exits 0.
stop_gw() {
	kill -TERM "$TG_GW_PID"
	wait_gw
	[ "$TG_GW_RC" -eq 0 ] || fail "tunnelgw exited $TG_GW_RC after SIGTERM"
}

# gw_alive [AFTER]: the gateway still runs, or the test fails with its log; with AFTER, that
# is also a check of its own, "the gateway still runs after AFTER".
gw_alive() {
	kill -0 "$TG_GW_PID" 2>/dev/null || {
		cat "$TG_TMP/gw.log" >&2
		fail "the gateway is gone${1:+ after $1}"
	}
	[ -z "${1:-}" ] || ok "the gateway still runs after $1"
}

# log_has TEXT WHAT: wait up to 5 s for TEXT in the gateway log, then assert it.
log_has() {
	wait_for 5 grep -qF -- "$1" "$TG_TMP/gw.log" ||
		fail "$2: '$1' not in the gateway log: $(cat "$TG_TMP/gw.log")"
	ok "$2"
}

# ctl ARGS...: tunnelgwctl with the test's configuration, $TG_TMP/gw.conf.
ctl() {
	"$TUNNELGWCTL" -f "$TG_TMP/gw.conf" "$@"
}

# one_error TEXT WHAT: after expect_status, stderr is exactly one line, "tunnelgwctl: " with
# TEXT in it.
one_error() {
	[ "$(printf '%s\n' "$TG_ERR" | wc -l)" -eq 1 ] || fail "$2: more than one line: $TG_ERR"
	case "$TG_ERR" in tunnelgwctl:\ *) ;; *) fail "$2: no 'tunnelgwctl: ' prefix: $TG_ERR" ;; esac
	contains "$TG_ERR" "$1" "$2"
}

# need_paramiko: fail unless Debian's python3, /usr/bin/python3, has paramiko (hostile.py,
# sshclients.py and the scripts some tests feed it need it).
need_paramiko() {
	/usr/bin/python3 -c 'import paramiko' 2>/dev/null ||
		fail "Debian's python3-paramiko is not installed (contrib/install-deps.sh installs it)"
}

# --- SSH scenarios --------------------------------------------------------------------------

TG_PY="python3 $top_srcdir/tests/tg.py"
export PYTHONDONTWRITEBYTECODE=1	# the scripts importing tg.py leave no __pycache__ in tests/
TG_SSH_OPTS="-F /dev/null -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
-o BatchMode=yes -o IdentitiesOnly=yes -o ConnectTimeout=10"

# gw_setup [EXTRA-CONF-LINES...]: a client key allowed in authorized_keys, and a running gateway.
gw_setup() {
	ssh-keygen -q -t ed25519 -N "" -C tunnelgw-test -f "$TG_TMP/client"
	cp "$TG_TMP/client.pub" "$TG_TMP/authorized_keys"
	write_conf "$TG_TMP/gw.conf" "workers = 2;" "$@"
	start_gw "$TG_TMP/gw.conf"
}

# start_ssh NAME SSH-ARGS...: run ssh against the gateway in the background; its output goes to
# $TG_TMP/NAME.out and NAME.err, its pid to $TG_LAST_PID. The key is $TG_KEY, if set, else
# $TG_TMP/client.
start_ssh() {
	local name=$1
	shift
	# shellcheck disable=SC2086
	ssh $TG_SSH_OPTS -i "${TG_KEY:-$TG_TMP/client}" -p "$TG_SSH_PORT" "$@" \
		>"$TG_TMP/$name.out" 2>"$TG_TMP/$name.err" </dev/null &
	TG_LAST_PID=$!
	TG_PIDS="$TG_PIDS $TG_LAST_PID"
}

# json_ok TEXT WHAT: TEXT is valid JSON.
json_ok() {
	printf '%s\n' "$1" | python3 -m json.tool >/dev/null || fail "$2: not JSON: $1"
	ok "$2"
}

# err_has NAME TEXT WHAT: wait up to 5 s for TEXT on the stderr of a background ssh.
err_has() {
	wait_for 5 grep -qF -- "$2" "$TG_TMP/$1.err" ||
		fail "$3: '$2' not in: $(cat "$TG_TMP/$1.err")"
	ok "$3"
}

# lines_at_least FILE PATTERN N: does FILE have N lines matching PATTERN.
lines_at_least() {
	[ "$(grep -c -- "$2" "$1" 2>/dev/null)" -ge "$3" ]
}

# allocated NAME [N]: wait for the Nth "Allocated port" line of an ssh and print the port.
allocated() {
	local n=${2:-1}
	wait_for 10 lines_at_least "$TG_TMP/$1.err" '^Allocated port' "$n" || {
		cat "$TG_TMP/$1.err" "$TG_TMP/gw.log" >&2
		fail "ssh $1 got no allocated port"
	}
	sed -n 's/^Allocated port \([0-9]*\) .*/\1/p' "$TG_TMP/$1.err" | sed -n "${n}p"
}

# start_service KIND [ARGS...]: start a tg.py service in the background, as
# `tg.py KIND PORTFILE ARGS...` (echo, reply-after-eof, greet, push BYTES, relay PORT MS), and
# wait for it to listen; its port goes to $TG_SVC. With $TG_SERVICE set, that command runs
# instead of tg.py, in the same form (sshclients.py greeter, flood.py blackhole, ppcapture.py
# serve).
start_service() {
	local portfile
	portfile=$(mktemp "$TG_TMP/service.XXXXXX")	# empty until the service renames its own over it
	${TG_SERVICE:-$TG_PY} "$1" "$portfile" "${@:2}" >"$portfile.log" 2>&1 &
	TG_PIDS="$TG_PIDS $!"
	wait_for 10 test -s "$portfile" || fail "the $1 service did not start: $(cat "$portfile.log")"
	TG_SVC=$(cat "$portfile")
}

# port_closed PORT: assert that nothing accepts connections on PORT any more.
port_closed() {
	$TG_PY closed "$1" >/dev/null
}

# not_opened PORT WHAT: a forward asking for PORT was refused: no request for PORT was granted,
# and, unless a -R 0 of this test drew PORT at random (a "granted: tcp://HOST:PORT" line in the
# log), nothing listens there.
not_opened() {
	! grep -q -- "forward '[^']*':$1 granted: " "$TG_TMP/gw.log" ||
		fail "$2: a request for port $1 was granted: $(grep -- "':$1 granted: " "$TG_TMP/gw.log")"
	if ! grep -q -- "granted: tcp://[^ ]*:$1\$" "$TG_TMP/gw.log"; then
		port_closed "$1" || fail "$2: port $1 accepts connections"
	fi
	ok "$2"
}

# Public port ranges in these tests stay below 32768, where Linux's ephemeral ports (the
# source ports of outgoing connections, and "port 0" listeners) begin, so no test port is
# ever taken by a connection of another test.
