"""A claiming loop run in child processes by the concurrency tests (importable for spawn)."""

from __future__ import annotations

from multiprocessing.queues import Queue

from db import queue
from db.models import RunStatus, StopReason
from db.session import Database


def claim_until_empty(url: str, worker: str, results: Queue) -> None:
    """Claim and finish runs until the queue is empty; report every claimed id."""
    database = Database(url)
    claimed_ids: list[int] = []
    errors: list[str] = []
    while True:
        try:
            with database.begin() as session:
                claimed = queue.claim_next(session, worker)
            if claimed is None:
                break
            claimed_ids.append(claimed.id)
            with database.begin() as session:
                queue.finish_run(
                    session,
                    claimed.id,
                    claimed.attempt,
                    status=RunStatus.SUCCEEDED,
                    stop_reason=StopReason.COMPLETED,
                )
        except Exception as error:  # reported to the parent, which fails the test
            errors.append(f"{type(error).__name__}: {error}")
            break
    database.dispose()
    results.put((worker, claimed_ids, errors))
