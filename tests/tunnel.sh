# tunnelgw: ssh -R to a random public port, bytes intact both ways, banner and teardown.
. "$(dirname "$0")/lib.sh"

gw_setup 'port_range = "31000-31999";'
start_service echo
svc=$TG_SVC

start_ssh a -R "0:localhost:$svc" v2@127.0.0.1 tcp
port=$(allocated a)
[ "$port" -ge 31000 ] && [ "$port" -le 31999 ] || fail "allocated port $port is outside port_range"
ok "the allocated port $port is in port_range"
wait_for 5 grep -q "^Forwarding  tcp://127.0.0.1:$port\$" "$TG_TMP/a.out" ||
	fail "banner: $(cat "$TG_TMP/a.out")"
ok "the tcp banner names the same port as OpenSSH's Allocated port line"
! grep -q -- "->" "$TG_TMP/a.out" || fail "the banner shows a target the gateway cannot know: $(cat "$TG_TMP/a.out")"
ok "the banner shows the public address alone, not the client's local target, which the gateway never learns"

$TG_PY stream "$port" 20000000 1 || fail "20 MB through one connection"
ok "20 MB of random data each way through one public connection arrive intact (sha256)"

$TG_PY stream "$port" 2000000 10 || fail "10 concurrent connections"
ok "10 concurrent connections, 2 MB each way each, arrive intact (sha256)"

start_service reply-after-eof
reply=$TG_SVC
start_ssh h -N -R "0:localhost:$reply" v2@127.0.0.1
hport=$(allocated h)
$TG_PY halfclose "$hport" 3000000 || fail "half-close"
ok "a public client that shuts down its write side still receives the full reply"

kill "$TG_LAST_PID"
wait "$TG_LAST_PID" 2>/dev/null || true
wait_for 1 port_closed "$hport" || fail "port $hport still accepts connections after the client left"
ok "after the client exits, its public port refuses connections within a second"

$TG_PY stream "$port" 100000 1 || fail "the other tunnel after one client left"
ok "another client's tunnel is unaffected"

contains "$(cat "$TG_TMP/gw.log")" "tcp://127.0.0.1:$hport: tunnel closed" "the log says the tunnel closed"

# What a stock client negotiates at the default offer: its own first choice (OpenSSH's is
# ChaCha20-Poly1305), and never compression, even when the client asks for it. Every cipher a
# user may pin gets in.
expect_status 0 ssh -v -o Compression=yes $TG_SSH_OPTS -i "$TG_TMP/client" -p "$TG_SSH_PORT" v2@127.0.0.1 status
contains "$TG_ERR" "compression: none" "compression stays off when the client asks for it"
contains "$TG_ERR" "cipher: chacha20-poly1305@openssh.com" "OpenSSH gets its first choice, ChaCha20-Poly1305"
for cipher in aes128-gcm@openssh.com aes256-gcm@openssh.com aes128-ctr aes192-ctr aes256-ctr; do
	expect_status 0 ssh -v -c "$cipher" $TG_SSH_OPTS -i "$TG_TMP/client" -p "$TG_SSH_PORT" v2@127.0.0.1 status
	contains "$TG_ERR" "cipher: $cipher" "a client that pins $cipher gets it"
done
# Host keys of the three types sshd makes, so clients pinned to one of them get in.
for pair in ssh-ed25519:ssh-ed25519 ecdsa-sha2-nistp256:ecdsa-sha2-nistp256 \
	rsa-sha2-512:ssh-rsa rsa-sha2-256:ssh-rsa; do
	alg=${pair%%:*}
	expect_status 0 ssh -v -o HostKeyAlgorithms="$alg" $TG_SSH_OPTS -i "$TG_TMP/client" -p "$TG_SSH_PORT" v2@127.0.0.1 status
	contains "$TG_ERR" "Server host key: ${pair#*:} " "a client that accepts only $alg host keys gets in"
done
stop_gw
ok "the gateway stops cleanly with tunnels open"

done_testing
