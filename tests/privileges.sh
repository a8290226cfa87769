# tunnelgw: started as root with user set, the daemon becomes that user once everything is open.
. "$(dirname "$0")/lib.sh"

ssh-keygen -q -t ed25519 -N "" -C tunnelgw-test -f "$TG_TMP/client"
cp "$TG_TMP/client.pub" "$TG_TMP/authorized_keys"
chmod 755 "$TG_TMP"
chmod 644 "$TG_TMP/authorized_keys"
write_conf "$TG_TMP/gw.conf" 'workers = 2;' 'port_range = "20500-20599";' 'user = "nobody";'
chmod 644 "$TG_TMP/gw.conf"

if [ "$(id -u)" != 0 ]; then
	expect_status 1 "$TUNNELGW" -f "$TG_TMP/gw.conf"
	contains "$TG_ERR" "user is set to 'nobody' but tunnelgw was not started as root" \
		"without root, user set is a clear start-up error"
	done_testing
	exit 0
fi

start_gw "$TG_TMP/gw.conf"
uid=$(awk '/^Uid:/ { print $2 "," $3 "," $4 }' "/proc/$TG_GW_PID/status")
want=$(id -u nobody)
[ "$uid" = "$want,$want,$want" ] || fail "the daemon runs with uids $uid"
ok "the daemon runs as nobody (real, effective and saved uid)"
contains "$(cat "$TG_TMP/gw.log")" "running as user nobody" "the log says which user it runs as"
[ "$(stat -c %U "$TG_TMP/tunnelgw.db")" = nobody ] || fail "the database still belongs to $(stat -c %U "$TG_TMP/tunnelgw.db")"
ok "the database was given to that user"

start_service echo
start_ssh a -R "0:localhost:$TG_SVC" v2@127.0.0.1 tcp
port=$(allocated a)
$TG_PY stream "$port" 100000 1 >/dev/null || fail "the tunnel does not work"
ok "tunnels work after the privilege drop"
"$TUNNELGWCTL" -f "$TG_TMP/gw.conf" account add alice
token=$("$TUNNELGWCTL" -f "$TG_TMP/gw.conf" token create alice 2>/dev/null)
ssh-keygen -q -t ed25519 -N "" -f "$TG_TMP/newkey"
expect_status 0 ssh $TG_SSH_OPTS -i "$TG_TMP/newkey" -p "$TG_SSH_PORT" "$token@127.0.0.1" register
contains "$TG_OUT" "for account alice" "the daemon still writes to the database (register)"
stop_gw
ok "it stops cleanly"

done_testing
