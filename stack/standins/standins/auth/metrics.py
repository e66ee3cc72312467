"""Prometheus metrics of the auth stand-in (served on GOTRUE_METRICS_PROMETHEUS_LISTEN_PORT, 9100)."""
from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

try:  # the *_created series only add noise to dashboards
    from prometheus_client import disable_created_metrics
    disable_created_metrics()
except ImportError:  # pragma: no cover
    pass


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter("auth_http_requests", "HTTP requests handled, by route and status",
                                ["method", "route", "status"], registry=r)
        self.latency = Histogram("auth_http_request_duration_seconds", "HTTP request latency",
                                 ["method", "route"], registry=r,
                                 buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0))
        self.sign_ins = Counter("auth_sign_ins", "Password sign-ins, by result", ["result"], registry=r)
        self.signups = Counter("auth_signups", "Users created through /signup", registry=r)
        self.refreshes = Counter("auth_token_refreshes", "refresh_token grants, by result", ["result"],
                                 registry=r)
        self.active_sessions = Gauge("auth_active_sessions", "Sessions in auth.sessions that have not expired",
                                     registry=r)
        for res in ("ok", "failed"):
            self.sign_ins.labels(res)
            self.refreshes.labels(res)

    def render(self) -> bytes:
        return generate_latest(self.registry)
