"""Workers that die, are stopped or cancelled mid-run, and zombies that outlive their lease.

The slow tests run real `python -m trainer worker` processes on a SQLite file and kill them
(SIGKILL, SIGTERM); the others stand in for a dead worker by back-dating its heartbeat in SQL
instead of waiting for its lease to run out, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import dataclasses
import signal
import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from db import queue
from db.artifacts import artifact_kinds, load_artifact, save_artifact
from db.entities import (
    ClaimedRun,
    EpochRecord,
    NewRun,
    PredictionRecord,
    TrainingPhase,
)
from db.metrics import load_curves
from db.migrate import upgrade
from db.models import (
    ArtifactKind,
    AttemptOutcome,
    Run,
    RunStatus,
    StopReason,
)
from db.runs import list_runs
from db.session import Database
from experiment.config import parse_config
from tests.databases import postgres_url_for_test, sqlite_url
from tests.trainer.processes import POLL_SECONDS, RunState, WorkerProcesses
from tests.trainer.processes import run_state as _state
from tests.trainer.processes import wait_for as _wait_for
from trainer.reporting import RunReporter

LEASE = timedelta(seconds=60)
# Steps per epoch that make an epoch of the tiny sample last most of a second on this 2-core box,
# so a signal sent just after an epoch's commit lands in the middle of the next one.
SLOW_EPOCH_STEPS = 40
CRASH_EPOCHS = 5
MID_EPOCH_SECONDS = 0.3
STARTUP_SECONDS = 120  # TensorFlow's import, the first epoch's tracing, on a busy 2-core box
RUN_SECONDS = 180


# --- databases -------------------------------------------------------------------------------


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """A migrated, empty database of each kind (the fence must hold on both)."""
    if request.param == "sqlite":
        db = Database(sqlite_url(tmp_path))
        upgrade(db.engine)
        yield db
        db.dispose()
        return
    with postgres_url_for_test() as url:
        db = Database(url)
        upgrade(db.engine)
        yield db
        db.dispose()


@pytest.fixture
def sqlite_database(sqlite_database_url: str) -> Iterator[Database]:
    db = Database(sqlite_database_url)
    yield db
    db.dispose()


def _new_run(dataset: str = "var/data/weather-sample", **fields: object) -> NewRun:
    config = {"name": "crash", "dataset": dataset, "image_size": 106, "batch_size": 8, **fields}
    return parse_config(config).to_new_run()


def _enqueue(database: Database, new: NewRun) -> int:
    with database.begin() as session:
        return queue.enqueue(session, new)


def _claim(database: Database, worker: str) -> ClaimedRun:
    with database.begin() as session:
        claimed = queue.claim_next(session, worker)
    assert claimed is not None
    return claimed


def _expire_lease(database: Database, run_id: int) -> tuple[list[int], list[int]]:
    """Back-date the run's heartbeat past the lease, then let `requeue_lost` find it."""
    with database.begin() as session:
        beat = session.scalar(select(Run.heartbeat_at).where(Run.id == run_id))
        assert beat is not None
        stale = beat - LEASE - timedelta(seconds=30)
        session.execute(update(Run).where(Run.id == run_id).values(heartbeat_at=stale))
    with database.begin() as session:
        return queue.requeue_lost(session, LEASE)


# --- max_attempts and zombies: back-dated heartbeats, no subprocess --------------------------


def test_a_run_whose_worker_always_dies_fails_as_worker_lost(database: Database) -> None:
    """With max_attempts 2, a second expired lease fails the run as "worker lost", for good."""
    run_id = _enqueue(database, dataclasses.replace(_new_run(), max_attempts=2))
    expected = {1: ([run_id], []), 2: ([], [run_id])}
    for attempt in (1, 2):
        claimed = _claim(database, f"doomed-{attempt}")
        assert (claimed.id, claimed.attempt) == (run_id, attempt)
        assert _expire_lease(database, run_id) == expected[attempt]
    state = _state(database, run_id)
    assert state.run.status is RunStatus.FAILED
    # Not StopReason.FAILED with a traceback: that is what a run that raised looks like.
    assert state.run.stop_reason is StopReason.WORKER_LOST
    assert state.run.error == "worker lost"
    assert [(a, o) for a, _, o in state.attempts] == [
        (1, AttemptOutcome.LOST),
        (2, AttemptOutcome.LOST),
    ]
    with database.begin() as session:
        assert queue.claim_next(session, "late") is None


def _zombie_save_artifact(reporter: RunReporter) -> bool:
    with reporter.database.begin() as session:
        return save_artifact(
            session, reporter.run_id, reporter.attempt, ArtifactKind.CHECKPOINT, b"stale"
        )


def _zombie_release(reporter: RunReporter) -> bool:
    with reporter.database.begin() as session:
        return queue.release_run(session, reporter.run_id, reporter.attempt)


def _zombie_commit_epoch(reporter: RunReporter) -> bool:
    return reporter.commit_epoch(EpochRecord(epoch=2, loss=9.0), b"stale checkpoint")


def _zombie_finish(reporter: RunReporter) -> bool:
    return reporter.finish(RunStatus.FAILED, StopReason.FAILED, "zombie", "zombie error")


def _zombie_reset_progress(reporter: RunReporter) -> bool:
    return reporter.reset_progress()


def _zombie_set_info(reporter: RunReporter) -> bool:
    return reporter.set_info(class_names=["a", "b"], warnings=["from a zombie"])


def _zombie_save_evaluation(reporter: RunReporter) -> bool:
    verdict = PredictionRecord(reporter.run_id, 0, "x.jpg", 0, 1, 0.9, (0.1, 0.9))
    return reporter.save_evaluation({"accuracy": 0.0}, [verdict], [None])


def _zombie_record_phase(reporter: RunReporter) -> bool:
    return reporter.record_phase(TrainingPhase(2, "fine_tune", 10, 10, 1e-5, unfrozen_layers=1))


ZOMBIE_WRITES: dict[str, Callable[[RunReporter], bool]] = {
    "save_artifact": _zombie_save_artifact,
    "release_run": _zombie_release,
    "commit_epoch": _zombie_commit_epoch,
    "finish": _zombie_finish,
    "reset_progress": _zombie_reset_progress,
    "set_info": _zombie_set_info,
    "save_evaluation": _zombie_save_evaluation,
    "record_phase": _zombie_record_phase,
}


@pytest.mark.parametrize("write", ZOMBIE_WRITES.values(), ids=ZOMBIE_WRITES.keys())
def test_a_zombie_writes_nothing_after_a_takeover(
    database: Database, write: Callable[[RunReporter], bool]
) -> None:
    """A worker whose lease was taken over is refused and leaves the new holder's run intact."""
    run_id = _enqueue(database, _new_run())
    zombie = RunReporter(database, run_id, _claim(database, "zombie").attempt)
    assert _expire_lease(database, run_id) == ([run_id], [])
    holder = RunReporter(database, run_id, _claim(database, "holder").attempt)
    assert holder.commit_epoch(EpochRecord(epoch=1, loss=1.0), b"holder checkpoint")
    before = _state(database, run_id)
    assert write(zombie) is False
    assert _state(database, run_id) == before
    assert before.run.status is RunStatus.RUNNING and before.run.worker == "holder"
    assert before.attempts == [
        (1, "zombie", AttemptOutcome.LOST),
        (2, "holder", AttemptOutcome.RUNNING),
    ]


def test_a_zombie_cannot_write_to_its_requeued_run(database: Database) -> None:
    """Between the requeue and the next claim, the lost worker's epoch commit is refused too."""
    run_id = _enqueue(database, _new_run())
    zombie = RunReporter(database, run_id, _claim(database, "zombie").attempt)
    assert _expire_lease(database, run_id) == ([run_id], [])
    assert not zombie.commit_epoch(EpochRecord(epoch=1, loss=1.0), b"stale checkpoint")
    assert not zombie.heartbeat().held
    state = _state(database, run_id)
    assert state.run.status is RunStatus.QUEUED
    assert (state.epochs, state.artifacts) == ([], {})


def test_a_lost_run_that_was_cancelled_ends_cancelled(database: Database) -> None:
    """A run cancelled while its worker was already dead ends cancelled, not back in the queue."""
    run_id = _enqueue(database, _new_run())
    _claim(database, "dead")
    with database.begin() as session:
        assert queue.cancel_run(session, run_id) is RunStatus.RUNNING
    _expire_lease(database, run_id)
    assert _state(database, run_id).run.status is RunStatus.CANCELLED
    with database.begin() as session:
        assert queue.claim_next(session, "next") is None


# --- real worker processes -------------------------------------------------------------------


@pytest.fixture
def workers(sqlite_database_url: str, tmp_path: Path) -> Iterator[WorkerProcesses]:
    processes = WorkerProcesses(sqlite_database_url, tmp_path)
    try:
        yield processes
    finally:
        processes.kill_all()


def _has_an_epoch(state: RunState) -> bool:
    return state.committed >= 1


def _resumed_epochs(first_attempt: int, total: int) -> list[tuple[int, int]]:
    """Epochs 1..first_attempt written by attempt 1, the rest by attempt 2."""
    return [(epoch, 1 if epoch <= first_attempt else 2) for epoch in range(1, total + 1)]


def _finished_by_a_second_worker(
    database: Database, run_id: int, workers: WorkerProcesses
) -> RunState:
    """A worker "second" (a short lease, so it takes the lost run over soon) trains the run to
    its end, succeeds, and exits 0 on SIGTERM."""
    second = workers.start("second", "--lease-seconds", "6")
    done = _wait_for(
        database,
        run_id,
        lambda state: state.run.status.is_final,
        "final status",
        workers,
        second,
        RUN_SECONDS,
    )
    second.send_signal(signal.SIGTERM)
    assert workers.exit_code(second, 30) == 0
    assert done.run.status is RunStatus.SUCCEEDED, workers.logs()
    return done


@pytest.mark.slow
def test_a_killed_workers_run_resumes_on_another_worker(
    workers: WorkerProcesses, sqlite_database: Database, tiny_sample: Path
) -> None:
    """SIGKILLed mid-run, a run is requeued by a short-lease worker and resumes from its epoch."""
    new = _new_run(str(tiny_sample), epochs=CRASH_EPOCHS, steps_per_epoch=SLOW_EPOCH_STEPS)
    run_id = _enqueue(sqlite_database, new)
    first = workers.start("first")
    _wait_for(sqlite_database, run_id, _has_an_epoch, "epoch", workers, first, STARTUP_SECONDS)
    time.sleep(MID_EPOCH_SECONDS)
    first.kill()
    first.wait(timeout=30)
    killed = _state(sqlite_database, run_id)
    assert killed.run.status is RunStatus.RUNNING and 1 <= killed.committed < CRASH_EPOCHS, killed

    done = _finished_by_a_second_worker(sqlite_database, run_id, workers)
    assert done.run.attempt == 2
    assert done.epochs == _resumed_epochs(killed.committed, CRASH_EPOCHS)
    assert done.attempts == [
        (1, "first", AttemptOutcome.LOST),
        (2, "second", AttemptOutcome.SUCCEEDED),
    ]


@pytest.mark.slow
def test_sigterm_hands_the_run_back_and_another_worker_resumes_it(
    workers: WorkerProcesses, sqlite_database: Database, tiny_sample: Path
) -> None:
    """SIGTERM mid-epoch: exit 0 soon, run queued with its epochs; the next worker finishes it."""
    new = _new_run(str(tiny_sample), epochs=CRASH_EPOCHS, steps_per_epoch=SLOW_EPOCH_STEPS)
    run_id = _enqueue(sqlite_database, new)
    first = workers.start("first")
    _wait_for(sqlite_database, run_id, _has_an_epoch, "epoch", workers, first, STARTUP_SECONDS)
    time.sleep(MID_EPOCH_SECONDS)
    first.send_signal(signal.SIGTERM)
    assert workers.exit_code(first, 30) == 0
    handed = _state(sqlite_database, run_id)
    assert handed.run.status is RunStatus.QUEUED, workers.logs()
    assert 1 <= handed.committed < CRASH_EPOCHS
    assert handed.epochs == [(epoch, 1) for epoch in range(1, handed.committed + 1)]
    assert handed.attempts == [(1, "first", AttemptOutcome.HANDED_BACK)]
    assert set(handed.artifacts) == {"checkpoint"}

    second = workers.start("second", "--until-idle")
    assert workers.exit_code(second, RUN_SECONDS) == 0
    done = _state(sqlite_database, run_id)
    assert done.run.status is RunStatus.SUCCEEDED and done.run.attempt == 2, workers.logs()
    assert done.epochs == _resumed_epochs(handed.committed, CRASH_EPOCHS)
    assert done.attempts == [
        (1, "first", AttemptOutcome.HANDED_BACK),
        (2, "second", AttemptOutcome.SUCCEEDED),
    ]


@pytest.mark.slow
def test_cancelling_a_running_run_stops_its_worker(
    workers: WorkerProcesses, sqlite_database: Database, tiny_sample: Path
) -> None:
    """A run cancelled mid-training ends cancelled within seconds, curves kept, nothing stored."""
    run_id = _enqueue(sqlite_database, _new_run(str(tiny_sample), epochs=50, steps_per_epoch=20))
    worker = workers.start("only", "--until-idle")
    _wait_for(sqlite_database, run_id, _has_an_epoch, "epoch", workers, worker, STARTUP_SECONDS)
    with sqlite_database.begin() as session:
        assert queue.cancel_run(session, run_id) is RunStatus.RUNNING
    # The worker asks the database every 2 s during training: allow for that plus a busy box.
    _wait_for(
        sqlite_database,
        run_id,
        lambda state: state.run.status is RunStatus.CANCELLED,
        "cancellation",
        workers,
        worker,
        15,
    )
    assert workers.exit_code(worker, 30) == 0
    done = _state(sqlite_database, run_id)
    assert done.run.stop_reason is StopReason.CANCELLED
    assert 1 <= done.committed < 50
    assert done.epochs == [(epoch, 1) for epoch in range(1, done.committed + 1)]
    assert done.run.epochs_done == done.committed
    assert done.artifacts == {}  # no model, and the checkpoint is gone with the run


class SnapshotReader(threading.Thread):
    """Reads the dashboard's queries every 50 ms and checks each snapshot's invariants."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.database = Database(url)
        self.halt = threading.Event()
        self.snapshots = 0
        self.epochs_seen: list[int] = []
        self.errors: list[str] = []
        self.inconsistent: list[str] = []

    def run(self) -> None:
        try:
            while not self.halt.wait(POLL_SECONDS):
                try:
                    self._check_one_snapshot()
                except Exception as error:
                    self.errors.append(f"{type(error).__name__}: {error}"[:300])
        finally:
            self.database.dispose()

    def _check_one_snapshot(self) -> None:
        with self.database.read() as session:
            runs = list_runs(session)
            ids = [run.id for run in runs]
            curves = load_curves(session, ids)
            kinds = artifact_kinds(session, ids)
        self.snapshots += 1
        for run in runs:
            epochs = [c.epoch for c in curves if c.run_id == run.id]
            if epochs != list(range(1, run.epochs_done + 1)):
                self.inconsistent.append(f"epochs_done {run.epochs_done}, rows {epochs}")
            if run.status is RunStatus.SUCCEEDED and "model" not in kinds[run.id]:
                self.inconsistent.append("succeeded without a stored model")
            if self.epochs_seen and run.epochs_done < self.epochs_seen[-1]:
                self.inconsistent.append(f"epochs_done went back to {run.epochs_done}")
            self.epochs_seen.append(run.epochs_done)


@pytest.mark.slow
def test_dashboard_reads_during_training_see_consistent_snapshots(
    workers: WorkerProcesses, sqlite_database: Database, tiny_sample: Path
) -> None:
    """Reads every 50 ms while a worker trains: no errors, epochs_done always matches the rows."""
    run_id = _enqueue(sqlite_database, _new_run(str(tiny_sample), epochs=6, steps_per_epoch=10))
    reader = SnapshotReader(workers.url)
    worker = workers.start("only", "--until-idle")
    reader.start()
    try:
        assert workers.exit_code(worker, RUN_SECONDS) == 0
    finally:
        reader.halt.set()
        reader.join(timeout=30)
    assert reader.errors == []
    assert reader.inconsistent == []
    # The reads really interleaved with the epochs' writes, not just before and after them.
    assert len(set(reader.epochs_seen)) >= 3, sorted(set(reader.epochs_seen))
    assert _state(sqlite_database, run_id).run.status is RunStatus.SUCCEEDED


# --- fine-tuning survives a crash -------------------------------------------------------------

FINE_TUNE_STEPS = 30  # a MobileNet epoch of about a second at 32 px on this box
FINE_TUNE_RATE = 1e-4


@pytest.mark.slow
def test_a_run_killed_while_fine_tuning_resumes_fine_tuning(
    workers: WorkerProcesses, sqlite_database: Database, tiny_sample: Path, tmp_path: Path
) -> None:
    """SIGKILLed after its switch to fine-tuning, a run resumes unfrozen with its optimizer.

    The fine-tuning optimizer's step counter in the stored model covers every fine-tuning
    epoch, the one before the crash included: a resumed run that recompiled (a fresh
    optimizer) or froze the backbone again would show fewer steps or trainable weights.
    """
    import keras

    from trainer.finetune import parameter_counts
    from trainer.model_io import model_from_bytes

    weights = tmp_path / "mobilenet.weights.h5"
    keras.applications.MobileNet(
        include_top=False, weights=None, input_shape=(32, 32, 3)
    ).save_weights(weights)
    config = parse_config(
        {
            "name": "fine-tune crash",
            "dataset": str(tiny_sample),
            "image_size": 32,
            "batch_size": 8,
            "architecture": "mobilenet",
            "weights": str(weights),
            "freeze_backbone": True,
            "fine_tune": {"at_epoch": 2, "layers": 10, "learning_rate": FINE_TUNE_RATE},
            "epochs": CRASH_EPOCHS,
            "steps_per_epoch": FINE_TUNE_STEPS,
        }
    )
    run_id = _enqueue(sqlite_database, config.to_new_run())
    first = workers.start("first")
    _wait_for(
        sqlite_database,
        run_id,
        lambda state: state.committed >= 2,
        "a fine-tuning epoch",
        workers,
        first,
        STARTUP_SECONDS,
    )
    time.sleep(MID_EPOCH_SECONDS)
    first.kill()
    first.wait(timeout=30)
    killed = _state(sqlite_database, run_id)
    assert 2 <= killed.committed < CRASH_EPOCHS, killed
    assert [p.kind for p in killed.run.phases] == ["frozen", "fine_tune"]

    done = _finished_by_a_second_worker(sqlite_database, run_id, workers)
    assert done.epochs == _resumed_epochs(killed.committed, CRASH_EPOCHS)
    assert done.run.phases == killed.run.phases  # recorded once, by the first attempt
    with sqlite_database.read() as session:
        rates = [c.learning_rate for c in load_curves(session, [run_id])]
        stored = load_artifact(session, run_id, ArtifactKind.MODEL)
    assert stored is not None
    assert rates == pytest.approx([1e-3] + [FINE_TUNE_RATE] * (CRASH_EPOCHS - 1))
    model = model_from_bytes(stored.data, compile=True)
    assert parameter_counts(model)[1] == done.run.phases[1].trainable_params
    assert int(model.optimizer.iterations) == (CRASH_EPOCHS - 1) * FINE_TUNE_STEPS
