"""The user mix of a plain `locust -f loadtests/ -u N`: every class runs at any N from 10 up.

Each class declares `mix_parts` (its users per 10 of the run) and `mix_cap` (at most this
many, whatever N; or `mix_cap_setting`, the load setting that holds it, 0 leaving the class
out of the run): the API, auth, database and postgres-changes users are bounded request
and insert rates; WebSocketUser (`mix_bulk`) is the connection count and takes the rest.
At each test start the counts are set from the requested N as Locust `fixed_count`s (one
user at least each, the bulk class keeping one), so a class never takes the whole run.
Without the bulk class in the run, the parts become plain Locust weights. A class whose
weight or fixed count was edited in the web UI's class picker keeps the edited values."""
from __future__ import annotations

from ._settings import S

_ASSIGNED = "_mix_assigned"  # (fixed_count, weight) this module last gave a class


def plan(n: int, classes: list[type]) -> dict[str, tuple[int, int]]:
    """Class name -> (fixed_count, weight) for a run of `n` users; classes without
    `mix_parts` are left out (Locust's own settings apply)."""
    mixed = [c for c in classes if getattr(c, "mix_parts", 0)]
    bulk = [c for c in classes if getattr(c, "mix_bulk", False)]
    if not bulk:
        return {c.__name__: (0, c.mix_parts) for c in mixed}
    room = n - len(bulk)  # each bulk class keeps at least one user
    counts = {}
    for cls in sorted(mixed, key=lambda c: c.mix_parts):  # the scarcest first, when N is tiny
        count = max(0, min(max(1, round(n * cls.mix_parts / 10)), cap(cls), room))
        counts[cls.__name__] = count
        room -= count
    return {name: (count, 0 if count else 1) for name, count in counts.items()}


def cap(cls: type) -> int:
    setting = getattr(cls, "mix_cap_setting", None)
    return int(getattr(S, setting)) if setting else cls.mix_cap


def wanted(classes: list[type]) -> list[type]:
    """The classes a run keeps: a capped class whose cap is 0 is left out."""
    return [c for c in classes if not getattr(c, "mix_parts", 0) or cap(c) > 0]


def apply(n: int, classes: list[type]) -> dict[str, tuple[int, int]]:
    """Set the planned counts on the classes, leaving any the class picker edited."""
    wanted = plan(n, classes)
    for cls in classes:
        if cls.__name__ not in wanted:
            continue
        previous = cls.__dict__.get(_ASSIGNED)
        if previous is not None and previous != (cls.fixed_count, cls.weight):
            continue  # edited in the web UI since: the operator's choice wins
        # A zero count means "weighted" to Locust; a class planned out gets a weight of 1
        # only when nothing else can fill the run (plan() keeps that to tiny N).
        cls.fixed_count, cls.weight = wanted[cls.__name__]
        setattr(cls, _ASSIGNED, wanted[cls.__name__])
    return wanted


def describe(classes: list[type]) -> str:
    parts = [f"{c.__name__} {c.mix_parts}/10 (at most {cap(c)})" for c in classes if getattr(c, "mix_parts", 0)]
    bulk = [c.__name__ for c in classes if getattr(c, "mix_bulk", False)]
    return ", ".join(parts + [f"{name}: the rest" for name in bulk])
