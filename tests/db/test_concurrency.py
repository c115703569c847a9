"""Several processes claiming at once: every run is claimed exactly once."""

from __future__ import annotations

import multiprocessing
from collections import Counter

from sqlalchemy import select

from db import queue
from db.models import Run
from db.session import Database
from tests.db.claimers import claim_until_empty
from tests.db.factories import new_run

PROCESSES = 4
RUNS = 120


def test_concurrent_claimers_run_each_job_once(database: Database, database_url: str) -> None:
    """4 processes draining 120 runs claim each exactly once, with no lock errors."""
    with database.begin() as session:
        queue.enqueue_many(session, [new_run(f"r{i}") for i in range(RUNS)])
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    workers = [
        context.Process(target=claim_until_empty, args=(database_url, f"w{i}", results))
        for i in range(PROCESSES)
    ]
    for process in workers:
        process.start()
    reports = [results.get(timeout=120) for _ in workers]
    for process in workers:
        process.join(timeout=30)
    errors = [error for _, _, errs in reports for error in errs]
    assert errors == []
    claims = Counter(run_id for _, ids, _ in reports for run_id in ids)
    assert len(claims) == RUNS
    assert set(claims.values()) == {1}
    with database.read() as session:
        attempts = session.scalars(select(Run.attempt)).all()
    assert set(attempts) == {1}
