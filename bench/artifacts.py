"""Checkpointing a 100 MB model every epoch, to each artifact store.

    python -m bench.artifacts [--size-mb 100] [--epochs 4]

A real Keras model of about `--size-mb` of float32 weights (one Dense layer) is saved and
zipped as each epoch's checkpoint (trainer/checkpoint.py; the step every store shares), then
stored the way a worker stores it (RunReporter.commit_epoch): the object is put into the store
in its own step, then the epoch row and the pointer to the checkpoint commit in one short
transaction. Stores: the database store on SQLite and on PostgreSQL (TEST_DATABASE_URL, a
private schema dropped afterwards; skipped with a note when unreachable) and a folder store in
a temporary folder. The baseline is the path before artifact stores: the checkpoint's bytes
written inside the metrics transaction, which holds the run's row lock (and, on SQLite, the
database's only write lock) for the whole write.

Per epoch it reports seconds to save and zip the checkpoint, seconds to store it, how long the
epoch's transaction lasts, and the store's throughput; the headline compares the epoch
transaction with the checkpoint outside it (folder store) against inside it (before).
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from pathlib import Path

from bench.common import format_table, machine_line
from bench.queue import postgres_schema, postgres_unavailable
from db import artifacts, metrics, queue
from db.artifact_store import ArtifactStore, DatabaseStore, FolderStore
from db.entities import EpochRecord, StoredObject
from db.migrate import upgrade
from db.models import ArtifactKind, StoreKind
from db.session import Database
from experiment.config import parse_config


@dataclass(frozen=True)
class Timing:
    """One configuration's epochs: seconds per step, one entry per epoch."""

    store: str
    database: str
    size_mb: float
    save: list[float]
    put: list[float]
    transaction: list[float]
    cleanup: list[float]

    def row(self) -> list[str]:
        put = statistics.median(self.put)
        rate = f"{self.size_mb / put:.0f}" if put > 0 else "-"
        steps = zip(self.save, self.put, self.transaction, self.cleanup, strict=True)
        total = statistics.median(sum(step) for step in steps)
        return [
            self.store,
            self.database,
            f"{statistics.median(self.save):.2f}",
            f"{put:.2f}",
            f"{1000 * statistics.median(self.transaction):.0f}",
            f"{statistics.median(self.cleanup):.2f}",
            f"{total:.2f}",
            rate,
        ]


class TimedStore:
    """Wraps a store and times each `put` and `delete` (the rest of commit_epoch is the
    epoch's transaction)."""

    def __init__(self, store: ArtifactStore) -> None:
        self.inner = store
        self.kind: StoreKind = store.kind
        self.put_seconds: list[float] = []
        self.delete_seconds = 0.0

    def describe(self) -> str:
        return self.inner.describe()

    def put(self, run_id: int, key: str, source: Path | bytes) -> StoredObject:
        started = time.perf_counter()
        stored = self.inner.put(run_id, key, source)
        self.put_seconds.append(time.perf_counter() - started)
        return stored

    def get(self, location: str) -> bytes:
        return self.inner.get(location)

    def delete(self, location: str) -> None:
        started = time.perf_counter()
        self.inner.delete(location)
        self.delete_seconds += time.perf_counter() - started

    def prune(self, run_id: int, keep: Collection[str]) -> None:
        self.inner.prune(run_id, keep)

    def delete_run(self, run_id: int) -> None:
        self.inner.delete_run(run_id)


def build_model(size_mb: float) -> object:
    """One Dense layer with about `size_mb` of float32 weights."""
    import keras

    units = int(math.sqrt(size_mb * 1e6 / 4))
    inputs = keras.Input(shape=(units,))
    return keras.Model(inputs, keras.layers.Dense(units)(inputs))


def _claimed_run(database: Database) -> tuple[int, int]:
    new = parse_config({"name": "bench-artifacts", "epochs": 100}).to_new_run()
    with database.begin() as session:
        queue.enqueue(session, new)
    with database.begin() as session:
        claimed = queue.claim_next(session, "bench")
    assert claimed is not None
    return claimed.id, claimed.attempt


def _checkpoint(model: object, folder: Path, epoch: int) -> tuple[Path, float]:
    """Save and zip one epoch's checkpoint, as the worker does; its path and the seconds."""
    from trainer.checkpoint import write_checkpoint
    from trainer.model_io import save_model_file

    started = time.perf_counter()
    model_file = folder / f"model-{epoch}.keras"
    save_model_file(model, model_file)  # type: ignore[arg-type]
    path = folder / f"checkpoint-{epoch}.zip"
    write_checkpoint(path, epoch=epoch, model_file=model_file, callback_state={})
    model_file.unlink()
    return path, time.perf_counter() - started


def measure_store(
    label: str,
    url: str,
    make_store: Callable[[Database], ArtifactStore],
    model: object,
    size_mb: float,
    epochs: int,
) -> Timing:
    """Epochs through RunReporter.commit_epoch: put outside, then the epoch's transaction."""
    from trainer.reporting import RunReporter

    database = Database(url)
    upgrade(database.engine)
    store = TimedStore(make_store(database))
    run_id, attempt = _claimed_run(database)
    reporter = RunReporter(database, run_id, attempt, store=store)  # type: ignore[arg-type]
    save, transaction, cleanup = [], [], []
    with tempfile.TemporaryDirectory(prefix="bench-artifacts-") as scratch:
        for epoch in range(1, epochs + 1):
            path, seconds = _checkpoint(model, Path(scratch), epoch)
            save.append(seconds)
            store.delete_seconds = 0.0
            started = time.perf_counter()
            assert reporter.commit_epoch(EpochRecord(epoch=epoch, loss=1.0), path)
            spent = time.perf_counter() - started
            transaction.append(spent - store.put_seconds[-1] - store.delete_seconds)
            cleanup.append(store.delete_seconds)
            path.unlink()
    database.dispose()
    return Timing(label, database.dialect, size_mb, save, store.put_seconds, transaction, cleanup)


def measure_inside(url: str, model: object, size_mb: float, epochs: int) -> Timing:
    """The path before artifact stores: the bytes written inside the metrics transaction."""
    database = Database(url)
    upgrade(database.engine)
    run_id, attempt = _claimed_run(database)
    save, transaction = [], []
    with tempfile.TemporaryDirectory(prefix="bench-artifacts-") as scratch:
        for epoch in range(1, epochs + 1):
            path, seconds = _checkpoint(model, Path(scratch), epoch)
            save.append(seconds)
            data = path.read_bytes()
            started = time.perf_counter()
            with database.begin() as session:
                assert metrics.record_epoch(session, run_id, attempt, EpochRecord(epoch=epoch))
                assert artifacts.save_artifact(
                    session, run_id, attempt, ArtifactKind.CHECKPOINT, data, {"epoch": epoch}
                )
            transaction.append(time.perf_counter() - started)
            path.unlink()
    database.dispose()
    return Timing(
        "database, inside the metrics transaction (before)",
        database.dialect,
        size_mb,
        save,
        [0.0] * epochs,
        transaction,
        [0.0] * epochs,
    )


def load_average() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.artifacts", description=__doc__)
    parser.add_argument("--size-mb", type=float, default=100.0, help="model weights in MB")
    parser.add_argument("--epochs", type=int, default=4, help="checkpoints per store")
    args = parser.parse_args(argv)
    import keras

    python = platform.python_version()
    print(
        "machine: "
        + machine_line(Python=python, SQLite=sqlite3.sqlite_version, Keras=keras.__version__)
    )
    print(f"load average at start: {load_average()}")
    model = build_model(args.size_mb)
    base_url = os.environ.get("TEST_DATABASE_URL")
    skipped = postgres_unavailable(base_url)
    results: list[Timing] = []
    with tempfile.TemporaryDirectory(prefix="bench-artifacts-") as folder:
        root = Path(folder)
        sqlite_url = f"sqlite:///{root / 'inside.db'}"
        results.append(measure_inside(sqlite_url, model, args.size_mb, args.epochs))
        results.append(
            measure_store(
                "database",
                f"sqlite:///{root / 'database.db'}",
                DatabaseStore,
                model,
                args.size_mb,
                args.epochs,
            )
        )
        (root / "artifacts").mkdir()
        results.append(
            measure_store(
                "folder",
                f"sqlite:///{root / 'folder.db'}",
                lambda _database: FolderStore(str(root / "artifacts")),
                model,
                args.size_mb,
                args.epochs,
            )
        )
        if skipped is None and base_url:
            with postgres_schema(base_url) as (url, version):
                results.append(measure_inside(url, model, args.size_mb, args.epochs))
            with postgres_schema(base_url) as (url, version):
                results.append(
                    measure_store("database", url, DatabaseStore, model, args.size_mb, args.epochs)
                )
            print(f"PostgreSQL {version}")
        else:
            print(f"PostgreSQL skipped: {skipped}")
    size = results[0].size_mb
    print(f"checkpoint of a {size:g} MB model, median of {args.epochs} epochs per store")
    print()
    headers = [
        "store",
        "database",
        "save+zip s",
        "store s",
        "epoch transaction ms",
        "delete old s",
        "total s/epoch",
        "store MB/s",
    ]
    print(format_table(headers, [timing.row() for timing in results]))
    print()
    print(f"load average at end: {load_average()}")
    inside = statistics.median(results[0].transaction)
    outside = statistics.median(results[2].transaction)
    print(
        f"SQLite epoch transaction with a {size:g} MB checkpoint: {1000 * inside:.0f} ms inside "
        f"it (before) vs {1000 * outside:.1f} ms with a folder store ({inside / outside:.0f}x "
        "shorter)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
