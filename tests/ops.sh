# tunnelgw: watching a running gateway: tunnelgwctl tunnels over the control socket, the
# Prometheus metrics endpoint, stale and contested control sockets, the open-files limit.
. "$(dirname "$0")/lib.sh"

RANGE='port_range = "27000-27999";'
SOCK="$TG_TMP/tunnelgw.sock"

# tunnel_counts PORT: "CONNS BYTES_IN BYTES_OUT" of the tunnel on PORT, from tunnels --json.
tunnel_counts() {
	ctl tunnels --json | python3 -c '
import json, sys
for t in json.load(sys.stdin):
    if t["url"].endswith(":" + sys.argv[1]):
        print(t["conns"], t["bytes_in"], t["bytes_out"])' "$1"
}

# counts_are PORT WANT: does the tunnel on PORT show WANT ("CONNS BYTES_IN BYTES_OUT").
counts_are() {
	[ "$(tunnel_counts "$1")" = "$2" ]
}

# fetch_metrics FILE: GET /metrics into FILE as "name{labels} value" lines; fails unless every
# line that is not a comment has that form and the content type is Prometheus' text format.
fetch_metrics() {
	python3 - "$MPORT" >"$1" <<'PY'
import re, sys, urllib.request
r = urllib.request.urlopen("http://127.0.0.1:%s/metrics" % sys.argv[1], timeout=10)
ctype = r.headers.get("Content-Type", "")
if not ctype.startswith("text/plain; version=0.0.4"):
    sys.exit("Content-Type %r" % ctype)
name = r'[a-zA-Z_:][a-zA-Z0-9_:]*'
label = r'[a-zA-Z_][a-zA-Z0-9_]*="[^"\\\n]*"'
line_re = re.compile(r'^%s(\{%s(,%s)*\})? [0-9]+(\.[0-9]+)?$' % (name, label, label))
for line in r.read().decode().splitlines():
    if line.startswith("#"):
        continue
    if not line_re.match(line):
        sys.exit("not a metric line: %r" % line)
    print(line)
PY
}

# value FILE SERIES: the value of one series (name and labels) in a fetch_metrics FILE.
value() {
	awk -v n="$2" '$1 == n { print $2 }' "$1"
}

# grew FILE0 FILE1 SERIES BY: assert that SERIES grew by exactly BY between two fetches.
grew() {
	local a b
	a=$(value "$1" "$3")
	b=$(value "$2" "$3")
	[ -n "$a" ] && [ -n "$b" ] || fail "$3 is missing from the metrics"
	[ $((b - a)) -eq "$4" ] || fail "$3 went from $a to $b, not up by $4"
	ok "$3 grew by $4 ($a -> $b)"
}

# unix_exchange SEND: send bytes to the control socket, print what comes back until it closes.
unix_exchange() {
	python3 - "$SOCK" "$1" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(15)
s.connect(sys.argv[1])
s.sendall(sys.argv[2].encode())
data = b""
while True:
    try:
        d = s.recv(65536)
    except ConnectionResetError:  # the daemon closed with part of our request unread
        d = b""
    if not d:
        break
    data += d
sys.stdout.write(data.decode())
PY
}

# --- a gateway with a key of account "ops" and metrics on loopback ---------------------------
ssh-keygen -q -t ed25519 -N "" -C tunnelgw-test -f "$TG_TMP/client"
echo "account=\"ops\" $(cat "$TG_TMP/client.pub")" >"$TG_TMP/authorized_keys"
# A key without account=: its account is named by its fingerprint, 50 characters.
ssh-keygen -q -t ed25519 -N "" -C tunnelgw-fp -f "$TG_TMP/fpkey"
cat "$TG_TMP/fpkey.pub" >>"$TG_TMP/authorized_keys"
FP=$(ssh-keygen -l -f "$TG_TMP/fpkey.pub" | awk '{ print $2 }')
MPORT=$(free_port)
write_conf "$TG_TMP/gw.conf" "workers = 2;" "$RANGE" "metrics_listen = \"127.0.0.1:$MPORT\";"
start_gw "$TG_TMP/gw.conf"

contains "$(cat "$TG_TMP/gw.log")" "open files limit: " "the open-files limit is logged at start"
[ -S "$SOCK" ] || fail "no control socket at $SOCK"
[ "$(stat -c %a "$SOCK")" = 600 ] || fail "the control socket has mode $(stat -c %a "$SOCK")"
ok "the control socket is next to the configuration, with mode 0600"

expect_status 0 ctl tunnels
[ "$(printf '%s\n' "$TG_OUT" | wc -l)" -eq 1 ] || fail "tunnels without tunnels: $TG_OUT"
for col in URL ACCOUNT FORWARD CONNS BYTES_IN BYTES_OUT SINCE; do
	case "$TG_OUT" in *"$col"*) ;; *) fail "the header lacks $col: $TG_OUT" ;; esac
done
ok "tunnels with no tunnel open prints the header alone and exits 0"
expect_status 0 ctl tunnels --json
[ "$TG_OUT" = "[]" ] || fail "tunnels --json with no tunnel: $TG_OUT"
ok "tunnels --json with no tunnel open prints []"

# --- a live tunnel and its counters ----------------------------------------------------------
start_service echo
svc=$TG_SVC
start_ssh a -N -R "0:localhost:$svc" v2@127.0.0.1
port=$(allocated a)

expect_status 0 ctl tunnels
row=$(printf '%s\n' "$TG_OUT" | grep "^tcp://127.0.0.1:$port ") || fail "no row for port $port: $TG_OUT"
read -r url account forward conns bin bout since _node <<<"$row"	# NODE: with PostgreSQL
[ "$url $account $forward $conns $bin $bout" = "tcp://127.0.0.1:$port ops localhost:0 0 0 0" ] ||
	fail "the tunnel's row: $row"
case "$since" in 20[0-9][0-9]-*T*Z) ;; *) fail "since is not an RFC 3339 time: $since" ;; esac
ok "tunnels shows the live tunnel: url, account, forward asked for, no connection, no bytes yet, since"

fetch_metrics "$TG_TMP/m0" || fail "metrics: $(cat "$TG_TMP/m0")"
ok "GET /metrics answers in Prometheus' text format, every line \"name{labels} value\""
for series in tunnelgw_sessions tunnelgw_tunnels tunnelgw_connections tunnelgw_connections_total \
	tunnelgw_bytes_in_total tunnelgw_bytes_out_total tunnelgw_auth_failures_total \
	'tunnelgw_refusals_total{reason="port_not_allowed"}' 'tunnelgw_refusals_total{reason="bad_address"}'; do
	[ -n "$(value "$TG_TMP/m0" "$series")" ] || fail "$series is not in the metrics: $(cat "$TG_TMP/m0")"
done
ok "the metrics hold sessions, tunnels, connections, bytes, auth failures and refusals by reason"
[ "$(value "$TG_TMP/m0" tunnelgw_sessions) $(value "$TG_TMP/m0" tunnelgw_tunnels)" = "1 1" ] ||
	fail "sessions/tunnels gauges: $(cat "$TG_TMP/m0")"
ok "tunnelgw_sessions and tunnelgw_tunnels count the one session and its tunnel"

$TG_PY stream "$port" 100000 1 >/dev/null || fail "100 kB through the tunnel"
wait_for 5 counts_are "$port" "0 100000 100000" ||
	fail "after 100000 bytes each way and the close, tunnels --json says: $(tunnel_counts "$port")"
ok "after a transfer, bytes in/out equal the bytes sent and received, and conns is back to 0"

fetch_metrics "$TG_TMP/m1" || fail "metrics: $(cat "$TG_TMP/m1")"
grew "$TG_TMP/m0" "$TG_TMP/m1" tunnelgw_bytes_in_total 100000
grew "$TG_TMP/m0" "$TG_TMP/m1" tunnelgw_bytes_out_total 100000
grew "$TG_TMP/m0" "$TG_TMP/m1" tunnelgw_connections_total 1
[ "$(value "$TG_TMP/m1" tunnelgw_connections)" = 0 ] || fail "connections gauge after the close"
ok "tunnelgw_connections is 0 once the connection closed"

$TG_PY hold "$port" 2 30 >"$TG_TMP/hold.out" &
holder=$!
TG_PIDS="$TG_PIDS $holder"
wait_for 5 counts_are "$port" "2 100000 100000" || fail "two held connections: $(tunnel_counts "$port")"
ok "tunnels counts two open connections while they are held"
fetch_metrics "$TG_TMP/m2" || fail "metrics: $(cat "$TG_TMP/m2")"
[ "$(value "$TG_TMP/m2" tunnelgw_connections)" = 2 ] || fail "connections gauge: $(cat "$TG_TMP/m2")"
ok "tunnelgw_connections counts the two open connections"
kill "$holder"
wait "$holder" 2>/dev/null || true
wait_for 5 counts_are "$port" "0 100000 100000" || fail "after the holder left: $(tunnel_counts "$port")"
ok "conns goes back to 0 when the connections close"

expect_status 0 ctl tunnels --json
printf '%s\n' "$TG_OUT" | python3 -m json.tool >/dev/null || fail "tunnels --json is not JSON: $TG_OUT"
ok "tunnels --json parses with python3 -m json.tool"
expect_status 0 ctl --json tunnels
contains "$TG_OUT" "\"account\":\"ops\"" "--json before the command works too"
contains "$TG_OUT" '"forward":"localhost:0","target":"localhost:0"' \
	"--json has the forward asked for as \"forward\", and as \"target\" as before"

# --- an account named by its key's fingerprint widens the columns ------------------------------
# starts_at LINE COLUMN: the offset in LINE where the COLUMNth blank-separated word starts.
starts_at() {
	awk -v n="$2" '{ p = 1; for (i = 1; i < n; i++) { p += length($i); while (substr($0, p, 1) == " ") p++ } print p }' <<<"$1"
}
TG_KEY=$TG_TMP/fpkey start_ssh fp -N -R "0:localhost:$svc" v2@127.0.0.1
fport=$(allocated fp)
expect_status 0 ctl tunnels
fprow=$(printf '%s\n' "$TG_OUT" | grep "^tcp://127.0.0.1:$fport ") || fail "no row for port $fport: $TG_OUT"
contains "$fprow" " $FP " "the fingerprint account's row names its account in full"
header=$(printf '%s\n' "$TG_OUT" | head -1)
for col in 2 3 4 5 6 7; do
	want=$(starts_at "$header" "$col")
	while IFS= read -r line; do
		[ "$(starts_at "$line" "$col")" = "$want" ] ||
			fail "column $col of '$line' does not start under its header:
$TG_OUT"
	done <<<"$(printf '%s\n' "$TG_OUT" | tail -n +2)"
done
ok "every column of tunnels lines up under its header, also next to a ${#FP}-character account"
kill "$TG_LAST_PID"
wait "$TG_LAST_PID" 2>/dev/null || true

# --- refusals and failed logins move their counters --------------------------------------------
expect_status 255 timeout 20 ssh $TG_SSH_OPTS -i "$TG_TMP/client" -p "$TG_SSH_PORT" \
	-o ExitOnForwardFailure=yes -N -R "27500:localhost:$svc" v2@127.0.0.1
ssh-keygen -q -t ed25519 -N "" -C stranger -f "$TG_TMP/stranger"
expect_status 255 timeout 20 ssh $TG_SSH_OPTS -i "$TG_TMP/stranger" -p "$TG_SSH_PORT" v2@127.0.0.1 status
fetch_metrics "$TG_TMP/m3" || fail "metrics: $(cat "$TG_TMP/m3")"
grew "$TG_TMP/m2" "$TG_TMP/m3" 'tunnelgw_refusals_total{reason="port_not_allowed"}' 1
a=$(value "$TG_TMP/m2" tunnelgw_auth_failures_total)
b=$(value "$TG_TMP/m3" tunnelgw_auth_failures_total)
[ "$b" -gt "$a" ] || fail "tunnelgw_auth_failures_total stayed at $a after an unknown key"
ok "tunnelgw_auth_failures_total grew after a login with an unknown key ($a -> $b)"

# --- the metrics listener serves /metrics and nothing else ---------------------------------------
python3 - "$MPORT" <<'PY' || fail "other paths and methods"
import sys, urllib.error, urllib.request
base = "http://127.0.0.1:%s" % sys.argv[1]
for path, method, want in (("/", "GET", 404), ("/metricsx", "GET", 404), ("/etc/passwd", "GET", 404),
                           ("/metrics", "POST", 405)):
    try:
        urllib.request.urlopen(urllib.request.Request(base + path, data=b"x" if method == "POST" else None,
                                                      method=method), timeout=10)
        sys.exit("%s %s: answered 200" % (method, path))
    except urllib.error.HTTPError as e:
        if e.code != want:
            sys.exit("%s %s: HTTP %d, not %d" % (method, path, e.code, want))
PY
ok "other paths get HTTP 404 and other methods 405"

# --- the control socket's own bounds ----------------------------------------------------------
contains "$(unix_exchange "$(printf 'x%.0s' $(seq 1 1000))")" "ERR " "a request longer than the limit is refused"
contains "$(unix_exchange "frobnicate
")" "ERR unknown request" "an unknown request is refused"
python3 - "$SOCK" <<'PY' || fail "an idle control client"
import socket, sys, time
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.settimeout(20)
start = time.monotonic()
if s.recv(1) != b"":
    sys.exit("data for a client that asked nothing")
took = time.monotonic() - start
if not 3 <= took <= 10:
    sys.exit("an idle client was closed after %.1f s" % took)
PY
ok "a control client that sends nothing is closed after its timeout"
expect_status 0 ctl tunnels
contains "$TG_OUT" "tcp://127.0.0.1:$port" "tunnels still answers after the misbehaving clients"

# --- a second daemon on the same control socket ------------------------------------------------
ssh_port=$TG_SSH_PORT
write_conf "$TG_TMP/gw2.conf" "workers = 1;" "$RANGE"
expect_status 1 timeout 20 "$TUNNELGW" -f "$TG_TMP/gw2.conf"
contains "$TG_ERR" "another tunnelgw is running: its control socket" \
	"a second daemon on a live daemon's control socket fails to start"
TG_SSH_PORT=$ssh_port
expect_status 0 ctl tunnels
contains "$TG_OUT" "tcp://127.0.0.1:$port" "the running daemon keeps its control socket"

# --- a control socket in a folder others may write is refused ---------------------------------
mkdir "$TG_TMP/open"
chmod 777 "$TG_TMP/open"
write_conf "$TG_TMP/gw3.conf" "workers = 1;" "$RANGE" 'control_socket = "open/tunnelgw.sock";'
expect_status 1 timeout 20 "$TUNNELGW" -f "$TG_TMP/gw3.conf"
contains "$TG_ERR" "others may write folder" "a control socket in a folder others may write is refused"
TG_SSH_PORT=$ssh_port

# --- the daemon stopped, killed, and started again -----------------------------------------------
stop_gw
[ ! -e "$SOCK" ] || fail "the control socket outlived the daemon"
ok "a clean stop removes the control socket"
expect_status 1 ctl tunnels
one_error "cannot reach the daemon at " "without a daemon, tunnels exits 1 with one line"
contains "$TG_ERR" "tunnelgw.sock: " "the line names the socket"

start_gw "$TG_TMP/gw.conf"
kill -9 "$TG_GW_PID"
wait "$TG_GW_PID" 2>/dev/null || true
[ -S "$SOCK" ] || fail "kill -9 left no socket file behind, nothing to test"
expect_status 1 ctl tunnels
one_error "Connection refused" "a stale socket answers tunnelgwctl with one line"
start_gw "$TG_TMP/gw.conf"
contains "$(cat "$TG_TMP/gw.log")" "did not stop cleanly; replacing it" \
	"a stale socket left by kill -9 is replaced at start"
[ "$(stat -c %a "$SOCK")" = 600 ] || fail "the new control socket has mode $(stat -c %a "$SOCK")"
expect_status 0 ctl tunnels
contains "$TG_OUT" "URL" "the restarted daemon answers tunnels"

write_conf "$TG_TMP/off.conf" 'control_socket = "";'
expect_status 1 "$TUNNELGWCTL" -f "$TG_TMP/off.conf" tunnels
one_error "the control socket is off" "with control_socket = \"\", tunnels says it is off"
TG_SSH_PORT=$ssh_port

stop_gw
ok "the gateway stops cleanly"

done_testing
