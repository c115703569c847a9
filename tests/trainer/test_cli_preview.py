"""`python -m trainer queue --dry-run`: each run's estimate, or "no estimate yet", never zero."""

from __future__ import annotations

import pytest

from trainer.cli import main

REPORT = ["queue", "--preset", "report", "--image-size", "112", "--epochs-scale", "0.2"]


def test_the_report_s_dry_run_says_no_estimate_yet_on_an_empty_lab(
    sqlite_database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without past runs the preview lists the 8 runs with "no estimate yet", not "0.0 min"."""
    monkeypatch.setenv("DATABASE_URL", sqlite_database_url)
    assert main([*REPORT, "--dry-run"]) == 0
    err = capsys.readouterr().err
    assert err.splitlines()[0] == "8 run(s); 0 repeat existing runs; no estimate yet"
    assert "  report [augmentation=off]: no estimate yet" in err
    assert "0.0 min" not in err
