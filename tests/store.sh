# tunnelgw: tunnelgwctl end to end on its database: accounts, tokens, keys, addresses, --json,
# the file's mode, and kill -9 during writes.
. "$(dirname "$0")/lib.sh"

write_conf "$TG_TMP/gw.conf" 'public_host = "gw.example.com";' 'port_range = "21000-21002";'
DB="$TG_TMP/tunnelgw.db"
need_tool sqlite3 "contrib/install-deps.sh installs it"
SQLITE3=$TG_TOOL

# --- accounts
expect_status 0 ctl account list
[ "$TG_OUT" = "NAME  MAX_TUNNELS  KEYS  TOKENS  ADDRESSES  CREATED  MEMBERS  MAX_ADDRESSES  MAX_CONNECTIONS  CREATE_RAW_TUNNEL" ] \
	|| fail "an empty account list is the header alone: $TG_OUT"
ok "a missing database is created and an empty list is its header"
if on_sqlite; then
	[ "$(stat -c %a "$DB")" = 600 ] || fail "the database has mode $(stat -c %a "$DB")"
	ok "the database file has mode 0600"
fi

expect_status 0 ctl account add alice --max-tunnels 3
[ "$TG_OUT" = "account alice added" ] || fail "account add printed '$TG_OUT'"
ok "account add says 'account alice added'"
expect_status 0 ctl account add bob --json
[ "$TG_OUT" = '{"name": "bob", "added": true}' ] || fail "account add --json printed '$TG_OUT'"
json_ok "$TG_OUT" "account add --json prints a JSON object"
expect_status 1 ctl account add alice
one_error "account 'alice' already exists" "a duplicate account is refused"
expect_status 1 ctl account add 'al ice'
one_error "account name 'al ice' is not 1-64 characters" "a bad account name is refused"
expect_status 1 ctl account add carol --max-tunnels 3x
one_error "--max-tunnels '3x' is not a number from 0 to 100000" "--max-tunnels is strict"
expect_status 1 ctl account add carol --max-tunnels
one_error "--max-tunnels needs a value" "--max-tunnels needs its value"
expect_status 1 ctl account add carol --frobnicate 3
one_error "unknown option '--frobnicate'" "an unknown option is refused"
expect_status 0 ctl account add carol --max-tunnels=0
expect_status 0 ctl account list
contains "$TG_OUT" "alice  3" "account list shows max_tunnels"
echo "$TG_OUT" | grep -Eq '^bob +- +0 +0 +0 +[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z +1 +- +- +manager$' \
	|| fail "bob's row: $TG_OUT"
ok "account list shows '-' for no limit, counts and an RFC 3339 time"
expect_status 0 ctl account del carol
[ "$TG_OUT" = "account carol deleted" ] || fail "account del printed '$TG_OUT'"
ok "account del says 'account carol deleted'"
expect_status 1 ctl account del carol
one_error "unknown account 'carol'" "deleting an unknown account names it"

# --- tokens
expect_status 0 ctl token create alice
TOKEN=$TG_OUT
[ "$(printf '%s\n' "$TOKEN" | wc -l)" -eq 1 ] || fail "token create printed more than a line"
printf '%s\n' "$TOKEN" | grep -Eq '^tgw_[A-Za-z0-9_-]{43}$' || fail "bad token form: $TOKEN"
ok "token create prints one token line of the form tgw_ + 43 base64url characters"
contains "$TG_ERR" "token 1 for account alice" "token create says the token's id on stderr"
expect_status 0 ctl token create bob --expires 7
TOKEN2=$TG_OUT
expect_status 1 ctl token create bob --expires 0
one_error "--expires '0' is not a number from 1 to 36500" "--expires is strict"
expect_status 1 ctl token create nobody
one_error "unknown account 'nobody'" "a token for an unknown account is refused"
expect_status 0 ctl token list
case "$TG_OUT" in *"${TOKEN#tgw_}"* | *"${TOKEN2#tgw_}"*) fail "token list shows a token" ;; esac
ok "token list never shows a token"
! db_dump "$TG_TMP/gw.conf" | grep -qa "${TOKEN#tgw_}" || fail "the token is in the database"
ok "the database does not hold the token"
echo "$TG_OUT" | head -1 | grep -Eq '^ID +ACCOUNT +CREATED +EXPIRES +REVOKED +LAST_USED +MEMBER$' \
	|| fail "token list header: $TG_OUT"
echo "$TG_OUT" | grep -Eq '^2 +bob +[0-9T:Z-]+ +[0-9T:Z-]+ +- +- +owner$' || fail "token 2: $TG_OUT"
ok "token list shows id, account, created, expires, revoked, last used"
expect_status 0 ctl token revoke 1
[ "$TG_OUT" = "token 1 revoked" ] || fail "token revoke printed '$TG_OUT'"
ok "token revoke says 'token 1 revoked'"
expect_status 0 ctl token list
echo "$TG_OUT" | grep -Eq '^1 +alice +[0-9T:Z-]+ +- +[0-9T:Z-]+Z +- +owner$' || fail "token 1: $TG_OUT"
ok "a revoked token shows when it was revoked"
expect_status 1 ctl token revoke 1
one_error "token 1 is already revoked" "revoking twice says so"
expect_status 1 ctl token revoke 42
one_error "no token with id 42" "revoking an unknown id says so"
expect_status 1 ctl token revoke abc
one_error "token id 'abc' is not a number" "a token id must be a number"
expect_status 0 ctl --json token create alice
json_ok "$TG_OUT" "token create --json is JSON"
contains "$TG_OUT" '"token": "tgw_' "token create --json holds the token"
[ -z "$TG_ERR" ] || fail "token create --json wrote to stderr: $TG_ERR"

# --- keys
ssh-keygen -q -t ed25519 -N "" -C "alice@laptop" -f "$TG_TMP/k1"
ssh-keygen -q -t ecdsa -N "" -C "bob key" -f "$TG_TMP/k2"
FP1=$(ssh-keygen -l -f "$TG_TMP/k1.pub" | awk '{print $2}')
expect_status 0 ctl key add alice "$(cat "$TG_TMP/k1.pub")"
[ "$TG_OUT" = "$FP1" ] || fail "key add printed '$TG_OUT', not $FP1"
ok "key add prints the key's fingerprint as ssh-keygen -l does"
expect_status 1 ctl key add bob "$(cat "$TG_TMP/k1.pub")"
one_error "key $FP1 is already registered to account 'alice'" \
	"a duplicate key is refused, naming the account that has it"
expect_status 1 ctl key add nobody "$(cat "$TG_TMP/k2.pub")"
one_error "unknown account 'nobody'" "a key for an unknown account is refused"
expect_status 1 ctl key add bob "no-pty $(cat "$TG_TMP/k2.pub")"
one_error "takes no options" "a key line with options is refused"
expect_status 1 ctl key add bob "ssh-ed25519 AAAAnotakey"
one_error "invalid key:" "a malformed key is refused"
expect_status 0 ctl key add bob "$(cat "$TG_TMP/k2.pub")"
expect_status 0 ctl key list
echo "$TG_OUT" | head -1 | grep -Eq '^FINGERPRINT +ACCOUNT +TYPE +COMMENT +ADDED_BY +CREATED +MEMBER$' \
	|| fail "key list header: $TG_OUT"
contains "$TG_OUT" "$FP1  alice    ssh-ed25519" "key list shows fingerprint, account and type"
contains "$TG_OUT" "alice@laptop" "key list shows the comment"
contains "$TG_OUT" "tunnelgwctl" "key list shows who added the key"
expect_status 0 ctl key list --json
json_ok "$TG_OUT" "key list --json is JSON"
contains "$TG_OUT" '"comment": "bob key"' "key list --json keeps a comment with a blank"
expect_status 0 ctl key del "$FP1"
[ "$TG_OUT" = "key $FP1 deleted" ] || fail "key del printed '$TG_OUT'"
ok "key del says 'key FINGERPRINT deleted'"
expect_status 1 ctl key del "$FP1"
one_error "no key with fingerprint '$FP1'" "deleting an unknown key says so"

# --- addresses
expect_status 0 ctl address reserve alice 21001
[ "$TG_OUT" = "tcp://gw.example.com:21001" ] || fail "reserve printed '$TG_OUT'"
ok "address reserve PORT prints tcp://public_host:PORT"
expect_status 1 ctl address reserve bob 21001
one_error "port 21001 is already reserved by account 'alice'" "a taken port is refused"
expect_status 1 ctl address reserve bob 21003
one_error "port 21003 is outside port_range 21000-21002" "a port outside the range is refused"
expect_status 1 ctl address reserve bob 0
one_error "port '0' is not a number from 1 to 65535" "port 0 is refused"
expect_status 0 ctl address reserve bob
R1=$TG_OUT
expect_status 0 ctl address reserve bob
R2=$TG_OUT
for r in "$R1" "$R2"; do
	case "$r" in
	tcp://gw.example.com:21000 | tcp://gw.example.com:21002) ;;
	*) fail "a random reservation gave $r" ;;
	esac
done
[ "$R1" != "$R2" ] || fail "two random reservations gave the same $R1"
ok "random reservations take free ports of the range, never a reserved one"
expect_status 1 ctl address reserve bob
one_error "no free port left in port_range 21000-21002" "a full range is a clear error"
expect_status 0 ctl address list
echo "$TG_OUT" | grep -Eq '^tcp://gw.example.com:21001 +alice +[0-9T:Z-]+( +[^ ]+)?$' \
	|| fail "address list: $TG_OUT"
ok "address list shows url, account, created"
expect_status 0 ctl address release 21001
[ "$TG_OUT" = "address tcp://gw.example.com:21001 released" ] || fail "address release printed '$TG_OUT'"
ok "address release says 'address tcp://gw.example.com:21001 released'"
expect_status 1 ctl address release 21001
one_error "port 21001 is not reserved" "releasing a free port says so"
expect_status 0 ctl address reserve alice 21001
expect_status 0 ctl --json address list
json_ok "$TG_OUT" "address list --json is JSON"
contains "$TG_OUT" '"url": "tcp://gw.example.com:21001", "account": "alice"' \
	"address list --json has url and account"
expect_status 0 ctl account list --json
json_ok "$TG_OUT" "account list --json is JSON"
contains "$TG_OUT" '{"name": "alice", "max_tunnels": 3, "keys": 0, "tokens": 1, "addresses": 1' \
	"account list --json has numbers as numbers"
expect_status 0 ctl token list --json
json_ok "$TG_OUT" "token list --json is JSON"

# Reservations survive: a new process sees them; deleting the account frees them.
expect_status 0 ctl --json account del bob
[ "$TG_OUT" = '{"name": "bob", "deleted": true}' ] || fail "account del --json printed '$TG_OUT'"
ok "account del --json prints a JSON object"
expect_status 0 ctl address list
case "$TG_OUT" in *bob*) fail "bob's addresses outlived bob: $TG_OUT" ;; esac
ok "deleting an account releases its addresses"
expect_status 0 ctl address reserve alice 21000
expect_status 1 ctl tunnels
one_error "cannot reach the daemon at " "tunnels needs the daemon and says so"

# --- files that are not ours are refused and left alone (SQLite's files: PostgreSQL's own
# refusals are checked by tests/check_store.c)
if on_sqlite; then
	echo "just some text" >"$TG_TMP/notdb"
	write_conf "$TG_TMP/bad.conf" "database = \"$TG_TMP/notdb\";"
	expect_status 1 "$TUNNELGWCTL" -f "$TG_TMP/bad.conf" account list
	one_error "DB: not a tunnelgw database (file is not a database)" "a file that is not a database is refused"
	[ "$(cat "$TG_TMP/notdb")" = "just some text" ] || fail "the refused file was changed"
	[ ! -e "$TG_TMP/notdb-wal" ] || fail "a WAL file appeared next to the refused file"
	ok "the refused file is untouched"
	cp "$DB" "$TG_TMP/newer.db"
	"$SQLITE3" "$TG_TMP/newer.db" 'PRAGMA user_version = 9'
	write_conf "$TG_TMP/newer.conf" "database = \"$TG_TMP/newer.db\";"
	expect_status 1 "$TUNNELGWCTL" -f "$TG_TMP/newer.conf" account list
	one_error "DB: schema version 9 is newer than this tunnelgw understands (5)" \
		"a database from a newer tunnelgw is refused"
fi

# --- a long writer: tunnelgwctl waits, then fails clearly, having written nothing
if on_sqlite; then
	python3 - "$DB" <<'EOF' &
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("BEGIN IMMEDIATE")
open(sys.argv[1] + ".locked", "w").close()
time.sleep(8)
db.execute("ROLLBACK")
EOF
else
	# The writers' lock of the PostgreSQL store, held by another connection.
	(
		psql "$(db_of "$TG_TMP/gw.conf")" -qAt -c "BEGIN" \
			-c "SELECT pg_advisory_xact_lock(1413961521)" -c "SELECT pg_sleep(8)" \
			-c "ROLLBACK" >/dev/null &
		sleep 1
		: >"$DB.locked"
		wait
	) &
fi
LOCKER=$!
TG_PIDS="$TG_PIDS $LOCKER"
wait_for 10 test -e "$DB.locked" || fail "the locking writer did not start"
expect_status 1 ctl account add dave
one_error "DB: database is locked by another process (waited 5000 ms)" \
	"a locked database is a clear error after the wait"
kill "$LOCKER" 2>/dev/null || true
wait "$LOCKER" 2>/dev/null || true
expect_status 0 ctl account list
case "$TG_OUT" in *dave*) fail "the locked write left a row" ;; esac
ok "the locked write left no row"

# --- kill -9 during writes loses no committed row and keeps the database sound
: >"$TG_TMP/committed"
for i in $(seq 1 40); do
	# tunnelgwctl itself, not the ctl function: kill -9 must hit the writer, not a subshell.
	"$TUNNELGWCTL" -f "$TG_TMP/gw.conf" account add "k$i" >/dev/null 2>&1 &
	pid=$!
	sleep "0.0$((RANDOM % 3))$((RANDOM % 10))"
	kill -9 "$pid" 2>/dev/null || true
	if wait "$pid" 2>/dev/null; then
		echo "k$i" >>"$TG_TMP/committed"
	fi
done
if on_sqlite; then
	[ "$("$SQLITE3" "$DB" 'PRAGMA integrity_check')" = ok ] || fail "integrity_check after kill -9"
	ok "PRAGMA integrity_check is ok after kill -9 during writes"
fi
expect_status 0 ctl account list
while read -r name; do
	echo "$TG_OUT" | grep -q "^$name " || fail "committed account $name is gone"
done <"$TG_TMP/committed"
ok "every write that reported success survived ($(wc -l <"$TG_TMP/committed") of 40)"
if on_sqlite; then
	[ "$(stat -c %a "$DB")" = 600 ] || fail "the database mode changed to $(stat -c %a "$DB")"
	ok "the database keeps mode 0600"
fi

done_testing
