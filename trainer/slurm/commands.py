"""The Slurm commands the lab runs (sbatch, squeue, scancel), through subprocess.

The one place that calls Slurm, and always for machine-readable output: `sbatch --parsable`
prints "jobid[;cluster]"; `squeue --Format` prints the fields we name, each followed by "|"
(the log path last, so a "|" inside it cannot shift the others); `scancel` prints nothing.
No Slurm library: the client commands are what every cluster has, in every version.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from db.models import SLURM_FINAL_STATES

COMMANDS = ("sbatch", "squeue", "scancel")
# squeue's --Format field names; "exit_code" is the raw wait status (768 = exit 3, 9 = SIGKILL).
_FIELDS = ("JobID", "State", "Reason", "NodeList", "exit_code", "Name", "UserName", "StdOut")
_FORMAT = ",".join(f"{field}:|" for field in _FIELDS)
# The filename patterns sbatch expands in --output (man sbatch, "filename pattern").
_LOG_PATTERN = re.compile(r"%(\d*)([%AjJNux])")


class SlurmError(RuntimeError):
    """A Slurm command failed; the message is the command and Slurm's own words."""


@dataclass(frozen=True)
class JobStatus:
    """One job as squeue shows it; `exit_code` ("exit:signal") only once the job has ended."""

    job_id: str
    state: str
    reason: str | None
    node: str | None
    exit_code: str | None
    log_path: str | None


def missing_commands() -> list[str]:
    """The Slurm client commands this machine lacks (the dispatcher runs on a login node)."""
    return [name for name in COMMANDS if shutil.which(name) is None]


class Slurm:
    """Runs Slurm's client commands with one environment (e.g. `SLURM_CONF`) and a timeout."""

    def __init__(self, environ: Mapping[str, str] | None = None, timeout: float = 60.0) -> None:
        self.environ = dict(environ) if environ is not None else None
        self.timeout = timeout

    def submit(
        self,
        script: Path,
        *,
        options: Sequence[str] = (),
        cwd: Path | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> str:
        """`sbatch --parsable [options] script`; returns the job id or raises SlurmError.

        Options given here beat the script's own `#SBATCH` lines, as on sbatch's command line.
        The job inherits `environ` (sbatch exports the submitting environment by default).
        """
        done = self._run(["sbatch", "--parsable", *options, str(script)], cwd=cwd, environ=environ)
        job_id = done.stdout.strip().split(";")[0]
        if not job_id:
            raise SlurmError(f"sbatch printed no job id: {done.stdout!r}")
        return job_id

    def statuses(self, job_ids: Collection[str]) -> dict[str, JobStatus]:
        """What squeue says of these jobs (ended ones too); jobs Slurm forgot are absent.

        slurmctld forgets a job `MinJobAge` (default 300 s) after it ended.
        """
        if not job_ids:
            return {}
        args = ["squeue", "--noheader", "--states=all", f"--jobs={','.join(job_ids)}"]
        try:
            done = self._run([*args, f"--Format={_FORMAT}"])
        except SlurmError as error:
            if "Invalid job id" in str(error):  # none of them is known any more
                return {}
            raise
        found = (parse_squeue_line(line) for line in done.stdout.splitlines() if line.strip())
        return {status.job_id: status for status in found if status.job_id in job_ids}

    def cancel(self, job_ids: Collection[str]) -> None:
        """`scancel` these jobs: SIGTERM to a running job's worker, which hands its run back."""
        if job_ids:
            self._run(["scancel", *job_ids])

    def _run(
        self,
        args: list[str],
        *,
        cwd: Path | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        env = dict(environ) if environ is not None else self.environ
        try:
            done = subprocess.run(
                args,
                cwd=cwd,
                env=env,
                capture_output=True,
                text=True,
                timeout=self.timeout,
                check=False,
            )
        except FileNotFoundError:
            raise SlurmError(f"{args[0]} not found: run this where Slurm's commands are") from None
        except subprocess.TimeoutExpired:
            raise SlurmError(f"{args[0]} gave no answer within {self.timeout:g} s") from None
        if done.returncode != 0:
            raise SlurmError(f"{args[0]} failed: {_slurm_message(done.stderr, done.returncode)}")
        return done


def _slurm_message(stderr: str, returncode: int) -> str:
    """Slurm's error lines in one line, without the "Try sbatch --help" boilerplate."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    useful = [line for line in lines if not line.startswith("Try ")]
    return "; ".join(useful)[:1000] or f"exit status {returncode}"


def parse_squeue_line(line: str) -> JobStatus:
    """One line of `squeue --Format=JobID:|,State:|,...` (see _FIELDS) as a JobStatus."""
    parts = line.rstrip("\n").split("|", len(_FIELDS) - 1)
    if len(parts) != len(_FIELDS):
        raise SlurmError(f"squeue printed an unexpected line: {line!r}")
    job_id, state, reason, node, status, name, user, stdout = (part.strip() for part in parts)
    stdout = stdout.removesuffix("|")
    ended = state in SLURM_FINAL_STATES
    return JobStatus(
        job_id=job_id,
        state=state,
        reason=None if reason in ("", "None", "(null)") else reason,
        node=None if node in ("", "(null)") else node,
        exit_code=_exit_code(status) if ended else None,
        log_path=expand_log_path(stdout, job_id, name, user, node) if stdout else None,
    )


def _exit_code(status: str) -> str | None:
    """A raw wait status as Slurm's "exit:signal" (768 -> "3:0", 9 -> "0:9")."""
    if not status.isdigit():
        return None
    value = int(status)
    return f"{value >> 8}:{value & 0x7F}"


def expand_log_path(pattern: str, job_id: str, name: str, user: str, node: str) -> str:
    """squeue shows --output as given ("lab-%j.out"); fill in what sbatch fills in.

    %j, %J and %A are the job id (jobs here are not arrays), %x the job name, %u the user,
    %N the node (left as is while the job waits for one), %% a percent sign.
    """

    def fill(match: re.Match[str]) -> str:
        width, key = match.groups()
        if key == "%":
            return "%"
        if key == "N" and not node:
            return match.group(0)
        value = {"x": name, "u": user, "N": node}.get(key, job_id)
        return value.zfill(int(width)) if width and key in "AjJ" else value

    return _LOG_PATTERN.sub(fill, pattern)
