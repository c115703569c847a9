"""The Slurm commands module: squeue's lines parsed, and sbatch/squeue/scancel on a real cluster."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.trainer.slurm.cluster import SlurmCluster
from tests.trainer.slurm.helpers import environ_without_slurm, make_template, pending_template
from trainer.slurm.commands import Slurm, SlurmError, expand_log_path, parse_squeue_line


def test_a_pending_line_has_its_reason_and_no_exit_code() -> None:
    """A pending job: Slurm's reason kept, no node, no exit code, %j filled in the log path."""
    status = parse_squeue_line("12|PENDING|Resources||0|lab-worker|ana|/home/ana/lab-%j.out|")
    assert (status.job_id, status.state, status.reason) == ("12", "PENDING", "Resources")
    assert status.node is None and status.exit_code is None
    assert status.log_path == "/home/ana/lab-12.out"


def test_an_ended_line_decodes_the_wait_status() -> None:
    """squeue's exit_code is a wait status: 768 is exit 3, 9 is SIGKILL, as Slurm's "3:0"/"0:9"."""
    failed = parse_squeue_line("7|FAILED|NonZeroExitCode|gpu01|768|w|ana|/logs/slurm-7.out|")
    killed = parse_squeue_line("8|FAILED|JobLaunchFailure|gpu01|9|w|ana|/logs/k.out|")
    running = parse_squeue_line("9|RUNNING|None|gpu02|0|w|ana|/logs/r.out|")
    assert (failed.exit_code, failed.node) == ("3:0", "gpu01")
    assert killed.exit_code == "0:9"
    assert running.exit_code is None and running.reason is None


def test_a_bar_in_the_log_path_does_not_shift_the_fields() -> None:
    """The log path is the last field, so a "|" inside it stays in it."""
    status = parse_squeue_line("3|RUNNING|None|n1|0|w|ana|/odd|dir/%x-%j.out|")
    assert status.log_path == "/odd|dir/w-3.out"


def test_an_unexpected_line_is_an_error_naming_it() -> None:
    """A line with too few fields is refused with the line in the message."""
    with pytest.raises(SlurmError, match="unexpected line"):
        parse_squeue_line("12|PENDING")


def test_log_patterns_expand_as_sbatch_does() -> None:
    """%j, %x, %u, %N, zero-padded %5j and %% as sbatch fills them; %N kept while pending."""
    assert expand_log_path("/l/%x.%u.%N.%5j.%%.out", "42", "job", "ana", "n1") == (
        "/l/job.ana.n1.00042.%.out"
    )
    assert expand_log_path("/l/%N-%j.out", "42", "job", "ana", "") == "/l/%N-42.out"


def test_missing_commands_are_one_clear_error() -> None:
    """Without Slurm on PATH, a command fails with a SlurmError that says where to run it."""
    with pytest.raises(SlurmError, match="squeue not found"):
        Slurm(environ_without_slurm()).statuses(["1"])


def test_submit_follow_and_cancel_a_real_job(slurm: SlurmCluster, tmp_path: Path) -> None:
    """sbatch returns the id; squeue shows it pending (BeginTime) with its log; scancel ends it."""
    commands = Slurm(slurm.environ)
    job_id = commands.submit(pending_template(tmp_path), cwd=tmp_path, environ=slurm.environ)
    pending = commands.statuses([job_id, "999999"])
    assert list(pending) == [job_id]
    assert (pending[job_id].state, pending[job_id].reason) == ("PENDING", "BeginTime")
    assert pending[job_id].log_path == str(tmp_path / f"lab-worker-{job_id}.out")
    commands.cancel([job_id])
    ended = commands.statuses([job_id])[job_id]
    assert ended.state == "CANCELLED" and ended.exit_code == "0:0"


def test_sbatch_refusal_carries_its_message(slurm: SlurmCluster, tmp_path: Path) -> None:
    """A template with an unknown option fails with sbatch's own words, without the help hint."""
    template = make_template(tmp_path, add=["#SBATCH --no-such-option"])
    with pytest.raises(SlurmError) as error:
        Slurm(slurm.environ).submit(template, cwd=tmp_path, environ=slurm.environ)
    assert "unrecognized option '--no-such-option'" in str(error.value)
    assert "--help" not in str(error.value)


def test_jobs_slurm_never_heard_of_are_absent(slurm: SlurmCluster) -> None:
    """Asking about unknown job ids alone is not an error: they are simply not listed."""
    assert Slurm(slurm.environ).statuses(["999998", "999999"]) == {}
