"""Pure decisions: retry backoff and throttling. The store supplies the history."""
from __future__ import annotations

from .config import Retry, Throttle


def backoff_s(retry: Retry, attempt: int) -> float:
    """Delay before attempt `attempt + 1`, after `attempt` failures (1-based): exponential, capped."""
    return min(retry.max_s, retry.initial_s * retry.factor ** (attempt - 1))


def throttle_reason(throttle: Throttle, *, delivered_in_window: int,
                    last_same_alert: tuple[str, float] | None, alert_status: str) -> str | None:
    """Why a first attempt must not be sent, or None.

    last_same_alert: (status, seconds ago) of the last delivery of this alert on this channel.
    """
    if last_same_alert is not None:
        status, age = last_same_alert
        if status == alert_status and age < throttle.dedup_window_s:
            return (f"duplicate: the same {alert_status} notification was delivered {age:.0f} s ago "
                    f"(dedup window {throttle.dedup_window_s:g} s)")
    if delivered_in_window >= throttle.rate:
        return f"rate limit: {throttle.rate} deliveries per {throttle.per_s:g} s reached on this channel"
    return None
