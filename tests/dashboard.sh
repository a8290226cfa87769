# tunnelgw: the dashboard in a real browser: Debian's chromium, headless, driven through
# chromium-driver by python3-selenium (tests/dashboard.py), against a gateway with real
# ssh -R tunnels. Each scenario saves a screenshot in tests/dashboard-screenshots/ of the
# build folder. CI runs this once (.ci/run); locally: make check-dashboard, after
# contrib/install-deps.sh --browser.
. "$(dirname "$0")/lib.sh"
need_tool chromium "contrib/install-deps.sh --browser installs it"
need_tool chromedriver "Debian's chromium-driver; contrib/install-deps.sh --browser installs it"
need_tool curl "curl"
/usr/bin/python3 -c 'import selenium' 2>/dev/null ||
	fail "Debian's python3-selenium is not installed (contrib/install-deps.sh --browser)"

API_PORT=$(free_port)
gw_setup 'port_range = "32000-32049";' 'database = "state.db";' \
	"api_listen = \"127.0.0.1:$API_PORT\";" 'events_log = "events.jsonl";'
: >"$TG_TMP/authorized_keys"	# the client's key is in the store, for member alice of team
stop_gw
start_gw "$TG_TMP/gw.conf"
start_service echo
svc=$TG_SVC

ctl account add team
ctl member add team alice --role owner
ctl member add team dev --role manager
ctl key add team "$(cat "$TG_TMP/client.pub")" --member alice
keys=$(printf '{"operator":"%s","owner":"%s","manager":"%s"}' \
	"$(ctl apikey create --operator 2>/dev/null)" "$(ctl apikey create team alice 2>/dev/null)" \
	"$(ctl apikey create team dev 2>/dev/null)")

shots="$top_builddir/tests/dashboard-screenshots"
rm -rf "$shots"
mkdir -p "$shots"
DASH_URL="http://127.0.0.1:$API_PORT/" DASH_KEYS=$keys DASH_SVC=$svc DASH_SHOTS=$shots \
	DASH_TMP=$TG_TMP DASH_SSH="ssh $TG_SSH_OPTS -i $TG_TMP/client -p $TG_SSH_PORT" \
	DASH_NOKEY="ssh -o PubkeyAuthentication=no -o PasswordAuthentication=no -o KbdInteractiveAuthentication=yes -o BatchMode=no $TG_SSH_OPTS" \
	timeout 300 /usr/bin/python3 "$top_srcdir/tests/dashboard.py" 2>&1 | tee "$TG_TMP/dash.out" ||
	true
grep -q '^all browser scenarios passed' "$TG_TMP/dash.out" || {
	tail -30 "$TG_TMP/gw.log" >&2
	fail "the browser scenarios failed: $(grep -E '^(FAIL|Traceback|[A-Za-z]*Error)' "$TG_TMP/dash.out" | head -3)"
}
n=$(grep -c '^ok ' "$TG_TMP/dash.out")
ok "the browser scenarios: $n checks, screenshots in $shots"
for f in signin tunnels traffic tunnel token new-awaiting new-online viewer xss events narrow; do
	[ -s "$shots/$f.png" ] || fail "no screenshot $f.png"
done
ok "every scenario saved its screenshot"
gw_alive "the browser scenarios"
done_testing
