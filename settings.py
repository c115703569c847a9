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


@dataclass(frozen=True)
class Settings:
    """Where the database and the default dataset live.

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
    """

    database_url: str
    dataset_dir: Path
    var_dir: Path
    metric_directions: MetricDirections = field(default_factory=MetricDirections)
    cache_dir: Path | None = None
    data_memory: MemorySetting = field(default_factory=MemorySetting)

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
            SettingsError: `LAB_DATA_MEMORY` is neither a size nor a percentage.
        """
        env = os.environ if environ is None else environ
        var_dir = Path(env.get("LAB_VAR_DIR") or DEFAULT_VAR_DIR).resolve()
        database_url = env.get("DATABASE_URL") or f"sqlite:///{var_dir / 'lab.db'}"
        dataset_dir = Path(env.get("LAB_DATASET") or var_dir / "data" / "weather-sample")
        return cls(
            database_url=database_url,
            dataset_dir=dataset_dir,
            var_dir=var_dir,
            metric_directions=MetricDirections.from_env(env),
            cache_dir=_cache_dir(env.get("LAB_CACHE_DIR"), var_dir),
            data_memory=_data_memory(env.get("LAB_DATA_MEMORY")),
        )


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
