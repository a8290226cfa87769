# tunnelgw: a client whose algorithms the gateway does not accept is told why, at once: on a
# cipher mismatch it gets the gateway's banner and KEXINIT, then a disconnect message naming
# what did not match (also when its banner and KEXINIT arrive together, as Dropbear sends
# them); a login signed with SHA-1 "ssh-rsa" is refused in well under login_grace_time.
. "$(dirname "$0")/lib.sh"

N=${NEGOTIATION_N:-30}

need_tool dbclient "dropbear-bin: contrib/install-deps.sh installs it"
DBCLIENT=$TG_TOOL
need_paramiko

# The gateway offers AES-GCM (which paramiko lacks) and aes256-ctr; both clients' aes128-ctr,
# and aes128-cbc, are refused.
ssh-keygen -q -t ed25519 -N "" -C tunnelgw-test -f "$TG_TMP/client"
ssh-keygen -q -t rsa -b 2048 -N "" -C tunnelgw-rsa -f "$TG_TMP/rsa"
cat "$TG_TMP/client.pub" "$TG_TMP/rsa.pub" >"$TG_TMP/authorized_keys"
write_conf "$TG_TMP/gw.conf" "workers = 2;" 'ciphers = "aes128-gcm@openssh.com,aes256-ctr";' \
	'login_grace_time = 60;'
start_gw "$TG_TMP/gw.conf"

# --- OpenSSH -----------------------------------------------------------------------------
bad=0
for i in $(seq "$N"); do
	# shellcheck disable=SC2086
	timeout 20 ssh $TG_SSH_OPTS -i "$TG_TMP/client" -p "$TG_SSH_PORT" -c aes128-ctr \
		v2@127.0.0.1 help </dev/null >/dev/null 2>"$TG_TMP/ssh.err" || true
	grep -q "no matching cipher found. Their offer: aes128-gcm@openssh.com,aes256-ctr" \
		"$TG_TMP/ssh.err" || { bad=$((bad + 1)); cp "$TG_TMP/ssh.err" "$TG_TMP/ssh.bad"; }
done
[ "$bad" -eq 0 ] || fail "$bad of $N OpenSSH attempts with a refused cipher got no reason: $(cat "$TG_TMP/ssh.bad")"
ok "$N of $N OpenSSH attempts with a refused cipher are told: no matching cipher, and the offer"

# --- Dropbear: banner and KEXINIT in one segment -----------------------------------------
bad=0
for i in $(seq "$N"); do
	HOME=$TG_TMP timeout 20 "$DBCLIENT" -y -y -c aes128-ctr -p "$TG_SSH_PORT" v2@127.0.0.1 help \
		</dev/null >/dev/null 2>"$TG_TMP/db.err" || true
	grep -q "No matching algo enc c->s" "$TG_TMP/db.err" ||
		{ bad=$((bad + 1)); cp "$TG_TMP/db.err" "$TG_TMP/db.bad"; }
done
[ "$bad" -eq 0 ] || fail "$bad of $N dbclient attempts with a refused cipher got no reason: $(cat "$TG_TMP/db.bad")"
ok "$N of $N dbclient attempts with a refused cipher are told: No matching algo enc c->s"

# (Failed handshakes are logged within a rate limit: some lines, not one per attempt.)
grep -q "handshake failed: no matching cipher: client offered 'aes128-ctr'; gateway offers aes128-gcm@openssh.com,aes256-ctr" "$TG_TMP/gw.log" ||
	fail "no refusal logged with the client's offer: $(grep -v debug "$TG_TMP/gw.log" | tail -5)"
ok "the gateway log names a refused client's offer, quoted"

# --- the bytes a refused client receives -------------------------------------------------
# u32 N / u8 N: write an integer in network byte order.
u32() {
	printf "$(printf '\\%03o\\%03o\\%03o\\%03o' $(($1 >> 24 & 255)) $(($1 >> 16 & 255)) \
		$(($1 >> 8 & 255)) $(($1 & 255)))"
}
u8() {
	printf "$(printf '\\%03o' "$1")"
}

# flight FILE CIPHER: a client's banner and a KEXINIT that offers only CIPHER, in one file.
flight() {
	local file=$1 payload="$TG_TMP/payload" l len pad
	{
		printf '\024'
		printf '0123456789abcdef'
		for l in curve25519-sha256 ssh-ed25519 "$2" "$2" hmac-sha2-256 hmac-sha2-256 none none "" ""; do
			u32 ${#l}
			printf '%s' "$l"
		done
		printf '\000\000\000\000\000'
	} >"$payload"
	len=$(stat -c %s "$payload")
	pad=$((8 - (5 + len) % 8))
	[ "$pad" -ge 4 ] || pad=$((pad + 8))
	{
		printf 'SSH-2.0-negotiation.sh\r\n'
		u32 $((1 + len + pad))
		u8 "$pad"
		cat "$payload"
		head -c "$pad" /dev/zero
	} >"$file"
}

flight "$TG_TMP/flight" 'aes128-cbc'
exec 3<>"/dev/tcp/127.0.0.1/$TG_SSH_PORT"
cat "$TG_TMP/flight" >&3
timeout 10 cat <&3 >"$TG_TMP/reply" || true
exec 3<&-
head -c 8 "$TG_TMP/reply" | grep -q '^SSH-2.0-' || fail "the reply does not start with a banner: $(head -c 200 "$TG_TMP/reply" | od -c | head -5)"
kex_at=$(grep -abo 'curve25519-sha256' "$TG_TMP/reply" | head -1 | cut -d: -f1)
why_at=$(grep -abo "no matching cipher: client offered 'aes128-cbc'; gateway offers aes128-gcm@openssh.com,aes256-ctr" "$TG_TMP/reply" | head -1 | cut -d: -f1)
[ -n "$kex_at" ] || fail "no KEXINIT of the gateway in the reply: $(od -c "$TG_TMP/reply" | head -20)"
[ -n "$why_at" ] || fail "no disconnect message naming the mismatch in the reply: $(od -c "$TG_TMP/reply" | head -40)"
[ "$kex_at" -lt "$why_at" ] || fail "the disconnect message came before the gateway's KEXINIT"
ok "a banner and KEXINIT sent in one segment get the banner, the KEXINIT, then a disconnect naming the mismatch"

# --- a login signed with SHA-1 ssh-rsa ---------------------------------------------------
# OpenSSH signs with what the server's server-sig-algs lists (rsa-sha2-*), so it never sends
# this; older clients ignore that list. paramiko is made to sign with ssh-rsa regardless.
/usr/bin/python3 -W ignore - "$TG_SSH_PORT" "$TG_TMP/rsa" >"$TG_TMP/sha1.out" 2>&1 <<'EOF' || true
import sys, time, paramiko
paramiko.auth_handler.AuthHandler._finalize_pubkey_algorithm = lambda self, key_type: "ssh-rsa"
t = paramiko.Transport(("127.0.0.1", int(sys.argv[1])))
t.start_client(timeout=20)
start = time.monotonic()
try:
    t.auth_publickey("v2", paramiko.RSAKey.from_private_key_file(sys.argv[2]))
    print("logged in")
except Exception as e:
    print("refused: %s" % e)
print("seconds %.2f" % (time.monotonic() - start))
t.close()
EOF
grep -q "^refused" "$TG_TMP/sha1.out" || fail "the ssh-rsa login was not refused: $(cat "$TG_TMP/sha1.out")"
secs=$(sed -n 's/^seconds //p' "$TG_TMP/sha1.out")
awk -v s="$secs" 'BEGIN { exit !(s < 5) }' || fail "the ssh-rsa login took $secs s to be refused (login_grace_time is 60)"
ok "a login signed with SHA-1 ssh-rsa is refused in $secs s (login_grace_time is 60)"
grep -q "public key signature algorithm 'ssh-rsa' is not accepted (SHA-1)" "$TG_TMP/gw.log" ||
	fail "the gateway log does not say why: $(grep -v debug "$TG_TMP/gw.log" | tail -5)"
ok "the gateway log names the refused signature algorithm"

expect_status 0 timeout 20 ssh $TG_SSH_OPTS -i "$TG_TMP/rsa" -p "$TG_SSH_PORT" v2@127.0.0.1 help
ok "the same RSA key logs in with OpenSSH, which signs with rsa-sha2"

done_testing
