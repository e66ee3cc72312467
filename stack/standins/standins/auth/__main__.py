"""Run the auth stand-in: `python -m standins.auth` (configured by GoTrue's env vars)."""
from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import orjson
from aiohttp import web
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from . import migrations
from .app import AuthService, build_app, build_metrics_app
from .config import Config, libpq_conninfo
from .metrics import Metrics

log = logging.getLogger("standins.auth")


def _emit(level: str, msg: str, **fields) -> None:
    line = orjson.dumps({"level": level, "msg": msg, "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                         **fields}).decode()
    (log.error if level == "error" else log.info)(line)


async def _migrate(conninfo: str, deadline_s: float) -> None:
    import psycopg
    start = time.monotonic()
    delay = 0.5
    while True:
        try:
            async with await psycopg.AsyncConnection.connect(conninfo, autocommit=True, connect_timeout=5) as conn:
                applied = await migrations.migrate(conn)
            _emit("info", "migrations applied" if applied else "migrations up to date", version=migrations.VERSION)
            return
        except (psycopg.OperationalError, psycopg.errors.LockNotAvailable) as e:
            if time.monotonic() - start > deadline_s:
                raise
            _emit("info", "database not ready, retrying", error=str(e).splitlines()[0] if str(e) else type(e).__name__)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)


async def main() -> int:
    try:
        cfg = Config.from_env()
    except ValueError as e:
        _emit("error", f"configuration error: {e}")
        return 2
    conninfo = libpq_conninfo(cfg.db_url)
    await _migrate(conninfo, float(os.environ.get("GOTRUE_DB_MIGRATE_TIMEOUT", "120")))

    pool = AsyncConnectionPool(conninfo, min_size=2, max_size=cfg.db_max_pool_size, open=False,
                               kwargs={"autocommit": True, "row_factory": dict_row},
                               check=AsyncConnectionPool.check_connection, timeout=10.0)
    await pool.open(wait=True, timeout=30.0)
    executor = ThreadPoolExecutor(max_workers=max(2, (os.cpu_count() or 2)), thread_name_prefix="bcrypt")
    service = AuthService(cfg, pool, Metrics(), executor)

    runner = web.AppRunner(build_app(service), access_log=None, handle_signals=False)
    await runner.setup()
    await web.TCPSite(runner, cfg.api_host, cfg.api_port, backlog=2048).start()
    _emit("info", "GoTrue API started", host=cfg.api_host, port=cfg.api_port, version=cfg.version)
    metrics_runner = None
    if cfg.metrics_enabled:
        metrics_runner = web.AppRunner(build_metrics_app(service), access_log=None, handle_signals=False)
        await metrics_runner.setup()
        await web.TCPSite(metrics_runner, cfg.metrics_host, cfg.metrics_port).start()
        _emit("info", "metrics listening", port=cfg.metrics_port)

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    _emit("info", "shutting down")
    await runner.cleanup()
    if metrics_runner is not None:
        await metrics_runner.cleanup()
    await pool.close()
    executor.shutdown(wait=False)
    return 0


def run() -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stdout)
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is in requirements
        sys.exit(asyncio.run(main()))
    sys.exit(uvloop.run(main()))


if __name__ == "__main__":
    run()
