# tunnelgw: key re-exchanges in the middle of transfers. The client asks for a new key every
# 256 KiB; meanwhile libssh takes no channel data, so writes toward the client wait, and the
# gateway's own key exchange reply, written behind (sshgw/sockio.c), must still leave. Data
# intact both ways, many connections at once, no session stuck.
. "$(dirname "$0")/lib.sh"

gw_setup 'port_range = "18000-18499";' 'log_level = "debug";'
start_service echo
svc=$TG_SVC

for cipher in chacha20-poly1305@openssh.com aes128-gcm@openssh.com; do
	name=${cipher%%@*}
	start_ssh "$name" -v -o RekeyLimit=256K -c "$cipher" -R "0:localhost:$svc" v2@127.0.0.1 tcp
	port=$(allocated "$name")
	timeout 120 $TG_PY stream "$port" 4000000 8 ||
		fail "$cipher: 8 connections x 4 MB each way across re-keys: $(tail -n 3 "$TG_TMP/$name.err")"
	ok "$cipher: 8 concurrent connections, 4 MB each way each, intact across key re-exchanges every 256 KiB"
	timeout 60 $TG_PY stream "$port" 20000000 1 || fail "$cipher: 20 MB through one connection across re-keys"
	ok "$cipher: 20 MB each way through one connection, intact across key re-exchanges"
	n=$(grep -c "SSH2_MSG_KEXINIT sent" "$TG_TMP/$name.err" || true)
	[ "$n" -ge 10 ] || fail "$cipher: the client re-keyed $n times, fewer than the test needs"
	ok "$cipher: the client re-keyed during the transfers ($n times)"
	gw_alive "$cipher"
done
stop_gw
ok "the gateway stops cleanly"
done_testing
