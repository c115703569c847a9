"""Queue throughput and idle cost: claims per second and claim latency with 1, 4 and 8 claiming
processes on SQLite and PostgreSQL, and the CPU an idle worker process uses.

    python -m bench.queue [--jobs 2000] [--workers 1 4 8] [--idle-seconds 30]

Jobs are empty (claim, then finish; no training), so this measures the queue itself: each
configuration gets a fresh database with `--jobs` queued runs that its processes drain together.
PostgreSQL uses TEST_DATABASE_URL in a private schema that is dropped afterwards, and is skipped
with a note when the variable is unset or the server does not answer. The idle worker is a real
`python -m trainer worker` on an empty SQLite queue; its CPU comes from /proc/<pid>/stat.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import platform
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier
from pathlib import Path

from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from bench.common import format_table, machine_line
from db import queue
from db.migrate import upgrade
from db.models import RunStatus, StopReason, Worker
from db.session import Database
from experiment.config import parse_config
from settings import PROJECT_ROOT

START_TIMEOUT_SECONDS = 120


@dataclass(frozen=True)
class ClaimResult:
    """One configuration's run: how many claims, how long, and each claim's latency."""

    database: str
    workers: int
    jobs: int
    seconds: float
    latencies: list[float]

    @property
    def rate(self) -> float:
        return self.jobs / self.seconds

    def percentile_ms(self, fraction: float) -> float:
        ordered = sorted(self.latencies)
        return 1000 * ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def _claimer(url: str, name: str, start: Barrier, results: Queue) -> None:
    """Claim and finish runs until none is left; report claim latencies and the busy window."""
    database = Database(url)
    database.check_connection()
    start.wait(timeout=START_TIMEOUT_SECONDS)
    latencies: list[float] = []
    began = time.monotonic()
    while True:
        before = time.perf_counter()
        with database.begin() as session:
            claimed = queue.claim_next(session, name)
        if claimed is None:
            break
        latencies.append(time.perf_counter() - before)
        with database.begin() as session:
            queue.finish_run(
                session,
                claimed.id,
                claimed.attempt,
                status=RunStatus.SUCCEEDED,
                stop_reason=StopReason.COMPLETED,
            )
    ended = time.monotonic()
    database.dispose()
    results.put((latencies, began, ended))


def _fill(url: str, jobs: int) -> None:
    database = Database(url)
    upgrade(database.engine)
    template = parse_config({"name": "bench"}).to_new_run()
    with database.begin() as session:
        queue.enqueue_many(session, [replace(template, name=f"bench-{i}") for i in range(jobs)])
    database.dispose()


def measure_claims(label: str, url: str, workers: int, jobs: int) -> ClaimResult:
    """Drain `jobs` empty runs from a fresh database at `url` with `workers` processes."""
    _fill(url, jobs)
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    start = context.Barrier(workers)
    processes = [
        context.Process(target=_claimer, args=(url, f"bench-{i}", start, results))
        for i in range(workers)
    ]
    try:
        for process in processes:
            process.start()
        reports = [results.get(timeout=600) for _ in processes]
    finally:
        for process in processes:
            process.join(timeout=30)
            if process.is_alive():
                process.kill()
    latencies = [latency for report in reports for latency in report[0]]
    seconds = max(r[2] for r in reports) - min(r[1] for r in reports)
    if len(latencies) != jobs:
        raise RuntimeError(f"{label}: {len(latencies)} claims for {jobs} jobs")
    return ClaimResult(label, workers, jobs, seconds, latencies)


@contextmanager
def postgres_schema(base_url: str) -> Iterator[tuple[str, str]]:
    """A URL whose search_path is a fresh schema, and the server version; drops the schema."""
    url = make_url(base_url)
    if url.drivername in ("postgresql", "postgres"):
        url = url.set(drivername="postgresql+psycopg")
    schema = f"lab_bench_{uuid.uuid4().hex[:12]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            version = str(connection.scalar(text("SHOW server_version")))
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        scoped = url.update_query_dict({"options": f"-csearch_path={schema}"})
        yield scoped.render_as_string(hide_password=False), version
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


def postgres_unavailable(base_url: str | None) -> str | None:
    """Why PostgreSQL cannot be benchmarked, or None when it can."""
    if not base_url:
        return "TEST_DATABASE_URL is not set"
    try:
        with postgres_schema(base_url):
            return None
    except OperationalError as error:
        return f"cannot reach TEST_DATABASE_URL: {str(error.orig).splitlines()[0]}"


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (all its threads), from /proc/<pid>/stat."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()  # the name may hold spaces; fields 3.. follow
    utime, stime = int(fields[11]), int(fields[12])
    return (utime + stime) / os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class IdleCpu:
    startup_seconds: float  # CPU used from exec until the worker registered
    used_seconds: float  # CPU used while idle
    wall_seconds: float

    @property
    def percent(self) -> float:
        return 100 * self.used_seconds / self.wall_seconds


def measure_idle_worker(folder: Path, seconds: float) -> IdleCpu:
    """Start a real worker on an empty SQLite queue; CPU it uses idle, after its start-up."""
    url = f"sqlite:///{folder / 'idle.db'}"
    database = Database(url)
    upgrade(database.engine)
    env = {**os.environ, "DATABASE_URL": url, "LAB_VAR_DIR": str(folder)}
    env["TF_CPP_MIN_LOG_LEVEL"] = "3"
    command = [sys.executable, "-m", "trainer", "worker", "--name", "bench-idle"]
    process = subprocess.Popen(
        command, cwd=PROJECT_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while True:
            with database.read() as session:
                if session.scalar(select(Worker.id).where(Worker.name == "bench-idle")):
                    break
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the idle worker did not start")
            time.sleep(0.1)
        startup = cpu_seconds(process.pid)
        began = time.monotonic()
        time.sleep(seconds)
        used = cpu_seconds(process.pid) - startup
        return IdleCpu(startup, used, time.monotonic() - began)
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=30)
        database.dispose()


def load_average() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def claims_table(results: Sequence[ClaimResult]) -> str:
    headers = ["database", "workers", "jobs", "seconds", "claims/s", "p50 ms", "p99 ms"]
    rows = [
        [
            r.database,
            r.workers,
            r.jobs,
            f"{r.seconds:.2f}",
            f"{r.rate:.0f}",
            f"{r.percentile_ms(0.5):.2f}",
            f"{r.percentile_ms(0.99):.2f}",
        ]
        for r in results
    ]
    return format_table(headers, rows)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.queue", description=__doc__)
    parser.add_argument("--jobs", type=int, default=2000, help="queued runs per configuration")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 4, 8])
    parser.add_argument("--idle-seconds", type=float, default=30.0)
    args = parser.parse_args(argv)

    python = platform.python_version()
    print(f"machine: {machine_line(Python=python, SQLite=sqlite3.sqlite_version)}")
    print(f"load average at start: {load_average()}")
    base_url = os.environ.get("TEST_DATABASE_URL")
    skipped = postgres_unavailable(base_url)
    results: list[ClaimResult] = []
    version = ""
    with tempfile.TemporaryDirectory(prefix="bench-queue-") as folder:
        for workers in args.workers:
            url = f"sqlite:///{Path(folder) / f'claims-{workers}.db'}"
            results.append(measure_claims("sqlite", url, workers, args.jobs))
        if skipped is None and base_url:
            for workers in args.workers:
                with postgres_schema(base_url) as (url, version):
                    results.append(measure_claims("postgresql", url, workers, args.jobs))
            print(f"PostgreSQL {version}")
        else:
            print(f"PostgreSQL skipped: {skipped}")
        idle = measure_idle_worker(Path(folder), args.idle_seconds)
    print()
    print(claims_table(results))
    print()
    print(
        f"idle worker: {idle.percent:.2f}% of one core over {idle.wall_seconds:.0f} s "
        f"({idle.used_seconds:.2f} s CPU; start-up used {idle.startup_seconds:.1f} s CPU)"
    )
    print(f"load average at end: {load_average()}")
    most = max(args.workers)
    rates = {r.database: f"{r.rate:.0f}/s" for r in results if r.workers == most}
    print(
        f"{most}-worker claim rate: sqlite {rates['sqlite']}, "
        f"postgresql {rates.get('postgresql', 'skipped')}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
