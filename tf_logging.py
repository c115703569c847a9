"""TensorFlow's start-up notices kept off the terminal; its real warnings and errors kept on it.

TensorFlow 2.21 prints its notices ("oneDNN custom operations are on", "Could not find cuda
drivers", "E0000 ... failed call to cuInit") from C++ before its logging is set up, so
`TF_CPP_MIN_LOG_LEVEL` alone does not hide them, and a CPU user reads "E0000" as an alarm.

`quiet_tensorflow()` runs at each entry point (`python -m trainer`, the dashboard) before anything
imports TensorFlow. It sets `TF_CPP_MIN_LOG_LEVEL=2` unless the user chose a level (C++ INFO and
WARNING lines off, ERROR lines kept), and wraps TensorFlow's first import and its first GPU probe
so that the process's stderr is captured meanwhile and written back without the lines that match
`STARTUP_NOTICES`: anything else printed then (a Python warning, a real error) still appears.
"""

from __future__ import annotations

import contextlib
import importlib.abc
import importlib.machinery
import importlib.util
import os
import re
import sys
import tempfile
from collections.abc import Iterator, Sequence
from types import ModuleType
from typing import Any

LOG_LEVEL = "2"  # TF_CPP_MIN_LOG_LEVEL: 0 all, 1 no INFO, 2 no INFO/WARNING, 3 no ERROR either

# One alternative per notice TensorFlow prints on every start, whether or not anything is wrong.
STARTUP_NOTICES = re.compile(
    "|".join(
        (
            r"All log messages before absl::InitializeLog\(\) is called",
            r"oneDNN custom operations are on",
            r"Could not find cuda drivers on your machine",
            r"failed call to cuInit",
            r"This TensorFlow binary is optimized to use available CPU instructions",
            r"To enable the following instructions: .* rebuild TensorFlow",
            r"Unable to register cu(DNN|FFT|BLAS) factory",
            r"computation placer already registered",
            r"TF-TRT Warning: Could not find TensorRT",
        )
    )
)


def without_notices(text: str) -> str:
    """`text` without its start-up notice lines (every other line kept, in order)."""
    lines = text.splitlines(keepends=True)
    return "".join(line for line in lines if not STARTUP_NOTICES.search(line))


@contextlib.contextmanager
def filtered_stderr() -> Iterator[None]:
    """Capture file descriptor 2 (C++ writes there, not to `sys.stderr`) and write it back
    without the start-up notices when the block ends, however it ends."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            kept = without_notices(captured.read().decode(errors="replace"))
            if kept:
                os.write(2, kept.encode())


class _QuietLoader(importlib.abc.Loader):
    """TensorFlow's own loader, run with stderr filtered; probes the GPUs once loaded, which
    is when CUDA prints its "failed call to cuInit" on a machine without an NVIDIA driver."""

    def __init__(self, loader: importlib.abc.Loader) -> None:
        self._loader = loader

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return self._loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        with filtered_stderr():
            self._loader.exec_module(module)
            # Listing physical devices does not initialise the runtime: a worker can still
            # pick its GPU and memory growth afterwards (trainer/devices.py).
            module.config.list_physical_devices("GPU")

    def __getattr__(self, name: str) -> Any:  # get_resource_reader, is_package, ...
        return getattr(self._loader, name)


class _QuietImport(importlib.abc.MetaPathFinder):
    """Finds `tensorflow` the usual way, once, and hands back its spec with `_QuietLoader`."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != "tensorflow":
            return None
        sys.meta_path.remove(self)  # only the first import; the real finders do the finding
        spec = importlib.util.find_spec(fullname)
        if spec is not None and spec.loader is not None:
            spec.loader = _QuietLoader(spec.loader)
        return spec


def quiet_tensorflow() -> None:
    """Set TensorFlow's log level and filter its start-up notices; call before it is imported.

    Idempotent, and a no-op for the filter when TensorFlow is already imported (too late).
    """
    if not os.environ.get("TF_CPP_MIN_LOG_LEVEL"):
        os.environ["TF_CPP_MIN_LOG_LEVEL"] = LOG_LEVEL
    if "tensorflow" in sys.modules or any(isinstance(f, _QuietImport) for f in sys.meta_path):
        return
    sys.meta_path.insert(0, _QuietImport())
