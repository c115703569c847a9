"""Compare's figures as pure functions of DataFrames, so they are tested without Streamlit.

Curves use one trace per (colour group, dash group, series) with NaN gaps between runs instead
of one trace per run: 1,000 runs draw in ~20 ms instead of ~1 s. Parallel coordinates too.
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.colors import hex_to_rgb, qualitative

from dashboard.axes import epoch_ticks
from dashboard.knobs import KNOBS, differing, format_value, sort_key
from dashboard.views.compare import curve_data
from dashboard.views.compare.curve_data import Band, Matrix, XAxis
from experiment.metrics import Direction, MetricDirections, is_validation, ordered, train_name, twin

PALETTE: tuple[str, ...] = tuple(qualitative.Plotly) + tuple(qualitative.D3[1:])
DASHES: tuple[str, ...] = ("solid", "dash", "dot", "dashdot", "longdash", "longdashdot")
FAMILIES: dict[str, tuple[str, ...]] = {
    "accuracy": ("accuracy", "val_accuracy"),
    "loss": ("loss", "val_loss"),
    "learning rate": ("learning_rate",),
    "seconds per epoch": ("epoch_seconds",),
}
SERIES_TITLES: dict[str, str] = {
    "accuracy": "train accuracy",
    "val_accuracy": "validation accuracy",
    "loss": "train loss",
    "val_loss": "validation loss",
    "learning_rate": "learning rate",
    "epoch_seconds": "seconds per epoch",
}
_PANEL_RANK = {"accuracy": 0, "loss": 1, "learning rate": 3, "seconds per epoch": 4}
_FAMILY_OF = {series: title for title, members in FAMILIES.items() for series in members}
_HOVER_FORMAT = {"learning_rate": ".3g", "epoch_seconds": ".1f", "loss": ".4f", "val_loss": ".4f"}
DEFAULT_METRICS: tuple[str, ...] = ("accuracy", "val_accuracy", "loss", "val_loss")
# Modebar: its camera button saves a PNG in the browser (no server-side image engine needed).
PLOT_CONFIG: dict[str, Any] = {
    "displaylogo": False,
    "toImageButtonOptions": {"format": "png", "filename": "weather-lab", "scale": 2},
}
PANEL_HEIGHT = 340


@dataclass(frozen=True)
class CurveOptions:
    """What the curves show; every field is a URL parameter of the Compare page."""

    metrics: tuple[str, ...] = DEFAULT_METRICS
    color_by: str = "run"
    dash_by: str | None = None
    smoothing: float = 0.0
    x: XAxis = "epoch"
    log_y: bool = False
    band: Band = "none"
    best_markers: bool = True
    # Which way each metric improves (stars mark the best epoch only where this knows).
    directions: MetricDirections = field(default_factory=MetricDirections)


@dataclass(frozen=True)
class LineGroup:
    """Runs drawn as one line per series: same colour and same dash."""

    label: str
    color: str
    dash: str | None  # None: dash tells train (solid) from validation (dashed)
    positions: np.ndarray = field(repr=False)  # rows of `runs` (and of every Matrix)


def series_title(series: str) -> str:
    """`val_accuracy` -> "validation accuracy", `val_auc` -> "validation auc", `my_score` as is."""
    if series in SERIES_TITLES:
        return SERIES_TITLES[series]
    return f"validation {train_name(series)}" if is_validation(series) else series


def panels(metrics: Sequence[str], *, one_per_series: bool) -> list[tuple[str, tuple[str, ...]]]:
    """(title, series) per panel: a metric's train and validation (`auc`, `val_auc`) share a
    panel unless dash already encodes a hyper-parameter, then each series gets its own.

    Accuracy then loss come first (side by side, as they always were), then other metrics in
    `experiment.metrics.ordered` order, then the learning rate and epoch times.
    """
    grouped: dict[str, list[str]] = {}
    for series in ordered(metrics):
        grouped.setdefault(_FAMILY_OF.get(series, train_name(series)), []).append(series)
    families = sorted(grouped, key=lambda title: _PANEL_RANK.get(title, 2))  # stable
    if one_per_series:
        return [(series_title(s), (s,)) for title in families for s in grouped[title]]
    return [(title, tuple(grouped[title])) for title in families]


def hover_format(series: str) -> str:
    """Accuracies as percentages, the lab's own series as before, anything else in 4 digits."""
    if series in _HOVER_FORMAT:
        return _HOVER_FORMAT[series]
    return ".2%" if train_name(series).endswith("accuracy") else ".4g"


def _codes(values: pd.Series) -> tuple[np.ndarray, list[Any]]:
    """Each value's position among the distinct values in `sort_key` order."""
    texts = values.map(format_value)
    distinct = sorted(dict(zip(texts, values, strict=True)).items(), key=lambda kv: sort_key(kv[1]))
    order = {text: i for i, (text, _) in enumerate(distinct)}
    return texts.map(order).to_numpy(dtype=np.int64), [value for _, value in distinct]


def _run_slots(runs: pd.DataFrame) -> tuple[np.ndarray, list[str]]:
    """Colour by run: one colour each; past the palette, runs share a colour (and a line)."""
    slots = np.arange(len(runs)) % len(PALETTE)
    ids = runs["id"].astype(int).tolist()
    if len(runs) <= len(PALETTE):
        names = runs["name"].astype(str).tolist()
        return slots, [f"#{i} {html.escape(n)}" for i, n in zip(ids, names, strict=True)]
    labels = []
    for slot in range(len(PALETTE)):
        members = ids[slot :: len(PALETTE)]
        more = ", …" if len(members) > 3 else ""
        labels.append("runs " + ", ".join(map(str, members[:3])) + more)
    return slots, labels


def line_groups(runs: pd.DataFrame, color_by: str, dash_by: str | None) -> list[LineGroup]:
    """Split the runs by colour value, then by dash value; empty combinations are skipped."""
    if color_by == "run":
        colors, color_labels = _run_slots(runs)
    else:
        colors, values = _codes(runs[color_by])
        color_labels = [f"{color_by}={html.escape(format_value(v))}" for v in values]
    dashes, dash_values = _codes(runs[dash_by]) if dash_by else (np.zeros(len(runs), int), [])
    groups = []
    for color in sorted(set(colors.tolist())):
        for dash in sorted(set(dashes[colors == color].tolist())):
            positions = np.flatnonzero((colors == color) & (dashes == dash))
            label = color_labels[color]
            if dash_by:
                label += f" · {dash_by}={html.escape(format_value(dash_values[dash]))}"
            groups.append(
                LineGroup(
                    label=label,
                    color=PALETTE[color % len(PALETTE)],
                    dash=DASHES[dash % len(DASHES)] if dash_by else None,
                    positions=positions,
                )
            )
    return groups


# Short names for hover labels: there is a copy of each label for every point drawn.
_SHORT = {"learning_rate": "lr", "batch_size": "batch", "architecture": "arch",
          "optimizer": "opt", "image_size": "px", "augmented": "aug"}  # fmt: skip
HOVER_NAME_CHARS = 32
HOVER_FIELDS = 4


def _states(name: str, key: str, text: str) -> bool:
    """Whether `name` already says `key=text` (grid runs are named `base [field=value, ...]`)."""
    if f"{key}={text}" not in name:  # the common case, without a regex
        return False
    pattern = rf"(?<![\w.{{]){re.escape(key)}={re.escape(text)}(?![\w.])"  # not inside `{k=v}`
    return re.search(pattern, name) is not None


def hover_labels(runs: pd.DataFrame, describe: Sequence[str] = ()) -> np.ndarray:
    """Per run: `#12 adam-run (lr=0.01, seed=1)`, the values of `describe` in brackets.

    There is a copy of each label for every point drawn, most of the figure's JSON: kept
    short and ASCII where we choose (JSON escapes `<br>`, `·` and `…`), long names cut at
    HOVER_NAME_CHARS, values the name already states left out, at most HOVER_FIELDS named.
    """
    shown = [c for c in describe if c in runs.columns and c != "study"]
    values = {column: runs[column].tolist() for column in shown}
    labels = []
    for row, (run_id, full_name) in enumerate(zip(runs["id"], runs["name"], strict=True)):
        name = str(full_name)
        if len(name) > HOVER_NAME_CHARS:
            name = name[: HOVER_NAME_CHARS - 3] + "..."
        parts = []
        for column in shown:
            text, short = format_value(values[column][row]), _SHORT.get(column, column)
            if not (_states(name, column, text) or _states(name, short, text)):
                parts.append(f"{short}={html.escape(text)}")
        label = f"#{int(run_id)} {html.escape(name)}"
        if parts:
            more = f", +{len(parts) - HOVER_FIELDS}" if len(parts) > HOVER_FIELDS else ""
            label += f" ({', '.join(parts[:HOVER_FIELDS])}{more})"
        labels.append(label)
    return np.array(labels, dtype=str)


def rgba(color: str, alpha: float) -> str:
    r, g, b = hex_to_rgb(color)
    return f"rgba({r},{g},{b},{alpha})"


Trace = dict[str, Any]


@dataclass(frozen=True)
class _Panel:
    """Everything one series' traces need, for every run drawn."""

    series: str
    raw: Matrix
    shown: np.ndarray  # y after smoothing
    labels: np.ndarray
    x: XAxis
    axes: tuple[str, str]  # ("x2", "y2"): the panel's axes
    named_groups: bool  # line groups are named by values, not by runs

    def hovertemplate(self, *, group: bool = True) -> str:
        """The point's label, its line group (the values colour and dash show), x and y."""
        y_format = hover_format(self.series)
        x_text = "epoch %{x}" if self.x == "epoch" else "%{x:.0f} s"
        group_line = "%{fullData.name}<br>" if group and self.named_groups else ""
        return (
            f"%{{customdata}}<br>{group_line}{x_text}<br>"
            f"{series_title(self.series)} %{{y:{y_format}}}<extra></extra>"
        )

    def dash(self, group: LineGroup) -> str:
        return group.dash or ("dash" if self.series.startswith("val_") else "solid")


class _Legend:
    """Shows each line group once in the legend, whichever panel draws it first."""

    def __init__(self) -> None:
        self.shown: set[str] = set()

    def first(self, label: str) -> bool:
        if label in self.shown:
            return False
        self.shown.add(label)
        return True


def _line(
    panel: _Panel,
    group: LineGroup,
    rows: np.ndarray,
    legend: _Legend,
    *,
    raw: bool = False,
    width: float = 2.0,
    opacity: float = 1.0,
) -> Trace:
    """One line through all `rows` (runs), broken between them; `raw`: faint, no hover."""
    y = (panel.raw.y if raw else panel.shown)[rows]
    xs, ys, labels = curve_data.flatten_with_gaps(
        panel.raw.x[rows], y, None if raw else panel.labels[rows]
    )
    trace: Trace = {
        "type": "scatter",
        "x": xs.astype(np.float32),  # half the bytes of float64, ample for a chart
        "y": ys.astype(np.float32),
        "mode": "lines",
        "name": group.label,
        "legendgroup": group.label,
        "showlegend": opacity == 1.0 and legend.first(group.label),  # faint lines: no entry
        "line": {"color": group.color, "dash": panel.dash(group), "width": width},
        "opacity": opacity,
        "connectgaps": False,
        "xaxis": panel.axes[0],
        "yaxis": panel.axes[1],
    }
    if raw:
        trace["hoverinfo"] = "skip"
    else:
        trace["customdata"] = labels
        trace["hovertemplate"] = panel.hovertemplate()
    return trace


def _repeat_traces(
    panel: _Panel,
    group: LineGroup,
    rows: np.ndarray,
    repeats: np.ndarray,
    band: Band,
    legend: _Legend,
) -> list[Trace]:
    """A band and a mean line over each set of repeats (runs differing only in seed)."""
    gap = np.array([np.nan])
    mean_x, mean_y, mean_text, fill_x, fill_y = [], [], [], [], []
    what = "min–max" if band == "minmax" else "± std"
    for code in np.unique(repeats):
        members = rows[repeats == code]
        matrix = Matrix(panel.raw.run_ids[members], panel.raw.x[members], panel.shown[members])
        summary = curve_data.summarise(matrix, band)
        keep = np.isfinite(summary.x)
        mean_x += [summary.x[keep], gap]
        mean_y += [summary.mean[keep], gap]
        text = f"mean of {len(members)} seeds, band {what}"
        mean_text.append(np.full(int(keep.sum()) + 1, text))
        outline_x, outline_y = curve_data.polygon(summary)
        fill_x += [outline_x, gap]
        fill_y += [outline_y, gap]
    axes = {"xaxis": panel.axes[0], "yaxis": panel.axes[1]}
    fill: Trace = {
        "type": "scatter",
        "x": np.concatenate(fill_x[:-1]),
        "y": np.concatenate(fill_y[:-1]),
        "fill": "toself",
        "fillcolor": rgba(group.color, 0.18),
        "line": {"width": 0},
        "mode": "lines",
        "legendgroup": group.label,
        "showlegend": False,
        "hoverinfo": "skip",
        **axes,
    }
    mean: Trace = {
        "type": "scatter",
        "x": np.concatenate(mean_x[:-1]),
        "y": np.concatenate(mean_y[:-1]),
        "customdata": np.concatenate(mean_text)[:-1],
        "mode": "lines",
        "name": group.label,
        "legendgroup": group.label,
        "showlegend": legend.first(group.label),
        "line": {"color": group.color, "dash": panel.dash(group), "width": 3},
        "hovertemplate": panel.hovertemplate(),
        **axes,
    }
    return [fill, mean]


def _group_traces(
    panel: _Panel,
    group: LineGroup,
    options: CurveOptions,
    repeats: np.ndarray | None,
    legend: _Legend,
) -> list[Trace]:
    rows = group.positions
    traces: list[Trace] = []
    if options.smoothing > 0 and options.band == "none":  # raw values stay, faint (TensorBoard)
        traces.append(_line(panel, group, rows, legend, raw=True, width=1, opacity=0.25))
    if repeats is None or options.band == "none":
        return [*traces, _line(panel, group, rows, legend)]
    codes, counts = np.unique(repeats[rows], return_counts=True)
    banded = np.isin(repeats[rows], codes[counts > 1])
    if (~banded).any():
        traces.append(_line(panel, group, rows[~banded], legend))
    if banded.any():
        members = rows[banded]
        traces.append(_line(panel, group, members, legend, width=1, opacity=0.35))
        traces += _repeat_traces(panel, group, members, repeats[members], options.band, legend)
    return traces


def _best_marker(panel: _Panel, colors: np.ndarray, direction: Direction) -> Trace | None:
    """A star on each run's best value of the panel's series, highest or lowest as
    `direction` says (raw values, first epoch reaching it); `colors`: each run's line colour."""
    highest = direction is Direction.MAX
    columns = curve_data.best_columns(panel.raw.y, highest=highest)
    rows = np.flatnonzero(columns >= 0)
    if not len(rows):
        return None
    what = "best (highest)" if highest else "best (lowest)"
    text = [f"{panel.labels[r]}, {what} at epoch {columns[r] + 1}" for r in rows]
    return {
        "type": "scatter",
        "x": panel.raw.x[rows, columns[rows]],
        "y": panel.raw.y[rows, columns[rows]],
        "customdata": np.array(text),
        "mode": "markers",
        "name": "best epoch",
        "legendgroup": "best epoch",
        "showlegend": False,
        "marker": {
            "symbol": "star",
            "size": 10,
            "opacity": 0.85,
            "color": colors[rows].tolist(),
            "line": {"width": 1, "color": "white"},
        },
        "hovertemplate": panel.hovertemplate(group=False),
        "xaxis": panel.axes[0],
        "yaxis": panel.axes[1],
    }


FINE_TUNE_COLUMN = "fine_tune.at_epoch"  # the config's first fine-tuning epoch, a knob


def fine_tune_starts(runs: pd.DataFrame) -> np.ndarray:
    """Each run's first fine-tuning epoch from its config, 0 for a run that does not fine-tune."""
    if FINE_TUNE_COLUMN not in runs.columns:
        return np.zeros(len(runs), dtype=np.int64)
    epochs = pd.to_numeric(runs[FINE_TUNE_COLUMN], errors="coerce").fillna(0)
    return epochs.to_numpy(dtype=np.int64)


def _fine_tune_marker(panel: _Panel, colors: np.ndarray, starts: np.ndarray) -> Trace | None:
    """A triangle on each run's curve at the epoch its fine-tuning began (once recorded)."""
    width = panel.raw.y.shape[1]
    rows = np.flatnonzero((starts > 0) & (starts <= width))
    if len(rows):
        columns = starts[rows] - 1
        rows = rows[np.isfinite(panel.shown[rows, columns])]
    if not len(rows):
        return None
    columns = starts[rows] - 1
    text = [f"{panel.labels[r]}, fine-tuning from epoch {starts[r]}" for r in rows]
    return {
        "type": "scatter",
        "x": panel.raw.x[rows, columns],
        "y": panel.shown[rows, columns],
        "customdata": np.array(text),
        "mode": "markers",
        "name": "fine-tuning starts",
        "legendgroup": "fine-tuning starts",
        "showlegend": False,
        "marker": {
            "symbol": "triangle-up",
            "size": 10,
            "color": colors[rows].tolist(),
            "line": {"width": 1, "color": "white"},
        },
        "hovertemplate": panel.hovertemplate(group=False),
        "xaxis": panel.axes[0],
        "yaxis": panel.axes[1],
    }


def _axis_names(index: int) -> tuple[str, str]:
    suffix = "" if index == 0 else str(index + 1)
    return f"x{suffix}", f"y{suffix}"


def _span(start: float, end: float) -> list[float]:
    """An axis domain inside [0, 1] despite float rounding."""
    return [max(0.0, round(start, 6)), min(1.0, round(end, 6))]


def _grid(
    titles: Sequence[str], options: CurveOptions, *, fine_tunes: bool = False
) -> dict[str, Any]:
    """A layout with one panel per title, two per row, x axes zoomed together.

    Written out rather than `make_subplots`, which costs more than the traces it lays out.
    """
    cols = 1 if len(titles) <= 1 else 2
    rows = max(1, math.ceil(len(titles) / cols))
    h_gap, v_gap = 0.07, 0.14 if rows > 1 else 0.0
    width = (1 - (cols - 1) * h_gap) / cols
    height = (1 - (rows - 1) * v_gap) / rows
    layout: dict[str, Any] = {
        "height": PANEL_HEIGHT * rows + 60,
        "hovermode": "closest",
        "legend": {
            "title": {"text": _legend_title(options, fine_tunes=fine_tunes)},
            "groupclick": "togglegroup",
        },
        "margin": {"l": 10, "r": 10, "t": 40, "b": 10},
        "uirevision": repr(options),  # live refreshes keep the user's zoom; new options reset it
        "annotations": [],
    }
    x_title = "epoch" if options.x == "epoch" else "seconds since the run started"
    for index, title in enumerate(titles or [""]):
        row, col = divmod(index, cols)
        x_name, y_name = _axis_names(index)
        left, top = col * (width + h_gap), 1 - row * (height + v_gap)
        x_axis: dict[str, Any] = {"domain": _span(left, left + width), "anchor": y_name}
        x_axis["title"] = {"text": x_title}
        if index:
            x_axis["matches"] = "x"  # zooming one panel's x zooms them all
        y_axis: dict[str, Any] = {"domain": _span(top - height, top), "anchor": x_name}
        if options.log_y:
            y_axis["type"] = "log"
        elif title.endswith("accuracy"):
            y_axis["tickformat"] = ".0%"
        layout[f"xaxis{x_name[1:]}"] = x_axis
        layout[f"yaxis{y_name[1:]}"] = y_axis
        layout["annotations"].append(
            {
                "text": f"<b>{title}</b>",
                "x": left + width / 2,
                "y": top,
                "xref": "paper",
                "yref": "paper",
                "xanchor": "center",
                "yanchor": "bottom",
                "showarrow": False,
            }
        )
    return layout


def _figure(data: list[Trace], layout: dict[str, Any]) -> go.Figure:
    # Built from plain dicts without re-validation: Plotly's validators turn text arrays into
    # object arrays and deep-copy them per element, which cost more than everything else here
    # for 200 runs. tests/dashboard/test_charts.py validates the output instead.
    return go.Figure(data=data, layout=layout, _validate=False)


def compare_figure(
    curves: pd.DataFrame,
    runs: pd.DataFrame,
    options: CurveOptions,
    describe: Sequence[str] = (),
) -> go.Figure:
    """The curves of `runs` in one panel per metric family (or per series when dash is taken).

    Args:
        curves: long format, one row per run and epoch (`queries.curves_frame`).
        runs: one row per run to draw, in draw order: `id`, `name`, the columns named by
            `options.color_by` / `dash_by` and in `describe`, and optionally `repeat` (an
            integer shared by runs that differ only in seed, for bands).
        options: what to draw.
        describe: columns whose values the hover adds to the run's name (those that differ
            between the runs); the ones colour and dash encode are named by the line's group.
    """
    for column in (options.color_by, options.dash_by):
        if column not in (None, "run") and column not in runs.columns:
            raise ValueError(f"cannot group by {column!r}: runs have no such column")
    layout = panels(options.metrics, one_per_series=options.dash_by is not None)
    starts = fine_tune_starts(runs.reset_index(drop=True))
    grid = _grid([title for title, _ in layout], options, fine_tunes=bool(starts.any()))
    data = curves[curves["run_id"].isin(runs["id"])]
    if data.empty or not layout:
        grid["annotations"].append(
            {
                "text": "No epochs recorded yet",
                "showarrow": False,
                "x": 0.5,
                "y": 0.5,
                "xref": "paper",
                "yref": "paper",
            }
        )
        return _figure([], grid)
    if options.x == "wall":
        data = curve_data.with_wall_time(data)
    else:  # whole epochs on every panel's x axis
        ticks = epoch_ticks(int(data["epoch"].max()))
        for name in [key for key in grid if key.startswith("xaxis")]:
            grid[name].update(ticks)
    runs = runs.reset_index(drop=True)
    groups = line_groups(runs, options.color_by, options.dash_by)
    colors = np.empty(len(runs), dtype=object)
    for group in groups:
        colors[group.positions] = group.color
    repeats = runs["repeat"].to_numpy(dtype=np.int64) if "repeat" in runs.columns else None
    encoded = {options.color_by, options.dash_by}
    labels = hover_labels(runs, [c for c in describe if c not in encoded])
    named = options.color_by != "run" or options.dash_by is not None
    legend = _Legend()
    traces: list[Trace] = []
    for index, (_, members) in enumerate(layout):
        for series in members:
            raw = curve_data.pivot(data, runs["id"], series, options.x)
            shown = curve_data.ema(raw.y, options.smoothing) if options.smoothing else raw.y
            panel = _Panel(series, raw, shown, labels, options.x, _axis_names(index), named)
            for group in groups:
                traces += _group_traces(panel, group, options, repeats, legend)
            direction = starred(series, options, data.columns)
            if direction is not None:
                marker = _best_marker(panel, colors, direction)
                traces += [marker] if marker is not None else []
            tuned = _fine_tune_marker(panel, colors, starts) if starts.any() else None
            traces += [tuned] if tuned is not None else []
    return _figure(traces, grid)


def starred(series: str, options: CurveOptions, logged: Collection[str]) -> Direction | None:
    """The direction of `series` when its best epochs get stars, else None.

    Stars need a direction (known, configured, or picked on the page). A training series
    whose validation twin is among the `logged` columns gets none: the best epoch is the
    validation's (a training curve's best says little); a series logged alone gets them.
    """
    if not options.best_markers:
        return None
    if not is_validation(series) and twin(series) in logged:
        return None
    return options.directions.of(series)


def _legend_title(options: CurveOptions, *, fine_tunes: bool = False) -> str:
    parts = [f"colour: {options.color_by}"]
    parts.append(f"dash: {options.dash_by}" if options.dash_by else "solid train · dashed val")
    if options.band != "none":
        parts.append("band: " + ("min–max" if options.band == "minmax" else "± std") + " of seeds")
    if options.best_markers:
        parts.append("★ best epoch")
    if fine_tunes:
        parts.append("▲ fine-tuning starts")
    return "<br>".join(parts)


def figure_html(figure: go.Figure) -> str:
    """A standalone HTML file with plotly.js embedded (opens offline; ~5 MB)."""
    return str(figure.to_html(include_plotlyjs=True, full_html=True, config=PLOT_CONFIG))


def default_color_by(runs: pd.DataFrame, columns: Sequence[str] = KNOBS) -> str:
    """Colour by the first knob that differs, else one colour per run."""
    found = differing(runs, [c for c in columns if c != "seed"])
    return found[0] if found else "run"


def _is_number(value: Any) -> bool:
    """A real number that is present (bools and NaN are not)."""
    if isinstance(value, bool | np.bool_):
        return False
    return isinstance(value, int | float | np.number) and not math.isnan(float(value))


def encode_dimension(label: str, values: pd.Series) -> dict[str, Any]:
    """One parallel-coordinates axis: numbers stay numbers (log10 when they span over 100x, as
    learning rates do), anything else becomes evenly spaced codes with the values as ticks."""
    if len(values) and all(map(_is_number, values)):
        numbers = values.to_numpy(dtype=float)
        distinct = np.unique(numbers)
        log = bool(distinct.min() > 0 and distinct.max() / distinct.min() > 100)
        shown = np.log10(numbers) if log else numbers
        spec: dict[str, Any] = {"label": label, "values": shown}
        if len(distinct) <= 12:
            spec["tickvals"] = np.log10(distinct) if log else distinct
            spec["ticktext"] = [format_value(float(v)) for v in distinct]
        return spec
    codes, distinct_values = _codes(values)
    return {
        "label": label,
        "values": codes.astype(float),
        "tickvals": list(range(len(distinct_values))),
        "ticktext": [format_value(v) for v in distinct_values],
        "range": [-0.25, max(len(distinct_values) - 0.75, 0.25)],
    }


def parcoords_figure(
    table: pd.DataFrame, columns: Sequence[str], target: str = "best_val_accuracy"
) -> go.Figure:
    """Hyper-parameters -> `target`, one line per run coloured by `target`.

    Rows without a `target` value (runs that have not validated yet) are left out.
    """
    rows = table[table[target].notna()]
    dimensions = [encode_dimension(column, rows[column]) for column in columns]
    scores = rows[target].to_numpy(dtype=float)
    dimensions.append({"label": target.replace("_", " "), "values": scores})
    figure = go.Figure(
        go.Parcoords(
            dimensions=dimensions,
            # The last axis is the colour scale's key: no colour bar to crowd its labels.
            line={"color": scores, "colorscale": "Viridis", "showscale": False},
            labelangle=0 if len(dimensions) <= 6 else -20,
        )
    )
    figure.update_layout(height=460, margin={"l": 60, "r": 40, "t": 70, "b": 30})
    return figure
