# tunnelgw: anonymous clients abusing the gateway (issue 12): a flood of idle SSH connections
# from many addresses must not lock every login out (max_startups "start:rate:full"); floods
# must not flood the log (log_ratelimited); an over-long control request gets the ERR line
# and a clean close; the per-source caps count an IPv6 /64 as one source (source_prefix6).
. "$(dirname "$0")/lib.sh"

FLOOD="python3 $top_srcdir/tests/flood.py"
SOURCES=$(seq -f '127.0.0.%g' 2 51)	# 50 loopback addresses: 127.0.0.0/8 is all local
V6_ADDED=""

# abuse_cleanup: what tg_cleanup does, and the IPv6 test addresses go again.
abuse_cleanup() {
	local a
	for a in $V6_ADDED; do
		ip -6 addr del "$a/128" dev lo 2>/dev/null || true
	done
	tg_cleanup
}
trap abuse_cleanup EXIT

# ssh_login: one login that runs `status`; succeeds when it exits 0.
ssh_login() {
	# shellcheck disable=SC2086
	timeout 20 ssh $TG_SSH_OPTS -i "$TG_TMP/client" -p "$TG_SSH_PORT" v2@127.0.0.1 status \
		>/dev/null 2>&1 </dev/null
}

# logins N TRIES: N logins one after the other, each retried up to TRIES times as a user or
# autossh would; prints "OK FIRST ATTEMPTS": logins that got in, logins that got in at their
# first try, connections tried in all.
logins() {
	local n=$1 tries=$2 i t okn=0 first=0 attempts=0
	for i in $(seq 1 "$n"); do
		for t in $(seq 1 "$tries"); do
			attempts=$((attempts + 1))
			if ssh_login; then
				okn=$((okn + 1))
				[ "$t" -eq 1 ] && first=$((first + 1))
				break
			fi
		done
	done
	echo "$okn $first $attempts"
}

# flood_start N: N idle connections from the 50 sources, held for 120 s; waits for the count.
flood_start() {
	# shellcheck disable=SC2086
	$FLOOD hold "$TG_SSH_PORT" "$1" 120 $SOURCES >"$TG_TMP/flood.out" 2>&1 &
	FLOOD_PID=$!
	TG_PIDS="$TG_PIDS $FLOOD_PID"
	wait_for 60 grep -q '^held=' "$TG_TMP/flood.out" || fail "the flood did not start: $(cat "$TG_TMP/flood.out")"
	FLOOD_HELD=$(sed -n 's/^held=\([0-9]*\) .*/\1/p' "$TG_TMP/flood.out")
}

# flood_stop: end the flood's connections.
flood_stop() {
	kill "$FLOOD_PID" 2>/dev/null || true
	wait "$FLOOD_PID" 2>/dev/null || true
}

ssh-keygen -q -t ed25519 -N "" -C tunnelgw-test -f "$TG_TMP/client"
cp "$TG_TMP/client.pub" "$TG_TMP/authorized_keys"
LIMITS='ssh_rate = 0;'
GRACE='login_grace_time = 120;'

# --- the plain number still means a hard cap: a flood above it locks logins out ------------------
write_conf "$TG_TMP/gw.conf" "workers = 2;" "$LIMITS" "$GRACE" 'max_startups = 400;' \
	'port_range = "28000-28999";'
start_gw "$TG_TMP/gw.conf"
flood_start 500
[ "$FLOOD_HELD" -eq 400 ] || fail "max_startups = 400 let $FLOOD_HELD of 500 idle connections in"
ok "max_startups = 400 (a plain number) holds exactly 400 of 500 idle connections"
read -r got first attempts <<<"$(logins 5 2)"
[ "$got" -eq 0 ] || fail "$got of 5 logins got in past a full max_startups = 400"
ok "with the cap full, every login is refused (0 of 5, $attempts tries): the lock-out of issue 12"
flood_stop
stop_gw

# --- start:rate:full: the same flood leaves logins a way in --------------------------------------
write_conf "$TG_TMP/gw.conf" "workers = 2;" "$LIMITS" "$GRACE" 'max_startups = "10:30:400";' \
	'port_range = "28000-28999";'
start_gw "$TG_TMP/gw.conf"
"$TUNNELGW" -T -f "$TG_TMP/gw.conf" | grep -qx 'max_startups = "10:30:400";' ||
	fail "tunnelgw -T does not print max_startups back as \"10:30:400\""
ok "tunnelgw -T prints max_startups = \"10:30:400\""
flood_start 500
[ "$FLOOD_HELD" -lt 400 ] && [ "$FLOOD_HELD" -ge 10 ] ||
	fail "with 10:30:400, $FLOOD_HELD of 500 idle connections got in"
ok "with max_startups = \"10:30:400\" the flood holds $FLOOD_HELD of 500 connections, not all 400"
# Each try gets in with a chance of roughly 20-40% here, so 8 tries make a login that fails
# rare; a plain cap would let none in.
read -r got first attempts <<<"$(logins 20 8)"
[ "$got" -ge 11 ] || fail "only $got of 20 logins got in within 8 tries ($first at the first try)"
ok "during the flood $got of 20 logins got in within 8 tries ($first at the first, $attempts tries in all)"

# Logs under the flood: the refusals at accept are limited, and so are the closes of the
# flood's sessions when it goes.
flood_stop
sleep 2
n=$(grep -c 'SSH connection from 127\.0\.0\.[0-9]*:[0-9]* refused' "$TG_TMP/gw.log" || true)
[ "$n" -ge 1 ] && [ "$n" -le 10 ] || fail "$n refusal lines for about 100 refused connections"
ok "the refusals at accept are logged within the limit ($n lines)"
n=$(grep -c 'session [0-9]* from 127\.0\.0\.\([2-9]\|[1-5][0-9]\):[0-9]*: closed' "$TG_TMP/gw.log" || true)
[ "$n" -le 10 ] || fail "$n lines for the flood's $FLOOD_HELD sessions closing"
ok "the flood's $FLOOD_HELD sessions closing make $n log lines, not one each"
stop_gw

# --- the channel cap: a public flood toward a client that never answers opens ---------------------
write_conf "$TG_TMP/gw.conf" "workers = 1;" 'conn_rate = 0;' 'channel_open_timeout = 120;' \
	'port_range = "28000-28999";'
start_gw "$TG_TMP/gw.conf"
TG_SERVICE=$FLOOD start_service blackhole
BLACKHOLE=$TG_SVC
start_ssh stuck -N -R "0:127.0.0.1:$BLACKHOLE" v2@127.0.0.1
port=$(allocated stuck)
# Its connects to the blackhole never finish, so OpenSSH never confirms a channel: 256
# channels wait, and every further public connection is dropped at the cap.
$TG_PY hold "$port" 2000 5 >"$TG_TMP/public.out" 2>&1 || fail "public flood: $(cat "$TG_TMP/public.out")"
wait_for 20 grep -q 'cannot open another channel' "$TG_TMP/gw.log" ||
	fail "the channel cap was never reached: $(tail -5 "$TG_TMP/gw.log")"
sleep 1
n=$(grep -c 'cannot open another channel' "$TG_TMP/gw.log" || true)
[ "$n" -le 10 ] || fail "$n log lines for about 1700 connections dropped at the channel cap"
ok "about 1700 connections dropped at the channel cap make $n log lines"
# The next interval's first line says how many were left out.
sleep 10
$TG_PY hold "$port" 1 5 >/dev/null
wait_for 10 grep -q 'cannot open another channel now ([0-9]* similar messages suppressed)' \
	"$TG_TMP/gw.log" || fail "no summary of the suppressed lines: $(tail -3 "$TG_TMP/gw.log")"
summary=$(grep -o '([0-9]* similar messages suppressed)' "$TG_TMP/gw.log" | tail -1)
ok "the next line carries the count of those left out: $summary"

# --- the control socket: an over-long request gets ERR and a clean close ---------------------
python3 - "$TG_TMP/tunnelgw.sock" <<'PY' || fail "over-long control requests"
import socket, sys, time
for size in (257, 300, 5000):
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(10)
    s.connect(sys.argv[1])
    s.sendall(b"x" * size + b"\n")
    time.sleep(0.3)  # let the daemon answer and close before we read
    data = b""
    try:
        while True:
            d = s.recv(65536)
            if not d:
                break
            data += d
    except ConnectionResetError:
        sys.exit("%d bytes: the connection was reset after %r" % (size, data))
    if data != b"ERR the request is not one line of at most 256 bytes\n":
        sys.exit("%d bytes: answered %r" % (size, data))
PY
ok "requests of 257, 300 and 5000 bytes get the ERR line, then EOF, no reset"
expect_status 0 "$TUNNELGWCTL" -f "$TG_TMP/gw.conf" tunnels
contains "$TG_OUT" "tcp://127.0.0.1:$port" "tunnelgwctl tunnels still answers"
stop_gw

# --- IPv6: one /64 is one source ------------------------------------------------------------------
# Linux answers from any 127/8 address on lo, but IPv6 has only ::1; a root test can add
# addresses from the documentation prefix 2001:db8::/32 to lo. Without root, or where the
# kernel refuses, tests/check_source and tests/check_startups cover the grouping.
v6_ok=1
for a in 2001:db8:12::a 2001:db8:12::b 2001:db8:12::c 2001:db8:12:1::a; do
	if ip -6 addr add "$a/128" dev lo nodad 2>/dev/null; then
		V6_ADDED="$V6_ADDED $a"
	else
		v6_ok=0
	fi
done
if [ "$v6_ok" -eq 1 ]; then
	TG_SSH_PORT=$(free_port)
	{
		echo "listen = [ \"[::1]:$TG_SSH_PORT\" ];"
		echo 'public_host = "127.0.0.1";'
		echo 'public_bind = "127.0.0.1";'
		echo 'workers = 1;'
		echo 'max_startups_per_source = 3;'
		echo 'ssh_rate = 0;'
		echo 'port_range = "28000-28999";'
	} >"$TG_TMP/gw6.conf"
	start_gw "$TG_TMP/gw6.conf"
	$FLOOD hold "$TG_SSH_PORT" 9 60 2001:db8:12::a 2001:db8:12::b 2001:db8:12::c \
		>"$TG_TMP/flood6.out" 2>&1 &
	TG_PIDS="$TG_PIDS $!"
	wait_for 20 grep -q '^held=' "$TG_TMP/flood6.out" || fail "IPv6 flood: $(cat "$TG_TMP/flood6.out")"
	grep -qx 'held=3 closed=6' "$TG_TMP/flood6.out" ||
		fail "three addresses of one /64 held: $(cat "$TG_TMP/flood6.out")"
	ok "three addresses of one /64 share max_startups_per_source = 3 (3 of 9 held)"
	$FLOOD hold "$TG_SSH_PORT" 3 60 2001:db8:12:1::a >"$TG_TMP/flood6b.out" 2>&1 &
	TG_PIDS="$TG_PIDS $!"
	wait_for 20 grep -q '^held=' "$TG_TMP/flood6b.out" || fail "IPv6 flood: $(cat "$TG_TMP/flood6b.out")"
	grep -qx 'held=3 closed=0' "$TG_TMP/flood6b.out" ||
		fail "another /64 was refused: $(cat "$TG_TMP/flood6b.out")"
	ok "another /64 has its own three"
	stop_gw
	sed -i 's/^max_startups_per_source = 3;/&\nsource_prefix6 = 128;/' "$TG_TMP/gw6.conf"
	start_gw "$TG_TMP/gw6.conf"
	$FLOOD hold "$TG_SSH_PORT" 9 60 2001:db8:12::a 2001:db8:12::b 2001:db8:12::c \
		>"$TG_TMP/flood6c.out" 2>&1 &
	TG_PIDS="$TG_PIDS $!"
	wait_for 20 grep -q '^held=' "$TG_TMP/flood6c.out" || fail "IPv6 flood: $(cat "$TG_TMP/flood6c.out")"
	grep -qx 'held=9 closed=0' "$TG_TMP/flood6c.out" ||
		fail "source_prefix6 = 128: $(cat "$TG_TMP/flood6c.out")"
	ok "with source_prefix6 = 128 each address counts apart (9 of 9 held)"
	stop_gw
else
	ok "IPv6 addresses cannot be added to lo here; check_source and check_startups test /64 grouping"
fi

done_testing
