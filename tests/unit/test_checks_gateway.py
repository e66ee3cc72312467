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
    """Seeded: rate-limiting removed from /realtime/v1/api."""
    drop_plugin(kong, "realtime-v1-rest", "rate-limiting")
    assert all_checks(kong) == [f"{W}: route realtime-v1-rest (/realtime/v1/api): no rate-limiting"]


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
