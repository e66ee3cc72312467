"""The container judges catch each seeded weakness in the Compose config and in `docker
inspect` output, naming the service, the setting and the fix."""
import copy

import pytest

from suite.checks import containers

ROOT = "/srv/stack"


def inspect_entry(service, **over):
    c = {"Name": f"/p-{service}-1", "RestartCount": 0,
         "Config": {"Labels": {"com.docker.compose.service": service, "com.docker.compose.container-number": "1",
                               "com.docker.compose.project.working_dir": ROOT},
                    "Env": ["A=1", "SECRET=s3cr3t=x"]},
         "HostConfig": {"SecurityOpt": ["no-new-privileges:true"], "PidsLimit": 512},
         "Mounts": [{"Type": "bind", "Source": f"{ROOT}/x.yml", "Destination": "/etc/x.yml", "RW": False},
                    {"Type": "volume", "Source": "/var/lib/docker/volumes/v/_data", "Destination": "/data", "RW": True}],
         "NetworkSettings": {"Ports": {"5432/tcp": [{"HostIp": "127.0.0.1", "HostPort": "54322"}], "9100/tcp": None}},
         "State": {"OOMKilled": False}}
    for key, value in over.items():
        section, _, field = key.partition("__")
        if field:
            c[section][field] = value
        else:
            c[section] = value
    return c


@pytest.fixture
def healthy():
    return [inspect_entry("db"), inspect_entry("node-exporter", Mounts=[
        {"Type": "bind", "Source": "/proc", "Destination": "/host/proc", "RW": False},
        {"Type": "bind", "Source": "/", "Destination": "/host/root", "RW": False}])]


def judge_all(found, declared=None):
    return (containers.check_no_new_privileges(found, "live") + containers.check_pids_limit(found, "live", 4096)
            + containers.check_host_mounts(found, "live", ROOT)
            + containers.check_data_store_ports(found, "live", declared or {}) + containers.check_restarts(found, "live"))


def test_healthy_containers_pass(healthy):
    assert judge_all(containers.from_inspect(healthy)) == []


def test_without_no_new_privileges(healthy):
    """Seeded: db started with no security options."""
    healthy[0]["HostConfig"]["SecurityOpt"] = None
    assert judge_all(containers.from_inspect(healthy)) == [
        'live: service db (container p-db-1): no-new-privileges is off: add `security_opt: ["no-new-privileges:true"]`']


def test_no_new_privileges_turned_off_by_a_later_option(healthy):
    """Seeded: an override appends no-new-privileges:false (Docker applies the last one)."""
    healthy[0]["HostConfig"]["SecurityOpt"] = ["no-new-privileges:true", "no-new-privileges:false"]
    assert containers.check_no_new_privileges(containers.from_inspect(healthy), "live") == [
        'live: service db (container p-db-1): no-new-privileges is off: add `security_opt: ["no-new-privileges:true"]`']


def test_pids_unlimited_and_too_high(healthy):
    """Seeded: db without a pids limit (Docker reports 0 or null), node-exporter at 100000."""
    healthy[0]["HostConfig"]["PidsLimit"] = 0
    healthy[1]["HostConfig"]["PidsLimit"] = 100000
    assert containers.check_pids_limit(containers.from_inspect(healthy), "live", 4096) == [
        "live: service db (container p-db-1): no pids limit (unlimited): set `pids_limit` (at most 4096)",
        "live: service node-exporter (container p-node-exporter-1): pids limit 100000 is above 4096 "
        "(thresholds.yaml hardening.pids_limit_max): lower `pids_limit`"]


def test_host_mount_beyond_the_declared_list(healthy):
    """Seeded: db mounts the host's /etc; node-exporter mounts /sys read-write."""
    healthy[0]["Mounts"].append({"Type": "bind", "Source": "/etc", "Destination": "/host/etc", "RW": False})
    healthy[1]["Mounts"].append({"Type": "bind", "Source": "/sys", "Destination": "/host/sys", "RW": True})
    assert containers.check_host_mounts(containers.from_inspect(healthy), "live", ROOT) == [
        "live: service db (container p-db-1): mounts host path /etc at /host/etc, which is not on the declared "
        "list (suite/checks/containers.py HOST_MOUNTS_ALLOWED): remove the mount or declare it with its reason",
        "live: service node-exporter (container p-node-exporter-1): mounts host path /sys read-write: mount it "
        "`:ro` (host device and filesystem metrics (--path.sysfs) needs reading only)"]


def test_database_published_publicly(healthy):
    """Seeded: db published on 0.0.0.0; then declared public without TLS."""
    healthy[0]["NetworkSettings"]["Ports"]["5432/tcp"] = [{"HostIp": "0.0.0.0", "HostPort": "5432"}]
    found = containers.from_inspect(healthy)
    assert containers.check_data_store_ports(found, "live", {}) == [
        "live: service db (container p-db-1): port 5432 published on 0.0.0.0:5432, beyond loopback, and the "
        "target does not declare DB_PUBLIC=true: bind it to 127.0.0.1 (BIND_ADDRESS) or declare it"]
    assert containers.check_data_store_ports(found, "live", {"db": True}, {"db": False}) == [
        "live: service db (container p-db-1): port 5432 published on 0.0.0.0:5432 (DB_PUBLIC=true) without "
        "TLS: turn TLS on before publishing it"]
    assert containers.check_data_store_ports(found, "live", {"db": True}, {"db": True}) == []


def test_restarted_and_oom_killed(healthy):
    """Seeded: db restarted 3 times, node-exporter OOM-killed."""
    healthy[0]["RestartCount"] = 3
    healthy[1]["State"]["OOMKilled"] = True
    assert containers.check_restarts(containers.from_inspect(healthy), "live") == [
        "live: service db (container p-db-1): restarted 3 time(s) since it was created (a crash the restart "
        "policy hid): read `docker logs p-db-1`",
        "live: service node-exporter (container p-node-exporter-1): OOM-killed (State.OOMKilled): raise its "
        "memory limit or find the leak"]


def test_tool_containers_are_not_services(healthy):
    """A `docker run` of a Compose-built image carries its service label, not a container number."""
    tool = copy.deepcopy(healthy[0])
    del tool["Config"]["Labels"]["com.docker.compose.container-number"]
    tool["HostConfig"]["SecurityOpt"] = None
    assert judge_all(containers.from_inspect(healthy + [tool])) == []
    assert containers.environment(healthy + [tool], "db") == {"A": "1", "SECRET": "s3cr3t=x"}
    assert containers.project_dir(healthy) == ROOT


def test_compose_config_facts():
    """Seeded: a Compose service without security_opt or pids, mounting /var/run read-write
    and publishing redis on every address."""
    cfg = {"services": {
        "redis": {"ports": [{"host_ip": "0.0.0.0", "published": "6379", "target": 6379}],
                  "volumes": [{"type": "bind", "source": "/var/run", "target": "/run/host"},
                              {"type": "bind", "source": f"{ROOT}/redis/redis.conf", "target": "/r.conf",
                               "read_only": True}]},
        "db": {"security_opt": ["no-new-privileges:true"], "deploy": {"resources": {"limits": {"pids": 1024}}}}}}
    found = containers.from_compose(cfg)
    assert judge_all([c for c in found if c.service == "db"]) == []
    assert judge_all([c for c in found if c.service == "redis"]) == [
        'live: service redis: no-new-privileges is off: add `security_opt: ["no-new-privileges:true"]`',
        "live: service redis: no pids limit (unlimited): set `pids_limit` (at most 4096)",
        "live: service redis: mounts host path /var/run at /run/host, which is not on the declared list "
        "(suite/checks/containers.py HOST_MOUNTS_ALLOWED): remove the mount or declare it with its reason",
        "live: service redis: port 6379 published on 0.0.0.0:6379, beyond loopback, and the target does not "
        "declare REDIS_PUBLIC=true: bind it to 127.0.0.1 (BIND_ADDRESS) or declare it"]
