"""Weather Lab dashboard: `streamlit run dashboard/app.py` from the repository root.

A small router; each page is a room of its own in `dashboard/views/<page>/` (see `nav.py`).
"""

from __future__ import annotations

import sys
from pathlib import Path

_REPO_ROOT = str(Path(__file__).resolve().parents[1])
if _REPO_ROOT not in sys.path:  # Streamlit puts dashboard/ on sys.path, not the repo root.
    sys.path.insert(0, _REPO_ROOT)

import streamlit as st  # noqa: E402

from dashboard.auth import account_sidebar, require_viewer  # noqa: E402
from dashboard.nav import sections  # noqa: E402
from dashboard.outage import run_page  # noqa: E402
from settings import Settings  # noqa: E402
from tf_logging import quiet_tensorflow  # noqa: E402

quiet_tensorflow()  # Predict and the augmentation preview import TensorFlow on first use
st.set_page_config(page_title="Weather Lab", page_icon=":material/cloud:", layout="wide")
page = st.navigation(sections())
account_sidebar()
require_viewer()
run_page(page, Settings.from_env())  # a database outage shows a banner instead
