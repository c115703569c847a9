"""Predict: classify uploaded photos with the models of one or several succeeded runs.

URL: `?runs=1,3` (the models), `&k=5` (classes shown per run), `&cam=0` (no Grad-CAM),
`&opacity=0.7` (the heatmaps'). The old `?run=N` still opens that run's model.
"""

from __future__ import annotations

import streamlit as st

from dashboard.nav import QUEUE_PAGE
from dashboard.queries import fetch_runs_with_model
from dashboard.state import (
    parse_ids,
    require_database,
    set_url_params,
    url_fraction,
    url_param,
)
from dashboard.views.predict.gradcam_view import DEFAULT_OPACITY, colour_scale
from dashboard.views.predict.panels import (
    IMAGE_TYPES,
    MAX_RUNS,
    Upload,
    model_labels,
    show_predictions,
)

DEFAULT_K = 3


database = require_database()
st.title("Predict")
models = fetch_runs_with_model(database)
if models.empty:
    st.info("No run has a model yet: a run stores one when it succeeds.", icon=":material/info:")
    st.page_link(QUEUE_PAGE, label="Queue a run", icon=":material/playlist_add:")
    st.stop()

labels = model_labels(models)
from_url = [i for i in parse_ids(url_param("runs") or url_param("run")) if i in labels]
# The picker has a row of its own: its chips (at most MAX_RUNS) fit side by side.
run_ids = st.multiselect(
    "Models of runs",
    list(labels),
    default=from_url[:MAX_RUNS] or list(labels)[:1],
    format_func=labels.__getitem__,
    max_selections=MAX_RUNS,
    key="predict.runs",
    placeholder="Pick one or more succeeded runs",
)
k_column, cam_column, opacity_column = st.columns([1, 1, 2], vertical_alignment="bottom")
classes = max((len(names) for names in models["class_names"] if names), default=DEFAULT_K)
k_text = url_param("k") or ""
k = k_column.number_input(
    "Top classes",
    min_value=1,
    max_value=classes,
    value=min(int(k_text) if k_text.isdigit() and int(k_text) > 0 else DEFAULT_K, classes),
    key="predict.k",
)
explain = cam_column.toggle(
    "Grad-CAM",
    value=url_param("cam") != "0",
    key="predict.cam",
    help="Colour where each model looked: the last convolution's gradient-weighted activations "
    "for the predicted class (red: strongest).",
)
opacity = opacity_column.slider(
    "Heatmap opacity",
    0.0,
    1.0,
    value=url_fraction("opacity", DEFAULT_OPACITY),
    step=0.05,
    key="predict.opacity",
    disabled=not explain,
    help="How strongly the heatmap covers the photo (its cold parts always less).",
)
if explain:
    opacity_column.image(colour_scale(), width="stretch")
    opacity_column.caption("Colour scale: blue, little attention; red, the most (per map).")
set_url_params(
    runs=run_ids,
    run=None,
    k=None if k == DEFAULT_K else int(k),
    cam=None if explain else "0",
    opacity=None if opacity == DEFAULT_OPACITY else f"{opacity:g}",
)
files = st.file_uploader(
    "Photos",
    type=IMAGE_TYPES,
    accept_multiple_files=True,
    key="predict.files",
    help="Each is resized to the run's image size, exactly as in training.",
)
if not run_ids or not files:
    st.caption("Pick runs and upload one or more photos to see each model's top classes.")
    st.stop()

uploads = [Upload(file.name, file.getvalue()) for file in files]
show_predictions(
    database, run_ids, labels, uploads, k=int(k), explain=explain, opacity=float(opacity)
)
