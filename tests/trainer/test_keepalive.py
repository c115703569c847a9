"""Heartbeats from a side thread while a model is built (ImageNet downloads outlast leases)."""

from __future__ import annotations

import time

from trainer.keepalive import heartbeats


def test_beats_while_the_block_runs_and_stops_after() -> None:
    """Several beats during a block 10 intervals long; none once it has ended."""
    beats: list[float] = []
    with heartbeats(lambda: beats.append(time.monotonic()), interval=0.01):
        time.sleep(0.1)
    during = len(beats)
    time.sleep(0.05)
    assert during >= 3 and len(beats) == during


def test_a_failing_beat_does_not_stop_the_block_or_the_beats() -> None:
    """A database hiccup in one beat is logged; the next beat still comes."""
    calls = []

    def beat() -> None:
        calls.append(1)
        raise ConnectionError("database restarting")

    with heartbeats(beat, interval=0.01):
        time.sleep(0.08)
    assert len(calls) >= 2
