"""The cheapest promise invariants, after every deploy: the database's durability settings,
replication slots and indexes, read in one query as the API login role (the rest of the
promises: tests/infra/test_promises.py; judges: suite/checks/promises.py)."""
import pytest

from suite.checks import promises
from suite.checks.promises_fetch import fetch_db_facts


@pytest.fixture(scope="module")
def facts(db):
    return fetch_db_facts(db)


@pytest.fixture(scope="module")
def declared(target):
    return promises.Promises.of(target)


@pytest.mark.parametrize("check", [promises.check_fsync, promises.check_full_page_writes,
                                   promises.check_synchronous_commit, promises.check_autovacuum],
                         ids=["fsync", "full_page_writes", "synchronous_commit", "autovacuum"])
def test_durability_setting(facts, declared, check):
    """Catches: fsync, full_page_writes or autovacuum off, synchronous_commit=off (commits
    acknowledged before they are durable; ALTER SYSTEM + reload leaves no trace in the files)."""
    problems = check(facts["settings"], declared)
    assert not problems, "\n".join(problems)


def test_no_inactive_slot_retaining_wal(facts, declared):
    """Catches: a replication slot nobody reads, holding WAL back until pg_wal fills the disk."""
    problems = promises.check_inactive_slots(facts["slots"], declared)
    assert not problems, "\n".join(problems)


def test_no_invalid_index(facts, declared):
    """Catches: an index left invalid by a failed CREATE INDEX CONCURRENTLY."""
    problems = promises.check_invalid_indexes(facts["invalid_indexes"], declared)
    assert not problems, "\n".join(problems)
