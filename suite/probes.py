"""Raw HTTP probes of the gateway that a client library cannot make: a burst of requests
sent at the same instant (to see a rate limit answer), and a request that announces a body
larger than the limit without sending it (to see the 413 before any byte of it is read).
Both are bounded in count and time; both return only status codes."""
from __future__ import annotations

import asyncio
import socket
import ssl
import time
from urllib.parse import urlsplit

from .clients import TargetUnreachable


def _endpoint(base_url: str) -> tuple[str, int, ssl.SSLContext | None, str]:
    url = urlsplit(base_url)
    tls = url.scheme == "https"
    port = url.port or (443 if tls else 80)
    host_header = url.hostname + (f":{url.port}" if url.port else "")
    return url.hostname, port, ssl.create_default_context() if tls else None, host_header


def _request(method: str, path: str, host: str, headers: dict[str, str]) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}", "Connection: close",
             *(f"{k}: {v}" for k, v in headers.items()), "", ""]
    return "\r\n".join(lines).encode()


async def _one(addr, request: bytes, timeout: float) -> int | None:
    host, port, tls, _ = addr
    writer = None
    try:
        async with asyncio.timeout(timeout):  # connect, send and read together: burst's own bound holds
            reader, writer = await asyncio.open_connection(host, port, ssl=tls, server_hostname=host if tls else None)
            writer.write(request)
            await writer.drain()
            line = await reader.readline()
        parts = line.split()
        return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None
    except (OSError, TimeoutError, ValueError):
        return None
    finally:
        if writer is not None:
            writer.close()


def burst(base_url: str, path: str, headers: dict[str, str], count: int, timeout: float = 10) -> list[int]:
    """`count` GETs of `path`, each on its own connection, all started at once; their
    statuses (connections that failed are left out). Raises TargetUnreachable when none answered."""
    addr = _endpoint(base_url)
    request = _request("GET", path, addr[3], headers)

    async def run() -> list[int | None]:
        return await asyncio.gather(*(_one(addr, request, timeout) for _ in range(count)))
    started = time.monotonic()
    statuses = [s for s in asyncio.run(asyncio.wait_for(run(), timeout + 5)) if s is not None]
    if not statuses:
        raise TargetUnreachable("gateway", base_url, f"a burst of {count} GET {path}",
                                f"no answer within {time.monotonic() - started:.1f} s")
    return statuses


def announced_body(base_url: str, path: str, headers: dict[str, str], size: int, wait_s: float = 3) -> int | None:
    """POST `path` announcing `Content-Length: size` and sending no body: the status the
    gateway answers within `wait_s`, or None when it waits for the body instead."""
    host, port, tls, host_header = _endpoint(base_url)
    request = _request("POST", path, host_header, {**headers, "Content-Type": "application/json",
                                                   "Content-Length": str(size)})
    try:
        sock = socket.create_connection((host, port), timeout=wait_s)
    except OSError as exc:
        raise TargetUnreachable("gateway", base_url, f"POST {path} announcing {size} bytes", type(exc).__name__) from None
    with sock:
        conn = tls.wrap_socket(sock, server_hostname=host) if tls else sock
        conn.sendall(request)
        try:
            line = conn.makefile("rb").readline()
        except (socket.timeout, OSError):
            return None
    parts = line.split()
    return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None
