"""`python -m trainer` commands for searches: queue one, cancel a study, list, show, extend.

Registered by trainer/cli.py; every database step is one transaction through experiment/ and
db/ functions, the same ones the dashboard calls.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from db import searches as db_searches
from db.metrics import run_timings
from db.session import Database
from experiment.search_space import SearchSpec, format_value
from experiment.search_views import describe_search, estimate_search_seconds, trial_rows
from experiment.searches import (
    Advance,
    create_search,
    extend_search,
    preview,
    search_warnings,
    spec_of,
)
from settings import Settings
from trainer.cli_common import CliError, open_database


def queue_search(database: Database, spec: SearchSpec, *, dry_run: bool) -> int:
    """Validate against the database, show the first suggestions, and (unless a dry run)
    create the search with its first trials."""
    for line in describe_search(spec):
        print(line, file=sys.stderr)
    with database.read() as session:
        notes = search_warnings(session, spec)
        history = run_timings(session)
    for note in notes:
        print(f"warning: {note}", file=sys.stderr)
    if dry_run:
        planned = preview(spec)
        print("first suggestions:", file=sys.stderr)
        for trial in planned:
            values = ", ".join(f"{k}={format_value(v)}" for k, v in trial.params.items())
            problem = f"  (invalid: {trial.error})" if trial.error else ""
            print(f"  trial {trial.trial}: {values}{problem}", file=sys.stderr)
        seconds = estimate_search_seconds(spec, planned, history)
        if seconds is not None:
            print(
                f"estimated at most {seconds / 60:.1f} min of training for {spec.budget} runs "
                "(past epochs of similar runs)",
                file=sys.stderr,
            )
        print("dry run: nothing queued")
        return 0
    try:
        with database.begin() as session:
            result = create_search(session, spec)
    except db_searches.SearchExists as error:
        raise CliError(str(error)) from None
    _print_advance(spec.name, result)
    return 0


def _print_advance(name: str, result: Advance) -> None:
    for run_id in result.queued:
        print(run_id)
    parts = [f"{len(result.queued)} trial(s) queued"]
    if result.reused:
        parts.append(f"{len(result.reused)} reused an earlier result")
    if result.invalid:
        parts.append(f"{len(result.invalid)} invalid")
    print(
        f"search {name} ({result.state.value}): {', '.join(parts)}; "
        "workers queue the next trials as runs finish",
        file=sys.stderr,
    )


def cmd_cancel(args: argparse.Namespace, settings: Settings) -> int:
    from db import queue

    if not args.study and not args.run_ids:
        raise CliError("name runs (python -m trainer cancel 12 13) or a study (--study NAME)")
    database = open_database(settings)
    with database.begin() as session:
        for run_id in args.run_ids:
            status = queue.cancel_run(session, run_id)
            if status is None:
                raise CliError(f"no run {run_id}")
            print(f"run {run_id}: {status.value}")
        if args.study:
            done = db_searches.cancel_study(session, args.study)
            if done.search is None and not (done.cancelled or done.stopping):
                raise CliError(
                    f"study {args.study!r} has no running search and no queued or running runs"
                )
    if args.study:
        search = f"search {done.search} cancelled; " if done.search else ""
        print(
            f"study {args.study}: {search}{len(done.cancelled)} queued run(s) cancelled, "
            f"{len(done.stopping)} running run(s) stop at their next heartbeat"
        )
    return 0


def cmd_search(args: argparse.Namespace, settings: Settings) -> int:
    database = open_database(settings)
    if args.action == "list":
        return _list(database)
    if not args.name:
        raise CliError(f"name the search: python -m trainer search {args.action} NAME")
    if args.action == "extend":
        return _extend(database, args)
    return _show(database, args.name, as_json=args.json)


def _list(database: Database) -> int:
    with database.read() as session:
        found = [
            (search, db_searches.search_progress(session, search.id))
            for search in db_searches.list_searches(session)
        ]
    if not found:
        print("no searches yet; queue one with: python -m trainer queue search.yaml")
        return 0
    print(f"{'name':<24} {'state':<10} {'trials':>9} {'active':>6}  objective")
    for search, progress in found:
        trials = f"{progress.finished}/{search.budget}"
        objective = f"{search.direction} {search.metric}"
        state = search.state.value
        print(f"{search.name:<24} {state:<10} {trials:>9} {progress.active:>6}  {objective}")
    return 0


def _show(database: Database, name: str, *, as_json: bool) -> int:
    with database.read() as session:
        search = db_searches.get_search(session, name)
        if search is None:
            raise CliError(f"no search named {name!r}")
        spec = spec_of(search)
        trials = db_searches.search_trials(session, search.id, spec.objective.metric)
    rows = trial_rows(spec, trials)
    if as_json:
        print(json.dumps([_jsonable(row) for row in rows], indent=2))
        return 0
    for line in describe_search(spec):
        print(line)
    print(f"state {search.state.value}")
    print(f"{'trial':>5} {'run':>5}  {'state':<10} {'objective':>9} {'epochs':>6}  values")
    for row in rows:
        value = "-" if row["objective"] is None else f"{row['objective']:.4g}"
        values = ", ".join(f"{p.name}={format_value(row[p.name])}" for p in spec.params)
        print(
            f"{row['trial']:>5} {row['run_id']:>5}  {row['state']:<10} {value:>9} "
            f"{row['epochs']:>6}  {values}"
        )
    return 0


def _jsonable(row: dict[str, Any]) -> dict[str, Any]:
    return {
        key: value.isoformat() if hasattr(value, "isoformat") else value
        for key, value in row.items()
    }


def _extend(database: Database, args: argparse.Namespace) -> int:
    with database.read() as session:
        search = db_searches.get_search(session, args.name)
    if search is None:
        raise CliError(f"no search named {args.name!r}")
    budget = args.budget if args.budget is not None else search.budget + (args.add or 0)
    if budget < 1:
        raise CliError("the budget must be at least 1")
    try:
        with database.begin() as session:
            result = extend_search(session, args.name, budget)
    except (LookupError, ValueError) as error:
        raise CliError(str(error)) from None
    print(f"search {args.name}: budget {search.budget} -> {budget}", file=sys.stderr)
    _print_advance(args.name, result)
    return 0


def add_search_commands(commands: Any) -> None:
    """Register `cancel` and `search` on the CLI's subparsers."""
    c = commands.add_parser("cancel", help="cancel runs, or a whole study and its search")
    c.add_argument("run_ids", nargs="*", type=int, help="runs to cancel")
    c.add_argument("--study", help="cancel this study's search and its queued and running runs")
    c.set_defaults(handler=cmd_cancel)

    s = commands.add_parser("search", help="list, show or extend searches")
    s.add_argument("action", choices=["list", "show", "extend"])
    s.add_argument("name", nargs="?", help="the search (its study name)")
    s.add_argument("--json", action="store_true", help="show: the trials as JSON")
    more = s.add_mutually_exclusive_group()
    more.add_argument("--budget", type=int, help="extend: the new budget (runs in all)")
    more.add_argument("--add", type=int, help="extend: this many more runs")
    s.set_defaults(handler=cmd_search)
