"""Text helpers: run links."""

from __future__ import annotations

import pandas as pd

from dashboard.text import run_links


def test_run_links_point_at_the_one_run_page() -> None:
    """Each run links to its page, relatively (works under a base path): run?id=N."""
    assert run_links(pd.Series([3, 12])).tolist() == ["run?id=3", "run?id=12"]
