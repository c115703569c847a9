"""TensorFlow's start-up notices stay off the terminal; real warnings and errors stay on it."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from settings import PROJECT_ROOT
from tf_logging import filtered_stderr, without_notices

NOTICES = (
    "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n"
    "I0000 00:00:1795939077.978889   10149 port.cc:153] oneDNN custom operations are on. You "
    "may see slightly different numerical results\n"
    "I0000 00:00:1795939077.984848   10149 cudart_stub.cc:31] Could not find cuda drivers on "
    "your machine, GPU will not be used.\n"
    "E0000 00:00:1795939084.485027   10149 cuda_platform.cc:52] failed call to cuInit: "
    "INTERNAL: CUDA error: Failed call to cuInit: UNKNOWN ERROR (303)\n"
)
REAL = "W0000 00:00:1.0 loader.cc:1] Your input ran out of data\nUserWarning: something real\n"


def test_without_notices_keeps_every_other_line() -> None:
    """The four start-up notices go; a real warning and a Python warning stay, in order."""
    assert without_notices(NOTICES + REAL + NOTICES) == REAL


def test_filtered_stderr_filters_file_descriptor_2(capfd: pytest.CaptureFixture[str]) -> None:
    """What C++ writes to fd 2 inside the block comes back without the notices."""
    with filtered_stderr():
        os.write(2, NOTICES.encode())
        print("a Python warning", file=sys.stderr)
        os.write(2, REAL.encode())
    assert capfd.readouterr().err == "a Python warning\n" + REAL


@pytest.mark.slow
def test_a_command_that_imports_tensorflow_prints_no_startup_notice() -> None:
    """`python -m trainer models` builds Keras models; stderr holds no TensorFlow notice."""
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    done = subprocess.run(
        [sys.executable, "-m", "trainer", "models", "--image-size", "32"],
        cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "resnet20" in done.stdout
    assert done.stderr == ""
