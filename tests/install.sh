# tunnelgw: make install lays files out as the FHS and Debian expect: programs, man pages,
# the configuration and its example in $(sysconfdir)/tunnelgw, and a starting configuration
# whose state (host keys, database) and control socket live under $(localstatedir) and
# $(runstatedir), not beside it. A second install keeps an operator's edited configuration.
. "$(dirname "$0")/lib.sh"

root=$TG_TMP/root
make -s -C "$top_builddir" install DESTDIR="$root" >"$TG_TMP/install.out" 2>&1 ||
	fail "make install failed: $(cat "$TG_TMP/install.out")"
conf=$(find "$root" -path '*/tunnelgw/tunnelgw.conf' | head -1)
[ -n "$conf" ] || fail "no tunnelgw/tunnelgw.conf installed: $(cd "$root" && find . -type f)"
ok "the configuration is installed as ${conf#"$root"}"
[ -f "$(dirname "$conf")/tunnelgw.conf.example" ] || fail "the example is not beside it"
ok "the example configuration is beside it"
[ -z "$(find "$root" -name tunnelgw.conf -not -path '*/tunnelgw/tunnelgw.conf')" ] ||
	fail "a tunnelgw.conf outside a tunnelgw folder was installed"
ok "nothing is installed as a bare \$(sysconfdir)/tunnelgw.conf"
for f in tunnelgw tunnelgwctl tunnelgw-udp tunnelgw.8 tunnelgw.conf.5 tunnelgwctl.8 tunnelgw-udp.1; do
	[ -n "$(find "$root" -name "$f" -type f)" ] || fail "$f is not installed"
done
ok "the programs and man pages are installed"

expect_status 0 "$TUNNELGW" -T -f "$conf"
for key in database control_socket; do
	line=$(printf '%s\n' "$TG_OUT" | grep "^$key = ")
	case "$line" in
	*"$(dirname "${conf#"$root"}")"*) fail "$key is kept beside the configuration: $line" ;;
	esac
done
contains "$(printf '%s\n' "$TG_OUT" | grep '^database = ')" "/lib/tunnelgw/tunnelgw.db" \
	"the database goes to \$(localstatedir)/lib/tunnelgw"
contains "$(printf '%s\n' "$TG_OUT" | grep '^host_keys = ')" "/lib/tunnelgw/ssh_host_ed25519_key" \
	"the host keys too"
contains "$(printf '%s\n' "$TG_OUT" | grep '^control_socket = ')" "/tunnelgw/tunnelgw.sock" \
	"the control socket goes to \$(runstatedir)/tunnelgw"
contains "$("$TUNNELGW" -h 2>&1 || true)" "(default ${conf#"$root"})" \
	"tunnelgw reads that file when no -f is given"

echo '# edited by the operator' >>"$conf"
make -s -C "$top_builddir" install DESTDIR="$root" >"$TG_TMP/install.out" 2>&1 ||
	fail "the second make install failed: $(cat "$TG_TMP/install.out")"
grep -q '^# edited by the operator' "$conf" || fail "make install replaced an edited configuration"
ok "a second make install keeps the operator's configuration"
done_testing
