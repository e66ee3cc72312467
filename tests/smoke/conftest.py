"""Smoke fixtures: a small seeded world inside the run's own namespace (the two users and
REST as each identity come from tests/conftest.py).

Everything is created through the public API (the auth admin endpoint and REST with the
service key), never as the database superuser, and removed afterwards, so smoke is safe
on production.
"""
from __future__ import annotations

from dataclasses import dataclass

import pytest


@pytest.fixture(scope="session", autouse=True)
def tls_scan(request, target, tmp_path_factory):
    """The TLS scan of the gateway (tests/smoke/test_tls.py), started in a background thread
    as the run begins so that it overlaps the other smoke tests; not started when no TLS
    test was selected."""
    if not any(item.path.name == "test_tls.py" for item in request.session.items):
        return None
    from suite.checks import tls
    from suite.thresholds import LIMITS
    return tls.start_scan(target, tmp_path_factory.mktemp("tls"), LIMITS.tls.scan_timeout_s)


@dataclass
class World:
    tag: str
    team_id: int
    note_a: int
    note_b: int
    team_doc: int
    published: int
    unpublished: int


def _created(response, what):
    assert response.status_code == 201, f"seeding {what}: HTTP {response.status_code} {response.text[:300]}"
    return response.json()[0]["id"]


EXAMPLE_TABLES = ("notes", "teams", "team_members", "team_docs", "announcements", "messages")


@pytest.fixture(scope="session")
def example_schema(target, as_service):
    """The bundled example schema (stack/db/init/93-app-schema.sql): always there on the local
    stack (missing is a failure); optional on a deployed target, whose own tables the access
    spec covers (test_access_spec.py)."""
    if target.is_local:
        return
    missing = [t for t in EXAMPLE_TABLES if as_service.select(f"{t}?select=*&limit=0").status_code == 404]
    if missing:
        pytest.skip(f"target {target.name} does not have the example schema (no {', '.join(missing)}): "
                    f"its REST round trips are skipped; the access spec checks the target's own tables")


@pytest.fixture(scope="session")
def world(example_schema, as_service, as_a, as_b, user_a, user_b, run_id):
    """A team with A as its only member, one note each, a team doc, a published and an
    unpublished announcement. All carry the run's tag (the realtime tests write messages
    under it too)."""
    tag = run_id
    team_id = _created(as_service.insert("teams", {"name": tag}), "team")
    r = as_service.insert("team_members", {"team_id": team_id, "user_id": user_a.id})
    assert r.status_code == 201, f"seeding team membership: HTTP {r.status_code} {r.text[:300]}"
    w = World(
        tag=tag,
        team_id=team_id,
        note_a=_created(as_a.insert("notes", {"body": f"{tag} note of A"}), "A's note"),
        note_b=_created(as_b.insert("notes", {"body": f"{tag} note of B"}), "B's note"),
        team_doc=_created(as_a.insert("team_docs", {"team_id": team_id, "title": tag}), "team doc"),
        published=_created(as_service.insert("announcements", {"title": tag, "published": True}), "announcement"),
        unpublished=_created(as_service.insert("announcements", {"title": tag, "published": False}), "draft"),
    )
    yield w
    problems = []
    for path in (f"notes?body=like.{tag}*", f"team_docs?title=like.{tag}*",
                 f"announcements?title=eq.{tag}", f"messages?room=like.{tag}*", f"teams?id=eq.{team_id}"):
        r = as_service.delete(path)
        if r.status_code not in (200, 204):
            problems.append(f"DELETE {path}: HTTP {r.status_code}")
    assert not problems, f"could not remove the run's rows: {problems}"
