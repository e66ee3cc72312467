"""A test receiver (Compose profile `test`): records every POST it gets and can be told
to fail the next N requests on a path, so tests can read what was delivered.

  POST /<anything>         recorded; answered 503 while the path has failures left, else 200
  GET  /_sink/received     everything recorded: [{path, at, status, json|text}]
  POST /_sink/fail         {"path": "/platform", "count": 2, "contains": "abc"}: the next 2
                           requests there (whose body contains "abc", if given) fail
  POST /_sink/reset        forget everything recorded and every pending failure
  GET  /_sink/health
Push (ntfy) deliveries arrive on "/" with the topic in the JSON body.
"""
from __future__ import annotations

import json
import time

from aiohttp import web

received: list[dict] = []
fail_left: dict[str, list] = {}  # path -> [failures left, only bodies containing this text]


async def record(request: web.Request) -> web.Response:
    raw = await request.read()
    entry: dict = {"path": request.path, "at": time.time()}
    try:
        entry["json"] = json.loads(raw)
    except ValueError:
        entry["text"] = raw.decode(errors="replace")
    rule = fail_left.get(request.path)
    if rule and rule[0] > 0 and rule[1] in raw.decode(errors="replace"):
        rule[0] -= 1
        entry["status"] = 503
    else:
        entry["status"] = 200
    received.append(entry)
    return web.json_response({"recorded": True}, status=entry["status"])


async def get_received(_: web.Request) -> web.Response:
    return web.json_response(received)


async def fail(request: web.Request) -> web.Response:
    spec = await request.json()
    if not isinstance(spec, dict) or not str(spec.get("path", "")).startswith("/") or not isinstance(spec.get("count"), int):
        return web.json_response({"error": 'expected {"path": "/...", "count": N}'}, status=400)
    fail_left[spec["path"]] = [spec["count"], str(spec.get("contains", ""))]
    return web.json_response(fail_left)


async def reset(_: web.Request) -> web.Response:
    received.clear()
    fail_left.clear()
    return web.json_response({"reset": True})


async def health(_: web.Request) -> web.Response:
    return web.json_response({"status": "ok", "received": len(received)})


def main() -> None:
    app = web.Application()
    app.router.add_get("/_sink/received", get_received)
    app.router.add_post("/_sink/fail", fail)
    app.router.add_post("/_sink/reset", reset)
    app.router.add_get("/_sink/health", health)
    app.router.add_route("*", "/{tail:.*}", record)
    web.run_app(app, port=8080, access_log=None, print=None)


if __name__ == "__main__":
    main()
