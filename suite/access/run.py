"""One access check of a target: observe (rolled back) and judge against its spec."""
from __future__ import annotations

from dataclasses import dataclass

from suite.checks import access

from .probe import observe
from .spec import Spec


@dataclass(frozen=True)
class Verdict:
    coverage: list[str]          # exposed relations without an entry, entries without a relation
    unreviewed: list[str]        # drafted entries not yet confirmed
    levels: list[str]            # expected vs seen, and fixtures that could not be made
    matrix: str                  # the readable report

    @property
    def problems(self) -> list[str]:
        return self.coverage + self.unreviewed + self.levels


def check(conn, spec: Spec, schemas: list[str], users: dict[str, str]) -> Verdict:
    """`conn`: the API's login role; `users`: {"self": id, "other": id} of two existing users
    (any two distinct uuids when no exposed table references auth.users)."""
    seen = observe(conn, spec, schemas, users)
    kinds = {name: rel.kind for name, rel in seen.relations.items()}
    return Verdict(coverage=access.check_coverage(spec, kinds, schemas),
                   unreviewed=access.check_reviewed(spec),
                   levels=seen.problems + access.check_levels(spec, seen.seen, kinds),
                   matrix=access.matrix(spec, seen.seen, kinds))
