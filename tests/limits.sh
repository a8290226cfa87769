# tunnelgw: running out of resources: new requests wait or are refused, what runs keeps running.
. "$(dirname "$0")/lib.sh"

# cpu_ticks PID: user+system clock ticks a process has used.
cpu_ticks() {
	awk '{ print $14 + $15 }' "/proc/$1/stat"
}

# --- out of file descriptors ------------------------------------------------------------------
ssh-keygen -q -t ed25519 -N "" -C tunnelgw-test -f "$TG_TMP/client"
cp "$TG_TMP/client.pub" "$TG_TMP/authorized_keys"
write_conf "$TG_TMP/gw.conf" 'workers = 1;' 'port_range = "26000-26999";'
(ulimit -n 64 && exec "$TUNNELGW" -f "$TG_TMP/gw.conf" -v) >"$TG_TMP/gw.log" 2>&1 &
TG_GW_PID=$!
TG_PIDS="$TG_PIDS $TG_GW_PID"
wait_for 10 grep -q ': ready' "$TG_TMP/gw.log" || fail "tunnelgw did not start: $(cat "$TG_TMP/gw.log")"
start_service echo
start_ssh a -N -R "0:localhost:$TG_SVC" v2@127.0.0.1
port=$(allocated a)
$TG_PY stream "$port" 10000 1 >/dev/null || fail "the tunnel does not work to begin with"

$TG_PY hold "$port" 100 4 >"$TG_TMP/hold.out" &
holder=$!
TG_PIDS="$TG_PIDS $holder"
wait_for 5 grep -q holding "$TG_TMP/hold.out"
wait_for 5 grep -q "accepting public connections: Too many open files" "$TG_TMP/gw.log" ||
	fail "no exhaustion reported: $(tail -5 "$TG_TMP/gw.log")"
ok "running out of descriptors is reported"
t0=$(cpu_ticks "$TG_GW_PID")
sleep 2
t1=$(cpu_ticks "$TG_GW_PID")
[ $((t1 - t0)) -lt 50 ] || fail "the gateway used $((t1 - t0)) ticks in 2 s while out of descriptors"
ok "out of descriptors, the gateway does not spin ($((t1 - t0)) clock ticks in 2 s)"
n=$(grep -c "Too many open files" "$TG_TMP/gw.log")
[ "$n" -le 3 ] || fail "$n log lines about the exhaustion"
ok "the exhaustion is logged once, not once per attempt ($n lines)"
kill "$holder"
wait "$holder" 2>/dev/null || true
wait_for 5 $TG_PY stream "$port" 10000 1 || fail "the tunnel does not recover"
ok "when descriptors are free again, the tunnel carries connections again"
stop_gw
ok "the gateway stops cleanly"

done_testing
