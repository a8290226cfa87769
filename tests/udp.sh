# tunnelgw: UDP tunnels end to end: stock ssh -R with the `udp` command, tunnelgw-udp on the
# user's side, and UDP services nobody here wrote (dnsmasq, queried with dig) or a test echo.
# Datagrams of every size come back whole, each flow keeps its own socket at the service,
# flows end when idle, IP rules and PROXY v2 (DGRAM) apply, a stuck helper makes the gateway
# drop and count rather than queue, IPv6 clients are served, and events and listings say udp.
. "$(dirname "$0")/lib.sh"

need_tool dnsmasq "contrib/install-deps.sh installs it"
DNSMASQ=$TG_TOOL
need_tool dig "contrib/install-deps.sh installs it (bind9-dnsutils)"
DIG=$TG_TOOL
helper="$top_builddir/contrib/tunnelgw-udp"
[ -x "$helper" ] || fail "no $helper"
UT="/usr/bin/python3 $top_srcdir/tests/udptun.py"

MPORT=$(free_port)
APORT=$(free_port)
# conn_rate counts new flows as it counts connections: 1,000 flows from one address at once
# need a burst that large, and dig's queries come faster than the default 100 a second. The
# ranges lie below the kernel's ephemeral ports (32768 and up), which the UDP sockets of the
# helper and the clients take, so a public port is never found taken by one of them.
gw_setup 'port_range = "19700-19999";' 'udp_port_range = "19700-20499";' 'public_bind = "::";' \
	'conn_rate = 5000;' 'conn_burst = 2000;' \
	'public_host = "gw.test";' "metrics_listen = \"127.0.0.1:$MPORT\";" \
	"events_log = \"$TG_TMP/events.log\";" "api_listen = \"127.0.0.1:$APORT\";"

# metric NAME: a value of the gateway's metrics (NAME with its labels).
metric() {
	python3 -c '
import sys, urllib.request
for line in urllib.request.urlopen("http://127.0.0.1:%s/metrics" % sys.argv[1], timeout=10).read().decode().splitlines():
    if line.startswith(sys.argv[2] + " "):
        print(line.split()[1])' "$MPORT" "$1"
}

# udp_port NAME: wait for the "Forwarding  udp://gw.test:PORT" line of an ssh and print PORT.
udp_port() {
	wait_for 10 grep -q '^Forwarding  udp://' "$TG_TMP/$1.out" || {
		cat "$TG_TMP/$1.out" "$TG_TMP/$1.err" "$TG_TMP/gw.log" >&2
		fail "ssh $1 got no udp:// address"
	}
	sed -n 's|^Forwarding  udp://gw.test:\([0-9]*\).*|\1|p' "$TG_TMP/$1.out" | head -1
}

# start_helper SERVICE-PORT: run tunnelgw-udp toward 127.0.0.1:SERVICE-PORT; its stream port
# goes to $HELPER_PORT.
start_helper() {
	HELPER_PORT=$(free_port)
	"$helper" "$HELPER_PORT" "127.0.0.1:$1" >"$TG_TMP/helper.$HELPER_PORT.log" 2>&1 &
	TG_PIDS="$TG_PIDS $!"
	wait_for 5 python3 -c 'import socket,sys; socket.create_connection(("127.0.0.1", int(sys.argv[1]))).close()' \
		"$HELPER_PORT" || fail "tunnelgw-udp did not start: $(cat "$TG_TMP/helper.$HELPER_PORT.log")"
}

# --- An echo service: sizes, flows, IPv6 --------------------------------------------------
TG_SERVICE="$UT" start_service echo
echo_svc=$TG_SVC
export UDPTUN_SERVICE=$echo_svc
start_helper "$echo_svc"
start_ssh echo -R "0:localhost:$HELPER_PORT" v2@127.0.0.1 udp
uport=$(udp_port echo)
ok "ssh -R 0:... udp: the banner says Forwarding  udp://gw.test:$uport"
tport=$(allocated echo)
log_has "tcp://gw.test:$tport: tunnel closed" "the TCP port OpenSSH asked for first closed once the command said udp"

$UT sizes "$uport" 127.0.0.1 || fail "sizes over IPv4"
ok "IPv4: datagrams of 1 to 65,507 bytes through the tunnel, contents checked"
$UT sizes "$uport" ::1 || fail "sizes over IPv6"
ok "IPv6: a public client on ::1 is served on the same port, contents checked"
$UT flows "$uport" 1000 || fail "1,000 flows"
ok "1,000 flows from distinct source ports"

ctl tunnels >"$TG_TMP/tunnels.out" 2>&1 || fail "tunnelgwctl tunnels: $(cat "$TG_TMP/tunnels.out")"
contains "$(cat "$TG_TMP/tunnels.out")" "udp://gw.test:$uport" "tunnelgwctl tunnels lists the UDP tunnel by its udp:// URL"
op=$(ctl apikey create --operator 2>/dev/null)
curl -s -H "Authorization: Bearer $op" "http://127.0.0.1:$APORT/api/v1/tunnels" >"$TG_TMP/api.json"
python3 -c '
import json, sys
ts = [t for t in json.load(open(sys.argv[1]))["tunnels"] if t["public_endpoint"] == sys.argv[2]]
assert len(ts) == 1 and ts[0]["protocol"] == "udp", ts' "$TG_TMP/api.json" "udp://gw.test:$uport" ||
	fail "GET /api/v1/tunnels: $(cat "$TG_TMP/api.json")"
ok "the API lists the tunnel with protocol udp"
start_ssh status v2@127.0.0.1 status
wait_for 5 grep -q "udp://gw.test:$uport" "$TG_TMP/status.out" || fail "status: $(cat "$TG_TMP/status.out")"
ok "the status command lists the udp:// tunnel"
[ "$(metric tunnelgw_udp_flows)" -ge 1000 ] || fail "tunnelgw_udp_flows: $(metric tunnelgw_udp_flows)"
ok "metrics: tunnelgw_udp_flows counts the open flows"
[ "$(metric 'tunnelgw_udp_datagrams_total{direction="out"}')" -ge 1000 ] ||
	fail "datagrams out: $(metric 'tunnelgw_udp_datagrams_total{direction="out"}')"
ok "metrics: tunnelgw_udp_datagrams_total counts both directions"

# --- DNS: dnsmasq behind the helper, 1,000 dig queries ------------------------------------
# dnsmasq binds the port for UDP and TCP: one free for both, as the helper's flows hold many
# UDP ports that a TCP check alone would not see.
dns_port=$(python3 -c '
import socket
while True:
    t = socket.socket(); t.bind(("127.0.0.1", 0)); p = t.getsockname()[1]
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        u.bind(("127.0.0.1", p))
    except OSError:
        continue
    print(p)
    break')
echo "192.0.2.53 www.example.test" >"$TG_TMP/hosts.test"
"$DNSMASQ" --keep-in-foreground --port="$dns_port" --listen-address=127.0.0.1 --bind-interfaces \
	--no-resolv --no-hosts --addn-hosts="$TG_TMP/hosts.test" --pid-file= --user="$(id -un)" \
	--log-facility=- >"$TG_TMP/dnsmasq.log" 2>&1 &
TG_PIDS="$TG_PIDS $!"
wait_for 5 "$DIG" +short +time=1 +tries=1 -p "$dns_port" @127.0.0.1 www.example.test ||
	fail "dnsmasq did not start: $(cat "$TG_TMP/dnsmasq.log")"
start_helper "$dns_port"
start_ssh dns -R "0:localhost:$HELPER_PORT" v2@127.0.0.1 udp
dport=$(udp_port dns)
for i in $(seq 1000); do echo "www.example.test A"; done >"$TG_TMP/queries"
"$DIG" +short +time=2 +tries=1 -p "$dport" @127.0.0.1 -f "$TG_TMP/queries" >"$TG_TMP/answers" 2>&1 || true
answered=$(grep -c '^192\.0\.2\.53$' "$TG_TMP/answers" || true)
[ "$answered" -eq 1000 ] || fail "$answered of 1000 dig queries answered: $(grep -v '^192' "$TG_TMP/answers" | head -5)"
ok "DNS: 1,000 dig queries through the tunnel to dnsmasq, 1,000 answered, none lost"

# --- PROXY v2 with the DGRAM transport; IP rules --------------------------------------------
start_helper "$echo_svc"
start_ssh pp -R "0:localhost:$HELPER_PORT" v2@127.0.0.1 udp --proxy-proto=2 --deny-cidr=127.0.0.9/32
pport=$(udp_port pp)
wait_for 5 grep -q "PROXY protocol v2 headers go in front of each flow's first datagram" "$TG_TMP/pp.out" ||
	fail "banner: $(cat "$TG_TMP/pp.out")"
ok "the banner says PROXY v2 headers go in front of each flow's first datagram"
$UT proxy "$pport" gw.test || fail "PROXY v2 DGRAM"
$UT silent "$pport" 127.0.0.9 || fail "deny-cidr"
log_has "udp://gw.test:$pport: datagrams from 127.0.0.9:" "a refused source is logged with its address"
start_ssh pp1 -R "0:localhost:$HELPER_PORT" v2@127.0.0.1 udp --proxy-proto=1
err_has pp1 "tunnelgw: udp: PROXY protocol v1 has no form for UDP; use --proxy-proto=2" \
	"udp --proxy-proto=1 is refused with what to use instead"

# --- Flow timeout, and the udp_flow_closed event ---------------------------------------------
start_helper "$echo_svc"
start_ssh idle -R "0:localhost:$HELPER_PORT" v2@127.0.0.1 udp --idle-timeout=1
iport=$(udp_port idle)
python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.7", 0)); s.settimeout(3)
s.sendto(b"12345", ("127.0.0.1", int(sys.argv[1]))); assert s.recv(100) == b"12345"' "$iport" ||
	fail "a datagram through the idle tunnel"
wait_for 5 grep -q "\"event\":\"udp_flow_closed\".*\"url\":\"udp://gw.test:$iport\".*\"reason\":\"idle timeout\"" "$TG_TMP/events.log" ||
	fail "no udp_flow_closed for the idle flow: $(tail -3 "$TG_TMP/events.log")"
line=$(grep "\"event\":\"udp_flow_closed\".*\"url\":\"udp://gw.test:$iport\"" "$TG_TMP/events.log" | head -1)
contains "$line" '"client":"127.0.0.7:' "udp_flow_closed names the public client"
contains "$line" '"packets_in":1,"packets_out":1,"bytes_in":5,"bytes_out":5,"drops_in":0,"drops_out":0' \
	"udp_flow_closed counts datagrams, bytes and drops each way"
ok "a flow silent for --idle-timeout=1 ended with reason idle timeout"

# --- A stuck helper: the gateway drops and counts, memory stays bounded ------------------------
TG_SERVICE="$UT" start_service blackhole
start_ssh stuck -R "0:localhost:$TG_SVC" v2@127.0.0.1 udp
sport=$(udp_port stuck)
rss() { awk '/^VmRSS:/ { print $2 }' "/proc/$TG_GW_PID/status"; }
before=$(rss)
drops0=$(metric 'tunnelgw_udp_drops_total{direction="in"}')
for i in 1 2 3 4 5 6; do
	$UT flood "$sport" 2 >>"$TG_TMP/flood.out"
	[ "$(metric 'tunnelgw_udp_drops_total{direction="in"}')" -gt "$drops0" ] && break
done
drops=$(metric 'tunnelgw_udp_drops_total{direction="in"}')
[ "$drops" -gt "$drops0" ] || fail "no drop counted after $(paste -sd+ "$TG_TMP/flood.out" | bc) datagrams"
ok "a flood into a stuck helper: $((drops - drops0)) datagrams dropped and counted ($(paste -sd+ "$TG_TMP/flood.out" | bc) sent)"
grow=$(( $(rss) - before ))
[ "$grow" -lt 32768 ] || fail "the gateway grew by $grow KiB during the flood"
ok "the gateway's memory grew by $grow KiB during the flood (bounded: under 32 MiB)"
$UT sizes "$uport" 127.0.0.1 >/dev/null || fail "the echo tunnel after the flood"
ok "another UDP tunnel still carries every size after the flood"

# --- Nothing listening on the user's side: said, and nothing breaks ---------------------------
dead=$(free_port)
start_ssh nohelper -R "0:localhost:$dead" v2@127.0.0.1 udp
nport=$(udp_port nohelper)
$UT silent "$nport" 127.0.0.1 >/dev/null || fail "a tunnel without a helper answered"
log_has "udp://gw.test:$nport: stream to the SSH client closed: the SSH client refused the stream" \
	"without a helper, the log says the SSH client refused the stream, and why"
gw_alive "datagrams into a tunnel without a helper"

# --- A reserved UDP port ------------------------------------------------------------------------
ctl account add alice >/dev/null
ssh-keygen -q -t ed25519 -N "" -C alice -f "$TG_TMP/alice"
ctl key add alice "$(cat "$TG_TMP/alice.pub")" >/dev/null
expect_status 0 ctl address reserve alice 20490 --udp
contains "$TG_OUT" "udp://gw.test:20490" "tunnelgwctl address reserve --udp prints the udp:// address"
expect_status 0 ctl address list
contains "$TG_OUT" "udp://gw.test:20490" "tunnelgwctl address list shows the UDP reservation"
curl -s -H "Authorization: Bearer $op" "http://127.0.0.1:$APORT/api/v1/addresses" >"$TG_TMP/addr.json"
contains "$(cat "$TG_TMP/addr.json")" '"protocol":"udp"' "the API lists the reservation with protocol udp"
start_helper "$echo_svc"
TG_KEY=$TG_TMP/alice start_ssh resv -N -R "20490:localhost:$HELPER_PORT" v2@127.0.0.1
log_has "udp://gw.test:20490: tunnel open for account 'alice'" \
	"-N -R 20490 (no command): the account's UDP reservation makes it a UDP tunnel at once"
python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(3)
s.sendto(b"reserved", ("127.0.0.1", 20490)); assert s.recv(100) == b"reserved"' ||
	fail "a datagram through the reserved UDP port"
ok "a datagram through the reserved UDP port comes back"
start_ssh thief -R "20490:localhost:$HELPER_PORT" v2@127.0.0.1 udp
err_has thief "forward of localhost:20490 refused: port 20490 is not reserved for you" "another account asking for the reserved UDP port is refused"
kill "$TG_LAST_PID" 2>/dev/null || true
# A TCP reservation is not a UDP one: udp refuses it whole, saying why, before closing anything.
ctl address reserve alice 19990 >/dev/null
TG_KEY=$TG_TMP/alice start_ssh tcpresv -R "19990:localhost:$HELPER_PORT" v2@127.0.0.1 udp
err_has tcpresv "tunnelgw: port 19990 is not reserved for you" \
	"udp on a forward of a TCP-only reservation is refused with the UDP rule that refuses it"
log_has "tcp://gw.test:19990: tunnel open for account 'alice'" "the TCP forward was granted first"
expect_status 0 ctl address release 20490 --udp
contains "$TG_OUT" "udp://gw.test:20490" "tunnelgwctl address release --udp releases the UDP reservation"

# --- A UDP tunnel made through the API, awaiting its connection ---------------------------------
hp=$(free_port)
curl -s -H "Authorization: Bearer $op" -H 'Content-Type: application/json' \
	-d "{\"account\":\"alice\",\"protocol\":\"udp\",\"local_host\":\"127.0.0.1\",\"local_port\":$echo_svc,\"helper_port\":$hp}" \
	"http://127.0.0.1:$APORT/api/v1/tunnels" >"$TG_TMP/aw.json"
read -r aw_proto aw_url aw_cmd < <(python3 -c '
import json, sys
j = json.load(open(sys.argv[1]))
print(j["protocol"], j["public_endpoint"], j["ssh_command"])' "$TG_TMP/aw.json") ||
	fail "POST tunnels (udp): $(cat "$TG_TMP/aw.json")"
[ "$aw_proto" = udp ] && [[ "$aw_url" =~ ^udp://gw\.test:[0-9]+$ ]] || fail "POST tunnels (udp): $(cat "$TG_TMP/aw.json")"
aw_port=${aw_url##*:}
[[ "$aw_cmd" =~ ^tunnelgw-udp\ $hp\ 127\.0\.0\.1:$echo_svc\ \&\ ssh\ -p\ $TG_SSH_PORT\ -R\ $aw_port:localhost:$hp\ tgw_[A-Za-z0-9_-]{43}@gw\.test\ udp$ ]] ||
	fail "ssh_command (udp): $aw_cmd"
ok "POST tunnels with protocol udp: a udp:// address and the command line with tunnelgw-udp"
# Run it as returned: the helper, then ssh with the test's client options (the token logs in).
"$helper" "$hp" "127.0.0.1:$echo_svc" >"$TG_TMP/aw-helper.log" 2>&1 &
TG_PIDS="$TG_PIDS $!"
aw_ssh=${aw_cmd#*& ssh }
read -r -a words <<<"${aw_ssh/@gw.test/@127.0.0.1}"
ssh -o PubkeyAuthentication=no -o PasswordAuthentication=no -o KbdInteractiveAuthentication=yes \
	-o BatchMode=no $TG_SSH_OPTS "${words[@]}" >"$TG_TMP/aw.out" 2>"$TG_TMP/aw.err" </dev/null &
TG_PIDS="$TG_PIDS $!"
wait_for 20 grep -q "Forwarding  $aw_url" "$TG_TMP/aw.out" ||
	fail "awaiting UDP tunnel: $(cat "$TG_TMP/aw.out" "$TG_TMP/aw.err"; tail -n 15 "$TG_TMP/gw.log")"
python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(3)
s.sendto(b"awaited", ("127.0.0.1", int(sys.argv[1]))); assert s.recv(100) == b"awaited"' "$aw_port" ||
	fail "a datagram through the awaited UDP tunnel"
ok "the returned command brings the UDP tunnel online, and it carries datagrams"

# --- Closing: the tunnel's flows end with it -------------------------------------------------
stop_gw
grep -q '"event":"udp_flow_closed".*"reason":"the tunnel closed"' "$TG_TMP/events.log" ||
	fail "no flow ended with its tunnel: $(grep udp_flow_closed "$TG_TMP/events.log" | tail -2)"
ok "flows still open when the gateway stops end with reason the tunnel closed"
done_testing
