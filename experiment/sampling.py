"""Optuna as a library: a study rebuilt from the runs table, asked for the next trial or
asked whether a running trial should be pruned.

Nothing here touches the database: every function takes a `SearchSpec` and the search's
`TrialRecord`s (db/searches.py) and builds a throw-away in-memory study from them, so the runs
table stays the only source of truth and Optuna's own storage, heartbeats and retries are not
used (our leases and checkpoints own liveness). A study of a few hundred trials rebuilds in
milliseconds. Trial i (1-based) of a search is Optuna's trial number i - 1.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import optuna
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)
from optuna.trial import FrozenTrial, TrialState

from db.models import RunStatus
from db.searches import TrialRecord
from experiment.search_space import Param, SearchSpec
from experiment.search_views import objective_value

_PRIMITIVE = (str, int, float, bool, type(None))


@dataclass(frozen=True)
class Suggestion:
    """The sampler's next trial: config values by dotted field name, and the sampler's
    bookkeeping for the trial (Optuna system attrs, e.g. the grid point), kept on the run."""

    params: dict[str, Any]
    attrs: dict[str, Any]


@dataclass(frozen=True)
class Verdict:
    """The pruner's answer after an epoch; `attrs` is the trial's new bookkeeping to keep
    (Hyperband's rungs), None when unchanged."""

    prune: bool
    reason: str | None = None
    attrs: dict[str, Any] | None = None


def _encoded(param: Param) -> list[Any]:
    """Choices as Optuna stores them: plain values, or canonical JSON for lists and maps."""
    if all(isinstance(choice, _PRIMITIVE) for choice in param.choices):
        return list(param.choices)
    return [json.dumps(choice, sort_keys=True) for choice in param.choices]


def encode(param: Param, value: Any) -> Any:
    if param.kind != "choice" or all(isinstance(c, _PRIMITIVE) for c in param.choices):
        return value
    return json.dumps(value, sort_keys=True)


def decode(param: Param, value: Any) -> Any:
    if param.kind == "int":
        return int(value)
    if param.kind == "float":
        return float(value)
    if all(isinstance(choice, _PRIMITIVE) for choice in param.choices):
        return value
    return json.loads(value)


def distributions(spec: SearchSpec) -> dict[str, BaseDistribution]:
    result: dict[str, BaseDistribution] = {}
    for param in spec.params:
        if param.kind == "choice":
            result[param.name] = CategoricalDistribution(_encoded(param))
        elif param.kind == "int":
            assert param.low is not None and param.high is not None
            step = int(param.step or 1)
            result[param.name] = IntDistribution(
                int(param.low), int(param.high), log=param.log, step=step
            )
        else:
            assert param.low is not None and param.high is not None
            result[param.name] = FloatDistribution(
                param.low, param.high, log=param.log, step=param.step
            )
    return result


def trial_seed(spec: SearchSpec, number: int, retry: int = 0) -> int:
    """The sampler's seed for one ask: a fresh sampler per ask with the search's seed alone
    would draw the same first random values every time."""
    return (spec.seed * 1_000_003 + number * 7_919 + retry) % 2**32


def make_sampler(spec: SearchSpec, number: int, retry: int = 0) -> optuna.samplers.BaseSampler:
    seed = trial_seed(spec, number, retry)
    kind = spec.sampler.kind
    if kind == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if kind == "grid":
        # The grid sampler shuffles its points with its seed and gives trial number n the
        # n-th: the search's own seed keeps that order the same at every rebuild.
        space = {p.name: _encoded(p) for p in spec.params}
        return optuna.samplers.GridSampler(space, seed=spec.seed)
    with warnings.catch_warnings():  # multivariate is "experimental" in Optuna's terms
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return optuna.samplers.TPESampler(
            seed=seed,
            n_startup_trials=spec.sampler.startup_trials,
            multivariate=True,
            constant_liar=True,  # queued and running trials push the next ask elsewhere
        )


def make_pruner(spec: SearchSpec) -> optuna.pruners.BasePruner:
    """Epochs are Optuna's steps, numbered from 1: `warmup_epochs: 2` first judges a run at
    the end of its second epoch."""
    pruner = spec.pruner
    if pruner.kind == "median":
        return optuna.pruners.MedianPruner(
            n_startup_trials=pruner.startup_trials, n_warmup_steps=pruner.warmup_epochs
        )
    if pruner.kind == "hyperband":
        return optuna.pruners.HyperbandPruner(
            min_resource=pruner.warmup_epochs,
            max_resource=spec.max_epochs,
            reduction_factor=pruner.reduction_factor,
        )
    if pruner.kind == "threshold":
        return optuna.pruners.ThresholdPruner(
            lower=pruner.lower, upper=pruner.upper, n_warmup_steps=pruner.warmup_epochs
        )
    return optuna.pruners.NopPruner()


def _state(spec: SearchSpec, record: TrialRecord) -> tuple[TrialState, float | None]:
    if record.status in (RunStatus.QUEUED, RunStatus.RUNNING):
        return TrialState.RUNNING, None
    value = objective_value(spec, record)
    if record.status is RunStatus.SUCCEEDED:
        # A run that never recorded the objective taught the sampler nothing it can rank.
        return (TrialState.COMPLETE, value) if value is not None else (TrialState.FAIL, None)
    if record.status is RunStatus.PRUNED:
        return TrialState.PRUNED, value
    return TrialState.FAIL, None


def frozen_trial(
    spec: SearchSpec,
    record: TrialRecord,
    dists: dict[str, BaseDistribution],
    *,
    until_epoch: int | None = None,
) -> FrozenTrial:
    """The record as an Optuna trial; parameters outside the space are left out (FAIL)."""
    state, value = _state(spec, record)
    intermediate = {
        epoch: v
        for epoch, v in record.series.as_dict().items()
        if until_epoch is None or epoch <= until_epoch
    }
    params = {}
    for param in spec.params:
        if param.name in record.params:
            params[param.name] = encode(param, record.params[param.name])
    start = record.started_at or record.created_at or datetime.now(UTC)
    trial = FrozenTrial(
        number=-1,
        trial_id=-1,
        state=state,
        value=value,
        datetime_start=start,
        datetime_complete=(record.finished_at or start) if state.is_finished() else None,
        params=params,
        distributions={name: dists[name] for name in params},
        user_attrs={"run_id": record.run_id},
        system_attrs=dict(record.attrs),
        intermediate_values=intermediate,
    )
    try:
        trial._validate()
    except ValueError:  # a value outside the space or an unusable objective: a failed trial
        failed = dataclasses.replace(record, params={}, status=RunStatus.FAILED)
        return frozen_trial(spec, failed, dists)
    return trial


def build_study(
    spec: SearchSpec,
    trials: Sequence[TrialRecord],
    *,
    sampler: optuna.samplers.BaseSampler | None = None,
    pruner: optuna.pruners.BasePruner | None = None,
    until_epoch: dict[int, int] | None = None,
) -> optuna.Study:
    """An in-memory study holding the search's trials in trial order."""
    optuna.logging.set_verbosity(logging.WARNING)
    study = optuna.create_study(
        storage=optuna.storages.InMemoryStorage(),
        sampler=sampler or optuna.samplers.RandomSampler(seed=spec.seed),
        pruner=pruner or optuna.pruners.NopPruner(),
        study_name=spec.name,
        direction=spec.objective.direction,
    )
    dists = distributions(spec)
    limits = until_epoch or {}
    study.add_trials(
        [frozen_trial(spec, r, dists, until_epoch=limits.get(r.run_id)) for r in trials]
    )
    return study


def suggest(
    spec: SearchSpec, trials: Sequence[TrialRecord], number: int, retry: int = 0
) -> Suggestion:
    """Ask the sampler for trial `number` (1-based) given every trial so far."""
    sampler = make_sampler(spec, number, retry)
    study = build_study(spec, trials, sampler=sampler)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # GridSampler re-visits when exhausted
        asked = study.ask(fixed_distributions=distributions(spec))
    params = {param.name: decode(param, asked.params[param.name]) for param in spec.params}
    attrs = dict(study.get_trials(deepcopy=False)[-1].system_attrs)
    return Suggestion(params, _plain(attrs))


def judge(spec: SearchSpec, trials: Sequence[TrialRecord], run_id: int, epoch: int) -> Verdict:
    """Whether trial `run_id`, having finished `epoch`, should stop; the reason in words."""
    if spec.pruner.kind == "none":
        return Verdict(False)
    position = next((i for i, t in enumerate(trials) if t.run_id == run_id), None)
    if position is None:
        return Verdict(False)
    current = trials[position]
    if epoch not in current.series.epochs:
        return Verdict(False)  # no finite value this epoch: nothing to judge on
    study = build_study(spec, trials, pruner=make_pruner(spec), until_epoch={run_id: epoch})
    stored = study.get_trials(deepcopy=False)
    pruned = bool(study.pruner.prune(study, stored[position]))
    attrs = _plain(dict(study.get_trials(deepcopy=False)[position].system_attrs))
    changed = attrs if attrs != current.attrs else None
    reason = explain(spec, trials, current, epoch) if pruned else None
    return Verdict(pruned, reason, changed)


def explain(
    spec: SearchSpec, trials: Sequence[TrialRecord], current: TrialRecord, epoch: int
) -> str:
    """The pruner's decision in the words a run page shows."""
    metric = spec.objective.metric
    maximize = spec.objective.direction == "maximize"
    values = current.series.as_dict()
    value = values[epoch]
    kind = spec.pruner.kind
    if kind == "threshold":
        lower, upper = spec.pruner.lower, spec.pruner.upper
        if lower is not None and value < lower:
            return f"{metric} {value:.4g} below the threshold {lower:g} at epoch {epoch}"
        return f"{metric} {value:.4g} above the threshold {upper:g} at epoch {epoch}"
    if kind == "median":
        best = spec.objective.best([v for e, v in values.items() if e <= epoch])
        finished = [
            t.series.as_dict()[epoch]
            for t in trials
            if _state(spec, t)[0] is TrialState.COMPLETE and epoch in t.series.epochs
        ]
        median = (
            float(np.nanpercentile(np.array(finished, dtype=float), 50)) if finished else math.nan
        )
        side = "below" if maximize else "above"
        return (
            f"best {metric} {best:.4g} {side} the median {median:.4g} of "
            f"{len(finished)} earlier runs at epoch {epoch}"
        )
    keep = f"1/{spec.pruner.reduction_factor}"
    return f"{metric} {value:.4g} not in the best {keep} of the runs at epoch {epoch} (Hyperband)"


def _plain(attrs: dict[str, Any]) -> dict[str, Any]:
    """JSON-safe copy of Optuna's bookkeeping (it may hold tuples or numpy scalars)."""
    return json.loads(json.dumps(attrs, default=_json_default))


def _json_default(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"cannot store {type(value).__name__} in a trial's attrs")


def importances(spec: SearchSpec, trials: Sequence[TrialRecord]) -> dict[str, float]:
    """Each parameter's share of the objective's variation (Optuna's default evaluator,
    PED-ANOVA); empty until at least two trials have finished with a value."""
    study = build_study(spec, trials)
    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if len(complete) < 2:
        return {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            found = optuna.importance.get_param_importances(study)
        except (RuntimeError, ValueError):  # e.g. every finished trial has the same value
            return {}
    return {name: float(value) for name, value in found.items()}
