"""Prometheus text exposition for the Realtime stand-in (names follow upstream's PromEx)."""
from __future__ import annotations

import bisect
import os
from datetime import datetime


class Histogram:
    __slots__ = ("bounds", "counts", "sum", "count")

    def __init__(self, bounds):
        self.bounds = list(bounds)
        self.counts = [0] * (len(self.bounds) + 1)
        self.sum = 0.0
        self.count = 0

    def observe(self, v: float) -> None:
        self.counts[bisect.bisect_left(self.bounds, v)] += 1
        self.sum += v
        self.count += 1

    def render(self, name: str, labels: str, help_: str) -> list[str]:
        out = [f"# HELP {name} {help_}", f"# TYPE {name} histogram"]
        acc = 0
        for b, c in zip(self.bounds, self.counts):
            acc += c
            out.append(f'{name}_bucket{{{labels},le="{b}"}} {acc}')
        acc += self.counts[-1]
        out.append(f'{name}_bucket{{{labels},le="+Inf"}} {acc}')
        out.append(f"{name}_sum{{{labels}}} {self.sum}")
        out.append(f"{name}_count{{{labels}}} {self.count}")
        return out


LAT_BOUNDS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class Metrics:
    def __init__(self, tenant: str):
        self.tenant = tenant
        self.joins = 0
        self.events_in = 0
        self.events_out = 0
        self.presence_events = 0
        self.db_changes = 0
        self.db_events_out = 0
        self.connections_total = 0
        self.disconnects = 0
        self.rate_limited = {"joins": 0, "events": 0, "channels": 0, "users": 0}
        self.fanout = Histogram(LAT_BOUNDS)
        self.pg_latency = Histogram(LAT_BOUNDS)

    def observe_pg_latency(self, now: float, commit_ts: str) -> None:
        try:
            ts = datetime.fromisoformat(commit_ts.replace("Z", "+00:00")).timestamp()
        except ValueError:
            return
        self.pg_latency.observe(max(0.0, now - ts))

    def render(self, hub) -> str:
        t = f'tenant="{self.tenant}"'
        lines: list[str] = []

        def metric(name, kind, help_, value, labels=t):
            lines.append(f"# HELP {name} {help_}")
            lines.append(f"# TYPE {name} {kind}")
            lines.append(f"{name}{{{labels}}} {value}")

        metric("realtime_connections_connected", "gauge", "Connected WebSocket clients", len(hub.conns))
        metric("realtime_connections_connected_cluster", "gauge", "Connected clients in the cluster", len(hub.conns))
        metric("realtime_channel_joined", "gauge", "Joined channels", hub.joined_channels)
        metric("realtime_channel_topics", "gauge", "Topics with members", len(hub.topics))
        metric("realtime_channel_joins", "counter", "Channel joins", self.joins)
        metric("realtime_channel_events", "counter", "Events received from clients", self.events_in)
        metric("realtime_channel_output_events", "counter", "Messages pushed to clients", self.events_out)
        metric("realtime_channel_presence_events", "counter", "Presence events", self.presence_events)
        metric("realtime_channel_db_events", "counter", "Postgres changes delivered", self.db_events_out)
        metric("realtime_postgres_changes_total", "counter", "Row changes read from the slot", self.db_changes)
        metric("realtime_connections_total", "counter", "Accepted WebSocket connections", self.connections_total)
        metric("realtime_rate_counter_channel_events", "gauge", "Tenant events per second (avg)", hub.events_rate.avg())
        metric("realtime_rate_counter_channel_joins", "gauge", "Tenant joins per second (avg)", hub.joins_rate.avg())
        lim = hub.cfg.limits
        lines.append("# HELP realtime_tenant_limit Configured tenant limits")
        lines.append("# TYPE realtime_tenant_limit gauge")
        for k, v in (("max_concurrent_users", lim.max_concurrent_users), ("max_events_per_second", lim.max_events_per_second),
                     ("max_joins_per_second", lim.max_joins_per_second), ("max_channels_per_client", lim.max_channels_per_client)):
            lines.append(f'realtime_tenant_limit{{{t},limit="{k}"}} {v}')
        lines.append("# HELP realtime_rate_limited Requests refused by a tenant limit")
        lines.append("# TYPE realtime_rate_limited counter")
        for k, v in self.rate_limited.items():
            lines.append(f'realtime_rate_limited{{{t},limit="{k}"}} {v}')
        lines += self.fanout.render("realtime_broadcast_fanout_seconds", t,
                                    "Time to write one broadcast to every member socket")
        lines += self.pg_latency.render("realtime_postgres_changes_latency_seconds", t,
                                        "Commit to dispatch latency of postgres changes")
        metric("realtime_postgres_changes_connected", "gauge", "Replication polling is healthy",
               1 if hub.cdc.replication_connected else 0)
        try:
            with open("/proc/self/statm") as f:
                rss = int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
            metric("process_resident_memory_bytes", "gauge", "Resident memory", rss, "")
            metric("process_open_fds", "gauge", "Open file descriptors", len(os.listdir("/proc/self/fd")), "")
        except OSError:
            pass
        lines = [ln.replace("{}", "") for ln in lines]
        return "\n".join(lines) + "\n"
