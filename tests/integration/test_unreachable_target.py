"""`--target` at a stack whose gateway is down: the run fails fast and says UNREACHABLE with
the URL, instead of hanging on timeouts or burying the cause in tracebacks (issue 5)."""
from __future__ import annotations

import socket

import pytest

from suite.pytest_run import run_suite
from suite.thresholds import LIMITS


@pytest.fixture
def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (bound once by us, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def dead_target(tmp_path, closed_port):
    url = f"http://127.0.0.1:{closed_port}"
    env = tmp_path / "dead.env"
    env.write_text(f"SUPABASE_URL={url}\nANON_KEY=not-a-real-anon-key\nSERVICE_ROLE_KEY=not-a-real-service-key\n")
    env.chmod(0o600)
    return env, url


def test_dead_gateway_fails_fast_as_unreachable(dead_target, tmp_path):
    """Catches: a suite that hangs on a dead target, reports it as ordinary assertion
    failures without the address, or drowns the reason in tracebacks."""
    env_file, url = dead_target
    run = run_suite(["-m", "smoke", f"--target={env_file}"], tmp_path / "reports",
                    env={"SUITE_TARGET": "", "SUITE_STACK_ENV": ""})
    print(f"smoke against a dead gateway: exit {run.returncode} in {run.seconds:.1f} s")

    assert run.returncode != 0, f"a dead gateway passed smoke: {run.summary()}"
    assert f"UNREACHABLE: gateway at {url}" in run.output, f"no UNREACHABLE line naming {url}: {run.summary()}"
    assert "Traceback" not in run.output, f"traceback noise in the output: {run.summary()}"
    failed = run.failed()
    assert failed and all("UNREACHABLE" in v.message for v in failed.values()), \
        "tests failed for other reasons than the unreachable gateway: " + \
        "; ".join(f"{k}: {v.message[:200]}" for k, v in failed.items() if "UNREACHABLE" not in v.message)
    assert run.seconds < LIMITS.smoke.unreachable_fail_fast_s, \
        f"the run took {run.seconds:.1f} s (bound {LIMITS.smoke.unreachable_fail_fast_s} s): {run.summary()}"
