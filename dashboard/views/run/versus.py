"""Run versus run: per-class accuracy side by side, confusion differences, and the validation
images one run got right and the other wrong.

Only runs evaluated on the same validation set are comparable image by image: the same class
names in the same order and the same files with the same true labels. The picker offers runs
with the same classes and image count; the file lists are then checked for real.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
import streamlit as st

from dashboard.queries import fetch_evaluated_runs, fetch_predictions, fetch_run, fetch_thumbnails
from dashboard.state import parse_ids, set_url_params, url_param
from dashboard.text import run_label
from dashboard.views.run.evaluation import thumbnail_gallery
from dashboard.views.run.figures import (
    Figures,
    confusion_array,
    confusion_delta,
    confusion_delta_figure,
    disagreements,
    per_class_figure,
    per_class_side_by_side,
    same_validation,
)
from db.entities import RunRecord
from db.models import RunSource
from db.session import Database

MAX_VERSUS = 4
GALLERY_LIMIT = 12


def comparable_candidates(evaluated: pd.DataFrame, run: RunRecord) -> pd.DataFrame:
    """Evaluated runs other than `run` with its classes and validation image count."""
    evaluation = run.evaluation or {}
    classes = tuple(evaluation.get("class_names") or ())
    images = int(evaluation.get("images") or 0)
    if evaluated.empty:
        return evaluated
    same = evaluated["class_names"].map(lambda names: tuple(names) == classes)
    same = same.astype(bool) & (evaluated["images"] == images)
    return evaluated[same & (evaluated["id"] != run.id)]


def versus_ids(database: Database, run: RunRecord) -> list[int]:
    """The runs in `?vs=` that can be compared with `run`, in URL order."""
    if not run.evaluation:
        return []
    candidates = comparable_candidates(fetch_evaluated_runs(database), run)
    allowed = set(candidates["id"].tolist())
    return [i for i in parse_ids(url_param("vs")) if i in allowed][:MAX_VERSUS]


def versus_panel(database: Database, run: RunRecord, figures: Figures) -> list[int]:
    """Pick runs to compare with this one and show the comparison; returns the picked ids."""
    if not run.evaluation:
        st.caption(
            "This run has no evaluation yet, so there is nothing to compare per image."
            if run.source is RunSource.QUEUED
            else "Only runs the lab trained and evaluated compare image by image; this one was "
            + ("imported." if run.source is RunSource.IMPORT else "logged by your own script.")
        )
        return []
    candidates = comparable_candidates(fetch_evaluated_runs(database), run)
    if candidates.empty:
        st.info(
            "No other evaluated run has the same classes and validation images.",
            icon=":material/info:",
        )
        return []
    labels = {
        int(row.id): f"{row.label} (accuracy {row.accuracy:.3f})" for row in candidates.itertuples()
    }
    wanted = parse_ids(url_param("vs"))
    refused = [i for i in wanted if i not in labels and i != run.id]
    if refused:
        st.caption(
            f"Not comparable with this run (other classes or validation images): "
            f"run {', '.join(map(str, refused))}."
        )
    picked = st.multiselect(
        "Compare with",
        list(labels),
        default=versus_ids(database, run),
        format_func=labels.__getitem__,
        max_selections=MAX_VERSUS,
        key="run.vs",
        placeholder="Runs evaluated on the same validation images",
    )
    set_url_params(vs=picked)
    if not picked:
        st.caption("Pick one or more runs to see where they differ from this one.")
        return []
    others = _same_validation_runs(database, run, picked)
    if others:
        _show(database, run, others, figures)
    return picked


def _same_validation_runs(
    database: Database, run: RunRecord, picked: Sequence[int]
) -> list[RunRecord]:
    classes = tuple((run.evaluation or {}).get("class_names") or ())
    mine = fetch_predictions(database, run.id, classes)
    others = []
    for other_id in picked:
        other = fetch_run(database, other_id)
        if other is None:
            continue
        if same_validation(mine, fetch_predictions(database, other_id, classes)):
            others.append(other)
        else:
            st.warning(
                f"Run {other_id} was validated on other images (another split or dataset); "
                "it is left out of the image-by-image comparison.",
                icon=":material/warning:",
            )
    return others


def _show(database: Database, run: RunRecord, others: list[RunRecord], figures: Figures) -> None:
    label = run_label(run.id, run.name)
    evaluations = {label: run.evaluation or {}}
    evaluations.update({run_label(o.id, o.name): o.evaluation or {} for o in others})
    per_class = per_class_figure(per_class_side_by_side(evaluations))
    st.plotly_chart(per_class, width="stretch", key="versus.per_class")
    figures["Accuracy per class"] = per_class
    classes = tuple((run.evaluation or {}).get("class_names") or ())
    mine = fetch_predictions(database, run.id, classes)
    for other in others:
        st.subheader(f"Run {run.id} versus run {other.id}")
        delta = confusion_delta(
            confusion_array(run.evaluation or {}), confusion_array(other.evaluation or {})
        )
        figure = confusion_delta_figure(delta, classes, f"run {run.id}", f"run {other.id}")
        figures[f"Confusion difference {run.id} − {other.id}"] = figure
        chart, galleries = st.columns(2)
        chart.plotly_chart(figure, width="stretch", key=f"versus.delta.{other.id}")
        chart.caption(
            f"Blue: run {run.id} has more images in that cell, red: run {other.id} has. "
            f"On the diagonal, blue means run {run.id} gets the class right more often."
        )
        a_only, b_only = disagreements(mine, fetch_predictions(database, other.id, classes))
        with galleries:
            _gallery(database, run.id, a_only, f"Run {run.id} right, run {other.id} wrong", "b")
            _gallery(database, run.id, b_only, f"Run {other.id} right, run {run.id} wrong", "a")


def _gallery(
    database: Database, run_id: int, rows: pd.DataFrame, title: str, wrong_side: str
) -> None:
    """Thumbnails (from run A's stored ones) of the images one side got wrong."""
    st.markdown(f"**{title}** ({len(rows)})")
    if rows.empty:
        st.caption("None.")
        return
    shown = rows.head(GALLERY_LIMIT)
    positions = [int(p) for p in shown["position"]]
    thumbnails = fetch_thumbnails(database, run_id, tuple(positions))
    captions = [
        f"{row.true_class} · said {getattr(row, f'predicted_class_{wrong_side}')} "
        f"({getattr(row, f'confidence_{wrong_side}'):.0%})"
        for row in shown.itertuples()
    ]
    thumbnail_gallery(positions, thumbnails, captions)
    if len(rows) > len(shown):
        st.caption(f"The {len(shown)} most confident mistakes of {len(rows)}.")
