"""Searches run by real workers on tiny images: the workers keep the search going, a killed
worker's trial resumes, and a pruner stops runs at the warm-up epoch."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import select

from db import searches as db_searches
from db.migrate import upgrade
from db.models import EpochMetric, RunStatus, SearchState, StopReason
from db.session import Database
from experiment.search_space import parse_search
from experiment.searches import create_search
from settings import Settings
from tests.databases import postgres_url_for_test, sqlite_url
from tests.trainer.test_crash import WorkerProcesses
from trainer.worker import WorkerOptions, run_worker

pytestmark = pytest.mark.slow

STARTUP_SECONDS = 120
SEARCH_SECONDS = 240


def _spec_document(dataset: Path, *, epochs: int = 1, **search: Any) -> dict[str, Any]:
    return {
        "name": "tiny",
        "dataset": str(dataset),
        "image_size": 106,  # report_cnn's smallest: the cheapest model to build and train
        "architecture": "report_cnn",
        "batch_size": 8,
        "epochs": epochs,
        "search": {"seed": 3, **search},
    }


def _create(database: Database, document: dict[str, Any]) -> int:
    with database.begin() as session:
        return create_search(session, parse_search(document)).search_id


def _trials(database: Database, search_id: int) -> list[db_searches.TrialRecord]:
    with database.read() as session:
        return db_searches.search_trials(session, search_id, "val_accuracy")


def _search_state(database: Database, search_id: int) -> SearchState:
    with database.read() as session:
        search = db_searches.get_search(session, search_id)
    assert search is not None
    return search.state


class Monitor(threading.Thread):
    """Reads the search's queued-or-running and total trial counts every 20 ms."""

    def __init__(self, database: Database, search_id: int) -> None:
        super().__init__(daemon=True)
        self.database = database
        self.search_id = search_id
        self.most_active = 0
        self.most_total = 0
        self.samples = 0
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.wait(0.02):
            with self.database.read() as session:
                progress = db_searches.search_progress(session, self.search_id)
            self.most_active = max(self.most_active, progress.active)
            self.most_total = max(self.most_total, progress.total)
            self.samples += 1

    def stop(self) -> None:
        self._halt.set()
        self.join(5)


def _wait_until_done(
    database: Database, search_id: int, workers: WorkerProcesses, timeout: float
) -> None:
    deadline = time.monotonic() + timeout
    while _search_state(database, search_id) is not SearchState.DONE:
        if time.monotonic() > deadline:
            trials = [(t.trial, t.status.value) for t in _trials(database, search_id)]
            pytest.fail(f"search not done after {timeout} s: {trials}\n{workers.logs()}")
        if all(process.poll() is not None for _, process in workers.started):
            pytest.fail(f"every worker exited before the search was done\n{workers.logs()}")
        time.sleep(0.2)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def search_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        url = sqlite_url(tmp_path)
        upgrade(Database(url).engine)
        yield url
        return
    with postgres_url_for_test() as url:
        upgrade(Database(url).engine)
        yield url


def test_three_workers_run_a_search_of_nine_three_at_a_time(
    search_database_url: str, tmp_path: Path, tiny_sample: Path
) -> None:
    """Budget 9, parallel 3, three workers: 9 trials end, never more than 3 queued or running,
    and no config is trained twice (a repeat reuses the earlier result)."""
    database = Database(search_database_url)
    # 12 configs for 9 trials: repeats are likely, so the dedup is exercised.
    space = {"optimizer": ["sgd", "adam", "adamax", "rmsprop"], "batch_size": [4, 8, 16]}
    search_id = _create(
        database, _spec_document(tiny_sample, budget=9, parallel=3, sampler="random", space=space)
    )
    monitor = Monitor(database, search_id)
    monitor.start()
    workers = WorkerProcesses(search_database_url, tmp_path)
    try:
        for name in ("a", "b", "c"):
            workers.start(name)
        _wait_until_done(database, search_id, workers, STARTUP_SECONDS + SEARCH_SECONDS)
        for _, process in workers.started:
            process.send_signal(signal.SIGTERM)
        assert [workers.exit_code(p, 60) for _, p in workers.started] == [0, 0, 0]
    finally:
        workers.kill_all()
        monitor.stop()
    trials = _trials(database, search_id)
    assert [t.trial for t in trials] == list(range(1, 10))
    assert all(t.status is RunStatus.SUCCEEDED for t in trials), workers.logs()
    trained = [t for t in trials if t.reused_from is None]
    assert len({t.config_hash for t in trained}) == len(trained)
    assert all(t.config_hash == _source(trials, t).config_hash for t in trials if t.reused_from)
    assert monitor.samples > 10 and monitor.most_active <= 3 and monitor.most_total <= 9
    with database.read() as session:
        workers_used = {
            w for t in trained for w in [_worker_of(session, t.run_id)] if w is not None
        }
    assert len(workers_used) >= 2  # the search really ran on several workers
    database.dispose()


def _source(
    trials: list[db_searches.TrialRecord], trial: db_searches.TrialRecord
) -> db_searches.TrialRecord:
    return next(t for t in trials if t.run_id == trial.reused_from)


def _worker_of(session: Any, run_id: int) -> str | None:
    from db.models import Run

    return session.scalar(select(Run.worker).where(Run.id == run_id))


def test_a_killed_workers_trial_resumes_and_the_search_finishes(
    sqlite_database_url: str, tmp_path: Path, tiny_sample: Path
) -> None:
    """SIGKILL mid-trial with no other worker alive: a new worker resumes that trial from its
    checkpoint (attempt 2, not a new trial) and finishes the search within its budget."""
    database = Database(sqlite_database_url)
    document = _spec_document(
        tiny_sample,
        epochs=6,
        budget=2,
        parallel=1,
        space={"optimizer": ["sgd", "adam"]},
        sampler="grid",
    )
    # Most of a second per epoch, and epochs reach the database through the worker's outbox a
    # moment after they end: six of them leave room for the kill to land mid-run.
    document["steps_per_epoch"] = 40
    search_id = _create(database, document)
    first_run = _trials(database, search_id)[0].run_id
    workers = WorkerProcesses(sqlite_database_url, tmp_path)
    try:
        first = workers.start("first")
        deadline = time.monotonic() + STARTUP_SECONDS
        while _epochs(database, first_run) == []:
            if time.monotonic() > deadline or first.poll() is not None:
                pytest.fail(f"no epoch committed\n{workers.logs()}")
            time.sleep(0.05)
        time.sleep(0.3)
        first.kill()
        first.wait(30)
        killed = _epochs(database, first_run)
        assert 1 <= len(killed) < 6
        second = workers.start("second", "--lease-seconds", "6")
        _wait_until_done(database, search_id, workers, SEARCH_SECONDS)
        second.send_signal(signal.SIGTERM)
        assert workers.exit_code(second, 60) == 0
    finally:
        workers.kill_all()
    trials = _trials(database, search_id)
    assert [(t.trial, t.status) for t in trials] == [
        (1, RunStatus.SUCCEEDED),
        (2, RunStatus.SUCCEEDED),
    ], workers.logs()
    assert (trials[0].run_id, trials[0].attempt) == (first_run, 2)
    resumed = _epochs(database, first_run)
    assert resumed == [(e, 1 if e <= len(killed) else 2) for e in range(1, 7)]
    database.dispose()


def _epochs(database: Database, run_id: int) -> list[tuple[int, int]]:
    with database.read() as session:
        rows = session.execute(
            select(EpochMetric.epoch, EpochMetric.attempt)
            .where(EpochMetric.run_id == run_id)
            .order_by(EpochMetric.epoch)
        ).all()
    return [(epoch, attempt) for epoch, attempt in rows]


def test_a_pruner_that_prunes_everything_stops_runs_at_the_warm_up_epoch(
    sqlite_database_url: str, tiny_sample: Path
) -> None:
    """Every run ends "pruned" at epoch 2 (the warm-up), with the reason, and no model."""
    database = Database(sqlite_database_url)
    document = _spec_document(
        tiny_sample,
        epochs=4,
        budget=2,
        parallel=1,
        space={"learning_rate": {"low": 0.001, "high": 0.01, "log": True}},
        pruner={"kind": "threshold", "lower": 2.0, "warmup_epochs": 2},
    )
    search_id = _create(database, document)
    settings = Settings(sqlite_database_url, tiny_sample, tiny_sample.parent)
    assert run_worker(settings, WorkerOptions(until_idle=True, name="pruning")) == 2
    trials = _trials(database, search_id)
    assert [(t.status, t.stop_reason, t.epochs_done) for t in trials] == [
        (RunStatus.PRUNED, StopReason.PRUNED, 2)
    ] * 2
    assert all(
        t.stop_detail is not None
        and t.stop_detail.startswith("pruned: val_accuracy ")
        and t.stop_detail.endswith("below the threshold 2 at epoch 2")
        for t in trials
    ), [t.stop_detail for t in trials]
    assert _search_state(database, search_id) is SearchState.DONE
    database.dispose()


def test_a_search_file_queues_through_the_cli(tmp_path: Path, sqlite_database_url: str) -> None:
    """`queue --dry-run` shows the first suggestions; `queue` creates the search."""
    from tests.trainer.test_cli import _cli

    path = tmp_path / "search.yaml"
    document = _spec_document(
        tmp_path,
        budget=4,
        parallel=2,
        space={"learning_rate": {"low": 0.001, "high": 0.1, "log": True}},
        objective={"metric": "val_top5", "direction": "maximize"},
    )
    path.write_text(yaml.safe_dump(document))
    dry = _cli("trainer", "queue", str(path), "--dry-run", url=sqlite_database_url)
    assert dry.returncode == 0, dry.stderr
    assert "trial 1: learning_rate=" in dry.stderr and "trial 2: learning_rate=" in dry.stderr
    assert "no run is known to record 'val_top5'" in dry.stderr
    queued = _cli("trainer", "queue", str(path), url=sqlite_database_url)
    assert queued.returncode == 0, queued.stderr
    assert len(queued.stdout.split()) == 2
    again = _cli("trainer", "queue", str(path), url=sqlite_database_url)
    assert again.returncode == 2 and "search extend tiny" in again.stderr
    extended = _cli("trainer", "search", "extend", "tiny", "--add", "2", url=sqlite_database_url)
    assert extended.returncode == 0 and "budget 4 -> 6" in extended.stderr
    cancelled = _cli("trainer", "cancel", "--study", "tiny", url=sqlite_database_url)
    assert cancelled.returncode == 0, cancelled.stderr
    assert "search tiny cancelled; 2 queued run(s) cancelled" in cancelled.stdout
    shown = _cli("trainer", "search", "show", "tiny", url=sqlite_database_url)
    assert shown.stdout.count("cancelled") >= 3
