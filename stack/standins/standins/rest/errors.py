"""PostgREST-shaped errors and the SQLSTATE -> HTTP status mapping (PostgREST v12-v14)."""
from __future__ import annotations

import json


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, details=None, hint=None, headers: dict | None = None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details
        self.hint = hint
        self.headers = dict(headers or {})

    def body(self) -> bytes:
        return json.dumps({"code": self.code, "details": self.details, "hint": self.hint, "message": self.message},
                          separators=(",", ":"), ensure_ascii=False).encode()

    def all_headers(self) -> dict:
        return {"Content-Type": "application/json; charset=utf-8",
                "Proxy-Status": f"PostgREST; error={self.code}", **self.headers}


def query_param_error(message: str, details: str | None = None) -> ApiError:
    return ApiError(400, "PGRST100", message, details)


def pg_status(sqlstate: str | None, message: str, authed: bool) -> int:
    """HTTP status for a PostgreSQL error, as PostgREST maps it (mapSQLtoHTTP)."""
    c = sqlstate or ""
    p2 = c[:2]
    if p2 == "08":
        return 503
    if p2 == "09":
        return 500
    if p2 in ("0L", "0P"):
        return 403
    if c in ("23503", "23505"):
        return 409
    if c == "25006":
        return 405
    if c == "21000":
        return 400 if message.endswith("requires a WHERE clause") else 500
    if c == "22023":
        return 401 if message.startswith("role") and message.endswith("does not exist") else 400
    if p2 in ("25", "2D", "38", "39", "3B", "40"):
        return 500
    if p2 == "28":
        return 403
    if c == "53400":
        return 500
    if p2 == "53":
        return 503
    if p2 in ("54", "55"):
        return 500
    if c == "57P01":
        return 503
    if p2 in ("57", "58", "F0", "HV", "XX"):
        return 500
    if c == "P0001":
        return 400
    if p2 == "P0":
        return 500
    if c == "42883":
        return 406 if message.startswith("function xmlagg(") else 404
    if c == "42P01":
        return 404
    if c == "42P17":
        return 500
    if c == "42501":
        return 403 if authed else 401
    if c.startswith("PT") and c[2:].isdigit():
        return int(c[2:])
    return 400


def from_pg(sqlstate: str | None, message: str, details, hint, authed: bool) -> ApiError:
    status = pg_status(sqlstate, message, authed)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else {}
    if sqlstate == "PGRST":  # RAISE SQLSTATE 'PGRST' with JSON message/detail (full response control)
        try:
            m = json.loads(message)
            d = json.loads(details) if details else {}
            status = int(d.get("status", 400))
            headers = {str(k): str(v) for k, v in (d.get("headers") or {}).items()}
            return ApiError(status, m["code"], m["message"], m.get("details"), m.get("hint"), headers)
        except Exception:
            return ApiError(500, "PGRST121", 'Could not parse JSON in the "RAISE SQLSTATE \'PGRST\'" error')
    return ApiError(status, sqlstate or "PGRSTX00", message, details, hint, headers)
