# tunnelgw: three gateways sharing one PostgreSQL database, each in a network namespace of its
# own with its own address (10.77.0.N on a loopback-only interface): a reservation race, an
# account limit held across nodes, a reservation of another node, a token revoked on one node
# closing a session on another within a second, a tunnel closed through another node's API,
# kill -9 of a node (its tunnels leave the list after its lease), and a PostgreSQL restart
# (tunnels keep flowing, token logins are refused clearly, then resume).
# The server is the test's own (tests/pgserver.sh), reached by every node through its Unix
# socket, as a database on a private network would be. Needs root for the namespaces: skipped,
# saying why, where they cannot be made.
. "$(dirname "$0")/lib.sh"

if [ "$(id -u)" -ne 0 ]; then
	echo "SKIP: network namespaces need root (CI runs as root)"
	exit 77
fi
need_tool ip "iproute2 has it (contrib/install-deps.sh --postgresql)"
IP=$TG_TOOL
"$top_srcdir/tests/pgserver.sh" have || exit 77
if ! "$IP" netns add "tgprobe-$$" 2>"$TG_TMP/netns.err"; then
	echo "SKIP: cannot make a network namespace: $(cat "$TG_TMP/netns.err")"
	exit 77
fi
"$IP" netns del "tgprobe-$$"

NODES="1 2 3"
nodes_cleanup() {
	local i
	for pid in $TG_PIDS; do
		kill "$pid" 2>/dev/null || true
	done
	"$top_srcdir/tests/pgserver.sh" stop "$TG_TMP/pg" || true
	for i in $NODES; do
		"$IP" netns del "tg-$$-$i" 2>/dev/null || true
	done
}
trap 'nodes_cleanup; [ -n "${TG_KEEP:-}" ] || tg_cleanup' EXIT

# --- the database and the namespaces
chmod 711 "$TG_TMP"
"$top_srcdir/tests/pgserver.sh" start "$TG_TMP/pg" || fail "the test's PostgreSQL did not start"
psql "postgresql://tunnelgw@/postgres?host=$TG_TMP/pg" -qc "CREATE DATABASE fleet" >/dev/null
DB="postgresql://tunnelgw@/fleet?host=$TG_TMP/pg"
for i in $NODES; do
	"$IP" netns add "tg-$$-$i"
	"$IP" -n "tg-$$-$i" link set lo up
	"$IP" -n "tg-$$-$i" addr add "10.77.0.$i/32" dev lo
done
ok "a PostgreSQL server of the test's own, and three network namespaces with 10.77.0.1-3"

# inns N CMD...: run CMD in node N's namespace.
inns() {
	local n=$1
	shift
	"$IP" netns exec "tg-$$-$n" "$@"
}

# node_conf N: node N's configuration.
node_conf() {
	mkdir -p "$TG_TMP/n$1"
	cat >"$TG_TMP/n$1/gw.conf" <<EOF
listen = [ "10.77.0.$1:2222" ];
public_host = "10.77.0.$1";
public_bind = "0.0.0.0";
port_range = "20000-20099";
database = "$DB";
node_name = "n$1";
node_lease = 3;
workers = 1;
api_listen = "127.0.0.1:8080";
EOF
	: >"$TG_TMP/n$1/authorized_keys"
}

# start_node N: start node N in its namespace; its log is $TG_TMP/nN/gw.log.
start_node() {
	: >"$TG_TMP/n$1/gw.log"
	# Not through inns: $! must be tunnelgw's own pid (ip netns exec execs it), for kill -9.
	"$IP" netns exec "tg-$$-$1" "$TUNNELGW" -f "$TG_TMP/n$1/gw.conf" -vv \
		>"$TG_TMP/n$1/gw.log" 2>&1 &
	eval "NODE_PID_$1=$!"
	TG_PIDS="$TG_PIDS $!"
	wait_for 10 grep -q ': ready' "$TG_TMP/n$1/gw.log" || {
		cat "$TG_TMP/n$1/gw.log" >&2
		fail "node $1 did not become ready"
	}
}

# nctl N ARGS...: tunnelgwctl with node N's configuration (and, for tunnels, its daemon).
nctl() {
	local n=$1
	shift
	inns "$n" "$TUNNELGWCTL" -f "$TG_TMP/n$n/gw.conf" "$@"
}

# tunnel NAME N TOKEN [SSH-ARGS...]: an ssh -R 0:... with TOKEN to node N, from its namespace,
# to a service there; waits for its Forwarding line, whose port goes to $TPORT.
tunnel() {
	local name=$1 n=$2 token=$3
	shift 3
	# shellcheck disable=SC2086
	"$IP" netns exec "tg-$$-$n" ssh $NOKEY -p 2222 -R "0:127.0.0.1:$(eval echo "\$SVC_$n")" "$@" \
		"$token@10.77.0.$n" tcp >"$TG_TMP/$name.out" 2>"$TG_TMP/$name.err" </dev/null &
	TG_LAST_PID=$!
	TG_PIDS="$TG_PIDS $TG_LAST_PID"
	wait_for 10 grep -q "^Forwarding  tcp://10.77.0.$n:" "$TG_TMP/$name.out" ||
		fail "$name: no tunnel on node $n: $(cat "$TG_TMP/$name.err" "$TG_TMP/$name.out")"
	TPORT=$(sed -n "s|^Forwarding  tcp://10.77.0.$n:\([0-9]*\)\$|\1|p" "$TG_TMP/$name.out")
}

# refused NAME N TOKEN FORWARD MESSAGE DESCRIPTION: ssh -R FORWARD with TOKEN to node N is
# refused, and the client shows MESSAGE. Without ExitOnForwardFailure the session stays, and
# ssh prints the gateway's reason.
refused() {
	local name=$1 n=$2 token=$3 fwd=$4
	# shellcheck disable=SC2086
	"$IP" netns exec "tg-$$-$n" ssh $NOKEY -p 2222 -R "$fwd" "$token@10.77.0.$n" tcp \
		>"$TG_TMP/$name.out" 2>"$TG_TMP/$name.err" </dev/null &
	TG_PIDS="$TG_PIDS $!"
	err_has "$name" "$5" "$6"
	kill $!
	! grep -q "^Forwarding" "$TG_TMP/$name.out" ||
		fail "$name: the forward was granted: $(cat "$TG_TMP/$name.out")"
}

NOKEY="-o PubkeyAuthentication=no -o PasswordAuthentication=no -o KbdInteractiveAuthentication=yes -o BatchMode=no $TG_SSH_OPTS"
for i in $NODES; do
	node_conf "$i"
	start_node "$i"
	# An echo service in each namespace, for the tunnels its clients open.
	portfile=$TG_TMP/n$i/svc.port
	"$IP" netns exec "tg-$$-$i" $TG_PY echo "$portfile" >"$TG_TMP/n$i/svc.log" 2>&1 &
	TG_PIDS="$TG_PIDS $!"
	wait_for 10 test -s "$portfile" || fail "node $i's echo service did not start"
	eval "SVC_$i=$(cat "$portfile")"
done
grep -q "node n2 (number [0-9]*, 10.77.0.2) shares database 'fleet'" "$TG_TMP/n2/gw.log" ||
	fail "node 2 does not say it shares the database: $(cat "$TG_TMP/n2/gw.log")"
ok "three gateways in three namespaces share one database, each saying so"

nctl 1 account add alice >/dev/null
nctl 1 account add bob >/dev/null

# --- a reservation race across nodes: exactly one wins each port
wins=0
for port in 20090 20091 20092 20093 20094 20095 20096 20097 20098 20099; do
	nctl 1 address reserve alice "$port" --node n1 >"$TG_TMP/race1.out" 2>"$TG_TMP/race1.err" &
	p1=$!
	nctl 2 address reserve bob "$port" --node n2 >"$TG_TMP/race2.out" 2>"$TG_TMP/race2.err" &
	p2=$!
	r1=0
	r2=0
	wait "$p1" || r1=$?
	wait "$p2" || r2=$?
	[ $((r1 == 0)) -ne $((r2 == 0)) ] || fail "port $port: both or neither won ($r1, $r2): $(cat "$TG_TMP/race1.err" "$TG_TMP/race2.err")"
	grep -q "port $port is already reserved by account '\(alice\|bob\)'" \
		"$TG_TMP/race1.err" "$TG_TMP/race2.err" || fail "port $port: the loser was not told why"
	wins=$((wins + 1))
done
[ "$(nctl 3 address list | grep -c ':200[9][0-9] ')" -eq 10 ] ||
	fail "the ten contested ports are not reserved once each: $(nctl 3 address list)"
ok "a reservation race between two nodes, ten times: exactly one wins each port ($wins), the other is told"
for port in 20090 20091 20092 20093 20094 20095 20096 20097 20098 20099; do
	nctl 3 address release "$port" >/dev/null
done

# --- an address reserved on another node: the client is told where to go
nctl 1 address reserve alice 20050 --node n2 >/dev/null
contains "$(nctl 1 address list)" "tcp://10.77.0.2:20050  alice" "address list shows the node's own host"
refused away 1 "$(nctl 1 token create alice 2>/dev/null)" "20050:127.0.0.1:$SVC_1" \
	"forward of localhost:20050 refused: tcp port 20050 is reserved for this account on gateway n2: connect to 10.77.0.2 instead" \
	"asking node 1 for an address reserved on node 2 is refused, naming the host to use"
tunnel here 2 "$(nctl 2 token create alice 2>/dev/null)" -R "20050:127.0.0.1:$SVC_2"
inns 2 $TG_PY stream 20050 100000 2 >/dev/null || fail "the reserved address carries no data on its node"
ok "on node 2 the same client gets the address, and it carries data"
kill "$TG_LAST_PID"
wait_for 10 sh -c "[ \"\$($IP netns exec tg-$$-1 $TUNNELGWCTL -f $TG_TMP/n1/gw.conf tunnels | grep -c ':20050')\" = 0 ]" ||
	fail "the tunnel did not leave the list"

# --- an account limit held across two nodes
nctl 1 account set bob --max-tunnels 2 >/dev/null
tunnel b1 1 "$(nctl 1 token create bob 2>/dev/null)"
tunnel b2 2 "$(nctl 1 token create bob 2>/dev/null)"
wait_for 10 grep -q "node n1: the other gateways hold 1 tunnels" "$TG_TMP/n1/gw.log" ||
	fail "node 1 did not learn of node 2's tunnel: $(tail -5 "$TG_TMP/n1/gw.log")"
refused b3 1 "$(nctl 1 token create bob 2>/dev/null)" "0:127.0.0.1:$SVC_1" \
	"refused: account 'bob' already has 2 tunnels open (1 on other gateways), its limit" \
	"bob (max-tunnels 2) with one tunnel on node 1 and one on node 2 is refused a third on node 1"
wait_for 5 sh -c "[ \$($IP netns exec tg-$$-3 $TUNNELGWCTL -f $TG_TMP/n3/gw.conf tunnels | grep -c '^tcp.* bob ') -ge 2 ]" ||
	fail "node 3 does not list bob's two tunnels: $(nctl 3 tunnels)"
nctl 3 tunnels | grep -q "bob .* n1$" && nctl 3 tunnels | grep -q "bob .* n2$" ||
	fail "the listing does not name each tunnel's node: $(nctl 3 tunnels)"
ok "tunnelgwctl tunnels on a third node lists both, each with its node's name"

# --- a second gateway started with a node_name in use: it waits out the lease, then stops
mkdir -p "$TG_TMP/dup"
sed -e 's/10.77.0.3:2222/10.77.0.3:2223/' -e 's/node_name = "n3"/node_name = "n2"/' \
	-e '/api_listen/d' "$TG_TMP/n3/gw.conf" >"$TG_TMP/dup/gw.conf"
: >"$TG_TMP/dup/authorized_keys"
start=$(date +%s)
inns 3 "$TUNNELGW" -f "$TG_TMP/dup/gw.conf" -v >"$TG_TMP/dup/gw.log" 2>&1 &&
	fail "a second gateway named n2 started: $(cat "$TG_TMP/dup/gw.log")"
contains "$(cat "$TG_TMP/dup/gw.log")" "node n2: cannot join the gateways sharing the database: node_name 'n2' is in use by another gateway that is running (public_host '10.77.0.2'" \
	"a second gateway with node_name n2 stops, naming the running one's host"
grep -q "waiting up to 5 s in case that gateway stopped without leaving" "$TG_TMP/dup/gw.log" ||
	fail "it did not say it waits for the lease: $(cat "$TG_TMP/dup/gw.log")"
took=$(( $(date +%s) - start ))
[ "$took" -le 10 ] || fail "it took $took s to give up"
nctl 3 tunnels | grep -q "bob .* n2$" || fail "n2's tunnel left the list: $(nctl 3 tunnels)"
inns 2 $TG_PY stream "$(sed -n 's|^Forwarding  tcp://10.77.0.2:\([0-9]*\)$|\1|p' "$TG_TMP/b2.out")" 100000 1 \
	>/dev/null || fail "n2's tunnel stopped carrying data"
ok "after waiting out the lease ($took s), it stops; the running n2 keeps its row and its tunnel carries data"

# --- a token revoked on one node closes the session on another within a second
tok=$(nctl 1 token create alice 2>"$TG_TMP/tok.err")
id=$(sed -n 's/^token \([0-9]*\) .*/\1/p' "$TG_TMP/tok.err")
tunnel rev 3 "$tok"
before=$(date +%s.%N)
nctl 1 token revoke "$id" >/dev/null
wait_for 5 grep -q "closed by the operator: your token was revoked" "$TG_TMP/n3/gw.log" ||
	fail "node 3 did not close the session: $(tail -5 "$TG_TMP/n3/gw.log")"
closed=$(grep -m1 "closed by the operator: your token was revoked" "$TG_TMP/n3/gw.log" | cut -c1-23)
took=$(python3 -c "import datetime,sys; t=datetime.datetime.strptime(sys.argv[1], '%Y-%m-%dT%H:%M:%S.%f').replace(tzinfo=datetime.timezone.utc).timestamp(); print('%.3f' % (t - float(sys.argv[2])))" "$closed" "$before")
python3 -c "import sys; sys.exit(0 if float(sys.argv[1]) < 1.0 else 1)" "$took" ||
	fail "the session closed $took s after the revocation"
ok "a token revoked through node 1 closes its session on node 3 within a second ($took s)"
grep -q "account store changed ([0-9]*): checking the sessions of 1 account$" "$TG_TMP/n3/gw.log" ||
	fail "node 3 did not check just the sessions of the token's account: $(grep 'store changed' "$TG_TMP/n3/gw.log")"
ok "the notification named the token's account: node 3 checked only that account's sessions"

# --- a tunnel closed through another node's API
opk=$(nctl 1 apikey create --operator 2>/dev/null)
tunnel far 2 "$(nctl 1 token create alice 2>/dev/null)"
farport=$TPORT
# Node 2 lists it at its next sync, within a second.
for _ in $(seq 50); do
	json=$(inns 1 curl -s -H "Authorization: Bearer $opk" "http://127.0.0.1:8080/api/v1/tunnels")
	tid=$(printf '%s' "$json" | python3 -c "import json,sys; print([t['id'] for t in json.load(sys.stdin)['tunnels'] if t['public_endpoint'] == 'tcp://10.77.0.2:$farport' and t['node'] == 'n2'][0])" 2>/dev/null) && break
	sleep 0.1
done
[ -n "$tid" ] || fail "node 1's API does not list node 2's tunnel with its node: $json"
ok "node 1's API lists node 2's tunnel, with node n2"
code=$(inns 1 curl -s -o "$TG_TMP/del.json" -w '%{http_code}' -X DELETE -H "Authorization: Bearer $opk" \
	"http://127.0.0.1:8080/api/v1/tunnels/$tid")
[ "$code" = 202 ] || fail "DELETE through node 1: HTTP $code $(cat "$TG_TMP/del.json")"
wait_for 5 grep -q "tunnel $tid: closed at another node's request" "$TG_TMP/n2/gw.log" ||
	fail "node 2 did not close it: $(tail -5 "$TG_TMP/n2/gw.log")"
wait_for 5 sh -c "! $IP netns exec tg-$$-2 $TG_PY stream $farport 10 1" ||
	fail "node 2's port $farport still carries data"
ok "DELETE /api/v1/tunnels/ID on node 1 closes node 2's tunnel (202, then its port closes)"

# --- kill -9 of a node: its tunnels leave the shared list when its lease runs out
tunnel dying 3 "$(nctl 1 token create alice 2>/dev/null)"
wait_for 5 sh -c "$IP netns exec tg-$$-1 $TUNNELGWCTL -f $TG_TMP/n1/gw.conf tunnels | grep -q ' n3\$'" ||
	fail "node 3's tunnel is not listed"
kill -9 "$NODE_PID_3"
killed=$(date +%s)
nctl 1 tunnels | grep -q ' n3$' || fail "node 3's tunnel left the list before its lease ran out"
ok "node 3 killed with SIGKILL: its tunnel is still listed while its lease (3 s) holds"
wait_for 8 sh -c "! $IP netns exec tg-$$-1 $TUNNELGWCTL -f $TG_TMP/n1/gw.conf tunnels | grep -q ' n3\$'" ||
	fail "node 3's tunnel is still listed $(( $(date +%s) - killed )) s after the kill"
ok "then it leaves the list, $(( $(date +%s) - killed )) s after the kill (lease 3 s, syncs every second)"
# Started again at once, it would wait for the lease of its killed run; that has run out now.
start_node 3
grep -q "waiting up to" "$TG_TMP/n3/gw.log" && fail "node 3 waited for a lease that had run out"
nctl 1 tunnels >"$TG_TMP/after.txt"
grep -q ' n3$' "$TG_TMP/after.txt" && fail "node 3's killed run's tunnel is back: $(cat "$TG_TMP/after.txt")"
ok "node 3 started again joins at once, with none of its killed run's tunnels"
kill -9 "$NODE_PID_3"
start_node 3
grep -q "node n3: node_name 'n3' is in use by another gateway that is running .*; waiting up to 5 s" \
	"$TG_TMP/n3/gw.log" || fail "node 3 did not wait for its killed run's lease: $(cat "$TG_TMP/n3/gw.log")"
ok "killed and started again at once, node 3 waits for its killed run's lease, then joins"

# --- a PostgreSQL restart: tunnels keep flowing; token logins are refused clearly, then resume
tunnel steady 1 "$(nctl 1 token create alice 2>/dev/null)"
steady=$TPORT
late=$(nctl 1 token create alice 2>/dev/null)
"$top_srcdir/tests/pgserver.sh" stop "$TG_TMP/pg"
inns 1 $TG_PY stream "$steady" 1000000 4 >/dev/null || fail "the tunnel stopped carrying data with the database down"
ok "with the database stopped, a tunnel on node 1 carries 4 x 1 MB, intact"
# The server stays down until node 1 has found it so at a sync (one a second): an outage that
# falls between two syncs would leave it nothing to catch up on.
wait_for 5 grep -q "node n1: cannot sync with the gateways sharing the database: DB: " \
	"$TG_TMP/n1/gw.log" || fail "node 1 does not say it cannot sync: $(tail -5 "$TG_TMP/n1/gw.log")"
ok "node 1 says it cannot sync with the other gateways, and why"
# shellcheck disable=SC2086
inns 1 ssh $NOKEY -o ExitOnForwardFailure=yes -p 2222 -R "0:127.0.0.1:$SVC_1" "$late@10.77.0.1" tcp \
	>"$TG_TMP/late.out" 2>"$TG_TMP/late.err" </dev/null && fail "a token login passed with the database down"
wait_for 5 grep -q "token refused: DB: " "$TG_TMP/n1/gw.log" ||
	fail "the log does not say the database failed: $(tail -5 "$TG_TMP/n1/gw.log")"
contains "$(cat "$TG_TMP/late.err")" "the gateway cannot check tokens now (its database does not answer)" \
	"a token login while the database is down is refused, telling the client why (not where the database is)"
"$top_srcdir/tests/pgserver.sh" resume "$TG_TMP/pg" || fail "PostgreSQL did not start again"
# shellcheck disable=SC2086
wait_for 10 sh -c "$IP netns exec tg-$$-1 ssh $NOKEY -o ExitOnForwardFailure=yes -p 2222 -R 0:127.0.0.1:$SVC_1 $late@10.77.0.1 status </dev/null >$TG_TMP/again.out 2>&1" ||
	fail "token logins did not resume: $(cat "$TG_TMP/again.out")"
ok "once PostgreSQL is back, the same token logs in"
inns 1 $TG_PY stream "$steady" 100000 2 >/dev/null || fail "the tunnel carries no data after the restart"
wait_for 5 grep -q "node n1: in sync again after" "$TG_TMP/n1/gw.log" ||
	fail "node 1 did not say it is in sync again"
ok "the tunnel that lived through the restart still carries data, and node 1 is in sync again"

done_testing
