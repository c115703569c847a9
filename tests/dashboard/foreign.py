"""Runs the lab's workers did not train, for the Runs, Compare and Run pages' tests.

`seed_foreign` adds to the `lab` fixture's runs an imported run (as `trainer import` saves a
CSVLogger file, with per-batch values) and a finished run logged by a user's own script. Both
log metrics beyond Keras's standard four: `auc` (higher is better, known),
`top_3_accuracy` (an accuracy, known) and `my_score` (a custom name of unknown direction).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert

from db.entities import EpochRecord, ImportedRun, NewRun, StepRecord
from db.imports import save_imported_run
from db.metrics import register_names
from db.models import EpochMetric, MetricAxis, Run, RunSource, RunStatus, StopReason
from tests.dashboard.conftest import Lab

IMPORTED_FROM = "/home/ana/logs/resnet-trial.csv"
# my_score is best (highest) at epoch 2 of the import, lowest at epoch 3; val_auc peaks at 3.
IMPORT_EPOCHS: tuple[dict[str, float], ...] = (
    {"loss": 0.9, "accuracy": 0.6, "val_loss": 1.0, "val_accuracy": 0.55, "auc": 0.70,
     "val_auc": 0.68, "top_3_accuracy": 0.90, "val_top_3_accuracy": 0.88, "my_score": 5.0,
     "val_my_score": 4.0},
    {"loss": 0.7, "accuracy": 0.7, "val_loss": 0.8, "val_accuracy": 0.65, "auc": 0.80,
     "val_auc": 0.74, "top_3_accuracy": 0.93, "val_top_3_accuracy": 0.91, "my_score": 9.0,
     "val_my_score": 8.0},
    {"loss": 0.5, "accuracy": 0.8, "val_loss": 0.9, "val_accuracy": 0.62, "auc": 0.85,
     "val_auc": 0.79, "top_3_accuracy": 0.95, "val_top_3_accuracy": 0.92, "my_score": 2.0,
     "val_my_score": 1.0},
)  # fmt: skip
SCRIPT_EPOCHS: tuple[dict[str, float], ...] = (
    {"loss": 0.8, "accuracy": 0.65, "val_loss": 0.85, "val_accuracy": 0.6, "auc": 0.75,
     "val_auc": 0.72, "my_score": 3.0, "val_my_score": 2.5, "epoch_seconds": 4.0},
    {"loss": 0.6, "accuracy": 0.75, "val_loss": 0.7, "val_accuracy": 0.7, "auc": 0.82,
     "val_auc": 0.77, "my_score": 6.0, "val_my_score": 7.0, "epoch_seconds": 4.0},
)  # fmt: skip
# Config keys that map onto the Queue form's fields: a script run with these can be cloned.
SCRIPT_CONFIG: dict[str, Any] = {"optimizer": "sgd", "learning_rate": 0.01, "batch_size": 32,
                                 "note": "from my notebook"}  # fmt: skip


@dataclass(frozen=True)
class ForeignLab:
    lab: Lab
    imported: int  # source import, succeeded, 3 epochs, 6 logged batches, config {"units": 64}
    script: int  # source script, succeeded, 2 epochs, config naming optimizer/lr/batch size


def _new_run(name: str, config: dict[str, Any], source: RunSource, **knobs: Any) -> NewRun:
    fields: dict[str, Any] = dict.fromkeys(
        ("dataset", "architecture", "optimizer", "learning_rate", "batch_size", "image_size",
         "augmented", "seed"),
    )  # fmt: skip
    fields.update(knobs)
    return NewRun(name=name, config=config, epochs=3, source=source, **fields)


def imported_run(lab: Lab) -> int:
    """A CSVLogger file's run as `trainer import` saves it: source import, read-only."""
    new = _new_run(
        "resnet-trial", {"units": 64}, RunSource.IMPORT, study="imported", import_hash="c" * 64
    )
    imported = ImportedRun(
        run=new,
        epochs=tuple(EpochRecord(i, values) for i, values in enumerate(IMPORT_EPOCHS, 1)),
        steps=tuple(StepRecord(step, {"batch_loss": 1.0 / step}) for step in range(1, 7)),
        stop_detail=f"imported from {IMPORTED_FROM} (Keras CSVLogger)",
        environment={"imported_from": IMPORTED_FROM, "format": "csv", "files": ["x.csv"]},
    )
    with lab.database.begin() as session:
        return save_imported_run(session, imported)


def script_run(lab: Lab) -> int:
    """A finished run logged by a user's own script (LabCallback): source script."""
    knobs = {k: SCRIPT_CONFIG[k] for k in ("optimizer", "learning_rate", "batch_size")}
    new = _new_run("my-script", dict(SCRIPT_CONFIG), RunSource.SCRIPT, **knobs)
    with lab.database.begin() as session:
        run = Run(
            **new.columns(),
            status=RunStatus.SUCCEEDED,
            stop_reason=StopReason.COMPLETED,
            attempt=1,
            epochs_done=len(SCRIPT_EPOCHS),
            cancel_requested=False,
            warnings=[],
            environment={"script": "/home/ana/train.py", "host": "laptop"},
        )
        session.add(run)
        session.flush()
        rows = [
            {"run_id": run.id, "epoch": i, "metrics": values, "attempt": 1}
            for i, values in enumerate(SCRIPT_EPOCHS, 1)
        ]
        session.execute(insert(EpochMetric), rows)
        register_names(session, run.id, MetricAxis.EPOCH, SCRIPT_EPOCHS[0])
        return run.id


def seed_foreign(lab: Lab) -> ForeignLab:
    return ForeignLab(lab, imported_run(lab), script_run(lab))
