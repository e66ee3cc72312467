#!/usr/bin/env python3
"""REST throughput through the gateway: single-row GET and single-row POST as signed-in
users under RLS (public.notes), N concurrent users, each with its own connection and row,
spread over K real accounts (sign-in is bcrypt: making 50 accounts on a busy 2-core box
takes minutes, and RLS costs the same whichever account a row belongs to).

    .venv/bin/python benchmarks/rest_throughput.py --users 50 --duration 20 --runs 3

Prints one table per run and the medians over the runs (docs/benchmarks.md). Closed loop:
each user sends its next request when the previous one has answered, so req/s is the
capacity at that concurrency and the latencies include queueing in the stack.
The stack is the suite's target (SUITE_STACK_ENV / --target, as for pytest). Its users are
namespaced `bench-<id>-*`, created and deleted through the auth admin API; rows are deleted.
"""
from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import aiohttp  # noqa: E402

from suite.clients import Gateway, TargetUnreachable, Users  # noqa: E402
from suite.redaction import redact, register  # noqa: E402
from suite.stack import Stack  # noqa: E402
from suite.target import TargetConfigError, load  # noqa: E402


def percentile(samples: list[float], q: float) -> float:
    if not samples:
        return float("nan")
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def phase(base: str, anon_key: str, users, op: str, duration: float, tag: str, note_ids: list[int]):
    """One closed-loop phase: every user repeats `op` until the deadline. -> (latencies s, errors)."""
    latencies: list[float] = []
    errors: dict[str, int] = {}
    deadline = time.monotonic() + duration
    conn = aiohttp.TCPConnector(limit=0, limit_per_host=0)  # keepalive, one connection per user

    async def user_loop(session: aiohttp.ClientSession, user, note_id: int):
        headers = {"apikey": anon_key, "Authorization": f"Bearer {user.access_token}"}
        get_url = f"{base}/rest/v1/notes?select=id,body&id=eq.{note_id}"
        post_url = f"{base}/rest/v1/notes"
        while time.monotonic() < deadline:
            t0 = time.perf_counter()
            try:
                if op == "GET":
                    async with session.get(get_url, headers=headers) as r:
                        body = await r.read()
                        ok = r.status == 200 and body.startswith(b"[{")
                else:
                    async with session.post(post_url, headers=headers, json={"body": f"{tag} bench row"}) as r:
                        await r.read()
                        ok = r.status == 201
                status = r.status
            except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
                ok, status = False, type(exc).__name__
            if ok:
                latencies.append(time.perf_counter() - t0)
            else:
                errors[str(status)] = errors.get(str(status), 0) + 1

    timeout = aiohttp.ClientTimeout(total=15)
    async with aiohttp.ClientSession(connector=conn, timeout=timeout) as session:
        await asyncio.gather(*(user_loop(session, u, n) for u, n in zip(users, note_ids)))
    return latencies, errors


CPU_SERVICES = ("gateway", "rest", "db")  # where a REST request spends its time


def cpu_snapshot(target) -> dict[str, float | None]:
    if not target.is_local:
        return {}
    stack = Stack(target) if target.compose_project else None
    return {s: stack.cpu_seconds(s) if stack else None for s in CPU_SERVICES}


def row(op: str, latencies: list[float], errors: dict, duration: float, cpu0: dict, cpu1: dict) -> dict:
    out = {"op": op, "ok": len(latencies), "errors": sum(errors.values()), "rps": len(latencies) / duration,
           "p50": percentile(latencies, 0.50) * 1000, "p95": percentile(latencies, 0.95) * 1000,
           "p99": percentile(latencies, 0.99) * 1000, "error_kinds": errors}
    for s in CPU_SERVICES:  # CPU ms per successful request, per service (local stack only)
        ok = cpu0.get(s) is not None and cpu1.get(s) is not None and latencies
        out[s] = (cpu1[s] - cpu0[s]) * 1000 / len(latencies) if ok else float("nan")
    return out


def print_table(title: str, rows: list[dict]) -> None:
    print(f"\n{title}")
    print(f"{'op':<6}{'ok':>9}{'errors':>8}{'req/s':>9}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}"
          + "".join(f"{'cpu ' + s:>12}" for s in CPU_SERVICES) + "   (cpu: ms per request)")
    for r in rows:
        print(f"{r['op']:<6}{r['ok']:>9}{r['errors']:>8}{r['rps']:>9.0f}{r['p50']:>9.1f}{r['p95']:>9.1f}{r['p99']:>9.1f}"
              + "".join(f"{r[s]:>12.2f}" for s in CPU_SERVICES)
              + (f"  {r['error_kinds']}" if r["error_kinds"] else ""))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--users", type=int, default=50, help="concurrent signed-in users (default 50)")
    ap.add_argument("--accounts", type=int, default=10, help="distinct signed-in accounts (default 10)")
    ap.add_argument("--duration", type=float, default=20, help="seconds per operation per run (default 20)")
    ap.add_argument("--runs", type=int, default=3, help="runs; medians are printed (default 3)")
    ap.add_argument("--warmup", type=float, default=3, help="unmeasured seconds before each run (default 3)")
    ap.add_argument("--target", help="target env file (docs/targets.md); default: the local stack")
    args = ap.parse_args()
    if args.users < 1 or args.accounts < 1 or args.duration <= 0 or args.runs < 1:
        ap.error("--users, --accounts and --runs must be >= 1 and --duration > 0")
    try:
        target = load(args.target)
    except TargetConfigError as exc:
        print(f"rest_throughput: target configuration: {exc}", file=sys.stderr)
        return 2
    register(*target.secrets())
    tag = f"bench-{uuid.uuid4().hex[:8]}"
    gateway = Gateway(target)
    pool = Users(gateway, tag)
    svc = {"apikey": target.anon_key, "Authorization": f"Bearer {target.service_key}"}
    try:
        accounts = min(args.accounts, args.users)
        print(f"creating {accounts} accounts ({tag}-*) through the auth admin API ...", flush=True)
        made = [pool.create(f"u{i}") for i in range(accounts)]
        users = [made[i % accounts] for i in range(args.users)]
        note_ids = []
        for u in users:  # one note per concurrent user, the row its GETs read
            r = gateway.post("/rest/v1/notes", token=u.access_token, json={"body": f"{tag} seed"},
                             headers={"Prefer": "return=representation"})
            assert r.status_code == 201, f"seeding a note: HTTP {r.status_code} {r.text[:200]}"
            note_ids.append(r.json()[0]["id"])
        base = target.url("gateway")
        results = {"GET": [], "POST": []}
        for run in range(1, args.runs + 1):
            rows = []
            for op in ("GET", "POST"):
                if args.warmup > 0:
                    asyncio.run(phase(base, target.anon_key, users, op, args.warmup, tag, note_ids))
                cpu0 = cpu_snapshot(target)
                lat, err = asyncio.run(phase(base, target.anon_key, users, op, args.duration, tag, note_ids))
                rows.append(row(op, lat, err, args.duration, cpu0, cpu_snapshot(target)))
                results[op].append(rows[-1])
            print_table(f"run {run}/{args.runs}: {args.users} users, {args.duration:g} s per op", rows)
        med = [{"op": op, **{k: statistics.median(r[k] for r in rs) for k in ("ok", "errors", "rps", "p50", "p95", "p99", *CPU_SERVICES)},
                "error_kinds": {}} for op, rs in results.items()]
        print_table(f"median of {args.runs} runs", med)
    except TargetUnreachable as exc:
        print(f"rest_throughput: {exc}", file=sys.stderr)
        return 3
    except AssertionError as exc:
        print(f"rest_throughput: {redact(str(exc))}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("rest_throughput: interrupted; removing the run's rows and users", file=sys.stderr)
        return 130
    finally:
        r = gateway.request("DELETE", f"/rest/v1/notes?body=like.{tag}*", key=None, headers=svc)
        problems = pool.delete_all()
        if r.status_code not in (200, 204) or problems:
            print(f"rest_throughput: cleanup incomplete: rows HTTP {r.status_code}; users {problems}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
