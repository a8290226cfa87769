# tunnelgw: bad input and faults: dead upstreams, resets, killed clients, silent and garbage
# SSH clients, keepalives.
. "$(dirname "$0")/lib.sh"

gw_setup 'port_range = "22000-22999";' 'login_grace_time = 2;'
start_service echo
svc=$TG_SVC

# --- nothing listens upstream --------------------------------------------------------------
dead=$(free_port)
start_ssh dead -N -R "0:localhost:$dead" v2@127.0.0.1
dport=$(allocated dead)
start=$(date +%s%N)
port_closed "$dport" || fail "a connection to a tunnel with no upstream stayed open or sent data"
ms=$((($(date +%s%N) - start) / 1000000))
[ "$ms" -lt 2000 ] || fail "closing the connection took $ms ms"
ok "a public connection to a tunnel whose upstream is down is closed promptly ($ms ms)"
wait_for 5 grep -q "tcp://127.0.0.1:$dport: connection from .* refused by the SSH client" \
	"$TG_TMP/gw.log" || fail "no refusal in the log: $(cat "$TG_TMP/gw.log")"
ok "the gateway log says the SSH client refused the connection"
for i in $(seq 20); do
	port_closed "$dport" || fail "connection $i to the dead tunnel was not closed promptly"
done
ok "20 more connections in a row to the dead tunnel are each closed within 2 s"
kill -0 "$TG_LAST_PID" 2>/dev/null || fail "the ssh of the dead tunnel exited"
ok "the dead tunnel's session stays up"

# The same session can still add a working forward: a control master keeps it open for that.
ctl="$TG_TMP/ctl"
start_ssh master -M -S "$ctl" -o ControlPersist=no -N -R "0:localhost:$dead" v2@127.0.0.1
mdead=$(allocated master)
wait_for 5 ssh -F /dev/null -S "$ctl" -O check x || fail "the control master did not start"
port_closed "$mdead" || fail "the master's dead tunnel accepted a connection"
expect_status 0 timeout 20 ssh -F /dev/null -S "$ctl" -O forward -R "0:localhost:$svc" x
live=$TG_OUT
$TG_PY stream "$live" 100000 1 >/dev/null || fail "the live forward after a dead one"
ok "a second -R to a live service in the same session works after the dead one refused"
port_closed "$mdead" || fail "the dead tunnel accepted a connection after a live one was added"
ok "the dead tunnel still closes connections promptly"
timeout 10 ssh -F /dev/null -S "$ctl" -O exit x 2>/dev/null || true

# --- a public client resets mid-transfer ---------------------------------------------------
start_ssh a -N -R "0:localhost:$svc" v2@127.0.0.1
aport=$(allocated a)
before=$(wc -l <"$TG_TMP/gw.log")
$TG_PY reset "$aport" 4000000 >/dev/null || fail "the resetting client could not connect"
$TG_PY stream "$aport" 1000000 1 >/dev/null || fail "a stream after a reset"
ok "after a public client reset mid-transfer the tunnel still carries data"
$TG_PY stream "$aport" 1000000 4 >/dev/null || fail "concurrent streams after a reset"
ok "four concurrent streams after the reset arrive intact"
# Since the reset the log holds no warning or error: a client that went away is routine.
bad=$(tail -n "+$((before + 1))" "$TG_TMP/gw.log" | grep -E ']: (error|warn): ' || true)
[ -z "$bad" ] || fail "the gateway logged trouble after a reset: $bad"
ok "the gateway log has no warning or error after a public client's reset"
wait_for 5 grep -q "tcp://127.0.0.1:$aport: connection from .* after" "$TG_TMP/gw.log" ||
	fail "the reset connection's close is not logged: $(cat "$TG_TMP/gw.log")"
ok "the gateway log records the reset connection closing"

# --- kill -9 of an ssh in the middle of a large transfer ---------------------------------
# The service answers only after EOF, which the streaming client never sends: whatever the
# machine's speed, the transfer is still under way when the ssh is killed.
start_service reply-after-eof
start_ssh big -N -R "0:localhost:$TG_SVC" v2@127.0.0.1
big_pid=$TG_LAST_PID
bport=$(allocated big)
$TG_PY stream "$bport" 200000000 1 >"$TG_TMP/big.stream" 2>&1 &
stream_pid=$!
TG_PIDS="$TG_PIDS $stream_pid"
wait_for 5 grep -q "tcp://127.0.0.1:$bport: connection from .* open" "$TG_TMP/gw.log" ||
	fail "the large transfer did not start"
sleep 0.2
kill -0 "$stream_pid" 2>/dev/null || fail "the transfer ended before the ssh was killed"
kill -9 "$big_pid"
wait "$big_pid" 2>/dev/null || true
wait_for 5 port_closed "$bport" || fail "port $bport still accepts connections after kill -9"
ok "after kill -9 of its ssh mid-transfer, the public port refuses connections within 5 s"
wait_for 5 sh -c "! kill -0 $stream_pid 2>/dev/null" ||
	fail "the public connection of the killed client stayed open"
if wait "$stream_pid"; then
	fail "the 200 MB transfer through a killed client claims success"
fi
ok "the public connection of the killed client is closed (the transfer ends, incomplete)"
$TG_PY stream "$aport" 1000000 1 >/dev/null || fail "another tunnel after kill -9"
ok "another client's tunnel keeps working"
gw_alive "kill -9 of a client in the middle of a transfer"

# --- SSH clients that never authenticate ---------------------------------------------------
$TG_PY disconnected "$TG_SSH_PORT" 1 6 >"$TG_TMP/silent.out" 2>&1 &
silent_pid=$!
$TG_PY disconnected "$TG_SSH_PORT" 1 6 SSH-2.0-OpenSSH_9.0 >"$TG_TMP/version.out" 2>&1 &
version_pid=$!
TG_PIDS="$TG_PIDS $silent_pid $version_pid"
start_ssh late -N -R "0:localhost:$svc" v2@127.0.0.1
lport=$(allocated late)
$TG_PY stream "$lport" 100000 1 >/dev/null || fail "the tunnel of a client next to silent ones"
ok "a real ssh client connecting next to idle unauthenticated ones gets a working tunnel"
wait "$silent_pid" || fail "silent client: $(cat "$TG_TMP/silent.out")"
ok "a client that sends nothing is disconnected after login_grace_time ($(cat "$TG_TMP/silent.out"))"
wait "$version_pid" || fail "version-only client: $(cat "$TG_TMP/version.out")"
ok "a client that sends only a version line is disconnected after login_grace_time" \
	"($(cat "$TG_TMP/version.out"))"
grep -q "not authenticated within login_grace_time" "$TG_TMP/gw.log" ||
	fail "the log does not say why: $(cat "$TG_TMP/gw.log")"
ok "the gateway log says the client did not authenticate within login_grace_time"
$TG_PY stream "$lport" 100000 1 >/dev/null || fail "the tunnel after the grace time"
ok "the authenticated client's tunnel outlives the login grace time"

# --- a garbage first line ------------------------------------------------------------------
# shellcheck disable=SC2086
expect_status 0 $TG_PY disconnected "$TG_SSH_PORT" 0 1.5 "GET / HTTP/1.0"
ok "a client sending a garbage first line is disconnected promptly ($TG_OUT)"
# shellcheck disable=SC2086
expect_status 0 $TG_PY disconnected "$TG_SSH_PORT" 0 1.5 "$(head -c 300 /dev/zero | tr '\0' x)"
ok "a client sending a long garbage line is disconnected promptly ($TG_OUT)"
gw_alive "garbage first lines"
start_ssh after -N -R "0:localhost:$svc" v2@127.0.0.1
$TG_PY stream "$(allocated after)" 100000 1 >/dev/null || fail "a tunnel after garbage"
ok "the gateway keeps serving new clients after garbage"

# --- keepalives ----------------------------------------------------------------------------
start_ssh alive -N -o ServerAliveInterval=1 -o ServerAliveCountMax=2 -R "0:localhost:$svc" \
	v2@127.0.0.1
alive_pid=$TG_LAST_PID
kport=$(allocated alive)
sleep 5
kill -0 "$alive_pid" 2>/dev/null || fail "ssh with ServerAliveInterval=1 exited: $(cat "$TG_TMP/alive.err")"
ok "an ssh with ServerAliveInterval=1 ServerAliveCountMax=2 stays connected for 5 s"
$TG_PY stream "$kport" 100000 1 >/dev/null || fail "the keepalive client's tunnel"
ok "its tunnel still carries data"
! grep -q "Timeout, server" "$TG_TMP/alive.err" || fail "ssh reported a timeout"
ok "ssh reports no keepalive timeout"

# --- stopping with a connection open: the first signal says how long it waits, a second ends it
$TG_PY hold "$kport" 1 60 >"$TG_TMP/hold.out" &
TG_PIDS="$TG_PIDS $!"
wait_for 5 grep -q "holding 1 connections" "$TG_TMP/hold.out" || fail "the held connection did not open"
kill -TERM "$TG_GW_PID"
wait_for 5 grep -q "Terminated: stopping; new connections are refused; waiting up to 10 seconds for 1 open connection to finish (a second Ctrl-C, SIGINT or SIGTERM stops at once)" "$TG_TMP/gw.log" ||
	fail "the first SIGTERM did not say how long it waits: $(tail -5 "$TG_TMP/gw.log")"
ok "the first SIGTERM with a connection open logs one line: up to drain_timeout (10 s), a second signal stops at once"
kill -0 "$TG_GW_PID" 2>/dev/null || fail "the gateway did not wait for its open connection"
start=$(date +%s%N)
kill -TERM "$TG_GW_PID"
wait_gw
ms=$((($(date +%s%N) - start) / 1000000))
[ "$TG_GW_RC" -eq 0 ] || fail "tunnelgw exited $TG_GW_RC after the second SIGTERM"
[ "$ms" -lt 1000 ] || fail "the second SIGTERM took $ms ms to end the gateway"
ok "a second SIGTERM during the drain ends the gateway within 1 s ($ms ms), exit 0"
grep -q "Terminated again: stopping at once" "$TG_TMP/gw.log" || fail "the second SIGTERM is not logged"
ok "the log says the second signal stopped it at once"

done_testing
