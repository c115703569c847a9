"""Which runs a page lists: a filter that reads from and writes to the URL (pure pandas).

`?q=adam%20patience&status=running,failed&source=import&study=report&tag=baseline&optimizer=adam,sgd`:
words of `q` must all appear in the run's name, and a `field=value` word matches any config
field (`early_stopping.patience=4`); every other parameter lists the values allowed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from dashboard.knobs import FILTER_KNOBS, config_of, flatten, format_value

FILTER_PARAMS: tuple[str, ...] = ("q", "status", "source", "study", "tag", *FILTER_KNOBS)


def _split(text: str | None) -> tuple[str, ...]:
    return tuple(dict.fromkeys(p.strip() for p in (text or "").split(",") if p.strip()))


@dataclass(frozen=True)
class RunFilter:
    """A conjunction of conditions; an empty filter matches every run."""

    text: str = ""
    statuses: tuple[str, ...] = ()
    study: str = ""
    tags: tuple[str, ...] = ()
    knobs: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (knob, allowed formatted values)
    sources: tuple[str, ...] = ()  # queued / script / import (db.models.RunSource)

    @classmethod
    def from_params(cls, params: Mapping[str, str]) -> RunFilter:
        """The filter a URL's query parameters describe; unknown keys are ignored."""
        knobs = tuple((k, _split(params.get(k))) for k in FILTER_KNOBS if _split(params.get(k)))
        return cls(
            text=(params.get("q") or "").strip(),
            statuses=_split(params.get("status")),
            study=(params.get("study") or "").strip(),
            tags=_split(params.get("tag")),
            knobs=knobs,
            sources=_split(params.get("source")),
        )

    def to_params(self) -> dict[str, str | None]:
        """Every filter parameter, None for the unset ones (so the URL drops them)."""
        allowed = dict(self.knobs)
        params: dict[str, str | None] = {
            "q": self.text or None,
            "status": ",".join(self.statuses) or None,
            "source": ",".join(self.sources) or None,
            "study": self.study or None,
            "tag": ",".join(self.tags) or None,
        }
        params.update({knob: ",".join(allowed.get(knob, ())) or None for knob in FILTER_KNOBS})
        return params

    @property
    def active(self) -> bool:
        return any(self.to_params().values())

    def mask(self, runs: pd.DataFrame) -> pd.Series:
        """True for the rows of `queries.runs_frame` output that pass every condition."""
        keep = pd.Series(True, index=runs.index)
        if self.statuses:
            keep &= runs["status"].isin(self.statuses)
        if self.sources:
            keep &= runs["source"].isin(self.sources)
        if self.study:
            keep &= runs["study"] == self.study
        if self.tags:
            wanted = set(self.tags)
            keep &= runs["tags"].map(lambda text: bool(wanted & set(_tags(text))))
        for knob, values in self.knobs:
            keep &= runs[knob].map(format_value).isin(values)
        words, fields = _terms(self.text)
        names = runs["name"].astype(str).str.lower()
        for word in words:
            keep &= names.str.contains(word, regex=False)
        if fields:
            keep &= _config_matches(runs, fields)
        return keep

    def apply(self, runs: pd.DataFrame) -> pd.DataFrame:
        """The matching rows, in their order."""
        return runs[self.mask(runs)] if len(runs) else runs


def _tags(text: Any) -> list[str]:
    return [t.strip() for t in str(text or "").split(",") if t.strip()]


def _terms(text: str) -> tuple[list[str], dict[str, str]]:
    """Plain words (lower-cased) and `field=value` conditions."""
    words: list[str] = []
    fields: dict[str, str] = {}
    for term in text.split():
        field, equals, value = term.partition("=")
        if equals and field:
            fields[field] = value.lower()
        else:
            words.append(term.lower())
    return words, fields


def _config_matches(runs: pd.DataFrame, fields: dict[str, str]) -> pd.Series:
    def matches(row: pd.Series) -> bool:
        flat = {
            **flatten(config_of(row["config"])),
            **{k: row[k] for k in FILTER_KNOBS if k in row},
        }
        return all(
            field in flat and format_value(flat[field]).lower() == value
            for field, value in fields.items()
        )

    return runs.apply(matches, axis=1).astype(bool)
