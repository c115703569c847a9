"""`python -m trainer slurm dispatch|jobs`: submit workers to Slurm, list the jobs followed."""

from __future__ import annotations

import argparse
import json
import logging
import os
from datetime import timedelta
from pathlib import Path
from typing import Any

from db import slurm as jobs_db
from db.entities import SlurmJobRecord
from settings import Settings
from trainer.cli_common import CliError, open_database
from trainer.slurm.commands import Slurm, missing_commands
from trainer.slurm.dispatcher import (
    DEFAULT_TEMPLATE,
    DispatchOptions,
    job_environment,
    run_dispatcher,
)
from trainer.worker import ShutdownFlag


def add_slurm_parser(commands: Any) -> None:
    """Register `slurm dispatch` and `slurm jobs` under the trainer CLI's subcommands."""
    parser = commands.add_parser("slurm", help="submit workers to Slurm and follow their jobs")
    slurm = parser.add_subparsers(dest="slurm_command", required=True)

    d = slurm.add_parser(
        "dispatch",
        help="keep up to N worker jobs pending or running for the queued runs",
        description="Run next to Slurm (a login node). Each job runs one "
        "`python -m trainer worker --max-runs 1`; see the template.",
    )
    d.add_argument(
        "--template", type=Path, default=DEFAULT_TEMPLATE, help="sbatch script for each job"
    )
    d.add_argument("--max-jobs", type=int, default=4, help="jobs pending or running at most")
    d.add_argument("--partition", help="sbatch --partition (beats the template's)")
    d.add_argument("--once", action="store_true", help="one pass, then exit (for cron)")
    d.add_argument("--name", help="this dispatcher's name (default: the host name)")
    d.add_argument("--log-dir", type=Path, help="where sbatch runs (default: var/slurm)")
    d.add_argument(
        "--lease-seconds",
        type=float,
        default=90.0,
        help="requeue a run whose worker has not heartbeated for this long (default 90)",
    )
    d.add_argument(
        "--poll-seconds",
        type=float,
        default=30.0,
        help="longest wait between two squeue calls while nothing changes (default 30)",
    )
    d.set_defaults(handler=cmd_dispatch)

    j = slurm.add_parser("jobs", help="list the Slurm jobs the lab follows, newest first")
    j.add_argument("--limit", type=int, default=30)
    j.add_argument("--json", action="store_true", help="print JSON")
    j.set_defaults(handler=cmd_jobs)


def dispatch_options(args: argparse.Namespace, settings: Settings) -> DispatchOptions:
    """The dispatcher's options from the command line, refusing ones that cannot work."""
    if args.max_jobs < 1:
        raise CliError("--max-jobs must be at least 1")
    if args.poll_seconds < 1:
        raise CliError("--poll-seconds must be at least 1 (each poll is an squeue call)")
    if args.lease_seconds < 5:
        raise CliError("--lease-seconds must be at least 5 (workers heartbeat every 2 s)")
    template = args.template.expanduser().resolve()
    if not template.is_file():
        raise CliError(f"no job template at {template}; copy {DEFAULT_TEMPLATE} and edit it")
    return DispatchOptions(
        template=template,
        max_jobs=args.max_jobs,
        partition=args.partition,
        once=args.once,
        name=args.name or "",
        log_dir=(args.log_dir or settings.var_dir / "slurm").expanduser().resolve(),
        lease_grace=timedelta(seconds=args.lease_seconds),
        poll_min=min(1.0, args.poll_seconds),
        poll_max=args.poll_seconds,
    )


def cmd_dispatch(args: argparse.Namespace, settings: Settings) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)
    options = dispatch_options(args, settings)
    missing = missing_commands()
    if missing:
        raise CliError(
            f"{', '.join(missing)} not found: run the dispatcher where Slurm's commands are "
            "(a login node)"
        )
    database = open_database(settings)
    shutdown = ShutdownFlag("stopping; the submitted jobs keep running, a new dispatcher follows")
    shutdown.install()
    environ = job_environment(settings, os.environ)
    return run_dispatcher(database, Slurm(), options, environ, shutdown)


def _job_row(job: SlurmJobRecord) -> dict[str, Any]:
    return {
        "job_id": job.job_id,
        "state": job.state,
        "reason": job.reason,
        "node": job.node,
        "run_id": job.run_id,
        "attempt": job.attempt,
        "ended_how": job.ended_how,
        "exit_code": job.exit_code,
        "log_path": job.log_path,
        "submitted_at": job.submitted_at.isoformat() if job.submitted_at else None,
    }


def cmd_jobs(args: argparse.Namespace, settings: Settings) -> int:
    database = open_database(settings)
    with database.read() as session:
        jobs = jobs_db.recent_jobs(session, limit=args.limit)
        dispatchers = jobs_db.list_dispatchers(session, timedelta(seconds=120))
    if args.json:
        print(json.dumps([_job_row(job) for job in jobs], indent=2))
        return 0
    for dispatcher in dispatchers:
        if dispatcher.last_error:
            print(f"dispatcher {dispatcher.name}: submissions fail: {dispatcher.last_error}")
    if not jobs:
        print("no Slurm jobs yet; start one with: python -m trainer slurm dispatch")
        return 0
    print(f"{'job':>10}  {'state':<11} {'run':>5}  {'node or reason':<24} log")
    for job in jobs:
        where = job.node if job.state != jobs_db.PENDING else f"({job.reason or 'waiting'})"
        run = str(job.run_id) if job.run_id is not None else "-"
        print(
            f"{job.job_id:>10}  {job.state:<11} {run:>5}  {where or '-':<24} {job.log_path or '-'}"
        )
    return 0
