# tunnelgw: tunnelgwctl's command dispatch, help and usage errors.
. "$(dirname "$0")/lib.sh"

write_conf "$TG_TMP/gw.conf"

expect_status 0 "$TUNNELGWCTL" --help
for cmd in "account add" "account list" "account del" "token create" "token list" \
	"token revoke" "key add" "key list" "key del" "address reserve" "address list" \
	"address release" "tunnels"; do
	contains "$TG_OUT" "  $cmd" "--help lists '$cmd'"
done

expect_status 1 "$TUNNELGWCTL" -f "$TG_TMP/gw.conf" frobnicate
contains "$TG_ERR" "tunnelgwctl: unknown command 'frobnicate'" "an unknown command exits 1"

expect_status 1 "$TUNNELGWCTL" -f "$TG_TMP/gw.conf" account add
contains "$TG_ERR" "usage: tunnelgwctl account add NAME" "a command without its arguments prints its usage"

expect_status 1 "$TUNNELGWCTL" -f "$TG_TMP/nonexistent.conf" account list
contains "$TG_ERR" "nonexistent.conf: cannot open" "a missing configuration is a clear error"

expect_status 0 "$TUNNELGWCTL" -V
contains "$TG_OUT" "tunnelgwctl " "-V prints the version"

done_testing
