"""The Compare page's views of the chosen runs: curves, table and parallel coordinates.

URL parameters (all optional; defaults are left out so links stay short):

* which runs: `runs=3,5,8` (picked), or a filter (`q`, `status`, `study`, `tag`, a key
  hyper-parameter such as `optimizer=adam,sgd`) meaning every matching run, or `all=1`;
  `mode=pick` keeps a filter in "pick" mode when nothing is picked yet;
* the view: `tab=table|parallel`;
* the curves: `metrics=val_accuracy,val_auc` (any logged names), `color=optimizer|run`,
  `dash=batch_size`, `band=minmax|std`, `smooth=0.6`, `x=wall`, `logy=1`, `best=0`;
* the table: `of=val_auc`, the metric whose best and last it shows;
* which way metrics the server does not know improve: `dir=my_score:max,dice:min`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd
import streamlit as st

from dashboard import knobs
from dashboard.outage import live
from dashboard.queries import fetch_curves, fetch_runs_by_ids
from dashboard.report_button import save_report_button
from dashboard.state import share_path
from dashboard.tables import column_config
from dashboard.text import MISSING
from dashboard.views.compare import figures as charts
from dashboard.views.compare.controls import TableOptions
from dashboard.views.compare.curve_data import run_metrics
from dashboard.views.compare.diff_table import diff_table, highlight_css, styled
from dashboard.views.compare.figures import PLOT_CONFIG, CurveOptions
from db.session import Database

MAX_DRAWN = 500  # runs drawn at most; more are listed but not plotted
MAX_STYLED = 500  # rows highlighted at most (pandas Styler grows with every cell)
LIVE_SECONDS = 3
PNG_HELP = "For a PNG, use the camera button in the chart's toolbar (top right of the chart)."


@dataclass(frozen=True)
class Compared:
    """Fresh data for the selected runs, as the views need it."""

    runs: pd.DataFrame  # newest first
    params: pd.DataFrame  # knobs.hyperparameters, index: run id
    differing: list[str]
    drawn: pd.DataFrame  # the first MAX_DRAWN runs, with params, `repeat` and hover columns
    curves: pd.DataFrame  # epochs of the drawn runs


def load(
    database: Database, ids: Sequence[int], params: pd.DataFrame, extra: tuple[str, ...] = ()
) -> Compared:
    """Runs and curves as they are now (a live fragment calls this every few seconds);
    `params` (the runs' hyper-parameters) do not change while runs train; `extra`: metric
    names to read besides the standard six."""
    fetched = fetch_runs_by_ids(database, tuple(sorted(ids)))
    runs = fetched.set_index("id", drop=False).reindex(ids).dropna(subset=["id"])
    runs = runs.reset_index(drop=True).astype({"id": "int64"})
    params = params.reindex(runs["id"])
    differ = knobs.differing(params)
    head = runs.head(MAX_DRAWN)
    drawn = params.loc[head["id"]].reset_index()
    drawn["name"] = head["name"].to_numpy()
    drawn["repeat"] = knobs.repeat_groups(params.loc[head["id"]]).to_numpy()
    curves = fetch_curves(database, tuple(sorted(int(i) for i in head["id"])), extra)
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
    # A row that sizes each button to its label (equal columns cut "Save as report").
    names = data.drawn.set_index("id")["name"]
    with st.container(horizontal=True, vertical_alignment="center"):
        _download_figure(figure, "compare-curves", "compare.curves_html")
        st.download_button(
            "Curves (CSV)",
            data=lambda: _curves_csv(data.curves, names, data.params[data.differing]),
            file_name="compare-curves.csv",
            mime="text/csv",
            icon=":material/download:",
            on_click="ignore",
            key="compare.curves_csv",
            help="Every epoch of the drawn runs, with their name and differing hyper-parameters.",
        )
        save_report_button(
            "compare",
            state=dict(st.query_params),
            runs=data.runs,
            figures={"Curves": figure},
            view=share_path("compare"),
            key="compare.report",
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


def _metric_columns(metric: str) -> dict[str, Any]:
    """Titles and formats of the chosen metric's best / last columns (`run_metrics`)."""
    number = st.column_config.NumberColumn
    short = metric.replace("val_", "val ").replace("_", " ")
    return {
        f"best_{metric}": number(f"best {short}", format="%.4g"),
        f"best_{metric}_epoch": number("@ epoch", format="%d", width="small"),
        f"last_{metric}": number(f"last {short}", format="%.4g"),
        f"last_{metric}_epoch": number("@ epoch", format="%d", width="small"),
    }


def table_view(data: Compared, color_by: str, choice: TableOptions) -> None:
    """What differs between the runs, highlighted, and how each run did on the chosen
    metric (best and last, with their epochs); sortable."""
    direction = choice.directions.of(choice.metric)
    metrics = (
        run_metrics(data.curves, choice.metric, direction) if len(data.curves) else pd.DataFrame()
    )
    table = diff_table(data.runs, data.params, metrics, data.differing)
    if direction is None and choice.metric:
        st.caption(
            f"No best column: whether a higher or lower {choice.metric} is better is not "
            "known. Pick it above."
        )
    if not data.differing:
        st.caption("These runs share every hyper-parameter.")
    shown: object = table
    if len(table) <= MAX_STYLED:
        shown = styled(table, highlight_css(table, data.differing, _table_colors(data, color_by)))
    else:
        st.caption(f"Highlighting is off above {MAX_STYLED} rows.")
    config = {**column_config(), **_metric_columns(choice.metric)}
    st.dataframe(
        shown, column_config=config, hide_index=True, key="compare.table",
        placeholder=MISSING, column_order=[c for c in table.columns if c != "id"],
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
    options: CurveOptions | TableOptions | None,
    extra: tuple[str, ...] = (),
) -> None:
    """The open tab's content from fresh data; `extra`: the metrics it needs besides the
    standard six."""
    data = load(database, ids, params, extra)
    if data.runs.empty:
        st.info("None of these runs exists any more.", icon=":material/info:")
    elif tab == "Table" and isinstance(options, TableOptions):
        color = st.query_params.get("color")
        table_view(data, color if color else charts.default_color_by(data.params), options)
    elif tab == "Parallel coordinates":
        parallel_view(data)
    elif isinstance(options, CurveOptions):
        curves_view(data, options)


# The same views, refreshing every few seconds while a selected run is queued or training;
# only this fragment reruns, so selections, widgets and the chart's zoom stay as they are.
live_views = live(run_every=LIVE_SECONDS)(views)
