"""What a search view shows, as pure functions of a search's spec and trials.

Each returns plain rows (lists of dicts, one key per column) that `pandas.DataFrame(rows)`
takes as they are; read the inputs with `experiment.searches.spec_of` and
`db.searches.search_trials` in one read transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from db import searches as db_searches
from db.metrics import RunTiming
from db.models import RunStatus
from db.searches import SearchProgress, SearchRecord, TrialRecord
from experiment.config import ExperimentConfig
from experiment.estimate import estimate_run
from experiment.search_space import SearchSpec

if TYPE_CHECKING:
    from experiment.searches import PlannedTrial


@dataclass(frozen=True)
class SearchView:
    """Everything the search view draws from, read in one transaction."""

    search: SearchRecord
    spec: SearchSpec
    progress: SearchProgress
    trials: tuple[TrialRecord, ...]


def read_search_view(session: Session, name_or_id: str | int) -> SearchView | None:
    """The search (by name or id), its spec, counts and trials; None if there is no such search."""
    from experiment.searches import spec_of

    search = db_searches.get_search(session, name_or_id)
    if search is None:
        return None
    spec = spec_of(search)
    trials = db_searches.search_trials(session, search.id, spec.objective.metric)
    progress = db_searches.search_progress(session, search.id)
    return SearchView(search, spec, progress, tuple(trials))


def objective_value(spec: SearchSpec, trial: TrialRecord) -> float | None:
    """A finished trial's result: the best epoch's value for a completed run (as KerasTuner
    scores a trial), the last judged value for a pruned one; None otherwise."""
    values = trial.series.values
    if trial.status is RunStatus.SUCCEEDED:
        return spec.objective.best(values)
    if trial.status is RunStatus.PRUNED and values:
        return values[-1]
    return None


def trial_rows(spec: SearchSpec, trials: Sequence[TrialRecord]) -> list[dict[str, Any]]:
    """The trials table: number, run, state, objective, epochs trained, times, one column per
    searched field (its dotted name)."""
    rows = []
    for trial in trials:
        seconds = None
        if trial.started_at is not None and trial.finished_at is not None:
            seconds = (trial.finished_at - trial.started_at).total_seconds()
        row: dict[str, Any] = {
            "trial": trial.trial,
            "run_id": trial.run_id,
            "name": trial.name,
            "state": trial.status.value,
            "stop_reason": trial.stop_reason.value if trial.stop_reason else None,
            "stop_detail": trial.stop_detail,
            "objective": objective_value(spec, trial),
            "epochs": trial.epochs_done,
            "attempt": trial.attempt,
            "reused_from": trial.reused_from,
            "created_at": trial.created_at,
            "started_at": trial.started_at,
            "finished_at": trial.finished_at,
            "seconds": seconds,
        }
        for param in spec.params:
            row[param.name] = trial.params.get(param.name)
        rows.append(row)
    return rows


def best_so_far(spec: SearchSpec, trials: Sequence[TrialRecord]) -> list[dict[str, Any]]:
    """Best objective after each finished trial, in the order they finished: plot `best`
    against `finished` (runs finished) or `finished_at` (wall time)."""
    done = [t for t in trials if t.status.is_final and t.finished_at is not None]
    done.sort(key=lambda t: (t.finished_at, t.trial))
    rows = []
    best: float | None = None
    epochs = 0
    for count, trial in enumerate(done, start=1):
        value = objective_value(spec, trial)
        if value is not None and (best is None or spec.objective.best([best, value]) == value):
            best = value
        epochs += trial.epochs_done
        rows.append(
            {
                "finished": count,
                "finished_at": trial.finished_at,
                "trial": trial.trial,
                "run_id": trial.run_id,
                "value": value,
                "best": best,
                "epochs_trained": epochs,
            }
        )
    return rows


def curve_rows(spec: SearchSpec, trials: Sequence[TrialRecord]) -> list[dict[str, Any]]:
    """Every trial's objective by epoch; `faded` marks pruned trials (drawn faint)."""
    return [
        {
            "trial": trial.trial,
            "run_id": trial.run_id,
            "epoch": epoch,
            "value": value,
            "state": trial.status.value,
            "faded": trial.status is RunStatus.PRUNED,
        }
        for trial in trials
        for epoch, value in zip(trial.series.epochs, trial.series.values, strict=True)
    ]


def slice_rows(spec: SearchSpec, trials: Sequence[TrialRecord], param: str) -> list[dict[str, Any]]:
    """One searched field against the objective, for finished trials that have a result."""
    rows = []
    for trial in trials:
        value = objective_value(spec, trial)
        if value is not None and param in trial.params:
            rows.append(
                {
                    "trial": trial.trial,
                    "value": trial.params[param],
                    "objective": value,
                    "state": trial.status.value,
                }
            )
    return rows


def importance_rows(spec: SearchSpec, trials: Sequence[TrialRecord]) -> list[dict[str, Any]]:
    """Optuna's parameter importance (PED-ANOVA), largest first; empty before two results."""
    from experiment.sampling import importances

    found = importances(spec, trials)
    return [{"param": name, "importance": value} for name, value in found.items()]


def best_trial(spec: SearchSpec, trials: Sequence[TrialRecord]) -> TrialRecord | None:
    """The completed trial with the best objective (earliest on ties)."""
    scored = [
        (value, trial)
        for trial in trials
        if trial.status is RunStatus.SUCCEEDED
        and (value := objective_value(spec, trial)) is not None
    ]
    if not scored:
        return None
    sign = -1 if spec.objective.direction == "maximize" else 1
    return min(scored, key=lambda pair: (sign * pair[0], pair[1].trial))[1]


def best_config_with_seeds(
    spec: SearchSpec, trials: Sequence[TrialRecord], seeds: int = 3
) -> list[ExperimentConfig]:
    """The best trial's config under `seeds` other seeds, as one study (`NAME-best`): the
    fair final comparison ("Queue the best config with 3 seeds"). Empty if nothing finished."""
    best = best_trial(spec, trials)
    if best is None:
        return []
    config = spec.trial_config(best.params, best.trial)
    study = f"{spec.name}-best"[:200]
    return [
        config.model_copy(
            update={
                "seed": config.seed + offset,
                "name": f"{spec.name} best (trial {best.trial}) seed {config.seed + offset}"[:200],
                "study": study,
            }
        )
        for offset in range(1, seeds + 1)
    ]


def describe_search(spec: SearchSpec) -> list[str]:
    """The search in two lines, as the dry run and `search show` print it."""
    pruner = spec.pruner
    judged = "" if pruner.kind == "none" else f" (judged from epoch {pruner.warmup_epochs})"
    return [
        f"search {spec.name}: {spec.objective.direction} {spec.objective.metric}; "
        f"{spec.sampler.kind} sampler, {pruner.kind} pruner{judged}, seed {spec.seed}",
        f"budget {spec.budget} runs, at most {spec.parallel} at once; searching "
        + ", ".join(p.name for p in spec.params),
    ]


def estimate_search_seconds(
    spec: SearchSpec, planned: Sequence[PlannedTrial], history: Sequence[RunTiming]
) -> float | None:
    """An upper bound on the search's training time from past runs (`db.metrics.run_timings`):
    the slowest of the first suggestions, at the most epochs, times the budget; None if no
    past run is comparable."""
    estimates = [estimate_run(t.config, history) for t in planned if t.config is not None]
    known = [
        e.overhead_seconds + spec.max_epochs * e.epoch_seconds for e in estimates if e is not None
    ]
    if not known:
        return None
    return max(known) * spec.budget
