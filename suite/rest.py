"""REST (PostgREST) through the gateway as one identity, for tests that seed and clean rows."""
from __future__ import annotations

from .clients import Gateway


class Rest:
    """REST through the gateway as a given identity (the apikey is always the anon key,
    as supabase-js sends it; the Bearer token decides the database role)."""

    def __init__(self, gateway: Gateway, token: str | None):
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
