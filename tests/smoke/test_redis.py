"""Redis: reachable with its password, refusing without it, and persisting to disk."""
import pytest
import redis

from suite.clients import TargetUnreachable, safe_url
from suite.thresholds import LIMITS


@pytest.fixture(scope="module")
def redis_url(target, require):
    require("redis")
    return target.url("redis")


def connect(url, **kw):
    return redis.Redis.from_url(url, socket_connect_timeout=LIMITS.http.connect_timeout_s,
                                socket_timeout=LIMITS.http.read_timeout_s, **kw)


@pytest.fixture(scope="module")
def client(redis_url):
    c = connect(redis_url)
    try:
        c.ping()
    except redis.ConnectionError as exc:
        raise TargetUnreachable("redis", safe_url(redis_url), "PING", exc) from None
    return c


def test_redis_answers_with_its_password(client):
    """Catches: Redis down, or its password out of sync with the stack's configuration."""
    assert client.ping() is True


def test_redis_refuses_clients_without_password(redis_url, client):
    """Catches: requirepass missing (anyone on the network can read and flush the cache)."""
    anonymous = connect(safe_url(redis_url))  # the same address, no credentials
    with pytest.raises(redis.AuthenticationError):
        anonymous.ping()


def test_redis_persistence_configured(client):
    """Catches: a cache that loses everything on restart (no AOF and no RDB snapshots)."""
    aof = client.config_get("appendonly").get("appendonly")
    save = client.config_get("save").get("save")
    assert aof == "yes" or save, f"appendonly={aof!r}, save={save!r}"
