"""Dashboard benchmark: the server-side cost of the Runs list and of a 200-run Compare view.

A temporary SQLite database is filled (bulk inserts) with 1,000 runs x 50 epochs in 20 studies
(optimizers, learning rates, batch sizes, seeds; a few runs failed, running or queued); each
epoch holds the six standard metrics plus a custom `auc`/`val_auc` pair, as one JSON object
(db/models.py EpochMetric). Then, timed the way the pages do it but without Streamlit's cache:

* **list runs**: the Runs page's query (`db.runs.run_table`, driver rows, configs left as
  JSON text) and DataFrame (`run_table_frame`);
* **metric names**: every metric name of those 200 runs (`db.metrics.metric_names`), what
  Compare's metric picker lists;
* **fetch curves**: every epoch of 200 runs (`db.metrics.curve_table` + `curve_table_frame`);
* **figure**: the Compare figure for those runs (`charts.compare_figure`, one trace per
  colour group and series, NaN gaps between runs, per-point hover), serialised as
  `st.plotly_chart` does it (`plotly.io.to_json(figure, validate=False)`);
* **with auc picked**: the same view with the custom `auc`/`val_auc` pair picked besides
  accuracy and loss: the curves read with the two extra names (`queries.fetch_curves`'s
  query) and a third panel with best-epoch stars on `val_auc`;
* the same figure built the naive way, one trace per run and series (`make_subplots`,
  `add_trace`), serialised the same way;
* the curves read from the storage layout not chosen, one row per value (a series table and a
  points table keyed by series and epoch, as MLflow and Optuna store values), pivoted to the
  same wide rows;
* the list and the curves read the naive way, through ORM objects and records.

Each step runs `--repeat` times, ours and the naive build alternating, after a garbage
collection so one step's garbage is not billed to the next; the table shows medians.
The last line is the headline: total server time for 200 runs and the ratio to the naive build.

Usage: ``python -m bench.dashboard [--runs 1000] [--epochs 50] [--compare 200] [--repeat 7]``
"""

from __future__ import annotations

import argparse
import gc
import math
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pandas as pd
import plotly
import plotly.graph_objects as go
import streamlit
from plotly.subplots import make_subplots
from sqlalchemy import insert
from streamlit import dataframe_util

from bench.common import format_table, machine_line
from dashboard import knobs
from dashboard.frames import (
    LAZY_JSON,
    RUN_FIELDS,
    curve_table_frame,
    curves_frame,
    run_table_frame,
    runs_frame,
)
from dashboard.tables import pick
from dashboard.text import run_links
from dashboard.views.compare import figures as charts
from dashboard.views.compare.figures import DEFAULT_METRICS, CurveOptions
from dashboard.views.runs.table import RUNS_COLUMNS
from db.metrics import CURVE_METRICS, curve_table, load_curves, metric_names, metric_table
from db.migrate import upgrade
from db.models import EpochMetric, MetricAxis, MetricSeries, Run, RunStatus, StopReason
from db.runs import list_runs, run_table
from db.session import Database

T = TypeVar("T")
OPTIMIZERS = {"adam": 1.0, "rmsprop": 0.95, "adamax": 0.9, "sgd": 0.7}
LEARNING_RATES = (0.01, 0.001, 0.0001)
BATCH_SIZES = (16, 32)
BASE_CONFIG: dict[str, Any] = {
    "dataset": "var/data/weather-sample", "image_size": 112, "architecture": "report_cnn",
    "steps_per_epoch": None, "validation_steps": None, "validation_split": 0.2,
    "augmentation": {"shear_range": 0.0, "zoom_range": [0.2, 0.5], "rotation_range": 5.0,
                     "horizontal_flip": True, "vertical_flip": False,
                     "brightness_range": [0.2, 1.0], "contrast_range": None},
    "early_stopping": {"monitor": "val_loss", "patience": 4, "min_delta": 0.0001,
                       "restore_best_weights": False},
    "reduce_lr": None, "min_accuracy": None, "tags": [], "priority": 0,
    "deterministic": False, "mixed_precision": False, "jit_compile": False,
}  # fmt: skip


# Seeding ------------------------------------------------------------------------------------


def _run_row(index: int, epochs: int, now: datetime, rng: np.random.Generator) -> dict[str, Any]:
    optimizer = list(OPTIMIZERS)[index % 4]
    learning_rate = LEARNING_RATES[(index // 4) % 3]
    batch_size = BATCH_SIZES[(index // 12) % 2]
    seed = (index // 24) % 2
    study = f"study-{index // 50:02d}"
    name = f"{study} [optimizer={optimizer}, lr={learning_rate:g}, batch={batch_size}, seed={seed}]"
    config = {**BASE_CONFIG, "name": name, "optimizer": optimizer, "seed": seed,
              "learning_rate": learning_rate, "batch_size": batch_size, "epochs": epochs,
              "study": study}  # fmt: skip
    roll = rng.random()
    status = (
        RunStatus.QUEUED if roll < 0.02 else RunStatus.RUNNING if roll < 0.07
        else RunStatus.FAILED if roll < 0.10 else RunStatus.SUCCEEDED
    )  # fmt: skip
    created = now - timedelta(hours=2000 - index)
    return {
        "name": name, "study": study, "status": status, "priority": 0, "config": config,
        "config_hash": f"{index:064x}", "tags": ["baseline"] if index % 10 == 0 else [],
        "dataset": config["dataset"], "architecture": "report_cnn", "optimizer": optimizer,
        "learning_rate": learning_rate, "batch_size": batch_size, "epochs": epochs,
        "image_size": 112, "augmented": True, "seed": seed, "created_at": created,
        "started_at": None if status is RunStatus.QUEUED else created + timedelta(minutes=5),
        "attempt": 0 if status is RunStatus.QUEUED else 1, "max_attempts": 3,
        "cancel_requested": False, "warnings": [], "epochs_done": 0,
    }  # fmt: skip


def _curves(
    run_id: int, row: dict[str, Any], epochs: int, rng: np.random.Generator
) -> list[dict[str, Any]]:
    """Plausible curves: accuracy rises towards a ceiling set by the optimizer and learning rate."""
    done = {RunStatus.QUEUED: 0, RunStatus.RUNNING: int(rng.integers(1, epochs)),
            RunStatus.FAILED: int(rng.integers(1, 5))}.get(row["status"], epochs)  # fmt: skip
    skill = OPTIMIZERS[row["optimizer"]] * (1.0 - 0.1 * abs(math.log10(row["learning_rate"]) + 3))
    ceiling = 0.55 + 0.4 * skill
    seconds = 20.0 + (10.0 if row["batch_size"] == 16 else 0.0)
    stamp = row["started_at"]
    records = []
    for epoch in range(1, done + 1):
        progress = 1 - math.exp(-epoch * skill / 8)
        accuracy = min(0.999, 0.25 + (ceiling - 0.2) * progress + rng.normal(0, 0.01))
        val_accuracy = min(0.999, accuracy - 0.03 + rng.normal(0, 0.02))
        epoch_seconds = seconds + rng.normal(0, 1.0)
        stamp = stamp + timedelta(seconds=epoch_seconds)
        metrics = {
            "accuracy": accuracy,
            "val_accuracy": val_accuracy,
            "loss": -math.log(max(accuracy, 0.01)),
            "val_loss": -math.log(max(val_accuracy, 0.01)),
            "auc": min(1.0, accuracy + 0.05),
            "val_auc": min(1.0, val_accuracy + 0.04),
            "learning_rate": row["learning_rate"] * (0.1 if epoch > 30 else 1.0),
            "epoch_seconds": epoch_seconds,
        }
        records.append(
            {
                "run_id": run_id,
                "epoch": epoch,
                "metrics": metrics,
                "attempt": 1,
                "recorded_at": stamp,
            }
        )
    return records


def _summary(row: dict[str, Any], records: list[dict[str, Any]]) -> dict[str, Any]:
    """What `record_epoch` and `finish_run` would have left on the run row."""
    summary: dict[str, Any] = {"epochs_done": len(records)}
    if records:
        best = max(records, key=lambda r: r["metrics"]["val_accuracy"])
        summary.update(best_val_accuracy=best["metrics"]["val_accuracy"], best_epoch=best["epoch"],
                       last_val_accuracy=records[-1]["metrics"]["val_accuracy"])  # fmt: skip
    if row["status"] is RunStatus.SUCCEEDED:
        summary.update(stop_reason=StopReason.COMPLETED, finished_at=records[-1]["recorded_at"],
                       stop_detail=f"all {len(records)} epochs done")  # fmt: skip
    elif row["status"] is RunStatus.FAILED:
        summary.update(stop_reason=StopReason.FAILED, error="ValueError: bench")
    return summary


def seed_lab(database: Database, runs: int, epochs: int, seed: int = 0) -> None:
    """Fill a migrated database with `runs` runs, their epochs and metric names, in three bulk
    inserts."""
    rng = np.random.default_rng(seed)
    now = datetime.now(UTC).replace(microsecond=0)
    rows = [_run_row(i, epochs, now, rng) for i in range(runs)]
    epochs_rows: list[dict[str, Any]] = []
    names: list[dict[str, Any]] = []
    for run_id, row in enumerate(rows, start=1):  # ids follow insertion order in a new table
        records = _curves(run_id, row, epochs, rng)
        row.update(_summary(row, records))
        epochs_rows += records
        if records:
            names += [{"run_id": run_id, "axis": MetricAxis.EPOCH, "name": name}
                      for name in records[0]["metrics"]]  # fmt: skip
    with database.begin() as session:
        session.execute(insert(Run), rows)
        session.execute(insert(EpochMetric), epochs_rows)
        session.execute(insert(MetricSeries), names)


# One row per value: the layout db/models.py did not choose, filled from the same epochs.
LONG_LAYOUT = (
    "CREATE TABLE long_series (id INTEGER PRIMARY KEY, run_id INTEGER NOT NULL, "
    "name VARCHAR(200) NOT NULL, UNIQUE (run_id, name))",
    "CREATE TABLE long_points (series_id INTEGER NOT NULL, epoch INTEGER NOT NULL, value FLOAT, "
    "PRIMARY KEY (series_id, epoch)) WITHOUT ROWID",
    "INSERT INTO long_series (run_id, name) SELECT run_id, name FROM metric_series",
    "INSERT INTO long_points SELECT s.id, e.epoch, json_extract(e.metrics, '$.' || s.name) "
    "FROM epoch_metrics e JOIN long_series s ON s.run_id = e.run_id",
)


def seed_long_layout(database: Database) -> None:
    with database.begin() as session:
        for statement in LONG_LAYOUT:
            session.connection().exec_driver_sql(statement)


def curves_long_layout(database: Database, ids: list[int]) -> pd.DataFrame:
    """The same wide rows from one row per value: epochs, points (the driver's own rows, as
    the page reads), a Python pivot."""
    marks = ", ".join("?" * len(ids))
    names = ", ".join("?" * len(CURVE_METRICS))
    epochs_sql = (
        f"SELECT run_id, epoch, recorded_at FROM epoch_metrics WHERE run_id IN ({marks}) "
        "ORDER BY run_id, epoch"
    )
    points_sql = (
        f"SELECT s.run_id, s.name, p.epoch, p.value FROM long_series s JOIN long_points p "
        f"ON p.series_id = s.id WHERE s.run_id IN ({marks}) AND s.name IN ({names})"
    )
    with database.read() as session:
        cursor = session.connection().connection.cursor()
        epochs = cursor.execute(epochs_sql, ids).fetchall()
        points = cursor.execute(points_sql, (*ids, *CURVE_METRICS)).fetchall()
        cursor.close()
    column = {name: i for i, name in enumerate(CURVE_METRICS, start=2)}
    blank = [None] * len(CURVE_METRICS)
    rows = {(run, epoch): [run, epoch, *blank, at] for run, epoch, at in epochs}
    for run, name, epoch, value in points:
        rows[(run, epoch)][column[name]] = value
    return curve_table_frame([tuple(row) for row in rows.values()])


# What is timed ---------------------------------------------------------------------------------


def list_runs_frame(database: Database) -> pd.DataFrame:
    """The Runs page: every run as a DataFrame (db.runs.run_table: driver rows)."""
    with database.read() as session:
        return run_table_frame(run_table(session, RUN_FIELDS, json_as_text=LAZY_JSON))


def list_runs_orm(database: Database) -> pd.DataFrame:
    """The naive list: ORM rows -> RunRecord dataclasses -> DataFrame."""
    with database.read() as session:
        return runs_frame(list_runs(session))


def curves_orm(database: Database, ids: list[int]) -> pd.DataFrame:
    """Today's curves fetch: ORM rows -> EpochRecord dataclasses -> DataFrame."""
    with database.read() as session:
        return curves_frame(load_curves(session, ids))


def picker_names(database: Database, ids: list[int]) -> dict[str, int]:
    """Compare's metric picker: every metric name of the chosen runs."""
    with database.read() as session:
        return metric_names(session, ids)


def curves_columns(database: Database, ids: list[int]) -> pd.DataFrame:
    """The page's curves fetch: db.metrics.curve_table (driver rows) -> DataFrame."""
    with database.read() as session:
        return curve_table_frame(curve_table(session, ids))


ANY_METRIC = ("auc", "val_auc")


def curves_any_metric(database: Database, ids: list[int]) -> pd.DataFrame:
    """The page's curves fetch with `auc` picked: the six standard names plus the pair."""
    names = (*CURVE_METRICS, *ANY_METRIC)
    with database.read() as session:
        return curve_table_frame(metric_table(session, ids, names), names)


def compare_inputs(runs: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """What the Compare page hands the figure: hyper-parameters, names, repeats; and the
    differing columns the hover describes."""
    params = knobs.hyperparameters(runs)
    drawn = params.reset_index()
    drawn["name"] = runs["name"].to_numpy()
    drawn["repeat"] = knobs.repeat_groups(params).to_numpy()
    return drawn, knobs.differing(params)


def our_figure(curves: pd.DataFrame, runs: pd.DataFrame) -> str:
    drawn, differing = compare_inputs(runs)
    options = CurveOptions(color_by="optimizer", dash_by=None)
    return serialise(charts.compare_figure(curves, drawn, options, describe=differing))


def any_metric_figure(curves: pd.DataFrame, runs: pd.DataFrame) -> str:
    """Accuracy, loss and auc panels, stars on each run's best val_auc."""
    drawn, differing = compare_inputs(runs)
    options = CurveOptions(metrics=(*DEFAULT_METRICS, *ANY_METRIC), color_by="optimizer")
    return serialise(charts.compare_figure(curves, drawn, options, describe=differing))


def serialise(figure: go.Figure) -> str:
    """What `st.plotly_chart` sends (streamlit/elements/plotly_chart.py, Streamlit 1.67)."""
    return str(plotly.io.to_json(figure, validate=False))


def naive_figure(curves: pd.DataFrame, runs: pd.DataFrame) -> str:
    """One trace per run and series, as one writes it first; same panels, colours, hover."""
    figure = make_subplots(rows=1, cols=2, subplot_titles=["accuracy", "loss"])
    colors = dict(zip(OPTIMIZERS, charts.PALETTE, strict=False))
    for run in runs.itertuples():
        data = curves[curves["run_id"] == run.id]
        for col, (train, val) in enumerate((("accuracy", "val_accuracy"), ("loss", "val_loss"))):
            for series, dash in ((train, "solid"), (val, "dash")):
                figure.add_trace(
                    go.Scatter(
                        x=data["epoch"], y=data[series], mode="lines",
                        name=f"optimizer={run.optimizer}", legendgroup=str(run.optimizer),
                        line={"color": colors[str(run.optimizer)], "dash": dash},
                        hovertemplate=f"#{run.id} {run.name}<br>epoch %{{x}}<br>{series} %{{y}}",
                    ),
                    row=1, col=col + 1,
                )  # fmt: skip
    return serialise(figure)


def timed(function: Callable[[], T]) -> tuple[float, float, T]:
    """Wall and CPU milliseconds of one call, and its result.

    CPU time (this process, all threads) is the steadier number on a shared machine: waiting
    for a core does not count. SQLite runs in-process, so queries are included.
    """
    wall, cpu = time.perf_counter(), time.process_time()
    result = function()
    return (time.perf_counter() - wall) * 1000, (time.process_time() - cpu) * 1000, result


def runs_table_arrow(runs: pd.DataFrame) -> bytes:
    """What `st.dataframe` sends for the Runs page's table: its columns as Arrow bytes."""
    table = pick(runs.assign(open=run_links(runs["id"])), RUNS_COLUMNS)
    return bytes(dataframe_util.convert_anything_to_arrow_bytes(table))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--epochs", type=int, default=50)
    parser.add_argument("--compare", type=int, default=200, help="runs in the Compare view")
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as folder:
        database = Database(f"sqlite:///{Path(folder) / 'bench.db'}")
        upgrade(database.engine)
        seconds, _, _ = timed(lambda: seed_lab(database, args.runs, args.epochs))
        seed_long_layout(database)
        print(f"seeded {args.runs} runs x {args.epochs} epochs in {seconds / 1000:.1f} s")
        rows, summary = measure(database, args)
        database.dispose()
    print(format_table(["step", "wall ms", "CPU ms", "what"], rows))
    print(machine_line(plotly=plotly.__version__, streamlit=streamlit.__version__))
    print(summary)


STEPS: dict[str, str] = {
    "list": "list runs (driver rows, as the page does)",
    "list_orm": "list runs via ORM records (naive)",
    "arrow": "runs table -> Arrow (st.dataframe)",
    "names": "metric names of the chosen runs",
    "curves": "fetch curves (driver rows, as the page does)",
    "curves_orm": "fetch curves via ORM objects (naive)",
    "curves_long": "fetch curves, one row per value (layout not chosen)",
    "figure": "compare figure + to_json",
    "naive": "naive figure (one trace per run) + to_json",
    "curves_any": "fetch curves with auc/val_auc picked",
    "figure_any": "compare figure with an auc panel + to_json",
}
OURS = ("list", "names", "curves", "figure")
NAIVE = ("list_orm", "curves_orm", "naive")
ANY = ("list", "names", "curves_any", "figure_any")


def measure(database: Database, args: argparse.Namespace) -> tuple[list[list[object]], str]:
    """Run every step `args.repeat` times; medians of wall and CPU ms, and the headline."""
    wall: dict[str, list[float]] = {}
    cpu: dict[str, list[float]] = {}

    def sample(name: str, function: Callable[[], T]) -> T:
        gc.collect()
        wall_ms, cpu_ms, result = timed(function)
        wall.setdefault(name, []).append(wall_ms)
        cpu.setdefault(name, []).append(cpu_ms)
        return result

    for _ in range(args.repeat):
        runs = sample("list", partial(list_runs_frame, database))
        sample("list_orm", partial(list_runs_orm, database))
        sample("arrow", partial(runs_table_arrow, runs))
        # The newest runs that recorded epochs: what a 200-run Compare view draws.
        chosen = runs[runs["epochs_done"] > 0].head(args.compare)
        ids = sorted(int(i) for i in chosen["id"])
        sample("names", partial(picker_names, database, ids))
        curves = sample("curves", partial(curves_columns, database, ids))
        sample("curves_orm", partial(curves_orm, database, ids))
        long = sample("curves_long", partial(curves_long_layout, database, ids))
        pd.testing.assert_frame_equal(long, curves)  # both layouts hold the same values
        sample("figure", partial(our_figure, curves, chosen))
        sample("naive", partial(naive_figure, curves, chosen))
        wider = sample("curves_any", partial(curves_any_metric, database, ids))
        sample("figure_any", partial(any_metric_figure, wider, chosen))
    w = {k: statistics.median(v) for k, v in wall.items()}
    c = {k: statistics.median(v) for k, v in cpu.items()}
    what = {
        "list": f"{args.runs} runs",
        "names": f"{args.compare} runs",
        "curves": f"{args.compare} runs x {args.epochs} epochs",
        "curves_any": "8 names instead of 6",
    }
    rows: list[list[object]] = [
        [label, f"{w[key]:.0f}", f"{c[key]:.0f}", what.get(key, "")] for key, label in STEPS.items()
    ]
    totals = (("total, ours", OURS), ("total, naive", NAIVE), ("total, auc picked", ANY))
    for label, keys in totals:
        rows.append([label, f"{sum(w[k] for k in keys):.0f}", f"{sum(c[k] for k in keys):.0f}",
                     " + ".join(keys)])  # fmt: skip
    return rows, headline(args.compare, w, c)


def headline(count: int, wall: dict[str, float], cpu: dict[str, float]) -> str:
    """Total server time for `count` runs (list + metric names + curves + figure) and the
    naive build's ratio."""
    ours = sum(wall[k] for k in OURS)
    naive = sum(wall[k] for k in NAIVE)
    ours_cpu = sum(cpu[k] for k in OURS)
    any_metric = sum(wall[k] for k in ANY)
    return (
        f"{count} runs: {ours:.0f} ms server-side ({ours_cpu:.0f} ms CPU), "
        f"{any_metric:.0f} ms with auc picked too; naive build "
        f"{naive:.0f} ms: {naive / ours:.1f}x faster (figure + JSON alone "
        f"{wall['naive'] / wall['figure']:.1f}x; curves from one JSON object per epoch vs one "
        f"row per value {cpu['curves_long'] / cpu['curves']:.1f}x in CPU)"
    )


if __name__ == "__main__":
    main()
