#!/bin/sh
# tunnelgw quick start.
#   contrib/quickstart.sh         install dependencies, build, and run a gateway on loopback
#                                 (port 2222, or $TG_PORT) with a demo configuration in ./demo
#   contrib/quickstart.sh check   install dependencies, build, and run the whole test suite
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
mode=${1:-run}
case "$mode" in
run|check) ;;
*) echo "usage: $0 [check]" >&2; exit 2 ;;
esac

"$top/contrib/install-deps.sh"

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

demo="$top/demo"
port=${TG_PORT:-2222}
mkdir -p "$demo"
chmod 700 "$demo"
cat >"$demo/tunnelgw.conf" <<CONF
# Demo configuration written by contrib/quickstart.sh: loopback only.
listen = [ "127.0.0.1:$port" ];
public_host = "localhost";
public_bind = "127.0.0.1";
authorized_keys = "authorized_keys";
database = "tunnelgw.db";
CONF

# Let in the keys of the user running this, or a demo key made here.
identity=""
if ! ls "$HOME"/.ssh/id_*.pub >/dev/null 2>&1; then
	[ -f "$demo/client_key" ] || ssh-keygen -q -t ed25519 -N "" -C tunnelgw-demo -f "$demo/client_key"
	cat "$demo/client_key.pub" >"$demo/authorized_keys"
	identity=" -i $demo/client_key"
else
	cat "$HOME"/.ssh/id_*.pub >"$demo/authorized_keys"
fi

cat <<MSG

tunnelgw is starting on 127.0.0.1:$port with $demo/tunnelgw.conf.
In another terminal, try:

    ssh -p $port$identity -o StrictHostKeyChecking=accept-new -R 0:localhost:22 v2@localhost tcp

Stop the gateway with Ctrl-C.

MSG
exec "$top/build/src/tunnelgw" -f "$demo/tunnelgw.conf"
