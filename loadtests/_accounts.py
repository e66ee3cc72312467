"""Signed-in accounts for the load users, made with suite.clients.Users in the run's own
namespace (load-<id>-<pid>-...@suite.example.test), shared round-robin, and deleted with their rows
when the process quits. LOAD_ACCOUNTS (default 20) accounts per generator process."""
from __future__ import annotations

import itertools
import logging
import os
import uuid

from gevent.lock import Semaphore
from locust import events

from suite.clients import Gateway, TestUser, Users

from ._settings import integer, target

log = logging.getLogger("loadtests.accounts")
COUNT = integer("LOAD_ACCOUNTS", 20, minimum=1)
RUN = f"load-{uuid.uuid4().hex[:8]}"
_lock = Semaphore()
_pool: list[TestUser] = []
_users: Users | None = None
_next = itertools.count()


def account() -> TestUser:
    """The next account, creating the pool on first use (creation costs a bcrypt each)."""
    global _users
    with _lock:
        if _users is None:  # per process: --processes forks after import, RUN is shared
            _users = Users(Gateway(target()), f"{RUN}-{os.getpid()}")
        if len(_pool) < COUNT:
            _pool.append(_users.create("api"))
            return _pool[-1]
    return _pool[next(_next) % len(_pool)]


@events.quitting.add_listener
def _cleanup(**_):
    if _users is None:
        return
    gw = _users.gateway
    for user in _pool:  # rows first: owner_id is no foreign key, deleting the user leaves them
        token = _users.sign_in(user.email, user.password)["access_token"]
        for table in ("notes", "messages"):
            gw.request("DELETE", f"/rest/v1/{table}?owner_id=eq.{user.id}", token=token)
    problems = _users.delete_all()
    if problems:
        log.error("could not delete load accounts: %s", problems)
