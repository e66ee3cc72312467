"""Latency over time in a load run's summary (LoadRun.timeline, _samples.buckets): p50/p99 per
bucket from the run's start, per WebSocket message type, with the hold's start, on seeded
runs without Locust."""
from loadtests._run import LoadRun
from loadtests._samples import buckets
from suite.thresholds import LIMITS


def test_buckets_count_and_nearest_rank_percentiles_per_window():
    """Seeded: 100 samples 1..100 ms in [0, 10) and one 7 ms sample in [20, 30): nearest rank
    gives p50 = 50 and p99 = 99 in the first bucket; the empty [10, 20) is left out."""
    times = [i / 10 for i in range(100)] + [25.0]
    values = [float(v) for v in range(100, 0, -1)] + [7.0]
    assert buckets(times, values, 0.0, 10) == [
        {"start_s": 0, "count": 100, "p50": 50.0, "p99": 99.0},
        {"start_s": 20, "count": 1, "p50": 7.0, "p99": 7.0}]


def test_samples_before_the_origin_are_left_out():
    assert buckets([99.0, 100.0, 109.9, 110.0], [1.0, 2.0, 3.0, 4.0], 100.0, 10) == [
        {"start_s": 0, "count": 2, "p50": 2.0, "p99": 3.0},
        {"start_s": 10, "count": 1, "p50": 4.0, "p99": 4.0}]


def seeded_run() -> LoadRun:
    """Started at t=1000, hold from 1015, stopped at 1040: heartbeats 200 ms in the ramp and
    5 ms in the hold, one broadcast, merged as the master merges them."""
    run = LoadRun("gen-1", started=1000.0)
    for t in range(1000, 1015):
        run.book.add("ws heartbeat", 200.0, at=float(t))
    run.spawned({"WebSocketUser": 10}, at=1015.0)
    for t in range(1015, 1040):
        run.book.add("ws heartbeat", 5.0, at=float(t))
    run.book.add("ws broadcast", 12.5, at=1031.0)
    run.stop(at=1040.0)
    run.receive("local", run.delta(final=True))
    return run


def test_the_timeline_tells_the_ramp_from_the_hold():
    """Catches a chart that mixes the connect storm into the steady state: the slow ramp
    buckets and the hold's start are both in the summary."""
    timeline = seeded_run().timeline(10)
    assert timeline["hold_start_s"] == 15.0 and timeline["end_s"] == 40.0 and timeline["bucket_s"] == 10
    assert list(timeline["series"]) == ["heartbeat", "broadcast"]  # only types with samples, WS_TYPES order
    assert [(b["start_s"], b["count"], b["p99"]) for b in timeline["series"]["heartbeat"]] == [
        (0, 10, 200.0), (10, 10, 200.0), (20, 10, 5.0), (30, 10, 5.0)]
    assert timeline["series"]["broadcast"] == [{"start_s": 30, "count": 1, "p50": 12.5, "p99": 12.5}]


def test_a_run_stopped_in_its_ramp_has_no_hold_start():
    run = LoadRun("gen-1", started=0.0)
    run.book.add("ws connect", 30.0, at=2.0)
    run.stop(at=5.0)
    run.receive("local", run.delta(final=True))
    assert run.timeline(10)["hold_start_s"] is None


def test_the_judged_summary_carries_the_timeline_in_buckets_from_thresholds():
    result = seeded_run().judge(entries=[], exceptions=0, ws_classes={"WebSocketUser"},
                                produced=frozenset({"heartbeat"}))
    assert result["timeline"]["bucket_s"] == LIMITS.load.report.timeline_bucket_s
    assert result["timeline"]["series"]["heartbeat"][0]["start_s"] == 0
