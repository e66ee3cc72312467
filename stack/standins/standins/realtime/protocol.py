"""Phoenix channel wire format (vsn 1.0.0 JSON objects) and raw WebSocket text frames.

Outgoing messages are encoded once; `ws_text_frame` turns the encoded JSON into a
complete unmasked server frame that can be written to many transports as-is.
"""
from __future__ import annotations

import struct
from typing import Any

from . import _json as orjson

PHOENIX = "phoenix"


class ProtocolError(ValueError):
    pass


def ws_text_frame(data: bytes) -> bytes:
    """A FIN text frame (server to client: unmasked)."""
    n = len(data)
    if n < 126:
        return bytes((0x81, n)) + data
    if n < 65536:
        return b"\x81\x7e" + struct.pack("!H", n) + data
    return b"\x81\x7f" + struct.pack("!Q", n) + data


def encode(topic: str, event: str, payload: Any, ref: Any = None, join_ref: Any = None) -> bytes:
    return orjson.dumps(
        {"topic": topic, "event": event, "payload": payload, "ref": ref, "join_ref": join_ref}
    )


def frame(topic: str, event: str, payload: Any, ref: Any = None, join_ref: Any = None) -> bytes:
    return ws_text_frame(encode(topic, event, payload, ref, join_ref))


def reply_frame(topic: str, ref: Any, status: str, response: Any, join_ref: Any = None) -> bytes:
    return frame(topic, "phx_reply", {"status": status, "response": response}, ref, join_ref)


def error_reply_frame(topic: str, ref: Any, reason: str, join_ref: Any = None) -> bytes:
    return reply_frame(topic, ref, "error", {"reason": reason}, join_ref)


def heartbeat_reply_frame(ref: Any) -> bytes:
    # The hottest path: no dict building, only the ref is encoded.
    return ws_text_frame(
        b'{"topic":"phoenix","event":"phx_reply","payload":{"status":"ok","response":{}},"ref":'
        + orjson.dumps(ref)
        + b',"join_ref":null}'
    )


def parse(data: str | bytes) -> tuple[str, str, dict, Any, Any]:
    """Decode one client message (vsn 1.0.0 object, or the 2.0.0 array form)."""
    try:
        msg = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise ProtocolError(f"invalid JSON: {exc}") from None
    if isinstance(msg, dict):
        topic, event = msg.get("topic"), msg.get("event")
        payload, ref, join_ref = msg.get("payload"), msg.get("ref"), msg.get("join_ref")
    elif isinstance(msg, list) and len(msg) == 5:
        join_ref, ref, topic, event, payload = msg
    else:
        raise ProtocolError("message must be an object with topic, event, payload, ref")
    if not isinstance(topic, str) or not isinstance(event, str):
        raise ProtocolError("topic and event must be strings")
    if payload is None:
        payload = {}
    if not isinstance(payload, dict):
        raise ProtocolError("payload must be an object")
    return topic, event, payload, ref, join_ref
