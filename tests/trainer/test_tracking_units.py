"""LabCallback's arguments, and Predict on a script's model that takes no images."""

from __future__ import annotations

from datetime import UTC, datetime

import keras
import pytest

from db.artifacts import save_artifact
from db.entities import NewRun
from db.models import ArtifactKind, RunSource, RunStatus, StopReason
from db.scripts import FitStart, finish_fit, start_fit
from db.session import Database
from trainer.model_io import model_to_bytes
from trainer.predict import ModelNotAvailable, load_run_model
from trainer.tracking import LabCallback


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"run_id": "no spaces"}, "run_id 'no spaces'"),
        ({"run_id": "x" * 65}, "1 to 64 letters"),
        ({"config": {"when": datetime.now()}}, "plain JSON"),
        ({"config": {"lr": float("nan")}}, "plain JSON"),
        ({"name": " "}, "name: 1 to 200 characters"),
        ({"log_every_n_batches": 0}, "log_every_n_batches"),
    ],
)
def test_bad_arguments_are_refused_at_once(arguments: dict, message: str) -> None:
    """A key, config or option the run could not be stored with fails before training."""
    with pytest.raises(ValueError, match=message):
        LabCallback(**arguments)


def test_a_run_key_names_the_spool_folder(tmp_path, monkeypatch) -> None:
    """The callback's spool folder is the run key's folder in LAB_SCRIPT_SPOOL_DIR."""
    monkeypatch.setenv("LAB_SCRIPT_SPOOL_DIR", str(tmp_path))
    callback = LabCallback(run_id="exp-1.a_b")
    assert callback.spool_folder == tmp_path / "exp-1.a_b"
    assert len(LabCallback().run_id) == 32


def test_predict_refuses_a_model_that_takes_no_images(database: Database) -> None:
    """A script's model over vectors is stored, but Predict says it cannot feed it images."""
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, activation="softmax")])
    new = NewRun(
        name="vectors", config={}, dataset=None, architecture=None, optimizer=None,
        learning_rate=None, batch_size=None, epochs=1, image_size=None, augmented=None,
        seed=None, source=RunSource.SCRIPT,
    )  # fmt: skip
    now = datetime.now(UTC)
    meta = {"class_names": ["a", "b"], "image_size": None, "architecture": "vectors"}
    with database.begin() as session:
        run_id = start_fit(session, "vec", FitStart("f", new, now, epochs=1))
        assert save_artifact(session, run_id, 1, ArtifactKind.MODEL, model_to_bytes(model), meta)
        finish_fit(
            session, "vec", "f", status=RunStatus.SUCCEEDED, stop_reason=StopReason.COMPLETED,
            stop_detail=None, error=None, finished_at=now,
        )  # fmt: skip
    with pytest.raises(ModelNotAvailable, match="does not take square images"):
        load_run_model(database, run_id)
