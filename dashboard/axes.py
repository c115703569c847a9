"""Axis settings the Run and Compare figures share."""

from __future__ import annotations

from typing import Any

NICE_STEPS = (1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000)


def epoch_ticks(last_epoch: int, most: int = 10) -> dict[str, Any]:
    """Plotly axis settings for whole epochs only (never 1.5): ticks from 1 at a round step
    that keeps at most about `most` of them."""
    wanted = max(1, -(-max(last_epoch, 1) // most))
    step = next((s for s in NICE_STEPS if s >= wanted), wanted)
    return {"tick0": 1 if step == 1 else 0, "dtick": step, "tickformat": "d"}
