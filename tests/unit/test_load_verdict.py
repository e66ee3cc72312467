"""The load verdict (loadtests/_run.py, _verdict.py, _evidence.py, _mix.py) on seeded runs,
without Locust or a stack: WebSocket and request checks, the ramp and hold phases, the
Prometheus evidence (sparse samples are "not judged", never a pass or a breach), and the
user mix of a plain `locust -f loadtests/ -u N`."""
import pytest

from loadtests import _evidence, _mix
from loadtests._run import LoadRun
from loadtests._samples import SampleBook
from loadtests._verdict import websocket_checks

PHASES = {"ramp": (0.0, 10.0), "hold": (10.0, 100.0), "run": (0.0, 100.0)}
RESOLUTION = 5  # thresholds.yaml load.slo.server.realtime_gauge_resolution_s


def failed(checks) -> list[str]:
    return [c.line() for c in checks if not c.ok]


def test_a_produced_type_without_samples_fails():
    """Seeded: postgres-changes users ran but no event ever arrived; without this check the
    p95 SLO is skipped over zero samples and the run passes."""
    book = SampleBook()
    book.add("ws heartbeat", 3.0, at=50.0)
    checks, _ = websocket_checks(book, PHASES, 0, frozenset({"heartbeat", "postgres_changes"}))
    assert failed(checks) == ["FAIL websocket postgres_changes samples (hold): none, though users that "
                              "measure it ran: the messages never arrived"]


def test_types_no_user_produces_may_be_absent():
    book = SampleBook()
    book.add("ws heartbeat", 3.0, at=50.0)
    checks, _ = websocket_checks(book, PHASES, 0, frozenset({"heartbeat"}))
    assert failed(checks) == []


def test_lost_postgres_changes_fail_the_run():
    """Seeded: 3 inserted rows whose events never came (counted by the users)."""
    book = SampleBook()
    book.count("ws postgres_changes lost", 3)
    checks, _ = websocket_checks(book, PHASES, 0)
    assert any(line.startswith("FAIL websocket postgres changes lost = 3") for line in failed(checks))


# ---- a whole run: LoadRun.judge ------------------------------------------------------------
class Entry:
    """A Locust stats entry: the counts the verdict reads (latency comes from raw samples)."""

    def __init__(self, name: str, requests: int, failures: int, method: str = "GET"):
        self.name, self.num_requests, self.num_failures, self.method = name, requests, failures, method


def requests(run: LoadRun, name: str, ms: float, count: int, at: float) -> Entry:
    """`count` successful requests of `ms` at time `at`, as every generator process books them."""
    for _ in range(count):
        run.merged.add(f"req {name}", ms, at)
    return Entry(name, count, 0)


def seeded_run(held: int = 10, connected_at: float = 1.0) -> LoadRun:
    """A run from t=0: `held` connections open at `connected_at`, ramp over at 2 s, stopped at 30 s."""
    run = LoadRun("gen-1", started=0.0)
    for _ in range(held):
        run.held(+1, at=connected_at)
    run.spawned({"WebSocketUser": held}, at=2.0)
    for t in range(3, 30):
        run.book.add("ws heartbeat", 2.0, at=float(t))
    run.stop(at=30.0)
    run.receive("local", run.delta(final=True))
    return run


def judge(run: LoadRun, entries=(), evidence=None) -> dict:
    return run.judge(entries=list(entries), exceptions=0, ws_classes={"WebSocketUser"},
                     produced=frozenset({"heartbeat"}), evidence=evidence)["verdict"]


def test_a_healthy_run_passes():
    run = seeded_run()
    verdict = judge(run, [requests(run, "api GET notes", 20, 100, at=10.0)])
    assert verdict["passed"], verdict["breached"]


def test_ramp_latencies_are_not_judged_as_the_hold():
    """A connect storm's slow heartbeats in the ramp stay in the ramp: only the hold's p95 is
    judged (else every large ramp would breach the steady-state SLO)."""
    run = seeded_run()
    for _ in range(50):
        run.book.add("ws heartbeat", 900.0, at=1.5)
    run.receive("local", run.delta(final=True))
    assert run.phases() == {"ramp": (0.0, 2.0), "hold": (2.0, 90.0), "run": (0.0, 90.0)}
    verdict = judge(run)
    assert verdict["passed"], verdict["breached"]
    assert "ok   websocket heartbeat p95 (hold) = 2 ms (limit 100 ms)" in verdict["checks_text"]


def test_slow_heartbeats_in_the_hold_fail():
    run = seeded_run()
    for t in range(3, 30):
        run.book.add("ws heartbeat", 250.0, at=t + 0.5)
    run.receive("local", run.delta(final=True))
    assert "FAIL websocket heartbeat p95 (hold) = 250 ms (limit 100 ms), breached by 150 ms (+150%)" \
        in judge(run)["breached"]


def test_fewer_connections_held_than_users_fails():
    run = seeded_run(held=7)
    run.spawned({"WebSocketUser": 10})
    assert "FAIL websocket connections held / requested = 0.7 (limit 1), breached by -0.3 (-30%); 7 of 10" \
        in judge(run)["breached"]


def test_request_checks_judge_each_endpoint_and_the_error_ratio():
    run = seeded_run()
    entries = [requests(run, "api GET notes", 350, 100, at=10.0), requests(run, "api auth sign-in", 800, 10, at=10.0),
               requests(run, "db read", 9, 195, at=10.0)]
    entries[-1].num_requests, entries[-1].num_failures = 200, 5
    breached = judge(run, entries)["breached"]
    assert breached == ["FAIL api api GET notes p95 (hold) = 350 ms (limit 200 ms), breached by 150 ms (+75%)",
                        "FAIL database error ratio = 0.025 (limit 0.01), breached by 0.015 (+150%); 5 of 200"]


def test_slow_requests_in_the_ramp_are_reported_not_judged():
    """The connect storm of a 10,000-user ramp slows the API on a small box; the API SLO is the
    steady state's, as the WebSocket ones (thresholds.yaml: percentiles over the hold)."""
    run = seeded_run()
    entry = requests(run, "api GET notes", 900, 50, at=1.0)
    entry.num_requests += requests(run, "api GET notes", 20, 50, at=10.0).num_requests
    result = run.judge(entries=[entry], exceptions=0, ws_classes={"WebSocketUser"}, produced=frozenset({"heartbeat"}))
    assert result["verdict"]["passed"], result["verdict"]["breached"]
    assert (result["api"]["api GET notes"]["ramp"]["p95"], result["api"]["api GET notes"]["hold"]["p95"]) == (900, 20)


def test_one_slow_sample_of_few_is_not_judged_but_a_slow_median_fails():
    """15 postgres changes in a short run, one at 1,078 ms: a p95 of 15 samples is that one
    sample (seen on a healthy stack); it is reported "not judged". All of them slow: the
    median is over the limit, so the p95 is too, whatever the count."""
    run = seeded_run()
    for t in range(15):
        run.book.add("ws postgres_changes", 1077.78 if t == 7 else 50.0, at=5.0 + t)
    run.receive("local", run.delta(final=True))
    verdict = judge(run)
    assert verdict["passed"], verdict["breached"]
    assert verdict["not_judged"] == [
        "n/a  websocket postgres_changes p95 (hold): not enough samples to judge; 15 samples (a p95 needs 20), "
        "median 50 ms, worst 1077.78 ms over the 200 ms limit"]
    slow = seeded_run()
    for t in range(10):
        slow.book.add("ws postgres_changes", 400.0 + t, at=5.0 + t)
    slow.receive("local", slow.delta(final=True))
    assert judge(slow)["breached"] == ["FAIL websocket postgres_changes p95 (hold) = 404 ms (limit 200 ms), breached "
                                       "by 204 ms (+102%); the median of 10 samples: p95 is higher still"]


def test_a_run_that_sent_nothing_fails():
    run = LoadRun("gen-1", started=0.0)
    run.stop(at=10.0)
    assert "FAIL generator traffic (requests + samples) = 0 (limit 1), breached by -1 (-100%); a run that " \
           "sent nothing proves nothing" in judge(run)["breached"]


# ---- the Prometheus evidence -----------------------------------------------------------------
def facts(**over) -> dict:
    """Evidence for the window [0, 30] as fetch() returns it, from a healthy stack."""
    base = {"window": [0.0, 30.0], "realtime_connections": [(20.0, 10.0)],
            "process_starts": {"realtime": [(20.0, -500.0)], "db": [(25.0, -900.0)]},
            "up": {"realtime": [(20.0, 1.0)], "db": [(25.0, 1.0)]}, "db_backends": [(25.0, 12.0)],
            "db_max_connections": 100.0, "alerts_firing_before": [], "alerts_fired": []}
    return {**base, **over}


def evidence_lines(run: LoadRun, seeded: dict) -> list[str]:
    return [c.line() for c in _evidence.judge(seeded, 10, run.held_throughout)]


def test_evidence_from_a_healthy_stack_passes():
    lines = evidence_lines(seeded_run(), facts())
    assert [line for line in lines if not line.startswith("ok")] == []
    assert "ok   server realtime connections seen / generator held = 1 (limit 1); realtime_connections_" \
           "connected 10 while the generator held 10 (worst of 1 scrape(s))" in lines


def test_evidence_with_too_few_samples_is_not_judged():
    """The issue-17 run: 15 s with 15 s scrapes. The only realtime scrape came 2 s after the
    connections opened (the gauge may lag 5 s), and no scrape of the others fell in the
    window: every such check says so, and the run still passes on what was judged."""
    run = seeded_run(connected_at=1.0)
    sparse = facts(realtime_connections=[(3.0, 7.0)], process_starts={}, up={}, db_backends=[])
    lines = evidence_lines(run, sparse)
    assert lines[:2] == [
        "n/a  server process restarts: not enough samples to judge; no process_start_time_seconds scrape "
        "inside the run's window",
        "n/a  server scrape targets seen down: not enough samples to judge; no `up` scrape inside the run's window"]
    assert lines[2] == ("n/a  server realtime connections seen / generator held: not enough samples to judge; "
                        "1 scrape(s) of realtime_connections_connected in the run, none 5 s after the generator's "
                        "first connection (the gauge's resolution); the generator-side held / requested check "
                        "still applies")
    assert lines[3].startswith("n/a  server database connections / max_connections: not enough samples")
    verdict = judge(run, evidence=lambda s, e, x, held: (_evidence.judge(sparse, x, held), sparse))
    assert verdict["passed"] and len(verdict["not_judged"]) == 4, verdict


def test_server_counting_fewer_connections_than_held_fails():
    """Seeded: the generator held 10 connections from t=1 and the server counted 6 at t=20
    (connections the path accepted but the server lost)."""
    lines = evidence_lines(seeded_run(), facts(realtime_connections=[(20.0, 6.0)]))
    assert ("FAIL server realtime connections seen / generator held = 0.6 (limit 1), breached by -0.4 (-40%); "
            "realtime_connections_connected 6 while the generator held 10 (worst of 1 scrape(s))") in lines


def test_held_counts_sum_every_process_at_each_instant():
    run = LoadRun("gen-1", started=0.0)
    other = LoadRun("gen-2", started=0.0)
    for t in (1.0, 2.0, 3.0):
        run.held(+1, at=t)
        other.held(+1, at=t + 0.5)
    other.held(-1, at=10.0)
    run.receive("a", run.delta(final=True))
    run.receive("b", other.delta(final=True))
    assert run.held_throughout(4.0, 9.0) == 6
    assert run.held_throughout(2.0, 9.0) == 3  # at 2.0: 2 + 1
    assert run.held_throughout(4.0, 11.0) == 5


def test_a_restart_during_the_run_and_a_target_down_fail():
    lines = evidence_lines(seeded_run(), facts(process_starts={"realtime": [(20.0, 12.0)], "db": [(25.0, -9.0)]},
                                               up={"realtime": [(20.0, 0.0)], "db": [(25.0, 1.0)]}))
    assert "FAIL server process restarts = 1 (limit 0), breached by 1; realtime" in lines
    assert "FAIL server scrape targets seen down = 1 (limit 0), breached by 1; realtime" in lines


def test_series_are_summed_at_each_scrape():
    assert _evidence.totals([[(1.0, 3.0), (16.0, 4.0)], [(5.0, 10.0), (20.0, 0.0)]]) == \
        [(5.0, 13.0), (16.0, 14.0), (20.0, 4.0)]


# ---- the user mix ------------------------------------------------------------------------------
def classes():
    def user(name, **attrs):
        return type(name, (), {"fixed_count": 0, "weight": 1, **attrs})
    return [user("ApiUser", mix_parts=2, mix_cap=40), user("AuthUser", mix_parts=1, mix_cap=5),
            user("DatabaseUser", mix_parts=1, mix_cap=20), user("PostgresChangesUser", mix_parts=1, mix_cap=20),
            user("WebSocketUser", mix_bulk=True)]


@pytest.mark.parametrize("n, expected", [
    (10, {"ApiUser": 2, "AuthUser": 1, "DatabaseUser": 1, "PostgresChangesUser": 1}),
    (50, {"ApiUser": 10, "AuthUser": 5, "DatabaseUser": 5, "PostgresChangesUser": 5}),
    (500, {"ApiUser": 40, "AuthUser": 5, "DatabaseUser": 20, "PostgresChangesUser": 20}),
])
def test_every_class_runs_and_websocket_users_take_the_rest(n, expected):
    """Catches the issue-17 mix: a fixed 20 postgres-changes users took every user of a
    20-user run. Fixed counts now scale with N and leave the rest to WebSocketUser."""
    plan = _mix.plan(n, classes())
    assert {name: count for name, (count, _) in plan.items()} == expected
    assert n - sum(expected.values()) >= n // 2  # WebSocketUser: the rest, at least half


def test_without_the_bulk_class_the_parts_are_weights():
    plan = _mix.plan(40, classes()[:3])
    assert plan == {"ApiUser": (0, 2), "AuthUser": (0, 1), "DatabaseUser": (0, 1)}


def test_a_class_edited_in_the_class_picker_keeps_its_settings():
    mixed = classes()
    _mix.apply(10, mixed)
    api = mixed[0]
    api.fixed_count = 7  # what the web UI's POST /user does
    _mix.apply(50, mixed)
    assert (api.fixed_count, mixed[1].fixed_count) == (7, 5)
