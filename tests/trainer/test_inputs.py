"""A run's inputs: the scan through the cache, the plan, decoded files, heartbeats meanwhile."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

import trainer.inputs
from data.loader import scan_dataset, stratified_split
from data.memory import MemorySetting
from db.queue import Heartbeat
from experiment.config import parse_config
from settings import Settings
from trainer.inputs import (
    PreparationStopped,
    build_inputs,
    input_info,
    plan_for_run,
    scan_for_run,
)


@dataclass
class FakeReporter:
    """The parts of RunReporter the input preparation uses; counts heartbeats."""

    run_id: int = 7
    held: bool = True
    workers: int = 1
    beats: list[bool] = field(default_factory=list)
    released: bool = False

    def release(self) -> bool:
        self.released = True
        return True

    def heartbeat(self) -> Heartbeat:
        self.beats.append(self.held)
        return Heartbeat(held=self.held)

    def workers_on_host(self) -> int:
        return self.workers


def _settings(tmp_path: Path, **fields: Any) -> Settings:
    return Settings(database_url="sqlite://", dataset_dir=tmp_path, var_dir=tmp_path, **fields)


def test_scan_heartbeats_and_stops_when_the_run_is_taken_over(
    tiny_sample: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A lost lease found by a heartbeat during the scan stops it; nothing is handed back."""
    monkeypatch.setattr(trainer.inputs, "HEARTBEAT_SECONDS", 0.0)
    reporter = FakeReporter(held=False)
    with pytest.raises(PreparationStopped, match="run 7 was taken over while verifying"):
        scan_for_run(tiny_sample, reporter, None)  # type: ignore[arg-type]
    assert reporter.beats == [False] and not reporter.released


def test_a_worker_shutting_down_hands_the_run_back_during_preparation(
    tiny_sample: Path, tmp_path: Path
) -> None:
    """A shutdown while the memory cache fills releases the run and stops at once."""
    config = parse_config(
        {"name": "t", "dataset": str(tiny_sample), "image_size": 16, "architecture": "resnet20"}
    )
    train, validation = stratified_split(scan_dataset(tiny_sample), 0.25, seed=0)
    reporter = FakeReporter()
    plan = plan_for_run(reporter, None, 24, 16)  # type: ignore[arg-type]
    assert plan.mode == "memory"
    with pytest.raises(PreparationStopped, match="run 7 handed back while decoding"):
        build_inputs(
            config,
            plan,
            train,
            validation,
            None,
            reporter,
            None,
            shutdown=lambda: True,  # type: ignore[arg-type]
        )
    assert reporter.released


def test_an_unusable_file_cache_is_a_warning_not_a_failure(
    tiny_sample: Path, tmp_path: Path
) -> None:
    """A cache dir that cannot be created: every image is checked and the run says why."""
    (tmp_path / "blocker").write_text("a file where the cache dir should be")
    settings = _settings(tmp_path, cache_dir=tmp_path / "blocker")
    index, notes = scan_for_run(tiny_sample, FakeReporter(), settings)  # type: ignore[arg-type]
    assert len(index.files) == 24
    (note,) = notes
    assert "dataset file cache" in note and "set LAB_CACHE_DIR to a writable folder" in note


def test_a_run_over_its_budget_reads_decoded_files_and_says_why(
    tiny_sample: Path, tmp_path: Path
) -> None:
    """LAB_DATA_MEMORY=0 with room on disk: decoded files, recorded in the environment."""
    settings = _settings(tmp_path, cache_dir=tmp_path / "cache", data_memory=MemorySetting(size=0))
    config = parse_config(
        {"name": "t", "dataset": str(tiny_sample), "image_size": 16, "architecture": "resnet20"}
    )
    index = scan_dataset(tiny_sample)
    train, validation = stratified_split(index, 0.25, seed=0)
    reporter = FakeReporter(workers=3)
    plan = plan_for_run(reporter, settings, 24, 16)  # type: ignore[arg-type]
    inputs = build_inputs(config, plan, train, validation, None, reporter, settings)  # type: ignore[arg-type]
    assert inputs.plan.mode == "disk" and inputs.decoded is not None
    assert len(list(inputs.train.take(1))) == 1
    info = input_info(index, inputs.plan)
    assert info["input_pipeline"] == "disk" and info["dataset_images"] == 24
    assert (
        "over the memory budget of 0 bytes (LAB_DATA_MEMORY=0 bytes per worker)"
        in (info["input_pipeline_reason"])
    )
    inputs.close()
    assert list((tmp_path / "cache" / "decoded").iterdir()) == []


def test_decoded_files_that_cannot_be_written_mean_streaming(
    tiny_sample: Path, tmp_path: Path
) -> None:
    """A decoded dir that cannot be created turns the plan into streaming, with a note."""
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / "decoded").write_text("a file where the folder should be")
    settings = _settings(tmp_path, cache_dir=tmp_path / "cache", data_memory=MemorySetting(size=0))
    config = parse_config(
        {"name": "t", "dataset": str(tiny_sample), "image_size": 16, "architecture": "resnet20"}
    )
    train, validation = stratified_split(scan_dataset(tiny_sample), 0.25, seed=0)
    reporter = FakeReporter()
    plan = plan_for_run(reporter, settings, 24, 16)  # type: ignore[arg-type]
    assert plan.mode == "disk"
    inputs = build_inputs(config, plan, train, validation, None, reporter, settings)  # type: ignore[arg-type]
    assert inputs.plan.mode == "stream" and inputs.decoded is None
    (note,) = inputs.notes
    assert note.startswith("decoded images could not be written") and "streamed" in note
    assert len(list(inputs.train.take(1))) == 1
