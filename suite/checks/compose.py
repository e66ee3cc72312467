"""Compose checks: every service healthy-checked, restarted, memory-limited, pinned,
unprivileged, published on loopback / ${BIND_ADDRESS} only, with no secret inline.

`config()` runs `docker compose config` (the only impure part); every `check_*` takes the
parsed config (`services` mapping as printed by `docker compose config --format json`)
and a label naming the file set, and returns problem strings.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import make_env  # stack/bin (pytest.ini's pythonpath): the generator `make env` runs with the host's python3

from suite.stack import StackError, compose_config
from suite.target import STACK, read_env_file

# docs/architecture.md, "Host ports are published on ${BIND_ADDRESS:-127.0.0.1} only": these
# services, and no other, publish host ports.
PUBLISHING_SERVICES = frozenset({"gateway", "db", "redis", "prometheus", "alertmanager", "grafana", "loki"})
LOOPBACK = "127.0.0.1"

# The Docker socket gives root on the host. Allow-list: promtail may read it (service
# discovery of containers' logs), read-only; nobody else may mount it at all.
DOCKER_SOCKET_ALLOWED = {"promtail": "read-only"}
DOCKER_SOCKETS = ("/var/run/docker.sock", "/run/docker.sock")
DANGEROUS_CAPS = {"SYS_ADMIN", "ALL", "SYS_PTRACE", "SYS_MODULE", "NET_ADMIN"}
LOCAL_IMAGE = re.compile(r"^supabase-acceptance/[a-z0-9._-]+:local$")

# Environment keys whose values are secrets: their values must come from ${VAR}.
SECRET_KEY = re.compile(r"(PASSWORD|PASSWD|SECRET|TOKEN|_KEY$|_KEY_|^KEY$|_AUTH$|PRIVATE|CREDENTIAL)", re.I)
# ...but these suffixes name settings about secrets, not secrets (GOTRUE_PASSWORD_MIN_LENGTH).
NOT_SECRET_KEY = re.compile(r"(_LENGTH|_MIN|_MAX|_ENABLED|_EXP|_ROLES?|_USERNAME|_USER|_FILE|_PATH|"
                            r"_INTERVAL|_TTL|_TIMEOUT|_LIFETIME|_DURATION|_ROTATION|_COUNT|_SIZE|_PORT|_HOST)$", re.I)
URL_WITH_PASSWORD = re.compile(r"^[a-z][a-z0-9+.-]*://[^/:@\s]*:([^@\s]+)@", re.I)
INTERPOLATION = re.compile(r"^\$\{[A-Za-z_][A-Za-z0-9_]*(?::?[-?][^}]*)?\}$")
INLINE_DEFAULT = re.compile(r"^\$\{[A-Za-z_][A-Za-z0-9_]*:?-([^}]+)\}$")
# Inline values tolerated outside production, with the reason (compose.prod.yaml overrides them).
INLINE_SECRET_ALLOWED = {
    ("realtime", "DB_ENC_KEY"): "upstream realtime's fixed self-host value; compose.prod.yaml "
                                "takes it from ${REALTIME_DB_ENC_KEY}",
}

OVERLAYS = {
    # name: files after stack/compose.yaml
    "base": [],
    "local": ["compose.local.yaml"],
    "dev": ["compose.dev.yaml"],
    "local+dev": ["compose.local.yaml", "compose.dev.yaml"],
    "staging": ["compose.staging.yaml"],
    "prod": ["compose.prod.yaml"],
}


class ComposeError(Exception):
    """`docker compose config` refused the files (the message is compose's)."""


def config(overlay: str, env_file: Path, interpolate: bool = True) -> dict:
    """The merged config of stack/compose.yaml + the overlay's files, every profile on,
    resolved with `env_file` only (suite.stack.compose_config)."""
    files = ["compose.yaml", *OVERLAYS[overlay]]
    try:
        return json.loads(compose_config([STACK / f for f in files], env_file, interpolate))
    except StackError as exc:
        raise ComposeError(f"{' + '.join(files)}: docker compose config failed: {exc}") from None


def _services(cfg: dict) -> dict:
    return cfg.get("services") or {}


def environment(svc: dict) -> dict:
    """A service's environment as a mapping (compose prints a list after some merges)."""
    env = svc.get("environment") or {}
    if isinstance(env, list):
        env = dict(e.split("=", 1) if "=" in e else (e, None) for e in env)
    return env


# ---- the checks -----------------------------------------------------------------------
def check_healthchecks(cfg: dict, where: str) -> list[str]:
    """Every service declares a healthcheck (not disabled)."""
    problems = []
    for name, svc in sorted(_services(cfg).items()):
        hc = svc.get("healthcheck") or {}
        test = hc.get("test") or []
        if not hc or hc.get("disable") or not test or test[0] == "NONE":
            problems.append(f"{where}: service {name}: no healthcheck")
    return problems


def check_restart_policies(cfg: dict, where: str) -> list[str]:
    problems = []
    for name, svc in sorted(_services(cfg).items()):
        restart = svc.get("restart") or (svc.get("deploy") or {}).get("restart_policy", {}).get("condition")
        if restart in (None, "", "no", "none"):
            problems.append(f"{where}: service {name}: no restart policy (restart: {restart or 'unset'})")
    return problems


def check_memory_limits(cfg: dict, where: str) -> list[str]:
    problems = []
    for name, svc in sorted(_services(cfg).items()):
        limit = ((svc.get("deploy") or {}).get("resources") or {}).get("limits", {}).get("memory") \
            or svc.get("mem_limit")
        if not limit or str(limit) in ("0", "-1"):
            problems.append(f"{where}: service {name}: no memory limit (deploy.resources.limits.memory)")
    return problems


def image_problem(image: str | None) -> str | None:
    """Why an image reference is not pinned, or None when it is."""
    if not image:
        return "no image (a build without a pinned image name)"
    if "@sha256:" in image:
        return None
    if LOCAL_IMAGE.match(image):
        return None  # built here from stack/<service>/Dockerfile: a pinned local build
    last = image.rsplit("/", 1)[-1]
    if ":" not in last:
        return f"image {image} has no tag (means :latest)"
    tag = last.split(":", 1)[1]
    if tag in ("latest", "local", "main", "master", "nightly", "edge", "stable"):
        return f"image {image} uses the moving tag :{tag}"
    return None


def check_pinned_images(cfg: dict, where: str) -> list[str]:
    problems = []
    for name, svc in sorted(_services(cfg).items()):
        why = image_problem(svc.get("image"))
        if why:
            problems.append(f"{where}: service {name}: {why}")
    return problems


def _volume_source_target(vol) -> tuple[str, str, bool]:
    if isinstance(vol, str):
        parts = vol.split(":")
        ro = len(parts) > 2 and "ro" in parts[2].split(",")
        return parts[0], parts[1] if len(parts) > 1 else parts[0], ro
    return str(vol.get("source", "")), str(vol.get("target", "")), bool(vol.get("read_only"))


def check_privileges(cfg: dict, where: str) -> list[str]:
    """No privileged containers, no dangerous capabilities, no host namespaces, and the
    Docker socket only where DOCKER_SOCKET_ALLOWED says (read-only)."""
    problems = []
    for name, svc in sorted(_services(cfg).items()):
        if svc.get("privileged"):
            problems.append(f"{where}: service {name}: privileged: true")
        caps = {str(c).upper().removeprefix("CAP_") for c in svc.get("cap_add") or []}
        for cap in sorted(caps & DANGEROUS_CAPS):
            problems.append(f"{where}: service {name}: cap_add {cap}")
        for key in ("pid", "network_mode", "ipc", "userns_mode"):
            if str(svc.get(key) or "") == "host":
                problems.append(f"{where}: service {name}: {key}: host")
        for opt in svc.get("security_opt") or []:
            if "unconfined" in str(opt):
                problems.append(f"{where}: service {name}: security_opt {opt}")
        for vol in svc.get("volumes") or []:
            source, _, read_only = _volume_source_target(vol)
            if source.rstrip("/") in DOCKER_SOCKETS or source.rstrip("/") in ("/var/run", "/run"):
                if name in DOCKER_SOCKET_ALLOWED and read_only:
                    continue
                detail = "read-write" if not read_only else "not on the allow-list (promtail, read-only)"
                problems.append(f"{where}: service {name}: mounts the Docker socket {source} ({detail})")
    return problems


def check_ports(cfg: dict, where: str, allowed_hosts: set[str],
                publishers: frozenset[str] = PUBLISHING_SERVICES) -> list[str]:
    """Published ports only on the allowed host addresses (loopback or ${BIND_ADDRESS}),
    and only by the services docs/architecture.md lists."""
    problems = []
    for name, svc in sorted(_services(cfg).items()):
        for port in svc.get("ports") or []:
            if isinstance(port, str):
                problems.append(f"{where}: service {name}: port {port!r} not resolved (run on `docker compose config`)")
                continue
            if not port.get("published"):
                continue  # container port only, not published on the host
            host = port.get("host_ip") or "0.0.0.0"
            desc = f"{host}:{port.get('published')}->{port.get('target')}"
            if name not in publishers:
                problems.append(f"{where}: service {name}: publishes port {desc}, but only "
                                f"{', '.join(sorted(publishers))} may publish ports (docs/architecture.md)")
            if host not in allowed_hosts:
                problems.append(f"{where}: service {name}: port {desc} bound to {host}, "
                                f"not to {' / '.join(sorted(allowed_hosts))}")
        if svc.get("network_mode") == "host" and name not in publishers:
            pass  # reported by check_privileges
    return problems


def _secret_value_problem(key: str, value) -> str | None:
    if value is None:
        return None  # passed through from the environment by name
    value = str(value)
    if not value:
        return None
    m = URL_WITH_PASSWORD.match(value)
    if m:
        password = m.group(1)
        if not INTERPOLATION.match(password):
            return f"{key} holds a URL with an inline password"
        if INLINE_DEFAULT.match(password):
            return f"{key} holds a URL whose password has an inline default"
        return None
    if not SECRET_KEY.search(key) or NOT_SECRET_KEY.search(key):
        return None
    if not INTERPOLATION.match(value):
        return f"{key} has an inline value (not ${{VAR}} interpolation)"
    if INLINE_DEFAULT.match(value):
        return f"{key} has an inline default ({value.split(':-', 1)[0]}:-...)"
    return None


def check_inline_secrets(raw_cfg: dict, where: str,
                         allowed: dict[tuple[str, str], str] | None = None) -> list[str]:
    """Secret-looking environment values must come from ${VAR} in the unresolved config
    (`docker compose config --no-interpolate`), with no inline default. `allowed` lists
    (service, key) pairs tolerated with a reason."""
    allowed = allowed or {}
    problems = []
    for name, svc in sorted(_services(raw_cfg).items()):
        for key, value in sorted(environment(svc).items()):
            why = _secret_value_problem(key, value)
            if why and (name, key) not in allowed:
                problems.append(f"{where}: service {name}: environment {why}")
        command = svc.get("command") or []
        if isinstance(command, list):
            for flag, value in zip(command, command[1:]):
                if str(flag) in ("--requirepass", "--password", "--masterauth") and not INTERPOLATION.match(str(value)):
                    problems.append(f"{where}: service {name}: command {flag} has an inline value")
    return problems


def check_required_vars(raw_cfg: dict, where: str, required: dict[tuple[str, str], str]) -> list[str]:
    """Keys that must be `${VAR:?message}` (required, no default) in this overlay."""
    problems = []
    services = _services(raw_cfg)
    for (name, key), var in sorted(required.items()):
        value = str(environment(services.get(name) or {}).get(key) or "")
        if not re.fullmatch(r"\$\{" + re.escape(var) + r":\?[^}]*\}", value):
            problems.append(f"{where}: service {name}: environment {key}={value or '(unset)'} must be "
                            f"${{{var}:?...}} (required, no default)")
    return problems


# ---- the env file the checks resolve the config with -----------------------------------
TEST_BIND_ADDRESS = "127.0.0.9"  # a sentinel: ports must follow ${BIND_ADDRESS}, not a literal
TEST_ORIGINS = "https://app.example.test,https://admin.example.test"


def write_test_env(path: Path, **overrides: str) -> dict[str, str]:
    """A complete env file like `make env` writes (stack/bin/make_env.py renders
    stack/.env.example with fresh secrets), plus the production-only keys; returns it."""
    values = {**make_env.fresh_values(), "REALTIME_DB_ENC_KEY": "0123456789abcdef",
              "BIND_ADDRESS": TEST_BIND_ADDRESS, "CORS_ALLOWED_ORIGINS": TEST_ORIGINS,
              "API_EXTERNAL_URL": "https://api.example.test", "SITE_URL": "https://app.example.test",
              **overrides}
    text = make_env.render((STACK / ".env.example").read_text(), values)
    missing = [k for k in values if not re.search(rf"^{k}=", text, re.M)]
    text += "".join(f"{k}={values[k]}\n" for k in missing)
    path.write_text(text)
    path.chmod(0o600)
    return read_env_file(path)


# ${VAR} in a Compose or channel file (not $${VAR}: the container's own shell expands that)
ENV_REFERENCE = re.compile(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)")
ENV_EXAMPLE_KEY = re.compile(r"^\s*#?\s*([A-Za-z_][A-Za-z0-9_]*)=", re.M)


def env_references(text: str) -> set[str]:
    """The variables a file reads from the environment, comment lines left out."""
    code = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    return set(ENV_REFERENCE.findall(code))


def check_env_documented(files: dict[str, str], example: str, where: str = "stack/.env.example") -> list[str]:
    """Every variable the stack's files read from the environment is a key of the example env
    file ({file name: text} -> problems): an operator learns every setting from one file."""
    documented = set(ENV_EXAMPLE_KEY.findall(example))
    problems = []
    for name, text in sorted(files.items()):
        for var in sorted(env_references(text) - documented):
            problems.append(f"{name} reads ${{{var}}}, which {where} does not document: add it there "
                            f"with a comment (empty when optional)")
    return problems
