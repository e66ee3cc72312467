"""The containerised load run's judge catches each seeded fault, naming the run, the figure
and the bound: a failed verdict, dropped connections, a worker that never reported, a floor
that did not hold its connections, and a generator costing more than 1.3x the floor's memory
per connection. Also the target the containers get: every URL renamed to its service on the
Compose network, credentials kept, absent services declared absent, no multi-line value."""
import pytest

from suite.checks.load_cluster import check_cluster, describe
from suite.stack import StackError
from suite.stack.generators import env_file_text, in_network_env
from suite.target import Target, read_env_file

WORKERS = 4


def summary(kb=17.0, processes=WORKERS, dropped=0, passed=True):
    return {"verdict": {"passed": passed, "breached": [] if passed else
                        ["FAIL websocket heartbeat p95 (hold) = 180 ms (limit 100 ms), breached by 80 ms"]},
            "counters": {"ws dropped": dropped} if dropped else {},
            "generator": {"processes": {f"worker{i}-7": {"connections": 2500} for i in range(processes)},
                          "connections": 2500 * processes, "kb_per_connection": kb}}


FLOOR = {"connections": 2500, "held": 2500, "dropped": 0, "connect_failed": {}, "kb_per_connection": 15.0,
         "heartbeat_rtt_ms": {"p99": 2.1}}


def test_a_good_run_passes():
    assert check_cluster("websocket", summary(), FLOOR, WORKERS, 1.3) == []
    assert describe(summary(), FLOOR) == ("generator 17.0 KB/connection over 4 worker(s) (1.13x); plain asyncio "
                                          "floor 15.0 KB/connection at 2500 connections (heartbeat p99 2.1 ms)")


def test_generator_memory_above_the_floor_ratio():
    assert check_cluster("websocket", summary(kb=24.5), FLOOR, WORKERS, 1.3) == [
        "load run websocket (master + 4 workers): generator memory 24.5 KB per connection over 4 worker(s) is "
        "1.63x the plain asyncio floor's 15 KB (limit 1.3x, thresholds.yaml load.generator.floor_ratio_max): "
        "each Locust user keeps more than its connection; look at what loadtests/ws_users.py holds per user"]


def test_failed_verdict_dropped_connections_and_a_missing_worker():
    assert check_cluster("websocket", summary(processes=3, dropped=12, passed=False), FLOOR, WORKERS, 1.3) == [
        "load run websocket (master + 4 workers): the master's verdict failed, SLO(s) breached: FAIL websocket "
        "heartbeat p95 (hold) = 180 ms (limit 100 ms), breached by 80 ms (reports/load-websocket.json)",
        "load run websocket (master + 4 workers): 12 established WebSocket connection(s) dropped (limit 0): the "
        "server or the gateway closed them; read the realtime and gateway logs of the run's window",
        "load run websocket (master + 4 workers): samples from 3 generator process(es) ['worker0-7', 'worker1-7', "
        "'worker2-7'], expected 4: a worker never reported to the master (docker compose -p <project>-load logs "
        "worker)"]


def test_a_floor_that_lost_connections_judges_nothing():
    floor = {**FLOOR, "held": 2400, "dropped": 100, "kb_per_connection": 15.2}
    assert check_cluster("websocket", summary(kb=99.0), floor, WORKERS, 1.3) == [
        "load run websocket (master + 4 workers): the floor held 2400 of 2500 connections (dropped 100, refused "
        "{}): no floor to judge the generator's memory by (reports/floor-websocket.json)"]


def local_target(**urls) -> Target:
    base = {"gateway": "http://127.0.0.1:8000", "db": "postgresql://authenticator:p%40ss@127.0.0.1:54322/postgres",
            "prometheus": "http://127.0.0.1:9090", "redis": "redis://:r3dis@127.0.0.1:6379/0"}
    env = {"ANON_KEY": "anon.key.value", "SERVICE_ROLE_KEY": "service.key.value", "POSTGRES_PASSWORD": "p@ss"}
    return Target("local", True, env, {**base, **urls}, compose_project="supabase-acceptance")


def test_the_containers_target_names_services_on_the_network(tmp_path):
    env = in_network_env(local_target())
    assert {k: env[k] for k in ("SUPABASE_URL", "DB_URL", "PROMETHEUS_URL", "REDIS_URL", "LOKI_URL")} == {
        "SUPABASE_URL": "http://gateway:8000", "DB_URL": "postgresql://authenticator:p%40ss@db:5432/postgres",
        "PROMETHEUS_URL": "http://prometheus:9090", "REDIS_URL": "redis://:r3dis@redis:6379/0", "LOKI_URL": "absent"}
    path = tmp_path / "target.env"
    path.write_text(env_file_text(env))
    loaded = Target.from_file(path)  # the file the containers read is a valid target
    assert loaded.url("gateway") == "http://gateway:8000" and loaded.anon_key == "anon.key.value"
    assert "loki" in loaded.absent and read_env_file(path)["POSTGRES_PASSWORD"] == "p@ss"


def test_a_value_spanning_lines_is_refused_by_name():
    with pytest.raises(StackError, match="cannot write LOAD_X into an env file: the value spans lines"):
        env_file_text({"LOAD_X": "1\n2", "LOAD_Y": "3"})


def test_a_deployed_target_gets_the_reason_instead_of_containers():
    from suite.stack import Stack
    from suite.stack.generators import unavailable

    deployed = Target("prod.env", False, {"ANON_KEY": "a", "SERVICE_ROLE_KEY": "s"}, {"gateway": "https://x.test"})
    assert unavailable(Stack(deployed)) == (
        "the containerised load generator joins the Compose network of the bundled stack on this machine; prod.env "
        "is not one (for its machines: loadtests/README.md, 'Workers across machines')")
