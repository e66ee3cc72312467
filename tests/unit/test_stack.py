"""The stack layer's guard and undoable changes, without a stack."""
import pytest

from suite.stack import Changes, StackError, refusal


def test_changes_refused_on_a_deployed_target_unless_allowed():
    """Catches: a guard that lets destructive tests touch a --target stack without the flag,
    or refuses the local stack / a --target given --allow-destructive."""
    assert refusal("local", True, False) is None
    assert refusal("copy.env", False, True) is None
    assert refusal("prod.env", False, False).startswith("refused: prod.env is not the local stack")


class FakeStack:
    def __init__(self):
        self.calls = []

    def sql(self, statement):
        self.calls.append(statement)
        if statement == "break":
            raise StackError("failed half-way")
        return True

    def stop(self, service):
        self.calls.append(f"stop {service}")

    def start(self, service):
        self.calls.append(f"start {service}")


def test_every_undo_runs_last_first_even_when_a_change_fails():
    """Catches: an undo registered after its change (a change failing half-way is never
    undone) or undos run in the wrong order."""
    stack = FakeStack()
    with pytest.raises(StackError, match="half-way"):
        with Changes.session(stack) as changes:
            changes.stop("redis")
            changes.sql("break", "undo break")
    assert stack.calls == ["stop redis", "break", "undo break", "start redis"]
    assert changes.touched == {"redis"}
