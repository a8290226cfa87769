# tunnelgw: the SSH clients of Debian 12 against a gateway at its default settings: OpenSSH,
# Dropbear's dbclient, PuTTY's plink, paramiko and asyncssh. Each logs in with a key and with a
# token as the user name, asks for remote forwards and carries data both ways, also from a
# service that speaks first. paramiko checks the bind addresses clients send, OpenSSH the
# ciphers it can be told to use. A client that fails does not hide the others: each reports
# "not ok" and the test fails at the end.
. "$(dirname "$0")/lib.sh"

SC="/usr/bin/python3 $top_srcdir/tests/sshclients.py"	# Debian's python3 has paramiko, asyncssh
TG_BAD=0
need_tool dbclient "dropbear-bin: contrib/install-deps.sh installs it"
DBCLIENT=$TG_TOOL
need_tool dropbearconvert "dropbear-bin: contrib/install-deps.sh installs it"
DROPBEARCONVERT=$TG_TOOL
need_tool plink "putty-tools: contrib/install-deps.sh installs it"
PLINK=$TG_TOOL
need_tool puttygen "putty-tools: contrib/install-deps.sh installs it"
PUTTYGEN=$TG_TOOL
mkdir "$TG_TMP/home"	# HOME of dbclient and plink: no user keys, known hosts or settings

gw_setup 'port_range = "19400-19699";' 'allow_requested_ports = true;' 'database = "tunnelgw.db";'
ctl account add alice >/dev/null
token=$(ctl token create alice 2>/dev/null)
"$DROPBEARCONVERT" openssh dropbear "$TG_TMP/client" "$TG_TMP/client.dropbear" >/dev/null 2>&1 ||
	fail "dropbearconvert did not convert the key (contrib/install-deps.sh installs dropbear-bin)"
"$PUTTYGEN" "$TG_TMP/client" -O private -o "$TG_TMP/client.ppk" ||
	fail "puttygen did not convert the key (contrib/install-deps.sh installs putty-tools)"
hostfp=$(ssh-keygen -l -f "$TG_TMP/ssh_host_ed25519_key" | awk '{ print $2 }')
start_service echo
echo_svc=$TG_SVC
TG_SERVICE=$SC start_service greeter 262144
greet_svc=$TG_SVC

# bad MESSAGE: report a failed check of one client and go on; the test fails at the end.
bad() {
	TG_BAD=$((TG_BAD + 1))
	echo "not ok - $*" >&2
}

# start_client CLIENT NAME USER KEY FORWARD...: run CLIENT (openssh, dbclient, plink, paramiko,
# asyncssh) in the background as USER, with its form of the test key if KEY is "key" and no key
# at all if it is "nokey", asking for each remote FORWARD and running tcp. Output goes to
# $TG_TMP/NAME.out and NAME.err, the pid to $TG_LAST_PID.
start_client() {
	local client=$1 name=$2 user=$3 key=$4 f
	local -a cmd
	shift 4
	case $client in
	openssh)
		if [ "$key" = key ]; then
			# shellcheck disable=SC2206
			cmd=(ssh $TG_SSH_OPTS -i "$TG_TMP/client")
		else
			# shellcheck disable=SC2206
			cmd=(ssh -o PubkeyAuthentication=no -o PasswordAuthentication=no
				-o KbdInteractiveAuthentication=yes -o BatchMode=no $TG_SSH_OPTS)
		fi
		cmd+=(-p "$TG_SSH_PORT")
		for f; do cmd+=(-R "$f"); done
		cmd+=("$user@127.0.0.1" tcp) ;;
	dbclient)
		cmd=(env HOME="$TG_TMP/home" "$DBCLIENT" -y -y -p "$TG_SSH_PORT")
		[ "$key" = nokey ] || cmd+=(-i "$TG_TMP/client.dropbear")
		for f; do cmd+=(-R "$f"); done
		cmd+=("$user@127.0.0.1" tcp) ;;
	plink)
		cmd=(env HOME="$TG_TMP/home" "$PLINK" -batch -noagent -hostkey "$hostfp" -P "$TG_SSH_PORT")
		[ "$key" = nokey ] || cmd+=(-i "$TG_TMP/client.ppk")
		for f; do cmd+=(-R "$f"); done
		cmd+=("$user@127.0.0.1" tcp) ;;
	paramiko|asyncssh)
		# shellcheck disable=SC2206
		cmd=($SC "$client" "$TG_SSH_PORT" "$user")
		[ "$key" = nokey ] || cmd+=(--key "$TG_TMP/client")
		for f; do cmd+=(-R "$f"); done
		cmd+=(--command tcp) ;;
	esac
	"${cmd[@]}" >"$TG_TMP/$name.out" 2>"$TG_TMP/$name.err" </dev/null &
	TG_LAST_PID=$!
	TG_PIDS="$TG_PIDS $TG_LAST_PID"
}

# stop_client: end the client started last.
stop_client() {
	kill "$TG_LAST_PID" 2>/dev/null || true
	wait "$TG_LAST_PID" 2>/dev/null || true
}

# client_said NAME: the output of client NAME and the gateway's last log lines, for a report.
client_said() {
	echo "client stdout: $(tr -d '\r' <"$TG_TMP/$1.out")"
	echo "client stderr: $(tr -d '\r' <"$TG_TMP/$1.err")"
	echo "gateway log: $(tail -n 4 "$TG_TMP/gw.log")"
}

# said NAME OUT|ERR PATTERN: has client NAME written a line matching PATTERN (a grep BRE).
said() {
	tr -d '\r' <"$TG_TMP/$1.$2" | grep -q -- "$3"
}

# said_or_gone NAME OUT|ERR PATTERN: has client NAME written such a line, or exited.
said_or_gone() {
	said "$@" || ! kill -0 "$TG_LAST_PID" 2>/dev/null
}

# allocated_to NAME TARGET: wait until client NAME reports the public port of its forward to
# localhost:TARGET ("Allocated port N for remote forward to localhost:TARGET") and print N.
allocated_to() {
	local re="Allocated port \([0-9]*\) for remote forward to localhost:$2\$"
	wait_for 10 said_or_gone "$1" err "$re" || return 1
	said "$1" err "$re" || return 1
	tr -d '\r' <"$TG_TMP/$1.err" | sed -n "s/.*$re/\1/p" | head -n 1
}

# has_banner NAME PORT...: wait until client NAME shows a Forwarding line for each PORT.
has_banner() {
	local name=$1 p re
	shift
	for p; do
		re="^Forwarding  tcp://127.0.0.1:$p\\b"
		wait_for 10 said_or_gone "$name" out "$re" || return 1
		said "$name" out "$re" || return 1
	done
}

# key_login CLIENT [ECHO-PORT GREET-PORT]: CLIENT logs in with the test key and forwards to the
# echo and greeter services, at random ports or at the given ones; data crosses intact.
key_login() {
	local client=$1 name="$1-key" pe pg out
	if [ $# -eq 3 ]; then
		start_client "$client" "$name" v2 key "$2:localhost:$echo_svc" "$3:localhost:$greet_svc"
		pe=$2
		pg=$3
	else
		start_client "$client" "$name" v2 key "0:localhost:$echo_svc" "0:localhost:$greet_svc"
		if ! pe=$(allocated_to "$name" "$echo_svc") || ! pg=$(allocated_to "$name" "$greet_svc"); then
			bad "$client: key login and two -R 0:...: no allocated ports; $(client_said "$name")"
			stop_client
			return 0
		fi
	fi
	if has_banner "$name" "$pe" "$pg"; then
		ok "$client: key login, two -R, banner 'Forwarding  tcp://127.0.0.1:PORT' for each"
	else
		bad "$client: key login: no banner for ports $pe and $pg; $(client_said "$name")"
		stop_client
		return 0
	fi
	if out=$($TG_PY stream "$pe" 1048576 3 2>&1); then
		ok "$client: 3 public connections, 1 MB each way each, sha256 equal"
	else
		bad "$client: 1 MB each way: $out"
	fi
	if out=$($SC greeted "$pg" 4 2>&1); then
		ok "$client: a service that speaks first: 4 connections get its line and 256 KiB intact"
	else
		bad "$client: service that speaks first: $out"
	fi
	stop_client
}

# token_login CLIENT KEY [PORT]: CLIENT logs in as TOKEN@gateway (with the test key, which the
# keys file knows, if KEY is "key"), forwards to the echo service, and the tunnel is alice's.
token_login() {
	local client=$1 key=$2 name="$1-token-$2" p out what="token as user name"
	[ "$key" = key ] && what="token as user name, with a key of the keys file"
	start_client "$client" "$name" "$token" "$key" "${3:-0}:localhost:$echo_svc"
	if [ $# -eq 3 ]; then
		p=$3
	else
		p=$(allocated_to "$name" "$echo_svc") || {
			bad "$client: $what: no allocated port; $(client_said "$name")"
			stop_client
			return 0
		}
	fi
	if ! has_banner "$name" "$p"; then
		bad "$client: $what: no banner for port $p; $(client_said "$name")"
	elif [ -z "$(ctl tunnels | awk -v u="tcp://127.0.0.1:$p" '$1 == u && $2 == "alice"')" ]; then
		bad "$client: $what: the tunnel is not alice's: $(ctl tunnels)"
	elif ! out=$($TG_PY stream "$p" 1048576 1 2>&1); then
		bad "$client: $what: 1 MB each way: $out"
	else
		ok "$client: $what logs in as alice; the tunnel carries 1 MB each way"
	fi
	stop_client
}

# refused_forward CLIENT: CLIENT asks for a port outside port_range: it shows the gateway's
# one-line reason on stderr and stays connected.
refused_forward() {
	local client=$1 name="$1-refused" re="tunnelgw: forward of localhost:20000 refused: "
	start_client "$client" "$name" v2 key "20000:localhost:$echo_svc"
	if wait_for 10 said_or_gone "$name" err "$re" && said "$name" err "$re" &&
		kill -0 "$TG_LAST_PID" 2>/dev/null; then
		ok "$client: a refused forward shows '${re}REASON' on stderr; the session stays up"
	else
		bad "$client: refused forward: $(client_said "$name")"
	fi
	stop_client
}

# plink cannot ask for port 0: it asks for fixed ports (allow_requested_ports), which no other
# tunnel holds while it runs first.
key_login plink 19690 19691
token_login plink nokey 19692
token_login plink key 19693
refused_forward plink
for client in openssh dbclient paramiko asyncssh; do
	key_login "$client"
	token_login "$client" nokey
	token_login "$client" key
	refused_forward "$client"
done

# OpenSSH told to use one cipher, against the gateway's default offer.
for cipher in chacha20-poly1305@openssh.com aes128-ctr; do
	start_ssh "c-$cipher" -c "$cipher" -R "0:localhost:$echo_svc" v2@127.0.0.1 tcp
	if ! p=$(allocated_to "c-$cipher" "$echo_svc"); then
		bad "openssh -c $cipher: no tunnel; $(client_said "c-$cipher")"
	elif ! out=$($TG_PY stream "$p" 1048576 1 2>&1); then
		bad "openssh -c $cipher: 1 MB each way: $out"
	else
		ok "openssh -c $cipher connects at default settings; 1 MB each way intact"
	fi
	stop_client
done

# The bind address a client requests with port 0 comes back in each forwarded-tcpip channel,
# with public_bind = "0.0.0.0" and a public_host that is a name.
stop_gw
write_conf "$TG_TMP/gw.conf" "workers = 2;" 'port_range = "19400-19699";' \
	'public_host = "gw.test";' 'public_bind = "0.0.0.0";'
start_gw "$TG_TMP/gw.conf"
addrs=(127.0.0.1 ::1 "" 0.0.0.0 "*" localhost ::)	# "127.0.0.1": Go's Listen("tcp", "localhost:0")
binds=$($SC bindaddrs "$TG_SSH_PORT" "$TG_TMP/client" "${addrs[@]}" 2>&1) || true
for a in "${addrs[@]}"; do
	case "$binds" in
	*"bind '$a': ok port "*)
		ok "paramiko: bind address '$a' port 0 granted; each channel carries '$a' and the port" ;;
	*"bind '$a': "*)
		bad "paramiko: bind address '$a' port 0: $(echo "$binds" | grep -F "bind '$a':")" ;;
	*)
		bad "paramiko: bind addresses: $binds"
		break ;;
	esac
done
start_ssh b -o ExitOnForwardFailure=yes -R "127.0.0.1:0:localhost:$echo_svc" \
	-R "[::1]:0:localhost:$echo_svc" v2@127.0.0.1 tcp
if ! wait_for 10 said_or_gone b out '^Forwarding' || ! said b out '^Forwarding' ||
	! wait_for 5 lines_at_least "$TG_TMP/b.err" '^Allocated port' 2; then
	bad "openssh: -R 127.0.0.1:0:... -R [::1]:0:...: $(client_said b)"
else
	for n in 1 2; do
		p=$(sed -n 's/^Allocated port \([0-9]*\) .*/\1/p' "$TG_TMP/b.err" | sed -n "${n}p")
		if out=$($TG_PY stream "$p" 100000 1 2>&1); then
			ok "openssh: forward $n of -R 127.0.0.1:0:... -R [::1]:0:... carries data"
		else
			bad "openssh: forward $n of -R 127.0.0.1:0:... -R [::1]:0:...: $out"
		fi
	done
fi
stop_client

[ "$TG_BAD" -eq 0 ] || fail "$TG_BAD client checks failed (the 'not ok' lines above)"
done_testing
