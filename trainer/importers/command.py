"""`python -m trainer import PATH`: read every run under PATH, then write them in one
transaction (all or nothing); runs whose files were imported before are skipped unless
`--again`."""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from db.entities import EpochRecord, ImportedRun, NewRun, StepRecord
from db.imports import imported_as, save_imported_run
from db.models import RunSource
from db.session import Database
from experiment.foreign import knob_values
from settings import Settings
from trainer.importers.csv_logger import read_csv_logger
from trainer.importers.runlog import LogError, RunLog
from trainer.importers.sources import LogFormat, LogSource, find_sources
from trainer.importers.tensorboard import read_tensorboard

MAX_NAME = 200
MAX_TAG = 50


class ImportFailed(RuntimeError):
    """Some runs could not be read; each reason was printed and nothing was written."""


@dataclass(frozen=True)
class ImportOptions:
    """What the user asked for: names, grouping, and whether to import known files again."""

    name: str | None = None
    study: str | None = None
    tags: tuple[str, ...] = ()
    again: bool = False


def register(commands: Any) -> None:
    """Add `import` to the CLI's sub-commands (`trainer/cli.py`)."""
    parser = commands.add_parser(
        "import", help="import runs from TensorBoard event files or Keras CSVLogger files"
    )
    parser.add_argument("path", type=Path, help="a TensorBoard log folder, a CSV file, or a "
                        "folder of several runs")  # fmt: skip
    parser.add_argument("--name", help="run name (several runs: NAME/sub-folder)")
    parser.add_argument("--study", help="put the imported runs in this study")
    parser.add_argument("--tags", default="", help="comma-separated tags, e.g. baseline,tf1")
    parser.add_argument(
        "--again", action="store_true", help="import files that were imported before once more"
    )
    parser.set_defaults(handler=main)


def main(args: argparse.Namespace, settings: Settings) -> int:
    from trainer.cli_common import CliError, open_database

    try:
        options = options_from(args)
    except ValueError as error:
        raise CliError(str(error)) from None
    database = open_database(settings)
    try:
        import_path(database, args.path, options)
    except (LogError, ImportFailed) as error:
        raise CliError(str(error)) from None
    finally:
        database.dispose()
    return 0


def options_from(args: argparse.Namespace) -> ImportOptions:
    """Validated options; ValueError names the bad one."""
    tags = tuple(dict.fromkeys(t.strip() for t in args.tags.split(",") if t.strip()))
    for tag in tags:
        if len(tag) > MAX_TAG:
            raise ValueError(f"--tags: {tag[:20]!r}... is longer than {MAX_TAG} characters")
    for flag, value in (("--name", args.name), ("--study", args.study)):
        if value is not None and not (0 < len(value.strip()) <= MAX_NAME):
            raise ValueError(f"{flag} must be 1 to {MAX_NAME} characters")
    study = args.study.strip() if args.study else None
    return ImportOptions(args.name, study, tags, args.again)


def read_log(source: LogSource) -> RunLog:
    if source.format is LogFormat.CSV:
        return read_csv_logger(source.path)
    return read_tensorboard(source)


def import_path(database: Database, path: Path, options: ImportOptions) -> list[int]:
    """Import every run under `path`; returns the new run ids (skipped ones are reported).

    Raises LogError when `path` holds nothing to import or its one run cannot be read, and
    ImportFailed when some of several runs cannot be read (each reason printed to stderr
    first); nothing is written then.
    """
    sources = find_sources(path)
    plans: list[tuple[LogSource, str, RunLog]] = []
    failures: list[LogError] = []
    for source in sources:
        shown = source.label or str(path)
        import_hash = source.content_hash()
        if not options.again:
            with database.read() as session:
                earlier = imported_as(session, import_hash)
            if earlier:
                runs = ", ".join(str(run_id) for run_id in earlier)
                print(f"{shown}: already imported as run {runs} (--again imports it once more)")
                continue
        size = source.size_bytes() / 1e6
        print(f"reading {shown} ({source.format}, {size:.1f} MB)", file=sys.stderr)
        try:
            plans.append((source, import_hash, read_log(source)))
        except LogError as error:
            failures.append(error)
            if len(sources) > 1:
                print(f"error: {error}", file=sys.stderr)
    if len(sources) == 1 and failures:
        raise LogError(f"{failures[0]}; nothing imported")
    if failures:
        raise ImportFailed(
            f"{len(failures)} of {len(sources)} runs could not be read; nothing imported"
        )
    several = len(sources) > 1
    with database.begin() as session:
        ids = [
            save_imported_run(session, imported_run(source, digest, log, options, several))
            for source, digest, log in plans
        ]
    for run_id, (source, _, log) in zip(ids, plans, strict=True):
        print(
            f"imported run {run_id}: {_name(source, options, several)} ({len(log.epochs)} "
            f"epochs, {len(log.steps)} steps, {log.points} values)"
        )
    return ids


def _name(source: LogSource, options: ImportOptions, several: bool) -> str:
    if options.name and several:
        return f"{options.name.strip()}/{source.default_name}"[:MAX_NAME]
    return (options.name or source.default_name).strip()[:MAX_NAME] or "imported"


def imported_run(
    source: LogSource, import_hash: str, log: RunLog, options: ImportOptions, several: bool
) -> ImportedRun:
    """What the database stores for one read log: a finished run of source import."""
    knobs = knob_values(log.config)
    epochs_done = max(log.epochs, default=0)
    planned = knobs.pop("epochs", None)
    new = NewRun(
        name=_name(source, options, several),
        config=dict(log.config),
        dataset=knobs.get("dataset"),
        architecture=knobs.get("architecture"),
        optimizer=knobs.get("optimizer"),
        learning_rate=knobs.get("learning_rate"),
        batch_size=knobs.get("batch_size"),
        epochs=max(planned or 0, epochs_done),
        image_size=knobs.get("image_size"),
        augmented=None,
        seed=knobs.get("seed"),
        tags=options.tags,
        study=options.study,
        source=RunSource.IMPORT,
        import_hash=import_hash,
    )
    base = source.path if source.path.is_dir() else source.path.parent
    return ImportedRun(
        run=new,
        epochs=tuple(
            EpochRecord(epoch, values, recorded_at=log.epoch_times.get(epoch))
            for epoch, values in sorted(log.epochs.items())
        ),
        steps=tuple(
            StepRecord(step, values, log.step_times.get(step))
            for step, values in sorted(log.steps.items())
        ),
        started_at=log.started_at,
        finished_at=log.finished_at,
        stop_detail=f"imported from {source.path} ({_FORMATS[source.format]})",
        environment={
            "imported_from": str(source.path.resolve()),
            "format": source.format.value,
            "files": [file.relative_to(base).as_posix() for file in source.files],
        },
        warnings=tuple(log.notes),
    )


_FORMATS = {LogFormat.TENSORBOARD: "TensorBoard event files", LogFormat.CSV: "Keras CSVLogger"}
