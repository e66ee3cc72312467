"""Alertmanager webhook payload (version 4) -> one notification per alert and channel."""
from __future__ import annotations

import hashlib
import json

from .store import Notification


class PayloadError(ValueError):
    """The webhook body is not an Alertmanager notification."""


def fingerprint(alert: dict) -> str:
    if alert.get("fingerprint"):
        return str(alert["fingerprint"])
    labels = json.dumps(alert.get("labels", {}), sort_keys=True)
    return hashlib.sha256(labels.encode()).hexdigest()[:16]


def render(alert: dict, status: str) -> tuple[str, str]:
    labels, ann = alert.get("labels", {}), alert.get("annotations", {})
    name = labels.get("alertname", "alert")
    title = f"[{status.upper()}] {name}" + (f" ({labels['severity']})" if labels.get("severity") else "")
    lines = [ann.get("summary", ""), ann.get("description", "")]
    lines.append("labels: " + ", ".join(f"{k}={v}" for k, v in sorted(labels.items())))
    if ann.get("runbook_url"):
        lines.append(f"runbook: {ann['runbook_url']}")
    lines.append(f"fingerprint: {fingerprint(alert)}")
    if alert.get("startsAt"):
        lines.append(f"since: {alert['startsAt']}")
    return title, "\n".join(line for line in lines if line)


def notifications(payload: object, receiver: str, channels: list[str]) -> list[Notification]:
    if not isinstance(payload, dict) or not isinstance(payload.get("alerts"), list):
        raise PayloadError("expected an Alertmanager webhook body: a JSON object with an `alerts` list")
    out = []
    for i, alert in enumerate(payload["alerts"]):
        if not isinstance(alert, dict) or not isinstance(alert.get("labels", {}), dict):
            raise PayloadError(f"alerts[{i}]: expected an object with a `labels` object")
        status = alert.get("status") or payload.get("status") or "firing"
        if status not in ("firing", "resolved"):
            raise PayloadError(f"alerts[{i}].status: expected firing or resolved, got {status!r}")
        title, body = render(alert, status)
        for channel in channels:
            out.append(Notification(fingerprint(alert), receiver, channel,
                                    alert.get("labels", {}).get("alertname", ""), status, title, body))
    return out
