# tunnelgw: the command line of the daemon: -V, -t, -T and their exit codes.
. "$(dirname "$0")/lib.sh"

cp "$top_srcdir/tunnelgw.conf.example" "$TG_TMP/example.conf"

expect_status 0 "$TUNNELGW" -V
contains "$TG_OUT" "tunnelgw " "-V prints the version"

expect_status 0 "$TUNNELGW" -t -f "$TG_TMP/example.conf"
[ -z "$TG_OUT" ] || fail "-t on a valid file printed on stdout"
contains "$TG_ERR" "warning: $TG_TMP/authorized_keys: cannot open: No such file or directory; no key can log in" \
	"-t on the example configuration exits 0, warning that no keys file exists yet"

ssh-keygen -q -t ed25519 -N "" -f "$TG_TMP/k"
{ echo "# keys"; cat "$TG_TMP/k.pub"; echo "ssh-ed25519 notbase64!"; } >"$TG_TMP/authorized_keys"
expect_status 1 "$TUNNELGW" -t -f "$TG_TMP/example.conf"
contains "$TG_ERR" "tunnelgw: $TG_TMP/authorized_keys:3: " "-t on a malformed key line exits 1 naming FILE:LINE"
head -2 "$TG_TMP/authorized_keys" >"$TG_TMP/ak" && mv "$TG_TMP/ak" "$TG_TMP/authorized_keys"
expect_status 0 "$TUNNELGW" -t -f "$TG_TMP/example.conf"
[ -z "$TG_OUT$TG_ERR" ] || fail "-t with a good keys file printed: $TG_OUT$TG_ERR"
ok "-t with a valid keys file exits 0 quietly"

printf 'listen = [ "127.0.0.1:2222" ];\n\nidle_timout = 5;\n' >"$TG_TMP/typo.conf"
expect_status 1 "$TUNNELGW" -t -f "$TG_TMP/typo.conf"
contains "$TG_ERR" "tunnelgw: $TG_TMP/typo.conf:3: unknown option 'idle_timout' (did you mean 'idle_timeout'?)" \
	"-t on a typo'd key exits 1 naming FILE:LINE and the key"

printf 'proxy_protocol = 7;\n' >"$TG_TMP/range.conf"
expect_status 1 "$TUNNELGW" -t -f "$TG_TMP/range.conf"
contains "$TG_ERR" "range.conf:1: option 'proxy_protocol' must be between 0 and 2, not 7" \
	"-t on an out-of-range value exits 1"

expect_status 1 "$TUNNELGW" -t -f "$TG_TMP/nonexistent.conf"
contains "$TG_ERR" "nonexistent.conf: cannot open: No such file or directory" "-t on a missing file exits 1"

expect_status 0 "$TUNNELGW" -T -f "$TG_TMP/example.conf"
names_T=$(printf '%s\n' "$TG_OUT" | sed -n 's/^\([a-z_]*\) = .*;$/\1/p' | sort)
names_example=$(sed -n 's/^\([a-z_]*\) = .*;$/\1/p' "$TG_TMP/example.conf" | sort)
[ -n "$names_T" ] && [ "$names_T" = "$names_example" ] || fail "-T lists: $names_T"
ok "-T lists every option of the example, each once"
for key in listen host_keys public_host public_bind port_range allow_requested_ports \
	authorized_keys database proxy_protocol idle_timeout events_log ciphers; do
	printf '%s\n' "$names_T" | grep -qx "$key" || fail "-T does not list contract key $key"
done
ok "-T lists every key of the contract"
contains "$TG_OUT" "authorized_keys = \"$(cd "$TG_TMP" && pwd -P)/authorized_keys\";" \
	"-T shows relative paths resolved against the file's folder"

# What -T prints is itself a valid configuration.
printf '%s\n' "$TG_OUT" >"$TG_TMP/printed.conf"
expect_status 0 "$TUNNELGW" -t -f "$TG_TMP/printed.conf"
ok "-T output passes -t"

expect_status 1 "$TUNNELGW" -x
contains "$TG_ERR" "usage: tunnelgw" "an unknown flag prints usage and exits 1"

expect_status 0 "$TUNNELGW" -h
contains "$TG_OUT" "-f FILE" "-h prints usage"

done_testing
