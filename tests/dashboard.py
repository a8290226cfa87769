#!/usr/bin/python3
"""tunnelgw: the dashboard's scenarios in headless chromium (run by tests/dashboard.sh).

Sign in; a tunnel opened with the real ssh -R appears within 2 s; its byte counters rise
while traffic flows; its page lists its connections; a token is shown once; the
awaiting-connection flow goes online; a member demoted to viewer is told the API's reason
and then sees no create or close buttons; markup in names and comments shows as text; the
page fits 360 px; every control has a label; the page logs no error (a CSP violation is one).
Each scenario saves a screenshot in DASH_SHOTS. Prints "ok ..." per check.
"""
import json
import os
import re
import shlex
import socket
import subprocess
import sys
import threading
import time
import urllib.request

from selenium import webdriver
from selenium.common.exceptions import NoAlertPresentException, TimeoutException
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.select import Select
from selenium.webdriver.support.ui import WebDriverWait

URL = os.environ["DASH_URL"]
KEYS = json.loads(os.environ["DASH_KEYS"])
SVC = int(os.environ["DASH_SVC"])
SHOTS = os.environ["DASH_SHOTS"]
TMP = os.environ["DASH_TMP"]
SSH = shlex.split(os.environ["DASH_SSH"])
NOKEY = shlex.split(os.environ["DASH_NOKEY"])
XSS = "<img src=x onerror=alert(1)>"
checks = 0
procs = []


def ok(what):
    global checks
    checks += 1
    print(f"ok {checks} - {what}", flush=True)


def fail(what):
    print(f"FAIL: {what}", flush=True)
    try:
        shot("failure")
        print(driver.find_element(By.TAG_NAME, "body").text[:2000])
    except Exception:  # noqa: BLE001 - the browser may be gone
        pass
    sys.exit(1)


def api(method, path, key, body=None):
    """Call the API as a script would: (status, JSON)."""
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(URL + "api/v1/" + path, data=data, method=method)
    req.add_header("Authorization", f"Bearer {key}")
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=10) as res:
            text = res.read()
            return res.status, json.loads(text) if text else None
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


def make_driver():
    opts = Options()
    opts.binary_location = "/usr/bin/chromium"
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
              "--window-size=1366,900", f"--user-data-dir={TMP}/chromium", "--no-first-run",
              "--disable-extensions", "--disable-background-networking", "--disable-sync",
              "--disable-component-update", "--disable-default-apps", "--lang=en-US"):
        opts.add_argument(a)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)


def shot(name):
    driver.save_screenshot(os.path.join(SHOTS, f"{name}.png"))


def wait(cond, timeout=10, what="the page"):
    try:
        return WebDriverWait(driver, timeout, poll_frequency=0.05).until(lambda d: cond())
    except TimeoutException:
        fail(f"{what}: not within {timeout} s")
    return None


def q(css):
    return driver.find_elements(By.CSS_SELECTOR, css)


def text(css):
    els = q(css)
    return els[0].text if els else ""


def go(hash_):
    driver.execute_script("location.hash = arguments[0]", hash_)
    wait(lambda: q("main h1"), what=f"page {hash_}")


def button(label, scope=None):
    """The first visible button with this text (in scope, a CSS selector)."""
    for b in q(f"{scope or 'main'} button"):
        if b.text.strip() == label and b.is_displayed():
            return b
    return None


def sign_in(key):
    driver.get(URL)
    driver.execute_script("sessionStorage.clear()")
    driver.get(URL)
    field = wait(lambda: q("input[name=apikey]"), what="the sign-in form")[0]
    # Keyboard only: the key field has the focus; Enter submits.
    if driver.switch_to.active_element != field:
        fail("the sign-in field does not have the focus")
    field.send_keys(key, Keys.ENTER)
    wait(lambda: q("#nav a"), what="signed in")


def labelled_controls():
    """Every form control on the page has a label, and every button a name."""
    bad = driver.execute_script("""
        const out = [];
        for (const el of document.querySelectorAll('input, select, textarea, button')) {
          if (el.type === 'hidden' || el.closest('[hidden]')) continue;
          const name = el.tagName === 'BUTTON' ? (el.getAttribute('aria-label') || el.textContent.trim())
            : (el.getAttribute('aria-label') || (el.labels && el.labels.length ? el.labels[0].textContent : ''));
          if (!name) out.push(el.outerHTML.slice(0, 120));
        }
        return out;""")
    if bad:
        fail(f"controls without a label on {driver.execute_script('return location.hash')}: {bad}")


def allocated(errfile, timeout=10):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        with open(errfile, encoding="utf-8", errors="replace") as f:
            m = re.search(r"^Allocated port (\d+) ", f.read(), re.M)
        if m:
            return int(m.group(1))
        time.sleep(0.02)
    fail(f"ssh got no port: {open(errfile, encoding='utf-8', errors='replace').read()}")
    return 0


def start_ssh(args, name):
    err = open(os.path.join(TMP, f"{name}.err"), "w", encoding="utf-8")
    p = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=err, stderr=err)
    procs.append(p)
    return p, err.name


def row(endpoint):
    for tr in q("table.tunnels tbody tr"):
        if tr.find_elements(By.LINK_TEXT, endpoint):
            return tr
    return None


def cell(tr, label):
    return tr.find_element(By.CSS_SELECTOR, f'td[data-label="{label}"]')


class Traffic(threading.Thread):
    """A public client that keeps sending through the tunnel (echoed back) until stopped."""

    def __init__(self, port):
        super().__init__(daemon=True)
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.stop = threading.Event()
        self.sent = 0

    def run(self):
        chunk = b"x" * 65536
        while not self.stop.is_set():
            self.sock.sendall(chunk)
            self.sent += len(chunk)
            got = 0
            while got < len(chunk):
                got += len(self.sock.recv(len(chunk) - got))
            time.sleep(0.05)
        self.sock.close()


def main():
    # --- sign in ---------------------------------------------------------------------
    driver.get(URL)
    field = wait(lambda: q("input[name=apikey]"), what="the sign-in form")[0]
    if driver.execute_script("return document.querySelectorAll('script:not([src])').length") != 0:
        fail("the page has inline script")
    field.send_keys("tgwk_" + "A" * 43, Keys.ENTER)
    wait(lambda: "unknown API key" in text("#alert"), what="the refusal of a wrong key")
    if driver.execute_script("return sessionStorage.getItem('tunnelgw.apikey')") is not None:
        fail("a refused key stayed in sessionStorage")
    ok("a wrong key is refused with the API's reason, and not kept")
    shot("signin")
    sign_in(KEYS["owner"])
    if "alice · team" not in text("#who") or "owner" not in text("#who"):
        fail(f"who: {text('#who')}")
    if KEYS["owner"] in driver.current_url:
        fail("the key is in the URL")
    stored = driver.execute_script("return sessionStorage.getItem('tunnelgw.apikey')")
    local = driver.execute_script("return localStorage.length")
    if stored != KEYS["owner"] or local != 0:
        fail("the key is not in sessionStorage alone")
    ok("signed in with the keyboard alone: the member, account and role are shown; the key is in sessionStorage only")
    wait(lambda: "No tunnels" in text("p.count"), what="the empty list")
    labelled_controls()

    # --- a real ssh -R tunnel appears within 2 s ----------------------------------------
    _, err = start_ssh(SSH + ["-R", f"0:localhost:{SVC}", "v2@127.0.0.1", "tcp"], "t1")
    port = allocated(err)
    t0 = time.monotonic()
    endpoint = f"tcp://127.0.0.1:{port}"
    wait(lambda: row(endpoint), timeout=2, what=f"the tunnel {endpoint} in the list")
    ok(f"the tunnel opened with ssh -R appears in the list {time.monotonic() - t0:.2f} s after the port was allocated")
    tr = row(endpoint)
    badge = cell(tr, "Protocol").text
    if badge != "TCP" or "online" not in cell(tr, "Status").text or cell(tr, "Member").text != "alice":
        fail(f"the row: {tr.text}")
    if not cell(tr, "Client").text.startswith("127.0.0.1:"):
        fail(f"client: {cell(tr, 'Client').text}")
    ok("the row has the TCP badge, online, the member and the client address")
    driver.execute_cdp_cmd("Browser.grantPermissions", {
        "origin": URL.rstrip("/"), "permissions": ["clipboardReadWrite", "clipboardSanitizedWrite"]})
    copy = cell(tr, "Endpoint").find_element(By.TAG_NAME, "button")
    copy.click()
    wait(lambda: copy.text == "Copied", what="the copy button's answer")
    pasted = driver.execute_async_script(
        "navigator.clipboard.readText().then(arguments[0], (e) => arguments[0]('error: ' + e))")
    if pasted != endpoint:
        fail(f"the clipboard holds {pasted!r}, not {endpoint!r}")
    ok("the endpoint's copy button puts it on the clipboard")
    shot("tunnels")

    # --- its counters rise while traffic flows ------------------------------------------
    traffic = Traffic(port)
    traffic.start()
    wait(lambda: int(cell(row(endpoint), "In").get_attribute("data-bytes")) > 0, what="bytes in")
    b1 = int(cell(row(endpoint), "In").get_attribute("data-bytes"))
    o1 = int(cell(row(endpoint), "Out").get_attribute("data-bytes"))
    wait(lambda: int(cell(row(endpoint), "In").get_attribute("data-bytes")) > b1 and
         int(cell(row(endpoint), "Out").get_attribute("data-bytes")) > o1, timeout=5,
         what="the counters rising")
    if not traffic.is_alive() or cell(row(endpoint), "Connections").text != "1":
        fail("the traffic stopped before the counters rose")
    ok("bytes in and out rise while a connection carries traffic, with 1 open connection shown")
    wait(lambda: any(float(p.split(",")[1]) < 22 for p in
                     q('tr[data-id] td[data-label="Traffic"] polyline')[0]
                     .get_attribute("points").split()), timeout=5, what="the sparkline")
    ok("the sparkline shows the traffic")
    shot("traffic")

    # --- the tunnel's page: its connections, from the events ------------------------------
    row(endpoint).find_element(By.LINK_TEXT, endpoint).click()
    wait(lambda: endpoint in text("main h1"), what="the tunnel's page")
    traffic.stop.set()
    traffic.join(10)
    wait(lambda: any(td.text.startswith("127.0.0.1:") for td in
                     q('main td[data-label="Client"]')), timeout=10,
         what="the closed connection in the tunnel's connections")
    ok("the tunnel's page lists its connection from the events once it closed")
    if "alice" not in text("dl.props") or "Close tunnel" not in [b.text for b in q("main button")]:
        fail(f"the tunnel's page: {text('main')}")
    labelled_controls()
    shot("tunnel")

    # --- a token, shown once ----------------------------------------------------------------
    go("#/tokens")
    wait(lambda: button("Create token"), what="the token form")
    labelled_controls()
    before = len(q("main tbody tr"))
    button("Create token").click()
    code = wait(lambda: q("code[data-secret=token]"), what="the new token")[0]
    token = code.text
    if not re.fullmatch(r"tgw_[A-Za-z0-9_-]{43}", token):
        fail(f"token: {token!r}")
    shot("token")
    wait(lambda: len(q("main tbody tr")) == before + 1, what="the token in the list")
    go("#/tunnels")
    go("#/tokens")
    wait(lambda: len(q("main tbody tr")) == before + 1, what="the token list")
    if token in driver.page_source:
        fail("the token is shown again")
    ok("a token is shown once, then listed without its secret")

    # --- the awaiting-connection flow --------------------------------------------------------
    go("#/new")
    labelled_controls()
    port_field = driver.find_element(By.XPATH, "//label[text()='Local port']/following-sibling::input")
    port_field.clear()
    port_field.send_keys(str(SVC))
    button("Create").click()
    cmd = wait(lambda: q("#ssh-command"), what="the ssh command")[0].text
    m = re.fullmatch(r"ssh -p \d+ -R (\d+):localhost:%d (tgw_[A-Za-z0-9_-]{43})@127\.0\.0\.1 tcp" % SVC, cmd)
    if not m:
        fail(f"ssh command: {cmd!r}")
    if "awaiting connection" not in text("main .result"):
        fail(f"result: {text('main .result')}")
    shot("new-awaiting")
    words = shlex.split(cmd)
    start_ssh(NOKEY + words[1:], "t2")
    wait(lambda: "online" in text("main .result"), timeout=10, what="the awaiting tunnel going online")
    ok("the awaiting-connection flow: the ssh command shown, run as it is, and the status flips to online")
    shot("new-online")
    go("#/tunnels")
    wait(lambda: row(f"tcp://127.0.0.1:{m.group(1)}"), what="the new tunnel in the list")
    # ... and on an address the account reserved, chosen from the list.
    code_, res = api("POST", "addresses", KEYS["owner"], {"port": 32040})
    if code_ != 201:
        fail(f"reserving 32040: {code_} {res}")
    go("#/new")
    wait(lambda: any(o.text == "tcp://127.0.0.1:32040" for o in q("main select option")),
         what="the reserved address offered")
    driver.find_element(By.ID, "addr-reserved").click()
    Select(driver.find_element(By.XPATH, "//label[text()='Reserved address']/following-sibling::select")
           ).select_by_visible_text("tcp://127.0.0.1:32040")
    button("Create").click()
    wait(lambda: q("#ssh-command") and " -R 32040:localhost:" in text("#ssh-command"),
         what="the command for the reserved address")
    ok("a new tunnel on a reserved address: chosen from the account's addresses, the command opens it")
    # ... and a UDP one: the command starts tunnelgw-udp first; TCP reservations are not offered.
    go("#/new")
    Select(driver.find_element(By.ID, "proto")).select_by_value("udp")
    helper = driver.find_element(By.XPATH, "//label[text()='Helper port']/following-sibling::input")
    wait(lambda: helper.is_displayed() and driver.find_element(By.ID, "addr-reserved").get_attribute("disabled"),
         what="the UDP form (helper port shown, no UDP reservation to offer)")
    button("Create").click()
    wait(lambda: q("#ssh-command") and text("#ssh-command").startswith("tunnelgw-udp"), what="the UDP command")
    cmd = text("#ssh-command")
    if not re.fullmatch(r"tunnelgw-udp 5300 localhost:53 & ssh -p \d+ -R \d+:localhost:5300 tgw_[A-Za-z0-9_-]{43}@127\.0\.0\.1 udp", cmd):
        fail(f"UDP command: {cmd!r}")
    if "udp://127.0.0.1:" not in text("main .result"):
        fail(f"UDP result: {text('main .result')}")
    ok("a new UDP tunnel: protocol UDP, the helper port asked for, the command starts tunnelgw-udp then ssh ... udp")

    # --- a member demoted to viewer: the API's reason, then no buttons -----------------------
    sign_in(KEYS["manager"])
    wait(lambda: row(endpoint), what="alice's tunnel, for the manager")
    close = button("Close", 'tr[data-id] td[data-label="Actions"]')
    if close is None:
        fail("a manager sees no Close button")
    code_, _ = api("PATCH", "members/dev", KEYS["operator"], {"account": "team", "role": "viewer"})
    if code_ != 200:
        fail(f"demotion: {code_}")
    # By keyboard: Enter arms the button, and Enter again, on the same button, confirms.
    close.send_keys(Keys.ENTER)
    wait(lambda: close.text == "Confirm", what="the armed Close button")
    if driver.switch_to.active_element != close:
        fail("the focus left the Close button when it was armed")
    close.send_keys(Keys.ENTER)
    wait(lambda: "Forbidden" in text("#alert"), what="the refusal")
    reason = text("#alert")
    if "has the role viewer" not in reason:
        fail(f"the refusal does not give the API's reason: {reason!r}")
    ok(f"a forbidden call shows the API's reason: {reason!r}")
    driver.refresh()
    wait(lambda: row(endpoint), what="the list, as a viewer")
    if "viewer" not in text("#who"):
        fail(f"who: {text('#who')}")
    if q('#nav a[href="#/new"]') or q("table.tunnels button.danger"):
        fail("a viewer is offered to create or close a tunnel")
    shot("viewer")
    for page, label in (("#/tokens", "Create token"), ("#/members", "Add member"),
                        ("#/addresses", "Reserve"), ("#/keys", "Add key")):
        go(page)
        time.sleep(0.3)
        wait(lambda: q("main table, main p.empty"), what=page)
        if button(label) or q("main button.danger"):
            fail(f"a viewer is offered {label!r} or a delete on {page}")
    ok("a viewer sees no create, close, revoke or delete button anywhere")

    # --- markup shows as text ---------------------------------------------------------------
    sign_in(KEYS["operator"])
    go("#/accounts")
    name = driver.find_element(By.XPATH, "//label[text()='Name']/following-sibling::input")
    name.send_keys(XSS)
    button("Create account").click()
    wait(lambda: XSS in text("#alert"), what="the refusal of the name")
    # ... and changes an account's limits.
    form = driver.find_element(By.XPATH, "//form[h2[text()=\"Change an account's limits\"]]")
    Select(form.find_element(By.TAG_NAME, "select")).select_by_visible_text("team")
    maxt = form.find_element(By.XPATH, ".//label[text()='Max tunnels']/following-sibling::input")
    maxt.clear()
    maxt.send_keys("7")
    button("Save limits").click()
    wait(lambda: "Account team changed" in text("main"), what="the limits saved")
    _, acc = api("GET", "accounts/team", KEYS["operator"])
    if acc.get("max_tunnels") != 7:
        fail(f"account team: {acc}")
    ok("the operator changes an account's limits from the accounts page")
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", XSS, "-f",
                    os.path.join(TMP, "xss")], check=True)
    with open(os.path.join(TMP, "xss.pub"), encoding="utf-8") as f:
        code_, _ = api("POST", "keys", KEYS["owner"], {"key": f.read().strip()})
    if code_ != 201:
        fail(f"adding a key with a markup comment: {code_}")
    driver.execute_script("document.querySelector('#scope').value = 'team';"
                          "document.querySelector('#scope').dispatchEvent(new Event('change'))")
    go("#/keys")
    wait(lambda: any(td.text == XSS for td in q('main td[data-label="Comment"]')),
         what="the key comment")
    try:
        driver.switch_to.alert.dismiss()
        fail("a script ran from a name")
    except NoAlertPresentException:
        pass
    if q('img[src="x"]'):
        fail("markup from the API became an element")
    ok("markup typed as an account name and stored as a key comment shows as text; no script runs")
    shot("xss")

    # --- the operator gives a role; events filtered by type ----------------------------------
    go("#/members")
    role = wait(lambda: q('select[aria-label="Role of dev"]'), what="dev's role")[0]
    Select(role).select_by_visible_text("developer")
    driver.find_element(By.CSS_SELECTOR, 'button[aria-label="Save the role of dev"]').click()
    wait(lambda: "dev is now developer" in text("main"), what="the role change")
    _, doc = api("GET", "members?account=team", KEYS["operator"])
    if {m["name"]: m["role"] for m in doc["members"]}.get("dev") != "developer":
        fail(f"members: {doc}")
    ok("the operator gives a member a role from the members page")
    go("#/events")
    Select(driver.find_element(By.XPATH, "//label[text()='Type']/following-sibling::select")
           ).select_by_value("audit")
    end = time.monotonic() + 10	# the daemon writes events to the database in batches
    while True:
        button("Show").click()
        time.sleep(0.5)
        if any("member.role" in td.text for td in q('main td[data-label="Detail"]')):
            break
        if time.monotonic() > end:
            fail("the role change is not among the audit events")
    if not all(td.text == "audit" for td in q('main td[data-label="Event"]')):
        fail("the events page shows other events than audit")
    ok("the events page filters by type: the role change is an audit event")
    shot("events")

    # --- closing a tunnel from its page: the port closes, the SSH client is told ---------------
    go("#/tunnels")
    wait(lambda: row(endpoint), what="the tunnel, for the operator")
    row(endpoint).find_element(By.LINK_TEXT, endpoint).click()
    close = wait(lambda: button("Close tunnel"), what="the Close tunnel button")
    close.click()
    button("Confirm: close it").click()
    wait(lambda: "closed" in text("main h1"), what="the tunnel's page saying it closed")
    end = time.monotonic() + 5
    while time.monotonic() < end:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            time.sleep(0.1)
        except OSError:
            break
    else:
        fail(f"port {port} still takes connections after the close")
    told = os.path.join(TMP, "t1.err")
    wait(lambda: "closed through the API" in open(told, encoding="utf-8", errors="replace").read(),
         timeout=5, what="the SSH client being told")
    ok("closing a tunnel from its page: the page says so, the port closes, the SSH client is told")

    # --- 360 px -------------------------------------------------------------------------------
    driver.set_window_size(360, 800)
    go("#/tunnels")
    wait(lambda: q("table.tunnels tbody tr"), what="the list at 360 px")
    time.sleep(0.5)
    wide = driver.execute_script("return document.documentElement.scrollWidth")
    if wide > 360 + 1:
        fail(f"the page is {wide} px wide at 360 px")
    ok(f"the tunnel list fits 360 px ({wide} px)")
    shot("narrow")
    driver.set_window_size(1366, 900)

    # --- nothing logged: no CSP violation, no script error ---------------------------------
    bad = [e["message"] for e in driver.get_log("browser")
           if e["level"] == "SEVERE" and "Failed to load resource" not in e["message"]]
    if bad:
        fail(f"the browser logged errors: {bad}")
    ok("the browser logged no error: no CSP violation, no script error")

    # --- the policy holds: markup written as HTML is refused by the browser ------------------
    refused = driver.execute_script("""
        try { document.querySelector('main').innerHTML = '<img src=x>'; return 'written'; }
        catch (e) { return String(e); }""")
    if "TrustedHTML" not in refused or q('img[src="x"]'):
        fail(f"innerHTML was not refused: {refused}")
    ok("the Content-Security-Policy is enforced: innerHTML with markup is refused (Trusted Types)")


driver = make_driver()
try:
    main()
    print("all browser scenarios passed", flush=True)
finally:
    driver.quit()
    for p in procs:
        p.terminate()
