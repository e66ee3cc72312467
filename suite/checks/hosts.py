"""Host checks: the stack's containers running and healthy, the open-files limit and kernel
settings the gateway and realtime need for the WebSocket users they must carry, disk free
under Docker's data root, and the backup schedule on the machine.

Pure: the shell snippets the infra test runs (through testinfra's local, ssh and docker
backends) are written here next to the parsers of their output; every `check_*` takes
parsed values and returns problem strings naming the host or container, the setting, the
value found, the value required and the fix.
"""
from __future__ import annotations

import re
import stat
from dataclasses import dataclass, field

# The Supabase services every deployment runs: a target without one of their containers fails.
CORE_SERVICES = ("db", "gateway", "auth", "rest", "realtime", "meta")
COMPOSE_FILE = "stack/compose.yaml"

# ---- what the test runs, and the parsers of its output ----------------------------------
# Inside a container, in one `sh -c` (busybox or coreutils): the network namespace's
# settings and every process's open-files limit with its command line.
SNAPSHOT_SCRIPT = r"""
echo "somaxconn $(cat /proc/sys/net/core/somaxconn)"
echo "port_range $(cat /proc/sys/net/ipv4/ip_local_port_range)"
for d in /proc/[0-9]*; do
  p=${d#/proc/}
  [ "$p" = "$$" ] && continue
  l=$(grep '^Max open files' "$d/limits" 2>/dev/null) || continue
  c=$(tr '\000' ' ' < "$d/cmdline" 2>/dev/null) || continue
  echo "proc $p $l :: $c"
done
"""
# On the machine: Docker's data root and the filesystem holding it.
DISK_SCRIPT = "d=$(docker info --format '{{.DockerRootDir}}') && echo \"root $d\" && df -Pk \"$d\""

_PROC = re.compile(r"^proc (\d+) Max open files\s+(\S+)\s+(\S+)\s+files\s*:: ?(.*)$")


@dataclass(frozen=True)
class Process:
    pid: int
    cmdline: str
    nofile_soft: float   # inf for "unlimited"
    nofile_hard: float


@dataclass
class Snapshot:
    """A container's network-namespace settings and processes (from SNAPSHOT_SCRIPT)."""
    somaxconn: int | None = None
    port_range: tuple[int, int] | None = None
    processes: list[Process] = field(default_factory=list)


def _limit(value: str) -> float:
    return float("inf") if value == "unlimited" else float(int(value))


def parse_snapshot(text: str) -> Snapshot:
    snap = Snapshot()
    for line in text.splitlines():
        words = line.split()
        if words[:1] == ["somaxconn"] and len(words) == 2 and words[1].isdigit():
            snap.somaxconn = int(words[1])
        elif words[:1] == ["port_range"] and len(words) == 3 and words[1].isdigit() and words[2].isdigit():
            snap.port_range = (int(words[1]), int(words[2]))
        elif m := _PROC.match(line.rstrip()):
            snap.processes.append(Process(int(m[1]), m[4].strip(), _limit(m[2]), _limit(m[3])))
    return snap


@dataclass(frozen=True)
class Disk:
    root: str          # Docker's data root
    mount: str         # where its filesystem is mounted
    size_kib: int
    avail_kib: int


def parse_disk(text: str) -> Disk:
    """DISK_SCRIPT's output: `root PATH` then `df -Pk PATH` (a header and one row)."""
    lines = [line for line in text.splitlines() if line.strip()]
    root = next((line[5:].strip() for line in lines if line.startswith("root ")), "")
    rows = [line.split() for line in lines if not line.startswith(("root ", "Filesystem"))]
    if not root or not rows or len(rows[-1]) < 6:
        raise ValueError(f"unexpected output of `{DISK_SCRIPT}`: {text.strip()[:300]!r}")
    row = rows[-1]
    return Disk(root=root, mount=row[5], size_kib=int(row[1]), avail_kib=int(row[3]))


# ---- containers running and healthy ------------------------------------------------------
def where(service: str, container: str) -> str:
    return f"{service} (container {container})"


def check_containers(service: str, containers: list[dict], project: str, host: str) -> list[str]:
    """The service has a container, and each one is running and healthy."""
    if not containers:
        return [f"{service}: no container of service {service} in Compose project {project} on {host}: "
                f"the service is not deployed; start it (`docker compose up -d {service}`)"]
    problems = []
    for c in containers:
        state, at = c.get("state") or {}, where(service, c["name"])
        status = state.get("Status") or "unknown"
        health = (state.get("Health") or {}).get("Status")
        if status != "running":
            problems.append(f"{at}: state {status} (exit code {state.get('ExitCode')}, restarted "
                            f"{c.get('restarts', 0)} times), needs running: read `docker logs {c['name']}`, "
                            f"fix the cause, then `docker compose up -d {service}`")
        elif health is None:
            problems.append(f"{at}: no healthcheck, so its health is unknown, needs healthy: declare a "
                            f"healthcheck for service {service} ({COMPOSE_FILE})")
        elif health != "healthy":
            log = (state.get("Health") or {}).get("Log") or []
            last = " ".join(str(log[-1].get("Output", "")).split())[:200] if log else ""
            verb = "has not passed yet" if health == "starting" else "fails"
            problems.append(f"{at}: health {health} (failing streak "
                            f"{(state.get('Health') or {}).get('FailingStreak', 0)}), needs healthy: its "
                            f"healthcheck {verb}" + (f" (last output: {last})" if last else "")
                            + f"; see `docker inspect --format '{{{{json .State.Health}}}}' {c['name']}`")
    return problems


# ---- open files and kernel settings for the WebSocket users ------------------------------
@dataclass(frozen=True)
class Serving:
    """How to find a service's serving processes, and where their limits are set."""
    label: str
    cmdline: re.Pattern
    nofile_fix: str


SERVING = {
    # nginx (local) and Kong (upstream) alike: the workers hold the connections
    "gateway": Serving("nginx worker", re.compile(r"^nginx: worker process"),
                       "set worker_rlimit_nofile (stack/gateway/render_nginx.py; Kong: "
                       "KONG_NGINX_MAIN_WORKER_RLIMIT_NOFILE) / ulimits.nofile of service gateway in "
                       + COMPOSE_FILE),
    # upstream: the Erlang VM; local: the Python stand-in (not tini, its parent)
    "realtime": Serving("realtime server", re.compile(r"^\S*(?:beam\.smp|python[\d.]*\s.*\bstandins\.realtime)\b"),
                        f"set ulimits.nofile and RLIMIT_NOFILE of service realtime in {COMPOSE_FILE}"),
}


def serving_processes(service: str, processes: list[Process]) -> list[Process]:
    return [p for p in processes if SERVING[service].cmdline.search(p.cmdline)]


def _count(value: float) -> str:
    return "unlimited" if value == float("inf") else str(int(value))


def check_nofile(service: str, container: str, processes: list[Process], minimum: int, users: int) -> list[str]:
    """The serving processes' soft open-files limit: each WebSocket is a descriptor (two
    through the gateway: the client's and the upstream one)."""
    serving, at = SERVING[service], where(service, container)
    found = serving_processes(service, processes)
    if not found:
        return [f"{at}: no {serving.label} process found (command line matching "
                f"{serving.cmdline.pattern!r}), so its open-files limit cannot be judged: is the "
                f"service running the expected server?"]
    low: dict[float, list[int]] = {}
    for p in found:
        if p.nofile_soft < minimum:
            low.setdefault(p.nofile_soft, []).append(p.pid)
    return [f"{at}: open-files limit of {serving.label} pid{'s' if len(pids) > 1 else ''} "
            f"{', '.join(map(str, pids))} is {_count(soft)}, needs >= {minimum} for {users:,} WebSocket "
            f"users: {serving.nofile_fix}" for soft, pids in sorted(low.items())]


def check_somaxconn(service: str, container: str, value: int | None, minimum: int, users: int) -> list[str]:
    """The accept backlog cap of the container's network namespace (bursts of handshakes)."""
    at = where(service, container)
    if value is None:
        return [f"{at}: /proc/sys/net/core/somaxconn unreadable, needs >= {minimum}"]
    if value < minimum:
        return [f"{at}: net.core.somaxconn is {value}, needs >= {minimum} (accept backlog for the "
                f"connection bursts of {users:,} WebSocket users): set sysctls: "
                f"{{net.core.somaxconn: {minimum}}} on service {service} in {COMPOSE_FILE}"]
    return []


def check_port_range(service: str, container: str, port_range: tuple[int, int] | None, minimum: int,
                     users: int) -> list[str]:
    """Ephemeral ports for the gateway's upstream connections (one per WebSocket to realtime)."""
    at = where(service, container)
    if port_range is None:
        return [f"{at}: /proc/sys/net/ipv4/ip_local_port_range unreadable, needs >= {minimum} ports"]
    low, high = port_range
    ports = high - low + 1
    if ports < minimum:
        return [f"{at}: net.ipv4.ip_local_port_range is {low}-{high} ({ports} ports), needs >= {minimum} "
                f"ports (one upstream connection per WebSocket, {users:,} users): set sysctls: "
                f"{{net.ipv4.ip_local_port_range: \"10240 65535\"}} on service {service} in {COMPOSE_FILE}"]
    return []


# ---- disk free ---------------------------------------------------------------------------
def check_disk_free(host: str, disk: Disk, min_pct: float, min_gib: float) -> list[str]:
    """Free space (as available to non-root) of the filesystem holding Docker's data root."""
    pct = 100.0 * disk.avail_kib / disk.size_kib if disk.size_kib else 0.0
    gib, size_gib = disk.avail_kib / 2**20, disk.size_kib / 2**20
    if pct >= min_pct and gib >= min_gib:
        return []
    return [f"{host}: Docker data root {disk.root} (filesystem on {disk.mount}) has {pct:.1f}% free "
            f"({gib:.1f} GiB of {size_gib:.1f} GiB), needs >= {min_pct:g}% and >= {min_gib:g} GiB: free space "
            f"(`docker system prune`, old backups under backups/) or grow the disk"]


# ---- backup schedule ---------------------------------------------------------------------
CRON_KEY = "BACKUP_CRON_FILE"
CRON_EXAMPLE = "stack/backup/crontab.example"
_SCHEDULE = re.compile(r"^(?:@(?:reboot|yearly|annually|monthly|weekly|daily|midnight|hourly)"
                       r"|(?:[\d*/,A-Za-z-]+\s+){4}[\d*/,A-Za-z-]+)\s+(\S.*)$")
# stack/backup/backup.sh or one kind's script, or `make [...] backup`
_BACKUP = re.compile(r"(?:^|[\s/])(?:(?:pg-dump|pgbackrest|redis|volume)-)?backup\.sh(?:\s|$|[;&|)])"
                     r"|(?:^|[\s;&|(])make\s(?:[^;&|]*\s)?backup(?:\s|$|[;&|)])")
# Files cron reads in the system format (with a user field), and what Debian's cron ignores.
_SYSTEM_CRONTAB = re.compile(r"^/etc/(?:crontab|cron\.d/[^/]+)$")
_CRON_D_NAME = re.compile(r"^[A-Za-z0-9_-]+$")
_NOT_A_USER = {"cd", "make", "sh", "bash", "env", "nice", "flock", "test"}


def backup_schedule_lines(text: str) -> list[tuple[int, str]]:
    """(line number, command) of the active schedule lines (not blank, comment or VAR=value)."""
    out = []
    for n, line in enumerate(text.splitlines(), 1):
        if (m := _SCHEDULE.match(line.strip())) and not line.lstrip().startswith("#"):
            out.append((n, m[1]))
    return out


def check_backup_cron(host: str, path: str, exists: bool, content: str = "", mode: int = 0o644,
                      owner: str = "root") -> list[str]:
    """The declared cron file exists and schedules the stack's backup (stack/backup/backup.sh,
    a kind's script or `make backup`); files in /etc/cron.d must also be ones cron reads."""
    at = f"{host}: backup schedule {path} ({CRON_KEY})"
    if not exists:
        return [f"{at} does not exist: install {CRON_EXAMPLE} there (adjusted to the stack's folder), "
                f"or correct {CRON_KEY} in the target's env file"]
    problems = []
    system = bool(_SYSTEM_CRONTAB.match(path))
    if system and path.startswith("/etc/cron.d/") and not _CRON_D_NAME.match(path.rsplit("/", 1)[1]):
        problems.append(f"{at}: cron ignores files in /etc/cron.d whose name has characters other than "
                        f"letters, digits, _ and - (run-parts names): rename it, e.g. /etc/cron.d/supabase-backup")
    if system and (stat.S_IMODE(mode) & 0o022 or owner != "root"):
        problems.append(f"{at}: owner {owner}, mode {stat.S_IMODE(mode):o}; cron ignores a system crontab not "
                        f"owned by root or writable by group or others: chown root and chmod 644 it")
    lines = backup_schedule_lines(content)
    backups = [(n, cmd) for n, cmd in lines if _BACKUP.search(cmd)]
    if not lines:
        problems.append(f"{at} has no active schedule line (every line is blank, a comment or a "
                        f"variable): add or uncomment one like those in {CRON_EXAMPLE}")
    elif not backups:
        problems.append(f"{at}: none of its {len(lines)} schedule line(s) runs the stack's backup "
                        f"(stack/backup/backup.sh or `make backup`): add one like those in {CRON_EXAMPLE}")
    for n, cmd in backups if system else []:
        user = cmd.split()[0]
        if "/" in user or user in _NOT_A_USER:
            problems.append(f"{at}:{n}: no user field before the command ({user!r} would be taken for the "
                            f"user): system crontabs need one, e.g. `15 3 * * * root cd /opt/supabase && make backup`")
    return problems
