"""aiohttp helpers: orjson responses, one access-log line per request, Prometheus metrics."""
import asyncio
import logging
import time

import orjson
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest

try:  # the *_created series double every counter and no rule or dashboard reads them
    from prometheus_client import disable_created_metrics
    disable_created_metrics()
except ImportError:  # pragma: no cover - older prometheus_client
    pass

JSON_CT = "application/json; charset=utf-8"


def json_response(obj, status: int = 200, headers: dict | None = None) -> web.Response:
    return web.Response(body=orjson.dumps(obj), status=status, headers={"Content-Type": JSON_CT, **(headers or {})})


# One HTTP metrics convention for every stand-in (stack/prometheus/README.md, "HTTP metrics"):
#   http_requests_total{method, route, status}
#   http_request_duration_seconds{method, route, status}   (histogram)
# `route` is a template (/admin/users/{user_id}), never a raw path: ids in label values
# would create a series per id. `service` is added by Prometheus from the scrape target.
HTTP_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
UNMATCHED_ROUTE = "unmatched"


def matched_route(request: web.Request) -> str:
    """The aiohttp route template that matched (`/admin/users/{user_id}`), else "unmatched"."""
    resource = getattr(request.match_info.route, "resource", None)
    return resource.canonical if resource is not None else UNMATCHED_ROUTE


class HttpMetrics:
    """Request counter and latency histogram by method, route template and status."""

    def __init__(self, registry: CollectorRegistry, route=matched_route):
        self.registry = registry
        self.route = route
        labels = ["method", "route", "status"]
        self.requests = Counter("http_requests_total", "HTTP requests by method, route template and status",
                                labels, registry=registry)
        self.latency = Histogram("http_request_duration_seconds", "HTTP request latency", labels,
                                 registry=registry, buckets=HTTP_LATENCY_BUCKETS)

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(method, route, str(status)).observe(seconds)

    def observe_request(self, request: web.Request, status: int, seconds: float) -> None:
        self.observe(request.method, self.route(request), status, seconds)

    async def handler(self, request: web.Request) -> web.Response:
        return web.Response(body=generate_latest(self.registry), headers={"Content-Type": CONTENT_TYPE_LATEST})


def observe_middleware(logger: logging.Logger, metrics: HttpMetrics | None = None, log_min_status: int = 0):
    """Logs `METHOD /path STATUS ms` (no query string, no headers) for responses with a
    status >= log_min_status, and records metrics for every request."""

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
                metrics.observe_request(request, status, dt)
            if status >= log_min_status:
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
