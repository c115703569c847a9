"""Job templates made from the shipped one, a dispatcher process, and polling with a deadline."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TypeVar

import pytest

from settings import PROJECT_ROOT
from tests.trainer.slurm.cluster import SlurmCluster
from trainer.slurm.dispatcher import DEFAULT_TEMPLATE

T = TypeVar("T")
# This machine has no GPU and 2 CPUs: the shipped template's resource lines would be refused.
_MACHINE_SPECIFIC = ("#SBATCH --gres", "#SBATCH --mem", "#SBATCH --cpus-per-task")


def make_template(
    folder: Path,
    name: str = "job.sbatch",
    *,
    add: Iterable[str] = (),
    command: str | None = None,
) -> Path:
    """The shipped template with its GPU, memory and CPU lines replaced by one CPU.

    `add` appends #SBATCH lines and `command` replaces the worker's command line.
    """
    lines = [
        line
        for line in DEFAULT_TEMPLATE.read_text().splitlines()
        if not line.startswith(_MACHINE_SPECIFIC)
    ]
    first_directive = next(i for i, line in enumerate(lines) if line.startswith("#SBATCH"))
    lines[first_directive:first_directive] = ["#SBATCH --cpus-per-task=1", *add]
    worker = next(i for i, line in enumerate(lines) if line.startswith("exec "))
    if command is not None:
        lines[worker] = command
    path = folder / name
    path.write_text("\n".join(lines) + "\n")
    return path


def pending_template(folder: Path, name: str = "pending.sbatch") -> Path:
    """Jobs that stay pending for an hour (Slurm's reason: BeginTime): no worker ever starts."""
    return make_template(folder, name, add=["#SBATCH --begin=now+3600"])


class DispatcherProcess:
    """`python -m trainer slurm dispatch` as a real process against the session's cluster."""

    def __init__(self, cluster: SlurmCluster, url: str, folder: Path) -> None:
        self.cluster = cluster
        self.url = url
        self.folder = folder
        self.log_dir = folder / "slurm"
        self.process: subprocess.Popen[bytes] | None = None
        self.log = folder / "dispatcher.log"

    def environ(self) -> dict[str, str]:
        return {
            **self.cluster.environ,
            "DATABASE_URL": self.url,
            "LAB_VAR_DIR": str(self.folder),
            "TF_CPP_MIN_LOG_LEVEL": "3",
        }

    def command(self, template: Path, *options: str) -> list[str]:
        return [
            sys.executable,
            "-m",
            "trainer",
            "slurm",
            "dispatch",
            "--template",
            str(template),
            "--log-dir",
            str(self.log_dir),
            "--poll-seconds",
            "1",
            *options,
        ]

    def start(self, template: Path, *options: str) -> subprocess.Popen[bytes]:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                self.command(template, *options),
                cwd=PROJECT_ROOT,
                env=self.environ(),
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        return self.process

    def once(self, template: Path, *options: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.command(template, "--once", *options),
            cwd=PROJECT_ROOT,
            env=self.environ(),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def job_logs(self) -> str:
        parts = [f"--- dispatcher ---\n{self.output()[-3000:]}"]
        for log in sorted(self.log_dir.glob("*.out")):
            parts.append(f"--- {log.name} ---\n{log.read_text(errors='replace')[-1500:]}")
        return "\n".join(parts)

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self) -> int:
        """SIGTERM, as systemd would; returns the exit status."""
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            pytest.fail(f"the dispatcher ignored SIGTERM\n{self.job_logs()}")

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=30)


def wait_for(
    read: Callable[[], T],
    condition: Callable[[T], bool],
    what: str,
    timeout: float,
    dispatcher: DispatcherProcess | None = None,
    interval: float = 0.2,
) -> T:
    """Poll `read()` until `condition` holds; fail with the logs if time runs out or the
    dispatcher exits first."""
    deadline = time.monotonic() + timeout
    while True:
        value = read()
        if condition(value):
            return value
        if dispatcher is not None and dispatcher.process is not None and not dispatcher.alive():
            pytest.fail(f"the dispatcher exited before {what}\n{dispatcher.job_logs()}")
        if time.monotonic() > deadline:
            logs = dispatcher.job_logs() if dispatcher else ""
            pytest.fail(f"no {what} after {timeout} s; last: {value!r}\n{logs}")
        time.sleep(interval)


def environ_without_slurm() -> dict[str, str]:
    """This process's environment with a PATH that has no Slurm commands on it."""
    return {**os.environ, "PATH": "/nonexistent"}
