# tunnelgw: events: tunnel_opened, tcp_connection_closed (exact bytes each way, client,
# duration) and tunnel_closed as JSON lines in events_log; the same events in tunnelgwctl
# events within two seconds; events_max_rows; a missing events_log folder at start.
. "$(dirname "$0")/lib.sh"

RANGE='port_range = "29000-29999";'
EV="$TG_TMP/events.jsonl"

# send_recv PORT BYTES: connect to a public port, send BYTES random bytes, shut down writing,
# read until EOF; prints "LOCAL_PORT BYTES_RECEIVED".
send_recv() {
	python3 - "$1" "$2" <<'PY'
import os, socket, sys
c = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=30)
c.sendall(os.urandom(int(sys.argv[2])))
c.shutdown(socket.SHUT_WR)
n = 0
while True:
    d = c.recv(65536)
    if not d:
        break
    n += len(d)
print(c.getsockname()[1], n)
PY
}

# check_log URL CONNS [PORT:IN:OUT...]: every line of the events log is a JSON object with an
# RFC 3339 time; the tunnel at URL has one tunnel_opened, one tunnel_closed with CONNS
# connections, and exactly the given tcp_connection_closed events (client port, bytes).
check_log() {
	python3 - "$EV" "$@" <<'PY'
import json, re, sys
path, url, nconns, want = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4:]
rfc3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")
events = []
with open(path, "rb") as f:
    for n, raw in enumerate(f, 1):
        if not raw.endswith(b"\n"):
            sys.exit("line %d does not end with a newline" % n)
        e = json.loads(raw.decode("utf-8"))
        if not isinstance(e, dict) or not rfc3339.match(e.get("time", "")):
            sys.exit("line %d: no RFC 3339 time: %r" % (n, raw))
        events.append(e)
mine = [e for e in events if e.get("url") == url]
opened = [e for e in mine if e["event"] == "tunnel_opened"]
closed = [e for e in mine if e["event"] == "tunnel_closed"]
conns = [e for e in mine if e["event"] == "tcp_connection_closed"]
if len(opened) != 1 or len(closed) != 1:
    sys.exit("want one tunnel_opened and one tunnel_closed for %s: %r" % (url, mine))
for e in opened + closed:
    if e["account"] != "alice" or not e["target"] or not isinstance(e["session"], int):
        sys.exit("tunnel event: %r" % e)
if closed[0]["connections"] != nconns or closed[0]["duration_ms"] < 0:
    sys.exit("tunnel_closed: %r" % closed[0])
got = sorted("%s:%d:%d" % (e["client"].rsplit(":", 1)[1], e["bytes_in"], e["bytes_out"])
             for e in conns)
if got != sorted(want):
    sys.exit("tcp_connection_closed events %r, want %r" % (got, sorted(want)))
for e in conns:
    if e["account"] != "alice" or not e["client"].startswith("127.0.0.1:") or \
            not isinstance(e["duration_ms"], int) or e["duration_ms"] < 0:
        sys.exit("tcp_connection_closed: %r" % e)
PY
}

# ctl_matches URL: tunnelgwctl events --json holds the log's events of the tunnel at URL.
ctl_matches() {
	ctl events --json --limit 1000 >"$TG_TMP/ctl.json" || return 1
	python3 - "$EV" "$TG_TMP/ctl.json" "$1" <<'PY'
import json, sys
def key(e):
    return (e["event"], e["account"], e["url"], e.get("client"), e.get("bytes_in"),
            e.get("bytes_out"), e.get("duration_ms"))
url = sys.argv[3]
log = sorted(key(json.loads(l)) for l in open(sys.argv[1], encoding="utf-8"))
db = sorted(key(e) for e in json.load(open(sys.argv[2])))
log = [k for k in log if k[2] == url]
db = [k for k in db if k[2] == url]
sys.exit(0 if log == db and len(log) > 0 else "log %r\ndb  %r" % (log, db))
PY
}

# --- an events_log in a folder that does not exist stops the start, clearly ------------------
write_conf "$TG_TMP/bad.conf" "$RANGE" "events_log = \"$TG_TMP/nope/events.jsonl\";"
expect_status 1 "$TUNNELGW" -f "$TG_TMP/bad.conf"
contains "$TG_ERR" "events_log $TG_TMP/nope/events.jsonl: cannot open: No such file or directory (its folder must exist)" \
	"an events_log in a missing folder is a clear start-up error"
[ ! -e "$TG_TMP/nope" ] || fail "the missing folder was created"
ok "the missing folder is not created"

# --- a tunnel, two connections with known bytes each way, the tunnel closes -----------------
ssh-keygen -q -t ed25519 -N "" -C tunnelgw-test -f "$TG_TMP/client"
echo "account=\"alice\" $(cat "$TG_TMP/client.pub")" >"$TG_TMP/authorized_keys"
write_conf "$TG_TMP/gw.conf" "workers = 2;" "$RANGE" "events_log = \"$EV\";"
start_gw "$TG_TMP/gw.conf"
[ "$(stat -c %a "$EV")" = 640 ] || fail "the events log has mode $(stat -c %a "$EV")"
ok "the events log is created at start with mode 0640"

start_service reply-after-eof
start_ssh a -N -R "0:localhost:$TG_SVC" v2@127.0.0.1
port=$(allocated a)
url="tcp://127.0.0.1:$port"
read -r p1 got1 <<<"$(send_recv "$port" 100000)"
[ "$got1" -eq 200000 ] || fail "the first connection got $got1 bytes back"
read -r p2 got2 <<<"$(send_recv "$port" 54321)"
[ "$got2" -eq 108642 ] || fail "the second connection got $got2 bytes back"
ok "two connections through the tunnel: 100000 and 54321 bytes in, twice that back"

kill "$TG_LAST_PID"
wait "$TG_LAST_PID" 2>/dev/null || true
wait_for 5 grep -q '"event":"tunnel_closed"' "$EV" || fail "no tunnel_closed: $(cat "$EV")"
check_log "$url" 2 "$p1:100000:200000" "$p2:54321:108642" || fail "events log: $(cat "$EV")"
ok "one tcp_connection_closed per connection with its client, exact bytes_in/bytes_out and a duration"
ok "tunnel_opened and tunnel_closed (2 connections) for the tunnel; every line is JSON with an RFC 3339 time"

wait_for 3 ctl_matches "$url" || fail "tunnelgwctl events differs: $(cat "$TG_TMP/ctl.json")"
ok "tunnelgwctl events --json shows the same events within two seconds"

expect_status 0 ctl events
for col in TIME EVENT ACCOUNT URL CLIENT BYTES_IN BYTES_OUT DURATION_MS; do
	case "$(printf '%s\n' "$TG_OUT" | head -1)" in *"$col"*) ;; *) fail "the header lacks $col: $TG_OUT" ;; esac
done
[ "$(printf '%s\n' "$TG_OUT" | sed -n 2p | awk '{ print $2 }')" = tunnel_closed ] ||
	fail "the newest event is not first: $TG_OUT"
ok "tunnelgwctl events lists columns under a header, newest first"
expect_status 0 ctl events --account alice --limit 1 --json
[ "$(printf '%s\n' "$TG_OUT" | grep -c '"event"')" -eq 1 ] || fail "--limit 1: $TG_OUT"
expect_status 0 ctl events --account=nobody --json
[ "$TG_OUT" = "[]" ] || fail "--account nobody: $TG_OUT"
ok "events --account and --limit filter"
expect_status 1 ctl events --limit 0
contains "$TG_ERR" "--limit '0' is not a number from 1 to" "a --limit of 0 is refused"
expect_status 1 ctl events --bogus
contains "$TG_ERR" "usage: tunnelgwctl events [--account NAME] [--limit N]" "an unknown option prints the usage"

# --- events_max_rows bounds the database; the stop writes what waits -------------------------
stop_gw
echo 'events_max_rows = 3;' >>"$TG_TMP/gw.conf"
start_gw "$TG_TMP/gw.conf"
start_ssh b -N -R "0:localhost:$TG_SVC" v2@127.0.0.1
port=$(allocated b)
for n in 1 2 3 4 5; do
	send_recv "$port" "$n" >/dev/null
done
sleep 1.5
rows=$(ctl events --json --limit 100 | grep -c '"event"') || true
[ "$rows" -le 3 ] || fail "events_max_rows = 3 but $rows rows"
ok "with events_max_rows = 3 the database holds at most 3 events ($rows)"
stop_gw
wait_for 3 grep -q "\"event\":\"tunnel_closed\",.*\"url\":\"tcp://127.0.0.1:$port\"" "$EV" ||
	fail "no tunnel_closed at stop: $(tail -3 "$EV")"
ok "a tunnel open at the stop gets its tunnel_closed line"
expect_status 0 ctl events --json
[ "$(printf '%s\n' "$TG_OUT" | grep -c '"event"')" -eq 3 ] || fail "after the stop: $TG_OUT"
contains "$TG_OUT" '"event": "tunnel_closed"' "the events of the stop reach the database, still 3 rows"

done_testing
