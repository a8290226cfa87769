# tunnelgw: tunnelgw-udp, the user's side of a UDP tunnel, against a stand-in gateway that
# speaks the stream format of doc/udp.md (tests/udphelper.py); and the same file built with
# cc alone, as a user would build it.
. "$(dirname "$0")/lib.sh"
helper="$top_builddir/contrib/tunnelgw-udp"
[ -x "$helper" ] || fail "no $helper"
"$helper" -V | grep -q '^tunnelgw-udp .* (stream format 1)$' || fail "-V: $("$helper" -V)"
ok "tunnelgw-udp -V names its version and stream format"
expect_status 2 "$helper" 5300
contains "$TG_ERR" "usage: tunnelgw-udp" "without HOST:UDP_PORT: the usage, status 2"
expect_status 2 "$helper" 5300 ::1:53
contains "$TG_ERR" "an IPv6 address in brackets" "an IPv6 address without brackets: says how to write it"

/usr/bin/python3 "$top_srcdir/tests/udphelper.py" "$helper" >"$TG_TMP/py.out" 2>&1 ||
	fail "$(cat "$TG_TMP/py.out")"
grep -q '^all helper checks passed' "$TG_TMP/py.out" || fail "$(cat "$TG_TMP/py.out")"
ok "the helper against a stand-in gateway: $(grep -c '^ok ' "$TG_TMP/py.out") checks"

cc -O2 -o "$TG_TMP/tunnelgw-udp" "$top_srcdir/contrib/tunnelgw-udp.c" 2>"$TG_TMP/cc.err" ||
	fail "cc alone: $(cat "$TG_TMP/cc.err")"
/usr/bin/python3 "$top_srcdir/tests/udphelper.py" "$TG_TMP/tunnelgw-udp" >"$TG_TMP/py2.out" 2>&1 ||
	fail "built with cc alone: $(cat "$TG_TMP/py2.out")"
ok "contrib/tunnelgw-udp.c builds with cc alone, and that build passes the same checks"
done_testing
