"""The `search:` section of a config file: objective, budget, sampler, pruner and space.

A search file is a config whose fields are the fixed part of every trial, plus a `search:`
section naming the fields to vary (dotted names reach nested ones) as ranges or lists. Every
problem is reported with its place in the file (`search.space.learning_rate.low`) before
anything is queued; Optuna is not needed to read or check a search (experiment/sampling.py).
"""

from __future__ import annotations

import copy
import dataclasses
import json
import math
import re
import types
import typing
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from pydantic import BaseModel

from experiment.config import ConfigError, ExperimentConfig, field_names, parse_config
from experiment.grid import set_dotted

MAX_BUDGET = 10_000
MAX_PARALLEL = 1_000
SAMPLERS = ("tpe", "random", "grid")
PRUNERS = ("median", "hyperband", "threshold", "none")
Direction = Literal["maximize", "minimize"]
# These do not change what a run trains (ExperimentConfig.identity_hash leaves them out).
UNSEARCHABLE = frozenset({"name", "study", "tags", "priority"})
_METRIC_NAME = re.compile(r"^[A-Za-z_][\w./-]{0,99}$")
_SECTION_KEYS = ("objective", "budget", "parallel", "sampler", "pruner", "seed", "space")
_PRUNER_KEYS = {
    "median": {"kind", "warmup_epochs", "startup_trials"},
    "hyperband": {"kind", "warmup_epochs", "reduction_factor"},
    "threshold": {"kind", "warmup_epochs", "lower", "upper"},
    "none": {"kind"},
}

Problems = list[tuple[str, str]]


@dataclass(frozen=True)
class Param:
    """One searched field: a numeric range (`int`/`float`) or a list of choices."""

    name: str
    kind: Literal["int", "float", "choice"]
    low: float | None = None
    high: float | None = None
    log: bool = False
    step: float | None = None
    choices: tuple[Any, ...] = ()

    @property
    def first(self) -> Any:
        return self.choices[0] if self.kind == "choice" else self.cast(self.low)

    def cast(self, value: Any) -> Any:
        return int(value) if self.kind == "int" else value

    def points(self) -> int | None:
        """How many distinct values it can take; None for a continuous range."""
        if self.kind == "choice":
            return len(self.choices)
        assert self.low is not None and self.high is not None
        if self.kind == "int":
            return int((self.high - self.low) // (self.step or 1)) + 1
        if self.step is not None:
            return round((self.high - self.low) / self.step) + 1
        return None


def format_value(value: Any) -> str:
    """A value as run names and tables show it: floats with 4 significant digits."""
    if isinstance(value, float):
        return f"{value:.4g}"
    if value is None:
        return "off"
    if isinstance(value, Mapping | list | tuple):
        return json.dumps(value, separators=(",", ":"), sort_keys=True)
    return str(value)


@dataclass(frozen=True)
class Objective:
    metric: str = "val_accuracy"
    direction: Direction = "maximize"

    def best(self, values: list[float] | tuple[float, ...]) -> float | None:
        if not values:
            return None
        return max(values) if self.direction == "maximize" else min(values)


@dataclass(frozen=True)
class SamplerSpec:
    kind: Literal["tpe", "random", "grid"] = "tpe"
    startup_trials: int = 3  # TPE: trials sampled at random before the model is used


@dataclass(frozen=True)
class PrunerSpec:
    kind: Literal["median", "hyperband", "threshold", "none"] = "none"
    warmup_epochs: int = 1  # no run is judged before it has trained this many epochs
    startup_trials: int = 1  # median: finished trials needed before anything is pruned
    reduction_factor: int = 3  # hyperband: keep the top 1/reduction_factor at each rung
    lower: float | None = None  # threshold: prune below this
    upper: float | None = None  # threshold: prune above this


@dataclass(frozen=True)
class SearchSpec:
    """A validated search: the fixed config fields plus how to choose and judge the rest."""

    name: str
    base: dict[str, Any]
    objective: Objective
    budget: int
    parallel: int
    params: tuple[Param, ...]
    sampler: SamplerSpec = SamplerSpec()
    pruner: PrunerSpec = PrunerSpec()
    seed: int = 0
    max_epochs: int = 1  # the most epochs a trial can train: Hyperband's largest rung
    warnings: tuple[str, ...] = field(default=(), compare=False)

    def param(self, name: str) -> Param:
        return next(p for p in self.params if p.name == name)

    def trial_data(self, values: Mapping[str, Any], trial: int) -> dict[str, Any]:
        """The config fields of trial `trial` (1-based): the base with the sampled values set,
        named after the search and the values, in the search's study."""
        data = copy.deepcopy(self.base)
        labels = []
        for param in self.params:
            value = param.cast(values[param.name])
            set_dotted(data, param.name, copy.deepcopy(value))
            labels.append(f"{param.name}={format_value(value)}")
        data["study"] = self.name
        data["name"] = f"{self.name} #{trial} [{', '.join(labels)}]"[:200]
        return data

    def trial_config(self, values: Mapping[str, Any], trial: int) -> ExperimentConfig:
        """The validated config of trial `trial`.

        Raises ConfigError when the combination is invalid (each value alone was checked).
        """
        data = self.trial_data(values, trial)
        return parse_config(data, source=f"search {self.name} trial {trial}")

    def distinct_points(self) -> int | None:
        """How many different configs the space holds; None when a range is continuous."""
        total = 1
        for param in self.params:
            points = param.points()
            if points is None:
                return None
            total *= points
        return total

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("warnings")
        for param in data["params"]:
            param["choices"] = list(param["choices"])
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SearchSpec:
        """The spec stored with a search (already validated when the search was created)."""
        return cls(
            name=data["name"],
            base=dict(data["base"]),
            objective=Objective(**data["objective"]),
            budget=int(data["budget"]),
            parallel=int(data["parallel"]),
            params=tuple(
                Param(**{**p, "choices": tuple(p.get("choices", ()))}) for p in data["params"]
            ),
            sampler=SamplerSpec(**data["sampler"]),
            pruner=PrunerSpec(**data["pruner"]),
            seed=int(data["seed"]),
            max_epochs=int(data["max_epochs"]),
        )


def is_search(document: Any) -> bool:
    """Whether a parsed YAML document is a search (a mapping with a `search:` section)."""
    return isinstance(document, Mapping) and "search" in document


def parse_search(document: Mapping[str, Any], *, source: str = "config") -> SearchSpec:
    """Validate a config mapping with a `search:` section, or raise ConfigError naming each
    bad field by its place in the file (`search.space.learning_rate.low`)."""
    base = {key: value for key, value in document.items() if key != "search"}
    problems: Problems = [
        (key, "a search file cannot have a grid too: list the values under search.space")
        for key in ("grid", "variants")
        if key in base
    ]
    section = document.get("search")
    if not isinstance(section, Mapping):
        problems.append(("search", "must be a mapping with objective, budget and space"))
        raise ConfigError(problems, source=source)
    problems.extend(
        (f"search.{key}", f"unknown field (expected one of {', '.join(_SECTION_KEYS)})")
        for key in section
        if key not in _SECTION_KEYS
    )
    objective = _objective(section.get("objective"), problems)
    budget = _integer(section, "budget", problems, low=1, high=MAX_BUDGET, default=None)
    parallel = _integer(section, "parallel", problems, low=1, high=MAX_PARALLEL, default=1)
    seed = _integer(section, "seed", problems, low=0, high=2**31 - 1, default=0)
    params = _space(section.get("space"), problems)
    if problems:
        raise ConfigError(problems, source=source)
    representative = _check_values(base, params, problems, source)
    sampler = _sampler(section.get("sampler"), budget, params, problems)
    max_epochs = _max_epochs(representative, params)
    pruner = _pruner(section.get("pruner"), budget, max_epochs, problems)
    if problems:
        raise ConfigError(problems, source=source)
    spec = SearchSpec(
        name=representative.study or representative.name,
        base=base,
        objective=objective,
        budget=budget,
        parallel=parallel,
        params=params,
        sampler=sampler,
        pruner=pruner,
        seed=seed,
        max_epochs=max_epochs,
    )
    points = spec.distinct_points()
    if points is not None and points < budget and sampler.kind != "grid":
        note = (
            f"the space holds only {points} different configs for a budget of {budget}: "
            "later trials that repeat a finished one reuse its result instead of training"
        )
        spec = dataclasses.replace(spec, warnings=(note,))
    return spec


def _objective(raw: Any, problems: Problems) -> Objective:
    if raw is None:
        return Objective()
    if isinstance(raw, str):
        raw = {"metric": raw}
    if not isinstance(raw, Mapping):
        problems.append(("search.objective", "must be {metric: NAME, direction: maximize}"))
        return Objective()
    for key in raw:
        if key not in ("metric", "direction"):
            problems.append((f"search.objective.{key}", "unknown field (metric, direction)"))
    metric = raw.get("metric", "val_accuracy")
    if not isinstance(metric, str) or not _METRIC_NAME.match(metric):
        problems.append(
            (
                "search.objective.metric",
                f"must be a metric name such as val_accuracy (got {metric!r})",
            )
        )
        return Objective()
    direction = raw.get("direction")
    if direction is None:
        inferred = infer_direction(metric)
        if inferred is None:
            problems.append(
                (
                    "search.objective.direction",
                    f"is required for {metric!r}: maximize or minimize",
                )
            )
            return Objective()
        direction = inferred
    if direction not in ("maximize", "minimize"):
        problems.append(
            ("search.objective.direction", f"must be maximize or minimize (got {direction!r})")
        )
        return Objective()
    return Objective(metric, direction)


def infer_direction(metric: str) -> Direction | None:
    """Losses and errors go down, accuracies and scores go up (as KerasTuner infers them)."""
    name = metric.lower()
    if any(word in name for word in ("loss", "error", "seconds", "mae", "mse")):
        return "minimize"
    if any(word in name for word in ("accuracy", "auc", "precision", "recall", "f1", "score")):
        return "maximize"
    return None


def _integer(
    section: Mapping[str, Any],
    key: str,
    problems: Problems,
    *,
    low: int,
    high: int,
    default: int | None,
) -> int:
    value = section.get(key, default)
    if value is None:
        problems.append((f"search.{key}", "is required"))
        return low
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        problems.append(
            (f"search.{key}", f"must be a whole number from {low} to {high} (got {value!r})")
        )
        return low
    return value


def _field_kind(name: str) -> str:
    """`int`, `float`, `bool` or `other` for a dotted config field name."""
    head, _, rest = name.partition(".")
    info = ExperimentConfig.model_fields.get(head)
    if info is None:
        return "unknown"
    annotation = info.annotation
    if rest:
        models = [
            a for a in _union_args(annotation) if isinstance(a, type) and issubclass(a, BaseModel)
        ]
        if not models or rest not in models[0].model_fields:
            return "unknown"
        annotation = models[0].model_fields[rest].annotation
    kinds = [a for a in _union_args(annotation) if a is not type(None)]
    if kinds == [bool]:
        return "bool"
    if kinds in ([int], [float]):
        return kinds[0].__name__
    return "other"


def _union_args(annotation: Any) -> tuple[Any, ...]:
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return typing.get_args(annotation)
    return (annotation,)


def _space(raw: Any, problems: Problems) -> tuple[Param, ...]:
    if not isinstance(raw, Mapping) or not raw:
        problems.append(("search.space", "must map at least one field to a range or a list"))
        return ()
    leaves = set(field_names())
    groups = {name.split(".")[0] for name in leaves if "." in name}
    params = []
    for name, spec in raw.items():
        where = f"search.space.{name}"
        if not isinstance(name, str) or (name not in leaves and name not in groups):
            problems.append((where, "unknown field (see README's config format)"))
        elif name in UNSEARCHABLE:
            problems.append((where, "cannot be searched: it does not change what a run trains"))
        elif isinstance(spec, list):
            param = _choices(name, spec, where, problems)
            if param is not None:
                params.append(param)
        elif isinstance(spec, Mapping):
            param = _range(name, spec, where, problems)
            if param is not None:
                params.append(param)
        else:
            problems.append((where, "must be a list of values or {low: ..., high: ...}"))
    return tuple(params)


def _choices(name: str, values: list[Any], where: str, problems: Problems) -> Param | None:
    if not values:
        problems.append((where, "must list at least one value"))
        return None
    seen: set[str] = set()
    for value in values:
        key = json.dumps(value, sort_keys=True, default=str)
        if key in seen:
            problems.append((where, f"lists {format_value(value)} twice"))
            return None
        seen.add(key)
    return Param(name, "choice", choices=tuple(values))


def _range(name: str, spec: Mapping[str, Any], where: str, problems: Problems) -> Param | None:
    kind = _field_kind(name)
    if kind not in ("int", "float"):
        problems.append((where, "is not a number: give a list of values instead of a range"))
        return None
    before = len(problems)
    for key in spec:
        if key not in ("low", "high", "log", "step"):
            problems.append((f"{where}.{key}", "unknown key (low, high, log, step)"))
    bounds = {}
    for key in ("low", "high"):
        value = spec.get(key)
        if value is None:
            problems.append((f"{where}.{key}", "is required"))
        elif (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
        ):
            problems.append((f"{where}.{key}", f"must be a number (got {value!r})"))
        elif kind == "int" and not float(value).is_integer():
            problems.append((f"{where}.{key}", f"{name} is a whole number (got {value!r})"))
        else:
            bounds[key] = value
    log = spec.get("log", False)
    if not isinstance(log, bool):
        problems.append((f"{where}.log", f"must be true or false (got {log!r})"))
    step = spec.get("step")
    if step is not None and (
        isinstance(step, bool) or not isinstance(step, int | float) or not step > 0
    ):
        problems.append((f"{where}.step", f"must be a number above 0 (got {step!r})"))
    if len(problems) > before:
        return None
    low, high = bounds["low"], bounds["high"]
    if not low < high:
        problems.append((f"{where}.low", f"must be less than high (got {low} and {high})"))
    elif log and low <= 0:
        problems.append((f"{where}.low", f"must be above 0 on a log scale (got {low})"))
    elif log and step is not None:
        problems.append((f"{where}.step", "cannot be combined with log: true"))
    elif kind == "int" and step is not None and not float(step).is_integer():
        problems.append((f"{where}.step", f"{name} is a whole number (got {step!r})"))
    elif step is not None and not _is_multiple(high - low, step):
        problems.append(
            (f"{where}.step", f"high - low ({high - low:g}) is not a multiple of {step:g}")
        )
    if len(problems) > before:
        return None
    if kind == "int":
        return Param(name, "int", int(low), int(high), log, int(step) if step else None)
    return Param(name, "float", float(low), float(high), log, float(step) if step else None)


def _is_multiple(span: float, step: float) -> bool:
    count = span / step
    return abs(count - round(count)) < 1e-9 * max(1.0, count)


def _check_values(
    base: dict[str, Any], params: tuple[Param, ...], problems: Problems, source: str
) -> ExperimentConfig:
    """Check the base with each param's first value, then every endpoint and choice alone.

    Combinations are checked when a trial is built; one that is invalid fails that trial only.
    """
    first = copy.deepcopy(base)
    for param in params:
        set_dotted(first, param.name, copy.deepcopy(param.first))
    representative = parse_config(first, source=source)
    for param in params:
        if param.kind == "choice":
            candidates = [
                (f"search.space.{param.name}[{i}]", v) for i, v in enumerate(param.choices)
            ]
        else:
            candidates = [
                (f"search.space.{param.name}.{end}", param.cast(getattr(param, end)))
                for end in ("low", "high")
            ]
        for where, value in candidates:
            data = copy.deepcopy(first)
            set_dotted(data, param.name, copy.deepcopy(value))
            try:
                parse_config(data)
            except ConfigError as error:
                messages = "; ".join(f"{f}: {m}" if f else m for f, m in error.problems)
                problems.append((where, messages))
    return representative


def _kind_and_options(
    raw: Any, where: str, known: tuple[str, ...], default: str, problems: Problems
) -> tuple[str, dict[str, Any]]:
    if raw is None:
        return default, {}
    place = where
    if isinstance(raw, str):
        raw = {"kind": raw}
    elif isinstance(raw, Mapping):
        place = f"{where}.kind"
    else:
        problems.append((where, f"must be one of {' | '.join(known)} or a mapping with kind"))
        return default, {}
    kind = raw.get("kind", default)
    if kind not in known:
        problems.append((place, f"must be one of {' | '.join(known)} (got {kind!r})"))
        return default, {}
    return kind, dict(raw)


def _option_int(
    options: dict[str, Any], key: str, where: str, default: int, low: int, problems: Problems
) -> int:
    value = options.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        problems.append(
            (f"{where}.{key}", f"must be a whole number of at least {low} (got {value!r})")
        )
        return default
    return value


def _sampler(raw: Any, budget: int, params: tuple[Param, ...], problems: Problems) -> SamplerSpec:
    kind, options = _kind_and_options(raw, "search.sampler", SAMPLERS, "tpe", problems)
    for key in options:
        if key not in ("kind", "startup_trials") or (key == "startup_trials" and kind != "tpe"):
            problems.append((f"search.sampler.{key}", f"unknown field for the {kind} sampler"))
    # A third of the budget, at most Optuna's default of 10: a small search still gets to use
    # what its first trials taught it.
    default_startup = max(1, min(10, budget // 3))
    startup = _option_int(options, "startup_trials", "search.sampler", default_startup, 0, problems)
    if kind == "grid":
        for param in params:
            if param.kind != "choice":
                problems.append(
                    (f"search.space.{param.name}", "the grid sampler needs a list of values")
                )
        points = math.prod(len(p.choices) for p in params)
        if all(p.kind == "choice" for p in params) and budget > points:
            problems.append(("search.budget", f"the grid has only {points} points (got {budget})"))
    return SamplerSpec(kind, startup)  # type: ignore[arg-type]


def _max_epochs(representative: ExperimentConfig, params: tuple[Param, ...]) -> int:
    for param in params:
        if param.name == "epochs":
            if param.kind == "choice":
                return max(int(v) for v in param.choices)
            assert param.high is not None
            return int(param.high)
    return representative.epochs


def _pruner(raw: Any, budget: int, max_epochs: int, problems: Problems) -> PrunerSpec:
    kind, options = _kind_and_options(raw, "search.pruner", PRUNERS, "none", problems)
    for key in options:
        if key not in _PRUNER_KEYS[kind]:
            problems.append((f"search.pruner.{key}", f"unknown field for the {kind} pruner"))
    if kind == "none":
        return PrunerSpec()
    warmup = _option_int(options, "warmup_epochs", "search.pruner", 1, 0, problems)
    if warmup >= max_epochs:
        problems.append(
            (
                "search.pruner.warmup_epochs",
                f"must be less than epochs ({max_epochs}), or no run is ever judged",
            )
        )
    # Optuna's median pruner waits for 5 finished trials; a quarter of the budget suits the
    # small searches a lab runs.
    startup = _option_int(
        options, "startup_trials", "search.pruner", max(1, min(5, budget // 4)), 0, problems
    )
    factor = _option_int(options, "reduction_factor", "search.pruner", 3, 2, problems)
    bounds: dict[str, float | None] = {}
    for key in ("lower", "upper"):
        value = options.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
            problems.append((f"search.pruner.{key}", f"must be a number (got {value!r})"))
            value = None
        bounds[key] = None if value is None else float(value)
    if kind == "threshold" and bounds["lower"] is None and bounds["upper"] is None:
        problems.append(("search.pruner", "the threshold pruner needs lower, upper or both"))
    return PrunerSpec(kind, max(warmup, 1), startup, factor, bounds["lower"], bounds["upper"])  # type: ignore[arg-type]
