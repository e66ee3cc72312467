"""The gateway config as code: stack/gateway/kong.yml, with its variables substituted from
the gateway's environment as `docker compose config` resolves it (what the container sees)."""
import pytest
import render_nginx as rn

from suite.checks import compose, gateway
from suite.thresholds import LIMITS


def gateway_env(compose_config, overlay: str) -> dict[str, str]:
    return {k: str(v) for k, v in compose.environment(compose_config(overlay)["services"]["gateway"]).items()
            if v is not None}


@pytest.fixture(scope="module")
def kong(compose_config) -> dict:
    return gateway.load(gateway_env(compose_config, "local"))


def test_every_route_requires_an_api_key(kong):
    """Catches: a route without key-auth (only /auth/v1/verify, /callback, /authorize may be open)."""
    problems = gateway.check_key_auth(kong)
    assert not problems, "\n".join(problems)


def test_admin_routes_only_for_the_admin_group(kong):
    """Catches: /pg/ (postgres-meta: schema and SQL) reachable with the anon key, or without acl/key-auth."""
    problems = gateway.check_admin_routes(kong)
    assert not problems, "\n".join(problems)


def test_every_route_is_rate_limited(kong):
    """Catches: a public route without rate limiting (one client can exhaust the service)."""
    problems = gateway.check_rate_limiting(kong)
    assert not problems, "\n".join(problems)


def test_consumers_and_their_acl_groups(kong, compose_config):
    """Catches: consumer anon or service_role missing, in the wrong ACL group, anon in group
    admin, or a consumer's key that is not the configured ANON_KEY / SERVICE_ROLE_KEY."""
    env = gateway_env(compose_config, "local")
    problems = gateway.check_consumers(kong, {"anon": env["SUPABASE_ANON_KEY"],
                                              "service_role": env["SUPABASE_SERVICE_KEY"]})
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("overlay", ["staging", "prod"])
def test_cors_is_never_any_origin(compose_config, overlay):
    """Catches: CORS `*` (or no origins) in the production-like overlays, with kong.yml resolved
    from that overlay's gateway environment."""
    problems = gateway.check_cors(gateway.load(gateway_env(compose_config, overlay)),
                                  where=f"{gateway.WHERE} ({overlay})")
    assert not problems, "\n".join(problems)


def test_target_cors_origins_are_not_any(infra_target):
    """Catches: the target's env file setting CORS_ALLOWED_ORIGINS to `*` (any site may call the API
    with the user's credentials)."""
    if "CORS_ALLOWED_ORIGINS" not in infra_target.env:
        pytest.skip(f"{infra_target.name} declares no CORS_ALLOWED_ORIGINS")
    origins = infra_target.cors_origins
    assert origins, f"{infra_target.name}: CORS_ALLOWED_ORIGINS is empty (Kong would answer any origin)"
    assert "*" not in origins and "'*'" not in origins and '"*"' not in origins, \
        f"{infra_target.name}: CORS_ALLOWED_ORIGINS={','.join(origins)}"


def test_local_gateway_renders_the_config(compose_config):
    """Catches: a kong.yml the local nginx gateway refuses (render_nginx.py fails loudly on
    plugins, keys or matchers it cannot honour: the gateway would not start), and an nginx
    sized below the hosts' bounds (open files, accept backlog) for the WebSocket users."""
    try:
        conf = rn.render(rn.load_config(gateway.KONG_YML.read_text(), gateway_env(compose_config, "local")))
    except rn.RenderError as exc:
        pytest.fail(f"{gateway.WHERE}: render_nginx.py refuses it: {exc}", pytrace=False)
    routes = gateway.routes(gateway.load(gateway_env(compose_config, "local")))
    assert conf.count("location ^~") == sum(len(r["paths"]) for r in routes), \
        "rendered nginx.conf does not have one location per route path"
    problems = gateway.check_nginx_capacity(conf, LIMITS.hosts.min_nofile, LIMITS.hosts.min_somaxconn)
    assert not problems, "\n".join(problems)
