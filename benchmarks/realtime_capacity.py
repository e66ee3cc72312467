"""Realtime capacity through the gateway: hold N WebSocket users, measure, print.

    .venv/bin/python -m benchmarks.realtime_capacity [--connections 10000] [--hold 60]

Phases (reported apart, raw samples kept per phase):
1. ramp: N connections spread evenly over several generator processes at --rate/s, each
   joined to its channels;
2. hold: --hold seconds of heartbeats only (every 25-30 s per socket, fixed timetable):
   sockets held and dropped, heartbeat RTT p50/p95/p99;
3. fan-out: broadcasts to 100, 1,000 and N subscribers, latency from the publish time
   carried in the payload (p50/p95, delivered/expected);
4. postgres changes: insert (REST, as a user) to postgres_changes event latency.
Also server memory per connection (realtime and gateway containers, `docker stats`,
local stack only) and generator CPU and memory per connection.

The target is the suite's (stack/.env, SUITE_STACK_ENV, or --target FILE): traffic goes
to its gateway only. Exit 1 when the run misses the criteria in thresholds.yaml
(benchmarks.realtime), 2 on bad input or an unreachable stack.
"""
from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # `python benchmarks/...` too

import orjson  # noqa: E402
import requests  # noqa: E402
from websockets.asyncio.client import connect  # noqa: E402

from benchmarks import realtime_generator  # noqa: E402
from benchmarks.realtime_stats import fmt_ms, parse_mem_usage, percentile  # noqa: E402
from suite.clients import Gateway, TargetUnreachable, Users  # noqa: E402
from suite.redaction import redact, register  # noqa: E402
from suite.rest import Rest  # noqa: E402
from suite.stack import Stack  # noqa: E402
from suite.target import Target, TargetConfigError, load  # noqa: E402
from suite.thresholds import LIMITS  # noqa: E402

CRITERIA = LIMITS.benchmarks.realtime


def parse_args(argv=None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--target", help="target env file (docs/targets.md); default: the local stack")
    ap.add_argument("--connections", type=int, default=CRITERIA.connections)
    ap.add_argument("--processes", type=int, default=4, help="generator processes (open files: 20,000 each)")
    ap.add_argument("--rate", type=float, default=500.0, help="connections opened per second, all processes")
    ap.add_argument("--hold", type=float, default=CRITERIA.hold_s, help="seconds of heartbeats only")
    ap.add_argument("--hb-min", type=float, default=25.0)
    ap.add_argument("--hb-max", type=float, default=30.0)
    ap.add_argument("--fanout", default="100,1000,all", help="subscriber counts; 'all' = --connections")
    ap.add_argument("--messages", type=int, default=10, help="broadcasts per fan-out size")
    ap.add_argument("--pg-events", type=int, default=20, help="inserts for the postgres-changes latency")
    args = ap.parse_args(argv)
    problems = []
    if args.connections < 1:
        problems.append("--connections must be >= 1")
    if not 1 <= args.processes <= 64:
        problems.append("--processes must be 1..64")
    if args.connections / max(args.processes, 1) > 18_000:
        problems.append("more than 18,000 connections per generator process: the open-file limit is 20,000; "
                        "raise --processes")
    if args.rate <= 0 or args.hold < 0 or args.messages < 1 or args.pg_events < 0:
        problems.append("--rate must be > 0, --hold >= 0, --messages >= 1, --pg-events >= 0")
    if not 0 < args.hb_min <= args.hb_max:
        problems.append("--hb-min must be > 0 and <= --hb-max")
    try:
        sizes = [args.connections if s.strip() == "all" else int(s) for s in args.fanout.split(",") if s.strip()]
    except ValueError:
        problems.append(f"--fanout {args.fanout!r}: expected comma-separated integers or 'all'")
        sizes = []
    if any(not 0 < n <= args.connections for n in sizes):
        problems.append(f"--fanout {args.fanout!r}: every size must be 1..--connections")
    if problems:
        ap.error("; ".join(problems))
    args.fanout_sizes = sorted(set(sizes)) or [args.connections]
    return args


# ---- the generator processes --------------------------------------------------------------
class Fleet:
    def __init__(self, args, url: str, prefix: str):
        ctx = mp.get_context("spawn")
        self.pipes, self.procs = [], []
        for k in range(args.processes):
            gids = list(range(k, args.connections, args.processes))  # interleaved: fan-out sets spread evenly
            cfg = {"url": url, "gids": gids, "rate": args.rate / args.processes, "hb_min": args.hb_min,
                   "hb_max": args.hb_max, "fanout_sizes": args.fanout_sizes, "prefix": prefix}
            parent, child = ctx.Pipe()
            proc = ctx.Process(target=realtime_generator.main, args=(cfg, child), daemon=True)
            proc.start()
            self.pipes.append(parent)
            self.procs.append(proc)
        self.rss_idle = sum(p.recv()["rss_idle"] for p in self.pipes)

    def ask(self, command: str, timeout: float = 60) -> list:
        for p in self.pipes:
            p.send(command)
        answers = []
        for p, proc in zip(self.pipes, self.procs):
            if not p.poll(timeout):
                raise RuntimeError(f"generator pid {proc.pid} did not answer {command!r} within {timeout} s "
                                   f"(alive: {proc.is_alive()})")
            answers.append(p.recv())
        return answers

    def stop(self) -> None:
        try:
            self.ask("stop", timeout=30)
        except (RuntimeError, OSError, EOFError):
            pass
        for proc in self.procs:
            proc.join(5)
            if proc.is_alive():
                proc.terminate()


def merged(reports: list[dict], key: str) -> list:
    return [x for r in reports for x in r[key]]


# ---- measurements -------------------------------------------------------------------------
def memory(target: Target, service: str) -> int | None:
    if not target.compose_project:
        return None
    stack = Stack(target)
    return parse_mem_usage(stack.memory_usage(service)) if stack.container(service) else None


def cpu_now(target: Target, fleet: "Fleet") -> dict[str, float | None]:
    """Cumulative CPU seconds of the realtime and gateway containers (local stack only) and of
    the generator processes: read before and after a phase, CPU per delivered message."""
    cpu = {svc: (Stack(target).cpu_seconds(svc) if target.compose_project else None)
           for svc in ("realtime", "gateway")}
    cpu["generator"] = sum(c["cpu_s"] for c in fleet.ask("counts"))
    return cpu


async def publish_fanout(ws_url: str, prefix: str, sizes: list[int], messages: int, fleet: Fleet,
                         target: Target) -> dict:
    """Broadcast `messages` times to each fan-out channel; a message goes out only after the
    previous one was delivered everywhere (or 10 s passed), so phases do not queue up.
    Per size: (latencies, deliveries expected, CPU seconds used per part in the phase)."""
    results = {}
    async with connect(ws_url, compression=None, ping_interval=None, open_timeout=30) as pub:
        for n in sizes:
            topic = f"realtime:{prefix}-{n}"
            await pub.send(orjson.dumps({"topic": topic, "event": "phx_join", "ref": "1", "join_ref": "1",
                                         "payload": {"config": {"broadcast": {"self": False, "ack": True}}}}).decode())
            await wait_reply(pub, "1")
            phase = f"fanout-{n}"
            fleet.ask("reset")
            members = sum(c["members"].get(n, 0) for c in fleet.ask("counts"))  # joined subscribers
            cpu0 = cpu_now(target, fleet)
            for seq in range(messages):
                ref = f"b{seq}"
                await pub.send(orjson.dumps({"topic": topic, "event": "broadcast", "ref": ref, "join_ref": "1",
                                             "payload": {"type": "broadcast", "event": "bench",
                                                         "payload": {"t": time.time(), "phase": phase}}}).decode())
                await wait_reply(pub, ref)
                deadline = time.monotonic() + 10
                while time.monotonic() < deadline:  # poll the generators with a deadline
                    got = sum(c["fanout"].get(phase, 0) for c in fleet.ask("counts"))
                    if got >= members * (seq + 1):
                        break
                    await asyncio.sleep(0.05)
            cpu1 = cpu_now(target, fleet)
            reports = fleet.ask("report")
            used = {k: (cpu1[k] - cpu0[k]) if cpu0[k] is not None and cpu1[k] is not None else None for k in cpu0}
            results[n] = ([x for r in reports for x in r["fanout"].get(phase, [])], members * messages, used)
            await pub.send(orjson.dumps({"topic": topic, "event": "phx_leave", "ref": "2", "join_ref": "1",
                                         "payload": {}}).decode())
    return results


async def wait_reply(ws, ref: str, timeout: float = 15) -> dict:
    async def _wait():
        async for raw in ws:
            msg = orjson.loads(raw)
            if msg.get("event") == "phx_reply" and msg.get("ref") == ref:
                if msg["payload"].get("status") != "ok":
                    raise RuntimeError(f"reply to {ref}: {msg['payload']}")
                return msg
    return await asyncio.wait_for(_wait(), timeout)


async def postgres_changes_latency(ws_url: str, gateway: Gateway, count: int, room: str) -> list[float]:
    """Insert rows of public.messages through REST as a user subscribed to them; time from
    just before the insert request to the postgres_changes event."""
    users = Users(gateway, room)
    user = users.create("pg")
    rest, service = Rest(gateway, user.access_token), Rest(gateway, gateway.target.service_key)
    samples = []
    try:
        async with connect(ws_url, compression=None, ping_interval=None, open_timeout=30) as ws:
            await ws.send(orjson.dumps({"topic": f"realtime:{room}", "event": "phx_join", "ref": "1", "join_ref": "1",
                                        "payload": {"access_token": user.access_token, "config": {
                                            "postgres_changes": [{"event": "INSERT", "schema": "public",
                                                                  "table": "messages", "filter": f"room=eq.{room}"}]}}}
                                       ).decode())
            await wait_reply(ws, "1")

            async def next_event(kind: str, extension: str | None = None) -> dict:
                async for raw in ws:
                    msg = orjson.loads(raw)
                    if msg["event"] == kind and (extension is None or msg["payload"].get("extension") == extension):
                        return msg
            await asyncio.wait_for(next_event("system", "postgres_changes"), 15)  # "Subscribed to PostgreSQL"
            for i in range(count):
                started = time.perf_counter()
                insert = asyncio.create_task(asyncio.to_thread(rest.insert, "messages", {"room": room, "body": str(i)}))
                msg = await asyncio.wait_for(next_event("postgres_changes"), 15)
                samples.append(time.perf_counter() - started)
                r = await insert
                if r.status_code != 201 or msg["payload"]["data"]["record"]["body"] != str(i):
                    raise RuntimeError(f"insert {i}: HTTP {r.status_code}, event {msg['payload']['data']['record']}")
    finally:
        service.delete(f"messages?room=eq.{room}")
        users.delete_all()
    return samples


# ---- the run -------------------------------------------------------------------------------
def run(args) -> int:
    target = load(args.target)
    register(*target.secrets())
    gateway = Gateway(target)
    try:
        gateway.get("/", key=None)
    except TargetUnreachable as exc:
        print(exc, file=sys.stderr)
        return 2
    base = target.url("gateway").replace("http", "ws", 1)
    ws_url = f"{base}/realtime/v1/websocket?apikey={target.anon_key}&vsn=1.0.0"
    prefix = f"bench-{uuid.uuid4().hex[:8]}"
    n = args.connections
    print(f"target {target.name}: {n} connections via {target.url('gateway')}/realtime/v1 from "
          f"{args.processes} generator processes at {args.rate:g}/s; hold {args.hold:g} s; "
          f"heartbeats every {args.hb_min:g}-{args.hb_max:g} s")
    mem0 = {svc: memory(target, svc) for svc in ("realtime", "gateway")}
    fleet = Fleet(args, ws_url, prefix)
    failures = []
    try:
        # 1. ramp
        t0 = time.monotonic()
        deadline = t0 + n / args.rate + 120
        while True:
            reports = fleet.ask("ramped?", timeout=180)  # a starved generator may lag
            if all(r["settled"] for r in reports) or time.monotonic() > deadline:
                break
            time.sleep(0.5)  # polling the generators, with the deadline above
        ramp_s = time.monotonic() - t0
        fleet.ask("freeze")
        reports = fleet.ask("report")
        joined = sum(r["joined"] for r in reports)
        conn_failed: dict[str, int] = {}
        for r in reports:
            for k, v in r["connect_failed"].items():
                conn_failed[k] = conn_failed.get(k, 0) + v
        connect_s = merged(reports, "connect_s")
        print(f"ramp: {joined}/{n} connected and joined in {ramp_s:.1f} s; connect failures {conn_failed or 0}, "
              f"join failures {sum(r['join_failed'] for r in reports)}; connect p50/p99 "
              f"{fmt_ms(percentile(connect_s, 50))}/{fmt_ms(percentile(connect_s, 99))} ms")
        mem1 = {svc: memory(target, svc) for svc in ("realtime", "gateway")}
        gen_rss = sum(r["rss"] for r in reports)
        for svc in ("realtime", "gateway"):
            if mem0[svc] is None or mem1[svc] is None or not joined:
                print(f"{svc} memory: - (not a local stack)")
            else:
                print(f"{svc} memory: {mem0[svc] / 2**20:.0f} -> {mem1[svc] / 2**20:.0f} MiB, "
                      f"{(mem1[svc] - mem0[svc]) / joined / 1024:.1f} KB per connection")
        print(f"generator memory: {gen_rss / 2**20:.0f} MiB RSS in {args.processes} processes, "
              f"{(gen_rss - fleet.rss_idle) / max(joined, 1) / 1024:.1f} KB per connection")

        # 2. hold: heartbeats only
        before = fleet.ask("reset")
        cpu0, t_hold = sum(r["cpu_s"] for r in before), time.monotonic()
        end = t_hold + args.hold
        while time.monotonic() < end:
            time.sleep(min(1.0, end - time.monotonic()))  # the hold itself is the measurement window
        after = fleet.ask("report")
        hold_s = time.monotonic() - t_hold
        held = sum(r["joined"] for r in after)
        dropped = sum(r["dropped"] for r in after)
        hb = merged(after, "hb")
        cpu = (sum(r["cpu_s"] for r in after) - cpu0) / hold_s
        p99 = percentile(hb, 99)
        print(f"hold {hold_s:.0f} s: {held} held, {dropped} dropped; {len(hb)} heartbeats, RTT p50/p95/p99 "
              f"{fmt_ms(percentile(hb, 50))}/{fmt_ms(percentile(hb, 95))}/{fmt_ms(p99)} ms, max "
              f"{fmt_ms(max(hb) if hb else None)} ms; send lag max {fmt_ms(max(r['hb_lag_max'] for r in after))} ms")
        print(f"generator CPU during hold: {cpu * 100:.1f}% of a core ({cpu * 100 / max(held, 1) * 1000:.2f}% "
              f"per 1,000 connections)")
        if held < n:
            failures.append(f"held {held} < {n} connections")
        if dropped > CRITERIA.dropped:
            failures.append(f"{dropped} sockets dropped")
        if p99 is None or p99 * 1000 >= CRITERIA.heartbeat_p99_ms:
            failures.append(f"heartbeat p99 {fmt_ms(p99)} ms >= {CRITERIA.heartbeat_p99_ms} ms")

        # 3. fan-out
        fan = asyncio.run(publish_fanout(ws_url, prefix, args.fanout_sizes, args.messages, fleet, target))
        for size, (lat, expected, used) in fan.items():
            print(f"broadcast to {size} ({expected // args.messages} joined): delivered {len(lat)}/{expected}, latency p50/p95/p99 "
                  f"{fmt_ms(percentile(lat, 50))}/{fmt_ms(percentile(lat, 95))}/{fmt_ms(percentile(lat, 99))} ms")
            # includes the phase's idle heartbeats: a few us per delivery at 10,000 sockets
            print("  CPU per delivered message: " + ", ".join(
                f"{k} {v / max(len(lat), 1) * 1e6:.1f} us" if v is not None else f"{k} -" for k, v in used.items()))
        # 4. postgres changes
        if args.pg_events:
            pg = asyncio.run(postgres_changes_latency(ws_url, gateway, args.pg_events, f"{prefix}-pg"))
            print(f"postgres changes: {len(pg)} inserts, insert-to-event p50/p95 "
                  f"{fmt_ms(percentile(pg, 50))}/{fmt_ms(percentile(pg, 95))} ms")
        final = fleet.ask("report")
        late_drops = sum(r["dropped"] for r in final) - dropped
        if late_drops:
            failures.append(f"{late_drops} sockets dropped after the hold (fan-out / postgres phases)")
        print(f"end: {sum(r['joined'] for r in final)} still joined, {sum(r['dropped'] for r in final)} dropped in all")
    finally:
        fleet.stop()
    for f in failures:
        print(f"CRITERION MISSED: {f}")
    print("RESULT: " + ("pass" if not failures else "fail") +
          f" (criteria: {n} held >= {CRITERIA.hold_s} s, dropped <= {CRITERIA.dropped}, "
          f"heartbeat p99 < {CRITERIA.heartbeat_p99_ms} ms)")
    return 1 if failures else 0


def main(argv=None) -> int:
    sys.stdout.reconfigure(line_buffering=True)  # phases show as they finish, also in a log file
    args = parse_args(argv)
    try:
        return run(args)
    except TargetConfigError as exc:
        print(f"target configuration: {exc}", file=sys.stderr)
        return 2
    except (RuntimeError, requests.RequestException, OSError, asyncio.TimeoutError) as exc:
        print(redact(f"benchmark aborted: {type(exc).__name__}: {exc}"), file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
