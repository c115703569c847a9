"""Predict: classify uploaded photos with the model any succeeded run stored."""

from __future__ import annotations

import streamlit as st

from dashboard.nav import QUEUE_PAGE
from dashboard.predict_panels import (
    IMAGE_TYPES,
    Upload,
    load_model,
    model_labels,
    show_predictions,
)
from dashboard.queries import fetch_runs_with_model
from dashboard.state import require_database, set_url_params, url_index
from db.artifacts import ArtifactIntegrityError

database = require_database()
st.title("Predict")
models = fetch_runs_with_model(database)
if models.empty:
    st.info("No run has a model yet: a run stores one when it succeeds.", icon=":material/info:")
    st.page_link(QUEUE_PAGE, label="Queue a run", icon=":material/playlist_add:")
    st.stop()

labels = model_labels(models)
run_id = st.selectbox(
    "Model of run",
    list(labels),
    index=url_index("run", list(labels)),
    format_func=lambda run_id: labels[run_id],
    key="predict.run",
)
set_url_params(run=run_id)
files = st.file_uploader(
    "Photos",
    type=IMAGE_TYPES,
    accept_multiple_files=True,
    key="predict.files",
    help="Each is resized to the run's image size, exactly as in training.",
)
if run_id is None or not files:
    st.caption("Upload one or more photos to see the model's class probabilities.")
    st.stop()

try:
    loaded = load_model(database, run_id)
except (ArtifactIntegrityError, LookupError) as error:  # LookupError: ModelNotAvailable
    st.error(str(error), icon=":material/error:")
    st.stop()
show_predictions(loaded, [Upload(file.name, file.getvalue()) for file in files])
