"""Helpers every benchmark shares: a plain-text table and a one-line machine description."""

from __future__ import annotations

import argparse
import os
import platform
from collections.abc import Sequence
from pathlib import Path

__all__ = ["cpu_model", "format_table", "machine_line"]


def format_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """Lay out ``rows`` under ``headers`` as a GitHub-flavoured Markdown table.

    Markdown so the printed output pastes straight into ``bench/RESULTS.md``. The first column
    is left-aligned, the others (numbers) right-aligned.
    """
    cells = [[str(value) for value in row] for row in rows]
    widths = [max(len(h), *(len(row[i]) for row in cells)) for i, h in enumerate(headers)]

    def line(values: Sequence[str]) -> str:
        padded = [
            value.ljust(width) if i == 0 else value.rjust(width)
            for i, (value, width) in enumerate(zip(values, widths, strict=True))
        ]
        return "| " + " | ".join(padded) + " |"

    rule = ["-" * widths[0]] + ["-" * (width - 1) + ":" for width in widths[1:]]
    return "\n".join([line(headers), "| " + " | ".join(rule) + " |", *map(line, cells)])


def cpu_model() -> str:
    """The CPU's marketing name from /proc/cpuinfo, or what Python knows elsewhere."""
    try:
        for entry in Path("/proc/cpuinfo").read_text().splitlines():
            if entry.startswith("model name"):
                return entry.split(":", 1)[1].strip()
    except OSError:
        return platform.processor() or "unknown CPU"  # no /proc (not Linux)
    return platform.processor() or "unknown CPU"


def machine_line(**versions: str) -> str:
    """``nproc 2, AMD EPYC, TensorFlow 2.21.0, ...``: what a result was measured on.

    Args:
        versions: library name -> version, appended in the order given.
    """
    # sched_getaffinity is what `nproc` reports: the cores this process may actually use.
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    parts = [f"nproc {cores}", cpu_model(), *(f"{name} {v}" for name, v in versions.items())]
    return ", ".join(parts)


def positive_int(text: str) -> int:
    """An argparse type: a whole number of at least 1 (steps, rounds, images, ...)."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value
