"""The Compose files as code: every overlay renders, and every service is health-checked,
restarted, memory-limited, pinned, unprivileged, published on loopback / ${BIND_ADDRESS}
only (and only where docs/architecture.md says), with no secret written inline.

Each overlay is stack/compose.yaml plus its files (suite/checks/compose.py OVERLAYS),
resolved with a generated env file whose BIND_ADDRESS is a sentinel address."""
import re

import pytest

from suite.checks import compose
from suite.target import ROOT

OVERLAYS = list(compose.OVERLAYS)


def _fmt(problems):
    return "\n".join(problems)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlay_renders(compose_config, overlay):
    """Catches: an overlay that `docker compose config` refuses (syntax, a bad merge, a
    required variable the documented env file does not provide)."""
    assert compose_config(overlay)["services"], f"overlay {overlay}: no services"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_service_has_a_healthcheck(compose_config, overlay):
    """Catches: a service without a healthcheck (`up --wait` and depends_on cannot tell it is ready)."""
    problems = compose.check_healthchecks(compose_config(overlay), overlay)
    assert not problems, _fmt(problems)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_service_has_a_restart_policy(compose_config, overlay):
    """Catches: a service that stays down after a crash or a host reboot."""
    problems = compose.check_restart_policies(compose_config(overlay), overlay)
    assert not problems, _fmt(problems)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_service_has_a_memory_limit(compose_config, overlay):
    """Catches: a service that can eat the host's memory and get the database OOM-killed."""
    problems = compose.check_memory_limits(compose_config(overlay), overlay)
    assert not problems, _fmt(problems)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_image_is_pinned(compose_config, overlay):
    """Catches: an image without a tag or on :latest (a redeploy silently changes versions).
    Local builds `supabase-acceptance/*:local` count as pinned."""
    problems = compose.check_pinned_images(compose_config(overlay), overlay)
    assert not problems, _fmt(problems)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_no_privileged_containers_nor_docker_socket(compose_config, overlay):
    """Catches: privileged containers, cap_add SYS_ADMIN (or ALL), host namespaces, and the
    Docker socket mounted anywhere but read-only into promtail (the allow-list)."""
    problems = compose.check_privileges(compose_config(overlay), overlay)
    assert not problems, _fmt(problems)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_ports_published_on_loopback_or_bind_address_only(compose_config, test_env, overlay):
    """Catches: a port bound to 0.0.0.0 (or with no address), a literal address instead of
    ${BIND_ADDRESS}, and a service publishing a port docs/architecture.md does not list."""
    allowed = {compose.LOOPBACK, test_env[1]["BIND_ADDRESS"]}
    problems = compose.check_ports(compose_config(overlay), overlay, allowed)
    assert not problems, _fmt(problems)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_no_secret_values_inline(compose_config, overlay):
    """Catches: a password, key or token written into the Compose file (or as a ${VAR:-default})
    instead of coming from the env file. Outside prod, realtime's upstream DB_ENC_KEY is
    tolerated (compose.INLINE_SECRET_ALLOWED); prod must take it from the env file."""
    allowed = {} if overlay == "prod" else compose.INLINE_SECRET_ALLOWED
    problems = compose.check_inline_secrets(compose_config(overlay, interpolate=False), overlay, allowed)
    assert not problems, _fmt(problems)


PROD_REQUIRED = {
    ("gateway", "CORS_ALLOWED_ORIGINS"): "CORS_ALLOWED_ORIGINS",
    ("gateway", "DASHBOARD_PASSWORD"): "DASHBOARD_PASSWORD",
    ("gateway", "GATEWAY_ADMIN_ALLOW_CIDRS"): "GATEWAY_ADMIN_ALLOW_CIDRS",
    ("auth", "API_EXTERNAL_URL"): "API_EXTERNAL_URL",
    ("auth", "GOTRUE_SITE_URL"): "SITE_URL",
    ("realtime", "SECRET_KEY_BASE"): "SECRET_KEY_BASE",
    ("realtime", "DB_ENC_KEY"): "REALTIME_DB_ENC_KEY",
}


def test_prod_overlay_has_no_demo_defaults(compose_config):
    """Catches: production falling back to a development default (CORS for localhost, an
    empty SECRET_KEY_BASE, upstream's DB_ENC_KEY): each must be ${VAR:?...}, no default."""
    problems = compose.check_required_vars(compose_config("prod", interpolate=False), "prod", PROD_REQUIRED)
    assert not problems, _fmt(problems)


def test_publishing_services_match_the_architecture_doc():
    """Catches: the port allow-list of the checks drifting from docs/architecture.md."""
    doc = (ROOT / "docs" / "architecture.md").read_text()
    sentence = re.search(r"Host ports are published on.*?\n\n", doc, re.S).group(0)
    listed = set(re.findall(r"([a-z-]+)\s+`[A-Z_]+_PORT`", sentence))
    assert listed == set(compose.PUBLISHING_SERVICES), f"doc lists {sorted(listed)}"


def test_every_environment_variable_is_documented():
    """Catches: a setting a Compose file or the notifier's channels read from stack/.env that
    stack/.env.example does not document (operators never learn it exists)."""
    files = {str(p.relative_to(ROOT)): p.read_text()
             for p in [*sorted((ROOT / "stack").glob("compose*.yaml")), ROOT / "stack/notifier/channels.yml"]}
    problems = compose.check_env_documented(files, (ROOT / "stack/.env.example").read_text())
    assert not problems, "\n".join(problems)


def test_notifier_receives_every_channel_variable(compose_config):
    """Catches: a channel URL in stack/notifier/channels.yml read from a variable the notifier
    service is not given (the setting in stack/.env silently has no effect: pages go to the
    default)."""
    wanted = compose.env_references((ROOT / "stack/notifier/channels.yml").read_text())
    given = set(compose.environment(compose_config("base", interpolate=False)["services"]["notifier"]))
    missing = sorted(wanted - given)
    assert not missing, (f"stack/compose.yaml service notifier: environment lacks {', '.join(missing)}, "
                         f"which stack/notifier/channels.yml reads")
