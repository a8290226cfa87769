# tunnelgw: SIGHUP reloads the keys file without dropping tunnels; SIGTERM drains and stops.
. "$(dirname "$0")/lib.sh"

ssh-keygen -q -t ed25519 -N "" -C tunnelgw-test -f "$TG_TMP/client"
ssh-keygen -q -t ed25519 -N "" -C tunnelgw-b -f "$TG_TMP/keyb"
ssh-keygen -q -t ed25519 -N "" -C tunnelgw-c -f "$TG_TMP/keyc"
cat "$TG_TMP/client.pub" "$TG_TMP/keyb.pub" >"$TG_TMP/authorized_keys"
write_conf "$TG_TMP/gw.conf" 'workers = 2;' 'port_range = "30000-30999";' 'drain_timeout = 5;'
start_gw "$TG_TMP/gw.conf"
start_service echo
svc=$TG_SVC

start_ssh a -R "0:localhost:$svc" v2@127.0.0.1 tcp
pa=$(allocated a)
TG_KEY="$TG_TMP/keyb" start_ssh b -N -R "0:localhost:$svc" v2@127.0.0.1
pb=$(allocated b)

# Remove key B: its session closes, A keeps its tunnel.
cp "$TG_TMP/client.pub" "$TG_TMP/authorized_keys"
kill -HUP "$TG_GW_PID"
wait_for 3 port_closed "$pb" || fail "the removed key's tunnel is still open"
ok "SIGHUP with a key removed closes that key's session and its tunnel"
$TG_PY stream "$pa" 10000 1 >/dev/null || fail "the other tunnel stopped"
ok "the other session keeps its tunnel through the reload"
grep -q "your key was removed from the keys file" "$TG_TMP/gw.log" || fail "no reason logged"
ok "the log says why the session closed"

# A broken configuration is refused; the running one stays.
cp "$TG_TMP/gw.conf" "$TG_TMP/gw.conf.good"
echo 'idle_timout = 5;' >>"$TG_TMP/gw.conf"
kill -HUP "$TG_GW_PID"
wait_for 3 grep -q "reload refused, the running configuration stays: .*unknown option 'idle_timout'" \
	"$TG_TMP/gw.log" || fail "no refusal logged: $(tail -3 "$TG_TMP/gw.log")"
ok "SIGHUP with a broken configuration is refused with the error"
$TG_PY stream "$pa" 10000 1 >/dev/null || fail "the tunnel stopped after a refused reload"
ok "after a refused reload everything keeps running"

# A new key is let in; an option that needs a restart is named.
cp "$TG_TMP/gw.conf.good" "$TG_TMP/gw.conf"
sed -i 's/^port_range = .*/port_range = "30000-30998";/' "$TG_TMP/gw.conf"
cat "$TG_TMP/keyc.pub" >>"$TG_TMP/authorized_keys"
kill -HUP "$TG_GW_PID"
wait_for 3 grep -q "reload: port_range changed" "$TG_TMP/gw.log" || fail "the changed option was not named"
ok "an option that needs a restart is named in the log"
expect_status 0 ssh $TG_SSH_OPTS -i "$TG_TMP/keyc" -p "$TG_SSH_PORT" v2@127.0.0.1 help
ok "a key added to the keys file logs in after SIGHUP"

# SIGTERM: clients are told, open connections finish, new ones are refused, exit 0.
python3 - "$pa" >"$TG_TMP/drain.out" 2>&1 <<'PY' &
import socket, sys, time
c = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
c.sendall(b"before")
assert c.recv(6) == b"before"
print("open", flush=True)
time.sleep(1.5)            # the gateway is draining now
c.sendall(b"during")
data = c.recv(6)
print("during-ok" if data == b"during" else "during-failed", flush=True)
c.close()
PY
drainer=$!
wait_for 5 grep -q open "$TG_TMP/drain.out"
kill -TERM "$TG_GW_PID"
wait_for 3 grep -q "gateway is shutting down" "$TG_TMP/a.err" ||
	fail "the client was not told: $(cat "$TG_TMP/a.err")"
ok "on SIGTERM the client is told the gateway is shutting down"
wait_for 3 port_closed "$pa" || fail "the public port still accepts connections"
ok "new public connections are refused while draining"
wait "$drainer" || true
grep -q during-ok "$TG_TMP/drain.out" || fail "the open connection broke: $(cat "$TG_TMP/drain.out")"
ok "an open connection keeps working while the gateway drains"
wait_gw
[ "$TG_GW_RC" = 0 ] || fail "tunnelgw exited $TG_GW_RC"
ok "tunnelgw exits 0 once the last connection finished"
grep -q "stopped" "$TG_TMP/gw.log" || fail "no stop logged"

done_testing
