#!/bin/bash
# tunnelgw: a PostgreSQL server of its own for the tests, in a folder, never as root.
#   tests/pgserver.sh start DIR [ADDRESSES]  make DIR, initdb there and start the server; its
#                                           socket is DIR/.s.PGSQL.5432, and with ADDRESSES
#                                           (comma-separated) it listens on TCP there too
#   tests/pgserver.sh stop DIR              stop it (DIR stays, for its log: DIR/log)
#   tests/pgserver.sh resume DIR            start a server stopped before, as start made it
#   tests/pgserver.sh have                  exit 0 when PostgreSQL's server is installed
# The superuser is "tunnelgw" and every local or TCP connection is trusted: a test server,
# reachable only by the tests. As root, the server runs as user nobody (initdb refuses root).
# Exit 77 (skip) when no server is installed.
set -eu

bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
if [ -z "$bindir" ] || [ ! -x "$bindir/initdb" ]; then
	echo "PostgreSQL's server is not installed (Debian: apt-get install postgresql-15," \
		"or contrib/install-deps.sh --postgresql)" >&2
	exit 77
fi

# Run a command as the server's user.
as_owner() {
	if [ "$(id -u)" -eq 0 ]; then
		runuser -u nobody -- "$@"
	else
		"$@"
	fi
}

cmd=${1:-}
case "$cmd" in
have)
	exit 0
	;;
start)
	dir=$2
	addrs=${3:-}
	mkdir -p "$dir"
	[ "$(id -u)" -ne 0 ] || chown nobody: "$dir"
	chmod 700 "$dir"
	as_owner test -x "$dir" || {
		echo "$dir: the server's user cannot reach it (a folder above it is closed)" >&2
		exit 1
	}
	as_owner "$bindir/initdb" -D "$dir/data" -U tunnelgw --auth=trust -E UTF8 \
		--no-sync --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 || {
		cat "$dir/initdb.log" >&2
		exit 1
	}
	# Reachable from other network namespaces only when asked: trust TCP from anywhere.
	echo "host all all 0.0.0.0/0 trust" >>"$dir/data/pg_hba.conf"
	echo "$addrs" >"$dir/addresses"
	exec "$0" resume "$dir"
	;;
resume)
	dir=$2
	as_owner "$bindir/pg_ctl" -D "$dir/data" -l "$dir/log" -w -t 30 start \
		-o "-k $dir -c listen_addresses='$(cat "$dir/addresses")' -c fsync=off \
-c synchronous_commit=off -c full_page_writes=off -c max_connections=300 \
-c shared_buffers=32MB" >/dev/null || {
		cat "$dir/log" >&2
		exit 1
	}
	;;
stop)
	dir=$2
	[ -d "$dir/data" ] || exit 0
	as_owner "$bindir/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
	;;
*)
	echo "usage: $0 start DIR [ADDRESSES] | stop DIR | resume DIR | have" >&2
	exit 2
	;;
esac
