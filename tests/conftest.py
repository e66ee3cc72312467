"""Fixtures shared by the layers that talk to a stack (smoke, integration): two users of
the run's namespace and REST as each identity. Users are made through the auth admin API
and rows through REST, never as the database superuser."""
from __future__ import annotations

import pytest

from suite.checks import containers
from suite.rest import Rest


@pytest.fixture(scope="session")
def user_a(users):
    return users.create("a")


@pytest.fixture(scope="session")
def user_b(users):
    return users.create("b")


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


@pytest.fixture(scope="session")
def inspected(target, stack) -> list[dict]:
    """`docker inspect` of the target's containers, through the stack layer (their environment
    holds secrets: judges never print values); skips where the machine cannot be reached."""
    reason = containers.unreachable_reason(stack)
    if reason:
        pytest.skip(reason)
    return stack.inspect()
