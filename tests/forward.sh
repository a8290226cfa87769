# tunnelgw: forwards: several -R in one connection, requested ports, bind addresses, cancel.
. "$(dirname "$0")/lib.sh"

RANGE='port_range = "21000-21999";'
gw_setup "$RANGE"

# in_range PORT: is PORT in this test's port_range.
in_range() {
	[ "$1" -ge 21000 ] && [ "$1" -le 21999 ]
}

# ssh_fails NAME SSH-ARGS...: an ssh with ExitOnForwardFailure that must exit 255 because its
# forward is refused; its stderr goes to $TG_ERR.
ssh_fails() {
	local name=$1
	shift
	# shellcheck disable=SC2086
	expect_status 255 timeout 20 ssh $TG_SSH_OPTS -i "$TG_TMP/client" -p "$TG_SSH_PORT" \
		-o ExitOnForwardFailure=yes -N "$@" v2@127.0.0.1
	contains "$TG_ERR" "remote port forwarding failed" \
		"$name: ssh with ExitOnForwardFailure exits 255 with 'remote port forwarding failed'"
}

# refused PORT: is a connection to PORT refused outright: nothing listens there.
refused() {
	[ "$($TG_PY closed "$1")" = refused ]
}

# stream PORT WHAT: a small stream through PORT arrives intact.
stream() {
	$TG_PY stream "$1" 100000 1 >/dev/null || fail "$2"
	ok "$2"
}

start_service echo
svc=$TG_SVC
start_service echo
svc2=$TG_SVC

# --- two -R 0 in one connection ------------------------------------------------------------
start_ssh two -N -R "0:localhost:$svc" -R "0:127.0.0.1:$svc" v2@127.0.0.1
p1=$(allocated two 1)
p2=$(allocated two 2)
[ "$p1" != "$p2" ] || fail "both forwards got port $p1"
in_range "$p1" && in_range "$p2" || fail "allocated ports $p1 $p2 outside port_range"
ok "two -R 0 in one -N connection get two different ports in port_range ($p1, $p2)"
stream "$p1" "the first forward of the connection carries data"
stream "$p2" "the second forward of the connection carries data"

# --- a requested port while allow_requested_ports is off ---------------------------------
ssh_fails "requested port, allow_requested_ports=false" -R "21500:localhost:$svc"
log_has "forward 'localhost':21500 refused: port 21500 is not reserved for you" \
	"the gateway log gives the reason a requested port is refused"
# (The -R 0 forwards above may have drawn 21500 at random: not_opened allows for that.)
not_opened 21500 "the refused port is not opened"

start_ssh mixed -N -R "21501:localhost:$svc" -R "0:localhost:$svc" v2@127.0.0.1
mp=$(allocated mixed)
wait_for 5 grep -q "remote port forwarding failed for listen port 21501" "$TG_TMP/mixed.err" ||
	fail "no forwarding failure reported: $(cat "$TG_TMP/mixed.err")"
ok "without ExitOnForwardFailure the refused forward is reported as a warning"
kill -0 "$TG_LAST_PID" 2>/dev/null || fail "ssh exited after a refused forward"
ok "the session stays up after a refused forward"
not_opened 21501 "the refused port of that connection is not opened"
stream "$mp" "the -R 0 in the same connection as a refused forward works"

# --- bind addresses ----------------------------------------------------------------------
ssh_fails "bind address 10.1.2.3" -R "10.1.2.3:0:localhost:$svc"
log_has "forward '10.1.2.3':0 refused: '10.1.2.3' is not an address of this gateway" \
	"the gateway log says a foreign bind address is not an address of this gateway"

start_ssh addr -N -R "127.0.0.1:0:localhost:$svc" -R "localhost:0:127.0.0.1:$svc" v2@127.0.0.1
a1=$(allocated addr 1)
a2=$(allocated addr 2)
in_range "$a1" && in_range "$a2" || fail "allocated ports $a1 $a2 outside port_range"
ok "-R 127.0.0.1:0:... (public_bind) and -R localhost:0:... are granted"
stream "$a1" "the forward bound to 127.0.0.1 carries data"
stream "$a2" "the forward bound to localhost carries data"

# --- cancel through a control master -----------------------------------------------------
mux="$TG_TMP/mux"
start_ssh master -M -S "$mux" -o ControlPersist=no -N -R "0:localhost:$svc" v2@127.0.0.1
master_pid=$TG_LAST_PID
mport=$(allocated master)
wait_for 5 ssh -F /dev/null -S "$mux" -O check x || fail "the control master did not start"
expect_status 0 timeout 20 ssh -F /dev/null -S "$mux" -O forward -R "0:localhost:$svc2" x
fport=$TG_OUT
case "$fport" in
'' | *[!0-9]*) fail "ssh -O forward printed '$fport', not a port" ;;
esac
in_range "$fport" && [ "$fport" != "$mport" ] || fail "ssh -O forward got port $fport"
ok "ssh -O forward -R 0:... through the master prints the allocated port ($fport)"
stream "$fport" "the forward added through the master carries data"

# ssh -O cancel returns once the master has sent cancel-tcpip-forward, which wants no answer,
# and has forgotten the forward: until the gateway reads the request, its port still accepts,
# and the master refuses the channel of such a connection, which then closes as if the port
# were closed. So the gateway must say it took the cancel, and the port must refuse outright.
expect_status 0 timeout 20 ssh -F /dev/null -S "$mux" -O cancel -R "0:localhost:$svc2" x
wait_for 1 grep -qF "cancelled, port $fport closed" "$TG_TMP/gw.log" ||
	fail "no cancel of port $fport in the gateway log within a second: $(cat "$TG_TMP/gw.log")"
ok "the gateway takes the cancel within a second and logs it"
wait_for 1 refused "$fport" || fail "port $fport still accepts connections after the cancel"
ok "ssh -O cancel closes the cancelled forward's public port: connections to it are refused"
stream "$mport" "the master's other forward still works after the cancel"
kill -0 "$master_pid" 2>/dev/null || fail "the control master exited"
ok "the master session stays up after the cancel"
timeout 10 ssh -F /dev/null -S "$mux" -O exit x 2>/dev/null || true

# --- requested ports allowed ---------------------------------------------------------------
stop_gw
write_conf "$TG_TMP/gw2.conf" "workers = 2;" "$RANGE" "allow_requested_ports = true;"
start_gw "$TG_TMP/gw2.conf"

start_ssh req -N -R "21600:localhost:$svc" v2@127.0.0.1
log_has "granted: tcp://127.0.0.1:21600" \
	"with allow_requested_ports a port inside port_range is granted exactly (21600)"
stream 21600 "the requested port carries data"

ssh_fails "port 40000 outside port_range" -R "40000:localhost:$svc"
log_has "forward 'localhost':40000 refused: port 40000 is outside the gateway's port range" \
	"the log says the port is outside port_range"

ssh_fails "privileged port 80" -R "80:localhost:$svc"
log_has "forward 'localhost':80 refused: port 80 is privileged" \
	"the log says a privileged port is refused"

ssh_fails "port 21600 held by another client" -R "21600:localhost:$svc2"
log_has "forward 'localhost':21600 refused: port 21600 is held by your session" \
	"the log says which session of the account holds the port"
stream 21600 "the holder's tunnel still works after another client asked for its port"

start_ssh twice -N -R "21601:localhost:$svc" -R "21601:127.0.0.1:$svc" v2@127.0.0.1
wait_for 5 grep -q "remote port forwarding failed for listen port 21601" "$TG_TMP/twice.err" ||
	fail "the second forward of port 21601 was not refused: $(cat "$TG_TMP/twice.err")"
ok "the same port twice in one connection: the second forward is refused"
log_has "forward 'localhost':21601 refused: already forwarded in this session" \
	"the log says the port is already forwarded in this session"
stream 21601 "the first forward of the doubled port still works"

stop_gw
ok "the gateway stops cleanly"

done_testing
