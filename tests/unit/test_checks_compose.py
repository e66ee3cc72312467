"""The Compose checks catch each seeded misconfiguration, named with its service, in a
broken copy of the real resolved config (stack/compose.yaml + compose.local.yaml)."""
import copy

import pytest

from suite.checks import compose


@pytest.fixture(scope="module")
def real(tmp_path_factory):
    env = tmp_path_factory.mktemp("unit") / "test.env"
    compose.write_test_env(env)
    return {"resolved": compose.config("local", env), "raw": compose.config("base", env, interpolate=False),
            "raw_prod": compose.config("prod", env, interpolate=False)}


@pytest.fixture
def cfg(real):
    return copy.deepcopy(real["resolved"])


ALLOWED = {"127.0.0.1", compose.TEST_BIND_ADDRESS}


def all_checks(c):
    return (compose.check_healthchecks(c, "t") + compose.check_restart_policies(c, "t")
            + compose.check_memory_limits(c, "t") + compose.check_pinned_images(c, "t")
            + compose.check_privileges(c, "t") + compose.check_ports(c, "t", ALLOWED))


def test_the_real_config_passes(cfg):
    assert all_checks(cfg) == []


def test_unpinned_latest_image(cfg):
    """Seeded: image redis:latest."""
    cfg["services"]["redis"]["image"] = "redis:latest"
    assert all_checks(cfg) == ["t: service redis: image redis:latest uses the moving tag :latest"]


def test_image_without_tag(cfg):
    """Seeded: image prom/prometheus (no tag: latest)."""
    cfg["services"]["prometheus"]["image"] = "prom/prometheus"
    assert all_checks(cfg) == ["t: service prometheus: image prom/prometheus has no tag (means :latest)"]


def test_registry_port_is_not_a_tag():
    """A registry host:port is not a tag: registry:5000/x is unpinned."""
    assert compose.image_problem("registry.example.test:5000/x") is not None
    assert compose.image_problem("registry.example.test:5000/x:1.2.3") is None


def test_service_without_healthcheck(cfg):
    """Seeded: the auth service's healthcheck removed."""
    del cfg["services"]["auth"]["healthcheck"]
    assert all_checks(cfg) == ["t: service auth: no healthcheck"]


def test_disabled_healthcheck(cfg):
    """Seeded: healthcheck disable: true on meta."""
    cfg["services"]["meta"]["healthcheck"] = {"disable": True}
    assert all_checks(cfg) == ["t: service meta: no healthcheck"]


def test_service_without_restart_policy(cfg):
    """Seeded: restart: "no" on rest."""
    cfg["services"]["rest"]["restart"] = "no"
    assert all_checks(cfg) == ["t: service rest: no restart policy (restart: no)"]


def test_service_without_memory_limit(cfg):
    """Seeded: the realtime service's deploy.resources removed."""
    del cfg["services"]["realtime"]["deploy"]
    assert all_checks(cfg) == ["t: service realtime: no memory limit (deploy.resources.limits.memory)"]


def test_privileged_container(cfg):
    """Seeded: privileged: true on node-exporter."""
    cfg["services"]["node-exporter"]["privileged"] = True
    assert all_checks(cfg) == ["t: service node-exporter: privileged: true"]


def test_cap_add_sys_admin(cfg):
    """Seeded: cap_add SYS_ADMIN on db."""
    cfg["services"]["db"]["cap_add"] = ["SYS_ADMIN"]
    assert all_checks(cfg) == ["t: service db: cap_add SYS_ADMIN"]


def test_docker_socket_mounted(cfg):
    """Seeded: /var/run/docker.sock mounted read-write into prometheus."""
    cfg["services"]["prometheus"]["volumes"].append(
        {"type": "bind", "source": "/var/run/docker.sock", "target": "/var/run/docker.sock"})
    assert all_checks(cfg) == ["t: service prometheus: mounts the Docker socket /var/run/docker.sock (read-write)"]


def test_docker_socket_allowed_for_promtail_read_only_only():
    """The allow-list: promtail may mount the socket read-only, not read-write."""
    sock = {"type": "bind", "source": "/var/run/docker.sock", "target": "/var/run/docker.sock"}
    ro = {"services": {"promtail": {"volumes": [{**sock, "read_only": True}]}}}
    rw = {"services": {"promtail": {"volumes": [sock]}}}
    assert compose.check_privileges(ro, "t") == []
    assert compose.check_privileges(rw, "t") == ["t: service promtail: mounts the Docker socket /var/run/docker.sock (read-write)"]


def test_port_bound_to_all_interfaces(cfg):
    """Seeded: the db port published on 0.0.0.0."""
    cfg["services"]["db"]["ports"][0]["host_ip"] = "0.0.0.0"
    assert all_checks(cfg) == [f"t: service db: port 0.0.0.0:54322->5432 bound to 0.0.0.0, not to "
                               f"{' / '.join(sorted(ALLOWED))}"]


def test_port_published_by_an_unlisted_service(cfg):
    """Seeded: meta publishes 8080 on loopback (docs/architecture.md does not list it)."""
    cfg["services"]["meta"]["ports"] = [{"host_ip": "127.0.0.1", "published": "8080", "target": 8080}]
    problems = all_checks(cfg)
    assert len(problems) == 1 and problems[0].startswith("t: service meta: publishes port 127.0.0.1:8080->8080, but only")


def test_inline_secret_value(real):
    """Seeded: POSTGRES_PASSWORD written inline into the db service."""
    raw = copy.deepcopy(real["raw"])
    raw["services"]["db"]["environment"] = {**compose.environment(raw["services"]["db"]),
                                            "POSTGRES_PASSWORD": "hunter2-inline"}
    assert compose.check_inline_secrets(raw, "t", compose.INLINE_SECRET_ALLOWED) == [
        "t: service db: environment POSTGRES_PASSWORD has an inline value (not ${VAR} interpolation)"]


def test_inline_secret_default_and_url_password(real):
    """Seeded: a ${VAR:-default} secret and a database URL with a literal password."""
    raw = copy.deepcopy(real["raw"])
    env = compose.environment(raw["services"]["rest"])
    env["PGRST_JWT_SECRET"] = "${JWT_SECRET:-dev-secret}"
    env["PGRST_DB_URI"] = "postgres://authenticator:literal@db:5432/postgres"
    raw["services"]["rest"]["environment"] = env
    assert compose.check_inline_secrets(raw, "t", compose.INLINE_SECRET_ALLOWED) == [
        "t: service rest: environment PGRST_DB_URI holds a URL with an inline password",
        "t: service rest: environment PGRST_JWT_SECRET has an inline default (${JWT_SECRET:-...)"]


def test_inline_secret_allow_list_is_explicit(real):
    """The real base config passes only thanks to the allow-list (realtime DB_ENC_KEY)."""
    assert compose.check_inline_secrets(real["raw"], "t", compose.INLINE_SECRET_ALLOWED) == []
    assert compose.check_inline_secrets(real["raw"], "t", {}) == [
        "t: service realtime: environment DB_ENC_KEY has an inline value (not ${VAR} interpolation)"]


def test_prod_cors_with_a_default(real):
    """Seeded: prod CORS_ALLOWED_ORIGINS with a localhost default instead of a required variable."""
    raw = copy.deepcopy(real["raw_prod"])
    env = compose.environment(raw["services"]["gateway"])
    env["CORS_ALLOWED_ORIGINS"] = "${CORS_ALLOWED_ORIGINS:-http://localhost:3000}"
    raw["services"]["gateway"]["environment"] = env
    required = {("gateway", "CORS_ALLOWED_ORIGINS"): "CORS_ALLOWED_ORIGINS"}
    assert compose.check_required_vars(real["raw_prod"], "prod", required) == []
    assert compose.check_required_vars(raw, "prod", required) == [
        "prod: service gateway: environment CORS_ALLOWED_ORIGINS=${CORS_ALLOWED_ORIGINS:-http://localhost:3000} "
        "must be ${CORS_ALLOWED_ORIGINS:?...} (required, no default)"]


def test_undocumented_environment_variable_is_named():
    """Seeded: a compose file reading ${NEW_KEY} that .env.example lacks; comments and the
    container's own $${VAR} do not count."""
    files = {"stack/compose.yaml": "x: ${NEW_KEY:-}\ny: ${KNOWN}\nz: $${CONTAINER_VAR}\n# ${IN_A_COMMENT}\n"}
    problems = compose.check_env_documented(files, "# KNOWN: documented\nKNOWN=1\n")
    assert problems == ["stack/compose.yaml reads ${NEW_KEY}, which stack/.env.example does not document: "
                        "add it there with a comment (empty when optional)"]
    assert compose.check_env_documented(files, "KNOWN=\n#NEW_KEY=\n") == []
