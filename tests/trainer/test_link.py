"""The run link in-process, with a stand-in reporter: writes land in order, wait out an outage,
heartbeat between the backlog's records, and are dropped when the lease was taken over."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any, cast

import pytest
from sqlalchemy.exc import IntegrityError, OperationalError

from db.entities import EpochRecord
from db.models import RunStatus, StopReason
from db.queue import Heartbeat
from trainer.link import RunLink
from trainer.reporting import RunReporter


class StandIn:
    """Records what the link writes; `down` makes every call fail like a refused connection."""

    def __init__(self, write_seconds: float = 0.0) -> None:
        self.run_id = 7
        self.attempt = 1
        self.down = threading.Event()
        self.held = True
        self.calls: list[str] = []
        self.write_seconds = write_seconds
        self.error: Exception | None = None

    def _call(self, what: str) -> None:
        if self.down.is_set():
            raise OperationalError("SELECT 1", {}, ConnectionRefusedError("refused"))
        if self.error is not None:
            raise self.error
        if what != "beat":
            time.sleep(self.write_seconds)
        self.calls.append(what)

    def heartbeat(self) -> Heartbeat:
        self._call("beat")
        return Heartbeat(held=self.held)

    def commit_epoch(self, record: EpochRecord, checkpoint: Path | None) -> bool:
        kept = checkpoint.read_bytes().decode() if checkpoint else "-"
        self._call(f"epoch {record.epoch} {kept}")
        return self.held

    def finish(self, status: RunStatus, *args: Any) -> bool:
        self._call(f"finish {status.value}")
        return self.held

    def writes(self) -> list[str]:
        return [call for call in self.calls if call != "beat"]


def _link(reporter: StandIn, tmp_path: Path, **options: Any) -> Any:
    return RunLink.open(cast(RunReporter, reporter), tmp_path, **options)


def _epoch(link: RunLink, epoch: int) -> bool:
    checkpoint = link.scratch(".zip")
    checkpoint.write_bytes(f"ck{epoch}".encode())
    return link.commit_epoch(EpochRecord(epoch=epoch), checkpoint)


def test_writes_land_in_order(tmp_path: Path) -> None:
    """Epochs and the final status arrive in the order they were made, each once."""
    reporter = StandIn()
    with _link(reporter, tmp_path) as link:
        for epoch in (1, 2, 3):
            assert _epoch(link, epoch)
        assert link.finish(RunStatus.SUCCEEDED, StopReason.COMPLETED)
        assert link.settle(timeout=10)
    writes = reporter.writes()
    # An older checkpoint still waiting when a newer one arrives is skipped; never the last.
    assert [w.rsplit(" ", 1)[0] for w in writes] == ["epoch 1", "epoch 2", "epoch 3", "finish"]
    assert writes[2:] == ["epoch 3 ck3", "finish succeeded"]
    assert all(w.endswith((f"ck{n}", "-")) for n, w in enumerate(writes[:2], 1))
    assert list(tmp_path.iterdir()) == []  # the outbox folder is gone with the link


def test_an_outage_keeps_the_writes_and_only_the_latest_checkpoint(tmp_path: Path) -> None:
    """While the database is away nothing is lost, training is told the run is still held, and
    the backlog is sent in order with only the newest checkpoint file."""
    reporter = StandIn()
    reporter.down.set()
    with _link(reporter, tmp_path, interval=0.1, backoff_most=0.2) as link:
        for epoch in (1, 2, 3):
            assert _epoch(link, epoch)
        time.sleep(0.5)
        assert link.heartbeat().held and reporter.writes() == []
        assert not link.settle(timeout=0.2)
        reporter.down.clear()
        assert link.settle(timeout=10)
    assert reporter.writes() == ["epoch 1 -", "epoch 2 -", "epoch 3 ck3"]
    assert reporter.calls[0] == "beat"  # after the outage: first ask whether the run is ours


def test_heartbeats_go_on_while_a_long_backlog_is_written(tmp_path: Path) -> None:
    """A backlog that takes longer than the heartbeat interval is interleaved with heartbeats."""
    reporter = StandIn(write_seconds=0.15)
    reporter.down.set()
    with _link(reporter, tmp_path, interval=0.2, backoff_most=0.1) as link:
        for epoch in range(1, 9):
            assert _epoch(link, epoch)
        reporter.down.clear()
        assert link.settle(timeout=20)
    first, last = reporter.calls.index("epoch 1 -"), reporter.calls.index("epoch 8 ck8")
    assert reporter.calls[first:last].count("beat") >= 2


def test_a_lease_taken_over_during_the_outage_drops_the_writes(tmp_path: Path) -> None:
    """Back from an outage to a lost lease: nothing is written, training is told to stop."""
    reporter = StandIn()
    reporter.down.set()
    with _link(reporter, tmp_path, interval=0.1, backoff_most=0.1) as link:
        assert _epoch(link, 1)
        reporter.held = False
        reporter.down.clear()
        assert not link.settle(timeout=10)
        assert link.lost and not link.heartbeat().held
        assert not _epoch(link, 2)
        assert len(link.outbox) == 0
    assert reporter.writes() == []


def test_a_write_that_cannot_succeed_gives_the_run_up(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A non-transient error (a bug, a constraint) is logged once and ends the run here."""
    reporter = StandIn()
    with _link(reporter, tmp_path) as link:
        assert link.settle(timeout=10)
        reporter.error = IntegrityError("INSERT", {}, ValueError("duplicate"))
        assert _epoch(link, 1)
        assert not link.settle(timeout=10) and link.lost
    assert "writing it failed: IntegrityError" in caplog.text


def test_outboxes_of_dead_workers_on_this_host_are_removed(tmp_path: Path) -> None:
    """A killed worker's spool folder goes; a live one's, or another host's, stays."""
    import socket
    import subprocess
    import sys

    from trainer.link import outbox_name, remove_stale_outboxes

    finished = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    dead = tmp_path / f"run-3-a1-{socket.gethostname()}-{int(finished.stdout)}"
    alive = tmp_path / outbox_name(4, 2)
    elsewhere = tmp_path / "run-5-a1-another-host-1"
    for folder in (dead, alive, elsewhere):
        folder.mkdir()
    assert remove_stale_outboxes(tmp_path) == [dead]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([alive.name, elsewhere.name])
