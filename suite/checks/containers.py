"""Container hardening, from the Compose config and from the live containers alike: no
privilege gain through setuid binaries (`no-new-privileges`, CIS Docker 5.25), a pids limit
(5.28), no host directories mounted beyond a declared list (5.5), the database and Redis
published on loopback only unless the target declares them public and then with TLS
(5.13), and no container restarted or OOM-killed since it was created (5.14).

Both sources are first turned into `Container` facts (`from_compose`, `from_inspect`), so
one set of judges decides for the repository's files and for what runs.
"""
from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from pathlib import PurePosixPath

import psycopg
import redis

# Host paths a service may mount, read-only, with the reason (CIS Docker 5.5 names /, /proc,
# /sys among the sensitive ones). Bind mounts of the project's own files (under the
# directory holding its Compose files) are configuration, not host access.
HOST_MOUNTS_ALLOWED = {
    ("node-exporter", "/proc"): "host CPU, memory and process metrics (node_exporter --path.procfs)",
    ("node-exporter", "/sys"): "host device and filesystem metrics (--path.sysfs)",
    ("node-exporter", "/"): "host filesystem usage (--path.rootfs)",
    ("promtail", "/var/lib/docker/containers"): "ships the containers' JSON log files to Loki",
}
# Services whose host port is a data store: loopback only unless the target declares it.
DATA_STORES = {"db": "DB_PUBLIC", "redis": "REDIS_PUBLIC"}


@dataclass
class Mount:
    source: str
    target: str
    read_only: bool


@dataclass
class Container:
    """What the judges read of one service's container (or its Compose definition)."""
    service: str
    name: str                                   # container name, or the service for compose
    no_new_privileges: bool = False
    pids_limit: int | None = None               # None or <= 0: unlimited
    binds: list[Mount] = field(default_factory=list)
    ports: list[tuple[str, str, str]] = field(default_factory=list)  # (host ip, host port, container port)
    restarts: int = 0
    oom_killed: bool = False


def _no_new_privileges(options) -> bool:
    """Docker reads security options in order; the last no-new-privileges entry wins."""
    value = False
    for opt in options or []:
        key, sep, val = str(opt).replace("=", ":", 1).partition(":")
        if key.strip() == "no-new-privileges":
            value = (val.strip().lower() in ("true", "1")) if sep else True
    return value


def _pids(value) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def _labels_of(c: dict) -> dict:
    return (c.get("Config") or {}).get("Labels") or {}


def _is_service(c: dict) -> bool:
    """A service's own container: Compose's carry a container number; a `docker run` of an
    image Compose built inherits only the image's project and service labels (tools, backups)."""
    labels = _labels_of(c)
    return (labels.get("com.docker.compose.oneoff") != "True" and not labels.get("suite.helper")
            and "com.docker.compose.container-number" in labels)


# ---- facts --------------------------------------------------------------------------------
def from_compose(cfg: dict) -> list[Container]:
    """`docker compose config --format json` -> one Container per service."""
    out = []
    for name, svc in sorted((cfg.get("services") or {}).items()):
        limits = ((svc.get("deploy") or {}).get("resources") or {}).get("limits") or {}
        binds = []
        for vol in svc.get("volumes") or []:
            if isinstance(vol, dict) and vol.get("type") == "bind":
                binds.append(Mount(str(vol.get("source", "")), str(vol.get("target", "")), bool(vol.get("read_only"))))
        ports = [(str(p.get("host_ip") or "0.0.0.0"), str(p.get("published")), str(p.get("target")))
                 for p in svc.get("ports") or [] if isinstance(p, dict) and p.get("published")]
        out.append(Container(service=name, name=name, no_new_privileges=_no_new_privileges(svc.get("security_opt")),
                             pids_limit=_pids(svc.get("pids_limit") or limits.get("pids")), binds=binds, ports=ports))
    return out


def from_inspect(inspected: list[dict]) -> list[Container]:
    """`docker inspect` JSON of the project's containers -> Containers (one-off runs and tools left out)."""
    out = []
    for c in filter(_is_service, inspected):
        labels = _labels_of(c)
        host = c.get("HostConfig") or {}
        binds = [Mount(m.get("Source", ""), m.get("Destination", ""), not m.get("RW", True))
                 for m in c.get("Mounts") or [] if m.get("Type") == "bind"]
        ports = [(b.get("HostIp") or "0.0.0.0", str(b.get("HostPort")), port.split("/")[0])
                 for port, bindings in ((c.get("NetworkSettings") or {}).get("Ports") or {}).items()
                 for b in bindings or []]
        state = c.get("State") or {}
        out.append(Container(service=labels.get("com.docker.compose.service", c.get("Name", "").lstrip("/")),
                             name=c.get("Name", "").lstrip("/"),
                             no_new_privileges=_no_new_privileges(host.get("SecurityOpt")),
                             pids_limit=_pids(host.get("PidsLimit")), binds=binds, ports=ports,
                             restarts=int(c.get("RestartCount") or 0), oom_killed=bool(state.get("OOMKilled"))))
    return sorted(out, key=lambda c: (c.service, c.name))


# ---- judges -------------------------------------------------------------------------------
def _label(where: str, c: Container) -> str:
    return f"{where}: service {c.service}" + (f" (container {c.name})" if c.name != c.service else "")


def check_no_new_privileges(containers: list[Container], where: str) -> list[str]:
    """CIS Docker 5.25: a setuid binary inside must not give a process more rights."""
    return [f"{_label(where, c)}: no-new-privileges is off: add `security_opt: [\"no-new-privileges:true\"]`"
            for c in containers if not c.no_new_privileges]


def check_pids_limit(containers: list[Container], where: str, max_limit: int) -> list[str]:
    """CIS Docker 5.28: a fork bomb or thread leak stays inside its container."""
    problems = []
    for c in containers:
        if c.pids_limit is None or c.pids_limit <= 0:
            problems.append(f"{_label(where, c)}: no pids limit (unlimited): set `pids_limit` "
                            f"(at most {max_limit})")
        elif c.pids_limit > max_limit:
            problems.append(f"{_label(where, c)}: pids limit {c.pids_limit} is above {max_limit} "
                            f"(thresholds.yaml hardening.pids_limit_max): lower `pids_limit`")
    return problems


def _inside(path: str, root: str) -> bool:
    p, r = PurePosixPath(path), PurePosixPath(root)
    return p == r or r in p.parents


def check_host_mounts(containers: list[Container], where: str, project_dir: str,
                      allowed: dict[tuple[str, str], str] = HOST_MOUNTS_ALLOWED) -> list[str]:
    """CIS Docker 5.5: host directories mounted only where `allowed` says, read-only; the
    project's own files (under `project_dir`) are configuration and pass."""
    problems = []
    for c in containers:
        for m in c.binds:
            source = m.source.rstrip("/") or "/"
            if _inside(source, project_dir):
                continue
            if (c.service, source) not in allowed:
                problems.append(f"{_label(where, c)}: mounts host path {source} at {m.target}, which is not on the "
                                f"declared list (suite/checks/containers.py HOST_MOUNTS_ALLOWED): remove the mount "
                                f"or declare it with its reason")
            elif not m.read_only:
                problems.append(f"{_label(where, c)}: mounts host path {source} read-write: mount it `:ro` "
                                f"({allowed[(c.service, source)]} needs reading only)")
    return problems


def is_loopback(host_ip: str) -> bool:
    """127.0.0.0/8 or ::1; False for anything that is not an address (0.0.0.0, "", a name)."""
    try:
        return ipaddress.ip_address(host_ip).is_loopback
    except ValueError:
        return False


def check_data_store_ports(containers: list[Container], where: str, declared_public: dict[str, bool],
                           tls: dict[str, bool | None] | None = None) -> list[str]:
    """The database and Redis published beyond loopback only when the target declares it
    (DB_PUBLIC / REDIS_PUBLIC), and then only with TLS on (`tls`: service -> on, off, or None
    when unknown)."""
    tls = tls or {}
    problems = []
    for c in containers:
        key = DATA_STORES.get(c.service)
        if not key:
            continue
        for host_ip, host_port, port in c.ports:
            if is_loopback(host_ip):
                continue
            desc = f"port {port} published on {host_ip}:{host_port}"
            if not declared_public.get(c.service):
                problems.append(f"{_label(where, c)}: {desc}, beyond loopback, and the target does not declare "
                                f"{key}=true: bind it to 127.0.0.1 (BIND_ADDRESS) or declare it")
            elif tls.get(c.service) is False:
                problems.append(f"{_label(where, c)}: {desc} ({key}=true) without TLS: turn TLS on before "
                                f"publishing it")
            elif tls.get(c.service) is None:
                problems.append(f"{_label(where, c)}: {desc} ({key}=true), and whether it speaks TLS could not "
                                f"be read")
    return problems


def check_restarts(containers: list[Container], where: str) -> list[str]:
    """CIS Docker 5.14 keeps restarts bounded; here none may have happened at all since the
    container was created, and no process may have been OOM-killed (a restart policy hides
    crash loops otherwise)."""
    problems = []
    for c in containers:
        if c.restarts:
            problems.append(f"{_label(where, c)}: restarted {c.restarts} time(s) since it was created "
                            f"(a crash the restart policy hid): read `docker logs {c.name}`")
        if c.oom_killed:
            problems.append(f"{_label(where, c)}: OOM-killed (State.OOMKilled): raise its memory limit or "
                            f"find the leak")
    return problems


# ---- thin readers (through the stack layer) -------------------------------------------------
def environment(inspected: list[dict], service: str) -> dict[str, str] | None:
    """The environment of the service's (first) container; None when it has none."""
    for c in filter(_is_service, inspected):
        if _labels_of(c).get("com.docker.compose.service") == service:
            return dict(e.split("=", 1) if "=" in e else (e, "") for e in (c.get("Config") or {}).get("Env") or [])
    return None


def project_dir(inspected: list[dict]) -> str | None:
    """The directory the project's Compose files were run from (its label)."""
    for c in inspected:
        wd = _labels_of(c).get("com.docker.compose.project.working_dir")
        if wd:
            return wd
    return None


def unreachable_reason(stack) -> str | None:
    """Why the stack's containers cannot be read (a deployed target without SUITE_HOST)."""
    if stack.reachable:
        return None
    return (f"{stack.target.name} declares no SUITE_HOST: the deployed stack's containers (their settings, "
            f"environment and restarts) cannot be read")


def fetch_tls(target, declared_public: dict[str, bool]) -> dict[str, bool | None]:
    """For each data store the target declares public: does its published endpoint speak TLS?
    (db: a connection with sslmode=require; redis: a TLS handshake). None: not answering."""
    out: dict[str, bool | None] = {}
    if declared_public.get("db") and target.has("db"):
        try:
            psycopg.connect(target.url("db"), sslmode="require", connect_timeout=3).close()
            out["db"] = True
        except psycopg.OperationalError as exc:
            out["db"] = False if "SSL" in str(exc) else None
    if declared_public.get("redis") and target.has("redis"):
        url = target.url("redis").replace("redis://", "rediss://", 1)
        try:
            redis.Redis.from_url(url, socket_timeout=3, ssl_cert_reqs="none").ping()
            out["redis"] = True
        except redis.exceptions.ConnectionError:
            out["redis"] = False
        except redis.exceptions.RedisError:
            out["redis"] = None
    return out
