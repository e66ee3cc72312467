"""One load-generator process of the realtime capacity benchmark.

Holds its share of the WebSocket connections (Phoenix channels, vsn 1.0.0), joins each to
its channels, sends heartbeats on a fixed timetable and records raw samples:
- heartbeat RTT: the send time rides in the ref ("h<ns>"), so no per-connection state;
- broadcast delivery: the publisher's wall-clock send time rides in the payload.
It obeys commands from the orchestrator over a pipe: reset, report, stop.
"""
from __future__ import annotations

import asyncio
import gc
import heapq
import os
import random
import time

import orjson
import psutil
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

HEARTBEAT = b'{"topic":"phoenix","event":"heartbeat","payload":{},"ref":"h%d"}'


def topics_for(gid: int, fanout_sizes: list[int], prefix: str) -> list[str]:
    """Every connection joins the whole-population channel; the first N global ids also
    join the channel of each fan-out size N, so a publish there reaches exactly N."""
    return [f"realtime:{prefix}-{n}" for n in fanout_sizes if gid < n]


class Generator:
    def __init__(self, cfg: dict, pipe):
        self.cfg, self.pipe = cfg, pipe
        self.open: set = set()
        self.joined = 0
        self.connect_failed: dict[str, int] = {}
        self.join_failed = 0
        self.dropped = 0
        self.stopping = False
        self.hb: list[float] = []
        self.hb_lag_max = 0.0
        self.fanout: dict[str, list[float]] = {}
        self.connect_s: list[float] = []
        self.members: dict[int, int] = {}  # fan-out size -> joined subscribers in this process
        self.heap: list = []
        self.proc = psutil.Process()

    # ---- connections -----------------------------------------------------------------
    async def hold(self, gid: int, due: float) -> None:
        await asyncio.sleep(max(0.0, due - time.monotonic()))  # the ramp's timetable
        topics = topics_for(gid, self.cfg["fanout_sizes"], self.cfg["prefix"])
        started = time.perf_counter()
        try:
            ws = await connect(self.cfg["url"], compression=None, ping_interval=None,
                               open_timeout=30, close_timeout=2, max_size=2**20)
        except InvalidStatus as exc:
            key = f"HTTP {exc.response.status_code}"
            self.connect_failed[key] = self.connect_failed.get(key, 0) + 1
            return
        except (OSError, TimeoutError) as exc:
            key = type(exc).__name__
            self.connect_failed[key] = self.connect_failed.get(key, 0) + 1
            return
        self.connect_s.append(time.perf_counter() - started)
        self.open.add(ws)
        pending = len(topics)
        for i, topic in enumerate(topics):
            await ws.send(orjson.dumps({"topic": topic, "event": "phx_join", "ref": f"j{i}", "join_ref": f"j{i}",
                                        "payload": {"config": {"broadcast": {"self": False},
                                                               "presence": {"enabled": False}}}}).decode())
        interval = random.uniform(self.cfg["hb_min"], self.cfg["hb_max"])
        heapq.heappush(self.heap, (time.monotonic() + random.uniform(0, interval), gid, interval, ws))
        try:
            async for raw in ws:
                msg = orjson.loads(raw)
                event = msg["event"]
                if event == "broadcast":
                    body = msg["payload"]["payload"]
                    self.fanout.setdefault(body["phase"], []).append(time.time() - body["t"])
                elif event == "phx_reply":
                    ref = msg["ref"] or ""
                    if ref.startswith("h"):
                        self.hb.append((time.perf_counter_ns() - int(ref[1:])) / 1e9)
                    elif ref.startswith("j"):
                        if msg["payload"]["status"] == "ok":
                            pending -= 1
                            if pending == 0:
                                self.joined += 1
                                for n in self.cfg["fanout_sizes"]:
                                    if gid < n:
                                        self.members[n] = self.members.get(n, 0) + 1
                        else:
                            self.join_failed += 1
        except ConnectionClosed:
            pass
        finally:
            self.open.discard(ws)
            if pending == 0:
                self.joined -= 1
                for n in self.cfg["fanout_sizes"]:
                    if gid < n:
                        self.members[n] -= 1
            if not self.stopping:
                self.dropped += 1

    async def heartbeats(self) -> None:
        """Every connection's heartbeat on its own fixed timetable (25-30 s): a slow reply
        never delays the next send, so server slowness cannot hide (coordinated omission)."""
        while not self.stopping:
            now = time.monotonic()
            while self.heap and self.heap[0][0] <= now:
                due, gid, interval, ws = heapq.heappop(self.heap)
                if ws not in self.open:
                    continue
                self.hb_lag_max = max(self.hb_lag_max, now - due)
                try:
                    await ws.send((HEARTBEAT % time.perf_counter_ns()).decode())
                except ConnectionClosed:
                    continue
                heapq.heappush(self.heap, (due + interval, gid, interval, ws))
            wait = self.heap[0][0] - time.monotonic() if self.heap else 0.5
            await asyncio.sleep(min(max(wait, 0.001), 0.5))

    # ---- orchestration ---------------------------------------------------------------
    def report(self) -> dict:
        cpu = self.proc.cpu_times()
        return {"open": len(self.open), "joined": self.joined, "dropped": self.dropped,
                "connect_failed": dict(self.connect_failed), "join_failed": self.join_failed,
                "hb": self.hb, "hb_lag_max": self.hb_lag_max, "fanout": self.fanout,
                "connect_s": self.connect_s, "rss": self.proc.memory_info().rss,
                "cpu_s": cpu.user + cpu.system}

    async def run(self) -> None:
        cfg = self.cfg
        loop = asyncio.get_running_loop()
        commands: asyncio.Queue = asyncio.Queue()
        loop.add_reader(self.pipe.fileno(), lambda: commands.put_nowait(self.pipe.recv()))
        # add_reader made the pipe non-blocking: a report larger than the pipe's buffer (the
        # hold's heartbeat samples) would fail with EAGAIN instead of waiting for the reader
        os.set_blocking(self.pipe.fileno(), True)
        self.pipe.send({"rss_idle": self.proc.memory_info().rss})
        start = time.monotonic() + 0.5
        gids = cfg["gids"]
        tasks = [asyncio.create_task(self.hold(gid, start + n / cfg["rate"])) for n, gid in enumerate(gids)]
        beat = asyncio.create_task(self.heartbeats())
        while True:
            cmd = await commands.get()
            if cmd == "ramped?":
                # done when every connection either joined or failed
                settled = self.joined + self.join_failed + sum(self.connect_failed.values())
                self.pipe.send({"settled": settled >= len(gids), **self.report()})
            elif cmd == "freeze":
                gc.collect()
                gc.freeze()  # the ramp's objects live all run: keep them out of every collection
                self.pipe.send("frozen")
            elif cmd == "reset":
                self.hb, self.fanout, self.hb_lag_max = [], {}, 0.0
                self.pipe.send(self.report())
            elif cmd == "counts":  # cheap progress check: no raw samples
                cpu = self.proc.cpu_times()
                self.pipe.send({"members": self.members, "fanout": {k: len(v) for k, v in self.fanout.items()},
                                "cpu_s": cpu.user + cpu.system})
            elif cmd == "report":
                self.pipe.send(self.report())
            elif cmd == "stop":
                self.stopping = True
                for ws in list(self.open):
                    await ws.close()
                beat.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
                self.pipe.send("stopped")
                return


def main(cfg: dict, pipe) -> None:
    """Process entry point (multiprocessing spawn)."""
    try:
        import uvloop
        uvloop.install()
    except ImportError:  # pragma: no cover - the plain loop works, only slower
        pass
    gc.set_threshold(50_000, 50, 100)
    asyncio.run(Generator(cfg, pipe).run())
