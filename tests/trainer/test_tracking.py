"""LabCallback in a real user's script (a subprocess run from another folder): what it logs,
how runs end, and spooling while the database does not answer, then `sync`."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from db.artifact_store import DatabaseStore
from db.metrics import load_curves, metric_names, metric_table
from db.migrate import upgrade
from db.models import MetricAxis, Run, RunSource, RunStatus, StopReason
from db.runs import get_run
from db.session import Database
from settings import PROJECT_ROOT
from tests.databases import postgres_url_for_test
from tests.faultproxy import FaultProxy

pytestmark = pytest.mark.slow

SCRIPT = Path(__file__).parent / "scripts" / "tiny_fit.py"


def _script_launch(
    tmp_path: Path, database_url: str, options: dict[str, Any] | None
) -> tuple[list[str], Path, dict[str, str]]:
    """The test script as a user runs it: from its own folder, the lab on PYTHONPATH."""
    elsewhere = tmp_path / "my-project"
    elsewhere.mkdir(exist_ok=True)
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "LAB_SCRIPT_SPOOL_DIR": str(tmp_path / "spool"),
        "PYTHONPATH": str(PROJECT_ROOT),
        "TF_CPP_MIN_LOG_LEVEL": "3",
    }
    return [sys.executable, str(SCRIPT), json.dumps(options or {})], elsewhere, env


def run_script(
    tmp_path: Path, database_url: str, options: dict[str, Any] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the test script to its end."""
    command, cwd, env = _script_launch(tmp_path, database_url, options)
    return subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=600, check=False
    )


def sync(tmp_path: Path, database_url: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "LAB_SCRIPT_SPOOL_DIR": str(tmp_path / "spool"),
    }
    return subprocess.run(
        [sys.executable, "-m", "trainer", "sync"],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def histories(result: subprocess.CompletedProcess[str]) -> list[dict[str, Any]]:
    """What each fit's History said, as the script printed it."""
    assert result.returncode == 0, result.stderr[-3000:]
    return [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]


def only_run(database: Database) -> Run:
    with database.read() as session:
        runs = list(session.scalars(select(Run)))
    assert len(runs) == 1, [run.name for run in runs]
    return runs[0]


def stored_epochs(database: Database, run_id: int) -> dict[int, dict[str, float | None]]:
    with database.read() as session:
        return {record.epoch: dict(record.metrics) for record in load_curves(session, [run_id])}


def unused_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_a_script_logs_a_run_that_reads_back_exactly(
    database: Database, database_url: str, tmp_path: Path
) -> None:
    """Every value Keras logged, per epoch and every 2 batches, reads back exactly, with the
    run's config, environment, parameters and model; nothing is left in the spool."""
    result = run_script(tmp_path, database_url, {"every": 2, "save_model": True})
    [printed] = histories(result)
    assert "LabCallback" not in result.stderr  # nothing spooled, nothing to say
    run = only_run(database)
    assert (run.source, run.status, run.stop_reason) == (
        RunSource.SCRIPT,
        RunStatus.SUCCEEDED,
        StopReason.COMPLETED,
    )
    assert (run.name, run.study, run.tags) == ("tiny-run", "tracking", ["script", "test"])
    assert run.config == {"learning_rate": 1e-3, "batch_size": 8, "note": "anything JSON"}
    assert (run.learning_rate, run.batch_size, run.epochs, run.epochs_done) == (1e-3, 8, 3, 3)
    assert run.client_key == printed["run_id"]
    assert (run.total_params, run.trainable_params) == (787, 787)

    epochs = stored_epochs(database, run.id)
    assert sorted(epochs) == [1, 2, 3]
    for name, values in printed["history"].items():
        assert [epochs[e][name] for e in (1, 2, 3)] == values, name
    for epoch in epochs.values():
        assert epoch["learning_rate"] == pytest.approx(1e-3)
        assert epoch["epoch_seconds"] is not None and epoch["epoch_seconds"] > 0
    assert run.best_val_accuracy == max(printed["history"]["val_accuracy"])

    with database.read() as session:
        names = metric_names(session, [run.id])
        steps = metric_table(session, [run.id], ["loss", "double_loss"], MetricAxis.STEP)
    assert {"double_loss", "val_double_loss", "learning_rate", "epoch_seconds"} <= set(names)
    # 18 training images in batches of 8: 3 batches an epoch, 9 in all, every 2nd logged.
    assert [row[1] for row in steps] == [2, 4, 6, 8]
    assert all(row[2] is not None and row[3] is not None for row in steps)

    environment = run.environment or {}
    assert environment["script"] == str(SCRIPT)
    assert environment["cwd"] == str(tmp_path / "my-project")
    assert environment["host"] == socket.gethostname()
    assert len(environment["git_commit"] or "") == 40
    assert "keras" in environment["packages"]
    assert environment["model"]["total_params"] == 787
    assert [fit["initial_epoch"] for fit in environment["fits"]] == [0]

    from trainer.predict import load_run_model

    loaded = load_run_model(database, run.id, DatabaseStore(database))
    assert (loaded.class_names, loaded.image_size) == (("a", "b", "c"), 8)
    assert not any((tmp_path / "spool").iterdir())


def test_unreachable_database_spools_and_sync_sends_each_run_once(
    database: Database, database_url: str, tmp_path: Path
) -> None:
    """Behind a closed port the script trains on and says once where it spools; `sync`
    stores the run, a second sync finds nothing, and replaying the same records again
    (a sync cut off after its commits) leaves the same single run."""
    closed = f"postgresql+psycopg://postgres@127.0.0.1:{unused_port()}/lab"
    result = run_script(tmp_path, closed, {"every": 3})
    [printed] = histories(result)
    notes = [line for line in result.stderr.splitlines() if line.startswith("LabCallback")]
    folder = tmp_path / "spool" / printed["run_id"]
    assert len(notes) == 1 and str(folder) in notes[0] and "python -m trainer sync" in notes[0]
    assert (folder / "journal.jsonl").stat().st_size > 0
    copy = tmp_path / "copy"
    shutil.copytree(folder, copy)

    first = sync(tmp_path, database_url)
    assert first.returncode == 0, first.stderr
    assert f"sent {printed['run_id']}" in first.stdout
    assert not folder.exists()
    second = sync(tmp_path, database_url)
    assert second.returncode == 0 and "nothing to send" in second.stdout
    run = only_run(database)
    sent = stored_epochs(database, run.id)

    shutil.copytree(copy, folder)  # the same records once more
    again = sync(tmp_path, database_url)
    assert again.returncode == 0, again.stderr
    run_again = only_run(database)
    assert run_again.id == run.id and stored_epochs(database, run.id) == sent
    assert (run_again.status, run_again.epochs_done) == (RunStatus.SUCCEEDED, 3)
    for name, values in printed["history"].items():
        assert [sent[e][name] for e in (1, 2, 3)] == values, name
    with database.read() as session:
        steps = metric_table(session, [run.id], ["loss"], MetricAxis.STEP)
    assert [row[1] for row in steps] == [3, 6, 9]


def test_an_exception_in_fit_ends_the_run_failed_with_it(
    sqlite_database_url: str, tmp_path: Path
) -> None:
    """A script that dies of an uncaught exception in epoch 2 leaves a failed run holding
    the exception and its first epoch."""
    result = run_script(tmp_path, sqlite_database_url, {"epochs": 4, "fail_at_epoch": 2})
    assert result.returncode == 1 and "boom in epoch 2" in result.stderr
    database = Database(sqlite_database_url)
    run = only_run(database)
    assert (run.status, run.stop_reason) == (RunStatus.FAILED, StopReason.FAILED)
    assert run.stop_detail == "RuntimeError: boom in epoch 2"
    assert "boom in epoch 2" in (run.error or "") and "Traceback" in (run.error or "")
    assert sorted(stored_epochs(database, run.id)) == [1]
    assert run.finished_at is not None


def test_the_context_manager_records_an_exception_the_script_catches(
    sqlite_database_url: str, tmp_path: Path
) -> None:
    """`with LabCallback(...)` sees the exception even when the script goes on after it."""
    options = {"epochs": 3, "fail_at_epoch": 3, "context": True, "catch": True}
    result = run_script(tmp_path, sqlite_database_url, options)
    assert result.returncode == 0, result.stderr[-3000:]
    database = Database(sqlite_database_url)
    run = only_run(database)
    assert (run.status, run.stop_detail) == (RunStatus.FAILED, "RuntimeError: boom in epoch 3")
    assert sorted(stored_epochs(database, run.id)) == [1, 2]


def test_a_callback_that_stops_training_is_named(sqlite_database_url: str, tmp_path: Path) -> None:
    """A run stopped by a callback setting `model.stop_training` ends succeeded, stopped,
    naming that callback."""
    result = run_script(tmp_path, sqlite_database_url, {"epochs": 6, "early_stopping": True})
    histories(result)
    run = only_run(Database(sqlite_database_url))
    assert (run.status, run.stop_reason) == (RunStatus.SUCCEEDED, StopReason.EARLY_STOPPING)
    assert run.stop_detail == "stopped by EarlyStopping after 2 of 6 epochs"
    assert run.epochs_done == 2


def test_fits_continue_one_run_by_its_id_and_initial_epoch(
    sqlite_database_url: str, tmp_path: Path
) -> None:
    """Two fit calls in one script continue the run (epochs 1-4 then 5-8); a second process
    with the same run_id resuming at initial_epoch=6 replaces epochs 7-8 and adds 9-10."""
    first = run_script(
        tmp_path, sqlite_database_url, {"epochs": 4, "fits": 2, "run_id": "resume-me"}
    )
    assert len(histories(first)) == 2
    database = Database(sqlite_database_url)
    run = only_run(database)
    before = stored_epochs(database, run.id)
    assert sorted(before) == list(range(1, 9)) and run.epochs == 8

    second = run_script(
        tmp_path,
        sqlite_database_url,
        {"epochs": 10, "initial_epoch": 6, "run_id": "resume-me"},
    )
    [resumed] = histories(second)
    run = only_run(database)
    after = stored_epochs(database, run.id)
    assert sorted(after) == list(range(1, 11))
    assert all(after[e] == before[e] for e in range(1, 7))
    assert [after[e]["loss"] for e in range(7, 11)] == resumed["history"]["loss"]
    assert (run.status, run.epochs, run.epochs_done) == (RunStatus.SUCCEEDED, 10, 10)
    assert [phase["epoch"] for phase in run.phases or []] == [1, 5, 7]
    with database.read() as session:
        count = session.scalar(select(func.count()).select_from(Run))
        record = get_run(session, run.id)
    assert count == 1 and record is not None


def _epochs_done(database: Database) -> int:
    with database.read() as session:
        return int(session.scalar(select(func.max(Run.epochs_done))) or 0)


def _start_script(
    tmp_path: Path, database_url: str, options: dict[str, Any]
) -> subprocess.Popen[str]:
    command, cwd, env = _script_launch(tmp_path, database_url, options)
    return subprocess.Popen(
        command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def _wait_for_epochs(database: Database, process: subprocess.Popen[str], count: int) -> None:
    deadline = time.monotonic() + 300
    while _epochs_done(database) < count:
        assert process.poll() is None, process.communicate()[1][-3000:]
        assert time.monotonic() < deadline, "the script logged no epoch in 5 minutes"
        time.sleep(0.1)


@pytest.mark.postgres
def test_a_database_lost_mid_run_spools_the_rest_for_sync(tmp_path: Path) -> None:
    """PostgreSQL goes away after the first epoch: training finishes, the rest is spooled, and
    `sync` completes the run with every epoch once."""
    with postgres_url_for_test() as url, FaultProxy.in_front_of(url) as proxy:
        upgrade(Database(url).engine)
        database = Database(url)
        process = _start_script(tmp_path, proxy.url_for(url), {"epochs": 4, "pause": 1.0})
        _wait_for_epochs(database, process, 1)
        proxy.refuse()
        out, err = process.communicate(timeout=300)
        assert process.returncode == 0, err[-3000:]
        [printed] = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
        assert sum(line.startswith("LabCallback") for line in err.splitlines()) == 1
        assert _epochs_done(database) < 4
        assert only_run(database).status is RunStatus.RUNNING

        result = sync(tmp_path, url)
        assert result.returncode == 0, result.stderr
        run = only_run(database)
        epochs = stored_epochs(database, run.id)
        assert (run.status, run.epochs_done) == (RunStatus.SUCCEEDED, 4)
        for name, values in printed["history"].items():
            assert [epochs[e][name] for e in (1, 2, 3, 4)] == values, name
        database.dispose()


@pytest.mark.postgres
def test_an_epoch_whose_commit_answer_was_lost_is_stored_once(tmp_path: Path) -> None:
    """The connection drops right after an epoch's COMMIT reached the server: the link sends
    the epoch again once the database answers, and the run holds each epoch once."""
    with postgres_url_for_test() as url, FaultProxy.in_front_of(url) as proxy:
        upgrade(Database(url).engine)
        database = Database(url)
        proxy.cut_on(b"INSERT INTO epoch_metrics", b"COMMIT", forward=True, refuse_for=2.0)
        process = _start_script(tmp_path, proxy.url_for(url), {"epochs": 4, "pause": 0.5})
        out, err = process.communicate(timeout=300)
        assert process.returncode == 0, err[-3000:]
        assert proxy.fired.is_set()
        [printed] = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
        run = only_run(database)
        epochs = stored_epochs(database, run.id)
        assert (run.status, sorted(epochs)) == (RunStatus.SUCCEEDED, [1, 2, 3, 4])
        for name, values in printed["history"].items():
            assert [epochs[e][name] for e in (1, 2, 3, 4)] == values, name
        assert not (tmp_path / "spool" / printed["run_id"]).exists()
        database.dispose()
