"""Workers: who is alive and on which epoch, the queue with estimated starts, attempts, and
Slurm's dispatchers and jobs when the lab runs on a cluster.

Refreshes itself every 3 s; nothing here writes.
"""

from __future__ import annotations

import streamlit as st

from dashboard.state import require_database
from dashboard.views.workers.panels import live_workers_page

database = require_database()
st.title("Workers")
st.caption(
    "Workers heartbeat every 2 s; one silent for 90 s is lost and its run goes back to the "
    "queue. This page refreshes every 3 s."
)
live_workers_page(database)
