"""Hardening as configured (issue 13): the Compose files of every image set (CIS Docker
5.5, 5.13, 5.25, 5.28), the gateway config's refused paths, and, from the running stack
through the stack layer, the auth service's settings and every secret the stack reads.
Judges: suite/checks/containers.py, gateway.py, auth_settings.py, secrets.py."""
import warnings

import pytest

from suite.checks import auth_settings, compose, containers, secrets
from suite.checks import gateway as gw
from suite.stack import Stack
from suite.target import STACK
from suite.thresholds import LIMITS

BOUNDS = LIMITS.hardening
OVERLAYS = ["base", "local", "staging", "prod"]


@pytest.fixture(scope="module")
def live_inspect(infra_target) -> list[dict] | None:
    """The running containers (None when the target's machine cannot be reached)."""
    stack = Stack(infra_target)
    return None if containers.unreachable_reason(stack) else stack.inspect()


@pytest.fixture(scope="module")
def declared(infra_target) -> auth_settings.Declared:
    return auth_settings.declared(infra_target.env, infra_target.is_local)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_compose_containers_are_hardened(compose_config, overlay):
    """Catches: a service in the Compose files without no-new-privileges or a pids limit,
    mounting a host path beyond the declared list (or read-write), or publishing the
    database or Redis beyond loopback."""
    found = containers.from_compose(compose_config(overlay))
    where = f"compose ({overlay})"
    problems = (containers.check_no_new_privileges(found, where)
                + containers.check_pids_limit(found, where, BOUNDS.pids_limit_max)
                + containers.check_host_mounts(found, where, str(STACK))
                + containers.check_data_store_ports(found, where, {}))
    assert not problems, "\n".join(problems)


@pytest.fixture(scope="module")
def kong(compose_config) -> dict:
    """kong.yml resolved with the local image set's gateway environment."""
    env = compose.environment(compose_config("local")["services"]["gateway"])
    return gw.load({k: str(v) for k, v in env.items() if v is not None})


def test_kong_yml_refuses_realtime_management_paths(kong):
    """Catches: a kong.yml route that forwards Realtime's tenant API or OpenAPI documents."""
    problems = gw.check_refused_paths(kong)
    assert not problems, "\n".join(problems)


def test_kong_yml_auth_rate_limits_within_the_bound(kong):
    """Catches: an auth route (sign-in, sign-up, recovery, the open e-mail links) whose rate
    limit is missing or above thresholds.yaml's bound (password guessing at full speed)."""
    problems = gw.check_auth_rate_bound(kong, BOUNDS.auth_rate_limit_max_per_s)
    assert not problems, "\n".join(problems)


def test_auth_service_settings(live_inspect, infra_target, declared):
    """Catches: no SMTP sender in production (or with autoconfirm off), access tokens over an
    hour, passwords shorter than 8 characters, refresh-token rotation off."""
    if live_inspect is None:
        pytest.skip(containers.unreachable_reason(Stack(infra_target)))
    env = containers.environment(live_inspect, "auth")
    if env is None:
        pytest.fail(f"{infra_target.name}: no auth container is running", pytrace=False)
    problems = auth_settings.check_environment(env, declared, BOUNDS.jwt_expiry_max_s, BOUNDS.password_min_length)
    assert not problems, "\n".join(problems)


def test_every_secret_is_long_and_not_an_upstream_demo_value(live_inspect, infra_target, target_env_path, declared):
    """Catches: a secret the stack reads (database, dashboard, Redis and Grafana passwords,
    SECRET_KEY_BASE, realtime's encryption key, the JWT secret and keys) left at upstream's
    published demo value or too short, as the running containers hold it (the env file
    where they cannot be read)."""
    def env_of(service):
        return containers.environment(live_inspect, service) if live_inspect is not None else None
    values = secrets.stack_secret_values(env_of, infra_target.env, str(target_env_path))
    problems, notes = secrets.check_stack_secrets(values, BOUNDS.secret_min_length, declared.production)
    for note in notes:
        warnings.warn(note)
    assert not problems, "\n".join(problems)
