"""aiohttp helpers: orjson responses, one access-log line per request, Prometheus metrics."""
import asyncio
import logging
import time

import orjson
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest

JSON_CT = "application/json; charset=utf-8"


def json_response(obj, status: int = 200, headers: dict | None = None) -> web.Response:
    return web.Response(body=orjson.dumps(obj), status=status, headers={"Content-Type": JSON_CT, **(headers or {})})


class HttpMetrics:
    """Request count by method/status and a latency histogram, in a registry of its own."""

    def __init__(self, registry: CollectorRegistry, prefix: str = ""):
        self.registry = registry
        self.requests = Counter(f"{prefix}http_requests_total", "HTTP requests", ["method", "status"], registry=registry)
        self.latency = Histogram(
            f"{prefix}http_request_duration_seconds", "HTTP request latency", ["method"], registry=registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1, 2.5, 5, 10))

    async def handler(self, request: web.Request) -> web.Response:
        return web.Response(body=generate_latest(self.registry), headers={"Content-Type": CONTENT_TYPE_LATEST})


def observe_middleware(logger: logging.Logger, metrics: HttpMetrics | None = None):
    """Logs `METHOD /path STATUS ms` (no query string, no headers) and records metrics."""

    @web.middleware
    async def middleware(request: web.Request, handler):
        t0 = time.perf_counter()
        status = 500
        try:
            resp = await handler(request)
            status = resp.status
            return resp
        except web.HTTPException as exc:
            status = exc.status
            raise
        except asyncio.CancelledError:
            status = 499
            raise
        finally:
            dt = time.perf_counter() - t0
            if metrics is not None:
                metrics.requests.labels(request.method, str(status)).inc()
                metrics.latency.labels(request.method).observe(dt)
            logger.info("%s %s %d %.1fms", request.method, request.path, status, dt * 1000)

    return middleware


def setup_logging(name: str) -> logging.Logger:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    return logging.getLogger(name)


def install_uvloop() -> None:
    try:
        import uvloop
        uvloop.install()
    except Exception:  # pragma: no cover - uvloop is optional
        pass
