"""HTTP side: POST /hooks/<receiver> (Alertmanager webhooks), GET /health, GET /metrics.

A webhook is answered 200 only once its notifications are committed to the queue; any
failure answers 5xx so Alertmanager retries it: nothing is acknowledged and then lost.
"""
from __future__ import annotations

import asyncio
import logging
import os
import sys
from pathlib import Path

import prometheus_client
from aiohttp import web

from . import alerts, config, metrics
from .store import Store
from .worker import Worker

log = logging.getLogger("notifier")


def make_app(cfg: config.Config, store: Store) -> web.Application:
    app = web.Application(client_max_size=2**20)

    async def hook(request: web.Request) -> web.Response:
        receiver = request.match_info["receiver"]
        if receiver not in cfg.receivers:
            metrics.WEBHOOKS.labels("unknown", "rejected").inc()
            return web.json_response({"error": f"unknown receiver {receiver!r}; channels.yml defines "
                                               f"{sorted(cfg.receivers)}"}, status=404)
        try:
            items = alerts.notifications(await request.json(), receiver, cfg.receivers[receiver])
        except (ValueError, alerts.PayloadError) as exc:
            metrics.WEBHOOKS.labels(receiver, "rejected").inc()
            return web.json_response({"error": f"/hooks/{receiver}: {exc}"}, status=400)
        try:
            await asyncio.to_thread(store.enqueue, items)
        except Exception as exc:  # noqa: BLE001 - Alertmanager retries on 5xx
            metrics.WEBHOOKS.labels(receiver, "error").inc()
            log.error("could not queue %d notifications for %s: %s", len(items), receiver, exc)
            return web.json_response({"error": "queue unavailable; retry"}, status=503)
        metrics.WEBHOOKS.labels(receiver, "queued").inc()
        return web.json_response({"queued": len(items)})

    async def health(_: web.Request) -> web.Response:
        try:
            await asyncio.to_thread(store.ping)
        except Exception as exc:  # noqa: BLE001
            return web.json_response({"status": "unhealthy", "database": str(exc).splitlines()[0]}, status=503)
        # settings only: channel URLs may hold secrets
        return web.json_response({"status": "ok", "receivers": cfg.receivers, "channels": {
            c.name: {"kind": c.kind, "retry": c.retry.__dict__, "throttle": c.throttle.__dict__}
            for c in cfg.channels.values()}})

    async def metrics_page(_: web.Request) -> web.Response:
        try:
            depth = await asyncio.to_thread(store.queue_depth)
            for name in cfg.channels:
                metrics.QUEUE_DEPTH.labels(name).set(depth.get(name, 0))
        except Exception as exc:  # noqa: BLE001 - the other metrics are still worth serving
            log.warning("queue depth unavailable: %s", exc)
        return web.Response(body=prometheus_client.generate_latest(),
                            headers={"Content-Type": prometheus_client.CONTENT_TYPE_LATEST})

    app.router.add_post("/hooks/{receiver}", hook)
    app.router.add_get("/health", health)
    app.router.add_get("/metrics", metrics_page)
    return app


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    path = Path(os.environ.get("NOTIFIER_CHANNELS", "/etc/notifier/channels.yml"))
    try:
        cfg = config.load(path)
    except config.ConfigError as exc:
        sys.exit(f"notifier: {exc}")
    # several workers: a slow or failing channel does not hold up the others
    workers_n = int(os.environ.get("NOTIFIER_WORKERS", "4"))
    store = Store(os.environ.get("NOTIFIER_DB_URL", ""), max_size=workers_n + 3)
    try:
        store.open(timeout=float(os.environ.get("NOTIFIER_DB_TIMEOUT_S", "60")))
    except Exception as exc:  # noqa: BLE001
        sys.exit(f"notifier: database unavailable (PGHOST={os.environ.get('PGHOST', '')}): {exc}")
    workers = [Worker(store, cfg, name=f"delivery-{n}") for n in range(workers_n)]
    for worker in workers:
        worker.start()
    log.info("notifier ready: receivers %s", ", ".join(sorted(cfg.receivers)))
    web.run_app(make_app(cfg, store), port=int(os.environ.get("NOTIFIER_PORT", "8080")),
                access_log=None, print=None)
    for worker in workers:
        worker.stopping.set()
    for worker in workers:
        worker.join(timeout=10)
    store.close()


if __name__ == "__main__":
    main()
