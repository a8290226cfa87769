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
# Every session gives libssh a duplicate of its socket and closes its own copy last.
wait_for 5 test "$(fds)" -le "$fds_before" || fail "descriptors leaked: $fds_before before, $(fds) after"
ok "every descriptor of the vanished sessions and their connections is closed"
stop_gw
ok "the gateway stops cleanly"
done_testing
