# tunnelgw: the session channel (help, status, tcp options, errors) and authentication
# (unknown keys, the keys file and its options).
. "$(dirname "$0")/lib.sh"

RANGE='port_range = "23000-23999";'

# One client key per key-file option, so that one keys file covers every case.
for k in client stranger nopf restrict alice from permit viewer developer owner; do
	ssh-keygen -q -t ed25519 -N "" -C "tunnelgw-$k" -f "$TG_TMP/$k"
done
{
	echo "# tunnelgw session test keys"
	echo "this line is not a key"
	cat "$TG_TMP/client.pub"
	echo "no-port-forwarding $(cat "$TG_TMP/nopf.pub")"
	echo "restrict $(cat "$TG_TMP/restrict.pub")"
	echo "account=\"alice\" $(cat "$TG_TMP/alice.pub")"
	echo "from=\"10.0.0.0/8\" $(cat "$TG_TMP/from.pub")"
	echo "permitlisten=\"23555\" $(cat "$TG_TMP/permit.pub")"
	echo "account=\"team\",role=viewer $(cat "$TG_TMP/viewer.pub")"
	echo "account=\"team\",role=\"developer\" $(cat "$TG_TMP/developer.pub")"
	echo "account=\"team\",role=owner $(cat "$TG_TMP/owner.pub")"
} >"$TG_TMP/authorized_keys"
write_conf "$TG_TMP/gw.conf" "workers = 2;" "$RANGE" "allow_requested_ports = true;"
start_gw "$TG_TMP/gw.conf"
start_service echo
svc=$TG_SVC

# gwssh KEY SSH-ARGS...: ssh to the gateway with one of the keys, in the foreground.
gwssh() {
	local key=$1
	shift
	# shellcheck disable=SC2086
	timeout 20 ssh $TG_SSH_OPTS -i "$TG_TMP/$key" -p "$TG_SSH_PORT" "$@"
}

# start_key NAME KEY SSH-ARGS...: start_ssh with one of the keys.
start_key() {
	TG_KEY="$TG_TMP/$2" start_ssh "$1" "${@:3}"
}

# --- the keys file ---------------------------------------------------------------------------
log_has "authorized_keys:2: " "the gateway log reports the malformed line 2 of the keys file"
grep -q "authorized_keys:2: .*(line skipped)" "$TG_TMP/gw.log" ||
	fail "line 2 is not reported as skipped: $(cat "$TG_TMP/gw.log")"
ok "the malformed line is reported as skipped"
log_has "9 keys loaded from" "the other nine keys load"

# permitlisten, first: a -R 0 of this test could otherwise hold 23555, drawn at random.
start_key permit permit -N -R "23555:localhost:$svc" -R "23556:localhost:$svc" v2@127.0.0.1
log_has "forward 'localhost':23555 granted: tcp://127.0.0.1:23555" \
	"permitlisten=\"23555\": port 23555 is granted"
$TG_PY stream 23555 100000 1 >/dev/null || fail "port 23555"
ok "port 23555 carries data"
err_has permit "remote port forwarding failed for listen port 23556" "port 23556 is refused"
log_has "forward 'localhost':23556 refused: port 23556 is not permitted for this key (permitlisten)" \
	"the log says 23556 is not permitted for this key"
not_opened 23556 "port 23556 is not opened"

start_ssh plain -R "0:localhost:$svc" v2@127.0.0.1 tcp
pport=$(allocated plain)
$TG_PY stream "$pport" 100000 1 >/dev/null || fail "the tunnel of the key on line 3"
ok "the valid key on line 3, after the malformed line, logs in and its tunnel works"
fp=$(ssh-keygen -lf "$TG_TMP/client.pub" | awk '{print $2}')
log_has "authenticated as account '$fp'" "without account= the account is the key's fingerprint"

# --- unknown keys ----------------------------------------------------------------------------
expect_status 255 gwssh stranger -R "0:localhost:$svc" v2@127.0.0.1 tcp
contains "$TG_ERR" "Permission denied (publickey," "an unknown key is refused: exit 255, Permission denied (publickey,...)"
case "$TG_ERR" in
*"Allocated port"*) fail "a refused client got a port: $TG_ERR" ;;
esac
ok "nothing is forwarded for an unknown key"
log_has "unknown key offered for user 'v2'" "the gateway log names the refusal of an unknown key"

# --- commands --------------------------------------------------------------------------------
expect_status 0 gwssh client v2@127.0.0.1 help
contains "$TG_OUT" "tcp [OPTIONS]" "help prints the usage with 'tcp [OPTIONS]' and exits 0"

expect_status 0 gwssh alice v2@127.0.0.1 status
contains "$TG_OUT" "no live tunnels for this account" "status without tunnels says so"
expect_status 0 gwssh client -R "0:localhost:$svc" v2@127.0.0.1 status
sport=$(sed -n 's/^Allocated port \([0-9]*\) .*/\1/p' "$TG_TMP/err")
[ -n "$sport" ] || fail "status: no allocated port: $TG_ERR"
contains "$TG_OUT" "tcp://127.0.0.1:$sport" "status lists the session's own tunnel and exits 0"
start_key st client -N -R "0:localhost:$svc" v2@127.0.0.1
stport=$(allocated st)
expect_status 0 gwssh client v2@127.0.0.1 status
contains "$TG_OUT" "tcp://127.0.0.1:$stport" "status lists the account's tunnels held by its other sessions"
contains "$TG_OUT" "URL" "status prints a header line"

# LogLevel=ERROR keeps ssh's own "Permanently added" warning off stderr.
expect_status 2 gwssh client -o LogLevel=ERROR v2@127.0.0.1 frob
[ "$(printf '%s\n' "$TG_ERR" | wc -l)" -eq 1 ] || fail "more than one line: $TG_ERR"
contains "$TG_ERR" "unknown command 'frob'" "an unknown command gets a one-line error naming it and exit status 2"
[ -z "$TG_OUT" ] || fail "an unknown command printed on stdout: $TG_OUT"
ok "the error goes to stderr only"
log_has "command refused: unknown command 'frob'" "the gateway log records the refused command"

expect_status 2 gwssh client v2@127.0.0.1 tcp --proxy-proto=5
contains "$TG_ERR" "--proxy-proto must be 0, 1 or 2, not '5'" "tcp --proxy-proto=5 exits 2 with a message"

start_ssh opts -R "0:localhost:$svc" v2@127.0.0.1 tcp --idle-timeout=30 --proxy-proto=1
oport=$(allocated opts)
wait_for 5 grep -q "^Forwarding  tcp://127.0.0.1:$oport\$" "$TG_TMP/opts.out" ||
	fail "banner: $(cat "$TG_TMP/opts.out")"
ok "tcp --idle-timeout=30 --proxy-proto=1 shows 'Forwarding  tcp://127.0.0.1:$oport'"

# --- key options -----------------------------------------------------------------------------
for k in nopf restrict; do
	start_key "$k" "$k" -R "0:localhost:$svc" v2@127.0.0.1 tcp
	err_has "$k" "tunnelgw: forward of localhost:0 refused: this key may not forward ports" \
		"$k: the client running tcp is told on stderr why its forward is refused"
	err_has "$k" "remote port forwarding failed for listen port 0" \
		"$k: ssh reports the forward as failed"
	kfp=$(ssh-keygen -lf "$TG_TMP/$k.pub" | awk '{print $2}')
	log_has "authenticated as account '$kfp'" "$k: authentication itself succeeds"
	grep -q "($kfp): forward 'localhost':0 refused: this key may not forward ports" "$TG_TMP/gw.log" ||
		fail "$k: no refusal in the log: $(cat "$TG_TMP/gw.log")"
	ok "$k: the gateway log gives the reason the forward is refused"
	! grep -q "tunnel open for account '$kfp'" "$TG_TMP/gw.log" || fail "$k: a tunnel opened"
	ok "$k: no tunnel opens"
done

# role=: opening a tunnel needs manager or above; below it the login works, the forward not.
for k in viewer developer; do
	start_key "$k" "$k" -R "0:localhost:$svc" v2@127.0.0.1 tcp
	err_has "$k" "tunnelgw: forward of localhost:0 refused: opening a TCP tunnel in account 'team' needs the role manager or above; this key has the role $k" \
		"role=$k: the client is told on stderr which role it has and which it needs"
	err_has "$k" "remote port forwarding failed for listen port 0" "role=$k: ssh reports the forward as failed"
	grep -q "(team): forward 'localhost':0 refused: opening a TCP tunnel in account 'team' needs the role manager" "$TG_TMP/gw.log" ||
		fail "role=$k: no refusal in the log: $(cat "$TG_TMP/gw.log")"
	ok "role=$k: the gateway log gives the reason"
done
start_key owner owner -R "0:localhost:$svc" v2@127.0.0.1 tcp
rport=$(allocated owner)
$TG_PY stream "$rport" 100000 1 >/dev/null || fail "role=owner: the tunnel carries no data"
ok "role=owner: the tunnel opens and carries data"
expect_status 0 gwssh viewer v2@127.0.0.1 status
contains "$TG_OUT" "$rport" "role=viewer: the login works, and status lists the account's tunnels"

start_key alice alice -R "0:localhost:$svc" v2@127.0.0.1 tcp
aport=$(allocated alice)
log_has "authenticated as account 'alice'" "account=\"alice\": the log shows account 'alice'"
log_has "tcp://127.0.0.1:$aport: tunnel open for account 'alice'" "alice's tunnel is hers in the log"

expect_status 255 gwssh from -R "0:localhost:$svc" v2@127.0.0.1 tcp
contains "$TG_ERR" "Permission denied (publickey," \
	"from=\"10.0.0.0/8\": the key is refused from 127.0.0.1 (exit 255)"
log_has "is not allowed from this address (from=)" "the log says the key is not allowed from there"

# --- tcp without a forward, and a Unix-socket forward ----------------------------------------
start=$(date +%s%3N)
expect_status 2 gwssh client v2@127.0.0.1 tcp
took=$(( $(date +%s%3N) - start ))
contains "$TG_ERR" "no tunnel to show: this connection asked for none" "tcp without -R says so"
contains "$TG_ERR" "PuTTY/plink cannot ask for port 0: use a fixed port" "and shows PuTTY users the fixed-port form"
[ "$took" -lt 5000 ] || fail "tcp without a forward took $took ms to exit"
ok "tcp without a forward exits 2 at once ($took ms), instead of hanging"
expect_status 2 gwssh client -R "$TG_TMP/nosuch.sock:localhost:$svc" v2@127.0.0.1 tcp
contains "$TG_ERR" "Unix-socket forwards (-R /path:...) are not offered" "a Unix-socket forward is refused with a reason"
log_has "Unix-socket forward refused" "and the log says so"

# --- no keys file at all ---------------------------------------------------------------------
stop_gw
write_conf "$TG_TMP/gw2.conf" "workers = 2;" "$RANGE" 'authorized_keys = "no_such_keys";'
start_gw "$TG_TMP/gw2.conf"
log_has "no key can log in" "without a keys file the gateway starts and logs that no key can log in"
expect_status 255 gwssh client -R "0:localhost:$svc" v2@127.0.0.1 tcp
contains "$TG_ERR" "Permission denied (publickey," "without a keys file a known key is refused (fail closed)"
log_has "unknown key offered" "the gateway log records the refusal"
stop_gw
ok "the gateway stops cleanly"

done_testing
