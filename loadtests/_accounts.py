"""Signed-in accounts for the load users, made with suite.clients.Users in the run's own
namespace (load-<id>-<pid>-...@suite.example.test), shared round-robin, and deleted with their rows
when the process quits. --accounts (LOAD_ACCOUNTS, default 20) accounts per generator process.

Each account is one _session.Session, refreshed before its JWT expires; users sharing an
account share its session, as a browser's tabs share one storage."""
from __future__ import annotations

import itertools
import logging
import os
import uuid

from gevent.lock import Semaphore
from locust import events

from suite.clients import Gateway, Users

from ._session import Session
from ._settings import S, target

log = logging.getLogger("loadtests.accounts")
RUN = f"load-{uuid.uuid4().hex[:8]}"
_lock = Semaphore()
_pool: list[Session] = []
_users: Users | None = None
_next = itertools.count()


def session() -> Session:
    """The next account's session, creating the pool on first use (creation costs a bcrypt each)."""
    global _users
    with _lock:
        if _users is None:  # per process: --processes forks after import, RUN is shared
            _users = Users(Gateway(target()), f"{RUN}-{os.getpid()}")
        if len(_pool) < S.accounts:
            _pool.append(Session(_users.create("api"), _users.gateway, events.request.fire))
            return _pool[-1]
    return _pool[next(_next) % len(_pool)]


@events.quitting.add_listener
def _cleanup(**_):
    if _users is None:
        return
    gw = _users.gateway
    for s in _pool:  # rows first: owner_id is no foreign key, deleting the user leaves them
        token = _users.sign_in(s.user.email, s.user.password)["access_token"]
        for table in ("notes", "messages"):
            gw.request("DELETE", f"/rest/v1/{table}?owner_id=eq.{s.user.id}", token=token)
    problems = _users.delete_all()
    if problems:
        log.error("could not delete load accounts: %s", problems)
