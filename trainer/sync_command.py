"""`python -m trainer sync`: send the runs scripts spooled while the database did not answer.

Each folder in the script spool (`LAB_SCRIPT_SPOOL_DIR`) is one run's outbox; its records
are replayed in order (trainer/spool.py) and the folder is removed once the database has them
all. A record whose write landed before (a sync cut off after its commit) is written again
harmlessly, so running sync twice, or after an interruption, stores each run once.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from db.artifact_store import open_store
from db.scripts import script_run_id
from db.session import DatabaseUnavailable, describe_unavailable
from settings import Settings
from trainer.outage import is_transient
from trainer.outbox import Outbox, OutboxError, replay
from trainer.spool import apply_record, spooled_runs


def register(commands: Any) -> None:
    """Add `sync` to the CLI's sub-commands (`trainer/cli.py`)."""
    parser = commands.add_parser(
        "sync", help="send runs your scripts spooled while the database did not answer"
    )
    parser.add_argument(
        "--spool",
        type=Path,
        help="the spool folder (default: LAB_SCRIPT_SPOOL_DIR, else ~/.cache/weather-lab/spool)",
    )
    parser.set_defaults(handler=main)


def main(args: argparse.Namespace, settings: Settings) -> int:
    from trainer.cli_common import CliError, open_database

    spool: Path = args.spool.expanduser() if args.spool else settings.script_spool
    folders = spooled_runs(spool)
    if not folders:
        print(f"nothing to send: no spooled runs in {spool}")
        return 0
    database = open_database(settings)
    store = open_store(settings.artifacts, database)
    failed: list[str] = []
    try:
        for folder in folders:
            try:
                outbox = Outbox(folder)
            except OutboxError as error:
                print(f"{folder.name}: skipped, {error} (a script still logging it?)")
                continue
            try:
                applied, _ = replay(outbox, lambda r, f: apply_record(database, store, r, f))
            except Exception as error:
                outbox.close()
                if is_transient(error):
                    raise DatabaseUnavailable(
                        f"{database.where} stopped answering while sending {folder.name}: "
                        f"{describe_unavailable(error)}; run sync again later"
                    ) from None
                print(f"error: {folder.name}: {error}", file=sys.stderr)
                failed.append(folder.name)
                continue
            with database.read() as session:
                run_id = script_run_id(session, folder.name)
            outbox.remove()
            print(f"sent {folder.name}: {applied} record(s), run {run_id}")
    finally:
        database.dispose()
    if failed:
        raise CliError(
            f"{len(failed)} spooled run(s) could not be sent ({', '.join(failed)}); they stay "
            f"in {spool}"
        )
    return 0
