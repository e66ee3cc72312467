"""Presence per topic: Phoenix.Presence shapes (`presence_state`, `presence_diff`)."""
from __future__ import annotations

import base64
import os
from typing import Any, Hashable


def new_ref() -> str:
    return base64.b64encode(os.urandom(12)).decode().rstrip("=")


class TopicPresence:
    """Who is tracked in one topic. Owners are connection-channel identities."""

    __slots__ = ("entries",)

    def __init__(self) -> None:
        # owner -> (key, meta)
        self.entries: dict[Hashable, tuple[str, dict]] = {}

    def __len__(self) -> int:
        return len(self.entries)

    def state(self) -> dict[str, dict[str, list]]:
        out: dict[str, dict[str, list]] = {}
        for key, meta in self.entries.values():
            out.setdefault(key, {"metas": []})["metas"].append(meta)
        return out

    def track(self, owner: Hashable, key: str, payload: Any) -> dict:
        """Track or update; returns the presence_diff payload to broadcast."""
        meta = dict(payload) if isinstance(payload, dict) else {}
        meta.pop("phx_ref", None)
        meta.pop("phx_ref_prev", None)
        meta["phx_ref"] = new_ref()
        leaves: dict[str, dict[str, list]] = {}
        old = self.entries.get(owner)
        if old is not None:
            old_key, old_meta = old
            meta["phx_ref_prev"] = old_meta["phx_ref"]
            leaves[old_key] = {"metas": [old_meta]}
        self.entries[owner] = (key, meta)
        return {"joins": {key: {"metas": [meta]}}, "leaves": leaves}

    def untrack(self, owner: Hashable) -> dict | None:
        old = self.entries.pop(owner, None)
        if old is None:
            return None
        key, meta = old
        return {"joins": {}, "leaves": {key: {"metas": [meta]}}}
