# tunnelgw: started as root with user set, the daemon becomes that user once everything is open;
# started in any other way with user set, it refuses to run rather than run as the wrong user.
# The refusals need no root: they are checked as the user running the test, or as nobody when
# that is root. The drop itself needs root, which CI has.
. "$(dirname "$0")/lib.sh"

# --- without root ------------------------------------------------------------------------
# A folder of the user the checks run as: the daemon writes its host keys and database there.
U=$TG_TMP/user
mkdir "$U"
: >"$U/authorized_keys"
write_conf "$U/nouser.conf" 'workers = 2;' 'port_range = "20500-20599";' 'user = "tg-no-such-user";'
write_conf "$U/gw.conf" 'workers = 2;' 'port_range = "20500-20599";' 'user = "nobody";'
if [ "$(id -u)" = 0 ]; then
	need_tool setpriv "util-linux has it"
	setpriv=$TG_TOOL
	as_user="$setpriv --reuid=nobody --regid=$(id -g nobody) --clear-groups"
	who=nobody
	# A copy of the daemon nobody can run, wherever the build folder is.
	cp "$TUNNELGW" "$U/tunnelgw"
	gw=$U/tunnelgw
	chmod 755 "$TG_TMP"
	chown -R nobody: "$U"
else
	as_user=""
	who=$(id -un)
	gw=$TUNNELGW
fi

# No root, user set: a start-up error that says why.
# shellcheck disable=SC2086
expect_status 1 $as_user "$gw" -f "$U/gw.conf" -v
contains "$TG_ERR" "user is set to 'nobody' but tunnelgw was not started as root" \
	"started by $who with user set: a clear start-up error"
case "$TG_ERR" in *": ready"*) fail "it said ready: $TG_ERR" ;; esac
ok "it never says ready"

# A user that does not exist: a configuration error at its line, root or not.
# shellcheck disable=SC2086
expect_status 1 $as_user "$gw" -f "$U/nouser.conf"
contains "$TG_ERR" "$U/nouser.conf:6: option 'user': no such user 'tg-no-such-user'" \
	"a user that does not exist is a configuration error naming the file and line"

# Root in a user namespace of one uid (a rootless container): it gets as far as the drop, where
# nobody has no uid to be given the files, and must stop there rather than run on as root.
need_tool unshare "util-linux has it"
unshare=$TG_TOOL
# shellcheck disable=SC2086
if $as_user "$unshare" --user --map-root-user true 2>"$TG_TMP/unshare.err"; then
	# shellcheck disable=SC2086
	expect_status 1 $as_user "$unshare" --user --map-root-user "$gw" -f "$U/gw.conf" -v
	# The first file it gives: the SQLite database, or with a database server the socket.
	contains "$TG_ERR" "cannot give $U/$(on_sqlite && echo tunnelgw.db || echo tunnelgw.sock) to user nobody" \
		"root of a user namespace without nobody's uid: giving the files to nobody fails, and says so"
	contains "$TG_ERR" "info: listening for SSH on 127.0.0.1:$TG_SSH_PORT" \
		"(it had opened everything that needs root before)"
	case "$TG_ERR" in *": ready"*) fail "it said ready without becoming nobody: $TG_ERR" ;; esac
	ok "it exits instead of running on as root"
else
	echo "# $who gets no user namespace ($(head -1 "$TG_TMP/unshare.err")): a failed drop is not checked"
fi

if [ "$(id -u)" != 0 ]; then
	echo "# not root: the drop to nobody itself is not checked"
	done_testing
	exit 0
fi

# --- as root ------------------------------------------------------------------------------
ssh-keygen -q -t ed25519 -N "" -C tunnelgw-test -f "$TG_TMP/client"
cp "$TG_TMP/client.pub" "$TG_TMP/authorized_keys"
chmod 644 "$TG_TMP/authorized_keys"
write_conf "$TG_TMP/gw.conf" 'workers = 2;' 'port_range = "20500-20599";' 'user = "nobody";'
chmod 644 "$TG_TMP/gw.conf"

# ids FIELD: the daemon's real, effective and saved ids from its Uid: or Gid: line.
ids() {
	awk -v f="$1:" '$1 == f { print $2 "," $3 "," $4 }' "/proc/$TG_GW_PID/status"
}

# Started with supplementary groups, root's among them, as from a login shell: the drop must
# shed them. (setpriv execs: the daemon keeps the wrapper's pid.)
"$setpriv" --groups=0,1 -- grep -q "^Groups:[[:space:]]*0 1[[:space:]]*\$" /proc/self/status ||
	fail "setpriv --groups=0,1 gives no supplementary groups"
printf '#!/bin/sh\nexec %s --groups=0,1 -- %s "$@"\n' "$setpriv" "$TUNNELGW" >"$TG_TMP/tunnelgw-groups"
chmod 755 "$TG_TMP/tunnelgw-groups"
TUNNELGW=$TG_TMP/tunnelgw-groups start_gw "$TG_TMP/gw.conf"
u=$(id -u nobody)
[ "$(ids Uid)" = "$u,$u,$u" ] || fail "the daemon runs with uids $(ids Uid)"
ok "the daemon runs as nobody (real, effective and saved uid)"
g=$(id -g nobody)
[ "$(ids Gid)" = "$g,$g,$g" ] || fail "the daemon runs with gids $(ids Gid)"
groups=$(awk '$1 == "Groups:" { $1 = ""; print }' "/proc/$TG_GW_PID/status")
[ -z "${groups// /}" ] || fail "the daemon kept the supplementary groups$groups"
ok "with nobody's group (real, effective and saved gid) and no supplementary group"
contains "$(cat "$TG_TMP/gw.log")" "running as user nobody" "the log says which user it runs as"
if on_sqlite; then
	[ "$(stat -c %U "$TG_TMP/tunnelgw.db")" = nobody ] || fail "the database still belongs to $(stat -c %U "$TG_TMP/tunnelgw.db")"
	ok "the database was given to that user"
fi

start_service echo
start_ssh a -R "0:localhost:$TG_SVC" v2@127.0.0.1 tcp
port=$(allocated a)
$TG_PY stream "$port" 100000 1 >/dev/null || fail "the tunnel does not work"
ok "tunnels work after the privilege drop"
ctl account add alice
token=$(ctl token create alice 2>/dev/null)
ssh-keygen -q -t ed25519 -N "" -f "$TG_TMP/newkey"
expect_status 0 ssh $TG_SSH_OPTS -i "$TG_TMP/newkey" -p "$TG_SSH_PORT" "$token@127.0.0.1" register
contains "$TG_OUT" "for account alice" "the daemon still writes to the database (register)"
stop_gw
ok "it stops cleanly"

done_testing
