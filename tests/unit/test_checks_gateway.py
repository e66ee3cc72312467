"""The gateway checks catch each seeded misconfiguration, named with its route, in a broken
copy of the real stack/gateway/kong.yml."""
import copy

import pytest

from suite.checks import gateway

ENV = {
    "SUPABASE_ANON_KEY": "anon-key-for-the-unit-test",
    "SUPABASE_SERVICE_KEY": "service-key-for-the-unit-test",
    "DASHBOARD_USERNAME": "supabase",
    "DASHBOARD_PASSWORD": "dashboard-password",
    "CORS_ALLOWED_ORIGINS": "https://app.example.test",
    "GATEWAY_RATE_LIMIT_PER_SECOND": "5000",
    "GATEWAY_AUTH_RATE_LIMIT_PER_SECOND": "200",
}
W = gateway.WHERE


@pytest.fixture(scope="module")
def real():
    return gateway.load(ENV)


@pytest.fixture
def kong(real):
    return copy.deepcopy(real)


def service(cfg, name):
    return next(s for s in cfg["services"] if s["name"] == name)


def drop_plugin(cfg, svc, plugin):
    s = service(cfg, svc)
    s["plugins"] = [p for p in s["plugins"] if p["name"] != plugin]


def all_checks(cfg):
    return (gateway.check_key_auth(cfg) + gateway.check_admin_routes(cfg) + gateway.check_cors(cfg)
            + gateway.check_rate_limiting(cfg) + gateway.check_consumers(cfg))


def test_the_real_config_passes(kong):
    assert all_checks(kong) == []


def test_route_without_key_auth(kong):
    """Seeded: key-auth removed from /rest/v1/."""
    drop_plugin(kong, "rest-v1", "key-auth")
    assert all_checks(kong) == [f"{W}: route rest-v1-all (/rest/v1/): no key-auth "
                                f"(only /auth/v1/authorize, /auth/v1/callback, /auth/v1/verify may be open)"]


def test_open_route_widened_beyond_the_allow_list(kong):
    """Seeded: the open verify route also matches /auth/v1/admin (allow-list is by path, not name)."""
    service(kong, "auth-v1-open")["routes"][0]["paths"].append("/auth/v1/admin")
    assert all_checks(kong) == [f"{W}: route auth-v1-open (/auth/v1/verify, /auth/v1/admin): no key-auth "
                                f"(only /auth/v1/authorize, /auth/v1/callback, /auth/v1/verify may be open)"]


def test_pg_route_open_to_the_anon_group(kong):
    """Seeded: /pg/ acl allows anon as well as admin."""
    acl = next(p for p in service(kong, "meta")["plugins"] if p["name"] == "acl")
    acl["config"]["allow"] = ["admin", "anon"]
    assert all_checks(kong) == [f"{W}: route meta-all (/pg/): acl allows ['admin', 'anon']; only group admin may reach it"]


def test_pg_route_without_acl(kong):
    """Seeded: the acl plugin removed from /pg/ (any consumer with a key)."""
    drop_plugin(kong, "meta", "acl")
    assert all_checks(kong) == [f"{W}: route meta-all (/pg/): admin route without an acl plugin (open to every consumer)"]


def test_cors_any_origin(kong):
    """Seeded: CORS origins '*' (as a prod env with CORS_ALLOWED_ORIGINS='*' renders)."""
    for s in kong["services"]:
        for p in s["plugins"]:
            if p["name"] == "cors":
                p["config"] = {**p["config"], "origins": ["*"]}
    problems = gateway.check_cors(kong, where="prod")
    assert problems and all(p.endswith("cors origins include '*'") for p in problems)
    assert "prod: route rest-v1-all: cors origins include '*'" in problems


def test_public_route_without_rate_limiting(kong):
    """Seeded: rate-limiting removed from /realtime/v1/api/broadcast."""
    drop_plugin(kong, "realtime-v1-rest", "rate-limiting")
    assert all_checks(kong) == [f"{W}: route realtime-v1-rest (/realtime/v1/api/broadcast): no rate-limiting"]


def test_open_route_without_rate_limiting(kong):
    """Seeded: rate-limiting removed from the open /auth/v1/verify route."""
    drop_plugin(kong, "auth-v1-open", "rate-limiting")
    assert all_checks(kong) == [f"{W}: route auth-v1-open (/auth/v1/verify): no rate-limiting"]


def test_anon_consumer_in_the_admin_group(kong):
    """Seeded: consumer anon's ACL group is admin (the anon key reaches /pg/)."""
    next(a for a in kong["acls"] if a["consumer"] == "anon")["group"] = "admin"
    assert all_checks(kong) == [f"{W}: consumer anon: ACL groups ['admin'], expected ['anon']",
                                f"{W}: consumer anon: in ACL group admin (only service_role may be)"]


def test_missing_service_role_consumer(kong):
    """Seeded: consumer service_role and its ACL removed."""
    kong["consumers"] = [c for c in kong["consumers"] if c["username"] != "service_role"]
    kong["acls"] = [a for a in kong["acls"] if a["consumer"] != "service_role"]
    assert all_checks(kong) == [f"{W}: consumer service_role is missing"]


def test_consumer_key_is_not_the_configured_key(kong):
    """Seeded: the anon consumer carries another key than SUPABASE_ANON_KEY."""
    next(c for c in kong["consumers"] if c["username"] == "anon")["keyauth_credentials"][0]["key"] = "other"
    assert gateway.check_consumers(kong, {"anon": ENV["SUPABASE_ANON_KEY"]}) == [
        f"{W}: consumer anon: key-auth key is not the configured key"]


def test_nginx_sized_below_the_hosts_bounds():
    conf = "worker_rlimit_nofile 1024;\nhttp {\n  server {\n    listen 8101;\n    listen 8000 reuseport backlog=511;\n"
    assert gateway.check_nginx_capacity(conf, 20000, 4096) == [
        "stack/gateway/render_nginx.py: worker_rlimit_nofile 1024, needs >= 20000",
        "stack/gateway/render_nginx.py: listen 8000: backlog 511, needs >= 4096"]


# ---- issue 13: refused paths, admin networks, live limits ------------------------------------
def test_the_real_config_refuses_realtime_management_paths(kong):
    assert gateway.check_refused_paths(kong) == []


def test_realtime_api_forwarded_again(kong):
    """Seeded: the refusing route loses its request-termination (tenants and openapi forwarded)."""
    drop_plugin(kong, "realtime-v1-api-refused", "request-termination")
    label = f"{W}: route realtime-v1-api-all (/realtime/v1/api)"
    assert gateway.check_refused_paths(kong) == [
        f"{label}: forwards {p} to service realtime-v1-api-refused: add a route for it with request-termination "
        f"status_code 403 (only the paths clients use may pass)" for p in gateway.REFUSED_PATHS]


def test_realtime_api_route_widened(kong):
    """Seeded: the broadcast route matches every /realtime/v1/api path (as upstream's old kong.yml)."""
    service(kong, "realtime-v1-rest")["routes"][0]["paths"] = ["/realtime/v1/api/"]
    assert gateway.check_refused_paths(kong)[0] == (
        f"{W}: route realtime-v1-rest (/realtime/v1/api/): forwards /realtime/v1/api/tenants to service "
        f"realtime-v1-rest: add a route for it with request-termination status_code 403 (only the paths "
        f"clients use may pass)")


def test_admin_networks_within_the_declared_ones(kong):
    allowed = gateway.admin_allow_list(kong)
    assert allowed == ["127.0.0.0/8", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"]
    assert gateway.check_admin_networks(allowed, allowed, "gw") == []
    assert gateway.check_admin_networks(["172.18.0.0/16"], ["172.16.0.0/12"], "gw") == []


def test_admin_networks_wider_than_declared():
    """Seeded: GATEWAY_ADMIN_ALLOW_CIDRS=0.0.0.0/0 against ADMIN_NETWORKS=127.0.0.0/8."""
    assert gateway.check_admin_networks(["0.0.0.0/0"], ["127.0.0.0/8"], "gateway (running config)") == [
        "gateway (running config): admin routes (/pg/) allow 0.0.0.0/0, outside the declared ADMIN_NETWORKS "
        "(127.0.0.0/8): narrow GATEWAY_ADMIN_ALLOW_CIDRS or declare the network"]


def test_admin_route_without_ip_restriction(kong):
    """Seeded: ip-restriction removed from /pg/: every address may reach it."""
    drop_plugin(kong, "meta", "ip-restriction")
    assert gateway.admin_allow_list(kong) == []
    assert gateway.check_admin_networks([], ["10.0.0.0/8"], "gw") == [
        "gw: no ip-restriction allow-list on the admin routes: every address may reach /pg/; allow only "
        "ADMIN_NETWORKS (10.0.0.0/8)"]


def test_admin_networks_declaration_unreadable():
    assert gateway.check_admin_networks(["10.0.0.0/8"], ["ten"], "gw") == [
        "ADMIN_NETWORKS: 'ten' is not a network (CIDR): fix the target's declaration"]


def test_refusal_judge():
    assert gateway.judge_refusal("GET /x", 403) == []
    assert gateway.judge_refusal("GET /realtime/v1/api/tenants with the anon key", 200) == [
        "GET /realtime/v1/api/tenants with the anon key: HTTP 200, expected 401 or 403 (refused at the gateway)"]


def test_burst_without_429():
    """Seeded: 300 requests all answered 200 (no rate limit on the auth route)."""
    assert gateway.judge_rate_limit_burst("/auth/v1/", [200] * 299 + [503], 200) == [
        "/auth/v1/: 300 requests sent at once, none refused with 429 (statuses [503]): the route's rate limit "
        "is missing or above 200/s (thresholds.yaml hardening.auth_rate_limit_max_per_s); set rate-limiting "
        "second <= 200 (GATEWAY_AUTH_RATE_LIMIT_PER_SECOND)"]
    assert gateway.judge_rate_limit_burst("/auth/v1/", [200] * 200 + [429] * 100, 200) == []


def test_body_limit_missing():
    """Seeded: the gateway waits for a 100 MiB + 1 byte body instead of answering 413."""
    size = 100 * 2**20 + 1
    assert gateway.judge_body_limit("POST /rest/v1/", size, None, 100) == [
        f"POST /rest/v1/: a body of {size} bytes (above 100 MiB, thresholds.yaml hardening.request_body_max_mib) "
        f"got no answer: the gateway waited for the body, expected 413: set the gateway's client_max_body_size "
        f"(Kong: KONG_NGINX_HTTP_CLIENT_MAX_BODY_SIZE) to at most 100m"]
    assert gateway.judge_body_limit("POST /rest/v1/", size, 413, 100) == []


def test_auth_routes_rate_bound(real):
    """Seeded: GATEWAY_AUTH_RATE_LIMIT_PER_SECOND=5000 (above the 200/s bound) on every auth route."""
    assert gateway.check_auth_rate_bound(real, 200) == []
    loose = gateway.load({**ENV, "GATEWAY_AUTH_RATE_LIMIT_PER_SECOND": "5000"})
    problems = gateway.check_auth_rate_bound(loose, 200)
    assert len(problems) == 4
    assert problems[-1] == (f"{W}: route auth-v1-all (/auth/v1/): rate limit 5000 per second per client, above 200 "
                            f"(thresholds.yaml hardening.auth_rate_limit_max_per_s): lower GATEWAY_AUTH_RATE_LIMIT_PER_SECOND")
