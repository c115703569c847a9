"""The dispatcher's decisions as pure functions: how many jobs, which to cancel, when to retry."""

from __future__ import annotations

from pathlib import Path

import pytest

from db.entities import SlurmJobRecord
from db.slurm import Demand
from settings import PROJECT_ROOT, Settings
from trainer.slurm.dispatcher import SubmitGate, job_environment, jobs_to_submit, surplus_jobs


def _job(job_id: int, state: str = "PENDING", run_id: int | None = None) -> SlurmJobRecord:
    none = dict.fromkeys(
        ["dispatcher_id", "attempt", "worker_id", "reason", "node", "log_path", "exit_code"]
    )
    times = dict.fromkeys(["note", "submitted_at", "started_at", "ended_at", "updated_at"])
    return SlurmJobRecord(
        id=job_id, job_id=str(job_id), run_id=run_id, state=state, **none, **times
    )


def _demand(queued: int, busy: int = 0, waiting: tuple[SlurmJobRecord, ...] = ()) -> Demand:
    return Demand(queued_runs=queued, active_jobs=busy + len(waiting), waiting=waiting)


@pytest.mark.parametrize(
    ("queued", "busy", "waiting", "max_jobs", "expected"),
    [
        (6, 0, 0, 2, 2),  # capped by --max-jobs
        (6, 2, 0, 2, 0),  # two jobs training: wait for one to end
        (6, 1, 0, 2, 1),
        (1, 0, 0, 4, 1),  # never more jobs than queued runs
        (3, 0, 2, 8, 1),  # two waiting jobs will take two of the three runs
        (0, 0, 0, 4, 0),
        (2, 0, 3, 4, 0),  # surplus: nothing to submit (and one to cancel)
    ],
)
def test_jobs_to_submit(queued: int, busy: int, waiting: int, max_jobs: int, expected: int) -> None:
    """One job per queued run no waiting job will take, within --max-jobs active jobs."""
    demand = _demand(queued, busy, tuple(_job(i) for i in range(waiting)))
    assert jobs_to_submit(demand, max_jobs) == expected


def test_surplus_cancels_the_newest_pending_jobs_only() -> None:
    """Jobs beyond the queued runs go newest first, but never one that already started."""
    waiting = (_job(4), _job(3, state="RUNNING"), _job(2), _job(1))
    assert [job.id for job in surplus_jobs(_demand(2, waiting=waiting))] == [4, 2]
    assert [job.id for job in surplus_jobs(_demand(0, waiting=waiting))] == [4, 2, 1]
    assert surplus_jobs(_demand(4, waiting=waiting)) == []


def test_the_gate_waits_for_a_new_template_or_the_back_off() -> None:
    """After a failure the same template waits 60 s, then 120 s; an edited template goes at once."""
    now = [0.0]
    gate = SubmitGate(60, 600, clock=lambda: now[0])
    assert gate.allows("a")
    assert gate.failed("a") == 60
    assert not gate.allows("a") and gate.allows("b")
    now[0] = 61
    assert gate.allows("a")
    assert gate.failed("a") == 120
    gate.succeeded()
    assert gate.allows("a")


def test_the_back_off_stops_growing_at_its_cap() -> None:
    """Failures keep doubling the wait only up to retry_max."""
    gate = SubmitGate(60, 600, clock=lambda: 0.0)
    assert [gate.failed("a") for _ in range(6)] == [60, 120, 240, 480, 600, 600]


def test_jobs_get_an_absolute_database_url_and_the_checkout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A relative SQLite URL becomes absolute for the jobs; LAB_ROOT and LAB_PYTHON are set."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "var").mkdir()
    settings = Settings(database_url="sqlite:///var/x.db", dataset_dir=tmp_path, var_dir=tmp_path)
    environ = job_environment(settings, {"SLURM_CONF": "/etc/slurm.conf"})
    assert environ["DATABASE_URL"] == f"sqlite:///{tmp_path / 'var' / 'x.db'}"
    assert environ["LAB_ROOT"] == str(PROJECT_ROOT) and environ["SLURM_CONF"] == "/etc/slurm.conf"
    assert Path(environ["LAB_PYTHON"]).exists()


def test_a_postgres_password_reaches_the_jobs(tmp_path: Path) -> None:
    """The jobs get the real URL, password included (hidden only where it is displayed)."""
    url = "postgresql+psycopg://lab:s3cret@db:5432/lab"
    settings = Settings(database_url=url, dataset_dir=tmp_path, var_dir=tmp_path)
    assert job_environment(settings, {})["DATABASE_URL"] == url
