"""Hosts with testinfra: the machine running the stack (`local://`, or the target's
SUITE_HOST, e.g. `ssh://deploy@db1.example.com`) and the stack's containers (`docker://`,
found by their Compose labels): containers running and healthy; the open-files limit,
somaxconn and ephemeral port range the gateway and realtime need for 10,000 WebSocket users;
disk free under Docker's data root; the backup schedule where the target declares one
(BACKUP_CRON_FILE). Checks in suite/checks/hosts.py, bounds in thresholds.yaml `hosts:`.

Reads only: one `docker inspect` for every container, one `sh -c` a container for its
/proc settings, one command for the disk, the cron file's stat and text."""
from __future__ import annotations

import pytest
import yaml

from suite.checks import hosts
from suite.stack import Stack
from suite.stack.machine import HOST_KEY, declared
from suite.target import LOCAL_ONLY_REASON, STACK, Target
from suite.thresholds import LIMITS

USERS = LIMITS.benchmarks.realtime.connections
# Every service of stack/compose.yaml but the profile-only ones (alert-sink: tests only).
SERVICES = [name for name, svc in yaml.safe_load((STACK / "compose.yaml").read_text())["services"].items()
            if not svc.get("profiles")]
SERVING = list(hosts.SERVING)  # gateway, realtime


@pytest.fixture(scope="module")
def infra_stack(infra_target) -> Stack:
    return Stack(infra_target)


@pytest.fixture(scope="module")
def machine(infra_target, infra_stack):
    """The local machine for the local stack; for a deployed target, SUITE_HOST or a skip."""
    if not infra_stack.reachable:
        pytest.skip(f"{infra_target.name} declares no {HOST_KEY}: the deployed stack's machine is not "
                    f"reachable, so its containers, limits, disk and backup schedule are not checked")
    return infra_stack.machine


@pytest.fixture(scope="module")
def project(infra_stack) -> str:
    return infra_stack.project


@pytest.fixture(scope="module")
def containers(machine, infra_stack) -> dict[str, list[dict]]:
    """The project's containers by Compose service (one-off and the suite's helpers left out)."""
    return infra_stack.containers()


@pytest.fixture(scope="module")
def snapshots(machine, containers):
    """snapshots(service): [(container, hosts.Snapshot)] of its running containers, read once."""
    cache: dict[str, list] = {}

    def _snapshots(service: str) -> list[tuple[str, hosts.Snapshot]]:
        if service not in cache:
            running = [c["name"] for c in containers.get(service, []) if c["state"].get("Status") == "running"]
            if not running:
                pytest.fail(f"{service}: no running container on {machine.label} to read its limits from "
                            f"(see test_container_running_and_healthy[{service}])", pytrace=False)
            cache[service] = [(name, hosts.parse_snapshot(machine.in_container(
                name, "reading /proc (somaxconn, port range, open-files limits)", hosts.SNAPSHOT_SCRIPT)))
                for name in running]
        return cache[service]
    return _snapshots


def not_required(service: str, target: Target, request) -> str | None:
    """Why a service may lack a container on this target, or None when it must have one."""
    if service in hosts.CORE_SERVICES or target.has(service):
        return None
    if service in target.absent:
        return f"{service}: {target.absent[service]}"
    if target.is_local:
        profiles = request.getfixturevalue("compose_config")("local")["services"].get(service, {}).get("profiles")
        return f"{service}: {LOCAL_ONLY_REASON}" if profiles else None
    return (f"{service}: no container, and none required on a deployed target (not a Supabase core "
            f"service, and {target.name} declares no URL for it)")


# ---- containers --------------------------------------------------------------------------
@pytest.mark.parametrize("service", SERVICES)
def test_container_running_and_healthy(service, containers, machine, project, infra_target, request):
    """Catches: a service of the stack without a container, exited or restarting, or running
    but unhealthy (its healthcheck failing) or without a healthcheck."""
    found = containers.get(service, [])
    if not found and (reason := not_required(service, infra_target, request)):
        pytest.skip(reason)
    problems = hosts.check_containers(service, found, project, machine.label)
    assert not problems, "\n".join(problems)


# ---- limits and kernel settings for the WebSocket users ---------------------------------
@pytest.mark.parametrize("service", SERVING)
def test_open_files_limit_of_the_serving_processes(service, snapshots):
    """Catches: nginx workers or the realtime server with a soft open-files limit below
    thresholds.yaml hosts.min_nofile (the default 1024 caps them near 1,000 WebSockets)."""
    problems = [p for name, snap in snapshots(service)
                for p in hosts.check_nofile(service, name, snap.processes, LIMITS.hosts.min_nofile, USERS)]
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("service", SERVING)
def test_somaxconn_in_the_container(service, snapshots):
    """Catches: net.core.somaxconn below hosts.min_somaxconn in the container's network
    namespace (an old kernel's 128 drops handshakes in a connection burst)."""
    problems = [p for name, snap in snapshots(service)
                for p in hosts.check_somaxconn(service, name, snap.somaxconn, LIMITS.hosts.min_somaxconn, USERS)]
    assert not problems, "\n".join(problems)


def test_ephemeral_port_range_of_the_gateway(snapshots):
    """Catches: a gateway ip_local_port_range narrower than hosts.min_ephemeral_ports (it opens
    one upstream connection to realtime per WebSocket; a narrow range refuses new users)."""
    problems = [p for name, snap in snapshots("gateway")
                for p in hosts.check_port_range("gateway", name, snap.port_range,
                                                LIMITS.hosts.min_ephemeral_ports, USERS)]
    assert not problems, "\n".join(problems)


# ---- the machine ------------------------------------------------------------------------
def test_disk_free_under_docker_data_root(machine):
    """Catches: the filesystem holding Docker's data root (images, volumes, WAL, logs) below
    hosts.min_disk_free_pct or hosts.min_disk_free_gib free."""
    disk = hosts.parse_disk(machine.run("reading Docker's data root and its free space", hosts.DISK_SCRIPT))
    problems = hosts.check_disk_free(machine.label, disk, LIMITS.hosts.min_disk_free_pct,
                                     LIMITS.hosts.min_disk_free_gib)
    assert not problems, "\n".join(problems)


def test_backup_schedule_installed(infra_target, target_env_path, request):
    """Catches: a declared backup cron file (BACKUP_CRON_FILE) missing, with every line
    commented out, not running the stack's backup, or one cron ignores."""
    path = declared(infra_target, hosts.CRON_KEY)
    if not path:
        pytest.skip(f"{target_env_path} declares no {hosts.CRON_KEY}: no backup schedule to check")
    machine = request.getfixturevalue("machine")
    machine.run(f"reaching the machine to read {path}", "true")
    cron = machine.host.file(path)
    if not cron.exists:
        problems = hosts.check_backup_cron(machine.label, path, exists=False)
    else:
        text = machine.run(f"reading {path}", "cat %s", path)
        problems = hosts.check_backup_cron(machine.label, path, True, text, cron.mode, cron.user)
    assert not problems, "\n".join(problems)
