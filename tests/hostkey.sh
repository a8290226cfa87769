# tunnelgw: the host key is created on first start (ed25519, 0600), reused, and checked.
. "$(dirname "$0")/lib.sh"

write_conf "$TG_TMP/gw.conf"
key="$TG_TMP/ssh_host_ed25519_key"

expect_status 0 "$TUNNELGW" -t -f "$TG_TMP/gw.conf"
[ ! -e "$key" ] || fail "-t created the host key"
ok "-t accepts a missing host key in a writable folder and creates nothing"

start_gw "$TG_TMP/gw.conf"
[ -f "$key" ] || fail "no host key created"
mode=$(stat -c %a "$key")
[ "$mode" = 600 ] || fail "host key mode is $mode"
ok "the host key is created with mode 0600"
ssh-keygen -y -f "$key" >"$TG_TMP/pub" || fail "ssh-keygen cannot read the created key"
contains "$(cat "$TG_TMP/pub")" "ssh-ed25519 " "the created key is an ed25519 key OpenSSH reads"
fp1=$(ssh-keygen -l -f "$TG_TMP/pub" | awk '{ print $2 }')
contains "$(cat "$TG_TMP/gw.log")" "$fp1" "the log names the host key's fingerprint"
contains "$(cat "$TG_TMP/gw.log")" "listening for SSH on 127.0.0.1:$TG_SSH_PORT" "the log names the listen address"
stop_gw
ok "SIGTERM stops the daemon with exit 0"

start_gw "$TG_TMP/gw.conf"
stop_gw
ssh-keygen -y -f "$key" | cmp -s - "$TG_TMP/pub" || fail "the host key changed on restart"
ok "a restart keeps the host key"

chmod 644 "$key"
expect_status 1 "$TUNNELGW" -t -f "$TG_TMP/gw.conf"
contains "$TG_ERR" "permissions 0644 are too open" "-t refuses a host key others can read"
expect_status 1 "$TUNNELGW" -f "$TG_TMP/gw.conf"
contains "$TG_ERR" "permissions 0644 are too open" "start-up refuses a host key others can read"

echo "not a key" >"$key"
chmod 600 "$key"
expect_status 1 "$TUNNELGW" -f "$TG_TMP/gw.conf"
contains "$TG_ERR" "host key $key: not an unencrypted private key" "a garbage host key is a clear start-up error"

# A port someone else holds is a clear start-up error.
rm -f "$key"
python3 -c 'import socket,sys,time; s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(); time.sleep(30)' "$TG_SSH_PORT" &
TG_PIDS="$TG_PIDS $!"
wait_for 5 python3 -c 'import socket,sys; socket.create_connection(("127.0.0.1", int(sys.argv[1]))).close()' "$TG_SSH_PORT"
expect_status 1 "$TUNNELGW" -f "$TG_TMP/gw.conf"
contains "$TG_ERR" "cannot listen on 127.0.0.1 port $TG_SSH_PORT: Address already in use" \
	"a listen port in use is a clear start-up error"

done_testing
