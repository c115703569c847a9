"""Eight processes drain 200 runs: each runs once, and a broken claim is caught running twice."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from db import queue
from db.session import Database
from tests.db.claimers import Audit, Claim, ClaimerPool, audit, guarded_claim, racy_claim
from tests.db.factories import new_run

pytestmark = pytest.mark.slow

PROCESSES = 8
RUNS = 200
EPOCHS = 2
TIMEOUT_SECONDS = 180


@pytest.fixture(scope="module")
def claimers() -> Iterator[ClaimerPool]:
    """PROCESSES spawned claiming processes, shared by this module's tests."""
    pool = ClaimerPool(PROCESSES)
    try:
        yield pool
    finally:
        pool.close()


def _run_harness(database: Database, url: str, claimers: ClaimerPool, claim: Claim) -> Audit:
    """Queue RUNS runs, drain them with every claiming process at once, and audit the result."""
    with database.begin() as session:
        run_ids = queue.enqueue_many(session, [new_run(f"r{i}") for i in range(RUNS)])
    reports = claimers.run(url, claim, EPOCHS, TIMEOUT_SECONDS)
    return audit(database, reports, run_ids, EPOCHS)


def test_every_run_executes_exactly_once(
    database: Database, database_url: str, claimers: ClaimerPool
) -> None:
    """8 processes claim, record 2 epochs and finish 200 runs: once each, with no errors."""
    result = _run_harness(database, database_url, claimers, guarded_claim)
    assert result.errors == []  # in particular no "database is locked"
    assert result.claimed_twice == {}
    assert result.problems == []


def test_the_harness_catches_a_racy_claim(
    database: Database, database_url: str, claimers: ClaimerPool
) -> None:
    """The same harness with a SELECT-then-UPDATE claim sees some run executed twice."""
    result = _run_harness(database, database_url, claimers, racy_claim)
    assert result.claimed_twice, "a racy claim went unnoticed: the harness cannot fail"
    assert not result.ok
