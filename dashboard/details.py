"""The Run page's panels: header, curves, evaluation, augmentation, model, details.

Each panel takes the run (a frozen `RunRecord`) and adds the figures it draws to `figures`, so
"Save as report" can freeze exactly what the page showed. User-typed text (run names, dataset
warnings) is escaped before it reaches Markdown; tracebacks are code blocks.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from dashboard.actions import cancel, cancel_message, delete, rerun
from dashboard.auth import can_write
from dashboard.imaging import augmentation_preview, dataset_samples, decode_rgb
from dashboard.nav import COMPARE_PAGE, PREDICT_PAGE, QUEUE_PAGE, RUNS_PAGE
from dashboard.queries import HASH_FUNCS
from dashboard.run_charts import (
    confusion_array,
    confusion_figure,
    learning_rate_figure,
    misclassified,
    per_class_table,
    run_curves_figure,
)
from dashboard.run_panels import md_escape
from dashboard.run_queries import (
    fetch_attempts,
    fetch_model_meta,
    fetch_predictions,
    fetch_run,
    fetch_run_curves,
    fetch_thumbnails,
    model_bytes,
)
from db.artifacts import ArtifactIntegrityError
from db.entities import RunRecord
from db.models import RunStatus
from db.session import Database

Figures = dict[str, go.Figure]
GALLERY_LIMIT = 24
AUGMENT_COPIES = 6
AUGMENT_SOURCES = 4
PREVIEW_MAX_PX = 160  # previews are for the eye; transforms are scale-free
# Bound to `?cm=`; a bound widget writes its displayed label to the URL, so labels are short.
CONFUSION_MODES = ("counts", "row-normalised")
THUMB_PX = 110
# A run link inside a table: relative, so it also works under a server base path.
RUN_LINK_TEXT = r"run\?id=(\d+)"


def run_link(run_id: Any) -> str | None:
    """`run?id=N` for a table's LinkColumn; None for a missing id."""
    return None if run_id is None or pd.isna(run_id) else f"run?id={int(run_id)}"


def _fraction(value: float | None) -> str:
    return "–" if value is None or pd.isna(value) else f"{value:.3f}"


def run_header(run: RunRecord) -> None:
    """Title, outcome, stop reason, error and warnings: what to know before any tab."""
    st.title(f"Run {run.id} · {md_escape(run.name)}")
    facts = [f"study {run.study}" if run.study else "no study", f"attempt {run.attempt}"]
    if run.tags:
        facts.append("tags " + ", ".join(run.tags))
    if run.worker:
        facts.append(f"worker {run.worker}")
    st.caption(md_escape(" · ".join(facts)))
    status, epochs, best, last, validation = st.columns(5)
    status.metric("status", run.status.value)
    epochs.metric("epochs done", f"{run.epochs_done}/{run.epochs}")
    at_epoch = f" (epoch {run.best_epoch})" if run.best_epoch else ""
    best.metric(f"best val accuracy{at_epoch}", _fraction(run.best_val_accuracy))
    last.metric("last val accuracy", _fraction(run.last_val_accuracy))
    accuracy = (run.evaluation or {}).get("accuracy")
    validation.metric("evaluated accuracy", _fraction(accuracy))
    if run.stop_reason:
        detail = f": {run.stop_detail}" if run.stop_detail else ""
        st.text(f"Stop reason: {run.stop_reason.value}{detail}")
    if run.cancel_requested and run.status.value == "running":
        st.info("Cancellation requested; the worker stops at its next heartbeat.")
    for warning in run.warnings:
        st.warning(md_escape(warning), icon=":material/warning:")
    if run.error:
        st.markdown("**Error**")
        st.code(run.error, language=None, wrap_lines=True)  # text, never HTML


def run_links(database: Database, run: RunRecord) -> None:
    """Download the model, predict with it, open it in Compare (in the caller's container)."""
    meta = fetch_model_meta(database, run.id) if run.status.value == "succeeded" else None
    if meta is not None:
        st.download_button(
            "Download model (.keras)",
            data=lambda: model_bytes(database, run.id),  # read from the database on click
            file_name=f"run-{run.id}.keras",  # ours, never from user input
            mime="application/octet-stream",
            icon=":material/download:",
            on_click="ignore",
            key="run.download",
        )
        st.page_link(
            PREDICT_PAGE,
            label="Predict with this model",
            icon=":material/image_search:",
            query_params={"runs": str(run.id)},
        )
    st.page_link(
        COMPARE_PAGE,
        label="Open in Compare",
        icon=":material/stacked_line_chart:",
        query_params={"runs": str(run.id)},
    )
    st.page_link(
        QUEUE_PAGE,
        label="Clone into the form",
        icon=":material/content_copy:",
        query_params={"clone": str(run.id)},
    )
    run_controls(database, run)


def run_controls(database: Database, run: RunRecord) -> None:
    """Cancel, re-run or delete the run (team mode: signed-in users only)."""
    active = run.status in (RunStatus.QUEUED, RunStatus.RUNNING)
    if active and not run.cancel_requested:
        clicked = st.button("Cancel run", icon=":material/cancel:", key="run.cancel")
        if clicked and can_write("cancel runs"):
            st.toast(cancel_message(run.id, cancel(database, run.id)))
            st.rerun()
    if run.status.is_final:
        clicked = st.button("Re-run", icon=":material/replay:", key="run.rerun")
        new_id = rerun(database, run.id) if clicked and can_write("re-run runs") else None
        if new_id is not None:
            st.toast(f"Queued run {new_id}, a copy of run {run.id}.")
    if run.status is not RunStatus.RUNNING:
        with st.popover("Delete", icon=":material/delete:"):
            st.write(f"Delete run {run.id} with its curves, model and verdicts? No undo.")
            clicked = st.button("Delete for good", type="primary", key="run.delete")
            if clicked and can_write("delete runs"):
                delete(database, run.id)
                st.switch_page(RUNS_PAGE)


def curves_panel(database: Database, run: RunRecord, figures: Figures) -> None:
    curves = fetch_run_curves(database, run.id)
    if curves.empty:
        st.caption(
            "No epoch recorded yet."
            if run.status.value in ("queued", "running")
            else "This run recorded no epoch."
        )
        return
    accuracy = run_curves_figure(curves, "accuracy", run.best_epoch)
    loss = run_curves_figure(curves, "loss", run.best_epoch)
    left, right = st.columns(2)
    left.plotly_chart(accuracy, width="stretch", key="run.curves.accuracy")
    right.plotly_chart(loss, width="stretch", key="run.curves.loss")
    figures.update({"Accuracy": accuracy, "Loss": loss})
    if curves["learning_rate"].notna().any():
        rate = learning_rate_figure(curves)
        left.plotly_chart(rate, width="stretch", key="run.curves.lr")
        figures["Learning rate"] = rate
    seconds = curves["epoch_seconds"].dropna()
    if not seconds.empty:
        right.metric("mean epoch time", f"{seconds.mean():.1f} s")
    with st.expander("Per-epoch numbers"):
        st.dataframe(curves, hide_index=True, key="run.curves.table")


def _live_curves(database: Database, run_id: int, figures: Figures) -> None:
    run = fetch_run(database, run_id)
    if run is None:
        return
    if run.status.value == "running":
        st.caption(f"Training: {run.epochs_done} of {run.epochs} epochs done; refreshes every 3 s.")
    curves_panel(database, run, figures)


# While a run trains, its curves redraw themselves as epochs arrive.
live_curves_panel = st.fragment(run_every=3)(_live_curves)


def evaluation_panel(database: Database, run: RunRecord, figures: Figures) -> str:
    """Confusion matrix, per-class metrics and the misclassified gallery; returns the mode."""
    evaluation = run.evaluation
    if not evaluation:
        st.caption(
            "No evaluation yet: a run evaluates its validation split once training finishes."
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


def augmentation_panel(database: Database, run: RunRecord) -> None:
    """The run's augmentation applied to a few images, several times each, as training does."""
    knobs = {k: v for k, v in (run.config.get("augmentation") or {}).items() if v}
    if not knobs:
        st.info("This run trained without augmentation.", icon=":material/info:")
        return
    st.caption(
        "Augmentation: "
        + ", ".join(f"{k} {v}" for k, v in knobs.items())
        + f". Each row: the original, then {AUGMENT_COPIES} random draws."
    )
    with st.spinner("Augmenting sample images…"):
        rows, labels, origin = augmented_samples(database, run.id)
    if not rows:
        st.warning(
            "No image to preview: the dataset is not readable on this machine and the run "
            "stored no validation thumbnails.",
            icon=":material/image_not_supported:",
        )
        return
    st.caption(origin)
    augmentation_grid(rows, labels)


def augmentation_grid(rows: list[list[np.ndarray]], labels: list[str], width: int = 120) -> None:
    """Rows from `imaging.augmentation_preview`: each label's original, then its draws."""
    for row, label in zip(rows, labels, strict=True):
        st.image(
            row,
            caption=[md_escape(label)] + [f"draw {i}" for i in range(1, len(row))],
            width=width,
        )


@st.cache_data(ttl=600, max_entries=8, show_spinner=False, hash_funcs=HASH_FUNCS)
def augmented_samples(
    database: Database, run_id: int
) -> tuple[list[list[np.ndarray]], list[str], str]:
    """(rows of [original, draws...], a label per row, where the images came from)."""
    from experiment.config import parse_config
    from trainer.train import augment_spec

    run = fetch_run(database, run_id)
    if run is None:
        return [], [], ""
    size = min(run.image_size, PREVIEW_MAX_PX)
    samples = dataset_samples(run.dataset, size, AUGMENT_SOURCES)
    origin = f"Sample images from the dataset folder {run.dataset}."
    if not samples:
        samples = _thumbnail_samples(database, run, size)
        origin = "Validation thumbnails stored with the run (the dataset is not readable here)."
    if not samples:
        return [], [], ""
    spec = augment_spec(parse_config(run.config))
    rows = augmentation_preview([s for _, s in samples], spec, AUGMENT_COPIES, seed=run.seed)
    return rows, [label for label, _ in samples], origin


def _thumbnail_samples(
    database: Database, run: RunRecord, size: int
) -> list[tuple[str, np.ndarray]]:
    """One stored validation thumbnail per class, enlarged to the preview size."""
    evaluation = run.evaluation or {}
    class_names = tuple(evaluation.get("class_names") or run.class_names or ())
    predictions = fetch_predictions(database, run.id, class_names)
    if predictions.empty:
        return []
    firsts = predictions.drop_duplicates("true_label").head(AUGMENT_SOURCES)
    thumbnails = fetch_thumbnails(database, run.id, tuple(int(p) for p in firsts["position"]))
    return [
        (str(row.true_class), decode_rgb(thumbnails[int(row.position)], size))
        for row in firsts.itertuples()
        if int(row.position) in thumbnails
    ]


def model_panel(database: Database, run: RunRecord) -> None:
    """The stored model's layers and parameters (the architecture inside the wrapper)."""
    if run.status.value != "succeeded":
        st.caption("Only succeeded runs store a model.")
        return
    try:
        meta = fetch_model_meta(database, run.id)
    except ArtifactIntegrityError as error:
        st.error(str(error), icon=":material/error:")
        return
    if meta is None:
        st.caption("This run stored no model.")
        return
    summary: dict[str, Any] = dict(meta.get("summary") or {})
    st.caption(
        f"{md_escape(str(summary.get('name', 'model')))}: "
        f"{int(summary.get('total_params', 0)):,} parameters · input "
        f"{meta.get('image_size')} px · classes {', '.join(meta.get('class_names') or [])}"
    )
    layers = layers_table(summary)
    st.dataframe(
        layers,
        hide_index=True,
        height=min(40 + 35 * len(layers), 720),
        column_config={"params": st.column_config.NumberColumn(format="localized")},
        key="run.layers",
    )


def layers_table(summary: dict[str, Any]) -> pd.DataFrame:
    """The model summary as a table: layer, type, output shape, parameters."""
    rows = [
        {
            "layer": layer["name"],
            "type": layer["type"],
            "output shape": " x ".join(str(d) for d in layer["output_shape"]),
            "params": int(layer["params"]),
        }
        for layer in summary.get("layers", [])
    ]
    return pd.DataFrame(rows, columns=["layer", "type", "output shape", "params"])


def details_panel(database: Database, run: RunRecord) -> None:
    """Config, environment, timestamps and every attempt with how it ended."""
    config, environment = st.columns(2)
    with config:
        st.subheader("Config")
        st.json(run.config, expanded=True)
    with environment:
        st.subheader("Environment")
        if run.environment:
            st.dataframe(
                pd.DataFrame(
                    [(k, "" if v is None else str(v)) for k, v in run.environment.items()],
                    columns=["item", "value"],
                ),
                hide_index=True,
                key="run.environment",
            )
        else:
            st.caption("Recorded when a worker starts the run.")
        st.subheader("Times (UTC)")
        times = {
            "queued": run.created_at,
            "started": run.started_at,
            "finished": run.finished_at,
            "last heartbeat": run.heartbeat_at,
        }
        st.dataframe(
            pd.DataFrame(
                [(k, f"{v:%Y-%m-%d %H:%M:%S}" if v else "–") for k, v in times.items()],
                columns=["event", "time"],
            ),
            hide_index=True,
            key="run.times",
        )
    st.subheader("Attempts")
    attempts_table(fetch_attempts(database, (run.id,)), key="run.attempts")


def attempts_table(attempts: pd.DataFrame, *, key: str) -> None:
    if attempts.empty:
        st.caption("No worker has claimed this run yet.")
        return
    st.dataframe(
        attempts,
        hide_index=True,
        placeholder="–",
        column_config={
            "run_id": st.column_config.NumberColumn("run", format="%d"),
            "run": st.column_config.LinkColumn("run", display_text=RUN_LINK_TEXT, width="small"),
            "started_at": st.column_config.DatetimeColumn("started", format="YYYY-MM-DD HH:mm:ss"),
            "ended_at": st.column_config.DatetimeColumn("ended", format="YYYY-MM-DD HH:mm:ss"),
            "detail": st.column_config.TextColumn("why it ended", width="large"),
        },
        key=key,
    )
