"""`python -m trainer import`: TensorBoard and CSVLogger logs written in the test by Keras
itself and by tf.summary come back with every point; damaged input gets one clear error."""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras
import numpy as np
import pytest
import tensorflow as tf

from db.metrics import metric_names, metric_table
from db.models import MetricAxis, RunSource, RunStatus, StopReason
from db.runs import get_run, list_runs
from db.session import Database
from trainer.cli import main
from trainer.importers.command import ImportFailed, ImportOptions, import_path
from trainer.importers.runlog import LogError

HPARAMS = {"learning_rate": 0.01, "batch_size": 8, "optimizer": "adam", "note": "any JSON"}


@dataclass(frozen=True)
class KerasLogs:
    """What a tiny fit wrote (TensorBoard folder, CSVLogger file) and what Keras logged."""

    tensorboard: Path
    csv: Path
    history: dict[str, list[float]]
    batches: dict[int, dict[str, float]]  # global batch number -> Keras's batch logs


class _BatchLogs(keras.callbacks.Callback):
    """Keeps every batch's logs under the global batch number TensorBoard uses (from 1)."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: dict[int, dict[str, float]] = {}

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        self.seen[len(self.seen) + 1] = {k: float(v) for k, v in (logs or {}).items()}


@pytest.fixture(scope="module")
def keras_logs(tmp_path_factory: pytest.TempPathFactory) -> KerasLogs:
    """Two epochs of a tiny model with a custom metric (AUC), logged three ways at once."""
    from tensorboard.plugins.hparams import api as hp

    root = tmp_path_factory.mktemp("keras")
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.random((32, 4), dtype=np.float32)
    y = (x[:, 0] > 0.5).astype("int32")
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1, activation="sigmoid")])
    model.compile(keras.optimizers.Adam(0.01), "binary_crossentropy", metrics=["accuracy", "auc"])
    batches = _BatchLogs()
    callbacks = [
        keras.callbacks.TensorBoard(
            str(root / "tb"), update_freq=1, write_graph=False, profile_batch=0
        ),
        hp.KerasCallback(str(root / "tb"), HPARAMS),
        keras.callbacks.CSVLogger(str(root / "log.csv")),
        batches,
    ]
    history = model.fit(
        x, y, epochs=2, batch_size=8, validation_split=0.25, verbose=0, callbacks=callbacks
    )
    return KerasLogs(root / "tb", root / "log.csv", history.history, batches.seen)


def _series(database: Database, run_id: int, axis: MetricAxis) -> dict[str, dict[int, Any]]:
    """name -> {epoch or step: value} for every series of the run on `axis`."""
    with database.read() as session:
        names = list(metric_names(session, [run_id], axis))
        rows = metric_table(session, [run_id], names, axis)
    return {
        name: {row[1]: row[2 + i] for row in rows if row[2 + i] is not None}
        for i, name in enumerate(names)
    }


def _only_run(database: Database) -> int:
    with database.read() as session:
        (run,) = list_runs(session)
    return run.id


def test_keras_tensorboard_logs_import_with_every_point(
    keras_logs: KerasLogs, sqlite_database_url: str
) -> None:
    """train/ and validation/ become x and val_x per epoch; batch_x become step series; the
    HParams become the config; every value is the one Keras logged."""
    database = Database(sqlite_database_url)
    (run_id,) = import_path(database, keras_logs.tensorboard, ImportOptions(study="tb"))
    epochs = _series(database, run_id, MetricAxis.EPOCH)
    for name, values in keras_logs.history.items():
        assert epochs[name] == dict(enumerate(values, start=1)), name
    assert epochs["learning_rate"] == {1: pytest.approx(0.01), 2: pytest.approx(0.01)}
    steps = _series(database, run_id, MetricAxis.STEP)
    for name in ("loss", "accuracy", "auc"):
        assert steps[name] == {s: logs[name] for s, logs in keras_logs.batches.items()}, name
    assert set(steps["val_loss"]) == {3, 6}  # evaluation_loss_vs_iterations
    with database.read() as session:
        run = get_run(session, run_id)
    assert run is not None and run.config == HPARAMS and run.study == "tb"
    assert (run.source, run.status, run.stop_reason) == (
        RunSource.IMPORT, RunStatus.SUCCEEDED, StopReason.IMPORTED,
    )  # fmt: skip
    assert (run.learning_rate, run.batch_size, run.optimizer) == (0.01, 8, "adam")
    assert run.best_val_accuracy == max(keras_logs.history["val_accuracy"])
    assert run.started_at is not None and run.finished_at is not None
    database.dispose()


def test_csv_logger_file_imports_every_epoch(
    keras_logs: KerasLogs, sqlite_database_url: str
) -> None:
    """A CSVLogger file from a real fit reads back exactly; epochs count from 1."""
    database = Database(sqlite_database_url)
    (run_id,) = import_path(database, keras_logs.csv, ImportOptions(name="from csv"))
    epochs = _series(database, run_id, MetricAxis.EPOCH)
    assert epochs == {
        name: dict(enumerate(values, start=1)) for name, values in keras_logs.history.items()
    }
    with database.read() as session:
        run = get_run(session, run_id)
    assert run is not None and run.name == "from csv" and run.epochs_done == 2
    database.dispose()


def _write_legacy_events(path: Path, tag: str, values: list[float]) -> None:
    """TF1-style `simple_value` summaries, one event per step, written record by record."""
    from tensorboard.compat.proto import event_pb2, summary_pb2

    with tf.io.TFRecordWriter(str(path)) as writer:
        writer.write(
            event_pb2.Event(wall_time=1.0, file_version="brain.Event:2").SerializeToString()
        )
        for step, value in enumerate(values):
            summary = summary_pb2.Summary(
                value=[summary_pb2.Summary.Value(tag=tag, simple_value=value)]
            )
            event = event_pb2.Event(wall_time=2.0 + step, step=step, summary=summary)
            writer.write(event.SerializeToString())


def test_tf_summary_logs_import_every_point_beyond_tensorboards_sampling(
    tmp_path: Path, sqlite_database_url: str
) -> None:
    """Scalars written by tf.summary (tensors) and TF1 simple_value events all import: 12,000
    points of one tag (TensorBoard's reservoir keeps 10,000), int and float tensors, HParams."""
    from tensorboard.plugins.hparams import api as hp

    run = tmp_path / "run"
    writer = tf.summary.create_file_writer(str(run))
    with writer.as_default():
        hp.hparams({"dropout": 0.5, "layers": 3})
        for step in range(5):
            tf.summary.scalar("epoch_dice", 0.1 * step, step=step)
            tf.summary.scalar("pixels/error", np.float64(1.0 / (step + 1)), step=100 * step)
            tf.summary.write("count", tf.constant(step, tf.int64), step=step)
    writer.close()
    legacy = [float(np.float32(np.sin(i))) for i in range(12_000)]
    _write_legacy_events(run / "events.out.tfevents.1.legacy", "legacy_loss", legacy)

    database = Database(sqlite_database_url)
    (run_id,) = import_path(database, run, ImportOptions())
    epochs = _series(database, run_id, MetricAxis.EPOCH)
    steps = _series(database, run_id, MetricAxis.STEP)
    assert epochs == {"dice": {s + 1: float(np.float32(0.1 * s)) for s in range(5)}}
    assert steps["pixels/error"] == {100 * s: float(np.float32(1 / (s + 1))) for s in range(5)}
    assert steps["count"] == {s: float(s) for s in range(5)}
    assert steps["legacy_loss"] == dict(enumerate(legacy))
    with database.read() as session:
        imported = get_run(session, run_id)
    assert imported is not None and imported.config == {"dropout": 0.5, "layers": 3}
    database.dispose()


def test_a_folder_of_runs_imports_one_run_each_and_only_once(
    keras_logs: KerasLogs, tmp_path: Path, sqlite_database_url: str, capsys: Any
) -> None:
    """Sub-folders and CSV files are runs named by their paths; the same files a second time
    are reported as imported unless --again."""
    shutil.copytree(keras_logs.tensorboard, tmp_path / "logs" / "adam" / "seed0")
    shutil.copy(keras_logs.csv, tmp_path / "logs" / "sgd.csv")
    database = Database(sqlite_database_url)
    first = import_path(database, tmp_path / "logs", ImportOptions(name="study", tags=("a",)))
    with database.read() as session:
        names = sorted(run.name for run in list_runs(session))
    assert len(first) == 2 and names == ["study/adam/seed0", "study/sgd"]

    assert import_path(database, tmp_path / "logs", ImportOptions()) == []
    assert "already imported as run" in capsys.readouterr().out
    assert len(import_path(database, tmp_path / "logs" / "sgd.csv", ImportOptions(again=True))) == 1
    database.dispose()


def _truncated_copy(keras_logs: KerasLogs, folder: Path) -> Path:
    shutil.copytree(keras_logs.tensorboard, folder)
    (events,) = (folder / "train").glob("*tfevents*")
    data = events.read_bytes()
    events.write_bytes(data[:-5])
    return events


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (
            "truncated",
            r"train/events\.out\.tfevents.*: damaged event file \(truncated record "
            r"at byte \d+ of \d+; was it still being written\?\); nothing imported",
        ),
        ("corrupt", r"damaged event file \(corrupted record at byte \d+"),
        ("no_epoch", r"bad\.csv: no `epoch` column \(found: loss, accuracy\).*nothing imported"),
        ("not_a_number", r"bad\.csv, line 3, column 'loss': 'abc' is not a number"),
        ("short_line", r"bad\.csv, line 2: 1 values for 2 columns"),
        ("empty_csv", r"bad\.csv is empty"),
        ("empty_folder", r"holds no TensorBoard event files .* and no CSV files"),
        ("missing", r"does not exist"),
    ],
)
def test_malformed_input_gets_one_clear_error_and_writes_nothing(
    make: str,
    message: str,
    keras_logs: KerasLogs,
    tmp_path: Path,
    sqlite_database_url: str,
    capsys: Any,
) -> None:
    """Each damaged input names the file and what is wrong; no run is created."""
    target = tmp_path / "input"
    if make == "truncated":
        _truncated_copy(keras_logs, target)
    elif make == "corrupt":
        shutil.copytree(keras_logs.tensorboard, target)
        (events,) = (target / "train").glob("*tfevents*")
        data = bytearray(events.read_bytes())
        data[60] ^= 0xFF
        events.write_bytes(bytes(data))
    elif make == "empty_folder":
        (target / "nothing" / "here").mkdir(parents=True)
    elif make != "missing":
        target.mkdir()
        text = {
            "no_epoch": "loss,accuracy\n0.5,0.6\n",
            "not_a_number": "epoch,loss\n0,0.5\n1,abc\n",
            "short_line": "epoch,loss\n0\n",
            "empty_csv": "",
        }[make]
        (target / "bad.csv").write_text(text)
    database = Database(sqlite_database_url)
    with pytest.raises((LogError, ImportFailed)) as raised:
        import_path(database, target, ImportOptions())
    with database.read() as session:
        assert list_runs(session) == []
    database.dispose()
    # A path with nothing to import raises at once; a file that cannot be read is reported
    # on stderr (one line each) before the import stops.
    errors = [str(raised.value), *capsys.readouterr().err.splitlines()]
    assert sum(bool(re.search(message, line)) for line in errors) == 1, errors


def test_one_damaged_run_in_a_folder_stops_the_whole_import(
    keras_logs: KerasLogs, tmp_path: Path, sqlite_database_url: str, capsys: Any
) -> None:
    """A folder with a good and a truncated run imports nothing and names the bad file."""
    shutil.copytree(keras_logs.tensorboard, tmp_path / "logs" / "good")
    _truncated_copy(keras_logs, tmp_path / "logs" / "bad")
    database = Database(sqlite_database_url)
    with pytest.raises(ImportFailed, match="1 of 2 runs could not be read; nothing imported"):
        import_path(database, tmp_path / "logs", ImportOptions())
    assert "bad/train/events.out.tfevents" in capsys.readouterr().err
    with database.read() as session:
        assert list_runs(session) == []
    database.dispose()


def test_cli_import_and_curves(
    keras_logs: KerasLogs, sqlite_database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    """The commands as a user types them: import, then curves as a table, CSV and JSON."""
    monkeypatch.setenv("DATABASE_URL", sqlite_database_url)
    assert main(["import", str(keras_logs.csv), "--name", "mine", "--tags", "a, b"]) == 0
    assert "imported run 1: mine (2 epochs, 0 steps" in capsys.readouterr().out
    assert main(["curves", "1"]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0] == "run 1: mine" and table[1].split()[:3] == ["epoch", "loss", "val_loss"]
    assert main(["curves", "1", "--csv", "--metrics", "val_accuracy"]) == 0
    lines = capsys.readouterr().out.splitlines()
    expected = keras_logs.history["val_accuracy"]
    assert lines == ["epoch,val_accuracy", *(f"{i},{v!r}" for i, v in enumerate(expected, 1))]
    assert main(["curves", "1", "--json"]) == 0
    assert '"accuracy":' in capsys.readouterr().out
    assert main(["curves", "1", "--metrics", "nope"]) == 2
    assert "no epoch series nope; the run has: loss" in capsys.readouterr().err
    assert main(["import", str(keras_logs.csv)]) == 0
    assert "already imported as run 1" in capsys.readouterr().out
    assert main(["import", "/no/such/path"]) == 2
    assert main(["curves", "99"]) == 2
