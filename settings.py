"""Process-wide settings, read from the environment once and passed down.

Nothing below `main()` / `run_worker()` / a Streamlit page reads `os.environ` itself: they take a
`Settings` so tests and several workers on one machine can each have their own.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent
DEFAULT_VAR_DIR = PROJECT_ROOT / "var"


# SQLite's default wait for another writer's lock; leases (90 s) are far longer.
DEFAULT_SQLITE_BUSY_TIMEOUT = 30.0


class SettingsError(ValueError):
    """An environment variable holds a value that cannot work; the message names it."""


@dataclass(frozen=True)
class Settings:
    """Where the database, the artifacts and the default dataset live.

    Attributes:
        database_url: SQLAlchemy URL; SQLite file under `var/` unless `DATABASE_URL` is set.
        dataset_dir: the dataset new runs use unless their config names another
            (`LAB_DATASET`, default: the generated sample set).
        var_dir: git-ignored folder for the default SQLite file and generated data.
        artifacts: where models and checkpoints are stored (`LAB_ARTIFACTS`): None keeps them
            in the database; a folder every worker and the dashboard see, or an fsspec URL
            such as `s3://bucket/prefix`, keeps only their pointer, size and sha256 there.
        spool_dir: local folder for writes waiting for an unreachable database
            (`LAB_SPOOL_DIR`, default `var/spool`); never shared between machines.
        sqlite_busy_timeout: seconds a SQLite write waits for another writer's lock before it
            counts as "database unreachable" (`LAB_SQLITE_BUSY_TIMEOUT`).
    """

    database_url: str
    dataset_dir: Path
    var_dir: Path
    artifacts: str | None = None
    spool_dir: Path | None = None
    sqlite_busy_timeout: float = DEFAULT_SQLITE_BUSY_TIMEOUT

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Build settings from environment variables, falling back to project defaults."""
        env = os.environ if environ is None else environ
        var_dir = Path(env.get("LAB_VAR_DIR") or DEFAULT_VAR_DIR).resolve()
        database_url = env.get("DATABASE_URL") or f"sqlite:///{var_dir / 'lab.db'}"
        dataset_dir = Path(env.get("LAB_DATASET") or var_dir / "data" / "weather-sample")
        artifacts = (env.get("LAB_ARTIFACTS") or "").strip()
        return cls(
            database_url=database_url,
            dataset_dir=dataset_dir,
            var_dir=var_dir,
            artifacts=_artifact_location(artifacts),
            spool_dir=Path(env.get("LAB_SPOOL_DIR") or var_dir / "spool").expanduser(),
            sqlite_busy_timeout=_seconds(env, "LAB_SQLITE_BUSY_TIMEOUT"),
        )

    @property
    def spool(self) -> Path:
        """The spool folder (`var/spool` when none was given)."""
        return self.spool_dir or self.var_dir / "spool"


def _artifact_location(value: str) -> str | None:
    """`LAB_ARTIFACTS` as a store URL or absolute path; None (or "database") is the database.

    A relative folder is taken from the project root, like relative dataset paths.
    """
    if value in ("", "database"):
        return None
    if "://" in value:
        return value
    path = Path(value).expanduser()
    return str(path if path.is_absolute() else PROJECT_ROOT / path)


def _seconds(env: Mapping[str, str], name: str) -> float:
    text = env.get(name)
    if not text:
        return DEFAULT_SQLITE_BUSY_TIMEOUT
    try:
        value = float(text)
    except ValueError:
        raise SettingsError(f"{name}={text!r} is not a number of seconds") from None
    if not 0 <= value <= 3600:
        raise SettingsError(f"{name}={text!r} must be between 0 and 3600 seconds")
    return value


def resolve_dataset_path(dataset: str) -> Path:
    """Resolve a config's dataset path: relative paths are taken from the project root.

    Workers on several machines then agree on `var/data/...` whatever folder they start in.
    """
    path = Path(dataset).expanduser()
    return path if path.is_absolute() else PROJECT_ROOT / path
