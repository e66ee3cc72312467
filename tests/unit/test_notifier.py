"""Pure logic of the alert notifier (stack/notifier): configuration, payload parsing,
backoff and throttling decisions, and the test-time config generator. No stack."""
from pathlib import Path

import pytest
import yaml

pytest.importorskip("apprise")

from notifier import alerts, config, policy  # noqa: E402

from suite import alerting  # noqa: E402

CHANNELS = Path(__file__).resolve().parents[2] / "stack" / "notifier" / "channels.yml"


def test_shipped_channels_cover_every_alertmanager_receiver():
    """Catches: a receiver in alertmanager.yml the notifier would answer 404."""
    am = yaml.safe_load((CHANNELS.parents[1] / "alertmanager" / "alertmanager.yml").read_text())
    hooked = {r["name"] for r in am["receivers"] if r.get("webhook_configs")}
    assert hooked <= set(config.load(CHANNELS, {}).receivers)


def test_env_interpolation_and_missing_variable_named(tmp_path):
    """Catches: secrets not taken from the environment, or a silent empty URL."""
    f = tmp_path / "c.yml"
    f.write_text("channels:\n  a: {url: 'json://${HOOK_HOST}/x'}\nreceivers:\n  r: [a]\n")
    assert config.load(f, {"HOOK_HOST": "sink:8080"}).channels["a"].url == "json://sink:8080/x"
    with pytest.raises(config.ConfigError, match=r"channels\.a\.url: \$\{HOOK_HOST\} is not set"):
        config.load(f, {})


@pytest.mark.parametrize("text, message", [
    ("channels: {}\n", "expected mappings `channels:` and `receivers:`"),
    ("channels:\n  a: {url: 'json://h/x'}\nreceivers:\n  r: [b]\n", "unknown channel(s) ['b']"),
    ("channels:\n  a: {url: 'nope://h'}\nreceivers:\n  r: [a]\n", "Apprise does not accept this URL"),
    ("channels:\n  a: {url: 'json://h', throttle: {rate: 0}}\nreceivers:\n  r: [a]\n", "throttle.rate: expected a positive"),
    ("channels:\n  a: {url: 'json://h', retry: {tries: 3}}\nreceivers:\n  r: [a]\n", "unknown key(s) ['tries']"),
])
def test_bad_config_is_named(tmp_path, text, message):
    """Catches: a bad channels.yml failing with a bare traceback instead of where and what."""
    f = tmp_path / "c.yml"
    f.write_text(text)
    with pytest.raises(config.ConfigError) as err:
        config.load(f, {})
    assert message in str(err.value) and str(f) in str(err.value)


def test_backoff_is_exponential_and_capped():
    """Catches: constant or unbounded retry delays."""
    r = config.Retry(max_attempts=9, initial_s=2, factor=2, max_s=10)
    assert [policy.backoff_s(r, n) for n in (1, 2, 3, 4)] == [2, 4, 8, 10]


def test_throttle_rate_and_duplicates():
    """Catches: a rate limit off by one, or duplicates of a changed status suppressed."""
    t = config.Throttle(rate=3, per_s=60, dedup_window_s=300)
    assert policy.throttle_reason(t, delivered_in_window=2, last_same_alert=None, alert_status="firing") is None
    assert policy.throttle_reason(t, delivered_in_window=3, last_same_alert=None, alert_status="firing").startswith("rate limit")
    assert policy.throttle_reason(t, delivered_in_window=0, last_same_alert=("firing", 10), alert_status="firing").startswith("duplicate")
    assert policy.throttle_reason(t, delivered_in_window=0, last_same_alert=("firing", 10), alert_status="resolved") is None
    assert policy.throttle_reason(t, delivered_in_window=0, last_same_alert=("firing", 301), alert_status="firing") is None


def test_webhook_payload_becomes_one_notification_per_alert_and_channel():
    """Catches: alerts of a group lost, or resolved alerts sent as firing."""
    payload = {"status": "resolved", "alerts": [
        {"status": "resolved", "fingerprint": "f1", "labels": {"alertname": "RedisDown", "severity": "critical"},
         "annotations": {"summary": "Redis is down"}},
        {"labels": {"alertname": "X"}}]}
    out = alerts.notifications(payload, "critical-pager", ["a", "b"])
    assert [(n.fingerprint, n.channel, n.alert_status) for n in out][:2] == [("f1", "a", "resolved"), ("f1", "b", "resolved")]
    assert out[0].title == "[RESOLVED] RedisDown (critical)" and "fingerprint: f1" in out[0].body
    assert len(out) == 4 and out[2].fingerprint  # no fingerprint given: derived from labels
    with pytest.raises(alerts.PayloadError, match="alerts"):
        alerts.notifications({"foo": 1}, "r", ["a"])


def test_fast_configs_change_only_timings(tmp_path):
    """Catches: the test overlay changing routes or rule expressions (tests would prove
    something other than production)."""
    out = alerting.write_fast_configs(tmp_path / "fast")
    stack = alerting.STACK
    prod_am = yaml.safe_load((stack / "alertmanager" / "alertmanager.yml").read_text())
    fast_am = yaml.safe_load((out / "alertmanager.yml").read_text())
    assert fast_am["route"]["routes"] == prod_am["route"]["routes"] and fast_am["receivers"] == prod_am["receivers"]
    for path in (stack / "prometheus" / "rules").glob("*.yml"):
        prod = yaml.safe_load(path.read_text())["groups"]
        fast = yaml.safe_load((out / "rules" / path.name).read_text())["groups"]
        for pg, fg in zip(prod, fast):
            assert [(r.get("alert"), r.get("record"), r["expr"], r.get("labels")) for r in pg["rules"]] == \
                   [(r.get("alert"), r.get("record"), r["expr"], r.get("labels")) for r in fg["rules"]]
            assert all(alerting.seconds(r["for"]) <= alerting.FAST.for_cap_s for r in fg["rules"] if "for" in r)
