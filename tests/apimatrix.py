#!/usr/bin/env python3
"""tunnelgw: the role matrix of the HTTP API: each role (and the operator) against each action.

    apimatrix.py BASE_URL KEYS.json

KEYS.json maps "viewer", "developer", "manager", "owner" and "operator" to an API key; each
role's key belongs to a member of account "team" named after the role, and account "team" has
members "target-ROLE" and "victim-ROLE" (viewers) and account "other" exists. Prints one line
per check ("ok" or "FAIL") and exits 1 when any failed.
"""
import json
import sys
import urllib.error
import urllib.request

BASE = sys.argv[1].rstrip("/")
KEYS = json.load(open(sys.argv[2]))
ROLES = ["viewer", "developer", "manager", "owner"]
# A throwaway OpenSSH key per caller, for POST keys (made by the shell script: KEYS["pub"]).
PUBS = KEYS.get("pub", {})


def call(key, method, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(BASE + path, data=data, method=method)
    req.add_header("Authorization", "Bearer " + key)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def expect(codes):
    """codes: one code for everyone, or a dict role -> code (operator included)."""
    if isinstance(codes, int):
        return {r: codes for r in ROLES + ["operator"]}
    return codes


def by_rank(lowest_ok, ok, no=403, operator=None):
    """ok from role lowest_ok up (and for the operator), no below it."""
    out = {}
    for r in ROLES:
        out[r] = ok if ROLES.index(r) >= ROLES.index(lowest_ok) else no
    out["operator"] = ok if operator is None else operator
    return out


def operator_only(ok):
    """ok for the operator, 403 for every member."""
    return {r: 403 for r in ROLES} | {"operator": ok}


# Each action: a name, and for a caller (role) the method, path and body.
ACTIONS = [
    ("GET status", lambda r: ("GET", "/status", None), expect(200)),
    ("GET tunnels", lambda r: ("GET", "/tunnels", None), expect(200)),
    ("GET members", lambda r: ("GET", "/members?account=team", None), expect(200)),
    ("GET accounts/team", lambda r: ("GET", "/accounts/team", None), expect(200)),
    ("GET tokens", lambda r: ("GET", "/tokens?account=team", None), expect(200)),
    ("GET keys", lambda r: ("GET", "/keys?account=team", None), expect(200)),
    ("GET apikeys", lambda r: ("GET", "/apikeys?account=team", None), expect(200)),
    ("GET addresses", lambda r: ("GET", "/addresses?account=team", None), expect(200)),
    ("GET tunnels of another account", lambda r: ("GET", "/tunnels?account=other", None),
     operator_only(200)),
    ("POST members (viewer)",
     lambda r: ("POST", "/members", {"account": "team", "name": "new-" + r, "role": "viewer"}),
     by_rank("manager", 201)),
    ("POST members (owner)",
     lambda r: ("POST", "/members", {"account": "team", "name": "boss-" + r, "role": "owner"}),
     by_rank("owner", 201)),
    ("PATCH members (role)",
     lambda r: ("PATCH", "/members/target-" + r + "?account=team", {"role": "developer"}),
     by_rank("owner", 200)),
    ("DELETE members",
     lambda r: ("DELETE", "/members/new-" + r + "?account=team", None),
     by_rank("manager", 204, no=403)),
    ("POST tokens (own)", lambda r: ("POST", "/tokens", {"account": "team"} if r == "operator"
                                     else {}), by_rank("developer", 201)),
    ("POST tokens (another member)",
     lambda r: ("POST", "/tokens", {"account": "team", "member": "victim-" + r}),
     by_rank("manager", 201)),
    ("POST keys (own)",
     lambda r: ("POST", "/keys", {"account": "team", "key": PUBS.get(r, "")}),
     by_rank("developer", 201)),
    ("POST apikeys (own)",
     lambda r: ("POST", "/apikeys", {"operator": True} if r == "operator" else {}),
     expect(201)),
    ("POST apikeys (another member)",
     lambda r: ("POST", "/apikeys", {"account": "team", "member": "victim-" + r}),
     by_rank("manager", 201)),
    ("POST addresses", lambda r: ("POST", "/addresses", {"account": "team"}),
     by_rank("manager", 201)),
    ("POST accounts", lambda r: ("POST", "/accounts", {"name": "acct-" + r}),
     operator_only(201)),
    ("PATCH accounts", lambda r: ("PATCH", "/accounts/team", {"max_tunnels": 50}),
     operator_only(200)),
    ("DELETE accounts", lambda r: ("DELETE", "/accounts/acct-" + r, None),
     operator_only(204)),
]

failed = 0
n = 0
for name, make, want in ACTIONS:
    for who in ROLES + ["operator"]:
        method, path, body = make(who)
        code, text = call(KEYS[who], method, path, body)
        n += 1
        if code == want[who]:
            print("ok %d - %s as %s: %d" % (n, name, who, code))
        else:
            failed += 1
            print("FAIL %d - %s as %s: %d, not %d: %s" % (n, name, who, code, want[who],
                                                          text[:300].decode(errors="replace")))
        if code >= 400 and text:
            doc = json.loads(text)
            if doc.get("status") != code or not doc.get("detail"):
                failed += 1
                print("FAIL - %s as %s: not a problem document: %s" % (name, who, text))
print("%d checks, %d failed" % (n, failed))
sys.exit(1 if failed else 0)
