# tunnelgw: the HTTP API's first resources (status, tunnels, accounts, members): bearer API
# keys, roles and scopes, problem documents, the failure limit, and HTTPS with a certificate
# made here.
. "$(dirname "$0")/lib.sh"
need_tool curl "curl"
need_tool openssl "openssl"

API_PORT=$(free_port)
gw_setup 'port_range = "25120-25129";' 'database = "state.db";' "api_listen = \"127.0.0.1:$API_PORT\";"
U="http://127.0.0.1:$API_PORT/api/v1"
: >"$TG_TMP/authorized_keys"	# the client's key is in the store, for account team
stop_gw
start_gw "$TG_TMP/gw.conf"
start_service echo
svc=$TG_SVC
log_has "serving the API on http://127.0.0.1:$API_PORT/api/v1/" "the log says where the API is served"

ctl account add team
ctl account add other
ctl member add team viewer1 --role viewer
ctl key add team "$(cat "$TG_TMP/client.pub")"
op=$(ctl apikey create --operator 2>/dev/null)
vk=$(ctl apikey create team viewer1 2>/dev/null)

# api GET PATH [KEY] [CURL-ARGS...]: status code to $TG_CODE, body to $TG_OUT, headers to $TG_HDR.
api() {
	local path=$1 key=${2:-} auth=()
	shift 2 || shift $#
	[ -n "$key" ] && auth=(-H "Authorization: Bearer $key")
	TG_CODE=$(curl -s -o "$TG_TMP/api.body" -D "$TG_TMP/api.hdr" -w '%{http_code}' "${auth[@]}" "$@" "$U/$path")
	TG_OUT=$(cat "$TG_TMP/api.body")
	TG_HDR=$(cat "$TG_TMP/api.hdr")
}

# jq_ EXPR: evaluate a Python expression on the last body, parsed as j.
jq_() {
	python3 -c "import json,sys; j=json.load(open(sys.argv[1])); print($1)" "$TG_TMP/api.body"
}

# problem CODE WHAT: the last answer is a problem document with this status.
problem() {
	[ "$TG_CODE" = "$1" ] || fail "$2: HTTP $TG_CODE, not $1: $TG_OUT"
	grep -qi '^content-type: application/problem+json' <<<"$TG_HDR" || fail "$2: not a problem document: $TG_HDR"
	[ "$(jq_ 'j["status"]')" = "$1" ] || fail "$2: status in the body: $TG_OUT"
	ok "$2"
}

api status
problem 401 "no Authorization header: 401, a problem document"
grep -qi '^www-authenticate: Bearer' <<<"$TG_HDR" || fail "no WWW-Authenticate: $TG_HDR"
contains "$(jq_ 'j["detail"]')" "Authorization: Bearer KEY" "the 401 says how to authenticate"
api status "tgwk_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
problem 401 "an unknown API key: 401"
contains "$(jq_ 'j["detail"]')" "unknown API key" "the 401 says the key is unknown"
api status "$op"
[ "$TG_CODE" = 200 ] || fail "status: $TG_CODE $TG_OUT"
[ "$(jq_ 'j["version"]')" = "$(sed -n 's/^AC_INIT(\[tunnelgw\], \[\([^]]*\)\].*/\1/p' "$top_srcdir/configure.ac")" ] ||
	fail "status version: $TG_OUT"
grep -qi '^content-type: application/json' <<<"$TG_HDR" || fail "status content type: $TG_HDR"
ok "GET status with the operator's key: 200, JSON with the version"
api nothing "$op"
problem 404 "an unknown resource: 404"
TG_CODE=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$API_PORT/")
[ "$TG_CODE" = 404 ] || fail "/: $TG_CODE"
ok "a path outside /api/v1/: 404"
api tunnels "$op" -X POST
problem 405 "POST on a resource that takes GET: 405"

# A live tunnel is listed, with its counters; a member sees its own account only.
start_ssh t1 -R "0:localhost:$svc" v2@127.0.0.1 tcp
tport=$(allocated t1)
$TG_PY stream "$tport" 100000 1 >/dev/null || fail "the tunnel carries no data"
api tunnels "$vk"
[ "$TG_CODE" = 200 ] || fail "tunnels: $TG_CODE $TG_OUT"
[ "$(jq_ 'j["tunnels"][0]["public_endpoint"]')" = "tcp://127.0.0.1:$tport" ] || fail "tunnels: $TG_OUT"
[ "$(jq_ 'j["tunnels"][0]["protocol"]')" = tcp ] || fail "tunnels: $TG_OUT"
[ "$(jq_ 'j["tunnels"][0]["bytes_in"] >= 100000')" = True ] || fail "tunnels: $TG_OUT"
ok "GET tunnels: a viewer sees its account's live tunnel with its endpoint and byte counts"
api "tunnels?account=other" "$vk"
problem 403 "a member asking for another account's tunnels: 403"
contains "$(jq_ 'j["detail"]')" "member 'viewer1' of account 'team' may not see account 'other'" "the 403 says who may not see what"
api "tunnels?account=other" "$op"
[ "$(jq_ 'len(j["tunnels"])')" = 0 ] || fail "operator, other: $TG_OUT"
ok "the operator filters tunnels by account"

api accounts "$vk"
[ "$(jq_ '[a["name"] for a in j["accounts"]]')" = "['team']" ] || fail "accounts (viewer): $TG_OUT"
ok "GET accounts: a member sees its own account"
api accounts "$op"
[ "$(jq_ '[a["name"] for a in j["accounts"]]')" = "['other', 'team']" ] || fail "accounts (operator): $TG_OUT"
[ "$(jq_ 'j["accounts"][1]["create_raw_tunnel"]')" = manager ] || fail "accounts: $TG_OUT"
ok "GET accounts: the operator sees every account, with its limits"
api members "$vk"
[ "$(jq_ 'sorted((m["name"], m["role"]) for m in j["members"])')" = "[('owner', 'owner'), ('viewer1', 'viewer')]" ] ||
	fail "members: $TG_OUT"
ok "GET members: a member sees its account's members and their roles"
api "members?account=nobody" "$op"
problem 404 "members of an unknown account: 404"

# A revoked key stops working at once.
ctl apikey revoke 2
api status "$vk"
problem 401 "a revoked API key: 401"
contains "$(jq_ 'j["detail"]')" "was revoked" "the 401 says the key was revoked"
grep -q "$vk" "$TG_TMP/gw.log" && fail "an API key appears in the log"
ok "no API key appears in the log"

# Failed attempts are limited per source: after the burst, 429 without looking at the key.
codes=""
for _ in $(seq 12); do
	codes="$codes $(curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer wrong' "$U/status")"
done
contains "$codes" "429" "repeated failures from one address get 429 ($codes)"
api status "$op"
problem 429 "while limited, even a good key waits"

# Plain HTTP only on loopback; HTTPS with a certificate made here.
write_conf "$TG_TMP/bad.conf" 'api_listen = "0.0.0.0:1";'
expect_status 1 "$TUNNELGW" -t -f "$TG_TMP/bad.conf"
contains "$TG_ERR" "is not a loopback address: plain HTTP is served only on loopback" "plain HTTP on a public address is refused by the configuration check"
write_conf "$TG_TMP/bad2.conf" 'api_listen = "127.0.0.1:1";' 'api_tls_cert = "c.pem";'
expect_status 1 "$TUNNELGW" -t -f "$TG_TMP/bad2.conf"
contains "$TG_ERR" "api_tls_cert and api_tls_key go together" "a certificate without its key is refused"
stop_gw
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$TG_TMP/key.pem" \
	-out "$TG_TMP/cert.pem" -days 2 -subj /CN=localhost \
	-addext subjectAltName=DNS:localhost,IP:127.0.0.1 2>/dev/null || fail "openssl req failed"
write_conf "$TG_TMP/gw.conf" 'workers = 1;' 'database = "state.db";' \
	"api_listen = \"0.0.0.0:$API_PORT\";" 'api_tls_cert = "cert.pem";' 'api_tls_key = "key.pem";'
start_gw "$TG_TMP/gw.conf"
op=$(ctl apikey create --operator 2>/dev/null)
out=$(curl -s --cacert "$TG_TMP/cert.pem" -H "Authorization: Bearer $op" "https://127.0.0.1:$API_PORT/api/v1/status")
contains "$out" '"version"' "HTTPS with the configured certificate, verified by the client, on 0.0.0.0"
curl -s -m 5 -o /dev/null "http://127.0.0.1:$API_PORT/api/v1/status" && fail "plain HTTP answered on the HTTPS port"
ok "plain HTTP gets no answer on the HTTPS port"
gw_alive "the HTTPS checks"

done_testing
