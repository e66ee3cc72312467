"""Wiring into Locust's events: every generator process (standalone, --processes child or
worker) records into its own SampleBook and ships deltas to the master as a custom message;
the master (or the standalone process) merges them, splits the run into phases, judges it
against the SLOs and the server's evidence, writes the JSON summary and sets the exit code."""
from __future__ import annotations

import json
import logging
import os
import socket
import time
from pathlib import Path

import gevent
import gevent.event
from locust import events
from locust.runners import MasterRunner, WorkerRunner

from suite.redaction import redact
from suite.waiting import PollTimeout, poll

from . import _evidence, _verdict
from ._verdict import Check
from ._generator import Cost, freeze_heap, raise_open_files
from ._samples import SampleBook
from ._settings import LOAD, ROOT, target

log = logging.getLogger("loadtests")
PROCESS = f"{socket.gethostname()}-{os.getpid()}"
MESSAGE = "loadtests_samples"
RAMPED_MESSAGE = "loadtests_ramped"

BOOK = SampleBook()          # this process's recordings
MERGED = SampleBook()        # the master's (or standalone's) merged view
RAMPED = gevent.event.Event()  # set when the whole run's users are spawned (the hold begins)
STATE = {"open": 0, "reserved": 0, "peak": 0, "fd_budget": 0, "stopping": False, "user_classes": {},
         "ws_classes": set(), "produced": set()}
TIMES: dict[str, float] = {}
NODES: dict[str, bool] = {}  # node -> sent its final report
COSTS: dict[str, dict] = {}
ENV: dict = {}  # the Locust environment (some events do not pass it)


@events.init_command_line_parser.add_listener
def _options(parser):
    parser.add_argument("--target", default=None, help="env file of a deployed stack (docs/targets.md); "
                        "default SUITE_TARGET, else the local stack")
    parser.add_argument("--summary-json", default=str(ROOT / "reports" / "load-summary.json"),
                        help="where the JSON summary with the verdict is written")
    parser.add_argument("--expect-ws", type=int, default=0,
                        help="WebSocket connections the run must hold (default: the peak number of "
                             "WebSocket users Locust ran)")


@events.init.add_listener
def _init(environment, **_):
    global PROCESS
    PROCESS = f"{socket.gethostname()}-{os.getpid()}"  # --processes forks after import: name each child here
    ENV["env"] = environment
    runner = environment.runner
    opts = environment.parsed_options
    tgt = target(getattr(opts, "target", None))  # fail early, with a message, on a bad target file
    for cls in environment.user_classes:  # the target model, not --host, decides where traffic goes
        cls.host = tgt.url("gateway")
        if getattr(cls, "holds_websocket", False):  # each such user holds one connection
            STATE["ws_classes"].add(cls.__name__)
        STATE["produced"] |= set(getattr(cls, "produces", ()))
    if not isinstance(runner, MasterRunner):
        STATE["fd_budget"] = raise_open_files()
        STATE["cost"] = Cost()
        gevent.spawn(_reporter, environment)
    if not isinstance(runner, WorkerRunner):
        runner.register_message(MESSAGE, _receive)
    else:
        runner.register_message(RAMPED_MESSAGE, lambda *_, **__: RAMPED.set())


def reserve_descriptor() -> bool:
    """One more socket in this process; False when it would exceed the open-file budget."""
    if not STATE["fd_budget"]:  # a user spawned before this process's init listener ran
        STATE["fd_budget"] = raise_open_files()
    if STATE["reserved"] >= STATE["fd_budget"]:
        return False
    STATE["reserved"] += 1
    return True


def release_descriptor() -> None:
    STATE["reserved"] -= 1


def held(change: int) -> None:
    """An established WebSocket opened (+1) or closed (-1): the peak is what the run held."""
    STATE["open"] += change
    STATE["peak"] = max(STATE["peak"], STATE["open"])


def _ship(environment, final: bool) -> None:
    BOOK.gauge("ws open", PROCESS, STATE["open"])
    BOOK.gauge("ws peak open", PROCESS, STATE["peak"])
    delta = BOOK.delta()
    delta["final"] = final
    delta["cost"] = {PROCESS: STATE["cost"].report(STATE["peak"])}
    environment.runner.send_message(MESSAGE, delta)


def _reporter(environment) -> None:
    while True:
        gevent.sleep(LOAD.generator.report_interval_s)  # a reporting period, not a synchronisation
        STATE["cost"].tick()
        if environment.runner is not None and environment.runner.state not in ("stopped", "ready"):
            _ship(environment, final=False)


def _receive(environment, msg, **_):
    MERGED.merge(msg.data)
    COSTS.update(msg.data.get("cost", {}))
    NODES[msg.node_id] = NODES.get(msg.node_id, False) or msg.data.get("final", False)


@events.test_start.add_listener
def _start(**_):
    TIMES.setdefault("start", time.time())
    STATE["stopping"] = False


@events.spawning_complete.add_listener
def _spawned(user_count, **_):
    environment = ENV["env"]
    runner = environment.runner
    if "hold" not in TIMES:
        TIMES["hold"] = time.time()
        if not isinstance(runner, MasterRunner):
            freeze_heap()
    # A worker reports "complete" after each of the master's spawn steps; only the master
    # (or a local runner) knows the whole ramp is over, and tells its workers.
    if isinstance(runner, MasterRunner) and not RAMPED.is_set():
        runner.send_message(RAMPED_MESSAGE, None)
    if not isinstance(runner, WorkerRunner):
        RAMPED.set()
    counts = getattr(runner, "target_user_classes_count", None) or getattr(runner, "user_classes_count", {})
    for name, n in dict(counts).items():
        STATE["user_classes"][name] = max(STATE["user_classes"].get(name, 0), n)


@events.test_stopping.add_listener
def _stopping(**_):
    STATE["stopping"] = True  # connections closed from here on are ours, not drops
    TIMES.setdefault("stop", time.time())


@events.test_stop.add_listener
def _stop(**_):
    environment = ENV["env"]
    STATE["stopping"] = True
    TIMES.setdefault("stop", time.time())
    if not isinstance(environment.runner, MasterRunner):
        _ship(environment, final=True)


@events.quitting.add_listener
def _quitting(**_):
    environment = ENV["env"]
    if isinstance(environment.runner, WorkerRunner) or "start" not in TIMES:
        return
    if isinstance(environment.runner, MasterRunner):
        try:
            poll(lambda: NODES and all(NODES.values()), what="final sample reports from every worker", timeout=15)
        except PollTimeout:
            log.error("not every worker sent its final samples: %s", NODES)
    result = judge(environment)
    path = Path(environment.parsed_options.summary_json)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(redact(json.dumps(result, indent=2, default=str)))
    verdict = result["verdict"]
    for check in verdict["checks_text"]:
        log.info("SLO %s", check)
    if verdict["passed"]:
        log.info("load verdict: PASSED (summary %s)", path)
    else:
        log.error("load verdict: FAILED, %d SLO(s) breached (summary %s):\n  %s", len(verdict["breached"]), path,
                  "\n  ".join(verdict["breached"]))
        environment.process_exit_code = 3


def judge(environment) -> dict:
    end = TIMES.get("stop", time.time())
    hold = TIMES.get("hold", end)
    phases = {"ramp": (TIMES["start"], hold), "hold": (hold, end + 60), "run": (TIMES["start"], end + 60)}
    ws_users = sum(n for name, n in STATE["user_classes"].items() if name in STATE["ws_classes"])
    expected = environment.parsed_options.expect_ws or ws_users
    checks, ws = (_verdict.websocket_checks(MERGED, phases, expected, frozenset(STATE["produced"]))
                  if (ws_users or expected) else ([], {}))
    entries = list(environment.runner.stats.entries.values())
    api_checks, api = _verdict.request_checks(entries, "api", "api ")
    db_checks, db = _verdict.request_checks(entries, "database", "db ")
    checks += api_checks + db_checks
    traffic = sum(e.num_requests for e in entries) + sum(len(v) for v in MERGED.values.values())
    checks.append(Check("generator traffic (requests + samples)", 1, traffic, traffic >= 1,
                        detail="a run that sent nothing proves nothing"))
    crashes = len(environment.runner.exceptions)
    checks.append(_verdict.at_most("generator exceptions in user code", crashes, 0))
    tgt = target()
    evidence: dict = {}
    if tgt.has("prometheus"):
        server_checks, evidence = _evidence.gather(tgt.url("prometheus"), TIMES["start"], end, expected)
        checks += server_checks
    else:
        evidence = {"skipped": tgt.absent.get("prometheus", "no Prometheus declared")}
    verdict = _verdict.summary(checks)
    verdict["checks_text"] = [c.line() for c in checks]
    total_conns = sum(c["connections"] for c in COSTS.values())
    grown = sum((c["peak_rss_mb"] - c["baseline_rss_mb"]) for c in COSTS.values())
    return {
        "target": tgt.name, "window": {"start": TIMES["start"], "hold_start": hold, "end": end,
                                      "hold_s": round(end - hold, 1)},
        "user_classes": STATE["user_classes"], "verdict": verdict,
        "websocket": ws, "api": api, "database": db, "server": evidence,
        "counters": dict(MERGED.counters),
        "generator": {"processes": COSTS, "connections": total_conns,
                      "kb_per_connection": round(grown * 1024 / total_conns, 1) if total_conns else None},
    }
