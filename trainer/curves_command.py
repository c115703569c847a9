"""`python -m trainer curves RUN_ID`: a run's series as a table, CSV or JSON (the command-line
twin of the dashboard's Curves CSV download)."""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections.abc import Sequence
from typing import Any

from db.metrics import metric_columns, metric_names, metric_table
from db.models import MetricAxis
from db.runs import get_run
from experiment.metrics import ordered
from settings import Settings


def register(commands: Any) -> None:
    """Add `curves` to the CLI's sub-commands (`trainer/cli.py`)."""
    parser = commands.add_parser("curves", help="print a run's metric series")
    parser.add_argument("run_id", type=int)
    output = parser.add_mutually_exclusive_group()
    output.add_argument("--csv", action="store_true", help="CSV with a header line")
    output.add_argument("--json", action="store_true", help="a JSON list of rows")
    parser.add_argument(
        "--steps", action="store_true", help="per-batch (step) series instead of per-epoch ones"
    )
    parser.add_argument("--metrics", help="only these names, comma-separated (default: all)")
    parser.set_defaults(handler=main)


def main(args: argparse.Namespace, settings: Settings) -> int:
    from trainer.cli_common import CliError, open_database

    axis = MetricAxis.STEP if args.steps else MetricAxis.EPOCH
    database = open_database(settings)
    try:
        with database.read() as session:
            run = get_run(session, args.run_id)
            if run is None:
                raise CliError(f"no run {args.run_id}")
            present = ordered(metric_names(session, [run.id], axis))
            names = _chosen(args.metrics, present, axis)
            rows = metric_table(session, [run.id], names, axis)
    finally:
        database.dispose()
    columns = metric_columns(names, axis)[1:-1]  # the run is given; times are not series
    table = [row[1:-1] for row in rows]
    if args.json:
        print(json.dumps([dict(zip(columns, row, strict=True)) for row in table], indent=1))
    elif args.csv:
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows([["" if v is None else v for v in row] for row in table])
    elif not table:
        print(f"run {run.id} ({run.name}) has no {axis.value} series yet")
    else:
        print(f"run {run.id}: {run.name}")
        print(_text_table(columns, table))
    return 0


def _chosen(wanted: str | None, present: Sequence[str], axis: MetricAxis) -> list[str]:
    from trainer.cli_common import CliError

    if not wanted:
        return list(present)
    names = [name.strip() for name in wanted.split(",") if name.strip()]
    missing = [name for name in names if name not in present]
    if missing:
        shown = ", ".join(present) or "none"
        raise CliError(f"no {axis.value} series {', '.join(missing)}; the run has: {shown}")
    return names


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _text_table(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """Columns right-aligned to their widest cell, values to 4 significant digits."""
    cells = [[_cell(v) for v in row] for row in rows]
    widths = [max([len(c), *(len(row[i]) for row in cells)]) for i, c in enumerate(columns)]
    lines = ["  ".join(c.rjust(w) for c, w in zip(columns, widths, strict=True))]
    lines += ["  ".join(v.rjust(w) for v, w in zip(row, widths, strict=True)) for row in cells]
    return "\n".join(lines)
