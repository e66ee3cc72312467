"""Gateway checks on kong.yml (Kong 2.8 declarative format), parsed after `$VAR`
substitution: key-auth on every route but the open auth routes, /pg/ for ACL group admin
only, CORS never `*` where it matters, rate limiting on every route, the two consumers with
their ACL groups. Every check takes the parsed config and returns problem strings."""
from __future__ import annotations

import importlib.util
from functools import lru_cache
from pathlib import Path

import yaml

from suite.target import STACK

KONG_YML = STACK / "gateway" / "kong.yml"
WHERE = "stack/gateway/kong.yml"

# Open routes (cors only), as upstream: the links in auth e-mails and OAuth redirects
# cannot carry an apikey. Matched on the route's paths, not its name.
OPEN_PATHS = frozenset({"/auth/v1/verify", "/auth/v1/callback", "/auth/v1/authorize"})
ADMIN_PATH_PREFIXES = ("/pg",)
EXPECTED_CONSUMER_GROUPS = {"anon": {"anon"}, "service_role": {"admin"}}


@lru_cache(maxsize=1)
def render_nginx_module():
    """stack/gateway/render_nginx.py (the local gateway's renderer) as a module."""
    spec = importlib.util.spec_from_file_location("render_nginx", STACK / "gateway" / "render_nginx.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load(env: dict[str, str], text: str | None = None) -> dict:
    """kong.yml with its variables substituted from `env` (as the gateways do at start)."""
    text = KONG_YML.read_text() if text is None else text
    return yaml.safe_load(render_nginx_module().substitute_env(text, env))


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
