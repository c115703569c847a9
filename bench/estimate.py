"""Time estimates against real training: the report's study at 112 px, predicted then timed.

    python -m bench.estimate [--image-size 112] [--epochs-scale 0.2] [--prior-epochs 2]
                             [--dataset DIR]

A fresh SQLite lab on the sample dataset (generated unless `--dataset` names one) first trains
one short run of each of the study's architectures (the report's best setting, one pass over the
training split per epoch, no callbacks: a user's quick first try). Then the estimator
(`experiment.estimate`, as `python -m trainer queue --dry-run` and the Queue page use it)
predicts the report's study at `--image-size` / `--epochs-scale`, a real worker
(`python -m trainer worker --until-idle`) trains it, and each run's predicted time is set
against its start-to-finish time. The baseline is the estimator this one replaced: the mean
steady epoch time of past runs of the same architecture and image size times the epochs.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from importlib.metadata import version
from pathlib import Path

from bench.common import format_table, machine_line
from data.sample import generate
from db import queue
from db.entities import RunRecord
from db.metrics import RunTiming, run_timings
from db.migrate import upgrade
from db.runs import list_runs
from db.session import Database
from experiment.config import ExperimentConfig, parse_config
from experiment.estimate import PlannedRun, duration_text, plan
from experiment.presets import REPORT_BEST, report_study
from settings import PROJECT_ROOT

WORKER_TIMEOUT_SECONDS = 4 * 3600


def old_estimate(config: ExperimentConfig, history: Sequence[RunTiming]) -> float | None:
    """The replaced estimator: steady seconds per epoch of the same architecture and image
    size (the same batch size first, else the closest), times the epochs; no overhead."""
    same = [
        t
        for t in history
        if (t.architecture, t.image_size) == (config.architecture, config.image_size)
        and t.steady_epoch_seconds is not None
    ]
    if not same:
        return None
    best = min(same, key=lambda t: abs(t.batch_size - config.batch_size))
    assert best.steady_epoch_seconds is not None
    return best.steady_epoch_seconds * config.epochs


def first_runs(dataset: str, image_size: int, epochs: int) -> list[ExperimentConfig]:
    """One short run per architecture of the study: the report's best setting, one pass over
    the training split per epoch, no callbacks."""
    return [
        parse_config(
            {
                **REPORT_BEST,
                "name": f"first {architecture}",
                "dataset": dataset,
                "architecture": architecture,
                "image_size": image_size,
                "epochs": epochs,
                "steps_per_epoch": None,
                "early_stopping": None,
                "reduce_lr": None,
                "min_accuracy": None,
            }
        )
        for architecture in ("report_cnn", "resnet20")
    ]


def train_queue(url: str, folder: Path, log: Path) -> float:
    """Run a real worker until the queue is empty; its wall-clock seconds."""
    env = {**os.environ, "DATABASE_URL": url, "LAB_VAR_DIR": str(folder)}
    began = time.monotonic()
    with log.open("ab") as out:
        subprocess.run(
            [sys.executable, "-m", "trainer", "worker", "--until-idle", "--name", "bench"],
            cwd=PROJECT_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, check=True,
            timeout=WORKER_TIMEOUT_SECONDS,
        )  # fmt: skip
    return time.monotonic() - began


def queue_configs(database: Database, configs: Sequence[ExperimentConfig]) -> list[int]:
    with database.begin() as session:
        return queue.enqueue_many(session, [config.to_new_run() for config in configs])


def run_seconds(run: RunRecord) -> float:
    assert run.started_at is not None and run.finished_at is not None
    return (run.finished_at - run.started_at).total_seconds()


def load_average() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.estimate", description=__doc__)
    parser.add_argument("--image-size", type=int, default=112)
    parser.add_argument("--epochs-scale", type=float, default=0.2)
    parser.add_argument("--prior-epochs", type=int, default=2, help="epochs of each first run")
    parser.add_argument("--dataset", help="an existing dataset folder (default: generate one)")
    args = parser.parse_args(argv)

    print(f"machine: {machine_line(TensorFlow=version('tensorflow'))}")
    print(f"load average at start: {load_average()}")
    with tempfile.TemporaryDirectory(prefix="bench-estimate-") as temp:
        folder = Path(temp)
        dataset = Path(args.dataset) if args.dataset else folder / "weather-sample"
        if not args.dataset:
            generate(dataset)  # the sample set at its defaults: 1,125 images of 256 px
        url = f"sqlite:///{folder / 'lab.db'}"
        database = Database(url)
        upgrade(database.engine)
        log = folder / "worker.log"

        queue_configs(database, first_runs(str(dataset), args.image_size, args.prior_epochs))
        first_seconds = train_queue(url, folder, log)
        study = report_study(
            image_size=args.image_size, epochs_scale=args.epochs_scale, dataset=str(dataset)
        )
        with database.read() as session:
            history = run_timings(session)
        planned = plan(study, {}, history)
        old = [old_estimate(config, history) for config in study]
        ids = queue_configs(database, study)
        study_wall = train_queue(url, folder, log)
        with database.read() as session:
            runs = {run.id: run for run in list_runs(session) if run.id in set(ids)}
        database.dispose()
    report(planned, old, [runs[i] for i in ids], first_seconds, study_wall)
    return 0


def report(
    planned: Sequence[PlannedRun],
    old: Sequence[float | None],
    runs: Sequence[RunRecord],
    first_seconds: float,
    study_wall: float,
) -> None:
    rows = []
    actual_total = 0.0
    for plan_row, old_seconds, run in zip(planned, old, runs, strict=True):
        actual = run_seconds(run)
        actual_total += actual
        predicted = plan_row.estimated_seconds
        rows.append(
            [
                plan_row.config.name,
                f"{run.epochs_done}/{run.epochs}",
                run.status.value,
                f"{predicted:.0f}" if predicted is not None else "-",
                f"{old_seconds:.0f}" if old_seconds is not None else "-",
                f"{actual:.0f}",
                f"{predicted / actual:.2f}" if predicted is not None else "-",
            ]
        )
    headers = ["run", "epochs", "status", "estimate s", "old estimate s", "actual s", "ratio"]
    predicted_total = sum(p.estimated_seconds or 0 for p in planned)
    old_total = sum(o or 0 for o in old)
    rows.append(
        [
            "total",
            "",
            "",
            f"{predicted_total:.0f}",
            f"{old_total:.0f}",
            f"{actual_total:.0f}",
            f"{predicted_total / actual_total:.2f}",
        ]
    )
    print()
    print(f"first runs (one per architecture) took {first_seconds:.0f} s with worker start-up")
    print(format_table(headers, rows))
    estimate = planned[0].estimate
    if estimate is not None:
        print(
            f"\nbaseline run: {estimate.epoch_seconds:.1f} s per epoch, "
            f"{estimate.overhead_seconds:.1f} s start-up and evaluation"
        )
    ratios = [
        (p.estimated_seconds or 0) / run_seconds(r)
        for p, r in zip(planned, runs, strict=True)
        if p.estimated_seconds is not None
    ]
    if ratios:
        print(f"per-run ratio: median {statistics.median(ratios):.2f}, "
              f"range {min(ratios):.2f}-{max(ratios):.2f}")  # fmt: skip
    print(f"study wall time with worker start-up: {study_wall:.0f} s")
    print(f"load average at end: {load_average()}")
    print(
        f"report study: estimated {duration_text(predicted_total)}, took "
        f"{duration_text(actual_total)}: {predicted_total / actual_total:.2f}x the actual time "
        f"(the old estimator: {old_total / actual_total:.2f}x)"
    )


if __name__ == "__main__":
    sys.exit(main())
