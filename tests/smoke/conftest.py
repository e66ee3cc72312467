"""Smoke fixtures: two users and a small seeded world inside the run's own namespace.

Everything is created through the public API (the auth admin endpoint and REST with the
service key), never as the database superuser, and removed afterwards, so smoke is safe
on production.
"""
from __future__ import annotations

from dataclasses import dataclass

import pytest

@pytest.fixture(scope="session")
def user_a(users):
    return users.create("a")


@pytest.fixture(scope="session")
def user_b(users):
    return users.create("b")


class Rest:
    """REST through the gateway as a given identity (the apikey is always the anon key,
    as supabase-js sends it; the Bearer token decides the database role)."""

    def __init__(self, gateway, token: str | None):
        self.gateway, self.token = gateway, token

    def _call(self, method, path, **kw):
        return self.gateway.request(method, "/rest/v1/" + path, token=self.token, **kw)

    def select(self, path):
        return self._call("GET", path)

    def insert(self, table, row):
        return self._call("POST", table, json=row, headers={"Prefer": "return=representation"})

    def update(self, path, values):
        return self._call("PATCH", path, json=values, headers={"Prefer": "return=representation"})

    def delete(self, path):
        return self._call("DELETE", path, headers={"Prefer": "return=representation"})


@pytest.fixture(scope="session")
def as_anon(gateway):
    return Rest(gateway, None)


@pytest.fixture(scope="session")
def as_service(gateway, target):
    return Rest(gateway, target.service_key)


@pytest.fixture(scope="session")
def as_a(gateway, user_a):
    return Rest(gateway, user_a.access_token)


@pytest.fixture(scope="session")
def as_b(gateway, user_b):
    return Rest(gateway, user_b.access_token)


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
