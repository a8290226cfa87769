# tunnelgw: PROXY protocol v1/v2 toward the user's service carries the public client's address.
. "$(dirname "$0")/lib.sh"

need_tool haproxy "contrib/install-deps.sh installs it"
HAPROXY=$TG_TOOL
PP="python3 $top_srcdir/tests/ppcapture.py"

# A capture service, to see the exact first bytes, and haproxy with accept-proxy, a real
# PROXY-aware server that reports the client address it believes.
mkdir "$TG_TMP/cap"
TG_SERVICE=$PP start_service serve "$TG_TMP/cap"
cap=$TG_SVC
hap=$(free_port)
cat >"$TG_TMP/haproxy.cfg" <<CFG
global
	maxconn 100
defaults
	mode http
	timeout connect 5s
	timeout client 10s
	timeout server 10s
frontend echo_address
	bind 127.0.0.1:$hap accept-proxy
	http-request return status 200 content-type text/plain lf-string "src=%[src]:%[src_port] dst=%[dst]:%[dst_port] authority=%[fc_pp_authority] id=%[fc_pp_unique_id]\n"
CFG
"$HAPROXY" -f "$TG_TMP/haproxy.cfg" -db >"$TG_TMP/haproxy.log" 2>&1 &
TG_PIDS="$TG_PIDS $!"
wait_for 5 python3 -c 'import socket,sys; socket.create_connection(("127.0.0.1", int(sys.argv[1]))).close()' "$hap" ||
	fail "haproxy did not start: $(cat "$TG_TMP/haproxy.log")"

gw_setup 'port_range = "24000-24999";' 'public_host = "gw.test";' 'proxy_protocol = 0;'

# last_capture: the newest file the capture service wrote.
last_capture() {
	ls -t "$TG_TMP/cap" | grep -v tmp | head -1
}

# v1 through haproxy: the service sees the public client's address, not the gateway's.
start_ssh v1 -R "0:localhost:$hap" v2@127.0.0.1 tcp --proxy-proto=1
port=$(allocated v1)
wait_for 5 grep -q "PROXY protocol v1 headers are sent to your service" "$TG_TMP/v1.out" ||
	fail "banner: $(cat "$TG_TMP/v1.out")"
ok "the banner says PROXY v1 headers are on"
out=$($PP get "$port" 127.0.0.2)
client=$(printf '%s\n' "$out" | head -1)
contains "$out" "src=$client dst=127.0.0.1:$port" \
	"haproxy (accept-proxy, v1) sees the public client $client and the public address it reached"

# v2 with its TLVs, through haproxy.
start_ssh v2 -R "0:localhost:$hap" v2@127.0.0.1 tcp --upstream-proxy-protocol=2
port2=$(allocated v2)
out=$($PP get "$port2" 127.0.0.3)
client=$(printf '%s\n' "$out" | head -1)
contains "$out" "src=$client dst=127.0.0.1:$port2 authority=gw.test id=" \
	"haproxy (accept-proxy, v2) sees the public client $client and the authority TLV"

# The exact bytes: v1 is one line before any payload.
start_ssh c1 -R "0:localhost:$cap" v2@127.0.0.1 tcp --proxy-proto=1
cport=$(allocated c1)
out=$($PP get "$cport" 127.0.0.4)
client=$(printf '%s\n' "$out" | head -1)
wait_for 5 test -n "$(last_capture)"
first=$(head -c 200 "$TG_TMP/cap/$(last_capture)" | head -1 | tr -d '\r')
[ "$first" = "PROXY TCP4 ${client%:*} 127.0.0.1 ${client##*:} $cport" ] || fail "v1 header: '$first'"
contains "$(sed -n 2p "$TG_TMP/cap/$(last_capture)")" "GET / HTTP/1.0" "the v1 header comes once, before the payload"

# Precedence: the key's proxy-proto=2 applies with -N; a command option overrides it.
sed -i "s/^/proxy-proto=2 /" "$TG_TMP/authorized_keys"
stop_gw
start_gw "$TG_TMP/gw.conf"
start_ssh n -N -R "0:localhost:$cap" v2@127.0.0.1
nport=$(allocated n)
rm -f "$TG_TMP"/cap/*
$PP get "$nport" 127.0.0.5 >/dev/null
wait_for 5 test -n "$(last_capture)"
sig=$(head -c 12 "$TG_TMP/cap/$(last_capture)" | od -An -tx1 | tr -d ' \n')
[ "$sig" = "0d0a0d0a000d0a515549540a" ] || fail "no v2 signature with the key option: $sig"
ok "the key's proxy-proto=2 applies to a -N session"

start_ssh z -R "0:localhost:$cap" v2@127.0.0.1 tcp --proxy-proto=0
zport=$(allocated z)
rm -f "$TG_TMP"/cap/*
$PP get "$zport" 127.0.0.6 >/dev/null
wait_for 5 test -n "$(last_capture)"
first=$(head -c 14 "$TG_TMP/cap/$(last_capture)")
[ "$first" = "GET / HTTP/1.0" ] || fail "a header was sent despite --proxy-proto=0: $first"
ok "the command's --proxy-proto=0 overrides the key option"

# Connections in the first moments of a session still get the header the command asks for.
for i in 1 2 3 4 5; do
	start_ssh e$i -R "0:localhost:$cap" v2@127.0.0.1 tcp --proxy-proto=1 --idle-timeout=60
	eport=$(allocated e$i)
	rm -f "$TG_TMP"/cap/*
	$PP get "$eport" 127.0.0.7 >/dev/null
	wait_for 5 test -n "$(last_capture)"
	head -c 11 "$TG_TMP/cap/$(last_capture)" | grep -q '^PROXY TCP4 ' ||
		fail "connection at once after the forward (try $i) had no v1 header"
done
ok "connections made right after the forward is granted get the command's PROXY header"

# Bad input: an invalid version in the command or in the keys file is refused, clearly.
start_ssh bad -R "0:localhost:$cap" v2@127.0.0.1 tcp --proxy-proto=3
wait "$TG_LAST_PID" && rc=0 || rc=$?
[ "$rc" = 2 ] || fail "tcp --proxy-proto=3 exited $rc"
contains "$(cat "$TG_TMP/bad.err")" "--proxy-proto must be 0, 1 or 2, not '3'" \
	"an invalid --proxy-proto is refused with exit status 2 and a message"
sed -i "s/^proxy-proto=2 /proxy-proto=3 /" "$TG_TMP/authorized_keys"
expect_status 1 "$TUNNELGW" -t -f "$TG_TMP/gw.conf"
contains "$TG_ERR" "authorized_keys:1: proxy-proto must be 0, 1 or 2" "an invalid proxy-proto on a key line fails -t with its line"

done_testing
