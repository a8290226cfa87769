#!/usr/bin/env bash
# tunnelgw: the Debian package scenario. Builds the package from a copy of this tree
# (dpkg-buildpackage, then lintian), installs it with apt into a fresh Debian 12 root made by
# debootstrap --variant=minbase, checks what it installed and that nothing started, runs
# tunnelgw -t, starts the daemon as the tunnelgw user, carries bytes through an ssh -R tunnel
# from this machine, then removes the package (the configuration and state stay) and purges
# it, and checks that the root's file list is the one it had before the install.
#
#   tests/package.sh         as root, with the Debian archive reachable (CI: .ci/run)
#
# Too heavy for make check (over a minute, and a minimal Debian system to download); CI runs it.
# Exit 0 when it passed, 1 when it failed, 77 when it cannot run here (not root, a tool
# missing, or the mirror unreachable), with one line saying why. .ci/run, which runs as root
# with the archive reachable, counts 77 as a failure.
#
# Environment: TG_PKG_MIRROR overrides the mirror read from the apt sources; TG_PKG_KEEP=1
# keeps the work folder (the built package, the logs; the root is removed all the same).
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
suite=bookworm
work=""
root=""
pids=""
checks=0
t0=$SECONDS
step_start=$SECONDS
step_name=""

# skip REASON: say why the scenario cannot run here, and exit 77.
skip() {
	echo "package.sh: SKIP: $*" >&2
	exit 77
}

# fail MESSAGE: report a failed check and stop (the trap cleans up).
fail() {
	echo "FAIL: package: $*" >&2
	exit 1
}

# ok MESSAGE: count and report a passed check.
ok() {
	checks=$((checks + 1))
	echo "ok $checks - $*"
}

# step NAME: print the time the previous step took, and the name of the next one.
step() {
	if [ -n "$step_name" ]; then
		echo "   ($((SECONDS - step_start)) s)"
	fi
	step_name=$1
	step_start=$SECONDS
	echo "== $*"
}

# mounts_under DIR: print the mount points at or below DIR, deepest first.
mounts_under() {
	awk -v d="$1" '$2 == d || index($2, d "/") == 1 { print $2 }' /proc/self/mounts | sort -r
}

# cleanup: stop what this script started, unmount the root's /proc, remove the root.
cleanup() {
	local rc=$? pid m
	for pid in $pids; do
		kill "$pid" 2>/dev/null || true
	done
	for pid in $pids; do
		wait "$pid" 2>/dev/null || true
	done
	if [ -n "$root" ] && [ -d "$root" ]; then
		# Anything still running inside the root (a daemon a failed step left behind).
		for pid in $(procs_in_root); do
			kill -KILL "$pid" 2>/dev/null || true
		done
		for m in $(mounts_under "$root"); do
			umount "$m" 2>/dev/null || umount -l "$m" || true
		done
		if [ -n "$(mounts_under "$root")" ]; then
			echo "package.sh: $root still has mounts; not removing it" >&2
			rc=1
		else
			rm -rf --one-file-system "$root"
		fi
	fi
	if [ -n "$work" ] && [ -d "$work" ]; then
		if [ "${TG_PKG_KEEP:-0}" = 1 ] || [ "$rc" -ne 0 ]; then
			echo "package.sh: logs and the package kept in $work" >&2
		else
			rm -rf "$work"
		fi
	fi
	exit "$rc"
}

# procs_in_root: print the pids of the processes whose root folder is the test root.
procs_in_root() {
	local p
	for p in /proc/[0-9]*; do
		if [ "$(readlink "$p/root" 2>/dev/null)" = "$root" ]; then
			echo "${p#/proc/}"
		fi
	done
}

# What commands run in the root start with: a clean environment; then, for the tunnelgw
# user and group, as the unit runs the daemon.
root_env=(/usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8
	DEBIAN_FRONTEND=noninteractive)
as_user=(setpriv --reuid=tunnelgw --regid=tunnelgw --init-groups)

# in_root CMD...: run CMD in the root as root.
in_root() {
	chroot "$root" "${root_env[@]}" "$@"
}

# as_tunnelgw CMD...: run CMD in the root as the tunnelgw user and group.
as_tunnelgw() {
	chroot "$root" "${root_env[@]}" "${as_user[@]}" "$@"
}

# apt_mirror: print the first Debian archive URL for bookworm in this machine's apt sources
# (one-line sources.list entries and deb822 .sources files), without security or updates.
apt_mirror() {
	local f
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
		[ -f "$f" ] || continue
		# deb [options] URL SUITE COMPONENTS...
		awk -v s="$suite" '$1 == "deb" {
			i = 2
			if ($i ~ /^\[/) { while ($i !~ /\]$/) i++; i++ }
			if ($(i + 1) == s) { print $i; exit }
		}' "$f"
	done | head -n 1 | grep . && return 0
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -f "$f" ] || continue
		# Stanzas separated by blank lines; the first whose Types has deb and Suites the suite.
		awk -v s="$suite" '
			function flush() {
				if (types ~ /(^| )deb( |$)/ && (" " suites " ") ~ (" " s " ") && uris != "") {
					split(uris, u, " "); print u[1]; found = 1; exit
				}
				types = suites = uris = ""
			}
			/^[ \t]*#/ { next }
			/^[ \t]*$/ { flush(); next }
			tolower($1) == "types:" { $1 = ""; types = $0; sub(/^ +/, "", types) }
			tolower($1) == "suites:" { $1 = ""; suites = $0; sub(/^ +/, "", suites) }
			tolower($1) == "uris:" { $1 = ""; uris = $0; sub(/^ +/, "", uris) }
			END { if (!found) flush() }' "$f"
	done | head -n 1 | grep .
}

# file_list FILE: the sorted list of paths in the root, except apt's and dpkg's bookkeeping
# (caches, package lists, the dpkg database, their logs), the pseudo file systems and /tmp,
# and what adding a system user leaves: backups of the user and group files, and adduser's
# lock file in /run (a tmpfs on a booted system).
file_list() {
	(cd "$root" && find . -xdev -mindepth 1 \
		\( -path ./proc -o -path ./sys -o -path ./dev -o -path ./tmp -o -path ./var/cache/apt \
		-o -path ./var/cache/debconf -o -path ./var/lib/apt -o -path ./var/lib/dpkg \
		-o -path ./var/log/apt \) -prune -o -print) |
		grep -v -E '^\./(var/log/(dpkg|alternatives)\.log|etc/(passwd|group|shadow|gshadow)-|etc/ld\.so\.cache|run/adduser)$' |
		sort >"$1"
}

# wait_for SECONDS CMD...: poll CMD every 100 ms until it succeeds or time runs out.
wait_for() {
	local limit=$(($1 * 10)) i=0
	shift
	while ! "$@" >/dev/null 2>&1; do
		i=$((i + 1))
		[ "$i" -lt "$limit" ] || return 1
		sleep 0.1
	done
}

# free_port: a TCP port on 127.0.0.1 that nothing listens on right now.
free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# copy_source DEST: the tracked and untracked-but-not-ignored files of this tree (no build
# folders, no build products), or, outside a git clone, the tree without its build folders.
copy_source() {
	local f
	mkdir -p "$1"
	if git -C "$top" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
		(cd "$top" && git ls-files -z -c -o --exclude-standard) |
			while IFS= read -r -d '' f; do
				# Deleted but still in the index: skip.
				if [ -e "$top/$f" ] || [ -L "$top/$f" ]; then
					printf '%s\0' "$f"
				fi
			done | tar -C "$top" --null -T - -cf - | tar -C "$1" -xf -
	else
		tar -C "$top" --exclude='./build*' --exclude=./debian/tunnelgw --exclude=./debian/.debhelper \
			--exclude='./demo*' -cf - . | tar -C "$1" -xf -
	fi
}

# --- can it run here ----------------------------------------------------------------------
[ "$(id -u)" -eq 0 ] || skip "needs root (debootstrap, chroot, mount); run it as root"
for tool in debootstrap dpkg-buildpackage dh lintian fakeroot chroot setpriv ssh ssh-keygen python3 wget; do
	command -v "$tool" >/dev/null 2>&1 ||
		skip "$tool is not installed (contrib/install-deps.sh --deb installs what this needs)"
done
mirror=${TG_PKG_MIRROR:-$(apt_mirror || true)}
[ -n "$mirror" ] || skip "no Debian mirror for $suite in /etc/apt/sources.list or /etc/apt/sources.list.d/ (set TG_PKG_MIRROR)"
wget -q -T 15 -t 2 -O /dev/null "$mirror/dists/$suite/Release" ||
	skip "the mirror $mirror is unreachable ($mirror/dists/$suite/Release)"

trap cleanup EXIT
trap 'exit 130' INT TERM
work=$(mktemp -d /var/tmp/tg-package-XXXXXX)
version=$(sed -n '/^AC_INIT/{s/^[^,]*, *\[//;s/\].*//;p;}' "$top/configure.ac")
arch=$(dpkg --print-architecture)
echo "package.sh: tunnelgw $version, $arch, mirror $mirror, work folder $work"

# --- build --------------------------------------------------------------------------------
step "build: dpkg-buildpackage -us -uc -b in a copy of the tree"
src=$work/src/tunnelgw-$version
copy_source "$src"
if ! (cd "$src" && dpkg-buildpackage -us -uc -b) >"$work/build.log" 2>&1; then
	tail -n 60 "$work/build.log" >&2
	fail "dpkg-buildpackage failed (log: $work/build.log)"
fi
deb=$work/src/tunnelgw_${version}_$arch.deb
[ -f "$deb" ] || fail "no $deb after the build: $(ls "$work/src")"
ok "dpkg-buildpackage built $(basename "$deb") ($(grep -c '^PASS: ' "$work/build.log" || true) unit tests passed in the build)"

step "lintian"
lintian --fail-on error "$work/src/tunnelgw_${version}_$arch.changes" >"$work/lintian.log" 2>&1 ||
	{ cat "$work/lintian.log" >&2; fail "lintian reports errors"; }
grep -v 'running with root privileges' "$work/lintian.log" || echo "   (lintian: no tags)"
ok "lintian: no errors"

# What the package must not start: its postinst enables the unit only where it was enabled
# before (an upgrade), calls no systemctl start or enable, and starts the unit only through
# deb-systemd-invoke, which leaves disabled units alone. (The install below checks that the
# unit is not enabled and nothing runs.)
dpkg-deb -e "$deb" "$work/control"
! grep -Eq 'systemctl [^|]*(start|enable)' "$work/control/postinst" || fail "postinst runs systemctl start or enable"
enables=$(grep -c 'deb-systemd-helper enable' "$work/control/postinst" || true)
guarded=$(grep -B2 'deb-systemd-helper enable' "$work/control/postinst" | grep -c 'was-enabled' || true)
[ "$enables" = "$guarded" ] || fail "postinst enables the unit where it was not enabled before"
ok "postinst enables nothing new, and starts only through deb-systemd-invoke"

# --- a fresh Debian 12 root ---------------------------------------------------------------
step "debootstrap --variant=minbase $suite"
root=$work/root
if ! debootstrap --variant=minbase "$suite" "$root" "$mirror" >"$work/debootstrap.log" 2>&1; then
	tail -n 30 "$work/debootstrap.log" >&2
	fail "debootstrap failed (log: $work/debootstrap.log)"
fi
mount -t proc proc "$root/proc"
cp -L /etc/resolv.conf "$root/etc/resolv.conf"
# Nothing a package installs may start a service in this root.
printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
chmod 755 "$root/usr/sbin/policy-rc.d"
in_root apt-get update -q >"$work/apt-update.log" 2>&1 ||
	{ cat "$work/apt-update.log" >&2; fail "apt-get update in the root failed"; }
ok "a minbase $suite root in $root"
file_list "$work/files-before.txt"

# --- install ------------------------------------------------------------------------------
step "apt-get install ./$(basename "$deb") in the root"
cp "$deb" "$root/tmp/"
if ! in_root sh -c "cd /tmp && apt-get install -y -q --no-install-recommends ./$(basename "$deb")" \
	>"$work/install.log" 2>&1; then
	cat "$work/install.log" >&2
	fail "apt-get install of the package failed"
fi
rm -f "$root/tmp/$(basename "$deb")"
ok "apt installs the package and its dependencies"

for f in /usr/sbin/tunnelgw /usr/bin/tunnelgwctl /usr/bin/tunnelgw-udp \
	/usr/share/man/man8/tunnelgw.8.gz /usr/share/man/man1/tunnelgw-udp.1.gz \
	/usr/share/man/man8/tunnelgwctl.8.gz /usr/share/man/man5/tunnelgw.conf.5.gz \
	/lib/systemd/system/tunnelgw.service /etc/logrotate.d/tunnelgw \
	/etc/tunnelgw/tunnelgw.conf /etc/tunnelgw/tunnelgw.conf.example; do
	[ -f "$root$f" ] || fail "$f is not installed"
done
ok "programs, man pages, unit, logrotate rules, configuration and example are in place"
# shellcheck disable=SC2016 # a dpkg-query format, not a shell expansion
conffiles=$(in_root dpkg-query -W -f='${Conffiles}\n' tunnelgw)
case "$conffiles" in
*"/etc/tunnelgw/tunnelgw.conf "*) ok "/etc/tunnelgw/tunnelgw.conf is a conffile" ;;
*) fail "/etc/tunnelgw/tunnelgw.conf is not a conffile: $conffiles" ;;
esac
grep -q '^ExecStart=/usr/sbin/tunnelgw -f /etc/tunnelgw/tunnelgw.conf$' "$root/lib/systemd/system/tunnelgw.service" ||
	fail "the unit's ExecStart: $(grep ExecStart "$root/lib/systemd/system/tunnelgw.service")"
ok "the unit runs /usr/sbin/tunnelgw -f /etc/tunnelgw/tunnelgw.conf"

pw=$(in_root getent passwd tunnelgw) || fail "no tunnelgw user"
IFS=: read -r _ _ uid gid _ home shell <<<"$pw"
if [ "$home" != /var/lib/tunnelgw ] || [ "$shell" != /usr/sbin/nologin ] || [ "$uid" -ge 1000 ]; then
	fail "the tunnelgw user: $pw"
fi
[ "$(in_root getent group tunnelgw | cut -d: -f3)" = "$gid" ] || fail "tunnelgw's group is not tunnelgw"
ok "system user and group tunnelgw (uid $uid), home /var/lib/tunnelgw, shell nologin"
[ "$(in_root stat -c '%a %U %G' /var/lib/tunnelgw)" = "700 tunnelgw tunnelgw" ] ||
	fail "/var/lib/tunnelgw: $(in_root stat -c '%a %U %G' /var/lib/tunnelgw)"
ok "/var/lib/tunnelgw is 0700 tunnelgw:tunnelgw"
[ "$(in_root stat -c '%a %U %G %s' /etc/tunnelgw/authorized_keys)" = "640 root tunnelgw 0" ] ||
	fail "/etc/tunnelgw/authorized_keys: $(in_root stat -c '%a %U %G %s' /etc/tunnelgw/authorized_keys)"
ok "/etc/tunnelgw/authorized_keys is empty, 0640 root:tunnelgw"

[ -z "$(procs_in_root)" ] || fail "something runs in the root after the install: $(procs_in_root)"
[ ! -e "$root/etc/systemd/system/multi-user.target.wants/tunnelgw.service" ] ||
	fail "the unit is enabled"
ok "nothing started, and the unit is not enabled"

# --- run it -------------------------------------------------------------------------------
step "tunnelgw -t, then the daemon as the tunnelgw user, and an ssh -R tunnel through it"
in_root tunnelgw -t >"$work/t.out" 2>&1 || { cat "$work/t.out" >&2; fail "tunnelgw -t on the installed configuration"; }
ok "tunnelgw -t accepts the installed configuration (read from /etc/tunnelgw/tunnelgw.conf without -f)"

port=$(free_port)
conf=$root/etc/tunnelgw/tunnelgw.conf
sed -i -e "s|^listen *=.*|listen = [ \"127.0.0.1:$port\" ];|" \
	-e 's|^public_host *=.*|public_host = "127.0.0.1";|' \
	-e 's|^public_bind *=.*|public_bind = "127.0.0.1";|' "$conf"
echo 'events_log = "/var/log/tunnelgw/events.jsonl";' >>"$conf"
in_root tunnelgw -T -f /etc/tunnelgw/tunnelgw.conf >"$work/T.out" 2>&1 ||
	{ cat "$work/T.out" >&2; fail "tunnelgw -T"; }
for want in "listen = [ \"127.0.0.1:$port\" ]" 'public_bind = "127.0.0.1"' \
	'database = "/var/lib/tunnelgw/tunnelgw.db"' 'control_socket = "/run/tunnelgw/tunnelgw.sock"' \
	'authorized_keys = "/etc/tunnelgw/authorized_keys"' \
	'events_log = "/var/log/tunnelgw/events.jsonl"'; do
	grep -qF "$want" "$work/T.out" || fail "tunnelgw -T lacks '$want': $(cat "$work/T.out")"
done
ok "listen 127.0.0.1:$port, public_bind 127.0.0.1, an events log; state, socket and keys file at their FHS paths"

ssh-keygen -q -t ed25519 -N "" -C tunnelgw-package-test -f "$work/client"
cat "$work/client.pub" >"$root/etc/tunnelgw/authorized_keys"
# What the unit's RuntimeDirectory= and LogsDirectory= make under systemd, which this root
# lacks.
in_root install -d -o tunnelgw -g tunnelgw -m 0700 /run/tunnelgw
in_root install -d -o tunnelgw -g tunnelgw -m 0750 /var/log/tunnelgw
as_tunnelgw tunnelgw -t -f /etc/tunnelgw/tunnelgw.conf >"$work/t2.out" 2>&1 ||
	{ cat "$work/t2.out" >&2; fail "tunnelgw -t as the tunnelgw user, with a key"; }
ok "tunnelgw -t as the tunnelgw user reads the configuration and the keys file"

# A simple command, not a function, so that $! is the daemon itself (chroot, env and setpriv
# each exec the next).
chroot "$root" "${root_env[@]}" "${as_user[@]}" tunnelgw -f /etc/tunnelgw/tunnelgw.conf -v \
	>"$work/gw.log" 2>&1 &
gw_pid=$!
pids="$pids $gw_pid"
wait_for 20 grep -q ': ready' "$work/gw.log" || { cat "$work/gw.log" >&2; fail "tunnelgw did not become ready"; }
# The real, effective, saved and file-system uids and gids (the daemon is not dumpable, so
# /proc/PID itself belongs to root).
ids=$(awk '$1 == "Uid:" || $1 == "Gid:" { print $2, $3, $4, $5 }' "/proc/$gw_pid/status" | tr '\n' ' ')
[ "$ids" = "$uid $uid $uid $uid $gid $gid $gid $gid " ] || fail "the daemon runs with uids and gids $ids, not $uid and $gid"
ok "the daemon runs as tunnelgw and is ready"
[ "$(in_root stat -c '%a %U' /var/lib/tunnelgw/ssh_host_ed25519_key)" = "600 tunnelgw" ] ||
	fail "host key: $(in_root ls -l /var/lib/tunnelgw)"
[ -S "$root/run/tunnelgw/tunnelgw.sock" ] || fail "no control socket in /run/tunnelgw: $(ls -la "$root/run/tunnelgw")"
ok "it made its host keys (0600) in /var/lib/tunnelgw and its control socket in /run/tunnelgw"

python3 "$top/tests/tg.py" echo "$work/echo.port" >"$work/echo.log" 2>&1 &
pids="$pids $!"
wait_for 10 test -s "$work/echo.port" || fail "the echo service did not start"
ssh -F /dev/null -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o BatchMode=yes \
	-o IdentitiesOnly=yes -o ConnectTimeout=10 -i "$work/client" -p "$port" \
	-R "0:localhost:$(cat "$work/echo.port")" v2@127.0.0.1 tcp \
	>"$work/ssh.out" 2>"$work/ssh.err" </dev/null &
ssh_pid=$!
pids="$pids $ssh_pid"
wait_for 20 grep -q '^Allocated port' "$work/ssh.err" ||
	{ cat "$work/ssh.err" "$work/gw.log" >&2; fail "ssh -R got no port"; }
public=$(sed -n 's/^Allocated port \([0-9]*\) .*/\1/p' "$work/ssh.err" | head -n 1)
ok "ssh -R through the installed gateway: public port $public"
python3 "$top/tests/tg.py" stream "$public" 1000000 2 || fail "bytes through the tunnel"
ok "1 MB each way through two public connections arrives intact (sha256)"
tunnels=$(as_tunnelgw tunnelgwctl tunnels 2>&1) || fail "tunnelgwctl tunnels: $tunnels"
case "$tunnels" in
*"127.0.0.1:$public"*) ok "tunnelgwctl tunnels (default configuration, as tunnelgw) lists the tunnel" ;;
*) fail "tunnelgwctl tunnels does not list port $public: $tunnels" ;;
esac

kill "$ssh_pid"
wait "$ssh_pid" 2>/dev/null || true
kill -TERM "$gw_pid"
rc=0
wait "$gw_pid" || rc=$?
[ "$rc" -eq 0 ] || { cat "$work/gw.log" >&2; fail "tunnelgw exited $rc after SIGTERM"; }
ok "the daemon stops cleanly on SIGTERM"
[ -z "$(procs_in_root)" ] || fail "still running in the root: $(procs_in_root)"
grep -q '"event":"tunnel_opened"' "$root/var/log/tunnelgw/events.jsonl" ||
	fail "no tunnel_opened in /var/log/tunnelgw/events.jsonl"
ok "the events log in /var/log/tunnelgw has the tunnel"

# --- remove, then purge -------------------------------------------------------------------
step "apt-get remove tunnelgw: the configuration and the state stay"
in_root apt-get remove -y -q tunnelgw >"$work/remove.log" 2>&1 || { cat "$work/remove.log" >&2; fail "apt-get remove"; }
[ ! -e "$root/usr/sbin/tunnelgw" ] || fail "/usr/sbin/tunnelgw is left after apt-get remove"
grep -q '^events_log' "$root/etc/tunnelgw/tunnelgw.conf" || fail "the edited configuration is gone after apt-get remove"
if [ ! -s "$root/etc/tunnelgw/authorized_keys" ] || [ ! -f "$root/var/lib/tunnelgw/ssh_host_ed25519_key" ]; then
	fail "the keys file or the host keys are gone after apt-get remove"
fi
ok "apt-get remove takes the programs and keeps the edited configuration, the keys file and the host keys"

step "apt-get purge tunnelgw, then autoremove its dependencies"
in_root apt-get purge -y -q tunnelgw >"$work/purge.log" 2>&1 || { cat "$work/purge.log" >&2; fail "apt-get purge"; }
in_root apt-get autoremove --purge -y -q >>"$work/purge.log" 2>&1 || { cat "$work/purge.log" >&2; fail "apt-get autoremove"; }
ok "apt-get purge -y tunnelgw, and apt-get autoremove --purge -y"
for f in /etc/tunnelgw /var/lib/tunnelgw /var/log/tunnelgw /run/tunnelgw /usr/sbin/tunnelgw \
	/usr/bin/tunnelgwctl /usr/bin/tunnelgw-udp /usr/share/man/man1/tunnelgw-udp.1.gz \
	/usr/share/man/man8/tunnelgw.8.gz /usr/share/man/man8/tunnelgwctl.8.gz \
	/usr/share/man/man5/tunnelgw.conf.5.gz /lib/systemd/system/tunnelgw.service \
	/etc/logrotate.d/tunnelgw /usr/share/doc/tunnelgw; do
	if [ -e "$root$f" ] || [ -L "$root$f" ]; then
		fail "$f is left after the purge"
	fi
done
ok "no /etc/tunnelgw, state, logs, runtime folder, programs, man pages, unit or logrotate rules"
file_list "$work/files-after.txt"
if ! diff -u "$work/files-before.txt" "$work/files-after.txt" >"$work/files.diff"; then
	cat "$work/files.diff" >&2
	fail "the root's files differ from before the install (+ left behind, - removed)"
fi
ok "the root has exactly the files it had before the install ($(wc -l <"$work/files-after.txt") paths compared)"
if in_root getent passwd tunnelgw >/dev/null; then
	ok "the system user tunnelgw stays after the purge, as Debian usually keeps system users"
fi

step "done"
echo "package.sh: $checks checks passed in $((SECONDS - t0)) s"
