"""`python -m trainer`: queue runs, run a worker, list runs and models, predict, import
other tools' logs, print a run's curves."""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import subprocess
import sys
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

from db import queue
from db.artifact_store import ArtifactStoreError, open_store
from db.metrics import run_timings
from db.migrate import SchemaMismatch
from db.runs import list_runs, runs_by_config_hash
from db.session import Database, DatabaseUnavailable, DatabaseUrlError
from experiment.config import ConfigError, ExperimentConfig
from experiment.estimate import PlannedRun, duration_text, plan, total_text
from experiment.metrics import MetricDirectionsError
from experiment.presets import OPTIONAL_COMPARISONS
from settings import Settings, SettingsError
from trainer import curves_command, exit_codes, models_cli, sync_command
from trainer import delete as delete_command
from trainer import search_cli as search_commands
from trainer.cli_common import CliError, open_database
from trainer.importers import command as import_command
from trainer.slurm import cli as slurm_commands


def cmd_queue(args: argparse.Namespace, settings: Settings) -> int:
    from experiment.configfile import load_queue_file
    from experiment.presets import report_study
    from experiment.search_space import SearchSpec

    if args.preset:
        configs: list[ExperimentConfig] = report_study(
            study=args.study or "report",
            image_size=args.image_size or 224,
            epochs_scale=args.epochs_scale,
            extra=args.extra,
        )
    elif args.file:
        loaded = load_queue_file(Path(args.file))
        if isinstance(loaded, SearchSpec):
            from trainer.search_cli import queue_search

            return queue_search(open_database(settings), loaded, dry_run=args.dry_run)
        configs = loaded
    else:
        raise CliError("give a config file (python -m trainer queue FILE.yaml) or --preset report")
    database = open_database(settings)
    planned = preview(database, configs)
    if args.dry_run or len(configs) > 1:
        _print_plan(planned)
    if args.skip_duplicates:
        configs = [p.config for p in planned if not p.duplicate_of]
    if args.dry_run or not configs:
        print("nothing queued" if not args.dry_run else "dry run: nothing queued")
        return 0
    with database.begin() as session:
        ids = queue.enqueue_many(session, [config.to_new_run() for config in configs])
    for run_id, config in zip(ids, configs, strict=True):
        print(f"{run_id}\t{config.name}" if len(ids) > 1 else run_id)
    return 0


def preview(database: Database, configs: list[ExperimentConfig]) -> list[PlannedRun]:
    """Which configs repeat an existing run, and how long each should take."""
    with database.read() as session:
        existing = runs_by_config_hash(session, [c.identity_hash() for c in configs])
        history = run_timings(session)
    return plan(configs, existing, history)


def _print_plan(planned: list[PlannedRun]) -> None:
    duplicates = sum(bool(p.duplicate_of) for p in planned)
    print(
        f"{len(planned)} run(s); {duplicates} repeat existing runs; {total_text(planned)}",
        file=sys.stderr,
    )
    for p in planned:
        same = f"  (same as run {', '.join(map(str, p.duplicate_of))})" if p.duplicate_of else ""
        print(f"  {p.config.name}: {duration_text(p.estimated_seconds)}{same}", file=sys.stderr)


def cmd_worker(args: argparse.Namespace, settings: Settings) -> int:
    from trainer.devices import DeviceError
    from trainer.worker import ShutdownFlag, WorkerOptions, run_worker

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)
    if args.gpus == "all":
        return run_worker_per_gpu(sys.argv[1:])
    shutdown = ShutdownFlag()
    shutdown.install()
    options = WorkerOptions(
        name=args.name or "",
        until_idle=args.until_idle,
        gpu=args.gpu,
        lease_grace=timedelta(seconds=args.lease_seconds),
        max_runs=args.max_runs,
        slurm_job_id=os.environ.get("SLURM_JOB_ID"),  # set inside a Slurm job
    )
    try:
        finished = run_worker(settings, options, shutdown)
    except DeviceError as error:
        raise CliError(str(error)) from None
    print(f"worker done: {finished} run(s) finished")
    return 0


def run_worker_per_gpu(argv: list[str]) -> int:
    """`worker --gpus all`: one worker process per visible GPU, stopped together."""
    from trainer.devices import visible_gpus

    count = len(visible_gpus())
    forwarded = [arg for arg in argv if arg not in ("--gpus", "all", "worker")]
    if count == 0:
        print("no GPU visible to TensorFlow: starting one CPU worker", file=sys.stderr)
        commands = [[sys.executable, "-m", "trainer", "worker", *forwarded]]
    else:
        commands = [
            [sys.executable, "-m", "trainer", "worker", "--gpu", str(i), *forwarded]
            for i in range(count)
        ]
    children = [subprocess.Popen(command) for command in commands]

    def forward(signum: int, _frame: object) -> None:
        for child in children:
            child.send_signal(signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    codes = [child.wait() for child in children]
    return max(codes, default=0)


def _run_row(run: Any) -> dict[str, Any]:
    return {
        "id": run.id,
        "name": run.name,
        "status": run.status.value,
        "source": run.source.value,
        "epochs_done": run.epochs_done,
        "epochs": run.epochs,
        "best_val_accuracy": run.best_val_accuracy,
        "stop_reason": run.stop_reason.value if run.stop_reason else None,
        "optimizer": run.optimizer,
        "batch_size": run.batch_size,
        "architecture": run.architecture,
        "total_params": run.total_params,
        "trainable_params": run.trainable_params,
        "study": run.study,
    }


def cmd_runs(args: argparse.Namespace, settings: Settings) -> int:
    database = open_database(settings)
    with database.read() as session:
        runs = list_runs(session, limit=args.limit)
    rows = [_run_row(run) for run in runs]
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    if not rows:
        print("no runs yet; queue one with: python -m trainer queue FILE.yaml")
        return 0
    print(f"{'id':>5}  {'status':<10} {'epochs':>7}  {'best val acc':>12}  name")
    for row in rows:
        best = f"{row['best_val_accuracy']:.3f}" if row["best_val_accuracy"] is not None else "-"
        epochs = f"{row['epochs_done']}/{row['epochs']}"
        print(f"{row['id']:>5}  {row['status']:<10} {epochs:>7}  {best:>12}  {row['name']}")
    return 0


def cmd_predict(args: argparse.Namespace, settings: Settings) -> int:
    from data.images import MAX_UPLOAD_BYTES, ImageError
    from trainer.predict import ModelNotAvailable, load_run_model, predict_images

    database = open_database(settings)
    try:
        store = open_store(settings.artifacts, database)
        # A worker's command line may import the run's own builder (for its custom layers).
        loaded = load_run_model(database, args.run_id, store, user_code=True)
    except ModelNotAvailable as error:
        raise CliError(str(error)) from None
    failures = 0
    for image in args.images:
        path = Path(image)
        try:
            with path.open("rb") as handle:  # never more than the cap: a huge file is refused
                data = handle.read(MAX_UPLOAD_BYTES + 1)
            probabilities = predict_images(loaded, [data], names=[str(path)])[0]
        except OSError as error:
            print(f"error: {path}: {error.strerror}", file=sys.stderr)
            failures += 1
            continue
        except ImageError as error:
            print(f"error: {error}", file=sys.stderr)
            failures += 1
            continue
        ranked = sorted(zip(loaded.class_names, probabilities, strict=True), key=lambda p: -p[1])
        print(f"{path}: " + "  ".join(f"{name} {prob:.3f}" for name, prob in ranked))
    return 1 if failures else 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m trainer", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    q = commands.add_parser("queue", help="queue runs from a YAML file (grids allowed) or a preset")
    q.add_argument("file", nargs="?", help="YAML config file")
    q.add_argument("--preset", choices=["report"], help="queue the report's whole study")
    q.add_argument("--study", help="study name for --preset (default: report)")
    q.add_argument("--image-size", type=int, help="image size for --preset (default 224)")
    q.add_argument("--epochs-scale", type=float, default=1.0, help="scale --preset's epochs")
    q.add_argument(
        "--with",
        dest="extra",
        action="append",
        default=[],
        choices=sorted(OPTIONAL_COMPARISONS),
        help="add an optional comparison to --preset report (backbones: needs ImageNet weights)",
    )
    q.add_argument(
        "--dry-run", action="store_true", help="show what would be queued, queue nothing"
    )
    q.add_argument(
        "--skip-duplicates",
        action="store_true",
        help="leave out configs identical to a queued, running or succeeded run",
    )
    q.set_defaults(handler=cmd_queue)

    w = commands.add_parser("worker", help="claim and train queued runs")
    w.add_argument("--until-idle", action="store_true", help="exit when the queue is empty")
    gpu = w.add_mutually_exclusive_group()
    gpu.add_argument("--gpu", type=int, help="pin this worker to GPU number N")
    gpu.add_argument("--gpus", choices=["all"], help="start one worker per visible GPU")
    w.add_argument("--name", help="worker name (default host:pid)")
    w.add_argument(
        "--lease-seconds",
        type=float,
        default=90.0,
        help="requeue a run whose worker has not heartbeated for this long (default 90)",
    )
    w.add_argument(
        "--max-runs",
        type=int,
        help="exit after claiming this many runs (1 for a scheduler's job: one run per job)",
    )
    w.set_defaults(handler=cmd_worker)

    r = commands.add_parser("runs", help="list runs")
    r.add_argument("--json", action="store_true", help="print JSON")
    r.add_argument("--limit", type=int, default=None)
    r.set_defaults(handler=cmd_runs)

    models_cli.add_parser(commands)

    p = commands.add_parser("predict", help="class probabilities from a finished run's model")
    p.add_argument("run_id", type=int)
    p.add_argument("images", nargs="+")
    p.set_defaults(handler=cmd_predict)

    import_command.register(commands)
    curves_command.register(commands)
    sync_command.register(commands)
    delete_command.add_parser(commands)
    search_commands.add_search_commands(commands)
    slurm_commands.add_slurm_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "models" and not (
        1 <= args.classes <= 10_000 and 16 <= args.image_size <= 1024
    ):
        parser.error("--classes must be 1..10000 and --image-size 16..1024")
    if args.command == "queue" and args.epochs_scale <= 0:
        parser.error("--epochs-scale must be > 0")
    if args.command == "queue" and args.extra and not args.preset:
        parser.error("--with adds to --preset report")
    if args.command == "worker" and args.lease_seconds < 5:
        parser.error("--lease-seconds must be at least 5 (workers heartbeat every 2 s)")
    if args.command == "worker" and args.max_runs is not None and args.max_runs < 1:
        parser.error("--max-runs must be at least 1")
    try:
        return int(args.handler(args, Settings.from_env()))
    except DatabaseUnavailable as error:  # may pass: a scheduler should try again later
        print(f"error: {error}", file=sys.stderr)
        return exit_codes.DATABASE_UNAVAILABLE
    except (
        CliError,
        ConfigError,
        DatabaseUrlError,
        SchemaMismatch,
        MetricDirectionsError,
        SettingsError,
        ArtifactStoreError,
    ) as error:
        print(f"error: {error}", file=sys.stderr)
        return exit_codes.CONFIG_ERROR
