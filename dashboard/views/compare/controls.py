"""Compare's controls: metrics, colour and dash, seeds band, smoothing, axes, and the tabs.

Each widget starts from the URL and writes back to it, so the address bar is the share link.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from dashboard import knobs
from dashboard.state import parse_choices, set_url_params, url_index
from dashboard.views.compare import figures as charts
from dashboard.views.compare.curve_data import SERIES
from dashboard.views.compare.figures import DEFAULT_METRICS, SERIES_TITLES, CurveOptions

TABS = {"Curves": "", "Table": "table", "Parallel coordinates": "parallel"}
TAB_KEY = "compare.tab"


BANDS: dict[str, str] = {"none": "each run", "minmax": "mean, min–max band", "std": "mean ± std"}


X_AXES: dict[str, str] = {"epoch": "epoch", "wall": "wall time"}


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
    open tab's content runs). Writes `?tab=`.

    The tabs take no `default`: Streamlit counts `default` in the widget's identity, so a
    default read from `?tab=` (which this function rewrites after every switch) gave the tabs a
    new identity after each switch, and the browser's next click went to the old one and was
    lost. The URL seeds the tab through session state instead, once per visit.
    """
    labels = list(TABS)
    if TAB_KEY not in st.session_state:
        st.session_state[TAB_KEY] = labels[url_index("tab", list(TABS.values()))]
    tabs = st.tabs(labels, key=TAB_KEY, on_change="rerun")
    label, container = next(
        ((lab, tab) for lab, tab in zip(labels, tabs, strict=True) if tab.open),
        (labels[0], tabs[0]),
    )
    set_url_params(tab=TABS[label] or None)
    return label, container
