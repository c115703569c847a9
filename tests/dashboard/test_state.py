"""URL parameters parse forgivingly: links are hand-edited and shared."""

from __future__ import annotations

from dashboard.state import encode, parse_choices, parse_ids


def test_parse_ids_skips_junk_and_repeats() -> None:
    """`3,x,5,3,` reads as [3, 5]."""
    assert parse_ids("3,x,5,3,") == [3, 5]
    assert parse_ids(None) == []


def test_parse_choices_keeps_known_values_in_order() -> None:
    """Only allowed values survive, in the URL's order."""
    assert parse_choices("failed,bogus,running", ["running", "failed"]) == ["failed", "running"]


def test_encode_joins_lists_with_commas() -> None:
    """Lists become `3,5`; None and empty lists become an empty string (key removed)."""
    assert encode([3, 5]) == "3,5"
    assert encode(None) == encode([]) == ""
    assert encode(7) == "7"
