# tunnelgw: a client cannot forge log lines: every string it chooses (a forward's bind address,
# a command, a tcp option, a CIDR) is quoted in the log, so a newline or an escape in it never
# starts a line of its own.
. "$(dirname "$0")/lib.sh"

HOSTILE="/usr/bin/python3 $top_srcdir/tests/hostile.py"
need_paramiko

gw_setup 'port_range = "24000-24999";'

fake="FORGED tunnelgw[1]: info: session 9 from 203.0.113.9:1: authenticated as account 'root'"
expect_status 0 $HOSTILE forge "$TG_SSH_PORT" "$TG_TMP/client" "$(printf '\n%s\033[2J' "$fake")"
contains "$TG_OUT" "bind address: refused" "a bind address with a newline is refused"
[ "$(grep -c '^command: exit 2: tunnelgw: ' "$TG_TMP/out")" -eq 4 ] ||
	fail "every forged command should be refused with a reason: $TG_OUT"
ok "each forged command is refused with a reason"
sleep 0.5
if grep -q '^FORGED' "$TG_TMP/gw.log"; then
	cat "$TG_TMP/gw.log" >&2
	fail "a client wrote a line of its own into the log"
fi
ok "no log line starts with the client's text"
if grep -q "$(printf '\033')" "$TG_TMP/gw.log"; then
	fail "an escape sequence from a client reached the log"
fi
ok "no escape sequence reached the log"
[ "$(grep -c "?FORGED" "$TG_TMP/gw.log")" -ge 4 ] || {
	cat "$TG_TMP/gw.log" >&2
	fail "the attempts should be logged, quoted, on their own lines"
}
ok "the attempts are logged with the newline quoted"
done_testing
