"""`python -m trainer delete RUN_ID...`: delete finished or queued runs with their stored files."""

from __future__ import annotations

import argparse
import sys

from db.artifact_store import open_store, remove_run
from db.migrate import check_schema
from db.session import Database
from settings import Settings


def cmd_delete(args: argparse.Namespace, settings: Settings) -> int:
    """Delete each run (not a running one): its rows, then its models and checkpoints."""
    database = Database(settings.database_url)
    database.check_connection()
    check_schema(database.engine)
    store = open_store(settings.artifacts, database)
    refused = 0
    for run_id in args.run_ids:
        if remove_run(database, store, run_id):
            print(f"deleted run {run_id}")
        else:
            print(f"error: no run {run_id}, or it is running (cancel it first)", file=sys.stderr)
            refused += 1
    return 1 if refused else 0


def add_parser(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    d = commands.add_parser("delete", help="delete runs with their models and checkpoints")
    d.add_argument("run_ids", type=int, nargs="+", metavar="RUN_ID")
    d.set_defaults(handler=cmd_delete)
