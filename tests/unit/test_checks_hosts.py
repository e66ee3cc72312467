"""The host checks catch each seeded misconfiguration, named with its container or host, the
setting, the value found and the one required: containers exited or unhealthy, a low
open-files limit, somaxconn or port range, a full disk, a missing or inactive backup schedule."""

import pytest

from suite.checks import hosts
from suite.target import ROOT

GW, RT = "supabase-acceptance-gateway-1", "supabase-acceptance-realtime-1"
USERS = 10_000

# SNAPSHOT_SCRIPT's output in the local gateway and realtime containers, as on a good stack.
GATEWAY_SNAPSHOT = """somaxconn 4096
port_range 32768\t60999
proc 1 Max open files            20000                20000                files      :: nginx: master process nginx -c /run/gateway/nginx.conf -g daemon off;
proc 630 Max open files            20000                20000                files      :: nginx: worker process
proc 631 Max open files            20000                20000                files      :: nginx: worker process
proc 9 Max open files            20000                20000                files      :: sed -u -E s/(apikey=)[^&" ]+/\\1[REDACTED]/g
"""
REALTIME_SNAPSHOT = """somaxconn 4096
port_range 32768\t60999
proc 1 Max open files            1024                 1024                 files      :: /usr/bin/tini -- python -m standins.realtime
proc 6 Max open files            20000                20000                files      :: python -m standins.realtime
"""
UPSTREAM_REALTIME = ("proc 42 Max open files            unlimited            unlimited            files      "
                     ":: /app/erts-14.2.5/bin/beam.smp -- -root /app -bindir /app/erts-14.2.5/bin")


def container(status="running", health="healthy", exit_code=0, restarts=0, log_output=None, name=RT):
    state = {"Status": status, "ExitCode": exit_code}
    if health is not None:
        state["Health"] = {"Status": health, "FailingStreak": 0 if health == "healthy" else 3,
                           "Log": [{"ExitCode": 1, "Output": log_output}] if log_output else []}
    return {"name": name, "service": "realtime", "oneoff": "False", "state": state, "restarts": restarts}


def nofile(service, text, name=GW):
    return hosts.check_nofile(service, name, hosts.parse_snapshot(text).processes, 20000, USERS)


def test_a_good_stack_passes():
    gw = hosts.parse_snapshot(GATEWAY_SNAPSHOT)
    assert (gw.somaxconn, gw.port_range, len(gw.processes)) == (4096, (32768, 60999), 4)
    assert nofile("gateway", GATEWAY_SNAPSHOT) == [] and nofile("realtime", REALTIME_SNAPSHOT, RT) == []
    assert sysctl_problems("gateway", GATEWAY_SNAPSHOT) == []
    assert sysctl_problems("realtime", REALTIME_SNAPSHOT) == []
    assert hosts.check_containers("realtime", [container()], "p", "the local machine") == []
    disk = hosts.Disk("/var/lib/docker", "/", size_kib=100 * 2**20, avail_kib=30 * 2**20)
    assert hosts.check_disk_free("the local machine", disk, 10, 2) == []


def test_nginx_workers_with_nofile_1024():
    """Seeded: the gateway's workers at the default 1024 open files (the master is not judged)."""
    text = GATEWAY_SNAPSHOT.replace("20000                20000                files      :: nginx: worker",
                                    "1024                 1024                 files      :: nginx: worker")
    assert nofile("gateway", text) == [
        f"gateway (container {GW}): open-files limit of nginx worker pids 630, 631 is 1024, needs >= 20000 "
        f"for 10,000 WebSocket users: set worker_rlimit_nofile (stack/gateway/render_nginx.py; Kong: "
        f"KONG_NGINX_MAIN_WORKER_RLIMIT_NOFILE) / ulimits.nofile of service gateway in stack/compose.yaml"]


def test_realtime_server_with_nofile_1024():
    """Seeded: the realtime server (not tini, its parent) at 1024 open files."""
    text = REALTIME_SNAPSHOT.replace("proc 6 Max open files            20000                20000",
                                     "proc 6 Max open files            1024                 4096")
    assert nofile("realtime", text, RT) == [
        f"realtime (container {RT}): open-files limit of realtime server pid 6 is 1024, needs >= 20000 for "
        f"10,000 WebSocket users: set ulimits.nofile and RLIMIT_NOFILE of service realtime in stack/compose.yaml"]


def test_upstream_realtime_is_found_and_unlimited_passes():
    assert nofile("realtime", UPSTREAM_REALTIME, RT) == []


def test_no_serving_process_is_a_problem():
    """Seeded: a gateway container whose nginx has no worker (another server in the image)."""
    text = "\n".join(line for line in GATEWAY_SNAPSHOT.splitlines() if "worker" not in line)
    assert nofile("gateway", text) == [
        f"gateway (container {GW}): no nginx worker process found (command line matching "
        f"'^nginx: worker process'), so its open-files limit cannot be judged: is the service running "
        f"the expected server?"]


def sysctl_problems(service, text):
    """Both kernel-setting checks on a container's snapshot (each seeded case trips one)."""
    snap, name = hosts.parse_snapshot(text), {"gateway": GW, "realtime": RT}[service]
    return (hosts.check_somaxconn(service, name, snap.somaxconn, 4096, USERS)
            + hosts.check_port_range(service, name, snap.port_range, 20000, USERS))


def test_somaxconn_128():
    """Seeded: an old kernel's somaxconn of 128 in the realtime container."""
    assert sysctl_problems("realtime", REALTIME_SNAPSHOT.replace("somaxconn 4096", "somaxconn 128")) == [
        f"realtime (container {RT}): net.core.somaxconn is 128, needs >= 4096 (accept backlog for the "
        f"connection bursts of 10,000 WebSocket users): set sysctls: {{net.core.somaxconn: 4096}} on "
        f"service realtime in stack/compose.yaml"]


def test_narrow_port_range():
    """Seeded: ip_local_port_range 60000-60999 in the gateway (1,000 upstream connections)."""
    assert sysctl_problems("gateway", GATEWAY_SNAPSHOT.replace("32768\t60999", "60000\t60999")) == [
        f"gateway (container {GW}): net.ipv4.ip_local_port_range is 60000-60999 (1000 ports), needs >= "
        f"20000 ports (one upstream connection per WebSocket, 10,000 users): set sysctls: "
        f"{{net.ipv4.ip_local_port_range: \"10240 65535\"}} on service gateway in stack/compose.yaml"]


def test_unreadable_proc_settings():
    assert len(sysctl_problems("gateway", "somaxconn \nport_range \n")) == 2


def test_unhealthy_container():
    """Seeded: realtime running but its healthcheck failing."""
    assert hosts.check_containers("realtime", [container(health="unhealthy", log_output="curl: (7) refused")],
                                  "p", "the local machine") == [
        f"realtime (container {RT}): health unhealthy (failing streak 3), needs healthy: its healthcheck "
        f"fails (last output: curl: (7) refused); see `docker inspect --format '{{{{json .State.Health}}}}' {RT}`"]


def test_exited_container():
    """Seeded: realtime exited (OOM-killed, 137) after restarts."""
    assert hosts.check_containers("realtime", [container("exited", exit_code=137, restarts=3)], "p", "h") == [
        f"realtime (container {RT}): state exited (exit code 137, restarted 3 times), needs running: read "
        f"`docker logs {RT}`, fix the cause, then `docker compose up -d realtime`"]


def test_container_without_healthcheck():
    assert hosts.check_containers("realtime", [container(health=None)], "p", "h") == [
        f"realtime (container {RT}): no healthcheck, so its health is unknown, needs healthy: declare a "
        f"healthcheck for service realtime (stack/compose.yaml)"]


def test_missing_container():
    """Seeded: no realtime container in the project at all."""
    assert hosts.check_containers("realtime", [], "supabase-acceptance", "host db1") == [
        "realtime: no container of service realtime in Compose project supabase-acceptance on host db1: "
        "the service is not deployed; start it (`docker compose up -d realtime`)"]


def test_disk_3_percent_free():
    """Seeded: the disk holding /var/lib/docker 3% free (1.2 GiB of 40 GiB)."""
    out = ("root /var/lib/docker\nFilesystem     1024-blocks     Used Available Capacity Mounted on\n"
           "/dev/vda          41943040 40684749   1258291      98% /\n")
    disk = hosts.parse_disk(out)
    assert disk == hosts.Disk("/var/lib/docker", "/", 41943040, 1258291)
    assert hosts.check_disk_free("the local machine", disk, 10, 2) == [
        "the local machine: Docker data root /var/lib/docker (filesystem on /) has 3.0% free (1.2 GiB of "
        "40.0 GiB), needs >= 10% and >= 2 GiB: free space (`docker system prune`, old backups under "
        "backups/) or grow the disk"]


def test_disk_large_but_few_gib_free_and_unparsable_output():
    assert hosts.check_disk_free("h", hosts.Disk("/d", "/", 10 * 2**20, 3 * 2**19), 10, 2) != []
    with pytest.raises(ValueError, match="unexpected output"):
        hosts.parse_disk("Cannot connect to the Docker daemon")


CRON = "/etc/cron.d/supabase-backup"
EXAMPLE = (ROOT / "stack" / "backup" / "crontab.example").read_text()


def cron(content=EXAMPLE, path=CRON, **kw):
    return hosts.check_backup_cron("the local machine", path, True, content, **kw)


def test_the_example_crontab_passes():
    assert cron() == []
    assert [n for n, _ in hosts.backup_schedule_lines(EXAMPLE)] == [9, 11, 12]


def test_cron_file_missing():
    """Seeded: BACKUP_CRON_FILE names a file that is not there."""
    assert hosts.check_backup_cron("the local machine", CRON, exists=False) == [
        f"the local machine: backup schedule {CRON} (BACKUP_CRON_FILE) does not exist: install "
        f"stack/backup/crontab.example there (adjusted to the stack's folder), or correct BACKUP_CRON_FILE "
        f"in the target's env file"]


def test_cron_file_with_only_commented_lines():
    """Seeded: every schedule line commented out."""
    text = "\n".join("# " + line if line[:1].isdigit() else line for line in EXAMPLE.splitlines())
    assert cron(text) == [
        f"the local machine: backup schedule {CRON} (BACKUP_CRON_FILE) has no active schedule line (every "
        f"line is blank, a comment or a variable): add or uncomment one like those in stack/backup/crontab.example"]


def test_cron_file_scheduling_something_else():
    assert cron("0 * * * * root /usr/local/bin/rotate-logs\n") == [
        f"the local machine: backup schedule {CRON} (BACKUP_CRON_FILE): none of its 1 schedule line(s) runs "
        f"the stack's backup (stack/backup/backup.sh or `make backup`): add one like those in "
        f"stack/backup/crontab.example"]


@pytest.mark.parametrize("line", [
    "@daily root /opt/supabase/stack/backup/backup.sh pgbackrest",
    "15 3 * * * root /opt/supabase/stack/backup/pgbackrest-backup.sh full",
    "15 3 * * 1-5 root make -C /opt/supabase backup KIND=pg-dump",
])
def test_backup_invocations_recognised(line):
    assert cron(line + "\n") == []


def test_cron_d_file_cron_ignores():
    """Seeded: a dotted name, group-writable, owned by deploy, and a line without its user field."""
    path = "/etc/cron.d/supabase-backup.cron"
    problems = cron("15 3 * * * /opt/supabase/stack/backup/backup.sh\n", path=path, mode=0o664, owner="deploy")
    assert [p.split(": ", 1)[1] for p in problems] == [
        f"backup schedule {path} (BACKUP_CRON_FILE): cron ignores files in /etc/cron.d whose name has "
        f"characters other than letters, digits, _ and - (run-parts names): rename it, e.g. /etc/cron.d/supabase-backup",
        f"backup schedule {path} (BACKUP_CRON_FILE): owner deploy, mode 664; cron ignores a system crontab "
        f"not owned by root or writable by group or others: chown root and chmod 644 it",
        f"backup schedule {path} (BACKUP_CRON_FILE):1: no user field before the command "
        f"('/opt/supabase/stack/backup/backup.sh' would be taken for the user): system crontabs need one, "
        f"e.g. `15 3 * * * root cd /opt/supabase && make backup`"]


def test_user_crontab_needs_no_user_field():
    assert cron("15 3 * * * cd /opt/supabase && make backup\n", path="/var/spool/cron/crontabs/deploy",
                mode=0o600, owner="deploy") == []
