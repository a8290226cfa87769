# tunnelgw: accounts in the store: token logins, register, revocation, reserved addresses.
. "$(dirname "$0")/lib.sh"

gw_setup 'port_range = "25000-25003";' 'database = "state.db";'
: >"$TG_TMP/authorized_keys"	# nobody by the keys file: only the store lets people in
stop_gw
start_gw "$TG_TMP/gw.conf"
start_service echo
svc=$TG_SVC

ctl account add alice
ctl account add bob
token=$(ctl token create alice 2>/dev/null)
[[ "$token" =~ ^tgw_[A-Za-z0-9_-]{43}$ ]] || fail "token create printed '$token'"
tid=$(ctl --json token list | python3 -c 'import json,sys; print([t["id"] for t in json.load(sys.stdin) if t["account"]=="alice"][0])')

# A token as the user name, no key at all: a keyboard-interactive round with no prompt.
# (ssh takes the first value of an option, so these go before the usual options.)
NOKEY="-o PubkeyAuthentication=no -o PasswordAuthentication=no -o KbdInteractiveAuthentication=yes -o BatchMode=no $TG_SSH_OPTS"
TG_SSH_OPTS="$NOKEY" start_ssh tok -R "0:localhost:$svc" "$token@127.0.0.1" tcp
tport=$(allocated tok)
$TG_PY stream "$tport" 100000 1 >/dev/null || fail "token tunnel carries no data"
ok "a token as the user name logs in with no key, and its tunnel works"
wait_for 5 grep -q "authenticated as account 'alice' with a token" "$TG_TMP/gw.log" ||
	fail "log: $(cat "$TG_TMP/gw.log")"
ok "the log names the account and the token login"
grep -q "$token" "$TG_TMP/gw.log" && fail "the token appears in the log"
ok "the token itself never appears in the log"

# A token as the password.
cat >"$TG_TMP/askpass" <<ASK
#!/bin/sh
echo '$token'
ASK
chmod 700 "$TG_TMP/askpass"
expect_status 0 env SSH_ASKPASS="$TG_TMP/askpass" SSH_ASKPASS_REQUIRE=force DISPLAY=:0 \
	ssh -o BatchMode=no -o PubkeyAuthentication=no -o PreferredAuthentications=password \
	$TG_SSH_OPTS -p "$TG_SSH_PORT" somebody@127.0.0.1 status
contains "$TG_OUT" "tcp://127.0.0.1:$tport" "a token as the password logs in (status lists alice's tunnel)"

# register: log in as TOKEN@gateway with a key, keep the key; then the key alone suffices.
expect_status 0 ssh $TG_SSH_OPTS -i "$TG_TMP/client" -p "$TG_SSH_PORT" "$token@127.0.0.1" register
fp=$(ssh-keygen -l -f "$TG_TMP/client.pub" | awk '{ print $2 }')
contains "$TG_OUT" "registered key $fp for account alice" "register prints the key's fingerprint and the account"
[ -n "$(ctl key list | awk -v fp="$fp" '$1 == fp && $2 == "alice" && $5 == "register"')" ] ||
	fail "key list: $(ctl key list)"
ok "tunnelgwctl key list shows the registered key, added by register"
start_ssh key -R "0:localhost:$svc" v2@127.0.0.1 tcp
kport=$(allocated key)
$TG_PY stream "$kport" 100000 1 >/dev/null || fail "key tunnel carries no data"
ok "after register, plain ssh -R ... v2@gateway works with that key"
expect_status 2 ssh $TG_SSH_OPTS -i "$TG_TMP/client" -p "$TG_SSH_PORT" v2@127.0.0.1 register
contains "$TG_ERR" "register: log in with a token" "register without a token login is refused"

# Reserved addresses: the owner gets its port, others do not, random never hands it out.
# Two of the four ports are held by the tunnels above; reserve a third, leave the fourth.
free_ports=""
for p in 25000 25001 25002 25003; do
	[ "$p" = "$tport" ] || [ "$p" = "$kport" ] || free_ports="$free_ports $p"
done
set -- $free_ports
rport=$1
fport=$2
contains "$(ctl address reserve alice "$rport")" "tcp://127.0.0.1:$rport" "address reserve prints tcp://PUBLIC_HOST:PORT"
TG_SSH_OPTS="$NOKEY" start_ssh res -o ExitOnForwardFailure=yes -R "$rport:localhost:$svc" "$token@127.0.0.1" tcp
wait_for 5 grep -q "^Forwarding  tcp://127.0.0.1:$rport\$" "$TG_TMP/res.out" ||
	fail "reserved port not granted: $(cat "$TG_TMP/res.err")"
$TG_PY stream "$rport" 100000 1 >/dev/null || fail "reserved port carries no data"
ok "the owner binds its reserved port with -R $rport:..., although requested ports are off"
# shellcheck disable=SC2086
expect_status 255 ssh $NOKEY -o ExitOnForwardFailure=yes -p "$TG_SSH_PORT" \
	-R "$rport:localhost:$svc" "$token@127.0.0.1" tcp
wait_for 5 grep -q "port $rport is held by your session [0-9]* (since " "$TG_TMP/gw.log" ||
	fail "no reason logged: $(cat "$TG_TMP/gw.log")"
ok "a second session of the same account asking for the held address is refused, with the reason"
sleep 2.5	# the holder is asked to answer within 2 s; a live client does
$TG_PY stream "$rport" 100000 1 >/dev/null || fail "the live holder lost its port to a probe"
ok "the session holding the port answers the probe and keeps it"
btoken=$(ctl token create bob 2>/dev/null)
kill "$TG_LAST_PID"
wait "$TG_LAST_PID" 2>/dev/null || true
wait_for 2 port_closed "$rport"
# shellcheck disable=SC2086
expect_status 255 ssh $NOKEY -o ExitOnForwardFailure=yes -p "$TG_SSH_PORT" \
	-R "$rport:localhost:$svc" "$btoken@127.0.0.1" tcp
log_has "port $rport is reserved by another account" \
	"another account asking for the reserved port is refused, with the reason"
for i in 1 2 3 4 5; do
	TG_SSH_OPTS="$NOKEY" start_ssh rnd$i -N -R "0:localhost:$svc" "$btoken@127.0.0.1"
	p=$(allocated rnd$i)
	[ "$p" = "$fport" ] || fail "a random port was $p, not the only unreserved free one ($fport)"
	kill "$TG_LAST_PID"
	wait "$TG_LAST_PID" 2>/dev/null || true
	wait_for 2 port_closed "$fport"
done
ok "random allocation never hands out a reserved port, even when it is free"

# Revocation closes the sessions that depend on it, within seconds.
ctl token revoke "$tid"
wait_for 5 port_closed "$tport" || fail "the token's tunnel is still open after revoke"
ok "revoking a token closes its live session within seconds"
wait_for 5 grep -q "closing: your token was revoked" "$TG_TMP/tok.err" ||
	fail "the client was not told: $(cat "$TG_TMP/tok.err")"
ok "the client is told why its session closed"
$TG_PY stream "$kport" 1000 1 >/dev/null || fail "the key session died with the token"
ok "the registered key's session stays up"
ssh-keygen -q -t ed25519 -N "" -f "$TG_TMP/other"
expect_status 255 ssh $TG_SSH_OPTS -i "$TG_TMP/other" -p "$TG_SSH_PORT" "$token@127.0.0.1" status
contains "$TG_ERR" "tunnelgw: token $tid was revoked" "a revoked token is refused with a message that says so"

ctl key del "$fp"
wait_for 5 port_closed "$kport" || fail "the key's tunnel is still open after key del"
ok "deleting a key closes the sessions that logged in with it"
wait_for 5 grep -q "closing: your key was deleted or moved to another account, or its account was deleted\$" \
	"$TG_TMP/key.err" || fail "the client was not told in a whole sentence: $(cat "$TG_TMP/key.err")"
ok "the client is told its key was deleted, in a whole sentence"

# Reservations survive a restart.
stop_gw
start_gw "$TG_TMP/gw.conf"
ctl address list | grep -Eq "^tcp://127.0.0.1:$rport +alice " || fail "address list: $(ctl address list)"
ok "the reservation is still listed after a restart"
# Another account: ssh -o ExitOnForwardFailure=yes stops at the refusal; a plain ssh stays up and
# shows the gateway's reason. The port is free meanwhile: the refusal is the reservation's.
# shellcheck disable=SC2086
expect_status 255 ssh $NOKEY -o ExitOnForwardFailure=yes -p "$TG_SSH_PORT" \
	-R "$rport:localhost:$svc" "$btoken@127.0.0.1" tcp
contains "$TG_ERR" "remote port forwarding failed for listen port $rport" \
	"after the restart, the reserved port is still refused to another account (ExitOnForwardFailure)"
log_has "forward 'localhost':$rport refused: port $rport is reserved by another account" \
	"the gateway log gives the reason: reserved by another account"
TG_SSH_OPTS="$NOKEY" start_ssh bres -R "$rport:localhost:$svc" "$btoken@127.0.0.1" tcp
err_has bres "tunnelgw: forward of localhost:$rport refused: port $rport is reserved by another account" \
	"without ExitOnForwardFailure the user sees that reason on ssh's stderr"
err_has bres "remote port forwarding failed for listen port $rport" "and ssh's own warning"
port_closed "$rport" || fail "port $rport was opened for another account"
ok "the reserved port stays closed to the other account"
kill "$TG_LAST_PID"
wait "$TG_LAST_PID" 2>/dev/null || true
# The owner, through a new token (the old one is revoked, its key deleted), still gets it.
atoken=$(ctl token create alice 2>/dev/null)
TG_SSH_OPTS="$NOKEY" start_ssh res2 -o ExitOnForwardFailure=yes -R "$rport:localhost:$svc" "$atoken@127.0.0.1" tcp
wait_for 5 grep -q "^Forwarding  tcp://127.0.0.1:$rport\$" "$TG_TMP/res2.out" ||
	fail "reserved port not granted to its owner after the restart: $(cat "$TG_TMP/res2.err")"
$TG_PY stream "$rport" 100000 1 >/dev/null || fail "reserved port carries no data after the restart"
ok "after the restart the owner still binds its reserved port, and it carries data"
log_has "authenticated as account 'alice' with a token" "the log names the owner's account"
need_tool sqlite3 "contrib/install-deps.sh installs it"
expect_status 0 db_integrity "$TG_TMP/gw.conf"
contains "$TG_OUT" "ok" "the database passes integrity_check"

done_testing
