"""The report's 8-run study (a grid) against a TPE search with median pruning over the same
knobs, on the sample set: best validation accuracy and epochs trained.

    python -m bench.search [--image-size 106] [--epochs-scale 0.1] [--steps-scale 0.25]
                           [--budget 8] [--seed 0]

Both run in this process, one after the other, on a fresh SQLite file, through the real worker
loop (one worker, so the search learns from each trial before the next): the grid is
`experiment.presets.report_study`; the search varies the knobs that study varies (epochs,
batch size and steps, optimizer, architecture, augmentation) from the same base, with at most
as many runs. The sample set is generated under var/ when missing (`python -m data.sample`).
Headline: the epochs the search needed to reach the grid's best accuracy, against the grid's
total, and the target (at most half).
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select

from bench.common import format_table, machine_line
from data.sample import DEFAULT_OUT, generate
from db import queue
from db.migrate import upgrade
from db.models import Run
from db.session import Database
from experiment.config import ExperimentConfig
from experiment.presets import REPORT_AUGMENTATION, REPORT_BEST, report_study
from experiment.search_space import SearchSpec, parse_search
from experiment.searches import create_search
from settings import PROJECT_ROOT, Settings


@dataclass(frozen=True)
class Outcome:
    """One arm's runs in the order they finished: (best val accuracy, epochs trained)."""

    name: str
    runs: list[tuple[float | None, int, str]]
    seconds: float

    @property
    def epochs(self) -> int:
        return sum(epochs for _, epochs, _ in self.runs)

    @property
    def best(self) -> float:
        return max((acc for acc, _, _ in self.runs if acc is not None), default=math.nan)

    def epochs_to_reach(self, target: float) -> int | None:
        """Epochs trained until a finished run's best accuracy reached `target`."""
        total = 0
        for accuracy, epochs, _ in self.runs:
            total += epochs
            if accuracy is not None and accuracy >= target - 1e-9:
                return total
        return None


def _scaled_steps(steps: int | None, scale: float) -> int | None:
    return None if steps is None else max(1, round(steps * scale))


def grid_configs(args: argparse.Namespace) -> list[ExperimentConfig]:
    """The report's study at the bench's size: fewer epochs and steps, same comparisons."""
    configs = report_study(study="grid", image_size=args.image_size, epochs_scale=args.epochs_scale)
    return [
        c.model_copy(update={"steps_per_epoch": _scaled_steps(c.steps_per_epoch, args.steps_scale)})
        for c in configs
    ]


def search_spec(args: argparse.Namespace, grid: Sequence[ExperimentConfig]) -> SearchSpec:
    """A TPE search with median pruning over every knob the grid varies, from its base."""
    base: dict[str, Any] = {
        **REPORT_BEST,
        "name": "search",
        "image_size": args.image_size,
        "steps_per_epoch": _scaled_steps(REPORT_BEST["steps_per_epoch"], args.steps_scale),
    }
    base.pop("epochs")
    space = {
        "epochs": sorted({c.epochs for c in grid}),
        "batch_size": sorted({c.batch_size for c in grid}),
        "steps_per_epoch": sorted({c.steps_per_epoch or 0 for c in grid}),
        "optimizer": ["sgd", "adam", "adamax", "rmsprop"],
        "architecture": ["report_cnn", "resnet20"],
        "augmentation": [REPORT_AUGMENTATION, {}],
    }
    return parse_search(
        {
            **base,
            "search": {
                "objective": {"metric": "val_accuracy", "direction": "maximize"},
                "budget": args.budget,
                "parallel": 1,
                "seed": args.seed,
                "sampler": {"kind": "tpe", "startup_trials": args.startup},
                "pruner": {"kind": "median", "warmup_epochs": 1, "startup_trials": 2},
                "space": space,
            },
        },
        source="bench.search",
    )


def _finished_runs(database: Database, study: str) -> list[tuple[float | None, int, str]]:
    with database.read() as session:
        rows = session.execute(
            select(Run.best_val_accuracy, Run.epochs_done, Run.status, Run.reused_from)
            .where(Run.study == study)
            .order_by(Run.finished_at, Run.id)
        ).all()
    # A trial that reused an earlier result trained nothing.
    return [(acc, 0 if reused else epochs, status.value) for acc, epochs, status, reused in rows]


def _work(settings: Settings) -> None:
    from trainer.worker import WorkerOptions, run_worker

    run_worker(settings, WorkerOptions(until_idle=True, name="bench"))


def run_arm(name: str, folder: Path, dataset: Path, queue_it: Any) -> Outcome:
    """Queue one arm in a database of its own (a search would otherwise reuse the grid's
    results for configs they share) and train it with one worker."""
    url = f"sqlite:///{folder / f'{name}.db'}"
    database = Database(url)
    upgrade(database.engine)
    with database.begin() as session:
        queue_it(session)
    started = time.perf_counter()
    _work(Settings(url, dataset, folder))
    seconds = time.perf_counter() - started
    runs = _finished_runs(database, name)
    database.dispose()
    return Outcome(name, runs, seconds)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.search", description=__doc__)
    parser.add_argument("--image-size", type=int, default=106, help="report_cnn needs >= 106")
    parser.add_argument("--epochs-scale", type=float, default=0.1)
    parser.add_argument("--steps-scale", type=float, default=0.25)
    parser.add_argument("--budget", type=int, default=8, help="search runs (the grid has 8)")
    parser.add_argument("--startup", type=int, default=3, help="TPE's random trials first")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    dataset = PROJECT_ROOT / DEFAULT_OUT
    generate(dataset)  # a no-op when the sample set is already there
    grid = grid_configs(args)
    spec = search_spec(args, grid)
    with tempfile.TemporaryDirectory(prefix="bench-search-") as name:
        folder = Path(name)
        grid_outcome = run_arm(
            "grid", folder, dataset, lambda s: queue.enqueue_many(s, [c.to_new_run() for c in grid])
        )
        search_outcome = run_arm("search", folder, dataset, lambda s: create_search(s, spec))
    report(args, grid_outcome, search_outcome)
    return 0


def report(args: argparse.Namespace, grid: Outcome, search: Outcome) -> None:
    import tensorflow as tf

    print(machine_line(TensorFlow=tf.__version__))
    print(
        f"image {args.image_size} px, epochs x{args.epochs_scale}, steps x{args.steps_scale}, "
        f"search budget {args.budget}, seed {args.seed}"
    )
    rows = []
    for arm in (grid, search):
        states: dict[str, int] = {}
        for _, _, state in arm.runs:
            states[state] = states.get(state, 0) + 1
        reached = arm.epochs_to_reach(grid.best)
        rows.append(
            [
                arm.name,
                len(arm.runs),
                ", ".join(f"{n} {s}" for s, n in sorted(states.items())),
                f"{arm.best:.3f}",
                arm.epochs,
                "-" if reached is None else reached,
                f"{arm.seconds:.0f}",
            ]
        )
    headers = ["arm", "runs", "states", "best val acc", "epochs", "epochs to grid best", "s"]
    print(format_table(headers, rows))
    reached = search.epochs_to_reach(grid.best)
    if reached is None:
        print(
            f"search did not reach the grid's best {grid.best:.3f}: best {search.best:.3f} "
            f"(missed by {grid.best - search.best:.3f}) after {search.epochs} epochs; "
            f"grid {grid.epochs} epochs"
        )
        return
    ratio = reached / grid.epochs
    verdict = "met" if ratio <= 0.5 else "missed"
    print(
        f"epochs to the grid's best accuracy ({grid.best:.3f}): search {reached} vs grid "
        f"{grid.epochs} = {ratio:.2f} (target <= 0.50 {verdict})"
    )


if __name__ == "__main__":
    raise SystemExit(main())
