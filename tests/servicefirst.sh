# tunnelgw: services that write first, as soon as they accept a connection (an SSH server's
# banner, SMTP or FTP greetings, a file pushed on connect): every byte they send reaches the
# public client, also when the SSH client's channel open confirmation and the service's first
# data reach the gateway together, and the tunnel keeps taking connections.
#
# The services (tg.py greet, push) write from their accept loop with TCP_NODELAY, so their
# first bytes follow the SSH client's confirmation closely. The scenarios run three ways:
#  - ssh straight to the gateway, where the two arrive together only now and then;
#  - ssh through a relay that passes on what ssh sends within 3 ms in one write, as packets
#    sent back to back arrive across a network: there they arrive together nearly every time;
#  - a busy gateway: everything on one CPU, the gateway at the lowest priority, so that the
#    SSH client and the service answer before the gateway looks at its socket again, even
#    inside the gateway's own call that sends the channel open.
#
# bench/servicefirst runs this file with larger counts, set by SF_GREETINGS, SF_DOWNLOADS,
# SF_PUSH_BYTES, SF_LOGINS; SF_KEEP_GOING=1 reports a failed check and goes on with the next
# (the exit status is still 1).
. "$(dirname "$0")/lib.sh"

RANGE='port_range = "25500-25999";'
NOLIMIT='conn_rate = 0;'
GREETINGS=${SF_GREETINGS:-100}
DOWNLOADS=${SF_DOWNLOADS:-40}
PUSH_BYTES=${SF_PUSH_BYTES:-1000000}
LOGINS=${SF_LOGINS:-30}
KEEP_GOING=${SF_KEEP_GOING:-0}
COALESCE_MS=3
FAILED=0

# gw_warnings: the gateways' last warnings (a dropped connection says why), for a report.
gw_warnings() {
	grep -h ': warn: \|: error: ' "$TG_TMP/gw.log" "$TG_TMP/inner/gw.log" 2>/dev/null | tail -3 |
		sed 's/^/  gateway: /'
}

# not_ok WHAT REPORT: a failed check: stop the test, or with SF_KEEP_GOING=1 report and go on.
not_ok() {
	local report
	report="$2
$(gw_warnings)"
	[ "$KEEP_GOING" = 1 ] || fail "$1:
$report"
	FAILED=$((FAILED + 1))
	echo "not ok - $1"
	printf '%s\n' "$report" | sed '/^$/d; s/^/#   /'
}

# counted WHAT CMD...: run a tg.py client that prints "KIND: GOOD/TOTAL intact" last and
# fails unless every one was intact; assert WHAT, with that count.
counted() {
	local what=$1 out
	shift
	if out=$("$@" 2>&1); then
		ok "$what (${out##*$'\n'})"
	else
		not_ok "$what (${out##*$'\n'})" "$out"
	fi
}

# start_relay: start the coalescing relay to the gateway's SSH port; its port goes to $RELAY.
start_relay() {
	start_service relay "$TG_SSH_PORT" "$COALESCE_MS"
	RELAY=$TG_SVC
}

# start_relayed NAME SSH-ARGS...: as start_ssh, but through the relay.
start_relayed() {
	TG_SSH_PORT=$RELAY start_ssh "$@"
}

# logins WHAT PORT: $LOGINS ssh logins running 'help' through PORT must all print $HELP.
logins() {
	local what=$1 port=$2 good=0 bad="" i
	for i in $(seq "$LOGINS"); do
		# shellcheck disable=SC2086
		if timeout 20 ssh $TG_SSH_OPTS -i "$TG_TMP/client" -p "$port" v2@127.0.0.1 help \
			>"$TG_TMP/login.out" 2>"$TG_TMP/login.err" && [ "$(cat "$TG_TMP/login.out")" = "$HELP" ]; then
			good=$((good + 1))
		elif [ "$(printf '%s\n' "$bad" | wc -l)" -le 5 ]; then
			bad="$bad
  login $i: $(tr '\n' ' ' <"$TG_TMP/login.err")"
		fi
	done
	if [ "$good" -eq "$LOGINS" ]; then
		ok "$what (logins: $good/$LOGINS succeeded)"
	else
		not_ok "$what (logins: $good/$LOGINS succeeded)" "${bad#?}"
	fi
}

gw_setup "$RANGE" "$NOLIMIT"
start_relay
start_service greet
greet=$TG_SVC
start_service push "$PUSH_BYTES"
push=$TG_SVC

# --- ssh -N -R to a service that greets, and to one that pushes a file ----------------------
start_ssh n -N -R "0:localhost:$greet" -R "0:localhost:$push" v2@127.0.0.1
gport=$(allocated n 1)
pport=$(allocated n 2)
start_relayed nr -N -R "0:localhost:$greet" -R "0:localhost:$push" v2@127.0.0.1
rgport=$(allocated nr 1)
rpport=$(allocated nr 2)

counted "-N: $GREETINGS connections one after the other get the greeting, then their echo" \
	$TG_PY greetings "$gport" "$GREETINGS"
counted "-N through the relay: $GREETINGS connections get the greeting, then their echo" \
	$TG_PY greetings "$rgport" "$GREETINGS"
counted "-N: $DOWNLOADS downloads one after the other of a $PUSH_BYTES-byte push arrive whole (sha256)" \
	$TG_PY downloads "$pport" "$DOWNLOADS" "$PUSH_BYTES"
counted "-N through the relay: $DOWNLOADS downloads of a $PUSH_BYTES-byte push arrive whole (sha256)" \
	$TG_PY downloads "$rpport" "$DOWNLOADS" "$PUSH_BYTES"

# --- the same greeting with the tcp command running -----------------------------------------
start_ssh t -R "0:localhost:$greet" v2@127.0.0.1 tcp
tport=$(allocated t)
start_relayed tr -R "0:localhost:$greet" v2@127.0.0.1 tcp
rtport=$(allocated tr)
counted "tcp: $GREETINGS connections get the greeting, then their echo" \
	$TG_PY greetings "$tport" "$GREETINGS"
counted "tcp through the relay: $GREETINGS connections get the greeting, then their echo" \
	$TG_PY greetings "$rtport" "$GREETINGS"

# --- an SSH server that sends its banner at once: a second tunnelgw as the service ------------
mkdir "$TG_TMP/inner"
cp "$TG_TMP/client.pub" "$TG_TMP/inner/authorized_keys"
inner=$(free_port)
{
	echo "listen = [ \"127.0.0.1:$inner\" ];"
	echo 'public_host = "127.0.0.1";'
	echo 'public_bind = "127.0.0.1";'
	echo 'workers = 1;'
	echo 'ssh_rate = 0;'
} >"$TG_TMP/inner/gw.conf"
"$TUNNELGW" -f "$TG_TMP/inner/gw.conf" -v >"$TG_TMP/inner/gw.log" 2>&1 &
TG_PIDS="$TG_PIDS $!"
wait_for 10 grep -q ': ready' "$TG_TMP/inner/gw.log" ||
	fail "the second tunnelgw did not start: $(cat "$TG_TMP/inner/gw.log")"
# shellcheck disable=SC2086
expect_status 0 timeout 20 ssh $TG_SSH_OPTS -i "$TG_TMP/client" -p "$inner" v2@127.0.0.1 help
HELP=$TG_OUT
contains "$HELP" "tcp [OPTIONS]" "the second tunnelgw answers 'help' when reached directly"

start_ssh s -N -R "0:localhost:$inner" v2@127.0.0.1
sport=$(allocated s)
start_relayed sr -N -R "0:localhost:$inner" v2@127.0.0.1
rsport=$(allocated sr)
logins "$LOGINS ssh logins to the second tunnelgw through the tunnel all print its help" "$sport"
logins "$LOGINS ssh logins to the second tunnelgw through the relayed tunnel all print its help" "$rsport"

# --- proxy_protocol = 1: the PROXY header goes to the service, the greeting comes back ---------
stop_gw
write_conf "$TG_TMP/pp.conf" "workers = 2;" "$RANGE" "$NOLIMIT" "proxy_protocol = 1;"
start_gw "$TG_TMP/pp.conf"
start_relay
start_ssh p -N -R "0:localhost:$greet" v2@127.0.0.1
ppport=$(allocated p)
start_relayed pr -N -R "0:localhost:$greet" v2@127.0.0.1
rppport=$(allocated pr)
counted "proxy_protocol = 1: $GREETINGS connections get the greeting, then the PROXY v1 header the service read, then their echo" \
	$TG_PY greetings "$ppport" "$GREETINGS" proxy
counted "proxy_protocol = 1 through the relay: $GREETINGS connections get the greeting, the PROXY header, their echo" \
	$TG_PY greetings "$rppport" "$GREETINGS" proxy
stop_gw

# --- a busy gateway: one CPU for everything from here on, the gateway at the lowest priority ----
cpu=$(taskset -pc $$ | sed 's/.*: *//; s/[-,].*//')
taskset -pc "$cpu" $$ >/dev/null || fail "cannot keep this test on CPU $cpu"
printf '#!/bin/sh\nexec nice -n 19 "%s" "$@"\n' "$TUNNELGW" >"$TG_TMP/tunnelgw-nice"
chmod +x "$TG_TMP/tunnelgw-nice"
write_conf "$TG_TMP/busy.conf" "workers = 2;" "$RANGE" "$NOLIMIT"
TUNNELGW="$TG_TMP/tunnelgw-nice" start_gw "$TG_TMP/busy.conf"
start_service greet
start_ssh b -N -R "0:localhost:$TG_SVC" v2@127.0.0.1
bport=$(allocated b)
counted "a busy gateway (one CPU, lowest priority): $GREETINGS connections get the greeting, then their echo" \
	$TG_PY greetings "$bport" "$GREETINGS"
start_service push "$PUSH_BYTES"
start_ssh bp -N -R "0:localhost:$TG_SVC" v2@127.0.0.1
bpport=$(allocated bp)
counted "a busy gateway: $DOWNLOADS downloads of a $PUSH_BYTES-byte push arrive whole (sha256)" \
	$TG_PY downloads "$bpport" "$DOWNLOADS" "$PUSH_BYTES"
start_ssh bs -N -R "0:localhost:$inner" v2@127.0.0.1
bsport=$(allocated bs)
logins "a busy gateway: $LOGINS ssh logins to the second tunnelgw through it all print its help" \
	"$bsport"

stop_gw
ok "the gateway stops cleanly"

[ "$FAILED" -eq 0 ] || fail "$FAILED check(s) failed"
done_testing
