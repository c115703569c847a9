"""Compare's controls: metrics, which way a metric improves, colour and dash, seeds band,
smoothing, axes, the table's metric, and the tabs.

Each widget starts from the URL and writes back to it, so the address bar is the share link.
"""

from __future__ import annotations

import glob
from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd
import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from dashboard import knobs
from dashboard.state import parse_choices, set_url_params, url_index
from dashboard.views.compare import figures as charts
from dashboard.views.compare.figures import DEFAULT_METRICS, CurveOptions, series_title
from experiment.metrics import Direction, MetricDirections, is_neutral, train_name

TABS = {"Curves": "", "Table": "table", "Parallel coordinates": "parallel"}
TAB_KEY = "compare.tab"


BANDS: dict[str, str] = {"none": "each run", "minmax": "mean, min–max band", "std": "mean ± std"}


X_AXES: dict[str, str] = {"epoch": "epoch", "wall": "wall time"}


def _float(text: str | None, default: float = 0.0) -> float:
    try:
        return min(max(float(text or default), 0.0), 0.99)
    except ValueError:
        return default


@dataclass(frozen=True)
class TableOptions:
    """What the Table tab's outcome columns show: best and last of `metric`."""

    metric: str
    directions: MetricDirections


DIRECTIONS_HELP = (
    "Which way this metric improves, for its best-epoch stars and the table's best column. "
    "Keras's own names are known; set others for good with LAB_METRIC_DIRECTIONS "
    "(e.g. my_score=max)."
)


def default_metrics(names: Sequence[str]) -> list[str]:
    """Accuracy and loss, train and validation, when the runs logged them; else the first
    two names (a run imported with only its own metrics)."""
    return [m for m in DEFAULT_METRICS if m in names] or list(names[:2])


def curve_controls(
    params: pd.DataFrame, names: Sequence[str], configured: MetricDirections
) -> CurveOptions:
    """Metrics, directions, colour, dash, seeds band, smoothing, x axis, log y and markers;
    writes the URL.

    Args:
        params: the chosen runs' hyper-parameters (`knobs.hyperparameters`).
        names: every metric the chosen runs logged, in picker order
            (`experiment.metrics.ordered`).
        configured: the directions the server knows (Keras's names, LAB_METRIC_DIRECTIONS).
    """
    defaults = default_metrics(names)
    metrics = st.pills(
        "Metrics", list(names), selection_mode="multi",
        default=parse_choices(st.query_params.get("metrics"), names) or defaults,
        format_func=series_title, key="compare.metrics",
        help="Every metric the chosen runs logged. Train and validation of a metric share a "
        "panel (solid / dashed).",
    )  # fmt: skip
    directions = direction_widgets(metrics, configured)
    color, dash, band = _grouping_widgets(params)
    smoothing, x, log_y, best = _display_widgets()
    options = CurveOptions(
        metrics=tuple(m for m in names if m in metrics),
        color_by=charts.default_color_by(params) if color == "auto" else color,
        dash_by=None if dash == "none" else dash,
        smoothing=smoothing,
        x="wall" if x == "wall" else "epoch",
        log_y=log_y,
        band="minmax" if band == "minmax" else "std" if band == "std" else "none",
        best_markers=best,
        directions=directions,
    )
    set_url_params(
        metrics=None if set(metrics) == set(defaults) else list(options.metrics),
        color=None if color == "auto" else color,
        dash=options.dash_by,
        band=None if options.band == "none" else options.band,
        smooth=f"{smoothing:g}" if smoothing else None,
        x="wall" if options.x == "wall" else None,
        logy=1 if log_y else None,
        best=None if best else "0",
    )
    return options


def parse_directions(text: str | None) -> dict[str, Direction]:
    """`?dir=my_score:max,dice:min` -> {"my_score": MAX, "dice": MIN}; junk is dropped."""
    found: dict[str, Direction] = {}
    for part in (text or "").split(","):
        name, _, word = part.strip().rpartition(":")
        if name and word in ("max", "min"):
            found[name] = Direction(word)
    return found


def direction_widgets(metrics: Sequence[str], configured: MetricDirections) -> MetricDirections:
    """ "Better when higher / lower" for each of `metrics` whose direction the server does not
    know (one per train/validation pair); the picks live in `?dir=`.

    Returns the server's directions plus the picks; a pick never overrides a known direction
    (a hand-edited `?dir=loss:max` is ignored).
    """
    url = {
        name: direction
        for name, direction in parse_directions(st.query_params.get("dir")).items()
        if configured.of(name) is None and not is_neutral(name)
    }
    unknown = list(
        dict.fromkeys(
            train_name(m) for m in metrics if configured.of(m) is None and not is_neutral(m)
        )
    )
    if unknown:
        with st.container(horizontal=True, key="compare.directions"):
            for base in unknown:
                picked = st.segmented_control(
                    f"{base}: better when",
                    ["max", "min"],
                    default=url[base].value if base in url else None,
                    format_func=lambda word: "higher" if word == "max" else "lower",
                    key=f"compare.dir.{base}",
                    help=DIRECTIONS_HELP,
                )
                if picked:
                    url[base] = Direction(picked)
                else:
                    url.pop(base, None)
    set_url_params(dir=[f"{name}:{direction.value}" for name, direction in url.items()] or None)
    picks = tuple((glob.escape(name), direction) for name, direction in url.items())
    return MetricDirections(configured.overrides + picks)


def table_controls(names: Sequence[str], configured: MetricDirections) -> TableOptions:
    """Which metric's best and last the table shows (`?of=`, validation accuracy by default)
    and, when its direction is unknown, which way it improves."""
    start = "val_accuracy" if "val_accuracy" in names or not names else names[0]
    choices = list(names) or [start]
    asked = st.query_params.get("of")
    index = choices.index(asked if asked in choices else start)
    metric = st.selectbox(
        "Best and last of", choices, index=index, format_func=series_title, key="compare.of",
        help="The outcome columns: each run's best value of this metric (and its epoch) and "
        "its last one.",
    )  # fmt: skip
    set_url_params(of=None if metric == start else metric)
    return TableOptions(str(metric), direction_widgets([str(metric)], configured))


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
