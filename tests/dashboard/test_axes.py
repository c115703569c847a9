"""Epoch axes tick at whole epochs."""

from __future__ import annotations

import pytest

from dashboard.axes import epoch_ticks


@pytest.mark.parametrize(
    ("last", "step"), [(1, 1), (3, 1), (10, 1), (11, 2), (30, 5), (50, 5), (101, 20), (5000, 500)]
)
def test_epoch_ticks_are_whole_and_few(last: int, step: int) -> None:
    """A round whole step keeps about ten ticks at most; labels print as integers."""
    ticks = epoch_ticks(last)
    assert ticks["dtick"] == step and ticks["tickformat"] == "d"
    assert last / step <= 10 or step == 500
