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

from experiment.metrics import MetricDirections

PROJECT_ROOT = Path(__file__).resolve().parent
DEFAULT_VAR_DIR = PROJECT_ROOT / "var"


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
    """

    database_url: str
    dataset_dir: Path
    var_dir: Path
    metric_directions: MetricDirections = field(default_factory=MetricDirections)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Build settings from environment variables, falling back to project defaults."""
        env = os.environ if environ is None else environ
        var_dir = Path(env.get("LAB_VAR_DIR") or DEFAULT_VAR_DIR).resolve()
        database_url = env.get("DATABASE_URL") or f"sqlite:///{var_dir / 'lab.db'}"
        dataset_dir = Path(env.get("LAB_DATASET") or var_dir / "data" / "weather-sample")
        return cls(
            database_url=database_url,
            dataset_dir=dataset_dir,
            var_dir=var_dir,
            metric_directions=MetricDirections.from_env(env),
        )


def resolve_dataset_path(dataset: str) -> Path:
    """Resolve a config's dataset path: relative paths are taken from the project root.

    Workers on several machines then agree on `var/data/...` whatever folder they start in.
    """
    path = Path(dataset).expanduser()
    return path if path.is_absolute() else PROJECT_ROOT / path
