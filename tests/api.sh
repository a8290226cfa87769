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
[ "$(jq_ 'j["caller"]')" = "{'operator': True, 'account': None, 'member': None, 'role': 'operator'}" ] ||
	fail "status caller, operator: $TG_OUT"
api status "$vk"
[ "$(jq_ 'j["caller"]')" = "{'operator': False, 'account': 'team', 'member': 'viewer1', 'role': 'viewer'}" ] ||
	fail "status caller, member: $TG_OUT"
ok "GET status says who the key is: the operator, or member, account and role"
api nothing "$op"
problem 404 "an unknown resource: 404"
TG_CODE=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$API_PORT/nothing")
[ "$TG_CODE" = 404 ] || fail "/nothing: $TG_CODE"
ok "a path outside /api/v1/ that is no dashboard file: 404"
TG_CODE=$(curl -s -o "$TG_TMP/index.html" -D "$TG_TMP/index.hdr" -w '%{http_code}' "http://127.0.0.1:$API_PORT/")
[ "$TG_CODE" = 200 ] || fail "/: $TG_CODE"
grep -qi '^content-type: text/html' "$TG_TMP/index.hdr" || fail "/: $(cat "$TG_TMP/index.hdr")"
grep -qi "^content-security-policy: default-src 'none'; script-src 'self'; style-src 'self'" "$TG_TMP/index.hdr" ||
	fail "/: no strict CSP: $(cat "$TG_TMP/index.hdr")"
grep -q '<script type="module" src="app.js"></script>' "$TG_TMP/index.html" || fail "/: not the dashboard"
! grep -q '<script>' "$TG_TMP/index.html" || fail "/: inline script"
etag=$(sed -n 's/^[Ee][Tt][Aa][Gg]: *\([^[:space:]]*\).*/\1/p' "$TG_TMP/index.hdr")
TG_CODE=$(curl -s -o /dev/null -w '%{http_code}' -H "If-None-Match: $etag" "http://127.0.0.1:$API_PORT/")
[ "$TG_CODE" = 304 ] || fail "/ with its ETag: $TG_CODE"
TG_CODE=$(curl -s -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:$API_PORT/app.js")
[ "$TG_CODE" = 405 ] || fail "POST /app.js: $TG_CODE"
for f in app.js api.js dom.js app.css icon.svg; do
	curl -sf "http://127.0.0.1:$API_PORT/$f" | cmp -s - "$top_srcdir/web/$f" || fail "/$f is not web/$f"
done
ok "/ serves the dashboard without a key: its files as built, a strict CSP, ETag revalidation"
api status "$op" -X POST
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
contains "$(jq_ 'j["detail"]')" "member 'viewer1' of account 'team' may not act on account 'other'" "the 403 says who may not act on what"
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

# Writes: members, tokens, keys, API keys, addresses; each recorded as an audit event.
api members "$op" -X POST -H 'Content-Type: application/json' -d '{"account":"team","name":"dev1","role":"developer"}'
[ "$TG_CODE" = 201 ] || fail "POST members: $TG_CODE $TG_OUT"
[ "$(jq_ 'j["role"]')" = developer ] || fail "POST members: $TG_OUT"
ok "POST members adds a member: 201 with the member"
api members "$op" -X POST -H 'Content-Type: application/json' -d '{"account":"team","name":"dev1","role":"developer"}'
problem 409 "adding a member twice: 409"
api "members/dev1?account=team" "$op" -X PATCH -H 'Content-Type: application/json' -d '{"role":"manager"}'
[ "$TG_CODE" = 200 ] && [ "$(jq_ 'j["role"]')" = manager ] || fail "PATCH members: $TG_CODE $TG_OUT"
ok "PATCH members/NAME gives a role"
api members "$op" -X POST -H 'Content-Type: application/json' -d '{"account":"team","name":"x","role":"admin"}'
problem 422 "an unknown role: 422"
contains "$(jq_ 'j["detail"]')" "unknown role 'admin'" "the 422 names the role"
api tokens "$op" -X POST -H 'Content-Type: application/json' -d '{"account":"team","member":"dev1","expires_days":3}'
[ "$TG_CODE" = 201 ] || fail "POST tokens: $TG_CODE $TG_OUT"
tok=$(jq_ 'j["token"]')
[[ "$tok" =~ ^tgw_[A-Za-z0-9_-]{43}$ ]] || fail "POST tokens: $TG_OUT"
tid=$(jq_ 'j["id"]')
ok "POST tokens makes a token for a member and shows it once"
api tokens "$op"
! grep -q "$tok" <<<"$TG_OUT" || fail "GET tokens shows a secret"
[ "$(jq_ "[t['member'] for t in j['tokens'] if t['id'] == $tid]")" = "['dev1']" ] || fail "GET tokens: $TG_OUT"
ok "GET tokens lists it with its member, never its secret"
api "tokens/$tid" "$op" -X DELETE
[ "$TG_CODE" = 204 ] || fail "DELETE tokens: $TG_CODE $TG_OUT"
api "tokens/$tid" "$op" -X DELETE
problem 409 "revoking a token twice: 409"
ssh-keygen -q -t ed25519 -N "" -C k2 -f "$TG_TMP/k2"
body=$(python3 -c 'import json,sys; print(json.dumps({"account":"team","member":"dev1","key":open(sys.argv[1]).read().strip()}))' "$TG_TMP/k2.pub")
api keys "$op" -X POST -H 'Content-Type: application/json' -d "$body"
[ "$TG_CODE" = 201 ] || fail "POST keys: $TG_CODE $TG_OUT"
fp=$(jq_ 'j["fingerprint"]')
[ "$fp" = "$(ssh-keygen -l -f "$TG_TMP/k2.pub" | awk '{print $2}')" ] || fail "POST keys: $TG_OUT"
ok "POST keys adds a key for a member, with its fingerprint"
api "keys/$(python3 -c 'import urllib.parse,sys; print(urllib.parse.quote(sys.argv[1], safe=""))' "$fp")" "$op" -X DELETE
[ "$TG_CODE" = 204 ] || fail "DELETE keys: $TG_CODE $TG_OUT"
ok "DELETE keys/FINGERPRINT (percent-encoded) deletes it"
api addresses "$op" -X POST -H 'Content-Type: application/json' -d '{"account":"team","port":25128}'
[ "$TG_CODE" = 201 ] && [ "$(jq_ 'j["public_endpoint"]')" = "tcp://127.0.0.1:25128" ] || fail "POST addresses: $TG_CODE $TG_OUT"
ok "POST addresses reserves a port"
api addresses "$op" -X POST -H 'Content-Type: application/json' -d '{"account":"other","port":25128}'
problem 409 "reserving a port another account holds: 409"
api addresses/25128 "$op" -X DELETE
[ "$TG_CODE" = 204 ] || fail "DELETE addresses: $TG_CODE $TG_OUT"
api members/dev1 "$op" -X DELETE
problem 422 "the operator deleting a member without naming its account: 422"
api "members/dev1?account=team" "$op" -X DELETE
[ "$TG_CODE" = 204 ] || fail "DELETE members: $TG_CODE $TG_OUT"
ok "DELETE members/NAME?account= deletes a member"
expect_status 0 ctl events --limit 100
contains "$TG_OUT" '"action":"member.add"' "POST members is recorded as an audit event"
contains "$TG_OUT" '"action":"token.revoke"' "DELETE tokens is recorded as an audit event"
grep -q "api: operator from 127.0.0.1:[0-9]*: member.add team dev1" "$TG_TMP/gw.log" ||
	fail "no audit line in the log: $(grep 'api:' "$TG_TMP/gw.log")"
ok "the log says who changed what from where"

# A path that is not UTF-8 (found by fuzz/fuzz_api: the daemon exited making its 404).
api "accounts/tea%F5s" "$op" -X PATCH
problem 404 "an account name that is not UTF-8: 404, and its bytes shown as '?'"
contains "$(jq_ 'j["detail"]')" "unknown account 'tea?s'" "the 404 names it safely"
gw_alive "a path that is not UTF-8"

# Bad bodies.
api members "$op" -X POST -H 'Content-Type: application/json' -d '{"account":"team",'
problem 400 "malformed JSON: 400"
contains "$(jq_ 'j["detail"]')" "line 1" "the 400 says where the JSON broke"
api members "$op" -X POST -H 'Content-Type: application/json' -d '{"account":"team","name":7,"role":"viewer"}'
problem 422 "a field of the wrong type: 422"
contains "$(jq_ 'j["detail"]')" "field 'name' must be a string" "the 422 names the field and its type"
api members "$op" -X POST -H 'Content-Type: application/json' -d '{"account":"team","name":"z","role":"viewer","admin":true}'
problem 422 "an unknown field: 422"
api members "$op" -X POST -H 'Content-Type: application/json' -d '[1,2]'
problem 422 "a body that is no object: 422"
api members "$op" -X POST -d 'name=x'
problem 415 "a form instead of JSON: 415"
head -c 200000 /dev/zero | tr '\0' ' ' >"$TG_TMP/huge.json"
TG_CODE=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $op" -H 'Content-Type: application/json' --data-binary @"$TG_TMP/huge.json" "$U/members")
[ "$TG_CODE" = 413 ] || fail "a 200 kB body: $TG_CODE"
ok "a body over 64 KiB: 413"
gw_alive "the bad bodies"

# The role matrix: each role, and the operator, against each action.
declare -A rk
for r in viewer developer manager; do
	ctl member add team "$r" --role "$r"
done
for r in viewer developer manager owner operator; do
	ctl member add team "target-$r" --role viewer
	ctl member add team "victim-$r" --role viewer
	ssh-keygen -q -t ed25519 -N "" -C "m-$r" -f "$TG_TMP/m-$r"
done
for r in viewer developer manager owner; do
	rk[$r]=$(ctl apikey create team "$r" 2>/dev/null)
done
python3 - "$TG_TMP/keys.json" "$op" "${rk[viewer]}" "${rk[developer]}" "${rk[manager]}" "${rk[owner]}" "$TG_TMP" <<'PY'
import json, sys
out, op, v, d, m, o, tmp = sys.argv[1:]
pubs = {r: open("%s/m-%s.pub" % (tmp, r)).read().strip() for r in ["viewer", "developer", "manager", "owner", "operator"]}
json.dump({"operator": op, "viewer": v, "developer": d, "manager": m, "owner": o, "pub": pubs}, open(out, "w"))
PY
python3 "$top_srcdir/tests/apimatrix.py" "$U" "$TG_TMP/keys.json" >"$TG_TMP/matrix.out" 2>&1 ||
	fail "the role matrix: $(grep -v '^ok' "$TG_TMP/matrix.out")"
ok "the role matrix over HTTP: $(tail -1 "$TG_TMP/matrix.out")"

# DELETE tunnels/ID: one's own needs developer, another member's manager; the SSH client
# is told, the public port closes.
id1=$(api tunnels "$op"; jq_ "[t['id'] for t in j['tunnels'] if t['public_endpoint'] == 'tcp://127.0.0.1:$tport'][0]")
[ "$(api "tunnels/$id1" "$op"; jq_ 'j["member"]')" = owner ] || fail "tunnels/ID: $TG_OUT"
[ "$(jq_ 'j["client"]' | cut -d: -f1)" = 127.0.0.1 ] || fail "tunnels/ID client: $TG_OUT"
ok "GET tunnels/ID shows the tunnel's member and SSH client"
api "tunnels/$id1" "${rk[developer]}" -X DELETE
problem 403 "a developer closing another member's tunnel: 403"
contains "$(jq_ 'j["detail"]')" "closing another member's tunnel needs the role manager" "the 403 says what it needs"
api "tunnels/$id1" "${rk[manager]}" -X DELETE
[ "$TG_CODE" = 202 ] && [ "$(jq_ 'j["status"]')" = closing ] || fail "DELETE tunnels: $TG_CODE $TG_OUT"
err_has t1 "tunnelgw: tcp://127.0.0.1:$tport was closed through the API" "a manager closes another member's tunnel: 202, and the SSH client is told"
wait_for 5 port_closed "$tport" || fail "port $tport still open"
ok "the closed tunnel's public port no longer accepts connections"
api "tunnels/$id1" "$op" -X DELETE
problem 404 "closing it again: 404"
api accounts/team "$op" -X PATCH -H 'Content-Type: application/json' -d '{"create_raw_tunnel":"developer"}'
[ "$(jq_ 'j["create_raw_tunnel"]')" = developer ] || fail "PATCH accounts: $TG_OUT"
sleep 1.5
TG_KEY="$TG_TMP/m-developer" start_ssh t2 -R "0:localhost:$svc" v2@127.0.0.1 tcp
dport=$(allocated t2)
id2=$(api tunnels "${rk[developer]}"; jq_ "[t['id'] for t in j['tunnels'] if t['public_endpoint'] == 'tcp://127.0.0.1:$dport'][0]")
api "tunnels/$id2" "${rk[viewer]}" -X DELETE
problem 403 "a viewer closing a tunnel: 403"
api "tunnels/$id2" "${rk[developer]}" -X DELETE
[ "$TG_CODE" = 202 ] || fail "DELETE own tunnel: $TG_CODE $TG_OUT"
err_has t2 "was closed through the API" "a developer closes its own tunnel: 202"
api "tunnels/$id2" "${rk[developer]}"
problem 404 "the closed tunnel is gone from the list"
api tunnels/abc "$op"
problem 404 "a tunnel id that is no number: 404"

# POST tunnels: a tunnel that awaits its connection; the ssh command it returns brings it
# online under the same id.
api tunnels "${rk[viewer]}" -X POST -H 'Content-Type: application/json' -d '{}'
problem 403 "a viewer creating a tunnel: 403 (create_raw_tunnel is developer)"
api tunnels "${rk[developer]}" -X POST -H 'Content-Type: application/json' -d "{\"local_port\":$svc}"
[ "$TG_CODE" = 201 ] || fail "POST tunnels: $TG_CODE $TG_OUT"
[ "$(jq_ 'j["status"]')" = awaiting_connection ] || fail "POST tunnels: $TG_OUT"
aid=$(jq_ 'j["id"]')
aurl=$(jq_ 'j["public_endpoint"]')
aport=${aurl##*:}
cmd=$(jq_ 'j["ssh_command"]')
[[ "$cmd" =~ ^ssh\ -p\ $TG_SSH_PORT\ -R\ $aport:localhost:$svc\ tgw_[A-Za-z0-9_-]{43}@127\.0\.0\.1\ tcp$ ]] ||
	fail "ssh_command: $cmd"
ok "POST tunnels: 201, awaiting_connection, with the ssh command line"
api "tunnels/$aid" "${rk[viewer]}"
[ "$(jq_ 'j["status"]')" = awaiting_connection ] || fail "GET awaiting: $TG_OUT"
ok "the awaiting tunnel is listed, with its status"
port_closed "$aport" || fail "the awaiting port accepts connections"
# The command as returned, with the test's client options (no key: the token logs in).
NOKEY="-o PubkeyAuthentication=no -o PasswordAuthentication=no -o KbdInteractiveAuthentication=yes -o BatchMode=no $TG_SSH_OPTS"
read -r -a words <<<"${cmd#ssh }"
ssh $NOKEY "${words[@]}" >"$TG_TMP/aw.out" 2>"$TG_TMP/aw.err" </dev/null &
TG_PIDS="$TG_PIDS $!"
wait_for 10 grep -q "Forwarding  $aurl" "$TG_TMP/aw.out" "$TG_TMP/aw.err" || fail "awaiting tunnel: $(cat "$TG_TMP/aw.err")"
$TG_PY stream "$aport" 100000 1 >/dev/null || fail "the awaiting tunnel carries no data"
ok "the returned ssh command brings the tunnel online, and it carries data"
api "tunnels/$aid" "${rk[viewer]}"
[ "$(jq_ 'j["status"]')" = online ] && [ "$(jq_ 'j["member"]')" = developer ] || fail "online: $TG_OUT"
ok "the tunnel keeps its id, now online, as the member that made it"
tok=$(grep -o 'tgw_[A-Za-z0-9_-]*' <<<"$cmd")
expect_status 255 ssh $NOKEY -p "$TG_SSH_PORT" "$tok@127.0.0.1" status
contains "$TG_ERR" "was for one login, and it was used" "the token in the command logs in once"
api tunnels "${rk[developer]}" -X POST -H 'Content-Type: application/json' -d '{}'
bid=$(jq_ 'j["id"]')
api "tunnels/$bid" "${rk[developer]}" -X DELETE
[ "$TG_CODE" = 204 ] || fail "cancel: $TG_CODE $TG_OUT"
api "tunnels/$bid" "${rk[developer]}"
problem 404 "a cancelled awaiting tunnel is gone"

# GET events: filters and pages.
wait_for 5 sh -c "curl -s -H 'Authorization: Bearer $op' '$U/events?type=audit&limit=1' | grep -q audit" ||
	fail "no audit event reached the database"
api "events?type=audit&limit=2" "$op"
[ "$TG_CODE" = 200 ] && [ "$(jq_ 'len(j["events"])')" = 2 ] || fail "events page 1: $TG_CODE $TG_OUT"
[ "$(jq_ 'set(e["event"] for e in j["events"])')" = "{'audit'}" ] || fail "events type: $TG_OUT"
[ "$(jq_ 'j["events"][0]["detail"]["actor"] != ""')" = True ] || fail "events detail: $TG_OUT"
cur=$(jq_ 'j["next_cursor"]')
last=$(jq_ 'j["events"][1]["id"]')
[ "$cur" = "$last" ] || fail "next_cursor $cur, last id $last"
api "events?type=audit&limit=2&cursor=$cur" "$op"
[ "$(jq_ "all(e['id'] < $cur for e in j['events'])")" = True ] || fail "events page 2: $TG_OUT"
ok "GET events: filtered by type, newest first, in pages that go on from next_cursor"
api "events?since=2000-01-01T00:00:00Z&until=2000-01-02T00:00:00Z" "$op"
[ "$(jq_ 'len(j["events"])')" = 0 ] && [ "$(jq_ 'j["next_cursor"]')" = None ] || fail "events since/until: $TG_OUT"
ok "GET events: since and until bound the time"
api "events?type=tcp_connection_closed&url=tcp://127.0.0.1:$tport" "$op"
[ "$TG_CODE" = 200 ] && [ "$(jq_ 'len(j["events"]) >= 1')" = True ] || fail "events by url: $TG_CODE $TG_OUT"
[ "$(jq_ "set(e['url'] for e in j['events'])")" = "{'tcp://127.0.0.1:$tport'}" ] || fail "events by url: $TG_OUT"
api "events?url=tcp://127.0.0.1:1" "$op"
[ "$(jq_ 'len(j["events"])')" = 0 ] || fail "events of no tunnel: $TG_OUT"
ok "GET events: url picks one tunnel's events"
api "events?since=yesterday" "$op"
problem 422 "a time that is not one: 422"
api "events?limit=5000" "$op"
problem 422 "a page over 1000: 422"
api events "${rk[viewer]}"
[ "$(jq_ 'set(e["account"] for e in j["events"]) <= {"team"}')" = True ] || fail "viewer events: $TG_OUT"
ok "a member sees only its account's events"

# doc/api.yaml: valid, the same routes as the code, and every route answers as it says.
python3 "$top_srcdir/tests/openapi.py" check "$top_srcdir/doc/api.yaml" "$top_srcdir/src/api-routes.c" \
	>"$TG_TMP/oas.out" 2>&1 || fail "doc/api.yaml: $(cat "$TG_TMP/oas.out")"
ok "doc/api.yaml is valid OpenAPI 3.1 with valid schemas, and describes exactly the routes the code serves: $(tail -1 "$TG_TMP/oas.out")"
python3 "$top_srcdir/tests/openapi.py" walk "$top_srcdir/doc/api.yaml" "$U" "$op" \
	>"$TG_TMP/walk.out" 2>&1 || fail "the route walk: $(grep -v '^ok' "$TG_TMP/walk.out")"
ok "every route of doc/api.yaml answers with a documented status and schema: $(tail -1 "$TG_TMP/walk.out")"

# Found in review: a time before 1970 left the request unanswered (and its socket open).
api "events?since=1969-12-31T00:00:00Z" "$op"
problem 422 "a time before 1970: 422, answered"
# ... a member learned which account holds a port or a key.
api addresses "$op" -X POST -H 'Content-Type: application/json' -d '{"account":"other","port":25127}'
api addresses "${rk[manager]}" -X POST -H 'Content-Type: application/json' -d '{"port":25127}'
problem 409 "a member reserving another account's port: 409"
contains "$(jq_ 'j["detail"]')" "reserved by another account" "the 409 does not name the other account"
! grep -q "'other'" <<<"$TG_OUT" || fail "the 409 names the other account: $TG_OUT"
# ... a manager could make a tunnel for a member below create_raw_tunnel.
api accounts/team "$op" -X PATCH -H 'Content-Type: application/json' -d '{"create_raw_tunnel":"manager"}'
api tunnels "${rk[manager]}" -X POST -H 'Content-Type: application/json' -d '{"member":"developer"}'
problem 403 "a tunnel for a member below create_raw_tunnel: 403"
# ... awaiting tunnels piled up on one port.
api tunnels "${rk[manager]}" -X POST -H 'Content-Type: application/json' -d '{"port":25126}'
[ "$TG_CODE" = 201 ] || fail "POST tunnels on 25126: $TG_CODE $TG_OUT"
api tunnels "${rk[manager]}" -X POST -H 'Content-Type: application/json' -d '{"port":25126}'
problem 409 "a second awaiting tunnel on the same address: 409"
# ... an account was made half when its body had a bad role.
api accounts "$op" -X POST -H 'Content-Type: application/json' -d '{"name":"half","create_raw_tunnel":"boss"}'
problem 422 "an account with an unknown role: 422"
api accounts/half "$op"
problem 404 "... and no account was made"

# Behind a reverse proxy (plain HTTP, loopback) every client is the proxy: failed keys are
# not limited there, or one stranger would shut everyone out.
codes=""
for _ in $(seq 12); do
	codes="$codes $(curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer wrong' "$U/status")"
done
! grep -q 429 <<<"$codes" || fail "plain HTTP on loopback limited failures: $codes"
api status "$op"
[ "$TG_CODE" = 200 ] || fail "after failures on loopback, a good key: $TG_CODE"
ok "plain HTTP on loopback: failed keys are not limited, a good key still works"

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
# On 0.0.0.0, a port below the ephemeral range: no outgoing connection of this machine holds it.
API_PORT=25139
write_conf "$TG_TMP/gw.conf" 'workers = 1;' 'database = "state.db";' \
	"api_listen = \"0.0.0.0:$API_PORT\";" 'api_tls_cert = "cert.pem";' 'api_tls_key = "key.pem";'
start_gw "$TG_TMP/gw.conf"
op=$(ctl apikey create --operator 2>/dev/null)
out=$(curl -s --cacert "$TG_TMP/cert.pem" -H "Authorization: Bearer $op" "https://127.0.0.1:$API_PORT/api/v1/status")
contains "$out" '"version"' "HTTPS with the configured certificate, verified by the client, on 0.0.0.0"
curl -s -m 5 -o /dev/null "http://127.0.0.1:$API_PORT/api/v1/status" && fail "plain HTTP answered on the HTTPS port"
ok "plain HTTP gets no answer on the HTTPS port"
# Failed attempts over HTTPS are limited per source: after the burst, 429 without a lookup.
# The good key goes right after the first 429: the limit refills one try every 2 s.
codes=""
for _ in $(seq 12); do
	code=$(curl -s --cacert "$TG_TMP/cert.pem" -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer wrong' "https://127.0.0.1:$API_PORT/api/v1/status")
	codes="$codes $code"
	[ "$code" != 429 ] || break
done
contains "$codes" "429" "repeated failures from one address get 429 ($codes)"
TG_CODE=$(curl -s --cacert "$TG_TMP/cert.pem" -o "$TG_TMP/api.body" -w '%{http_code}' -H "Authorization: Bearer $op" "https://127.0.0.1:$API_PORT/api/v1/status")
[ "$TG_CODE" = 429 ] || fail "a good key while limited: $TG_CODE"
ok "while limited, even a good key waits"
gw_alive "the HTTPS checks"

done_testing
