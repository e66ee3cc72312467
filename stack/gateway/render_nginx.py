#!/usr/bin/env python3
"""Render a Kong 2.8 declarative config (kong.yml) into an nginx.conf.

The local gateway image runs nginx, not Kong; this renderer gives it the same
routing and plugin semantics for the subset of Kong features the stack uses.
Anything outside that subset (unknown plugins, unknown config keys, unsupported
route matchers) makes the renderer fail loudly: a gateway that silently ignored a
security plugin would be worse than one that does not start.

Usage: render_nginx.py --input kong.yml --output nginx.conf
Exit status 2 with a one-line "render_nginx: error: ..." message on any problem.
"""
import argparse
import ipaddress
import json
import os
import re
import sys
from urllib.parse import urlsplit

import yaml

# render_tls.py sits next to this file (in the image too: /usr/local/bin)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import render_tls  # noqa: E402

HTTP_PORT = 8000
STATUS_PORT = 8101
RESOLVER = os.environ.get("GATEWAY_RESOLVER", "127.0.0.11")

MSG_NO_KEY = "No API key found in request"
MSG_BAD_KEY = "Invalid authentication credentials"
MSG_ACL = "You cannot consume this service"
MSG_RATE = "API rate limit exceeded"
MSG_IP = "Your IP address is not allowed"
MSG_NO_ROUTE = "no Route matched with those values"
MSG_502 = "An invalid response was received from the upstream server"
MSG_503 = "name resolution failed"
MSG_504 = "The upstream server is timing out"
KONG_DEFAULT_CORS_METHODS = "GET,HEAD,PUT,PATCH,POST,DELETE,OPTIONS,TRACE,CONNECT"
INVALID = "<invalid>"


class RenderError(Exception):
    pass


# --------------------------------------------------------------------------- env
VAR_RE = re.compile(
    r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}|([A-Za-z_][A-Za-z0-9_]*))"
)


def substitute_env(text, env):
    """Replace $NAME and ${NAME:-default} like upstream Kong's `eval echo`.

    Unlike the shell, an unset or empty variable without a default is an error
    naming the variable. Comment lines are left untouched.
    """
    missing = []
    out = []
    for lineno, line in enumerate(text.splitlines(True), 1):
        if line.lstrip().startswith("#"):
            out.append(line)
            continue

        def repl(m):
            name = m.group(1) or m.group(3)
            default = m.group(2)
            val = env.get(name)
            if val is None or val == "":
                if default is not None:
                    return default
                missing.append("$%s (line %d)" % (name, lineno))
                return ""
            if "\n" in val or "\r" in val:
                raise RenderError("environment variable %s contains a newline" % name)
            return val

        out.append(VAR_RE.sub(repl, line))
    if missing:
        raise RenderError(
            "environment variable(s) used in kong.yml are not set or empty: "
            + ", ".join(missing)
        )
    return "".join(out)


# ---------------------------------------------------------------------- helpers
def nq(value):
    """Quote a value for nginx.conf (double quotes, escaped)."""
    s = str(value)
    if any(c in s for c in "\n\r"):
        raise RenderError("value %r contains a newline" % s)
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("$", "${gw_dollar}") + '"'


def map_key(value):
    """A literal (non-regex) map source value."""
    s = str(value)
    if s.startswith("~"):
        s = "\\" + s
    return nq(s)


def ident(name):
    return re.sub(r"[^A-Za-z0-9_]", "_", name)


def json_msg(message):
    return json.dumps({"message": message}, separators=(",", ":"))


def check_keys(where, obj, allowed):
    if not isinstance(obj, dict):
        raise RenderError("%s: expected a mapping, got %r" % (where, obj))
    unknown = sorted(set(obj) - set(allowed))
    if unknown:
        raise RenderError("%s: unsupported key(s) %s" % (where, ", ".join(unknown)))


def as_list(where, value):
    if value is None:
        return []
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    if not isinstance(value, list):
        raise RenderError("%s: expected a list, got %r" % (where, value))
    return [str(v) for v in value]


def header_var(name):
    if not re.match(r"^[A-Za-z0-9_-]+$", name):
        raise RenderError("invalid header name %r" % name)
    return "$http_" + name.lower().replace("-", "_")


def parse_header_pairs(where, items):
    pairs = []
    for item in as_list(where, items):
        if ":" not in item:
            raise RenderError("%s: expected 'Name: value', got %r" % (where, item))
        name, value = item.split(":", 1)
        name, value = name.strip(), value.strip()
        header_var(name)
        if "$" in value:
            raise RenderError("%s: unsupported dynamic value %r (Lua expressions are not supported)" % (where, value))
        pairs.append((name, value))
    return pairs


# ---------------------------------------------------------------- plugin parse
PLUGIN_KEYS = {"name", "config", "enabled", "_comment", "protocols", "tags"}
SUPPORTED_PLUGINS = {
    "cors", "key-auth", "acl", "rate-limiting", "request-transformer",
    "response-transformer", "ip-restriction", "request-termination", "prometheus",
}


def parse_plugin(where, p):
    check_keys(where, p, PLUGIN_KEYS)
    name = p.get("name")
    if name not in SUPPORTED_PLUGINS:
        raise RenderError(
            "%s: plugin %r is not supported by the nginx renderer (supported: %s)"
            % (where, name, ", ".join(sorted(SUPPORTED_PLUGINS)))
        )
    where = "%s plugin %s" % (where, name)
    conf = p.get("config") or {}
    if p.get("enabled", True) is not True:
        return None
    fn = globals()["plugin_" + name.replace("-", "_")]
    return name, fn(where, conf)


def plugin_cors(where, c):
    check_keys(where, c, {"origins", "methods", "headers", "exposed_headers",
                          "credentials", "max_age", "preflight_continue"})
    if c.get("preflight_continue"):
        raise RenderError("%s: preflight_continue=true is not supported" % where)
    origins = as_list(where + " origins", c.get("origins"))
    for o in origins:
        if o != "*" and not re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://[^\s,\"'$]+$", o):
            raise RenderError("%s: origin %r is not an exact origin (scheme://host[:port]) or '*'" % (where, o))
    max_age = c.get("max_age")
    if max_age is not None and not isinstance(max_age, int):
        raise RenderError("%s: max_age must be an integer" % where)
    return {
        "origins": origins or ["*"],
        "methods": ",".join(as_list(where, c.get("methods"))) or KONG_DEFAULT_CORS_METHODS,
        "headers": ",".join(as_list(where, c.get("headers"))),
        "exposed": ",".join(as_list(where, c.get("exposed_headers"))),
        "credentials": bool(c.get("credentials", False)),
        "max_age": max_age,
    }


def plugin_key_auth(where, c):
    check_keys(where, c, {"key_names", "hide_credentials", "key_in_header", "key_in_query",
                          "key_in_body", "run_on_preflight", "anonymous"})
    if c.get("hide_credentials"):
        raise RenderError("%s: hide_credentials=true is not supported" % where)
    if c.get("anonymous"):
        raise RenderError("%s: anonymous consumers are not supported" % where)
    if c.get("key_in_body"):
        raise RenderError("%s: key_in_body is not supported" % where)
    names = as_list(where, c.get("key_names")) or ["apikey"]
    for n in names:
        header_var(n)
    return {"key_names": tuple(names), "in_header": c.get("key_in_header", True) is not False,
            "in_query": c.get("key_in_query", True) is not False}


def plugin_acl(where, c):
    check_keys(where, c, {"allow", "deny", "hide_groups_header", "whitelist", "blacklist"})
    allow = as_list(where, c.get("allow", c.get("whitelist")))
    deny = as_list(where, c.get("deny", c.get("blacklist")))
    if bool(allow) == bool(deny):
        raise RenderError("%s: exactly one of allow / deny must be set" % where)
    return {"allow": allow, "deny": deny, "hide_groups": c.get("hide_groups_header", False)}


def _positive_int(where, v):
    try:
        iv = int(str(v))
    except ValueError:
        raise RenderError("%s: %r is not an integer" % (where, v))
    if iv <= 0:
        raise RenderError("%s: %r must be > 0" % (where, v))
    return iv


def plugin_rate_limiting(where, c):
    check_keys(where, c, {"second", "minute", "hour", "day", "month", "year", "policy",
                          "limit_by", "fault_tolerant", "hide_client_headers", "header_name",
                          "path"})
    for unit in ("hour", "day", "month", "year"):
        if c.get(unit) is not None:
            raise RenderError("%s: limit per %s is not supported (only second, minute)" % (where, unit))
    if c.get("policy", "local") != "local":
        raise RenderError("%s: policy %r is not supported (only local)" % (where, c.get("policy")))
    limit_by = c.get("limit_by", "consumer")
    if limit_by not in ("ip", "consumer"):
        raise RenderError("%s: limit_by %r is not supported (ip, consumer)" % (where, limit_by))
    limits = {}
    for unit in ("second", "minute"):
        if c.get(unit) is not None:
            limits[unit] = _positive_int("%s %s" % (where, unit), c[unit])
    if not limits:
        raise RenderError("%s: set second and/or minute" % where)
    return {"limits": limits, "limit_by": limit_by}


def plugin_request_transformer(where, c):
    check_keys(where, c, {"add", "append", "replace", "remove", "rename", "http_method"})
    if c.get("http_method"):
        raise RenderError("%s: http_method is not supported" % where)
    out = {}
    for op in ("add", "append", "replace", "remove", "rename"):
        section = c.get(op) or {}
        check_keys("%s %s" % (where, op), section, {"headers", "querystring", "body", "uri"})
        for part in ("querystring", "body", "uri"):
            if section.get(part):
                raise RenderError("%s: %s.%s is not supported (headers only)" % (where, op, part))
        hs = section.get("headers")
        if op == "remove":
            out[op] = [h for h in as_list(where, hs)]
            for h in out[op]:
                header_var(h)
        elif op == "rename":
            if hs:
                raise RenderError("%s: rename is not supported" % where)
        else:
            out[op] = parse_header_pairs("%s %s.headers" % (where, op), hs)
    return out


def plugin_response_transformer(where, c):
    check_keys(where, c, {"add", "append", "replace", "remove", "rename"})
    out = {"add": [], "remove": []}
    for op in ("add", "append", "replace", "remove", "rename"):
        section = c.get(op) or {}
        check_keys("%s %s" % (where, op), section, {"headers", "json", "json_types"})
        if section.get("json"):
            raise RenderError("%s: %s.json is not supported (headers only)" % (where, op))
        hs = section.get("headers")
        if not hs:
            continue
        if op == "remove":
            out["remove"] += as_list(where, hs)
        elif op in ("add", "replace", "append"):
            # nginx hides the upstream's header and sets ours: add/replace/append
            # all end up with exactly the configured value.
            out["add"] += parse_header_pairs("%s %s.headers" % (where, op), hs)
        else:
            raise RenderError("%s: rename is not supported" % where)
    return out


def plugin_ip_restriction(where, c):
    check_keys(where, c, {"allow", "deny", "whitelist", "blacklist", "status", "message"})
    allow = as_list(where, c.get("allow", c.get("whitelist")))
    deny = as_list(where, c.get("deny", c.get("blacklist")))
    if not allow and not deny:
        raise RenderError("%s: allow or deny must list at least one address" % where)
    nets = {}
    for kind, lst in (("allow", allow), ("deny", deny)):
        nets[kind] = []
        for a in lst:
            try:
                nets[kind].append(str(ipaddress.ip_network(a, strict=False)))
            except ValueError:
                raise RenderError("%s: %r is not an IP address or CIDR" % (where, a))
    return {"allow": nets["allow"], "deny": nets["deny"],
            "status": int(c.get("status") or 403), "message": c.get("message") or MSG_IP}


def plugin_prometheus(where, c):
    # Kong serves its metrics on the status listener; here nginx's stub_status (port 8101)
    # is exported by the gateway-exporter service instead, so nothing is rendered.
    check_keys(where, c, {"per_consumer", "status_code_metrics", "latency_metrics",
                          "bandwidth_metrics", "upstream_health_metrics"})
    return {}


def plugin_request_termination(where, c):
    check_keys(where, c, {"status_code", "message", "body", "content_type"})
    status = int(c.get("status_code", 503))
    if c.get("body") is not None:
        return {"status": status, "body": str(c["body"]),
                "content_type": c.get("content_type") or "application/json; charset=utf-8"}
    return {"status": status, "body": json_msg(c.get("message") or "Service unavailable"),
            "content_type": "application/json; charset=utf-8"}


# ---------------------------------------------------------------- config model
def load_config(text, env):
    try:
        data = yaml.safe_load(substitute_env(text, env))
    except yaml.YAMLError as e:
        raise RenderError("kong.yml is not valid YAML after variable substitution (a value "
                          "starting with * or & must be quoted, e.g. CORS_ALLOWED_ORIGINS='\"*\"'): %s"
                          % str(e).replace("\n", " "))
    if not isinstance(data, dict):
        raise RenderError("kong.yml: top level must be a mapping")
    check_keys("kong.yml", data, {"_format_version", "_transform", "_comment", "consumers",
                                  "acls", "keyauth_credentials", "basicauth_credentials",
                                  "plugins", "services"})
    if str(data.get("_format_version")) not in ("1.1", "2.1"):
        raise RenderError("kong.yml: _format_version must be '2.1' (or '1.1')")

    consumers = {}
    for i, c in enumerate(data.get("consumers") or []):
        check_keys("consumers[%d]" % i, c, {"username", "custom_id", "keyauth_credentials",
                                            "acls", "basicauth_credentials", "_comment", "tags"})
        name = c.get("username")
        if not name or not re.match(r"^[A-Za-z0-9_.@-]+$", str(name)):
            raise RenderError("consumers[%d]: invalid username %r" % (i, name))
        consumers[name] = {"keys": [], "groups": []}
        for k in c.get("keyauth_credentials") or []:
            check_keys("consumer %s keyauth_credentials" % name, k, {"key", "tags"})
            consumers[name]["keys"].append(k.get("key"))
        for a in c.get("acls") or []:
            check_keys("consumer %s acls" % name, a, {"group", "tags"})
            consumers[name]["groups"].append(str(a.get("group")))

    def consumer_of(where, rec):
        cname = rec.get("consumer")
        if cname not in consumers:
            raise RenderError("%s: unknown consumer %r" % (where, cname))
        return cname

    for i, a in enumerate(data.get("acls") or []):
        check_keys("acls[%d]" % i, a, {"consumer", "group", "tags"})
        consumers[consumer_of("acls[%d]" % i, a)]["groups"].append(str(a.get("group")))
    for i, k in enumerate(data.get("keyauth_credentials") or []):
        check_keys("keyauth_credentials[%d]" % i, k, {"consumer", "key", "tags"})
        consumers[consumer_of("keyauth_credentials[%d]" % i, k)]["keys"].append(k.get("key"))
    for i, b in enumerate(data.get("basicauth_credentials") or []):
        # accepted (the DASHBOARD consumer exists upstream) but no route here uses basic-auth
        check_keys("basicauth_credentials[%d]" % i, b, {"consumer", "username", "password", "tags"})
        consumer_of("basicauth_credentials[%d]" % i, b)

    seen = {}
    for cname, c in consumers.items():
        for k in c["keys"]:
            k = "" if k is None else str(k)
            if not re.match(r"^[A-Za-z0-9._~+/=-]+$", k):
                raise RenderError("consumer %s: key-auth key is empty or has characters outside "
                                  "[A-Za-z0-9._~+/=-]" % cname)
            if k in seen and seen[k] != cname:
                raise RenderError("key-auth key shared by consumers %s and %s" % (seen[k], cname))
            seen[k] = cname
        c["keys"] = [str(k) for k in c["keys"]]

    global_plugins = {}
    for i, p in enumerate(data.get("plugins") or []):
        parsed = parse_plugin("plugins[%d]" % i, p)
        if parsed:
            global_plugins[parsed[0]] = parsed[1]

    routes = []
    paths_seen = {}
    for si, s in enumerate(data.get("services") or []):
        sw = "services[%d]" % si
        check_keys(sw, s, {"name", "url", "protocol", "host", "port", "path", "routes", "plugins",
                           "connect_timeout", "read_timeout", "write_timeout", "retries",
                           "_comment", "tags"})
        sname = s.get("name") or sw
        sw = "service %s" % sname
        if s.get("url"):
            u = urlsplit(str(s["url"]))
            scheme, host, port, path = u.scheme, u.hostname, u.port, u.path
            if u.query or u.fragment:
                raise RenderError("%s: url must not have a query or fragment" % sw)
        else:
            scheme, host = s.get("protocol", "http"), s.get("host")
            port, path = s.get("port"), s.get("path")
        scheme = {"ws": "http", "wss": "https"}.get(scheme or "http", scheme or "http")
        if scheme not in ("http", "https"):
            raise RenderError("%s: protocol %r is not supported" % (sw, scheme))
        if not host or not re.match(r"^[A-Za-z0-9.-]+$", host):
            raise RenderError("%s: invalid upstream host %r" % (sw, host))
        port = int(port or (443 if scheme == "https" else 80))
        path = path or "/"
        if not re.match(r"^/[A-Za-z0-9._~/-]*$", path):
            raise RenderError("%s: unsupported upstream path %r" % (sw, path))
        timeouts = {}
        for t in ("connect_timeout", "read_timeout", "write_timeout"):
            timeouts[t] = _positive_int("%s %s" % (sw, t), s.get(t, 60000))
        svc_plugins = {}
        for i, p in enumerate(s.get("plugins") or []):
            parsed = parse_plugin("%s plugins[%d]" % (sw, i), p)
            if parsed:
                svc_plugins[parsed[0]] = parsed[1]
        if not s.get("routes"):
            raise RenderError("%s: has no routes" % sw)
        for ri, r in enumerate(s["routes"]):
            rw = "%s route[%d]" % (sw, ri)
            check_keys(rw, r, {"name", "paths", "strip_path", "protocols", "preserve_host",
                               "path_handling", "plugins", "_comment", "tags",
                               "https_redirect_status_code", "regex_priority",
                               "request_buffering", "response_buffering"})
            rname = r.get("name") or "%s-%d" % (sname, ri)
            rw = "route %s" % rname
            protocols = as_list(rw, r.get("protocols")) or ["http", "https"]
            bad = set(protocols) - {"http", "https", "ws", "wss"}
            if bad:
                raise RenderError("%s: protocols %s not supported" % (rw, sorted(bad)))
            if r.get("path_handling", "v0") != "v0":
                raise RenderError("%s: only path_handling v0 is supported" % rw)
            paths = as_list(rw, r.get("paths"))
            if not paths:
                raise RenderError("%s: needs at least one path prefix" % rw)
            plugins = dict(global_plugins)
            plugins.update(svc_plugins)
            for i, p in enumerate(r.get("plugins") or []):
                parsed = parse_plugin("%s plugins[%d]" % (rw, i), p)
                if parsed:
                    plugins[parsed[0]] = parsed[1]
            if "acl" in plugins and "key-auth" not in plugins:
                raise RenderError("%s: acl needs key-auth on the same route" % rw)
            for pth in paths:
                if not re.match(r"^/[A-Za-z0-9._~/-]*$", pth):
                    raise RenderError("%s: path %r is not a plain prefix (regex paths are not supported)" % (rw, pth))
                if pth in paths_seen:
                    raise RenderError("%s: path %s already used by route %s" % (rw, pth, paths_seen[pth]))
                paths_seen[pth] = rname
                routes.append({
                    "name": rname, "service": sname, "prefix": pth,
                    "strip_path": r.get("strip_path", True) is not False,
                    "preserve_host": bool(r.get("preserve_host", False)),
                    "scheme": scheme, "host": host, "port": port, "path": path,
                    "timeouts": timeouts, "plugins": plugins,
                })
    if not routes:
        raise RenderError("kong.yml: no services/routes defined")
    return {"consumers": consumers, "routes": routes, "global_plugins": global_plugins}


# ------------------------------------------------------------------- rendering
def render(cfg, error_log="/dev/stderr", tls=None):
    """tls: render_tls.TLSSettings, or None for the plain port only."""
    consumers = cfg["consumers"]
    routes = sorted(cfg["routes"], key=lambda r: -len(r["prefix"]))
    http = []   # http-level directives (maps, zones)
    w = http.append

    # key extraction chains, one per distinct key-auth setting
    key_vars = {}
    for r in routes:
        ka = r["plugins"].get("key-auth")
        if not ka:
            continue
        sig = (ka["key_names"], ka["in_header"], ka["in_query"])
        if sig in key_vars:
            r["key_var"], r["consumer_var"] = key_vars[sig]
            continue
        n = len(key_vars)
        sources = []
        for kn in ka["key_names"]:
            if ka["in_header"]:
                sources.append(header_var(kn))
            if ka["in_query"]:
                sources.append("$arg_" + kn.replace("-", "_"))
        # the first non-empty source wins: header before query string, as Kong does
        prev = '""'
        for i, src in enumerate(reversed(sources)):
            var = "$gw_key%d_%d" % (n, i)
            w("map %s %s { \"\" %s; default %s; }" % (src, var, prev, src))
            prev = var
        key_var = prev
        consumer_var = "$gw_consumer%d" % n
        w("map %s %s {" % (key_var, consumer_var))
        w('    "" "";')
        for cname, c in consumers.items():
            for k in c["keys"]:
                w("    %s %s;" % (map_key(k), nq(cname)))
        w("    default %s;" % nq(INVALID))
        w("}")
        key_vars[sig] = (key_var, consumer_var)
        r["key_var"], r["consumer_var"] = key_var, consumer_var

    for idx, r in enumerate(routes):
        r["id"] = "%d_%s" % (idx, ident(r["name"]))
        p = r["plugins"]
        if "acl" in p:
            acl = p["acl"]
            ok = []
            for cname, c in consumers.items():
                groups = set(c["groups"])
                if acl["allow"]:
                    if groups & set(acl["allow"]):
                        ok.append(cname)
                elif not groups & set(acl["deny"]):
                    ok.append(cname)
            r["acl_var"] = "$gw_acl_%s" % r["id"]
            w("map %s %s {" % (r["consumer_var"], r["acl_var"]))
            w("    default 0;")
            for cname in ok:
                w("    %s 1;" % nq(cname))
            w("}")
            r["acl_consumers"] = ok
            if not acl["hide_groups"]:
                r["groups_var"] = "$gw_groups_%s" % r["id"]
                w("map %s %s {" % (r["consumer_var"], r["groups_var"]))
                w('    default "";')
                for cname, c in consumers.items():
                    if c["groups"]:
                        w("    %s %s;" % (nq(cname), nq(", ".join(c["groups"]))))
                w("}")
        if "ip-restriction" in p:
            ipr = p["ip-restriction"]
            if ipr["allow"]:
                r["ip_allow_var"] = "$gw_ipallow_%s" % r["id"]
                w("geo %s {" % r["ip_allow_var"])
                w("    default 0;")
                for net in ipr["allow"]:
                    w("    %s 1;" % net)
                w("}")
            if ipr["deny"]:
                r["ip_deny_var"] = "$gw_ipdeny_%s" % r["id"]
                w("geo %s {" % r["ip_deny_var"])
                w("    default 0;")
                for net in ipr["deny"]:
                    w("    %s 1;" % net)
                w("}")
        if "cors" in p:
            cors = p["cors"]
            r["cors_origin_var"] = "$gw_cors_origin_%s" % r["id"]
            w("map $http_origin %s {" % r["cors_origin_var"])
            if "*" in cors["origins"]:
                # Kong: '*' with credentials echoes the request origin (ACAO '*' and
                # credentials are incompatible); without credentials it sends '*'.
                w('    "" "*";')
                w('    default %s;' % ("$http_origin" if cors["credentials"] else '"*"'))
            else:
                w('    default "";')
                for o in cors["origins"]:
                    w("    %s $http_origin;" % map_key(o))
            w("}")
            r["cors_cred_var"] = "$gw_cors_cred_%s" % r["id"]
            w("map %s %s { \"\" \"\"; default true; }" % (r["cors_origin_var"], r["cors_cred_var"]))
            r["cors_headers_var"] = "$gw_cors_hdrs_%s" % r["id"]
            if cors["headers"]:
                w("map $http_origin %s { default %s; }" % (r["cors_headers_var"], nq(cors["headers"])))
            else:
                w("map $http_access_control_request_headers %s { default $http_access_control_request_headers; }"
                  % r["cors_headers_var"])
        if "rate-limiting" in p:
            rl = p["rate-limiting"]
            key = "$binary_remote_addr" if rl["limit_by"] == "ip" else r.get("consumer_var", "$binary_remote_addr")
            r["rl_zones"] = []
            for unit, n in rl["limits"].items():
                zone = "gw_rl_%s_%s" % (r["id"], unit)
                w("limit_req_zone %s zone=%s:10m rate=%dr/%s;" % (key, zone, n, unit[0]))
                r["rl_zones"].append((zone, max(n - 1, 0)))
        rt = p.get("request-transformer") or {}
        r["req_headers"] = []
        for j, (h, v) in enumerate(rt.get("add", [])):
            var = "$gw_rt_%s_%d" % (r["id"], j)
            w("map %s %s { \"\" %s; default %s; }" % (header_var(h), var, nq(v), header_var(h)))
            r["req_headers"].append((h, var))
        for j, (h, v) in enumerate(rt.get("replace", [])):
            var = "$gw_rtr_%s_%d" % (r["id"], j)
            w("map %s %s { \"\" \"\"; default %s; }" % (header_var(h), var, nq(v)))
            r["req_headers"].append((h, var))
        for j, (h, v) in enumerate(rt.get("append", [])):
            var = "$gw_rta_%s_%d" % (r["id"], j)
            w("map %s %s { \"\" %s; default \"%s, %s\"; }" % (header_var(h), var, nq(v), header_var(h), nq(v)[1:-1]))
            r["req_headers"].append((h, var))
        for h in rt.get("remove", []):
            r["req_headers"].append((h, '""'))

    gresp = cfg["global_plugins"].get("response-transformer") or {"add": [], "remove": []}

    def sec_headers(resp, ind):
        out = []
        for h, v in resp["add"]:
            out.append("%sadd_header %s %s always;" % (ind, h, nq(v)))
        if tls:
            out.append(render_tls.hsts_header(ind))
        return out

    def hide_headers(resp, ind):
        names = [h for h, _ in resp["add"]] + resp["remove"]
        return ["%sproxy_hide_header %s;" % (ind, h) for h in names]

    L = []
    a = L.append
    a("# Generated by render_nginx.py from kong.yml at container start. Do not edit.")
    a("worker_processes 4;")
    a("worker_rlimit_nofile 20000;")
    a("pid /run/gateway/nginx.pid;")
    a("error_log %s warn;" % error_log)
    a("events {")
    a("    worker_connections 16000;")
    a("    multi_accept on;")
    a("}")
    a("http {")
    longest = max([len(k) for c in consumers.values() for k in c["keys"]] +
                  [len(o) for r in routes for o in (r["plugins"].get("cors") or {}).get("origins", [])] + [32])
    bucket = 64
    while bucket < longest + 32:
        bucket *= 2
    a("    server_tokens off;")
    a("    map_hash_bucket_size %d;  # must hold the longest key-auth key / origin" % bucket)
    a("    map_hash_max_size 4096;")
    a("    variables_hash_max_size 4096;")
    a("    default_type \"application/json; charset=utf-8\";")
    a("    sendfile on;")
    a("    tcp_nodelay on;")
    a("    keepalive_timeout 65s;")
    a("    client_max_body_size 100m;")
    # Re-resolve upstreams every 2 s: a recreated service gets a new address, and its
    # healthcheck (every 5 s) turns healthy only after the old address has expired here.
    a("    resolver %s valid=2s ipv6=off;" % RESOLVER)
    a("    resolver_timeout 3s;")
    a("    proxy_buffering on;")
    a("    client_body_temp_path /run/gateway/client_body;")
    a("    proxy_temp_path /run/gateway/proxy;")
    a("    fastcgi_temp_path /run/gateway/fastcgi;")
    a("    uwsgi_temp_path /run/gateway/uwsgi;")
    a("    scgi_temp_path /run/gateway/scgi;")
    a("    limit_req_status 429;")
    a("    limit_req_log_level warn;")
    a("    # Logs the path only: no query string (apikey) and no Authorization header.")
    a("    log_format gw_json escape=json '{\"time\":\"$time_iso8601\",\"remote_addr\":\"$remote_addr\","
      "\"method\":\"$request_method\",\"uri\":\"$gw_log_path\",\"status\":$status,"
      "\"body_bytes_sent\":$body_bytes_sent,\"request_time\":$request_time,"
      "\"upstream_response_time\":\"$upstream_response_time\",\"upstream_addr\":\"$upstream_addr\","
      "\"upstream_status\":\"$upstream_status\",\"route\":\"$gw_route\",\"consumer\":\"$gw_log_consumer\","
      "\"user_agent\":\"$http_user_agent\"}';")
    a("    access_log /dev/stdout gw_json;")
    a("    geo $gw_dollar { default \"$\"; }")
    a("    map $http_upgrade $gw_connection { default upgrade; \"\" \"\"; }")
    a("    map $http_x_forwarded_proto $gw_fwd_proto { default $http_x_forwarded_proto; \"\" $scheme; }")
    a("    map $request_method:$http_access_control_request_method $gw_preflight { default 0; \"~^OPTIONS:.\" 1; }")
    for line in http + (render_tls.http_directives(tls) if tls else []):
        a("    " + line)
    a("")
    # in-network status server for the exporter
    a("    server {")
    a("        listen %d;" % STATUS_PORT)
    a("        access_log off;")
    a("        location = /stub_status { stub_status; }")
    a("        location = /nginx_status { stub_status; }")
    a("        location / { return 404 %s; }" % nq(json_msg("Not found")))
    a("    }")
    a("")
    if tls:
        L.extend(render_tls.public_http_server(tls, sec_headers(gresp, "            ")))
    a("    server {")
    a("        listen %d reuseport backlog=4096;" % HTTP_PORT)
    if tls:
        L.extend(render_tls.api_server_directives(tls, "        "))
    a("        set $gw_log_path $uri;  # before any route rewrite")
    a("        set $gw_route \"\";")
    a("        set $gw_log_consumer \"\";")
    a("        error_page 502 = @gw_502;")
    a("        error_page 503 = @gw_503;")
    a("        error_page 504 = @gw_504;")
    a("        error_page 429 = @gw_429;")
    for code, loc, msg in ((502, "@gw_502", MSG_502), (503, "@gw_503", MSG_503),
                           (504, "@gw_504", MSG_504), (429, "@gw_429", MSG_RATE)):
        a("        location %s {" % loc)
        L.extend(sec_headers(gresp, "            "))
        if code == 502:
            a("            if ($upstream_addr = \"\") { return 503 %s; }" % nq(json_msg(MSG_503)))
        a("            return %d %s;" % (code, nq(json_msg(msg))))
        a("        }")
    a("        location = /health {")
    a("            access_log off;")
    L.extend(sec_headers(gresp, "            "))
    a("            return 200 '{\"status\":\"ok\"}';")
    a("        }")
    a("        location / {")
    L.extend(sec_headers(gresp, "            "))
    a("            return 404 %s;" % nq(json_msg(MSG_NO_ROUTE)))
    a("        }")

    for r in routes:
        p = r["plugins"]
        I = "            "
        a("")
        a("        # route %s (service %s)" % (r["name"], r["service"]))
        a("        location ^~ %s {" % r["prefix"])
        a(I + "set $gw_route %s;" % nq(r["name"]))
        # every set before the rewrite: "rewrite ... break" ends the rewrite-phase script
        a(I + "set $gw_upstream %s;" % nq("%s:%d" % (r["host"], r["port"])))
        resp = {"add": list(gresp["add"]), "remove": list(gresp["remove"])}
        if "response-transformer" in p and p["response-transformer"] is not gresp:
            resp["add"] += p["response-transformer"]["add"]
            resp["remove"] += p["response-transformer"]["remove"]
        # --- response headers (every response, errors included)
        L.extend(sec_headers(resp, I))
        cors = p.get("cors")
        if cors:
            ov = r["cors_origin_var"]
            a(I + "add_header Access-Control-Allow-Origin %s always;" % ov)
            if cors["credentials"]:
                a(I + "add_header Access-Control-Allow-Credentials %s always;" % r["cors_cred_var"])
            if cors["exposed"]:
                a(I + "add_header Access-Control-Expose-Headers %s always;" % nq(cors["exposed"]))
            if len(cors["origins"]) > 1 or cors["origins"] != ["*"] or cors["credentials"]:
                a(I + "add_header Vary Origin always;")
            for h in ("Access-Control-Allow-Origin", "Access-Control-Allow-Credentials",
                      "Access-Control-Expose-Headers", "Access-Control-Allow-Methods",
                      "Access-Control-Allow-Headers", "Access-Control-Max-Age"):
                a(I + "proxy_hide_header %s;" % h)
        L.extend(hide_headers(resp, I))
        # --- Kong plugin order: ip-restriction (3000), cors (2000), key-auth (1003),
        #     acl (950), rate-limiting (901), request-termination (2)
        if "ip-restriction" in p:
            ipr = p["ip-restriction"]
            body = nq(json_msg(ipr["message"]))
            if "ip_deny_var" in r:
                a(I + "if (%s) { return %d %s; }" % (r["ip_deny_var"], ipr["status"], body))
            if "ip_allow_var" in r:
                a(I + "if (%s = 0) { return %d %s; }" % (r["ip_allow_var"], ipr["status"], body))
        if cors:
            a(I + "if ($gw_preflight) {")
            a(I + "    add_header Access-Control-Allow-Origin %s always;" % r["cors_origin_var"])
            if cors["credentials"]:
                a(I + "    add_header Access-Control-Allow-Credentials %s always;" % r["cors_cred_var"])
            a(I + "    add_header Access-Control-Allow-Methods %s always;" % nq(cors["methods"]))
            a(I + "    add_header Access-Control-Allow-Headers %s always;" % r["cors_headers_var"])
            if cors["max_age"] is not None:
                a(I + "    add_header Access-Control-Max-Age %d always;" % cors["max_age"])
            a(I + "    add_header Vary Origin always;")
            L.extend(sec_headers(resp, I + "    "))
            a(I + "    return 200;")
            a(I + "}")
        if "key-auth" in p:
            cv = r["consumer_var"]
            a(I + "set $gw_log_consumer %s;" % cv)
            a(I + "if (%s = \"\") { return 401 %s; }" % (cv, nq(json_msg(MSG_NO_KEY))))
            a(I + "if (%s = %s) { return 401 %s; }" % (cv, nq(INVALID), nq(json_msg(MSG_BAD_KEY))))
        if "acl" in p:
            a(I + "if (%s = 0) { return 403 %s; }" % (r["acl_var"], nq(json_msg(MSG_ACL))))
        for zone, burst in r.get("rl_zones", []):
            a(I + "limit_req zone=%s burst=%d nodelay;" % (zone, burst))
        if "request-termination" in p:
            t = p["request-termination"]
            a(I + "default_type %s;" % nq(t["content_type"]))
            a(I + "return %d %s;" % (t["status"], nq(t["body"])))
            a("        }")
            continue
        # --- proxying (Kong strip_path / path_handling v0)
        prefix, spath = r["prefix"], r["path"]
        if r["strip_path"]:
            target = spath
            if prefix.endswith("/") and not spath.endswith("/"):
                target = spath + "/"
            elif spath.endswith("/") and not prefix.endswith("/"):
                target = spath[:-1] if spath != "/" else ""
            pattern = re.escape(prefix)
            if not target:  # prefix without slash onto service path "/"
                pattern, target = pattern + "/?", "/"
            a(I + "rewrite ^%s(.*)$ %s$1 break;" % (pattern, target))
        elif spath != "/":
            a(I + "rewrite ^(.*)$ %s$1 break;" % spath.rstrip("/"))
        a(I + "proxy_pass %s://$gw_upstream;" % r["scheme"])
        a(I + "proxy_http_version 1.1;")
        if r["preserve_host"]:
            a(I + "proxy_set_header Host $http_host;")
        else:
            a(I + "proxy_set_header Host $proxy_host;")
        a(I + "proxy_set_header Upgrade $http_upgrade;")
        a(I + "proxy_set_header Connection $gw_connection;")
        a(I + "proxy_set_header X-Real-IP $remote_addr;")
        a(I + "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;")
        a(I + "proxy_set_header X-Forwarded-Proto $gw_fwd_proto;")
        a(I + "proxy_set_header X-Forwarded-Host $host;")
        a(I + "proxy_set_header X-Forwarded-Port $server_port;")
        if r["strip_path"]:
            a(I + "proxy_set_header X-Forwarded-Prefix %s;" % nq(prefix.rstrip("/") or "/"))
        if "key-auth" in p:
            a(I + "proxy_set_header X-Consumer-Username $gw_log_consumer;")
            if "groups_var" in r:
                a(I + "proxy_set_header X-Consumer-Groups %s;" % r["groups_var"])
        for h, var in r["req_headers"]:
            a(I + "proxy_set_header %s %s;" % (h, var))
        t = r["timeouts"]
        a(I + "proxy_connect_timeout %dms;" % t["connect_timeout"])
        a(I + "proxy_read_timeout %dms;" % t["read_timeout"])
        a(I + "proxy_send_timeout %dms;" % t["write_timeout"])
        a("        }")
    a("    }")
    a("}")
    return "\n".join(L) + "\n"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--input", default=os.environ.get("KONG_DECLARATIVE_CONFIG", "/etc/gateway/kong.yml"))
    ap.add_argument("--output", default=os.environ.get("GATEWAY_NGINX_CONF", "/run/gateway/nginx.conf"))
    ap.add_argument("--error-log", default="/dev/stderr",
                    help="where nginx writes its error log (the entrypoint passes a redacting pipe)")
    ap.add_argument("--tls", action="store_true",
                    help="add the TLS listener and the public plain port (render_tls.py)")
    args = ap.parse_args(argv)
    try:
        with open(args.input, encoding="utf-8") as f:
            text = f.read()
        tls = render_tls.settings_from_env(os.environ) if args.tls else None
        conf = render(load_config(text, os.environ), error_log=args.error_log, tls=tls)
    except (RenderError, render_tls.TLSSettingsError, yaml.YAMLError, OSError) as e:
        print("render_nginx: error: %s" % str(e).replace("\n", " "), file=sys.stderr)
        return 2
    if args.output == "-":
        sys.stdout.write(conf)
    else:
        os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
        with open(args.output, "w", encoding="utf-8") as f:
            f.write(conf)
        print("render_nginx: wrote %s (%d routes)" % (args.output, conf.count("location ^~")),
              file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
