"""Smoke fixtures: a small seeded world inside the run's own namespace (the two users and
REST as each identity come from tests/conftest.py).

Everything is created through the public API (the auth admin endpoint and REST with the
service key), never as the database superuser, and removed afterwards, so smoke is safe
on production.
"""
from __future__ import annotations

from dataclasses import dataclass

import pytest


@dataclass
class World:
    tag: str
    team_id: int
    note_a: int
    note_b: int
    team_doc: int
    published: int
    unpublished: int
    message_a: int


def _created(response, what):
    assert response.status_code == 201, f"seeding {what}: HTTP {response.status_code} {response.text[:300]}"
    return response.json()[0]["id"]


@pytest.fixture(scope="session")
def world(as_service, as_a, as_b, user_a, user_b, run_id):
    """A team with A as its only member, one note each, a team doc, a published and an
    unpublished announcement, and a message of A's. All carry the run's tag."""
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
        message_a=_created(as_a.insert("messages", {"room": tag, "body": f"{tag} hello"}), "message"),
    )
    yield w
    problems = []
    for path in (f"notes?body=like.{tag}*", f"team_docs?title=like.{tag}*",
                 f"announcements?title=eq.{tag}", f"messages?room=like.{tag}*", f"teams?id=eq.{team_id}"):
        r = as_service.delete(path)
        if r.status_code not in (200, 204):
            problems.append(f"DELETE {path}: HTTP {r.status_code}")
    assert not problems, f"could not remove the run's rows: {problems}"
