# tunnelgw: objects that outlive a callback: a public connection whose SSH session ends while
# the connection still waits for the session's command, with data queued toward a public
# client that does not read. Under AddressSanitizer (the CI's sanitizer build) any use of the
# freed session aborts the gateway; in every build the gateway must keep serving.
. "$(dirname "$0")/lib.sh"

HOSTILE="/usr/bin/python3 $top_srcdir/tests/hostile.py"
need_paramiko

gw_setup 'port_range = "24000-24999";' 'ciphers = "aes128-ctr";'

# fds: how many descriptors the gateway has open.
fds() {
	ls "/proc/$TG_GW_PID/fd" | wc -l
}
fds_before=$(fds)

# The driver keeps its public client connected for 3 s after vanishing: past the 2 s a new
# connection waits for the session's command.
for round in 1 2 3 4; do
	expect_status 0 $HOSTILE drop-while-held "$TG_SSH_PORT" "$TG_TMP/client" 4194304
	contains "$TG_OUT" "dropped after" "round $round: the client pushed data and vanished while its command was pending"
	gw_alive "round $round"
done
if grep -q "AddressSanitizer\|runtime error" "$TG_TMP/gw.log"; then
	cat "$TG_TMP/gw.log" >&2
	fail "the sanitizer reported an error"
fi
ok "no sanitizer report"

expect_status 0 ssh $TG_SSH_OPTS -i "$TG_TMP/client" -p "$TG_SSH_PORT" v2@127.0.0.1 help
contains "$TG_OUT" "usage:" "a new login is served afterwards"
# A session's socket is kept from libssh's close and closed by the session, last.
wait_for 5 test "$(fds)" -le "$fds_before" || fail "descriptors leaked: $fds_before before, $(fds) after"
ok "every descriptor of the vanished sessions and their connections is closed"

# The descriptor budget: one per SSH session, one per public port, one per public connection.
fds_before=$(fds)
for i in 1 2 3 4 5; do start_ssh idle$i -N -R 0:127.0.0.1:9 v2@127.0.0.1; done
for i in 1 2 3 4 5; do allocated idle$i >/dev/null; done
wait_for 5 test "$(fds)" -eq $((fds_before + 10)) ||
	fail "5 sessions with a tunnel each: $fds_before descriptors before, $(fds) after (want +10)"
ok "a session with one tunnel costs two descriptors: its socket and its public port"
start_service echo
start_ssh conns -N -R 0:127.0.0.1:"$TG_SVC" v2@127.0.0.1
port=$(allocated conns)
fds_before=$(fds)
$TG_PY hold "$port" 20 60 >"$TG_TMP/hold.out" 2>&1 &
hold_pid=$!
wait_for 10 grep -q "holding 20 connections" "$TG_TMP/hold.out" ||
	fail "the held connections did not open: $(cat "$TG_TMP/hold.out")"
wait_for 5 test "$(fds)" -eq $((fds_before + 20)) ||
	fail "20 public connections: $fds_before descriptors before, $(fds) after (want +20)"
ok "a public connection costs one descriptor"
kill "$hold_pid"; wait "$hold_pid" 2>/dev/null || true
stop_gw
ok "the gateway stops cleanly"
done_testing
