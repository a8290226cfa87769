# tunnelgw: policy and limits: tunnels per account, IP rules, rates, caps, idle connections.
. "$(dirname "$0")/lib.sh"

ssh-keygen -q -t ed25519 -N "" -C tunnelgw-test -f "$TG_TMP/client"
ssh-keygen -q -t ed25519 -N "" -C tunnelgw-three -f "$TG_TMP/three"
ssh-keygen -q -t ed25519 -N "" -C tunnelgw-deny -f "$TG_TMP/denykey"
{
	cat "$TG_TMP/client.pub"
	echo "max-tunnels=3 $(cat "$TG_TMP/three.pub")"
	echo "deny-cidr=\"127.0.0.3\" $(cat "$TG_TMP/denykey.pub")"
} >"$TG_TMP/authorized_keys"
write_conf "$TG_TMP/gw.conf" 'workers = 2;' 'port_range = "28000-28999";' 'max_tunnels = 2;' \
	'deny_cidr = "127.0.0.2/32";' 'conn_rate = 1;' 'conn_burst = 3;' 'idle_timeout = 1;' \
	'max_startups_per_source = 2;' 'ssh_rate = 1;' 'ssh_burst = 10;'
start_gw "$TG_TMP/gw.conf"
# OpenSSH drops a -R that repeats another exactly, so each forward names its own service.
start_service echo
svc=$TG_SVC
start_service echo
svc2=$TG_SVC
start_service echo
svc3=$TG_SVC
start_service echo
svc4=$TG_SVC

# Tunnels per account: the configuration's default, and a key's own limit.
start_ssh two -N -R "0:localhost:$svc" -R "0:localhost:$svc2" -R "0:localhost:$svc3" v2@127.0.0.1
p1=$(allocated two 1)
p2=$(allocated two 2)
wait_for 5 grep -q "remote port forwarding failed for listen port 0" "$TG_TMP/two.err" ||
	fail "the third tunnel was not refused: $(cat "$TG_TMP/two.err")"
grep -q "already has 2 tunnels open, its limit" "$TG_TMP/gw.log" || fail "no reason in the log"
ok "a forward over max_tunnels is refused, with the reason in the log"
$TG_PY stream "$p1" 1000 1 >/dev/null && $TG_PY stream "$p2" 1000 1 >/dev/null ||
	fail "the earlier tunnels stopped working"
ok "the account's earlier tunnels keep working"
TG_KEY="$TG_TMP/three" start_ssh three -N -R "0:localhost:$svc" -R "0:localhost:$svc2" \
	-R "0:localhost:$svc3" -R "0:localhost:$svc4" v2@127.0.0.1
allocated three 3 >/dev/null
wait_for 5 grep -q "remote port forwarding failed for listen port 0" "$TG_TMP/three.err" ||
	fail "the fourth tunnel of the max-tunnels=3 key was not refused"
ok "a key's max-tunnels=3 overrides the default: three tunnels granted, the fourth refused"
ctl account add lim --max-tunnels 1
tok=$(ctl token create lim 2>/dev/null)
NOKEY="-o PubkeyAuthentication=no -o PasswordAuthentication=no -o KbdInteractiveAuthentication=yes -o BatchMode=no $TG_SSH_OPTS"
TG_SSH_OPTS="$NOKEY" start_ssh lim -N -R "0:localhost:$svc" -R "0:localhost:$svc2" "$tok@127.0.0.1"
allocated lim 1 >/dev/null
wait_for 5 grep -q "remote port forwarding failed for listen port 0" "$TG_TMP/lim.err" ||
	fail "the account's second tunnel was not refused: $(cat "$TG_TMP/lim.err")"
grep -q "account 'lim' already has 1 tunnel open, its limit" "$TG_TMP/gw.log" || fail "no reason logged"
ok "an account's own limit (tunnelgwctl account add --max-tunnels 1) applies to its token logins"

# IP rules: the configuration's deny_cidr, a key's deny-cidr, the tcp command's --allow-cidr.
$TG_PY closed "$p1" 127.0.0.2 >/dev/null || fail "127.0.0.2 was forwarded despite deny_cidr"
ok "a public client in deny_cidr is closed at once, never forwarded"
$TG_PY stream "$p1" 1000 1 127.0.0.9 >/dev/null || fail "127.0.0.9 was refused"
ok "a public client outside deny_cidr is forwarded"
grep -q "refused: denied by deny_cidr" "$TG_TMP/gw.log" || fail "no refusal logged"
ok "the refusal is logged with its reason"
TG_KEY="$TG_TMP/denykey" start_ssh dk -N -R "0:localhost:$svc" v2@127.0.0.1
dport=$(allocated dk)
$TG_PY closed "$dport" 127.0.0.3 >/dev/null || fail "127.0.0.3 passed the key's deny-cidr"
$TG_PY stream "$dport" 1000 1 127.0.0.10 >/dev/null || fail "127.0.0.10 was refused"
ok "a key's deny-cidr refuses its address and lets others through"
TG_KEY="$TG_TMP/denykey" start_ssh al -R "0:localhost:$svc" v2@127.0.0.1 tcp --allow-cidr=127.0.0.4/32
aport=$(allocated al)
wait_for 5 grep -q "^Forwarding" "$TG_TMP/al.out"
$TG_PY stream "$aport" 1000 1 127.0.0.4 >/dev/null || fail "127.0.0.4 was refused"
$TG_PY closed "$aport" 127.0.0.11 >/dev/null || fail "127.0.0.11 passed --allow-cidr"
ok "tcp --allow-cidr lets only its addresses through"

# Rate per source address per tunnel: one address throttled, another passes.
out=$($TG_PY burst "$p2" 10 127.0.0.5)
served=${out#served=}
served=${served%% *}
[ "$served" -ge 2 ] && [ "$served" -le 5 ] || fail "conn_rate=1, conn_burst=3: $out"
ok "a burst of 10 connections from one address is throttled by conn_rate ($out)"
$TG_PY stream "$p2" 1000 1 127.0.0.6 >/dev/null || fail "another address was throttled too"
ok "meanwhile another address still gets through"

# Idle public connections close after idle_timeout.
$TG_PY disconnected "$p1" 0.5 5 >/dev/null || fail "an idle connection was not closed"
ok "an idle public connection is closed after idle_timeout"

# Unauthenticated connections per source, and the SSH connection rate.
python3 - "$TG_SSH_PORT" <<'PY' || fail "max_startups_per_source was not enforced"
import socket, sys, time
port = int(sys.argv[1])
held = [socket.create_connection(("127.0.0.1", port), source_address=("127.0.0.7", 0)) for _ in range(2)]
for c in held:
    c.recv(100)  # the server's version line: these two are being served
third = socket.create_connection(("127.0.0.1", port), source_address=("127.0.0.7", 0))
third.settimeout(3)
try:
    data = third.recv(100)
except ConnectionResetError:
    data = b""
sys.exit(0 if data == b"" else 1)
PY
ok "a third unauthenticated connection from one address is closed at once (max_startups_per_source=2)"
expect_status 0 ssh $TG_SSH_OPTS -i "$TG_TMP/client" -p "$TG_SSH_PORT" v2@127.0.0.1 help
ok "meanwhile a real client from another address logs in"
grep -q "max_startups_per_source" "$TG_TMP/gw.log" || fail "no reason logged"
ok "the refusal is logged with its reason"

# The port range runs out and comes back.
stop_gw
sed -i 's/^port_range = .*/port_range = "28900-28901";/; s/^max_tunnels = .*/max_tunnels = 0;/' "$TG_TMP/gw.conf"
start_gw "$TG_TMP/gw.conf"
start_ssh r1 -N -R "0:localhost:$svc" -R "0:localhost:$svc2" v2@127.0.0.1
allocated r1 2 >/dev/null
r1=$TG_LAST_PID
expect_status 255 ssh $TG_SSH_OPTS -o ExitOnForwardFailure=yes -i "$TG_TMP/client" \
	-p "$TG_SSH_PORT" -R "0:localhost:$svc" v2@127.0.0.1 help
grep -q "no free port left in port_range 28900-28901" "$TG_TMP/gw.log" || fail "no reason logged"
ok "with the port range used up, a forward is refused with the reason"
kill "$r1"
wait "$r1" 2>/dev/null || true
wait_for 2 port_closed 28900
start_ssh r2 -N -R "0:localhost:$svc" v2@127.0.0.1
p=$(allocated r2)
$TG_PY stream "$p" 1000 1 >/dev/null || fail "the new tunnel does not work"
ok "once a client leaves, its ports are handed out again"
stop_gw

done_testing
