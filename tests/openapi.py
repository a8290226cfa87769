#!/usr/bin/env python3
"""tunnelgw: check doc/api.yaml, and the running API against it.

    openapi.py check API.yaml ROUTES.c
        The document: OpenAPI 3.1's rules for its structure (the fields an OpenAPI 3.1
        document must have, unique operation ids, every path template's parameters declared,
        every $ref resolving), every schema a valid JSON Schema 2020-12 (python3-jsonschema's
        Draft202012Validator, the dialect of OpenAPI 3.1), and its paths and methods the same
        as the routes src/api-routes.c serves.

    openapi.py walk API.yaml BASE_URL KEY
        Every route of the document against the running gateway, with the operator's KEY:
        each GET's answer valid against its documented schema; every other method answered
        (with a body it must refuse, or an id that does not exist, so nothing changes) by a
        documented status and a problem document.

Prints one line per finding; exits 1 when something is wrong.
"""
import json
import re
import sys
import urllib.error
import urllib.request
import warnings

import yaml
from jsonschema import Draft202012Validator
from jsonschema.validators import RefResolver

# Newer jsonschema warns that RefResolver will go; Debian 12's (4.10) has nothing else.
warnings.filterwarnings("ignore", category=DeprecationWarning)

METHODS = ["get", "put", "post", "delete", "options", "head", "patch", "trace"]
errors = []


def err(msg):
    errors.append(msg)
    print("FAIL - " + msg)


def load(path):
    with open(path) as f:
        return yaml.safe_load(f)


def refs(node, where, out):
    """Every $ref under node, with where it is."""
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "$ref" and isinstance(v, str):
                out.append((where, v))
            else:
                refs(v, where + "/" + str(k), out)
    elif isinstance(node, list):
        for i, v in enumerate(node):
            refs(v, "%s/%d" % (where, i), out)


def resolve(doc, ref):
    if not ref.startswith("#/"):
        return None
    node = doc
    for part in ref[2:].split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def code_routes(path):
    """(path, method) pairs of src/api-routes.c's api_routes[] table."""
    text = open(path).read()
    table = text[text.index("const struct api_route api_routes[] = {"):]
    table = table[:table.index("};")]
    out = set()
    for m in re.finditer(r'\{\s*"([a-z]+)",([^}]*)\}', table, re.S):
        name = m.group(1)
        fns = [f.strip() for f in m.group(2).split(",")][:5]
        list_, create, get, update, remove = fns
        base = "/" + name
        if list_ != "NULL":
            out.add((base, "get"))
        if create != "NULL":
            out.add((base, "post"))
        if get != "NULL":
            out.add((base + "/{}", "get"))
        if update != "NULL":
            out.add((base + "/{}", "patch"))
        if remove != "NULL":
            out.add((base + "/{}", "delete"))
    return out


def check(doc_path, routes_path):
    doc = load(doc_path)
    if not re.match(r"^3\.1\.\d+$", str(doc.get("openapi", ""))):
        err("openapi must be 3.1.x, not %r" % doc.get("openapi"))
    info = doc.get("info", {})
    for f in ("title", "version"):
        if not isinstance(info.get(f), str):
            err("info.%s must be a string" % f)
    paths = doc.get("paths", {})
    ids = set()
    doc_routes = set()
    for p, item in paths.items():
        if not p.startswith("/"):
            err("path %r must start with /" % p)
        names = re.findall(r"\{([^}]+)\}", p)
        declared = {x["name"] for x in item.get("parameters", [])
                    if isinstance(x, dict) and x.get("in") == "path"}
        declared |= {resolve(doc, x["$ref"])["name"] for x in item.get("parameters", [])
                     if isinstance(x, dict) and "$ref" in x and
                     resolve(doc, x["$ref"]).get("in") == "path"}
        for m in METHODS:
            op = item.get(m)
            if op is None:
                continue
            doc_routes.add((re.sub(r"\{[^}]+\}", "{}", p), m))
            oid = op.get("operationId")
            if oid in ids:
                err("operationId %s is used twice" % oid)
            ids.add(oid)
            responses = op.get("responses")
            if not responses:
                err("%s %s has no responses" % (m.upper(), p))
            for code in (responses or {}):
                if not re.match(r"^([1-5][0-9X]{2}|default)$", str(code)):
                    err("%s %s: response key %r" % (m.upper(), p, code))
            opdecl = {x.get("name") for x in op.get("parameters", []) if isinstance(x, dict)
                      and x.get("in") == "path"}
            for n in names:
                if n not in declared | opdecl:
                    err("%s %s: path parameter {%s} is not declared" % (m.upper(), p, n))
    found = []
    refs(doc, "#", found)
    for where, ref in found:
        if resolve(doc, ref) is None:
            err("%s: $ref %s does not resolve" % (where, ref))
    for name, schema in doc.get("components", {}).get("schemas", {}).items():
        try:
            Draft202012Validator.check_schema(schema)
        except Exception as e:
            err("components.schemas.%s is not a valid JSON Schema 2020-12: %s" % (name, e))
    code = code_routes(routes_path)
    for r in sorted(code - doc_routes):
        err("the code serves %s %s, which doc/api.yaml does not describe" % (r[1].upper(), r[0]))
    for r in sorted(doc_routes - code):
        err("doc/api.yaml describes %s %s, which the code does not serve" % (r[1].upper(), r[0]))
    print("checked %d paths, %d operations, %d schemas, %d references" % (
        len(paths), len(doc_routes), len(doc.get("components", {}).get("schemas", {})),
        len(found)))


def call(base, key, method, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(base + path, data=data, method=method.upper())
    req.add_header("Authorization", "Bearer " + key)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.headers.get("Content-Type", ""), r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type", ""), e.read()


def validate(doc, schema, value, what):
    v = Draft202012Validator(schema, resolver=RefResolver("", doc))
    problems = sorted(v.iter_errors(value), key=lambda e: e.path)
    for p in problems[:3]:
        err("%s: %s (at %s)" % (what, p.message, "/".join(str(x) for x in p.path)))
    return not problems


def answer_schema(doc, op, code, ctype):
    resp = op.get("responses", {}).get(str(code))
    if resp is None:
        return None, False
    if "$ref" in resp:
        resp = resolve(doc, resp["$ref"])
    content = resp.get("content")
    if not content:
        return None, True
    media = content.get(ctype.split(";")[0].strip())
    return (media or {}).get("schema"), media is not None


def walk(doc_path, base, key):
    doc = load(doc_path)
    base = base.rstrip("/")
    n = 0
    for p, item in doc["paths"].items():
        for m in METHODS:
            op = item.get(m)
            if op is None:
                continue
            path = p
            body = None
            if "{" in p:
                # An id that does not exist: answered, documented, nothing changes.
                path = re.sub(r"\{[^}]+\}", "999999", p)
                if p.startswith("/accounts/") or p.startswith("/members/"):
                    path = re.sub(r"\{[^}]+\}", "no-such-name", p)
                if p.startswith("/members/"):
                    path += "?account=team"
            if m in ("post", "patch"):
                body = {"no_such_field": 1}
            code, ctype, text = call(base, key, m, path, body)
            n += 1
            what = "%s %s -> %d" % (m.upper(), path, code)
            schema, documented = answer_schema(doc, op, code, ctype)
            if not documented:
                err("%s: status %d with %r is not documented" % (what, code, ctype))
                continue
            if schema is not None:
                if not validate(doc, schema, json.loads(text), what):
                    continue
            print("ok - %s matches the document" % what)
            # A GET list: check each of its items' own GET too.
            if m == "get" and "{" not in p and code == 200:
                data = json.loads(text)
                sub = doc["paths"].get(p + "/{id}") or doc["paths"].get(p + "/{name}")
                name = p.strip("/")
                if sub and sub.get("get") and isinstance(data.get(name), list):
                    for it in data[name][:3]:
                        ident = it.get("id", it.get("name"))
                        c2, t2, x2 = call(base, key, "get", "%s/%s" % (p, ident))
                        s2, d2 = answer_schema(doc, sub["get"], c2, t2)
                        w2 = "GET %s/%s -> %d" % (p, ident, c2)
                        if not d2:
                            err("%s: not documented" % w2)
                        elif s2 is None or validate(doc, s2, json.loads(x2), w2):
                            print("ok - %s matches the document" % w2)
                        n += 1
    print("walked %d requests" % n)


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "check":
        check(sys.argv[2], sys.argv[3])
    elif len(sys.argv) == 5 and sys.argv[1] == "walk":
        walk(sys.argv[2], sys.argv[3], sys.argv[4])
    else:
        sys.exit(__doc__)
    sys.exit(1 if errors else 0)
