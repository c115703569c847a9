"""The artifact store the dashboard reads models from: the one `LAB_ARTIFACTS` names, as for
every worker (README "Artifact stores"), so Predict, Grad-CAM, the Run page's download and a
delete reach the same bytes the workers stored. Every read checks the sha256 (db/artifacts.py).
"""

from __future__ import annotations

import streamlit as st

from dashboard.queries import HASH_FUNCS
from db.artifact_store import ArtifactStore, open_store
from db.entities import ArtifactPointer
from db.models import StoreKind
from db.session import Database
from settings import Settings


@st.cache_resource(show_spinner=False, hash_funcs=HASH_FUNCS)
def _open(artifacts: str | None, database: Database) -> ArtifactStore:
    """One store per setting for the server; a failure (no such folder) is not cached."""
    return open_store(artifacts, database)


def artifact_store(database: Database, settings: Settings | None = None) -> ArtifactStore:
    """This dashboard's store.

    Raises:
        ArtifactStoreError: `LAB_ARTIFACTS` names a folder that does not exist or a URL whose
            library is missing; the message says which and what to do.
    """
    settings = settings or Settings.from_env()
    return _open(settings.artifacts, database)


def store_name(pointer: ArtifactPointer | None, store: ArtifactStore | None) -> str:
    """Where an artifact's bytes are, for messages: "the database" or the folder or URL."""
    if pointer is None or pointer.store is StoreKind.DATABASE:
        return "the database"
    if store is not None and store.kind is StoreKind.FOLDER:
        return store.describe()
    return "an artifact folder"  # the error says that LAB_ARTIFACTS is not set here
