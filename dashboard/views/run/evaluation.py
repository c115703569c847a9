"""The Run page's Evaluation tab: confusion matrix, per-class metrics, misclassified images."""

from __future__ import annotations

import streamlit as st

from dashboard.queries import fetch_predictions, fetch_thumbnails
from dashboard.text import md_escape
from dashboard.views.run.figures import (
    Figures,
    confusion_array,
    confusion_figure,
    misclassified,
    per_class_table,
)
from db.entities import RunRecord
from db.models import RunSource
from db.session import Database

GALLERY_LIMIT = 24


# Bound to `?cm=`; a bound widget writes its displayed label to the URL, so labels are short.
CONFUSION_MODES = ("counts", "row-normalised")


THUMB_PX = 110


def evaluation_panel(database: Database, run: RunRecord, figures: Figures) -> str:
    """Confusion matrix, per-class metrics and the misclassified gallery; returns the mode."""
    evaluation = run.evaluation
    if not evaluation:
        st.caption(
            "No evaluation: the lab evaluates the runs its workers train, not imported runs or "
            "runs logged by a script."
            if run.source is not RunSource.QUEUED
            else "No evaluation yet: a run evaluates its validation split once training finishes."
        )
        return "counts"
    class_names = tuple(evaluation.get("class_names") or ())
    mode = st.segmented_control(
        "Confusion matrix",
        CONFUSION_MODES,
        default="counts",
        help="row-normalised: each true class's images split by predicted class",
        required=True,
        key="cm",
        bind="query-params",
    )
    mode = mode or "counts"
    matrix = confusion_array(evaluation)
    figure = confusion_figure(matrix, class_names, normalise=mode == "row-normalised")
    figures["Confusion matrix"] = figure
    left, right = st.columns([3, 2])
    left.plotly_chart(figure, width="stretch", key="run.confusion")
    right.metric(
        "validation accuracy",
        f"{float(evaluation.get('accuracy') or 0):.1%}",
        help=f"{evaluation.get('images', 0)} validation images",
    )
    right.dataframe(
        per_class_table(evaluation),
        hide_index=True,
        column_config={
            name: st.column_config.NumberColumn(format="%.3f")
            for name in ("precision", "recall", "f1")
        },
        key="run.per_class",
    )
    _misclassified_gallery(database, run, class_names)
    return mode


def _misclassified_gallery(
    database: Database, run: RunRecord, class_names: tuple[str, ...]
) -> None:
    predictions = fetch_predictions(database, run.id, class_names)
    wrong = misclassified(predictions)
    st.subheader(f"Misclassified validation images ({len(wrong)} of {len(predictions)})")
    if wrong.empty:
        st.caption("Every validation image was classified correctly.")
        return
    shown = wrong.head(GALLERY_LIMIT)
    thumbnails = fetch_thumbnails(database, run.id, tuple(int(p) for p in shown["position"]))
    captions = [
        f"{row.true_class} → {row.predicted_class} ({row.confidence:.0%})"
        for row in shown.itertuples()
    ]
    thumbnail_gallery(shown["position"].tolist(), thumbnails, captions)
    if len(wrong) > len(shown):
        st.caption(f"The {len(shown)} most confident mistakes; all of them below.")
    with st.expander("All misclassified images"):
        st.dataframe(
            wrong[["file", "true_class", "predicted_class", "confidence"]],
            hide_index=True,
            column_config={"confidence": st.column_config.ProgressColumn(format="percent")},
            key="run.misclassified",
        )


def thumbnail_gallery(
    positions: list[int], thumbnails: dict[int, bytes], captions: list[str]
) -> None:
    """Stored thumbnails in a flowing grid with their captions (escaped: file and class
    names come from the dataset)."""
    images = [thumbnails[p] for p in positions if p in thumbnails]
    texts = [md_escape(c) for p, c in zip(positions, captions, strict=True) if p in thumbnails]
    if images:
        st.image(images, caption=texts, width=THUMB_PX)
    missing = len(positions) - len(images)
    if missing:
        st.caption(f"{missing} image(s) had no readable thumbnail when the run was evaluated.")
