"""Run filters: parsed from the URL, written back, applied to a runs frame."""

from __future__ import annotations

import pandas as pd

from dashboard.run_filter import RunFilter


def _runs() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": [1, 2, 3],
            "name": ["Adam baseline", "sgd-fast", "adam slow"],
            "status": ["succeeded", "running", "failed"],
            "study": ["report", "report", None],
            "tags": ["baseline, v2", "", "v2"],
            "optimizer": ["adam", "sgd", "adam"],
            "learning_rate": [0.001, 0.01, 0.001],
            "batch_size": [16, 32, 16],
            "architecture": ["report_cnn"] * 3,
            "epochs": [30, 30, 50],
            "image_size": [112] * 3,
            "augmented": [True, False, True],
            "seed": [0, 0, 1],
            "config": [
                {"early_stopping": {"patience": 4}},
                {"early_stopping": None},
                {"early_stopping": {"patience": 6}},
            ],
        }
    )


def _ids(run_filter: RunFilter) -> list[int]:
    return run_filter.apply(_runs())["id"].tolist()


def test_url_params_round_trip() -> None:
    """A filter read from the URL writes the same parameters back; unset ones are None."""
    params = {"q": "adam", "status": "failed,running", "study": "report", "optimizer": "sgd"}
    written = RunFilter.from_params(params).to_params()
    assert {k: v for k, v in written.items() if v} == params
    assert written["tag"] is None


def test_empty_filter_matches_everything() -> None:
    """No conditions: every run, and the filter says it is inactive."""
    assert _ids(RunFilter()) == [1, 2, 3] and not RunFilter().active


def test_words_must_all_appear_in_the_name_case_insensitively() -> None:
    """`adam slow` matches only the run whose name has both words."""
    assert _ids(RunFilter(text="adam")) == [1, 3]
    assert _ids(RunFilter(text="ADAM slow")) == [3]


def test_field_terms_match_nested_config_values() -> None:
    """`early_stopping.patience=4` looks inside the config."""
    assert _ids(RunFilter(text="early_stopping.patience=4")) == [1]


def test_field_terms_match_key_knobs_as_shown() -> None:
    """`augmented=no` matches the yes/no text a table shows."""
    assert _ids(RunFilter(text="augmented=no")) == [2]


def test_knob_filter_allows_any_listed_value() -> None:
    """learning_rate=0.001 keeps the runs with that rate, compared as shown text."""
    assert _ids(RunFilter(knobs=(("learning_rate", ("0.001",)),))) == [1, 3]


def test_status_study_and_tag_combine() -> None:
    """Conditions are AND-ed: study report, tag v2 leaves one run."""
    assert _ids(RunFilter(study="report", tags=("v2",))) == [1]
    assert _ids(RunFilter(statuses=("running", "failed"))) == [2, 3]


def test_source_filter_keeps_the_picked_sources() -> None:
    """?source=import,script keeps runs of those sources and writes the same parameter back."""
    runs = _runs().assign(source=["queued", "import", "script"])
    run_filter = RunFilter.from_params({"source": "import,script"})
    assert run_filter.apply(runs)["id"].tolist() == [2, 3]
    assert run_filter.to_params()["source"] == "import,script" and run_filter.active
