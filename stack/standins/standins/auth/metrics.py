"""Prometheus metrics of the auth stand-in (served on GOTRUE_METRICS_PROMETHEUS_LISTEN_PORT, 9100)."""
from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest

from ..common.web import HttpMetrics

try:  # the *_created series only add noise to dashboards
    from prometheus_client import disable_created_metrics
    disable_created_metrics()
except ImportError:  # pragma: no cover
    pass


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        # http_requests_total / http_request_duration_seconds{method, route, status}: the
        # convention shared with rest (stack/prometheus/README.md)
        self.http = HttpMetrics(r)
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
