"""Environment of the Realtime stand-in: the same variable names as supabase/realtime."""
from __future__ import annotations

import os
from dataclasses import dataclass, field


def _int(env, name: str, default: int) -> int:
    raw = env.get(name, "")
    try:
        return int(raw) if raw.strip() else default
    except ValueError:
        return default


def _float(env, name: str, default: float) -> float:
    raw = env.get(name, "")
    try:
        return float(raw) if raw.strip() else default
    except ValueError:
        return default


@dataclass
class Limits:
    # Upstream defaults (config/runtime.exs): 200 users, 100 events/s, 100 joins/s,
    # 100 channels per client.
    max_concurrent_users: int = 200
    max_events_per_second: int = 100
    max_joins_per_second: int = 100
    max_channels_per_client: int = 100
    max_bytes_per_second: int = 100_000


@dataclass
class Config:
    port: int = 4000
    host: str = "0.0.0.0"
    db_host: str = "localhost"
    db_port: int = 5432
    db_user: str = "supabase_admin"
    db_password: str = ""
    db_name: str = "postgres"
    api_jwt_secret: str = ""
    metrics_jwt_secret: str = ""
    app_name: str = "realtime"
    tenant: str = "realtime-dev"
    region: str = "local"
    slot_name: str = "supabase_realtime_replication_slot"
    publication: str = "supabase_realtime"
    poll_interval: float = 0.05
    poll_max_changes: int = 5000
    publication_refresh: float = 5.0
    idle_timeout: float = 60.0
    gc_freeze_interval: float = 60.0
    gc_full_interval: float = 900.0
    max_write_buffer: int = 4 * 1024 * 1024
    limits: Limits = field(default_factory=Limits)

    @property
    def dsn(self) -> str:
        from psycopg.conninfo import make_conninfo

        return make_conninfo(
            host=self.db_host,
            port=self.db_port,
            user=self.db_user,
            password=self.db_password,
            dbname=self.db_name,
            application_name=f"{self.app_name}_realtime",
        )

    @classmethod
    def from_env(cls, env=None) -> "Config":
        env = os.environ if env is None else env
        limits = Limits(
            max_concurrent_users=_int(env, "TENANT_MAX_CONCURRENT_USERS", 200),
            max_events_per_second=_int(env, "TENANT_MAX_EVENTS_PER_SECOND", 100),
            max_joins_per_second=_int(env, "TENANT_MAX_JOINS_PER_SECOND", 100),
            max_channels_per_client=_int(env, "TENANT_MAX_CHANNELS_PER_CLIENT", 100),
            max_bytes_per_second=_int(env, "TENANT_MAX_BYTES_PER_SECOND", 100_000),
        )
        suffix = env.get("SLOT_NAME_SUFFIX", "")
        return cls(
            port=_int(env, "PORT", 4000),
            host=env.get("REALTIME_LISTEN_ADDRESS", "0.0.0.0"),
            db_host=env.get("DB_HOST", "localhost"),
            db_port=_int(env, "DB_PORT", 5432),
            db_user=env.get("DB_USER", "supabase_admin"),
            db_password=env.get("DB_PASSWORD", ""),
            db_name=env.get("DB_NAME", "postgres"),
            api_jwt_secret=env.get("API_JWT_SECRET", ""),
            metrics_jwt_secret=env.get("METRICS_JWT_SECRET", "") or env.get("API_JWT_SECRET", ""),
            app_name=env.get("APP_NAME", "realtime"),
            tenant=env.get("SELF_HOST_TENANT_NAME", "") or env.get("REALTIME_TENANT", "") or "realtime-dev",
            region=env.get("REGION", "local"),
            slot_name="supabase_realtime_replication_slot" + (f"_{suffix}" if suffix else ""),
            publication=env.get("REALTIME_PUBLICATION", "supabase_realtime"),
            poll_interval=_float(env, "REALTIME_POLL_INTERVAL_MS", 50.0) / 1000.0,
            poll_max_changes=_int(env, "REALTIME_POLL_MAX_CHANGES", 5000),
            idle_timeout=_float(env, "REALTIME_IDLE_TIMEOUT_S", 60.0),
            gc_freeze_interval=_float(env, "REALTIME_GC_FREEZE_INTERVAL_S", 60.0),
            gc_full_interval=_float(env, "REALTIME_GC_FULL_INTERVAL_S", 900.0),
            limits=limits,
        )
