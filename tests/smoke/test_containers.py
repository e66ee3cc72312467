"""The running containers, as deployed (issue 13; CIS Docker Benchmark 5.5, 5.13, 5.14,
5.25, 5.28): read with one `docker inspect` through the stack layer, judged by
suite/checks/containers.py. Skipped for a deployed target without SUITE_HOST."""
import pytest

from suite.checks import containers
from suite.thresholds import LIMITS

WHERE = "running stack"


@pytest.fixture(scope="module")
def running(inspected) -> list[containers.Container]:
    return containers.from_inspect(inspected)


def test_no_new_privileges_everywhere(running):
    """Catches: a container started without no-new-privileges (a setuid binary inside can
    raise a compromised process to root)."""
    problems = containers.check_no_new_privileges(running, WHERE)
    assert not problems, "\n".join(problems)


def test_every_container_has_a_pids_limit(running):
    """Catches: a container without a pids limit (a fork bomb or thread leak takes the host's)."""
    problems = containers.check_pids_limit(running, WHERE, LIMITS.hardening.pids_limit_max)
    assert not problems, "\n".join(problems)


def test_host_paths_only_from_the_declared_list(running, inspected):
    """Catches: a host directory (/, /etc, the Docker data root...) mounted into a container
    beyond HOST_MOUNTS_ALLOWED, or one of those mounted read-write."""
    root = containers.project_dir(inspected) or ""
    problems = containers.check_host_mounts(running, WHERE, root)
    assert not problems, "\n".join(problems)


def test_data_stores_published_on_loopback_unless_declared(running, target):
    """Catches: the database or Redis published on a public address without the target
    declaring DB_PUBLIC / REDIS_PUBLIC (and then TLS)."""
    declared = {svc: target.env.get(key, "").strip().lower() == "true" for svc, key in containers.DATA_STORES.items()}
    problems = containers.check_data_store_ports(running, WHERE, declared, containers.fetch_tls(target, declared))
    assert not problems, "\n".join(problems)


def test_no_container_restarted_or_oom_killed(running):
    """Catches: a service crash-looping behind its restart policy, or OOM-killed, since its
    container was created (healthy now, broken a minute ago)."""
    problems = containers.check_restarts(running, WHERE)
    assert not problems, "\n".join(problems)
