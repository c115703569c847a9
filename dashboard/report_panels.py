"""Reports: freeze a view (runs, settings, a note, its figures) under a short id, show it later.

`save_report_button` is what any page calls to offer "Save as report"; `show_report` renders
one read-only. A report stores copies, not references, so it reads the same after its runs
change or are deleted. Notes are Markdown with HTML disabled (Streamlit's default: no
`unsafe_allow_html` anywhere); titles and run names are escaped to plain text.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio
import streamlit as st

from dashboard.auth import writes_allowed
from dashboard.nav import REPORT_PAGE, RUN_PAGE
from dashboard.run_panels import md_escape
from dashboard.run_queries import fetch_reports
from dashboard.state import require_database
from db.reports import TITLE_MAX, ReportRecord, save_report
from db.session import Database

NOTE_MAX = 20_000
# What a report keeps of each run: enough to read it after the run is gone.
SNAPSHOT_COLUMNS = (
    "id", "name", "study", "status", "architecture", "optimizer", "learning_rate", "batch_size",
    "epochs", "image_size", "augmented", "seed", "epochs_text", "best_val_accuracy",
    "best_epoch", "last_val_accuracy", "stop_reason", "stop_detail", "finished_at",
)  # fmt: skip


def figure_json(figure: go.Figure) -> dict[str, Any]:
    """A figure as plain JSON (what Plotly itself writes), to store and redraw identically."""
    return dict(json.loads(figure.to_json()))


def figure_from_json(spec: Mapping[str, Any]) -> go.Figure:
    """Redraw a stored figure; properties a newer Plotly no longer knows are skipped."""
    return pio.from_json(json.dumps(spec), skip_invalid=True)


def runs_snapshot(runs: pd.DataFrame) -> list[dict[str, Any]]:
    """The runs' rows as JSON records: NaN becomes null, times ISO text."""
    columns = [c for c in SNAPSHOT_COLUMNS if c in runs.columns]
    records = runs[columns].to_json(orient="records", date_format="iso")
    return list(json.loads(records))


def json_safe(value: Any) -> Any:
    """`value` after a JSON round trip (numbers, text, lists, dicts; anything else as text)."""
    return json.loads(json.dumps(value, default=str))


def default_title(kind: str, run_ids: Sequence[int]) -> str:
    """`Run 3 versus run 5` for a run page, `Compare: runs 3, 5, 8` for others."""
    if kind == "run" and run_ids:
        others = ", ".join(str(i) for i in run_ids[1:])
        return f"Run {run_ids[0]}" + (f" versus run {others}" if others else "")
    shown = ", ".join(str(i) for i in run_ids[:8]) + (" …" if len(run_ids) > 8 else "")
    noun = "run" if len(run_ids) == 1 else "runs"
    return f"{kind.capitalize()}: {noun} {shown}" if run_ids else kind.capitalize()


def build_report(
    kind: str,
    state: Mapping[str, Any],
    runs: pd.DataFrame,
    figures: Mapping[str, go.Figure],
    view: str | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The (state, figures) JSON a report stores for this view."""
    run_ids = [int(i) for i in runs["id"]] if "id" in runs.columns else []
    frozen_state = {
        "run_ids": run_ids,
        "runs": runs_snapshot(runs),
        "settings": json_safe(dict(state)),
        "view": view,
    }
    return frozen_state, {name: figure_json(figure) for name, figure in figures.items()}


def store_report(
    database: Database,
    *,
    title: str,
    note: str,
    kind: str,
    state: dict[str, Any],
    figures: dict[str, Any],
) -> str:
    """Write one report (a short transaction) and forget the cached list; returns its id."""
    with database.begin() as session:
        report_id = save_report(
            session, title=title, note=note, kind=kind, state=state, figures=figures
        )
    fetch_reports.clear()
    return report_id


def save_report_button(
    kind: str,
    state: Mapping[str, Any],
    runs: pd.DataFrame,
    figures: Mapping[str, go.Figure],
    note: str = "",
    *,
    view: str | None = None,
    key: str = "report",
) -> str | None:
    """A "Save as report" popover: title and Markdown note, then freeze this view.

    Args:
        kind: what is saved, e.g. "run", "compare" (shown on the report and in the list).
        state: the view's settings (URL parameters, picked options); JSON-serialisable.
        runs: the runs shown, as rows with at least `id` (any columns of
            `queries.RUN_COLUMNS`; the ones in SNAPSHOT_COLUMNS are kept).
        figures: title -> figure, stored as Plotly JSON as they are at this moment.
        note: the note's initial text; the user edits it before saving.
        view: the live view's path (`state.share_path(...)`), linked from the report.
        key: widget key prefix, unique per page.

    Returns:
        The new report's id on the run where it was saved, else None.
    """
    run_ids = [int(i) for i in runs["id"]] if "id" in runs.columns else []
    if not writes_allowed():  # team mode, signed out: reports are writes like queueing
        st.button(
            "Save as report",
            icon=":material/bookmark_add:",
            disabled=True,
            help="Sign in (in the sidebar) to save reports.",
            key=f"{key}.locked",
        )
        return None
    with st.popover("Save as report", icon=":material/bookmark_add:"):
        with st.form(f"{key}.form", border=False, clear_on_submit=True):
            title = st.text_input(
                "Title",
                value=default_title(kind, run_ids),
                max_chars=TITLE_MAX,
                # The default follows the runs shown, so the key does too.
                key=f"{key}.title.{'-'.join(map(str, run_ids))}",
            )
            text = st.text_area(
                "Note (Markdown)",
                value=note,
                max_chars=NOTE_MAX,
                key=f"{key}.note",
                placeholder="What this shows, what to try next…",
            )
            st.caption(
                f"Freezes {len(figures)} figure(s) and {len(run_ids)} run(s) as they are now."
            )
            submitted = st.form_submit_button("Save", icon=":material/save:")
        if not submitted:
            return None
        if not title.strip():
            st.error("A report needs a title.", icon=":material/error:")
            return None
        frozen_state, frozen_figures = build_report(kind, state, runs, figures, view)
        report_id = store_report(
            require_database(),
            title=title,
            note=text,
            kind=kind,
            state=frozen_state,
            figures=frozen_figures,
        )
        st.success(f"Saved report `{report_id}`.", icon=":material/bookmark_added:")
        st.page_link(
            REPORT_PAGE,
            label="Open the report",
            icon=":material/bookmark:",
            query_params={"id": report_id},
        )
    return report_id


def show_report(report: ReportRecord) -> None:
    """A saved report, read-only: title, note, runs as they were, settings and figures."""
    st.title(md_escape(report.title))
    saved = f"{report.created_at:%Y-%m-%d %H:%M} UTC" if report.created_at else "unknown time"
    st.caption(f"{report.kind} report · saved {saved} · id {report.id}")
    if report.note.strip():
        st.markdown(report.note)  # Markdown; raw HTML is shown as text
    runs = pd.DataFrame(report.state.get("runs") or [])
    if not runs.empty:
        st.subheader("Runs, as they were")
        st.dataframe(runs, hide_index=True, key="report.runs")
    for position, (name, spec) in enumerate(report.figures.items()):
        figure = figure_from_json(spec)
        if not figure.layout.title.text:  # a titled figure names itself
            st.subheader(md_escape(name))
        st.plotly_chart(figure, width="stretch", key=f"report.figure.{position}")
    settings = report.state.get("settings")
    if settings:
        with st.expander("Settings of the view"):
            st.json(settings)
    _live_links(report)


def _live_links(report: ReportRecord) -> None:
    run_ids = [int(i) for i in report.state.get("run_ids") or []]
    if not run_ids:
        return
    st.caption("The runs today (they may have changed or been deleted since):")
    with st.container(horizontal=True, gap="medium"):
        for run_id in run_ids:
            st.page_link(
                RUN_PAGE,
                label=f"Run {run_id}",
                icon=":material/science:",
                query_params={"id": str(run_id)},
            )
    view = report.state.get("view")
    if view:
        st.caption(f"The live view: `{view}`")
