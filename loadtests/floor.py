"""The plain asyncio floor: what holding one idle WebSocket costs a client process with no
framework around it, measured on the same machine and in the same image as a Locust run, so
the generator's memory per connection is judged against it (tests/load/test_capacity.py).

One container (no network but its own loopback, no stack traffic): a plain asyncio server
in a child process, and this process holding `--connections` WebSockets to it with the
`websockets` library, each sending a heartbeat on its own fixed timetable and reading the
replies. The figure is this process's RSS growth (peak over the hold, minus the baseline
before the first connect) per connection held, measured as loadtests/_generator.py measures
Locust's processes (psutil RSS; the heap frozen after the ramp as Locust's are). Written as
JSON to `--out`; exit 1 when a connection was refused or dropped.

    python -m loadtests.floor --connections 2500 --out reports/floor.json

Locust loads every .py file of loadtests/ as a locustfile: importing this module does nothing.
"""
from __future__ import annotations

import argparse
import asyncio
import gc
import heapq
import json
import random
import sys
import time
from pathlib import Path

HEARTBEAT = '{"topic":"phoenix","event":"heartbeat","payload":{},"ref":"%d"}'


# ---- the server (child process) ---------------------------------------------------------
async def serve(port: int) -> None:
    from websockets.asyncio.server import serve as ws_serve

    async def echo_heartbeats(ws) -> None:
        async for raw in ws:  # every message is a heartbeat: reply with its ref, as Phoenix does
            ref = json.loads(raw)["ref"]
            await ws.send('{"topic":"phoenix","event":"phx_reply","payload":{"status":"ok"},"ref":"%s"}' % ref)

    async with ws_serve(echo_heartbeats, "127.0.0.1", port, compression=None, ping_interval=None,
                        max_size=2**16, backlog=4096):
        print("ready", flush=True)
        await asyncio.Future()


# ---- the client (this process) ----------------------------------------------------------
class Floor:
    def __init__(self, url: str, heartbeat_s: float, connections: int):
        import psutil  # imported before the baseline is taken, as Locust's are
        from websockets.asyncio.client import connect
        from websockets.exceptions import ConnectionClosed

        self.connect, self.closed = connect, ConnectionClosed
        self.url, self.heartbeat_s, self.connections = url, heartbeat_s, connections
        self.settled = 0  # connects that succeeded or failed
        self.ramped = asyncio.Event()  # set when every connect has settled
        self.proc = psutil.Process()
        self.open: set = set()
        self.failed: dict[str, int] = {}
        self.dropped = 0
        self.stopping = False
        self.sent: dict[int, float] = {}  # ref -> scheduled send time
        self.rtt_ms: list[float] = []
        self.timetable: list = []  # (due, ref seed, connection)
        self.refs = 0

    def rss(self) -> int:
        return self.proc.memory_info().rss

    async def hold(self, due: float) -> None:
        await asyncio.sleep(max(0.0, due - time.monotonic()))
        try:
            ws = await self.connect(self.url, compression=None, ping_interval=None, open_timeout=30, max_size=2**16)
        except Exception as exc:  # noqa: BLE001 - counted by kind, reported in the JSON
            self.failed[type(exc).__name__] = self.failed.get(type(exc).__name__, 0) + 1
            self.settle()
            return
        self.open.add(ws)
        self.settle()
        heapq.heappush(self.timetable, (time.monotonic() + random.uniform(0, self.heartbeat_s), id(ws), ws))
        try:
            async for raw in ws:
                scheduled = self.sent.pop(int(json.loads(raw)["ref"]), None)
                if scheduled is not None:
                    self.rtt_ms.append((time.monotonic() - scheduled) * 1000)
        except self.closed:
            pass
        finally:
            self.open.discard(ws)
            if not self.stopping:
                self.dropped += 1

    def settle(self) -> None:
        self.settled += 1
        if self.settled == self.connections:
            self.ramped.set()

    async def heartbeats(self) -> None:
        """Each connection's heartbeat on its own fixed timetable, timed from the scheduled
        send, so a slow reply never delays the next one."""
        while not self.stopping:
            now = time.monotonic()
            while self.timetable and self.timetable[0][0] <= now:
                due, key, ws = heapq.heappop(self.timetable)
                if ws not in self.open:
                    continue
                self.refs += 1
                self.sent[self.refs] = due
                try:
                    await ws.send(HEARTBEAT % self.refs)
                except Exception:  # noqa: BLE001 - the reader counts the drop
                    continue
                heapq.heappush(self.timetable, (due + self.heartbeat_s, key, ws))
            wait = self.timetable[0][0] - time.monotonic() if self.timetable else 0.2
            await asyncio.sleep(min(max(wait, 0.001), 0.2))


async def measure(connections: int, rate: float, hold_s: float, heartbeat_s: float, port: int) -> dict:
    from loadtests._samples import percentile  # nearest rank, as the load verdict

    server = await asyncio.create_subprocess_exec(sys.executable, "-m", "loadtests.floor", "--serve", str(port),
                                                  stdout=asyncio.subprocess.PIPE)
    try:
        if (await asyncio.wait_for(server.stdout.readline(), 30)).strip() != b"ready":
            raise RuntimeError(f"the floor's server did not start (exit {server.returncode})")
        floor = Floor(f"ws://127.0.0.1:{port}/", heartbeat_s, connections)
        gc.collect()
        baseline = peak = floor.rss()
        start = time.monotonic() + 0.2
        tasks = [asyncio.create_task(floor.hold(start + n / rate)) for n in range(connections)]
        beats = asyncio.create_task(floor.heartbeats())
        # the timetable, plus the connect timeout: every connect has settled by then
        await asyncio.wait_for(floor.ramped.wait(), connections / rate + 35)
        gc.collect()
        gc.freeze()  # as Locust's processes after their ramp (loadtests/_generator.py)
        floor.rtt_ms.clear()  # heartbeat round trips of the idle hold only, not of the connect burst
        held = len(floor.open)
        hold_end = time.monotonic() + hold_s
        while time.monotonic() < hold_end:  # the hold is the measurement: sample RSS through it
            peak = max(peak, floor.rss())
            held = min(held, len(floor.open))
            await asyncio.sleep(0.5)
        floor.stopping = True
        beats.cancel()
        for ws in list(floor.open):
            await ws.close()
        await asyncio.gather(*tasks, return_exceptions=True)
    finally:
        server.kill()
        await server.wait()
    grown, rtt = peak - baseline, sorted(round(ms, 2) for ms in floor.rtt_ms)
    return {"client": "plain asyncio + websockets", "connections": connections, "held": held,
            "connect_failed": floor.failed, "dropped": floor.dropped, "hold_s": hold_s, "heartbeat_s": heartbeat_s,
            "baseline_rss_mb": round(baseline / 2**20, 1), "peak_rss_mb": round(peak / 2**20, 1),
            "kb_per_connection": round(grown / 1024 / held, 1) if held else None,
            "heartbeat_rtt_ms": {"count": len(rtt), "p50": percentile(rtt, 50), "p99": percentile(rtt, 99)}}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m loadtests.floor", description=__doc__.split("\n\n")[0])
    parser.add_argument("--connections", type=int, default=2500, help="WebSockets to hold (default 2500)")
    parser.add_argument("--rate", type=float, default=500, help="connects per second (default 500)")
    parser.add_argument("--hold-s", type=float, default=20, help="seconds held after the ramp (default 20)")
    parser.add_argument("--heartbeat-s", type=float, default=5, help="each connection's heartbeat period (default 5)")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--out", type=Path, help="the JSON figure (default: stdout only)")
    parser.add_argument("--serve", type=int, metavar="PORT", help=argparse.SUPPRESS)  # the child process
    args = parser.parse_args(argv)
    from loadtests._generator import raise_open_files  # one descriptor per connection, as Locust's

    raise_open_files()
    if args.serve:
        asyncio.run(serve(args.serve))
        return 0
    if args.connections < 1 or args.rate <= 0 or args.hold_s <= 0 or args.heartbeat_s <= 0:
        parser.error("--connections, --rate, --hold-s and --heartbeat-s must be positive")
    result = asyncio.run(measure(args.connections, args.rate, args.hold_s, args.heartbeat_s, args.port))
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)
    return 0 if result["held"] == args.connections and not result["dropped"] else 1


if __name__ == "__main__":
    sys.exit(main())
