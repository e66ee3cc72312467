"""The load verdict's WebSocket checks (loadtests/_verdict.py): a message type the run's
users always measure must have samples, and lost postgres changes fail the run."""
from loadtests._samples import SampleBook
from loadtests._verdict import websocket_checks

PHASES = {"ramp": (0.0, 10.0), "hold": (10.0, 100.0), "run": (0.0, 100.0)}


def failed(checks) -> list[str]:
    return [c.line() for c in checks if not c.ok]


def test_a_produced_type_without_samples_fails():
    """Seeded: postgres-changes users ran but no event ever arrived; without this check the
    p95 SLO is skipped over zero samples and the run passes."""
    book = SampleBook()
    book.add("ws heartbeat", 3.0, at=50.0)
    checks, _ = websocket_checks(book, PHASES, 0, frozenset({"heartbeat", "postgres_changes"}))
    assert failed(checks) == ["FAIL websocket postgres_changes samples (hold): none, though users that "
                              "measure it ran: the messages never arrived"]


def test_types_no_user_produces_may_be_absent():
    book = SampleBook()
    book.add("ws heartbeat", 3.0, at=50.0)
    checks, _ = websocket_checks(book, PHASES, 0, frozenset({"heartbeat"}))
    assert failed(checks) == []


def test_lost_postgres_changes_fail_the_run():
    """Seeded: 3 inserted rows whose events never came (counted by the users)."""
    book = SampleBook()
    book.count("ws postgres_changes lost", 3)
    checks, _ = websocket_checks(book, PHASES, 0)
    assert any(line.startswith("FAIL websocket postgres changes lost = 3") for line in failed(checks))
