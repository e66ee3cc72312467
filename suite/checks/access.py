"""Access policy as code: the live access check judged against the operator's spec.

Pure judges of the facts suite/access/probe.py observes (one rolled-back transaction):
- `check_coverage`: every table and view of the exposed schemas has a spec entry, and every
  entry names a relation that exists;
- `check_reviewed`: drafted entries (`reviewed: false`) fail until the operator confirms them;
- `check_levels`: per table, identity and operation, the level seen (all / own / none) is
  the level the spec expects;
- `matrix`: the readable report (rows tables, columns identity x operation).
"""
from __future__ import annotations

from suite.access.spec import IDENTITIES, OPERATIONS, Spec

# what a probe did to the signed-in user's row and to another user's row
VERBS = {"select": ("visible", "hidden"), "insert": ("accepted", "refused"),
         "update": ("updated", "untouched"), "delete": ("deleted", "untouched")}
SEEN_LEVEL = {(True, True): "all", (True, False): "own", (False, False): "none", (False, True): "others' only"}


def level(outcome: tuple) -> str:
    """(own row touched, other user's row touched) -> all / own / none, or the error seen."""
    errors = [o for o in outcome if isinstance(o, str)]
    return errors[0] if errors else SEEN_LEVEL[tuple(outcome)]


def _agrees(expected: str, got: str, kind: str | None) -> bool:
    """A view's probe only tells whether it is readable, so `own` is met by a readable view."""
    return got == expected or (kind != "table" and expected == "own" and got == "all")


def _detail(op: str, outcome: tuple) -> str:
    yes, no = VERBS[op]
    own, other = (yes if o is True else no for o in outcome)
    return f"the user's own row {own}, another user's row {other}"


def check_coverage(spec: Spec, exposed: dict[str, str], schemas: list[str]) -> list[str]:
    """`exposed`: schema.name -> kind ("table", "view", ...) of the exposed schemas."""
    problems = [f"{kind} {name} is exposed (schema {name.split('.')[0]}) but has no entry in the access spec "
                f"{spec.path}: add one (`make access-spec` drafts it)"
                for name, kind in sorted(exposed.items()) if name not in spec.tables]
    problems += [f"access spec {spec.path}: {name} does not exist in the exposed schemas {', '.join(schemas)} "
                 f"(renamed or dropped? remove or fix the entry)"
                 for name in sorted(spec.tables) if name not in exposed]
    return problems


def check_reviewed(spec: Spec) -> list[str]:
    return [f"{name}: spec entry not reviewed (`reviewed: false`, drafted from the live policies): "
            f"confirm or correct it, then remove the flag" for name, t in spec.tables.items() if not t.reviewed]


def check_levels(spec: Spec, seen: dict, kinds: dict[str, str]) -> list[str]:
    """`seen[table][identity][operation]`: (own row, other user's row) from the probe."""
    problems = []
    for name, observed in seen.items():
        table = spec.tables[name]
        ops = OPERATIONS if kinds.get(name) == "table" else ("select",)
        for identity in IDENTITIES:
            for op in ops:
                expected, outcome = table.levels[identity][op], observed[identity][op]
                got = level(outcome)
                if _agrees(expected, got, kinds.get(name)):
                    continue
                why = got if got.startswith("error") else f"{got} ({_detail(op, outcome)})"
                problems.append(f"{name}: {identity} {op}: expected {expected}, seen {why}")
        problems += _column_problems(name, table.columns, observed)
    return problems


def _column_problems(name: str, declared: dict, observed: dict) -> list[str]:
    problems = []
    for identity, expected in declared.items():
        got = tuple(observed[identity].get("columns", ()))
        if got != tuple(expected):
            extra, missing = sorted(set(got) - set(expected)), sorted(set(expected) - set(got))
            problems.append(f"{name}: {identity} update columns: expected {list(expected)}, seen {list(got)} "
                            f"(also writable: {extra}; not writable: {missing})")
    return problems


def matrix(spec: Spec, seen: dict, kinds: dict[str, str]) -> str:
    """Rows tables, columns identity x operation; each cell `expected/seen ✔|✘`."""
    columns = [(i, op) for i in IDENTITIES for op in OPERATIONS]
    header = ["table"] + [f"{i[:4]}.{op[:3]}" for i, op in columns]
    rows = []
    for name in sorted(seen):
        cells = [name]
        for identity, op in columns:
            if kinds.get(name) != "table" and op != "select":
                cells.append("-")
                continue
            expected, got = spec.tables[name].levels[identity][op], level(seen[name][identity][op])
            got = "error" if got.startswith("error") else got
            mark = "✔" if _agrees(expected, got, kinds.get(name)) else "✘"
            cells.append(f"{expected}/{got} {mark}")
        rows.append(cells)
    widths = [max(len(r[k]) for r in [header, *rows]) for k in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in [header, *rows]]
    legend = ("cells: expected/seen ✔|✘ (levels all, own, none); columns: anon, authenticated (a signed-in "
              "user, against its own row and another user's), service_role")
    return "\n".join([legend, *lines])
