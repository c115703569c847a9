"""Only Predict may pay for TensorFlow: every other dashboard module imports without it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LIGHT_MODULES = [
    "dashboard.actions",
    "dashboard.charts",
    "dashboard.config_form",
    "dashboard.nav",
    "dashboard.predict_panels",
    "dashboard.queries",
    "dashboard.queue_panels",
    "dashboard.run_panels",
    "dashboard.state",
    "dashboard.tables",
]


def test_dashboard_modules_do_not_import_tensorflow() -> None:
    """Importing the dashboard's modules (Predict's panel included) leaves TensorFlow unloaded."""
    code = (
        "import sys\n"
        + "".join(f"import {name}\n" for name in LIGHT_MODULES)
        + "heavy = sorted(m for m in ('tensorflow', 'keras') if m in sys.modules)\n"
        + "assert not heavy, heavy\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-2000:]
