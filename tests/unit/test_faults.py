"""suite.faults.without_plugins: the kong.yml edit behind the "key-auth removed" fault."""
import re

import pytest
import yaml

from suite.faults import FaultError, without_plugins
from suite.target import STACK

KONG = (STACK / "gateway" / "kong.yml").read_text()


def _plugins(text):
    text = re.sub(r"\$\{?[A-Z_]+(:-[^}]*)?\}?", "x", text)  # variables, as the gateway substitutes them
    return {s["name"]: [p["name"] for p in s.get("plugins", [])] for s in yaml.safe_load(text)["services"]}


def test_removes_the_plugins_from_that_service_only():
    """Catches: an edit that also opens other routes, or leaves the rest route protected
    (the fault test would then prove nothing)."""
    before, after = _plugins(KONG), _plugins(without_plugins(KONG, "rest-v1", {"key-auth", "acl"}))
    assert "key-auth" in before["rest-v1"] and "key-auth" not in after["rest-v1"] and "acl" not in after["rest-v1"]
    assert after["rest-v1"] == [p for p in before["rest-v1"] if p not in ("key-auth", "acl")]
    assert {k: v for k, v in after.items() if k != "rest-v1"} == {k: v for k, v in before.items() if k != "rest-v1"}


@pytest.mark.parametrize("service, plugins", [("no-such-service", {"key-auth"}), ("rest-v1", {"ip-restriction"})])
def test_refuses_an_edit_that_would_change_nothing(service, plugins):
    """Catches: a fault that silently becomes a no-op when kong.yml changes shape."""
    with pytest.raises(FaultError):
        without_plugins(KONG, service, plugins)
