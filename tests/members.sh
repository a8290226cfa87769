# tunnelgw: members of an account and their roles, over SSH: keys and tokens of the store act
# as their member; the account's create_raw_tunnel and max-connections apply; a change of
# role or a deleted member reaches sessions that are already up.
. "$(dirname "$0")/lib.sh"

gw_setup 'port_range = "25100-25119";' 'database = "state.db";'
: >"$TG_TMP/authorized_keys"	# nobody by the keys file: only the store lets people in
stop_gw
start_gw "$TG_TMP/gw.conf"
start_service echo
svc=$TG_SVC

for k in dev ops; do
	ssh-keygen -q -t ed25519 -N "" -C "$k" -f "$TG_TMP/$k"
done
ctl account add team
expect_status 0 ctl member add team dev1 --role developer
contains "$TG_OUT" "member dev1 added" "member add says what it did"
expect_status 0 ctl member add team ops --role=manager
expect_status 0 ctl key add team "$(cat "$TG_TMP/dev.pub")" --member dev1
expect_status 0 ctl key add team "$(cat "$TG_TMP/ops.pub")" --member ops
expect_status 0 ctl member list team
echo "$TG_OUT" | head -1 | grep -Eq '^ACCOUNT +NAME +ROLE +KEYS +TOKENS +APIKEYS +CREATED$' ||
	fail "member list header: $TG_OUT"
echo "$TG_OUT" | grep -Eq '^team +dev1 +developer +1 +0 +0 +[0-9T:Z-]+$' || fail "dev1's row: $TG_OUT"
echo "$TG_OUT" | grep -Eq '^team +owner +owner +0 +0 +0 +[0-9T:Z-]+$' || fail "owner's row: $TG_OUT"
ok "member list shows each member's role and what it holds; an account starts with its owner"
expect_status 0 ctl --json member list team
json_ok "$TG_OUT" "member list --json is JSON"
contains "$TG_OUT" '"role": "manager"' "member list --json names the roles"

# Refusals of the command line say why.
expect_status 1 ctl member add team x --role admin
contains "$TG_ERR" "unknown role 'admin': one of viewer, developer, manager, owner" "an unknown role is refused"
expect_status 1 ctl member add team y
contains "$TG_ERR" "a member needs --role" "member add without a role is refused"
expect_status 1 ctl member del team owner
contains "$TG_ERR" "'owner' is the only owner of account 'team'" "the last owner cannot be deleted"
expect_status 1 ctl member role team owner viewer
contains "$TG_ERR" "an account keeps at least one owner" "the last owner cannot be demoted"
expect_status 1 ctl key add team "$(cat "$TG_TMP/client.pub")" --member ghost
contains "$TG_ERR" "account 'team' has no member 'ghost'" "a key for an unknown member is refused"

# A developer may not open a raw tunnel by default (manager); the refusal names the member.
TG_KEY="$TG_TMP/dev" start_ssh dev1 -R "0:localhost:$svc" v2@127.0.0.1 tcp
err_has dev1 "opening a TCP tunnel in account 'team' needs the role manager or above; member 'dev1' has the role developer (an owner of the account can change it: tunnelgwctl member role team dev1 ROLE)" \
	"a developer's forward is refused, and told who can change its role"
kill "$TG_LAST_PID" 2>/dev/null || true

# A manager's key opens one.
TG_KEY="$TG_TMP/ops" start_ssh ops -R "0:localhost:$svc" v2@127.0.0.1 tcp
oport=$(allocated ops)
$TG_PY stream "$oport" 100000 1 >/dev/null || fail "the manager's tunnel carries no data"
ok "a manager's key opens a tunnel, which carries data"
log_has "authenticated as account 'team' with database key" "the log shows the member's account"

# The account lowers create_raw_tunnel to developer: dev1 may now open one.
expect_status 0 ctl account set team --create-raw-tunnel developer
contains "$TG_OUT" "account team changed" "account set says what it did"
expect_status 0 ctl account list
echo "$TG_OUT" | grep -Eq '^team .* developer$' || fail "account list: $TG_OUT"
ok "account list shows create_raw_tunnel"
TG_KEY="$TG_TMP/dev" start_ssh dev2 -R "0:localhost:$svc" v2@127.0.0.1 tcp
dport=$(allocated dev2)
$TG_PY stream "$dport" 100000 1 >/dev/null || fail "the developer's tunnel carries no data"
ok "with create_raw_tunnel = developer, a developer opens a tunnel"

# A role lowered while the session is up applies to its next request; the tunnel it has stays.
expect_status 0 ctl member role team dev1 viewer
contains "$TG_OUT" "member dev1 changed" "member role says what it did"
sleep 1.5	# the workers notice the store's change within a second
TG_KEY="$TG_TMP/dev" start_ssh dev3 -R "0:localhost:$svc" v2@127.0.0.1 tcp
err_has dev3 "member 'dev1' has the role viewer" "after member role, a new forward of the member is refused"
kill "$TG_LAST_PID" 2>/dev/null || true
$TG_PY stream "$dport" 100000 1 >/dev/null || fail "the tunnel opened before the change stopped"
ok "a tunnel opened before the role changed keeps working"

# A token of a member acts as that member.
token=$(ctl token create team --member ops 2>"$TG_TMP/token.err")
contains "$(cat "$TG_TMP/token.err")" "token 1 for account team (member ops)" "token create names the member"
expect_status 0 ctl token list
echo "$TG_OUT" | grep -Eq '^1 +team .* ops$' || fail "token list: $TG_OUT"
ok "token list shows the token's member"
NOKEY="-o PubkeyAuthentication=no -o PasswordAuthentication=no -o KbdInteractiveAuthentication=yes -o BatchMode=no $TG_SSH_OPTS"
TG_SSH_OPTS="$NOKEY" start_ssh tok -R "0:localhost:$svc" "$token@127.0.0.1" tcp
tport=$(allocated tok)
$TG_PY stream "$tport" 100000 1 >/dev/null || fail "the token's tunnel carries no data"
ok "a token of a manager opens a tunnel"

# The account's max-connections counts the connections of all its tunnels.
expect_status 0 ctl account set team --max-connections 1
sleep 1.5
$TG_PY hold "$oport" 1 6 >"$TG_TMP/hold.out" 2>&1 &
hold=$!
wait_for 5 grep -q "holding 1 connections" "$TG_TMP/hold.out" || fail "hold: $(cat "$TG_TMP/hold.out")"
$TG_PY stream "$tport" 1000 1 >/dev/null 2>&1 && fail "a second connection of the account went through"
wait_for 5 grep -q "tcp://127.0.0.1:$tport: connection from .* refused: the account holds its max-connections connections (the gateway's operator can raise it: tunnelgwctl account set)" "$TG_TMP/gw.log" ||
	fail "no refusal in the log: $(tail -5 "$TG_TMP/gw.log")"
ok "max-connections 1: with one connection open on one tunnel, another tunnel of the account refuses the next, and the log says why"
kill "$hold" 2>/dev/null || true
wait "$hold" 2>/dev/null || true
expect_status 0 ctl account set team --max-connections none
sleep 1.5
$TG_PY stream "$tport" 100000 2 >/dev/null || fail "max-connections none did not lift the limit"
ok "max-connections none lifts the limit"

# Deleting a member closes its sessions: its keys and tokens go with it.
expect_status 0 ctl member del team ops
contains "$TG_OUT" "member ops deleted" "member del says what it did"
err_has ops "tunnelgw: closing: your key was deleted" "deleting a member closes its key's session, and says why"
err_has tok "tunnelgw: closing: your token was revoked" "deleting a member closes its token's session"
expect_status 0 ctl member list team
! grep -q ' ops ' <<<"$TG_OUT" || fail "ops is still listed: $TG_OUT"
expect_status 0 ctl key list
! grep -q "$(ssh-keygen -l -f "$TG_TMP/ops.pub" | awk '{print $2}')" <<<"$TG_OUT" ||
	fail "the member's key is still listed: $TG_OUT"
ok "the deleted member's key and token are gone"

# API keys from the command line: shown once, listed without the secret, revoked.
ak=$(ctl apikey create team dev1 2>"$TG_TMP/ak.err")
[[ "$ak" =~ ^tgwk_[A-Za-z0-9_-]{43}$ ]] || fail "apikey create printed '$ak'"
contains "$(cat "$TG_TMP/ak.err")" "API key 1 for account team (member dev1); it is shown only this once" "apikey create names the member"
opk=$(ctl apikey create --operator 2>/dev/null)
[[ "$opk" =~ ^tgwk_ ]] || fail "apikey create --operator printed '$opk'"
expect_status 0 ctl apikey list
echo "$TG_OUT" | grep -Eq '^1 +team +dev1 +viewer ' || fail "apikey list: $TG_OUT"
echo "$TG_OUT" | grep -Eq '^2 +- +- +operator ' || fail "apikey list: $TG_OUT"
! grep -q "$ak" <<<"$TG_OUT" || fail "apikey list shows a secret"
! db_dump "$TG_TMP/gw.conf" | grep -qa "$ak" || fail "the database holds an API key's secret"
ok "apikey list shows who each key acts as, never a secret; the database holds none"
expect_status 0 ctl apikey revoke 1
expect_status 1 ctl apikey revoke 1
contains "$TG_ERR" "API key 1 is already revoked" "revoking twice says so"
expect_status 1 ctl apikey create team
contains "$TG_ERR" "name an account and its member, or --operator" "apikey create needs a member"

# Every change made with tunnelgwctl is an audit event: who, from where, what.
expect_status 0 ctl --json events --limit 200
python3 - "$TG_OUT" <<'PY' || fail "audit events: $TG_OUT"
import json, sys
ev = [e for e in json.loads(sys.argv[1]) if e["event"] == "audit"]
acts = {(e["account"], e["detail"]["action"], e["detail"].get("object")) for e in ev}
want = {("team", "member.add", "dev1"), ("team", "member.role", "dev1 role viewer"),
        ("team", "member.delete", "ops"), ("team", "account.update", None),
        ("team", "token.create", "token 1"), ("team", "apikey.create", "apikey 1")}
missing = want - acts
assert not missing, missing
assert all(e["client"] == "local" and e["detail"]["actor"].startswith("tunnelgwctl (user ")
           for e in ev), ev
PY
ok "tunnelgwctl's changes are audit events, with the action, the object and the local user"

done_testing
