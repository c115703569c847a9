"""Text helpers: run and search links, stop reasons in words."""

from __future__ import annotations

import pandas as pd

from dashboard.text import run_links, search_anchor, stop_text


def test_run_links_point_at_the_one_run_page() -> None:
    """Each run links to its page, relatively (works under a base path): run?id=N."""
    assert run_links(pd.Series([3, 12])).tolist() == ["run?id=3", "run?id=12"]


def test_search_links_quote_the_name() -> None:
    """A search's link carries its name quoted; the link text is escaped Markdown."""
    assert search_anchor("lr search_1") == "[lr search\\_1](search?name=lr%20search_1)"


def test_a_pruned_stop_says_the_epoch_first() -> None:
    """The worker's "pruned: ... at epoch 3" reads "pruned at epoch 3: ..."."""
    detail = "pruned: best val_accuracy 0.41 below the median 0.55 of 4 earlier runs at epoch 3"
    assert stop_text("pruned", detail, 5) == (
        "pruned at epoch 3: best val_accuracy 0.41 below the median 0.55 of 4 earlier runs"
    )
    hyperband = "pruned: val_accuracy 0.3 not in the best 1/3 of the runs at epoch 2 (Hyperband)"
    assert stop_text("pruned", hyperband) == (
        "pruned at epoch 2: val_accuracy 0.3 not in the best 1/3 of the runs (Hyperband)"
    )
    assert stop_text("pruned", None, 4) == "pruned at epoch 4"


def test_other_stops_keep_their_detail() -> None:
    """Any other reason reads "reason: detail", and no reason reads as missing."""
    assert stop_text("completed", "all 3 epochs done") == "completed: all 3 epochs done"
    assert stop_text(None, None) == "-"
