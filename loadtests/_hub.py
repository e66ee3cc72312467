"""Wiring into Locust's events. Each test start makes a new LoadRun (_run.py) in every
process; every generator process (standalone, --processes child or worker) records into its
run and ships deltas to the master as a custom message; when the test stops, the master (or
the standalone process) judges the run against the SLOs and the server's evidence, writes the
JSON summary, logs the verdict, shows it in the web UI (tab "Load verdict", and
/load-verdict as JSON) and sets the exit code from it (3: an SLO breached)."""
from __future__ import annotations

import json
import logging
import os
import socket
from pathlib import Path

import gevent
import gevent.lock
from locust import events
from locust.runners import MasterRunner, WorkerRunner

from suite.redaction import redact
from suite.waiting import poll

from . import _evidence, _mix
from ._generator import Cost, freeze_heap, raise_open_files
from ._run import LoadRun
from ._settings import LOAD, ROOT, add_options, bind, target
from ._verdict import REQUEST

log = logging.getLogger("loadtests")
PROCESS = f"{socket.gethostname()}-{os.getpid()}"
MESSAGE = "loadtests_samples"
RAMPED_MESSAGE = "loadtests_ramped"
FINAL_MESSAGE = "loadtests_final"  # master -> workers: the run is over, ship your last samples
TAB = "load-verdict"
# Per process, across runs: the open-file budget and the sockets using it, the Locust
# environment (some events do not pass it), the run in progress and the last verdict's greenlet.
PROC = {"fd_budget": 0, "reserved": 0, "env": None, "run": None, "cost": None, "concluding": None}
_SETUP = gevent.lock.Semaphore()


def run() -> LoadRun:
    """The run in progress in this process (users call it from on_start)."""
    if PROC["run"] is None:  # a user spawned before this process saw test_start
        PROC["run"] = LoadRun(PROCESS)
    return PROC["run"]


@events.init_command_line_parser.add_listener
def _options(parser):
    parser.add_argument("--target", default=None, help="env file of a deployed stack (docs/targets.md); "
                        "default SUITE_TARGET, else the local stack")
    parser.add_argument("--summary-json", default=str(ROOT / "reports" / "load-summary.json"),
                        help="where the JSON summary with the verdict is written")
    parser.add_argument("--expect-ws", type=int, default=0,
                        help="WebSocket connections the run must hold (default: the peak number of "
                             "WebSocket users Locust ran)")
    add_options(parser)


def setup(environment) -> None:
    """This process's part of init, done once: by the init event, or by the first user or test
    start when a worker gets the master's first spawn message before its init event has run.
    Loading the target may yield to other greenlets: they wait here until it is done."""
    global PROCESS
    with _SETUP:
        if PROC["env"] is not None:
            return
        PROCESS = f"{socket.gethostname()}-{os.getpid()}"  # --processes forks after import: name each child here
        bind(environment.parsed_options)
        tgt = target(getattr(environment.parsed_options, "target", None))  # fail early on a bad target file
        for cls in {*environment.user_classes, *(environment.available_user_classes or {}).values()}:
            # the target model, not --host, decides where traffic goes
            cls.host = tgt.url("gateway")
        if not isinstance(environment.runner, MasterRunner):  # a generator process
            PROC["fd_budget"] = raise_open_files()
            environment.events.request.add_listener(_book_request)
        PROC["env"] = environment


class SetUp:
    """Base of every load user: the process is set up (target, host, settings) before its first
    user is made, even on a worker whose init event comes after the master's first spawn."""

    def __init__(self, environment) -> None:
        setup(environment)
        super().__init__(environment)


@events.init.add_listener
def _init(environment, **_):
    setup(environment)
    runner = environment.runner
    if not isinstance(runner, MasterRunner):
        gevent.spawn(_reporter, environment)
    if not isinstance(runner, WorkerRunner):
        runner.register_message(MESSAGE, lambda environment, msg, **_: run().receive(msg.node_id, msg.data))
        # workers keep every class: the master's counts name them
        environment.user_classes[:] = _mix.wanted(list(environment.user_classes))
        log.info("user mix: %s", _mix.describe(list(environment.user_classes)))
        if environment.web_ui:
            _extend_web_ui(environment)
    else:
        runner.register_message(RAMPED_MESSAGE, lambda *_, **__: run().ramped.set())
        runner.register_message(FINAL_MESSAGE, lambda environment, **__: _final(environment))


def _book_request(request_type, name, response_time, exception=None, **_) -> None:
    """An API or database request's time as a raw sample, so the verdict splits ramp and hold
    (WebSocket users book their own measurements)."""
    current = PROC["run"]
    if current is not None and exception is None and request_type != "WS":
        current.book.add(REQUEST + name, response_time)


def reserve_descriptor() -> bool:
    """One more socket in this process; False when it would exceed the open-file budget."""
    if PROC["reserved"] >= PROC["fd_budget"]:
        return False
    PROC["reserved"] += 1
    return True


def release_descriptor() -> None:
    PROC["reserved"] -= 1


def _ship(environment, current: LoadRun, final: bool) -> None:
    cost = PROC["cost"].report(current.peak) if PROC["cost"] else None
    environment.runner.send_message(MESSAGE, current.delta(final, cost))


def _reporter(environment) -> None:
    while True:
        gevent.sleep(LOAD.generator.report_interval_s)  # a reporting period, not a synchronisation
        if PROC["cost"] is not None:
            PROC["cost"].tick()
        current = PROC["run"]
        if current is not None and environment.runner is not None \
                and environment.runner.state not in ("stopped", "ready"):
            _ship(environment, current, final=False)


@events.test_start.add_listener
def _start(environment, **_):
    setup(environment)
    runner = environment.runner
    if PROC["concluding"] is not None:  # the previous run's verdict first (web UI: a new run right away)
        PROC["concluding"].join(timeout=LOAD.hub.verdict_s)
    PROC["run"] = LoadRun(PROCESS)
    if not isinstance(runner, MasterRunner):
        PROC["cost"] = Cost()
    if not isinstance(runner, WorkerRunner):  # the master decides the mix; workers get counts
        counts = _mix.apply(runner.target_user_count, list(environment.user_classes))
        log.info("user mix for %d users: %s", runner.target_user_count,
                 ", ".join(f"{name} {'weight ' + str(w) if not n else n}" for name, (n, w) in counts.items()))


@events.spawning_complete.add_listener
def _spawned(user_count, **_):
    environment = PROC["env"]
    runner = environment.runner
    current = run()
    if "hold" not in current.times and not isinstance(runner, MasterRunner):
        freeze_heap()
    counts = getattr(runner, "target_user_classes_count", None) or getattr(runner, "user_classes_count", {})
    current.spawned(dict(counts))
    # A worker reports "complete" after each of the master's spawn steps; only the master
    # (or a local runner) knows the whole ramp is over, and tells its workers.
    if isinstance(runner, MasterRunner) and not current.ramped.is_set():
        runner.send_message(RAMPED_MESSAGE, None)
    if not isinstance(runner, WorkerRunner):
        current.ramped.set()


@events.test_stopping.add_listener
def _stopping(**_):
    run().stop()


def _final(environment) -> None:
    current = run()
    current.stop()
    _ship(environment, current, final=True)


@events.test_stop.add_listener
def _stop(environment, **_):
    runner = environment.runner
    if isinstance(runner, MasterRunner):
        # Headless, the master quits without stopping its workers first and stops listening
        # half a second later: ask for their last samples now and wait for them here.
        workers = {client.id for client in runner.clients.all}
        runner.send_message(FINAL_MESSAGE, None)
        current = run()
        if not poll(lambda: workers <= {node for node, final in current.nodes.items() if final},
                    raise_on_timeout=False, what="final sample reports from every worker",
                    timeout=LOAD.hub.final_reports_s):
            log.error("not every worker sent its final samples: %s of %s", current.nodes, sorted(workers))
        current.stop()
    else:
        _final(environment)
    if not isinstance(runner, WorkerRunner):
        PROC["concluding"] = gevent.spawn(_conclude, environment, run())


@events.quitting.add_listener
def _quitting(environment, **_):
    concluding = PROC["concluding"]
    if concluding is None:
        return
    concluding.join(timeout=LOAD.hub.verdict_s)
    if not concluding.successful():  # no verdict is never a pass
        log.error("load verdict: none (%s)", concluding.exception or f"not reached in {LOAD.hub.verdict_s} s")
        environment.process_exit_code = 3


def _conclude(environment, current: LoadRun) -> None:
    result = judge(environment, current)
    path = Path(environment.parsed_options.summary_json)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(redact(json.dumps(result, indent=2, default=str)))
    verdict = result["verdict"]
    for line in verdict["checks_text"]:
        log.info("SLO %s", line)
    # The exit code follows the last run's verdict (a web UI session may run several).
    if verdict["passed"]:
        environment.process_exit_code = 0
        log.info("load verdict: PASSED%s (summary %s)",
                 f", {len(verdict['not_judged'])} check(s) not judged" if verdict["not_judged"] else "", path)
    else:
        environment.process_exit_code = 3
        log.error("load verdict: FAILED, %d SLO(s) breached (summary %s):\n  %s", len(verdict["breached"]), path,
                  "\n  ".join(verdict["breached"]))


def judge(environment, current: LoadRun) -> dict:
    classes = list(environment.user_classes)
    ran = {c for c in classes if current.user_classes.get(c.__name__)}
    tgt = target()
    evidence = None
    if tgt.has("prometheus"):
        def evidence(start, end, expected, held):
            return _evidence.gather(tgt.url("prometheus"), start, end, expected, held)
    return current.judge(
        entries=list(environment.runner.stats.entries.values()), exceptions=len(environment.runner.exceptions),
        ws_classes={c.__name__ for c in classes if getattr(c, "holds_websocket", False)},
        produced=frozenset(p for c in ran for p in getattr(c, "produces", ())),
        expect_ws=environment.parsed_options.expect_ws, target_name=tgt.name, evidence=evidence,
        evidence_skipped=tgt.absent.get("prometheus", "no Prometheus declared"))


def _extend_web_ui(environment) -> None:
    """A "Load verdict" tab (Locust's extended tabs), filled once a run has been judged."""
    from flask import jsonify, request

    web_ui = environment.web_ui
    web_ui.template_args["extended_tabs"] = [{"title": "Load verdict", "key": TAB}]
    web_ui.template_args["extended_tables"] = [{"key": TAB, "structure": [
        {"key": "state", "title": "State"}, {"key": "slo", "title": "SLO"},
        {"key": "measured", "title": "Measured"}, {"key": "limit", "title": "Limit"},
        {"key": "detail", "title": "Detail"}]}]

    def rows() -> list[dict]:
        current = PROC["run"]
        if current is None or current.verdict is None:
            state = "running: judged when the test stops" if current is not None else "no run yet"
            return [{"state": state, "slo": "", "measured": "", "limit": "", "detail": ""}]
        return [{"state": "n/a" if not c["judged"] else ("ok" if c["ok"] else "FAIL"), "slo": c["slo"],
                 "measured": "" if c["measured"] is None else f"{c['measured']:g}{c['unit']}",
                 "limit": f"{c['limit']:g}{c['unit']}", "detail": redact(c["detail"])}
                for c in current.verdict["checks"]]

    @web_ui.app.after_request
    def _with_verdict(response):
        if request.path.endswith("/stats/requests") and response.is_json:
            response.set_data(json.dumps({**response.json, "extended_stats": [{"key": TAB, "data": rows()}]}))
        return response

    @web_ui.app.route("/load-verdict")
    def _verdict_json():
        current = PROC["run"]
        return jsonify(json.loads(redact(json.dumps(current.verdict if current else None, default=str))))
