"""Prometheus metrics of the notifier (served on /metrics)."""
from prometheus_client import Counter, Gauge, Histogram

NOTIFICATIONS = Counter("notifications", "Delivery attempts by outcome",
                        ["receiver", "channel", "status"])  # exported as notifications_total
QUEUE_DEPTH = Gauge("notification_queue_depth", "Notifications waiting for delivery or a retry", ["channel"])
LATENCY = Histogram("notification_delivery_seconds", "Time to hand one notification to its channel",
                    ["channel"], buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
WEBHOOKS = Counter("notifier_webhooks", "Alertmanager webhooks received", ["receiver", "outcome"])
