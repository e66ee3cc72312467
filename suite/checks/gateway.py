"""Gateway checks on kong.yml (Kong 2.8 declarative format), parsed after `$VAR`
substitution: key-auth on every route but the open auth routes, /pg/ for ACL group admin
only, CORS never `*` where it matters, rate limiting on every route, the two consumers with
their ACL groups. Every check takes the parsed config and returns problem strings."""
from __future__ import annotations

import ipaddress
import re

import render_nginx  # the local gateway's renderer (stack/gateway, on pytest.ini's pythonpath)
import yaml

from suite.target import STACK

KONG_YML = STACK / "gateway" / "kong.yml"
WHERE = "stack/gateway/kong.yml"

# Open routes (cors only), as upstream: the links in auth e-mails and OAuth redirects
# cannot carry an apikey. Matched on the route's paths, not its name.
OPEN_PATHS = frozenset({"/auth/v1/verify", "/auth/v1/callback", "/auth/v1/authorize"})
ADMIN_PATH_PREFIXES = ("/pg",)
EXPECTED_CONSUMER_GROUPS = {"anon": {"anon"}, "service_role": {"admin"}}


def load(env: dict[str, str], text: str | None = None) -> dict:
    """kong.yml with its variables substituted from `env` (as the gateways do at start)."""
    text = KONG_YML.read_text() if text is None else text
    return yaml.safe_load(render_nginx.substitute_env(text, env))


def _enabled(plugins) -> dict[str, dict]:
    return {p["name"]: (p.get("config") or {}) for p in plugins or [] if p.get("enabled", True)}


def routes(cfg: dict) -> list[dict]:
    """Every route with its effective plugins (global, then service, then route level)."""
    out = []
    global_plugins = _enabled(cfg.get("plugins"))
    for svc in cfg.get("services") or []:
        service_plugins = {**global_plugins, **_enabled(svc.get("plugins"))}
        for route in svc.get("routes") or []:
            out.append({
                "name": route.get("name") or svc.get("name"),
                "service": svc.get("name"),
                "paths": list(route.get("paths") or []),
                "plugins": {**service_plugins, **_enabled(route.get("plugins"))},
            })
    return out


def _label(route: dict) -> str:
    return f"{WHERE}: route {route['name']} ({', '.join(route['paths']) or 'no paths'})"


def is_open(route: dict) -> bool:
    return bool(route["paths"]) and all(p.rstrip("/") in OPEN_PATHS for p in route["paths"])


def is_admin(route: dict) -> bool:
    return any(p.startswith(ADMIN_PATH_PREFIXES) for p in route["paths"])


def check_key_auth(cfg: dict) -> list[str]:
    """key-auth on every route except the open auth routes (OPEN_PATHS)."""
    return [f"{_label(r)}: no key-auth (only {', '.join(sorted(OPEN_PATHS))} may be open)"
            for r in routes(cfg) if not is_open(r) and "key-auth" not in r["plugins"]]


def check_admin_routes(cfg: dict) -> list[str]:
    """/pg/ (postgres-meta: the database's schema and SQL) for ACL group admin only."""
    problems = []
    for r in routes(cfg):
        if not is_admin(r):
            continue
        if "key-auth" not in r["plugins"]:
            problems.append(f"{_label(r)}: admin route without key-auth")
        acl = r["plugins"].get("acl")
        if acl is None:
            problems.append(f"{_label(r)}: admin route without an acl plugin (open to every consumer)")
            continue
        allow = set(acl.get("allow") or [])
        if acl.get("deny") and not allow:
            problems.append(f"{_label(r)}: acl uses deny {acl['deny']}; admin routes need allow: [admin]")
        elif allow != {"admin"}:
            problems.append(f"{_label(r)}: acl allows {sorted(allow)}; only group admin may reach it")
    return problems


def check_cors(cfg: dict, where: str = WHERE) -> list[str]:
    """No cors plugin answers for any origin (`*`), and none is without origins (Kong: any)."""
    problems = []
    for r in routes(cfg):
        cors = r["plugins"].get("cors")
        if cors is None:
            continue
        origins = cors.get("origins")
        if isinstance(origins, str):
            origins = [origins]
        origins = [str(o).strip() for o in origins or [] if str(o).strip()]
        if not origins:
            problems.append(f"{where}: route {r['name']}: cors without origins (Kong answers any origin)")
        elif "*" in origins:
            problems.append(f"{where}: route {r['name']}: cors origins include '*'")
    return problems


def check_rate_limiting(cfg: dict) -> list[str]:
    """A rate-limiting plugin with a positive limit on every route (all are public: they
    are reachable through the published gateway port)."""
    problems = []
    for r in routes(cfg):
        rl = r["plugins"].get("rate-limiting")
        if rl is None:
            problems.append(f"{_label(r)}: no rate-limiting")
            continue
        limits = {k: rl.get(k) for k in ("second", "minute", "hour", "day") if rl.get(k) not in (None, "")}
        if not limits:
            problems.append(f"{_label(r)}: rate-limiting without a limit")
        for k, v in limits.items():
            try:
                if int(v) <= 0:
                    raise ValueError
            except (TypeError, ValueError):
                problems.append(f"{_label(r)}: rate-limiting {k}={v!r} is not a positive number")
    return problems


def consumer_groups(cfg: dict) -> dict[str, set[str]]:
    groups: dict[str, set[str]] = {}
    for c in cfg.get("consumers") or []:
        groups[c.get("username")] = {str(a.get("group")) for a in c.get("acls") or []}
    for a in cfg.get("acls") or []:
        groups.setdefault(a.get("consumer"), set()).add(str(a.get("group")))
    return groups


def consumer_keys(cfg: dict) -> dict[str, list[str]]:
    keys: dict[str, list[str]] = {}
    for c in cfg.get("consumers") or []:
        keys[c.get("username")] = [str(k.get("key")) for k in c.get("keyauth_credentials") or []]
    for k in cfg.get("keyauth_credentials") or []:
        keys.setdefault(k.get("consumer"), []).append(str(k.get("key")))
    return keys


def check_consumers(cfg: dict, expected_keys: dict[str, str] | None = None) -> list[str]:
    """Consumers anon (ACL anon) and service_role (ACL admin) exist, each with a key-auth
    key (`expected_keys`: consumer -> the key it must carry)."""
    problems = []
    groups, keys = consumer_groups(cfg), consumer_keys(cfg)
    for name, expected in EXPECTED_CONSUMER_GROUPS.items():
        if name not in groups and name not in keys:
            problems.append(f"{WHERE}: consumer {name} is missing")
            continue
        got = groups.get(name, set())
        if got != expected:
            problems.append(f"{WHERE}: consumer {name}: ACL groups {sorted(got)}, expected {sorted(expected)}")
        if not [k for k in keys.get(name, []) if k and k != "None"]:
            problems.append(f"{WHERE}: consumer {name}: no key-auth credential")
        elif expected_keys and expected_keys.get(name) and expected_keys[name] not in keys[name]:
            problems.append(f"{WHERE}: consumer {name}: key-auth key is not the configured key")
    for name, got in groups.items():
        if "admin" in got and name != "service_role":
            problems.append(f"{WHERE}: consumer {name}: in ACL group admin (only service_role may be)")
    return problems


def check_nginx_capacity(conf: str, min_nofile: int, min_backlog: int) -> list[str]:
    """The rendered nginx.conf sized by the hosts' bounds (thresholds.yaml hosts.min_nofile,
    min_somaxconn): worker_rlimit_nofile and the backlog of every public listener."""
    where, problems = "stack/gateway/render_nginx.py", []
    nofile = re.search(r"^\s*worker_rlimit_nofile (\d+);", conf, re.M)
    if not nofile or int(nofile[1]) < min_nofile:
        problems.append(f"{where}: worker_rlimit_nofile {nofile[1] if nofile else 'unset'}, needs >= {min_nofile}")
    for port, options in re.findall(r"^\s*listen (\d+)([^;]*);", conf, re.M):
        backlog = int(re.search(r"backlog=(\d+)", options)[1]) if "backlog=" in options else 511  # nginx's default
        if int(port) != render_nginx.STATUS_PORT and backlog < min_backlog:
            problems.append(f"{where}: listen {port}: backlog {backlog}, needs >= {min_backlog}")
    return problems


# ---- what the anon key must not reach (issue 13) ------------------------------------------
# Realtime's management API and API documents: upstream Realtime accepts any JWT signed with
# its API secret, the JWT secret that also signs the anon key (upstream docker/tests: 403).
REFUSED_PATHS = ("/realtime/v1/api/tenants", "/realtime/v1/api/openapi")
# The networks allowed to reach the admin routes when a target declares no ADMIN_NETWORKS
# (docs/targets.md): loopback and the private ranges (Docker's bridges are in 172.16.0.0/12).
DEFAULT_ADMIN_NETWORKS = ("127.0.0.0/8", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")


def match_route(cfg: dict, path: str) -> dict | None:
    """The route Kong (and the local renderer) picks for `path`: the longest prefix."""
    best, length = None, -1
    for r in routes(cfg):
        for prefix in r["paths"]:
            if path.startswith(prefix) and len(prefix) > length:
                best, length = r, len(prefix)
    return best


def check_refused_paths(cfg: dict, paths: tuple[str, ...] = REFUSED_PATHS) -> list[str]:
    """Each path in `paths` falls into a route that terminates it with a 4xx (or into none)."""
    problems = []
    for path in paths:
        r = match_route(cfg, path)
        if r is None:
            continue  # Kong answers 404: no route matched
        term = r["plugins"].get("request-termination")
        status = int(term.get("status_code", 503)) if term is not None else None  # Kong's default: 503
        if status is None or not 400 <= status < 500:
            problems.append(f"{_label(r)}: forwards {path} to service {r['service']}: add a route for it "
                            f"with request-termination status_code 403 (only the paths clients use may pass)")
    return problems


def check_admin_networks(allowed: list[str], declared: list[str], where: str) -> list[str]:
    """Every network the gateway lets reach the admin routes (/pg/) lies inside a network
    the target declares (ADMIN_NETWORKS); an empty allow-list lets every address in."""
    if not allowed:
        return [f"{where}: no ip-restriction allow-list on the admin routes: every address may reach /pg/; "
                f"allow only ADMIN_NETWORKS ({', '.join(declared) or 'none declared'})"]
    nets = []
    for d in declared:
        try:
            nets.append(ipaddress.ip_network(d.strip(), strict=False))
        except ValueError:
            return [f"ADMIN_NETWORKS: {d!r} is not a network (CIDR): fix the target's declaration"]
    problems = []
    for a in allowed:
        try:
            net = ipaddress.ip_network(a.strip(), strict=False)
        except ValueError:
            problems.append(f"{where}: admin allow-list entry {a!r} is not a network (CIDR)")
            continue
        if not any(net.version == d.version and net.subnet_of(d) for d in nets):
            problems.append(f"{where}: admin routes (/pg/) allow {net}, outside the declared ADMIN_NETWORKS "
                            f"({', '.join(str(d) for d in nets) or 'none'}): narrow GATEWAY_ADMIN_ALLOW_CIDRS "
                            f"or declare the network")
    return problems


def admin_allow_list(cfg: dict) -> list[str]:
    """The union of the ip-restriction allow-lists of the admin routes; [] when one has none."""
    out: list[str] = []
    for r in routes(cfg):
        if not is_admin(r):
            continue
        ipr = r["plugins"].get("ip-restriction") or {}
        allow = ipr.get("allow", ipr.get("whitelist")) or []
        if isinstance(allow, str):
            allow = [allow]
        if not allow:
            return []
        out += [str(a) for a in allow]
    return out


# ---- limits that must really apply -----------------------------------------------------------
def judge_refusal(what: str, status: int, expected: tuple[int, ...] = (401, 403)) -> list[str]:
    if status in expected:
        return []
    return [f"{what}: HTTP {status}, expected {' or '.join(map(str, expected))} (refused at the gateway)"]


def judge_rate_limit_burst(route: str, statuses: list[int], bound_per_s: int) -> list[str]:
    """A burst of more requests than the declared per-second bound must see 429s."""
    if 429 in statuses:
        return []
    others = sorted({s for s in statuses if s != 200})
    return [f"{route}: {len(statuses)} requests sent at once, none refused with 429 "
            f"(statuses {others or [200]}): the route's rate limit is missing or above "
            f"{bound_per_s}/s (thresholds.yaml hardening.auth_rate_limit_max_per_s); set rate-limiting "
            f"second <= {bound_per_s} (GATEWAY_AUTH_RATE_LIMIT_PER_SECOND)"]


def judge_body_limit(route: str, size: int, status: int | None, bound_mib: int) -> list[str]:
    """A request announcing a body above the bound is refused with 413 before it is read
    (`status` None: the gateway waited for the body instead)."""
    if status == 413:
        return []
    got = "no answer: the gateway waited for the body" if status is None else f"HTTP {status}"
    return [f"{route}: a body of {size} bytes (above {bound_mib} MiB, thresholds.yaml "
            f"hardening.request_body_max_mib) got {got}, expected 413: set the gateway's client_max_body_size "
            f"(Kong: KONG_NGINX_HTTP_CLIENT_MAX_BODY_SIZE) to at most {bound_mib}m"]


def check_auth_rate_bound(cfg: dict, bound_per_s: int, prefix: str = "/auth/v1") -> list[str]:
    """Every auth route (sign-in, sign-up, recovery, the open e-mail links) limits each client
    to at most `bound_per_s` requests a second (thresholds.yaml hardening.auth_rate_limit_max_per_s)."""
    problems = []
    for r in routes(cfg):
        if not any(p.startswith(prefix) for p in r["paths"]):
            continue
        rl = r["plugins"].get("rate-limiting") or {}
        try:
            second = int(rl["second"]) if rl.get("second") not in (None, "") else None
        except (TypeError, ValueError):
            continue  # check_rate_limiting names it
        if second is None or second > bound_per_s:
            problems.append(f"{_label(r)}: rate limit {second if second is not None else 'none'} per second per "
                            f"client, above {bound_per_s} (thresholds.yaml hardening.auth_rate_limit_max_per_s): "
                            f"lower GATEWAY_AUTH_RATE_LIMIT_PER_SECOND")
    return problems
