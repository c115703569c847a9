"""The top of a run's page: title, status and outcome, links, and the run's actions.

User-typed text (run names, dataset warnings) is escaped before it reaches Markdown;
tracebacks are code blocks.
"""

from __future__ import annotations

import streamlit as st

from dashboard.actions import cancel, cancel_message, delete, rerun
from dashboard.artifacts import artifact_store, store_name
from dashboard.auth import can_write
from dashboard.nav import COMPARE_PAGE, PREDICT_PAGE, QUEUE_PAGE, RUNS_PAGE
from dashboard.queries import fetch_model_meta, fetch_model_pointer, fetch_run_jobs, model_bytes
from dashboard.slurm_jobs import job_colour, job_state_text
from dashboard.text import MISSING, fraction, md_escape, run_anchor, search_anchor, stop_text
from data.memory import format_bytes
from db.artifact_store import ArtifactStoreError
from db.entities import ArtifactPointer, RunRecord
from db.models import RunSource, RunStatus
from db.searches import TrialLink
from db.session import Database
from experiment.foreign import clone_fields

MESSAGE = "run.message"  # session_state: (run id, what the last action on it did)


def run_header(run: RunRecord, trial: TrialLink | None = None) -> None:
    """Title, outcome, stop reason, error and warnings: what to know before any tab; a
    search's trial says which ("trial 7 of lr-search") and links to the search's view."""
    st.title(f"Run {run.id} · {md_escape(run.name)}")
    facts = [f"study {run.study}" if run.study else "no study"]
    if run.source is RunSource.QUEUED:
        facts.append(f"attempt {run.attempt}")
    else:
        facts.append(source_text(run))
    if run.tags:
        facts.append("tags " + ", ".join(run.tags))
    if run.worker:
        facts.append(f"worker {run.worker}")
    caption = md_escape(" · ".join(facts))
    if trial is not None:
        link = search_anchor(trial.search, str(trial))
        caption = f"{link} (budget {trial.budget} runs) · {caption}"
    st.caption(caption)
    _last_action(run)
    status, epochs, best, last, validation = st.columns(5)
    cancelling = run.cancel_requested and run.status is RunStatus.RUNNING
    status.metric("status", f"{run.status.value}, cancelling" if cancelling else run.status.value)
    epochs.metric("epochs done", f"{run.epochs_done}/{run.epochs}")
    at_epoch = f" (epoch {run.best_epoch})" if run.best_epoch else ""
    best.metric(f"best val accuracy{at_epoch}", fraction(run.best_val_accuracy))
    last.metric("last val accuracy", fraction(run.last_val_accuracy))
    accuracy = (run.evaluation or {}).get("accuracy")
    validation.metric("evaluated accuracy", fraction(accuracy))
    if run.stop_reason:
        reason = stop_text(run.stop_reason.value, run.stop_detail, run.epochs_done)
        st.text(f"Stop reason: {reason}")
    elif not run.status.is_final:
        st.text(f"Stop reason: {MISSING} (still {run.status.value})")
    if cancelling:
        st.info("Cancellation requested; the worker stops at its next heartbeat.")
    for warning in run.warnings:
        st.warning(md_escape(warning), icon=":material/warning:")
    if run.error:
        st.markdown("**Error**")
        st.code(run.error, language=None, wrap_lines=True)  # text, never HTML


def source_text(run: RunRecord) -> str:
    """Where a run the lab's workers did not train came from, in a few words."""
    environment = run.environment or {}
    if run.source is RunSource.IMPORT:
        path = environment.get("imported_from")
        kind = environment.get("format")
        where = f" from {path}" if path else ""
        return f"imported{where}" + (f" ({kind})" if kind else "") + ", read-only"
    if run.source is RunSource.SCRIPT:
        script = environment.get("script")
        return "logged by your own script" + (f" {script}" if script else "") + ", read-only"
    return f"source {run.source.value}"


def can_clone(run: RunRecord) -> bool:
    """Queued runs always; a script's or an imported run when its config maps onto the
    Queue form's fields (`experiment.foreign.clone_fields`)."""
    return run.source is RunSource.QUEUED or clone_fields(run.config) is not None


# How the worker fed the run its images (trainer/inputs.py records it in the environment).
PIPELINES = {
    "memory": ("images in memory", ":material/memory:"),
    "disk": ("images from decoded files", ":material/save:"),
    "stream": ("images streamed from disk", ":material/stream:"),
}


def run_badges(database: Database, run: RunRecord) -> None:
    """Badges for how the run was fed its images and, under Slurm, its job's state."""
    environment = run.environment or {}
    pipeline = PIPELINES.get(str(environment.get("input_pipeline")))
    jobs = fetch_run_jobs(database, run.id)
    if pipeline is None and not jobs:
        return
    with st.container(horizontal=True, vertical_alignment="center", gap="small"):
        if pipeline is not None:
            label, icon = pipeline
            reason = environment.get("input_pipeline_reason")
            st.badge(label, icon=icon, color="violet", help=str(reason) if reason else None)
        if jobs:
            job = jobs[-1]  # the latest attempt's
            st.badge(
                f"Slurm job {job.job_id}: {job_state_text(job)}",
                icon=":material/dns:",
                color=job_colour(job),
                help=f"Log: {job.log_path}" if job.log_path else None,
            )
            if job.log_path:
                st.caption(f"log `{job.log_path}`")


def _last_action(run: RunRecord) -> None:
    """What the user's last action on this run did, until the page shows another run."""
    message = st.session_state.get(MESSAGE)
    if message and message[0] == run.id:
        st.success(message[1], icon=":material/check_circle:")


def _tell(run_id: int, message: str) -> None:
    st.session_state[MESSAGE] = (run_id, message)


def links_and_actions(database: Database, run: RunRecord) -> None:
    """Download the model, predict with it, open it in Compare (in the caller's container)."""
    pointer = fetch_model_pointer(database, run.id) if run.status.value == "succeeded" else None
    if pointer is not None:
        download_model(database, pointer)
        meta = fetch_model_meta(database, run.id) or {}
        if not meta.get("custom_objects"):  # custom layers: the page says why not
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
    if can_clone(run):
        st.page_link(
            QUEUE_PAGE,
            label="Clone into the form",
            icon=":material/content_copy:",
            query_params={"clone": str(run.id)},
        )
    run_controls(database, run)


def download_model(database: Database, pointer: ArtifactPointer) -> None:
    """The model's bytes, read from its store and sha256-checked when the button is clicked."""
    try:
        store = artifact_store(database)
    except ArtifactStoreError as error:
        st.warning(f"No model download: {error}", icon=":material/warning:")
        return
    run_id = pointer.run_id
    st.download_button(
        f"Download model (.keras, {format_bytes(pointer.size_bytes)})",
        data=lambda: model_bytes(database, store, run_id),  # read from the store on click
        file_name=f"run-{run_id}.keras",  # ours, never from user input
        mime="application/octet-stream",
        icon=":material/download:",
        on_click="ignore",
        help=f"From {store_name(pointer, store)}; sha256 {pointer.sha256}",
        key="run.download",
    )


def run_controls(database: Database, run: RunRecord) -> None:
    """Cancel, re-run or delete the run (team mode: signed-in users only). Only the lab's own
    runs are cancelled or re-run: a script trains itself, an import is a record."""
    ours = run.source is RunSource.QUEUED
    active = run.status in (RunStatus.QUEUED, RunStatus.RUNNING)
    if ours and active and not run.cancel_requested:
        clicked = st.button("Cancel run", icon=":material/cancel:", key="run.cancel")
        if clicked and can_write("cancel runs"):
            _tell(run.id, cancel_message(run.id, cancel(database, run.id)))
            st.rerun()  # the whole page: the header above shows the run's new state
    if ours and run.status.is_final:
        clicked = st.button("Re-run", icon=":material/replay:", key="run.rerun")
        new_id = rerun(database, run.id) if clicked and can_write("re-run runs") else None
        if new_id is not None:
            _tell(run.id, f"Queued {run_anchor(new_id)}, a copy of run {run.id}.")
            st.rerun()
    if run.status is not RunStatus.RUNNING:
        with st.popover("Delete", icon=":material/delete:"):
            st.write(f"Delete run {run.id} with its curves, model and verdicts? No undo.")
            clicked = st.button("Delete for good", type="primary", key="run.delete")
            if clicked and can_write("delete runs"):
                try:
                    delete(database, artifact_store(database), run.id)
                except ArtifactStoreError as error:
                    st.error(f"Run {run.id} was not deleted: {error}", icon=":material/error:")
                    return
                except OSError as error:  # the rows are gone; the store kept some files
                    st.warning(
                        f"Run {run.id} was deleted, but not all of its artifact files: {error}",
                        icon=":material/warning:",
                    )
                    return
                st.switch_page(RUNS_PAGE)
