# tunnelgw: contrib/quickstart.sh and contrib/install-deps.sh without the network: the demo and
# its ssh line, a second run, a source folder configured in place, the package sets, no sudo.
. "$(dirname "$0")/lib.sh"

# The scripts run from a copy, so that the demo folders land in $TG_TMP. The copy's
# install-deps.sh is a stub that must not run: TG_TUNNELGW skips installing and building.
src=$TG_TMP/src
mkdir -p "$src/contrib" "$TG_TMP/home"
cp "$top_srcdir/contrib/quickstart.sh" "$src/contrib/"
printf '#!/bin/sh\necho "install-deps.sh ran" >&2\nexit 1\n' >"$src/contrib/install-deps.sh"
chmod 755 "$src/contrib/quickstart.sh" "$src/contrib/install-deps.sh"

# quickstart NAME [VAR=VALUE...]: run the copy's quick start in the background with the built
# gateway, output in $TG_TMP/NAME.out and NAME.err, pid (the gateway's, once it starts) in
# $TG_LAST_PID.
quickstart() {
	local name=$1
	shift
	env HOME="$TG_TMP/home" TG_TUNNELGW="$TUNNELGW" "$@" "$src/contrib/quickstart.sh" \
		>"$TG_TMP/$name.out" 2>"$TG_TMP/$name.err" </dev/null &
	TG_LAST_PID=$!
	TG_PIDS="$TG_PIDS $TG_LAST_PID"
}

# banner PORT: print the first line a service on 127.0.0.1:PORT sends, within 10 seconds.
banner() {
	timeout 10 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1" && IFS= read -r l <&3 && printf "%s\n" "$l"' _ "$1"
}

# --- the demo and its ssh line ---------------------------------------------------------------

qs_port=$(free_port)
qs_api=$(free_port)
demo=$src/demo-$qs_port
quickstart qs1 TG_PORT="$qs_port" TG_API_PORT="$qs_api"
wait_for 10 grep -q ': ready' "$TG_TMP/qs1.err" || {
	cat "$TG_TMP/qs1.out" "$TG_TMP/qs1.err" >&2
	fail "the quick start's gateway did not become ready"
}
[ -f "$demo/tunnelgw.conf" ] || fail "no configuration in $demo"
ok "the quick start runs its demo gateway on TG_PORT=$qs_port, configured in demo-$qs_port"

line=$(sed -n 's/^ *\(ssh -p .*\)$/\1/p' "$TG_TMP/qs1.out")
[ -n "$line" ] || fail "no ssh line in: $(cat "$TG_TMP/qs1.out")"
if (: </dev/tcp/127.0.0.1/22) 2>/dev/null; then
	target=22
else
	target=$qs_port
fi
contains "$line" " -R 0:localhost:$target " \
	"the ssh line forwards to port $target (22 when something listens there, else the gateway's own)"

# The line as printed, with options that keep ssh off the user's files and prompts.
read -ra words <<<"$line"
ssh -F /dev/null -o UserKnownHostsFile=/dev/null -o BatchMode=yes -o IdentitiesOnly=yes \
	-o ConnectTimeout=10 "${words[@]:1}" >"$TG_TMP/try.out" 2>"$TG_TMP/try.err" </dev/null &
TG_PIDS="$TG_PIDS $!"
public=$(allocated try)
wait_for 5 grep -q "^Forwarding  tcp://localhost:$public" "$TG_TMP/try.out" ||
	fail "banner: $(cat "$TG_TMP/try.out" "$TG_TMP/try.err")"
# reaches PORT: does the public PORT lead to the target: the gateway's SSH banner comes back,
# or, toward port 22, whose service need not speak first, a connection opens.
reaches() {
	if [ "$target" = 22 ]; then
		timeout 10 bash -c ': <>"/dev/tcp/127.0.0.1/$1"' _ "$1"
	else
		[[ "$(banner "$1")" == SSH-2.0-* ]]
	fi
}
reaches "$public" || fail "public port $public does not lead to port $target"
if [ "$target" = 22 ]; then
	ok "the printed ssh line works: public port $public takes connections (toward port 22)"
else
	ok "the printed ssh line works: public port $public answers with the gateway's SSH banner"
fi

# The dashboard line: its address serves the dashboard, and the key printed signs in.
dash=$(sed -n 's|^The dashboard is at \(http://127.0.0.1:[0-9]*/\) .*|\1|p' "$TG_TMP/qs1.out")
[ "$dash" = "http://127.0.0.1:$qs_api/" ] || fail "no dashboard line in: $(cat "$TG_TMP/qs1.out")"
key=$(grep -o 'tgwk_[A-Za-z0-9_-]*' "$TG_TMP/qs1.out")
[ "$key" = "$(cat "$demo/operator.apikey")" ] && [ "$(stat -c %a "$demo/operator.apikey")" = 600 ] ||
	fail "the printed key is not the one kept in $demo/operator.apikey, mode 600"
curl -sf "$dash" | grep -q 'app.js' || fail "$dash does not serve the dashboard"
curl -sf -H "Authorization: Bearer $key" "${dash}api/v1/status" | grep -q '"role":"operator"' ||
	fail "the printed key does not sign in as the operator"
ok "the quick start prints the dashboard's address and an operator API key that signs in"

# --- a second run -------------------------------------------------------------------------------

before=$(sha256sum "$demo/tunnelgw.conf" "$demo/authorized_keys")
started=$SECONDS
expect_status 1 env HOME="$TG_TMP/home" TG_TUNNELGW="$TUNNELGW" TG_PORT="$qs_port" \
	timeout 30 "$src/contrib/quickstart.sh"
[ $((SECONDS - started)) -le 5 ] || fail "the second run took $((SECONDS - started)) s to refuse"
[ -z "$TG_OUT" ] || fail "the second run printed: $TG_OUT"
[ "$(printf '%s\n' "$TG_ERR" | wc -l)" -eq 1 ] || fail "more than one line: $TG_ERR"
contains "$TG_ERR" "port $qs_port is in use" "a second run on the same port refuses at once, in one line, before any banner"
contains "$TG_ERR" "TG_PORT=" "the refusal says how to pick another port (TG_PORT)"
[ "$(sha256sum "$demo/tunnelgw.conf" "$demo/authorized_keys")" = "$before" ] ||
	fail "the second run changed the running demo's configuration"
reaches "$public" || fail "the first demo stopped working after the second run"

# Another port: a demo of its own, the running one's files untouched.
qs_port2=$(free_port)
quickstart qs2 TG_PORT="$qs_port2" TG_API_PORT="$(free_port)"
second=$TG_LAST_PID
wait_for 10 grep -q ': ready' "$TG_TMP/qs2.err" || fail "the demo on TG_PORT=$qs_port2 did not start: $(cat "$TG_TMP/qs2.err")"
[ "$(sha256sum "$demo/tunnelgw.conf" "$demo/authorized_keys")" = "$before" ] ||
	fail "the run with TG_PORT=$qs_port2 changed the first demo's configuration"
grep -q "127.0.0.1:$qs_port2" "$src/demo-$qs_port2/tunnelgw.conf" || fail "no demo-$qs_port2/tunnelgw.conf"
ok "a run with another TG_PORT gets a demo folder of its own and leaves the running demo's alone"
kill "$second"
wait "$second" 2>/dev/null || true

# --- a source folder configured in place ---------------------------------------------------------

touch "$src/config.status"
expect_status 1 env HOME="$TG_TMP/home" TG_PORT="$(free_port)" timeout 30 "$src/contrib/quickstart.sh"
[ "$(printf '%s\n' "$TG_ERR" | wc -l)" -eq 1 ] || fail "more than one line: $TG_ERR"
contains "$TG_ERR" "make distclean" "a source folder configured in place stops the quick start with one line naming 'make distclean'"
rm "$src/config.status"

# --- install-deps.sh, with stand-ins for dpkg-query, apt-get, systemctl and sudo ---------------------

fake=$TG_TMP/fake
log=$TG_TMP/fake.log
mkdir -p "$fake"
cat >"$fake/dpkg-query" <<'SH'
#!/bin/sh
# Nothing is installed.
exit 1
SH
cat >"$fake/apt-get" <<'SH'
#!/bin/sh
echo "apt-get $*" >>"$FAKE_LOG"
SH
cat >"$fake/systemctl" <<'SH'
#!/bin/sh
echo "systemctl $*" >>"$FAKE_LOG"
[ "$1" != is-enabled ] || { echo "$HAPROXY_STATE"; [ "$HAPROXY_STATE" = enabled ]; }
SH
cat >"$fake/sudo" <<'SH'
#!/bin/sh
echo "sudo $1" >>"$FAKE_LOG"
exec "$@"
SH
chmod 755 "$fake"/*

# deps ARGS...: run install-deps.sh with the stand-ins first in PATH, its calls in $log.
deps() {
	: >"$log"
	expect_status 0 env PATH="$fake:$PATH" FAKE_LOG="$log" HAPROXY_STATE="${HAPROXY_STATE:-disabled}" \
		"$top_srcdir/contrib/install-deps.sh" "$@"
}

deps --build
installed=$(grep '^apt-get install' "$log") || fail "--build installed nothing: $(cat "$log")"
case "$installed" in *" haproxy"* | *" check"* | *" python3"* | *" sqlite3"*) fail "--build installs test packages: $installed" ;; esac
contains "$installed" " libssh-dev" "--build installs the build dependencies"
contains "$installed" " openssh-client" "--build installs openssh-client (ssh-keygen for the demo key) and none of the test set"

deps
announced=$TG_OUT
installed=$(grep '^apt-get install' "$log")
case "$installed" in *" haproxy"*) ;; *) fail "without arguments, no haproxy: $installed" ;; esac
grep -q '^systemctl disable .*haproxy.service' "$log" || fail "haproxy.service left enabled: $(cat "$log")"
[ "$(id -u)" -ne 0 ] || ! grep -q '^sudo' "$log" || fail "sudo used as root: $(cat "$log")"
HAPROXY_STATE=enabled deps
! grep -q '^systemctl disable' "$log" || fail "disabled a haproxy.service that was enabled before: $(cat "$log")"
contains "$announced" "disabled haproxy.service" \
	"without arguments the test set is installed too, and a newly installed haproxy's service is stopped and disabled, unless it was enabled before"

# As a user without sudo: a PATH with what the script needs, but no sudo. The script runs from
# a copy that user can reach (the source folder may be in a home folder closed to others).
nosudo=$TG_TMP/nosudo
mkdir -p "$nosudo"
cp "$fake/dpkg-query" "$top_srcdir/contrib/install-deps.sh" "$nosudo/"
for tool in grep id env; do
	ln -s "$(command -v "$tool")" "$nosudo/$tool"
done
chmod 711 "$TG_TMP"
chmod 755 "$nosudo" "$nosudo/install-deps.sh"
if [ "$(id -u)" -eq 0 ]; then
	as_user="setpriv --reuid=nobody --regid=nogroup --clear-groups"
else
	as_user=""
fi
# shellcheck disable=SC2086
expect_status 1 $as_user env -C / PATH="$nosudo" "$nosudo/install-deps.sh"
[ "$(printf '%s\n' "$TG_ERR" | wc -l)" -eq 1 ] || fail "more than one line: $TG_ERR"
contains "$TG_ERR" "run as root, or install sudo" "as a user without sudo, install-deps.sh exits 1 with one line saying what to do"

done_testing
