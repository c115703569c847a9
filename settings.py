"""Process-wide settings, read from the environment once and passed down.

Entry points (`main()`, `run_worker()`, a Streamlit page) call `Settings.from_env()` and pass it
down, so tests and several workers on one machine can each have their own. One exception: the
dashboard's access policy (`dashboard/auth.py`) reads `LAB_PASSWORD` and `LAB_PRIVATE` beside
Streamlit's secrets, where team mode is configured.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from data.memory import MemorySetting, MemorySettingError
from experiment.metrics import MetricDirections

PROJECT_ROOT = Path(__file__).resolve().parent
DEFAULT_VAR_DIR = PROJECT_ROOT / "var"
# Inside the cache dir (LAB_CACHE_DIR, default var/cache), which every worker of a machine
# started from this checkout shares.
DATASET_CACHE_NAME = "dataset-files.sqlite3"
DECODED_DIR_NAME = "decoded"


class SettingsError(ValueError):
    """An environment variable the lab cannot use; the message names it and the fix."""


# SQLite's default wait for another writer's lock; leases (90 s) are far longer.
DEFAULT_SQLITE_BUSY_TIMEOUT = 30.0


@dataclass(frozen=True)
class Settings:
    """Where the database, the artifacts and the default dataset live.

    Attributes:
        database_url: SQLAlchemy URL; SQLite file under `var/` unless `DATABASE_URL` is set.
        dataset_dir: the dataset new runs use unless their config names another
            (`LAB_DATASET`, default: the generated sample set).
        var_dir: git-ignored folder for the default SQLite file and generated data.
        metric_directions: whether higher or lower is better for metric names Keras does not
            define (`LAB_METRIC_DIRECTIONS=dice=max,*_error=min`).
        cache_dir: this machine's caches for workers (`LAB_CACHE_DIR`, default `var/cache`;
            `off` for none): each dataset file's check and hash, and the decoded images of runs
            too large for memory. None: every image is checked each run and large runs stream.
        data_memory: how much memory a worker may keep decoded images in
            (`LAB_DATA_MEMORY`: `8GB` per worker, or `50%` of the machine split by its workers).
        artifacts: where models and checkpoints are stored (`LAB_ARTIFACTS`): None keeps them
            in the database; a folder every worker and the dashboard see, or an fsspec URL
            such as `s3://bucket/prefix`, keeps only their pointer, size and sha256 there.
        spool_dir: local folder for writes waiting for an unreachable database
            (`LAB_SPOOL_DIR`, default `var/spool`); never shared between machines.
        script_spool_dir: where `LabCallback` keeps a script's writes while the database does
            not answer, until `python -m trainer sync` sends them (`LAB_SCRIPT_SPOOL_DIR`,
            default `~/.cache/weather-lab/spool`: one per user, whatever folder the script
            runs in).
        sqlite_busy_timeout: seconds a SQLite write waits for another writer's lock before it
            counts as "database unreachable" (`LAB_SQLITE_BUSY_TIMEOUT`).
    """

    database_url: str
    dataset_dir: Path
    var_dir: Path
    metric_directions: MetricDirections = field(default_factory=MetricDirections)
    cache_dir: Path | None = None
    data_memory: MemorySetting = field(default_factory=MemorySetting)
    artifacts: str | None = None
    spool_dir: Path | None = None
    script_spool_dir: Path | None = None
    sqlite_busy_timeout: float = DEFAULT_SQLITE_BUSY_TIMEOUT

    @property
    def dataset_cache(self) -> Path | None:
        """The SQLite file of per-file checks and hashes (data/filecache.py)."""
        return self.cache_dir / DATASET_CACHE_NAME if self.cache_dir is not None else None

    @property
    def decoded_dir(self) -> Path | None:
        """Where runs too large for memory keep their decoded images (data/decoded.py)."""
        return self.cache_dir / DECODED_DIR_NAME if self.cache_dir is not None else None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Build settings from environment variables, falling back to project defaults.

        Raises:
            SettingsError: a variable holds a value that cannot work (`LAB_DATA_MEMORY`,
                `LAB_SQLITE_BUSY_TIMEOUT`); the message names it.
        """
        env = os.environ if environ is None else environ
        var_dir = Path(env.get("LAB_VAR_DIR") or DEFAULT_VAR_DIR).resolve()
        database_url = env.get("DATABASE_URL") or f"sqlite:///{var_dir / 'lab.db'}"
        dataset_dir = Path(env.get("LAB_DATASET") or var_dir / "data" / "weather-sample")
        artifacts = (env.get("LAB_ARTIFACTS") or "").strip()
        return cls(
            database_url=database_url,
            dataset_dir=dataset_dir,
            var_dir=var_dir,
            metric_directions=MetricDirections.from_env(env),
            cache_dir=_cache_dir(env.get("LAB_CACHE_DIR"), var_dir),
            data_memory=_data_memory(env.get("LAB_DATA_MEMORY")),
            artifacts=_artifact_location(artifacts),
            spool_dir=Path(env.get("LAB_SPOOL_DIR") or var_dir / "spool").expanduser(),
            script_spool_dir=_script_spool(env),
            sqlite_busy_timeout=_seconds(env, "LAB_SQLITE_BUSY_TIMEOUT"),
        )

    @property
    def spool(self) -> Path:
        """The spool folder (`var/spool` when none was given)."""
        return self.spool_dir or self.var_dir / "spool"

    @property
    def script_spool(self) -> Path:
        """Where scripts spool their runs (the user's cache when none was given)."""
        return self.script_spool_dir or _script_spool(os.environ)


def _script_spool(env: Mapping[str, str]) -> Path:
    """`LAB_SCRIPT_SPOOL_DIR`, else `weather-lab/spool` in the user's cache folder."""
    if value := (env.get("LAB_SCRIPT_SPOOL_DIR") or "").strip():
        return Path(value).expanduser().resolve()
    cache = (env.get("XDG_CACHE_HOME") or "").strip()
    return (Path(cache).expanduser() if cache else Path.home() / ".cache") / "weather-lab" / "spool"


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


def _cache_dir(value: str | None, var_dir: Path) -> Path | None:
    if value and value.strip().lower() in ("off", "none"):
        return None
    return Path(value).expanduser().resolve() if value else var_dir / "cache"


def _data_memory(value: str | None) -> MemorySetting:
    if not value or not value.strip():
        return MemorySetting()
    try:
        return MemorySetting.parse(value)
    except MemorySettingError as error:
        raise SettingsError(f"LAB_DATA_MEMORY: {error}") from None


def resolve_dataset_path(dataset: str) -> Path:
    """Resolve a config's dataset path: relative paths are taken from the project root.

    Workers on several machines then agree on `var/data/...` whatever folder they start in.
    """
    path = Path(dataset).expanduser()
    return path if path.is_absolute() else PROJECT_ROOT / path
