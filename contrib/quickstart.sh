#!/bin/sh
# tunnelgw quick start.
#   contrib/quickstart.sh         install the build dependencies, build, and run a gateway on
#                                 loopback port 2222 (or $TG_PORT) with a demo configuration in
#                                 ./demo (./demo-PORT for another port), and the web
#                                 dashboard on port 8443 (or $TG_API_PORT)
#   contrib/quickstart.sh check   install the build and test dependencies, build, and run the
#                                 whole test suite
# For the tests: TG_TUNNELGW=FILE runs that tunnelgw binary, without installing dependencies or
# building.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
mode=${1:-run}
case "$mode" in
run|check) ;;
*) echo "usage: $0 [check]" >&2; exit 2 ;;
esac

# listening PORT: does something accept connections on 127.0.0.1:PORT.
listening() {
	timeout 3 bash -c ": </dev/tcp/127.0.0.1/$1" 2>/dev/null
}

# demo_dir PORT: the folder of the demo gateway on PORT.
demo_dir() {
	if [ "$1" = 2222 ]; then
		echo "$top/demo"
	else
		echo "$top/demo-$1"
	fi
}

# demo_pid DIR: print the pid of the demo gateway running from DIR, or fail when none runs.
demo_pid() {
	dpid=$(cat "$1/quickstart.pid" 2>/dev/null) || return 1
	case "$dpid" in '' | *[!0-9]*) return 1 ;; esac
	tr '\0' ' ' <"/proc/$dpid/cmdline" 2>/dev/null | grep -qF -- "-f $1/tunnelgw.conf"
}

# port_taken PORT: is PORT in use, or the demo gateway of its folder running.
port_taken() {
	listening "$1" || demo_pid "$(demo_dir "$1")"
}

# refuse_busy: stop with one line when the demo's port or folder is in use, naming TG_PORT.
refuse_busy() {
	port_taken "$port" || return 0
	next=$((port + 1))
	while port_taken "$next" && [ "$next" -lt $((port + 100)) ]; do
		next=$((next + 1))
	done
	echo "quickstart: port $port is in use (another demo gateway?); run TG_PORT=$next $0" >&2
	exit 1
}

port=${TG_PORT:-2222}
case "$port" in
'' | *[!0-9]*) echo "quickstart: TG_PORT must be a port number, not '$port'" >&2; exit 2 ;;
esac
demo=$(demo_dir "$port")
# Check what can be checked before installing and building anything.
[ "$mode" = check ] || refuse_busy

if [ -n "${TG_TUNNELGW:-}" ]; then
	tunnelgw=$TG_TUNNELGW
	[ "$mode" = run ] || { echo "quickstart: TG_TUNNELGW is for the demo only" >&2; exit 2; }
else
	# configure refuses a build folder when the source folder was configured in place.
	if [ -f "$top/config.status" ]; then
		echo "quickstart: ./configure was run in $top itself, so build/ cannot be configured; run 'make distclean' in $top first" >&2
		exit 1
	fi
	if [ "$mode" = check ]; then
		"$top/contrib/install-deps.sh"
	else
		"$top/contrib/install-deps.sh" --build
	fi

	cd "$top"
	[ -x configure ] || autoreconf -fi
	mkdir -p build
	cd build
	[ -f Makefile ] || ../configure --sysconfdir=/etc
	make -j"$(nproc)"

	if [ "$mode" = check ]; then
		if ! make -j"$(nproc)" check; then
			cat test-suite.log >&2
			exit 1
		fi
		exit 0
	fi
	tunnelgw="$top/build/src/tunnelgw"
	# The build took a while: look again.
	refuse_busy
fi

mkdir -p "$demo"
chmod 700 "$demo"
# The dashboard and API on loopback, plain HTTP: port $TG_API_PORT, by default 8443 for the
# demo on 2222 (PORT + 6221); left off when that port is taken.
api_port=${TG_API_PORT:-$((port + 6221))}
case "$api_port" in
'' | *[!0-9]*) echo "quickstart: TG_API_PORT must be a port number, not '$api_port'" >&2; exit 2 ;;
esac
if [ "$api_port" -gt 65535 ] || listening "$api_port"; then
	echo "quickstart: port $api_port is taken, so the dashboard stays off (TG_API_PORT=PORT picks another)" >&2
	api_port=""
fi
cat >"$demo/tunnelgw.conf" <<CONF
# Demo configuration written by contrib/quickstart.sh: loopback only.
listen = [ "127.0.0.1:$port" ];
public_host = "localhost";
public_bind = "127.0.0.1";
authorized_keys = "authorized_keys";
database = "tunnelgw.db";
api_listen = "${api_port:+127.0.0.1:$api_port}";
CONF

# An operator API key for the dashboard, made once and kept (mode 600) in the demo folder.
dashboard=""
if [ -n "$api_port" ]; then
	if [ ! -s "$demo/operator.apikey" ]; then
		(umask 077 && "$(dirname "$tunnelgw")/tunnelgwctl" -f "$demo/tunnelgw.conf" \
			apikey create --operator >"$demo/operator.apikey" 2>/dev/null) ||
			rm -f "$demo/operator.apikey"
	fi
	if [ -s "$demo/operator.apikey" ]; then
		dashboard="
The dashboard is at http://127.0.0.1:$api_port/ ; sign in with the operator's API key
in $demo/operator.apikey:

    $(cat "$demo/operator.apikey")
"
	fi
fi

# Let in the keys of the user running this, or a demo key made here.
identity=""
if ! ls "$HOME"/.ssh/id_*.pub >/dev/null 2>&1; then
	[ -f "$demo/client_key" ] || ssh-keygen -q -t ed25519 -N "" -C tunnelgw-demo -f "$demo/client_key"
	cat "$demo/client_key.pub" >"$demo/authorized_keys"
	identity=" -i $demo/client_key"
else
	cat "$HOME"/.ssh/id_*.pub >"$demo/authorized_keys"
fi

# Forward to port 22 when something listens there, else to the gateway's own SSH port, a
# service that speaks first.
if listening 22; then
	target=22
	note="Connections to the public port it prints then reach your port 22."
else
	target=$port
	note="Nothing listens on port 22 here, so this forwards to the gateway's own SSH port $port:
a connection to the public port it prints is greeted with the gateway's SSH banner."
fi

cat <<MSG

tunnelgw is starting on 127.0.0.1:$port with $demo/tunnelgw.conf.
In another terminal, try:

    ssh -p $port$identity -o StrictHostKeyChecking=accept-new -R 0:localhost:$target v2@localhost tcp

$note
$dashboard
Stop the gateway with Ctrl-C.

MSG
echo $$ >"$demo/quickstart.pid"
exec "$tunnelgw" -f "$demo/tunnelgw.conf"
