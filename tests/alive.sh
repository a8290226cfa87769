# tunnelgw: clients that stop answering are found and their ports freed: keepalives from the
# gateway (client_alive_interval, client_alive_count_max), and an immediate probe when a newer
# session of the same account asks for a port an older one holds. A client that is stopped
# (kill -STOP, a laptop asleep) still has its kernel answer TCP keepalives, so only an
# SSH-level question finds it.
. "$(dirname "$0")/lib.sh"

gw_setup 'port_range = "26000-26999";' 'allow_requested_ports = true;' \
	'client_alive_interval = 1;' 'client_alive_count_max = 2;'
start_service echo
svc=$TG_SVC
need_tool dropbearconvert "dropbear-bin: contrib/install-deps.sh installs it"
DROPBEARCONVERT=$TG_TOOL
need_tool dbclient "dropbear-bin: contrib/install-deps.sh installs it"
DBCLIENT=$TG_TOOL

# --- a live but idle client is kept ---------------------------------------------------------
start_ssh idle -N -R "26001:localhost:$svc" v2@127.0.0.1
wait_for 10 $TG_PY stream 26001 1000 1 || fail "the idle client's tunnel did not open"
ok "an idle client's tunnel opens"
HOME=$TG_TMP "$DROPBEARCONVERT" openssh dropbear "$TG_TMP/client" "$TG_TMP/client.db" >/dev/null 2>&1 ||
	fail "dropbearconvert is missing (contrib/install-deps.sh installs dropbear-bin)"
HOME=$TG_TMP "$DBCLIENT" -y -y -i "$TG_TMP/client.db" -p "$TG_SSH_PORT" -N -R "26002:localhost:$svc" \
	v2@127.0.0.1 >"$TG_TMP/db.out" 2>&1 </dev/null &
TG_PIDS="$TG_PIDS $!"
wait_for 10 $TG_PY stream 26002 1000 1 || fail "dbclient's tunnel did not open"
sleep 5	# five intervals without a word from either client
$TG_PY stream 26001 100000 1 >/dev/null || fail "OpenSSH's idle tunnel was closed by keepalives"
ok "OpenSSH answers the gateway's keepalives: idle for 5 intervals, its tunnel stays"
$TG_PY stream 26002 100000 1 >/dev/null || fail "dbclient's idle tunnel was closed by keepalives"
ok "dbclient answers them too"

# --- a stopped client is disconnected within interval x count + 1 s -------------------------
start_ssh frozen -N -R "26003:localhost:$svc" v2@127.0.0.1
frozen=$TG_LAST_PID
wait_for 10 $TG_PY stream 26003 1000 1 || fail "the tunnel to be frozen did not open"
start=$(date +%s%3N)
kill -STOP "$frozen"
wait_for 5 grep -q "did not answer 2 keepalives" "$TG_TMP/gw.log" || {
	cat "$TG_TMP/gw.log" >&2
	fail "the stopped client was not disconnected"
}
wait_for 2 port_closed 26003 || fail "the stopped client's port stayed open"
kill -CONT "$frozen"
# When the gateway closed it, by its log's clock (the port closes in the same step).
closed=$(grep "tcp://127.0.0.1:26003: tunnel closed" "$TG_TMP/gw.log" | head -1 | cut -c1-23)
took=$(( $(date -u -d "${closed}Z" +%s%3N) - start ))
echo "# the stopped client's port was freed $took ms after it stopped"
[ "$took" -le 3250 ] || fail "freed after $took ms, more than interval x count + 1 s"
ok "a stopped client is disconnected and its port freed within interval x count + 1 s ($took ms)"
start_ssh back -o ExitOnForwardFailure=yes -N -R "26003:localhost:$svc" v2@127.0.0.1
wait_for 10 $TG_PY stream 26003 1000 1 || fail "the freed port could not be taken again"
ok "the client that comes back gets its port again"
stop_gw

# --- a newer session of the same account takes the port of a stopped one at once ------------
write_conf "$TG_TMP/gw2.conf" 'port_range = "26000-26999";' 'allow_requested_ports = true;' \
	'client_alive_interval = 600;' "authorized_keys = \"$TG_TMP/authorized_keys\";"
start_gw "$TG_TMP/gw2.conf"
start_ssh asleep -N -R "26010:localhost:$svc" v2@127.0.0.1
asleep=$TG_LAST_PID
wait_for 10 $TG_PY stream 26010 1000 1 || fail "the tunnel of the sleeping laptop did not open"
kill -STOP "$asleep"
expect_status 255 ssh $TG_SSH_OPTS -i "$TG_TMP/client" -p "$TG_SSH_PORT" -o ExitOnForwardFailure=yes \
	-R "26010:localhost:$svc" v2@127.0.0.1 tcp
grep -q "refused: port 26010 is held by your session [0-9]* (since .*connect again then" \
	"$TG_TMP/gw.log" || fail "the refusal does not name the session that holds the port"
ok "the refusal names the session that holds the port, and says to connect again"
wait_for 3 grep -q "did not answer an immediate keepalive" "$TG_TMP/gw.log" ||
	fail "the stopped holder was not closed after the probe"
ok "the stopped holder is closed within 2 s of the probe, not after client_alive_interval"
kill -CONT "$asleep"
start_ssh retry -o ExitOnForwardFailure=yes -N -R "26010:localhost:$svc" v2@127.0.0.1
wait_for 10 $TG_PY stream 26010 1000 1 || fail "the reconnecting client did not get its port back"
ok "the reconnecting client gets its port back on the next try"
done_testing
