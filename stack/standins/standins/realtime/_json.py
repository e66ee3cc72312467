"""orjson when installed (the image has it); the standard library otherwise (unit tests)."""
from __future__ import annotations

try:
    import orjson as _o

    dumps = _o.dumps
    loads = _o.loads
    JSONDecodeError = _o.JSONDecodeError
    OPT_SORT_KEYS = _o.OPT_SORT_KEYS
except ImportError:  # pragma: no cover - exercised where orjson is absent
    import json as _j

    JSONDecodeError = ValueError
    OPT_SORT_KEYS = 1

    def dumps(obj, option: int = 0) -> bytes:
        return _j.dumps(obj, separators=(",", ":"), ensure_ascii=False,
                        sort_keys=bool(option & OPT_SORT_KEYS)).encode()

    def loads(data):
        return _j.loads(data)
