"""The Compare page's parts: which runs, how to draw them, and the curves / table / parallel views.

URL parameters (all optional; defaults are left out so links stay short):

* which runs: `runs=3,5,8` (picked), or a filter (`q`, `status`, `study`, `tag`, a key
  hyper-parameter such as `optimizer=adam,sgd`) meaning every matching run, or `all=1`;
* the view: `tab=table|parallel`;
* the curves: `metrics=val_accuracy,val_loss`, `color=optimizer|run`, `dash=batch_size`,
  `band=minmax|std`, `smooth=0.6`, `x=wall`, `logy=1`, `best=0`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd
import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from dashboard import charts, knobs
from dashboard.charts import DEFAULT_METRICS, PLOT_CONFIG, SERIES_TITLES, CurveOptions
from dashboard.curve_data import SERIES, run_metrics
from dashboard.queries import fetch_curves, fetch_runs_by_ids
from dashboard.report_panels import save_report_button
from dashboard.run_filter import RunFilter
from dashboard.run_select import filter_bar, selection_table
from dashboard.state import encode, parse_choices, parse_ids, set_url_params, share_path, url_index
from dashboard.tables import column_config, diff_table, highlight_css, pick, run_links, styled
from db.session import Database

MAX_DRAWN = 500  # runs drawn at most; more are listed but not plotted
MAX_STYLED = 500  # rows highlighted at most (pandas Styler grows with every cell)
LIVE_SECONDS = 3
TABS = {"Curves": "", "Table": "table", "Parallel coordinates": "parallel"}
PICKER_COLUMNS = (
    "id", "open", "status", "study", "name", "optimizer", "learning_rate", "batch_size", "epochs",
    "seed", "progress", "best_val_accuracy",
)  # fmt: skip
BANDS: dict[str, str] = {"none": "each run", "minmax": "mean, min–max band", "std": "mean ± std"}
X_AXES: dict[str, str] = {"epoch": "epoch", "wall": "wall time"}
PNG_HELP = "For a PNG, use the camera button in the chart's toolbar (top right of the chart)."


@dataclass(frozen=True)
class Selection:
    """The runs to compare, newest first, and how they were chosen."""

    ids: list[int]
    run_filter: RunFilter
    picked: bool  # explicit ids (`?runs=`) rather than every run matching the filter


def _to_all_matching() -> None:
    """Choosing a study opens the whole study: every run in it, including later ones."""
    st.session_state["compare.mode"] = "all"


def _mode_changed() -> None:
    """Switching to "pick" starts from the runs that matched, so one can drop a few."""
    if st.session_state.get("compare.mode") == "pick":
        st.query_params["runs"] = encode(st.session_state.get("compare.matching", []))


def selection_panel(runs: pd.DataFrame) -> Selection:
    """Filters, "all matching" or "pick", and the picker table; writes the URL."""
    url_ids = [i for i in parse_ids(st.query_params.get("runs")) if i in set(runs["id"])]
    start = RunFilter.from_params(st.query_params.to_dict())
    everything = st.query_params.get("all") == "1"
    start_mode = "all" if not url_ids and (start.active or everything) else "pick"
    run_filter = filter_bar(runs, "compare.f", on_study_change=_to_all_matching)
    matching = run_filter.apply(runs)
    st.session_state["compare.matching"] = [int(i) for i in matching["id"]]
    mode = st.segmented_control(
        "Runs to compare",
        ["all", "pick"],
        default=start_mode,
        required=True,
        format_func=lambda m: f"All {len(matching)} matching" if m == "all" else "Pick runs",
        key="compare.mode",
        on_change=_mode_changed,
    )
    if mode == "pick":
        ids = _picker(matching, url_ids)
        set_url_params(runs=ids, all=None, **run_filter.to_params())
        return Selection(ids, run_filter, picked=True)
    ids = [int(i) for i in matching["id"]]
    set_url_params(runs=None, all=None if run_filter.active else 1, **run_filter.to_params())
    return Selection(ids, run_filter, picked=False)


def _picker(matching: pd.DataFrame, picked: list[int]) -> list[int]:
    """The matching runs with row selection (or only the picked ones); returns the picks."""
    only = st.toggle("Show picked runs only", key="compare.picked_only", disabled=not picked)
    shown = matching[matching["id"].isin(picked)] if only and picked else matching
    table = pick(shown.assign(open=run_links(shown["id"])), PICKER_COLUMNS)
    # As tall as its rows (no empty grid under two runs), scrolling past seven.
    height = min(260, 38 + 35 * max(len(table), 1))
    ids = selection_table(table, "compare.picker", picked, height=height)
    if ids:
        listed = ", ".join(f"#{i}" for i in ids[:12]) + (" …" if len(ids) > 12 else "")
        st.caption(f"Picked {len(ids)}: {listed}")
    return ids


def _float(text: str | None, default: float = 0.0) -> float:
    try:
        return min(max(float(text or default), 0.0), 0.99)
    except ValueError:
        return default


def curve_controls(params: pd.DataFrame) -> CurveOptions:
    """Metrics, colour, dash, seeds band, smoothing, x axis, log y and markers; writes the URL."""
    metrics = st.pills(
        "Metrics", SERIES, selection_mode="multi",
        default=parse_choices(st.query_params.get("metrics"), SERIES) or list(DEFAULT_METRICS),
        format_func=SERIES_TITLES.__getitem__, key="compare.metrics",
        help="Train and validation of a metric share a panel (solid / dashed).",
    )  # fmt: skip
    color, dash, band = _grouping_widgets(params)
    smoothing, x, log_y, best = _display_widgets()
    options = CurveOptions(
        metrics=tuple(m for m in SERIES if m in metrics),
        color_by=charts.default_color_by(params) if color == "auto" else color,
        dash_by=None if dash == "none" else dash,
        smoothing=smoothing,
        x="wall" if x == "wall" else "epoch",
        log_y=log_y,
        band="minmax" if band == "minmax" else "std" if band == "std" else "none",
        best_markers=best,
    )
    set_url_params(
        metrics=None if set(metrics) == set(DEFAULT_METRICS) else list(options.metrics),
        color=None if color == "auto" else color,
        dash=options.dash_by,
        band=None if options.band == "none" else options.band,
        smooth=f"{smoothing:g}" if smoothing else None,
        x="wall" if options.x == "wall" else None,
        logy=1 if log_y else None,
        best=None if best else "0",
    )
    return options


def _grouping_widgets(params: pd.DataFrame) -> tuple[str, str, str]:
    """Colour by, line style by (the differing hyper-parameters first) and the seeds band."""
    differ = knobs.differing(params)
    choices = list(dict.fromkeys([*differ, *(k for k in knobs.KNOBS if k in params.columns)]))
    left, middle, right = st.columns(3, vertical_alignment="bottom")
    colors = ["auto", "run", *choices]
    color = left.selectbox(
        "Colour by", colors, index=url_index("color", colors), key="compare.color",
        help="auto: the first hyper-parameter that differs between the runs.",
    )  # fmt: skip
    dashes = ["none", *choices]
    dash = middle.selectbox(
        "Line style by", dashes, index=url_index("dash", dashes), key="compare.dash",
        help="A second hyper-parameter as dashes; train and validation then get a panel each.",
    )  # fmt: skip
    band = right.selectbox(
        "Seeds", list(BANDS), index=url_index("band", list(BANDS)), format_func=BANDS.__getitem__,
        key="compare.band",
        help="Runs that differ only in their seed drawn as their mean and a band.",
    )  # fmt: skip
    return str(color), str(dash), str(band)


def _display_widgets() -> tuple[float, str, bool, bool]:
    """Smoothing, x axis, log y and best-epoch markers."""
    url = st.query_params
    smooth_col, x_col, log_col, best_col = st.columns([3, 2, 1.2, 1.8], vertical_alignment="bottom")
    smoothing = smooth_col.slider(
        "Smoothing", 0.0, 0.99, value=_float(url.get("smooth")), step=0.01, key="compare.smooth",
        help="TensorBoard's debiased exponential moving average; the raw values stay faint.",
    )  # fmt: skip
    x = x_col.segmented_control(
        "X axis", list(X_AXES), default="wall" if url.get("x") == "wall" else "epoch",
        required=True, format_func=X_AXES.__getitem__, key="compare.x",
    )  # fmt: skip
    log_y = log_col.toggle("Log y", value=url.get("logy") == "1", key="compare.logy")
    best = best_col.toggle("Best epochs ★", value=url.get("best") != "0", key="compare.best")
    return float(smoothing), str(x), bool(log_y), bool(best)


def view_tabs() -> tuple[str, DeltaGenerator]:
    """Curves / Table / Parallel coordinates: the open tab's label and container (only the
    open tab's content runs). Writes `?tab=`."""
    labels = list(TABS)
    wanted = labels[url_index("tab", list(TABS.values()))]
    tabs = st.tabs(labels, default=wanted, key="compare.tab", on_change="rerun")
    label, container = next(
        ((lab, tab) for lab, tab in zip(labels, tabs, strict=True) if tab.open),
        (wanted, tabs[labels.index(wanted)]),
    )
    set_url_params(tab=TABS[label] or None)
    return label, container


@dataclass(frozen=True)
class Compared:
    """Fresh data for the selected runs, as the views need it."""

    runs: pd.DataFrame  # newest first
    params: pd.DataFrame  # knobs.hyperparameters, index: run id
    differing: list[str]
    drawn: pd.DataFrame  # the first MAX_DRAWN runs, with params, `repeat` and hover columns
    curves: pd.DataFrame  # epochs of the drawn runs


def load(database: Database, ids: Sequence[int], params: pd.DataFrame) -> Compared:
    """Runs and curves as they are now (a live fragment calls this every few seconds);
    `params` (the runs' hyper-parameters) do not change while runs train."""
    fetched = fetch_runs_by_ids(database, tuple(sorted(ids)))
    runs = fetched.set_index("id", drop=False).reindex(ids).dropna(subset=["id"])
    runs = runs.reset_index(drop=True).astype({"id": "int64"})
    params = params.reindex(runs["id"])
    differ = knobs.differing(params)
    head = runs.head(MAX_DRAWN)
    drawn = params.loc[head["id"]].reset_index()
    drawn["name"] = head["name"].to_numpy()
    drawn["repeat"] = knobs.repeat_groups(params.loc[head["id"]]).to_numpy()
    curves = fetch_curves(database, tuple(sorted(int(i) for i in head["id"])))
    return Compared(runs, params, differ, drawn, curves)


def _download_figure(figure: object, name: str, key: str) -> None:
    st.download_button(
        "Figure (HTML)",
        data=lambda: charts.figure_html(figure),  # type: ignore[arg-type]
        file_name=f"{name}.html",
        mime="text/html",
        icon=":material/download:",
        on_click="ignore",
        key=key,
        help="A standalone page with plotly.js inside; opens offline. " + PNG_HELP,
    )


def curves_view(data: Compared, options: CurveOptions) -> None:
    """The overlaid curves, a note when some runs are not drawn, and downloads."""
    if len(data.runs) > len(data.drawn):
        st.warning(
            f"Drawing the newest {len(data.drawn)} of {len(data.runs)} selected runs; "
            "narrow the filter to see the others.",
            icon=":material/visibility_off:",
        )
    if not options.metrics:
        st.info("Choose at least one metric.", icon=":material/info:")
        return
    figure = charts.compare_figure(data.curves, data.drawn, options, describe=data.differing)
    st.plotly_chart(figure, key="compare.chart", config=PLOT_CONFIG)
    left, right, report, _ = st.columns([1, 1, 1, 3])
    with left:
        _download_figure(figure, "compare-curves", "compare.curves_html")
    with report:
        save_report_button(
            "compare",
            state=dict(st.query_params),
            runs=data.runs,
            figures={"Curves": figure},
            view=share_path("compare"),
            key="compare.report",
        )
    names = data.drawn.set_index("id")["name"]
    right.download_button(
        "Curves (CSV)",
        data=lambda: _curves_csv(data.curves, names, data.params[data.differing]),
        file_name="compare-curves.csv",
        mime="text/csv",
        icon=":material/download:",
        on_click="ignore",
        key="compare.curves_csv",
        help="Every epoch of the drawn runs, with their name and differing hyper-parameters.",
    )
    st.caption(PNG_HELP)


def _curves_csv(curves: pd.DataFrame, names: pd.Series, params: pd.DataFrame) -> str:
    frame = curves.drop(columns=["recorded_at"], errors="ignore")
    frame.insert(1, "name", frame["run_id"].map(names))
    described = params.map(knobs.format_value).reindex(frame["run_id"]).reset_index(drop=True)
    frame = pd.concat([frame.reset_index(drop=True), described], axis=1)
    return str(frame.to_csv(index=False))


def _table_colors(data: Compared, color_by: str) -> dict[str, dict[str, str]]:
    """The colour-by column's values with their line colours, lightened for cell backgrounds."""
    if color_by == "run" or color_by not in data.differing:
        return {}
    groups = charts.line_groups(data.drawn, color_by, None)
    palette: dict[str, str] = {}
    for group in groups:
        value = knobs.format_value(data.drawn[color_by].iloc[int(group.positions[0])])
        palette[value] = charts.rgba(group.color, 0.3)
    return {color_by: palette}


def table_view(data: Compared, color_by: str) -> None:
    """What differs between the runs, highlighted, and how each run did; sortable."""
    metrics = run_metrics(data.curves) if len(data.curves) else pd.DataFrame()
    table = diff_table(data.runs, data.params, metrics, data.differing)
    if not data.differing:
        st.caption("These runs share every hyper-parameter.")
    shown: object = table
    if len(table) <= MAX_STYLED:
        shown = styled(table, highlight_css(table, data.differing, _table_colors(data, color_by)))
    else:
        st.caption(f"Highlighting is off above {MAX_STYLED} rows.")
    st.dataframe(
        shown, column_config=column_config(), hide_index=True, key="compare.table",
        placeholder="–", column_order=[c for c in table.columns if c != "id"],
    )  # fmt: skip
    st.caption(
        "Highlighted: a value other than its column's most common one; the colour-by column "
        "takes its lines' colours. Click a header to sort; `@ epoch` is when it happened."
    )
    st.download_button(
        "Table (CSV)",
        data=lambda: str(table.to_csv(index=False)),
        file_name="compare-table.csv",
        mime="text/csv",
        icon=":material/download:",
        on_click="ignore",
        key="compare.table_csv",
    )


def parallel_view(data: Compared) -> None:
    """Hyper-parameters -> best validation accuracy, one line per run."""
    columns = [c for c in data.differing if c != "study"][:10]
    if not columns:
        st.info("The runs share every hyper-parameter: nothing to spread out.")
        return
    table = data.params[columns].reindex(data.runs["id"]).reset_index(drop=True)
    table["best_val_accuracy"] = data.runs["best_val_accuracy"].to_numpy()
    missing = int(table["best_val_accuracy"].isna().sum())
    if missing == len(table):
        st.info("No run has a validation accuracy yet.", icon=":material/info:")
        return
    figure = charts.parcoords_figure(table, columns)
    st.plotly_chart(figure, key="compare.parallel", config=PLOT_CONFIG)
    if missing:
        st.caption(f"{missing} run(s) without a validation accuracy yet are left out.")
    st.caption("Drag along an axis to keep only the runs in that range.")
    _download_figure(figure, "compare-parallel", "compare.parallel_html")


def views(
    database: Database,
    ids: Sequence[int],
    params: pd.DataFrame,
    tab: str,
    options: CurveOptions | None,
) -> None:
    """The open tab's content from fresh data."""
    data = load(database, ids, params)
    if data.runs.empty:
        st.info("None of these runs exists any more.", icon=":material/info:")
    elif tab == "Table":
        color = st.query_params.get("color")
        table_view(data, color if color else charts.default_color_by(data.params))
    elif tab == "Parallel coordinates":
        parallel_view(data)
    elif options is not None:
        curves_view(data, options)


# The same views, refreshing every few seconds while a selected run is queued or training;
# only this fragment reruns, so selections, widgets and the chart's zoom stay as they are.
live_views = st.fragment(run_every=LIVE_SECONDS)(views)
