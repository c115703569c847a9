"""Time estimates from recorded run times: images per second, pixels, overhead, no zeros."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import update

from db import queue
from db.entities import EpochRecord, PredictionRecord
from db.evaluation import save_evaluation
from db.metrics import RunTiming, record_epoch, run_timings
from db.models import Run, RunStatus, StopReason
from db.runs import runs_by_config_hash
from db.session import Database
from experiment.config import parse_config
from experiment.estimate import (
    dataset_images,
    duration_text,
    estimate_run,
    images_per_second,
    plan,
    total_text,
)
from experiment.grid import expand
from experiment.presets import report_study

SAMPLE = "var/data/weather-sample"


def recorded(**changes: object) -> RunTiming:
    """Run 1 of a lab on this machine: report_cnn at 106 px, batch 32, one pass over the 900
    training images per epoch (225 validation images), epochs of 7.35, 0.51 and 0.78 s, 16.3 s
    from start to finish."""
    fields: dict[str, object] = {
        "architecture": "report_cnn", "image_size": 106, "batch_size": 32, "dataset": SAMPLE,
        "steps_per_epoch": None, "validation_steps": None, "validation_split": 0.2,
        "validation_images": 225, "epochs": 3, "first_epoch_seconds": 7.35,
        "steady_epoch_seconds": (0.51 + 0.78) / 2, "run_seconds": 16.34,
    }  # fmt: skip
    fields.update(changes)
    return RunTiming(**fields)  # type: ignore[arg-type]


def config(**fields: object):  # type: ignore[no-untyped-def]
    return parse_config({"name": "x", "dataset": SAMPLE, "image_size": 106, **fields})


def test_identity_hash_ignores_labels_but_not_knobs() -> None:
    """Name, tags, priority and study do not change the hash; a knob does."""
    a = parse_config({"name": "a", "tags": ["x"], "priority": 1})
    b = parse_config({"name": "b", "study": "s"})
    c = parse_config({"name": "a", "batch_size": 32})
    assert a.identity_hash() == b.identity_hash() != c.identity_hash()


def test_an_epoch_costs_its_images_over_the_measured_images_per_second() -> None:
    """900 training + 225/3 validation images in 0.645 s: 70 steps of 16 take 1195/1511.6 s."""
    history = [recorded()]
    rate = (900 + 225 / 3) / 0.645
    assert images_per_second(config(), history) == pytest.approx(rate)
    estimate = estimate_run(config(batch_size=16, steps_per_epoch=70, epochs=10), history)
    assert estimate is not None
    assert estimate.epoch_seconds == pytest.approx((70 * 16 + 225 / 3) / rate)


def test_overhead_is_the_run_time_outside_its_steady_epochs() -> None:
    """16.34 s less 3 epochs at 0.645 s: 14.4 s of start-up, tracing and evaluation per run."""
    estimate = estimate_run(config(epochs=5), [recorded()])
    assert estimate is not None
    assert estimate.overhead_seconds == pytest.approx(16.34 - 3 * 0.645)
    assert estimate.total_seconds == pytest.approx(
        estimate.overhead_seconds + 5 * estimate.epoch_seconds
    )


def test_an_unseen_image_size_scales_by_pixels() -> None:
    """Measured at 106 px only: at 212 px an epoch takes four times as long."""
    history = [recorded()]
    small = estimate_run(config(), history)
    large = estimate_run(config(image_size=212), history)
    assert small is not None and large is not None
    assert large.epoch_seconds == pytest.approx(4 * small.epoch_seconds)


def test_the_same_size_and_batch_size_are_preferred() -> None:
    """A run at the config's own size and batch size sets the pace, not one at another size."""
    history = [
        recorded(steady_epoch_seconds=2.0),
        recorded(batch_size=16, steady_epoch_seconds=1.0),
        recorded(image_size=224, batch_size=16, steady_epoch_seconds=100.0),
    ]
    assert images_per_second(config(batch_size=16), history) == pytest.approx(975 / 1.0)
    median = (975 / 2.0 + 975 / 1.0) / 2  # no run at batch 64: both 106 px runs count
    assert images_per_second(config(batch_size=64), history) == pytest.approx(median)


def test_no_history_means_no_estimate_never_zero() -> None:
    """Another architecture, or one pass over a dataset never seen: "no estimate yet"."""
    history = [recorded()]
    assert estimate_run(config(architecture="resnet20"), history) is None
    assert estimate_run(config(dataset="elsewhere"), history) is None
    assert estimate_run(config(dataset="elsewhere", steps_per_epoch=10), history) is not None
    unevaluated = [recorded(validation_images=0)]
    assert estimate_run(config(batch_size=32), unevaluated) is not None  # the same epochs
    planned = plan([config(architecture="resnet20")], {}, history)
    assert planned[0].estimated_seconds is None
    assert total_text(planned) == "no estimate yet"
    assert duration_text(None) == "no estimate yet"
    assert duration_text(0.2) == "~1 s"


def test_an_unevaluated_run_with_the_same_epochs_sets_the_pace() -> None:
    """No dataset size yet: a run with the same dataset, batch and steps gives its epoch time."""
    history = [recorded(validation_images=0, steady_epoch_seconds=2.0)]
    estimate = estimate_run(config(image_size=212, batch_size=32), history)
    assert estimate is not None and estimate.epoch_seconds == pytest.approx(8.0)
    assert estimate_run(config(batch_size=16), history) is None


def test_the_dataset_size_comes_from_an_evaluated_run_on_it() -> None:
    """225 validation images at a 0.2 split: 1,125 images; unevaluated runs do not count."""
    assert dataset_images(SAMPLE, [recorded(validation_images=0), recorded()]) == 1125
    assert dataset_images("elsewhere", [recorded()]) is None


def test_the_report_study_is_estimated_from_one_run_per_architecture() -> None:
    """Every run of the report preset at 112 px has an estimate once both architectures ran."""
    history = [recorded(image_size=112), recorded(architecture="resnet20", image_size=112)]
    study = report_study(image_size=112, epochs_scale=0.2, dataset=SAMPLE)
    planned = plan(study, {}, history)
    assert len(planned) == 8 and all(p.estimated_seconds for p in planned)
    assert total_text(planned).startswith("at most ~")


def test_run_timings_read_what_a_worker_records(database: Database) -> None:
    """Epoch times, stored verdicts and start-to-finish time of a succeeded first attempt."""
    first = parse_config({"name": "done", "optimizer": "sgd", "epochs": 3})
    with database.begin() as session:
        run_id = queue.enqueue(session, first.to_new_run())
        queue.enqueue(session, parse_config({"name": "waiting"}).to_new_run())
    with database.begin() as session:
        claimed = queue.claim_next(session, "w")
    assert claimed is not None and claimed.id == run_id
    for epoch, seconds in ((1, 7.0), (2, 2.0), (3, 4.0)):
        with database.begin() as session:
            record_epoch(
                session, run_id, claimed.attempt, EpochRecord(epoch, epoch_seconds=seconds)
            )
    verdicts = [PredictionRecord(run_id, i, f"{i}.jpg", 0, 0, 0.9, (0.9, 0.1)) for i in range(5)]
    with database.begin() as session:
        save_evaluation(session, run_id, claimed.attempt, {"images": 5}, verdicts, [None] * 5)
        queue.finish_run(
            session, run_id, claimed.attempt,
            status=RunStatus.SUCCEEDED, stop_reason=StopReason.COMPLETED,
        )  # fmt: skip
        started = session.get_one(Run, run_id).finished_at - timedelta(seconds=30)
        session.execute(update(Run).where(Run.id == run_id).values(started_at=started))
    with database.read() as session:
        [timing] = run_timings(session)
    assert (timing.architecture, timing.batch_size, timing.steps_per_epoch) == (
        "report_cnn",
        16,
        None,
    )
    assert (timing.epochs, timing.first_epoch_seconds) == (3, 7.0)
    assert timing.steady_epoch_seconds == pytest.approx(3.0)
    assert timing.validation_images == 5
    assert timing.run_seconds == pytest.approx(30.0, abs=1.0)


def test_plan_flags_duplicates(sqlite_database_url: str) -> None:
    """A grid config equal to a queued run is flagged with its id; the other is not."""
    database = Database(sqlite_database_url)
    with database.begin() as session:
        run_id = queue.enqueue(
            session, parse_config({"name": "a", "optimizer": "sgd"}).to_new_run()
        )
    configs = expand({"name": "grid"}, {"optimizer": ["sgd", "adam"]})
    with database.read() as session:
        existing = runs_by_config_hash(session, [c.identity_hash() for c in configs])
    planned = plan(configs, existing, [])
    assert [p.duplicate_of for p in planned] == [(run_id,), ()]
