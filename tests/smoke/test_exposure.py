"""What a client holding the public anon key (or a signed-in user's token) must not reach,
and the gateway limits that must really apply (issue 13). Judges: suite/checks/gateway.py;
bounds: thresholds.yaml `hardening:`; declared admin networks: the target's ADMIN_NETWORKS."""
import math

import pytest

from suite import probes
from suite.checks import containers
from suite.checks import gateway as gw
from suite.thresholds import LIMITS
from suite.waiting import poll

BOUNDS = LIMITS.hardening


@pytest.mark.parametrize("path", gw.REFUSED_PATHS)
def test_realtime_management_api_is_refused(gateway, target, path):
    """Catches: the gateway forwarding Realtime's tenant API or its OpenAPI documents, which
    accept any JWT signed with the JWT secret, the anon key included (tenants hold the
    database credentials)."""
    r = gateway.get(path, key="anon", token=target.anon_key)
    problems = gw.judge_refusal(f"GET {path} with the anon key", r.status_code)
    assert not problems, "\n".join(problems)


def test_auth_admin_api_refuses_a_user_token(gateway, user_a):
    """Catches: auth's admin API (every user, their metadata) answering a signed-in user's
    token (GOTRUE_JWT_ADMIN_ROLES naming `authenticated`, or a gateway/auth that skips the check)."""
    r = gateway.get("/auth/v1/admin/users?per_page=1", key="anon", token=user_a.access_token)
    problems = gw.judge_refusal("GET /auth/v1/admin/users with a user's token", r.status_code)
    assert not problems, "\n".join(problems)


def test_admin_routes_allow_only_the_declared_networks(target, stack, inspected):
    """Catches: /pg/ (postgres-meta: the schema, and SQL as the superuser) reachable from
    networks the operator did not declare (GATEWAY_ADMIN_ALLOW_CIDRS widened, 0.0.0.0/0, or
    the ip-restriction gone), read from the running gateway's own config."""
    env = containers.environment(inspected, "gateway")
    if env is None:
        pytest.fail(f"project {stack.project}: no gateway container", pytrace=False)
    text = stack.exec("gateway", 'cat "$KONG_DECLARATIVE_CONFIG"', what="reading the gateway's kong.yml")
    allowed = gw.admin_allow_list(gw.load(env, text))
    declared = (target.env.get("ADMIN_NETWORKS") or ",".join(gw.DEFAULT_ADMIN_NETWORKS)).split(",")
    problems = gw.check_admin_networks(allowed, declared, "gateway (running config)")
    assert not problems, "\n".join(problems)


def test_auth_rate_limit_applies(gateway, target):
    """Catches: the auth routes (sign-in, sign-up, recovery: what password guessing hits)
    without a rate limit, or with one above thresholds.yaml's bound. Sends one bounded burst
    of 1.5x the bound to /auth/v1/health and needs 429s back; then waits for the bucket to
    refill so the tests after it can sign in."""
    bound = BOUNDS.auth_rate_limit_max_per_s
    statuses = probes.burst(target.url("gateway"), "/auth/v1/health", {"apikey": target.anon_key},
                            count=math.ceil(bound * 1.5))
    poll(lambda: gateway.get("/auth/v1/health").status_code != 429,
         what="the auth route answering again after the burst", timeout=5, interval=0.2)
    problems = gw.judge_rate_limit_burst("/auth/v1/", statuses, bound)
    assert not problems, "\n".join(problems)


def test_request_body_above_the_bound_is_refused(target):
    """Catches: a gateway without a request body limit (Kong's default): one client can make
    it buffer and forward bodies of any size."""
    size = BOUNDS.request_body_max_mib * 2**20 + 1
    status = probes.announced_body(target.url("gateway"), "/rest/v1/", {"apikey": target.anon_key}, size)
    problems = gw.judge_body_limit("POST /rest/v1/", size, status, BOUNDS.request_body_max_mib)
    assert not problems, "\n".join(problems)
