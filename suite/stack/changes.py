"""Undoable changes to a stack: superuser SQL with its undo, a stopped service, and Compose
overrides applied in one recreate. Every change registers its undo before it is made, so
leaving `Stack.changes()` (normally or by an exception) restores the stack as found."""
from __future__ import annotations

import tempfile
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterator

import yaml

from .machine import StackError

if TYPE_CHECKING:
    from .core import Stack


class Changes:
    def __init__(self, stack: "Stack", undo: ExitStack, workdir: Path):
        self.stack, self._undo, self.workdir = stack, undo, workdir
        self.overrides: dict[str, dict] = {}
        self.touched: set[str] = set()  # Compose services stopped or recreated

    @classmethod
    @contextmanager
    def session(cls, stack: "Stack") -> Iterator["Changes"]:
        with tempfile.TemporaryDirectory(prefix="suite-changes-") as tmp, ExitStack() as undo:
            yield cls(stack, undo, Path(tmp))

    def query(self, statement: str):
        return self.stack.sql(statement)

    def require(self, statement: str, why: str) -> None:
        """Refuse the change when the stack is not in the state it and its undo assume."""
        if self.stack.sql(statement) is not True:
            raise StackError(f"precondition failed: {why}")

    def sql(self, do: str, undo: str) -> None:
        """`undo` must be safe to run even when `do` failed half-way (idempotent)."""
        self._undo.callback(self.stack.sql, undo)
        self.stack.sql(do)

    def change(self, do: Callable[[], object], undo: Callable[[], object]) -> None:
        """Any other change (a Redis CONFIG SET, a session held open): `undo` registered first,
        so it must be safe after a `do` that failed half-way."""
        self._undo.callback(undo)
        do()

    def stop(self, service: str) -> None:
        self.touched.add(service)
        self._undo.callback(self.stack.start, service)
        self.stack.stop(service)

    def recreate(self, services: list[str], overlay: Path | None = None, env: dict | None = None) -> None:
        self.touched.update(services)
        self._undo.callback(self.stack.recreate, services)  # back to the project's own config
        self.stack.recreate(services, overlay, env)

    def override(self, service: str, fragment: dict) -> None:
        """Compose override for `service`; all of them are applied in one recreate."""
        merged = self.overrides.setdefault(service, {})
        for key, value in fragment.items():
            if isinstance(value, dict):
                merged.setdefault(key, {}).update(value)
            else:
                merged.setdefault(key, []).extend(value)

    def apply_overrides(self) -> None:
        if self.overrides:
            path = self.workdir / "override.yaml"
            path.write_text(yaml.safe_dump({"services": self.overrides}, sort_keys=False))
            self.recreate(sorted(self.overrides), path)
