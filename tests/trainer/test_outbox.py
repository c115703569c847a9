"""The outbox: records kept in order on disk, files bounded per slot, replay idempotent and
resumable after a crash; the outage helper's back-off and once-a-minute log line."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from trainer.outage import Outage
from trainer.outbox import Outbox, OutboxError, Record, replay


def _kinds(outbox: Outbox) -> list[str]:
    return [record.kind for record in outbox.pending()]


def test_records_come_back_in_order_after_reopening(tmp_path: Path) -> None:
    """Appended records, their data and files survive closing the outbox (a process exit)."""
    outbox = Outbox(tmp_path / "box")
    outbox.append("info", {"run": 1, "classes": ["a", "b"]})
    outbox.append("model", {"run": 1}, blob=b"weights")
    outbox.close()
    again = Outbox(tmp_path / "box")
    first, second = again.pending()
    assert (first.seq, first.kind, first.data) == (1, "info", {"run": 1, "classes": ["a", "b"]})
    assert second.kind == "model" and again.blob_path(second).read_bytes() == b"weights"


def test_a_torn_last_line_is_ignored_and_appending_goes_on(tmp_path: Path) -> None:
    """A crash mid-append leaves half a line: it never happened, and later appends still load."""
    outbox = Outbox(tmp_path / "box")
    outbox.append("epoch", {"epoch": 1})
    outbox.close()
    with (tmp_path / "box" / "journal.jsonl").open("a") as journal:
        journal.write('{"seq": 2, "kind": "ep')
    again = Outbox(tmp_path / "box")
    again.append("epoch", {"epoch": 2})
    again.close()
    assert [r.data["epoch"] for r in Outbox(tmp_path / "box").pending()] == [1, 2]


def test_only_the_latest_file_of_a_slot_is_kept(tmp_path: Path) -> None:
    """Three checkpoints while the database is away: one file on disk, three records."""
    outbox = Outbox(tmp_path / "box")
    for epoch in (1, 2, 3):
        scratch = outbox.scratch(".zip")
        scratch.write_bytes(f"checkpoint {epoch}".encode())
        outbox.append("epoch", {"epoch": epoch}, blob=scratch, slot="checkpoint")
    files = [r for r in outbox.pending() if outbox.blob_path(r) is not None]
    assert [r.data["epoch"] for r in files] == [3]
    assert len(list((tmp_path / "box" / "blobs").iterdir())) == 1
    assert [r.data["epoch"] for r in outbox.pending()] == [1, 2, 3]


def test_a_file_being_applied_stays_until_its_record_is_done(tmp_path: Path) -> None:
    """A checkpoint being uploaded when a newer one arrives is not deleted under the upload."""
    outbox = Outbox(tmp_path / "box")
    outbox.append("epoch", {"epoch": 1}, blob=b"one", slot="checkpoint")
    head = outbox.head()
    assert head is not None
    uploading = outbox.blob_path(head)
    outbox.append("epoch", {"epoch": 2}, blob=b"two", slot="checkpoint")
    assert uploading is not None and uploading.read_bytes() == b"one"
    outbox.failed(head)  # the upload failed: now the replaced file goes
    assert not uploading.exists()
    retry = outbox.head()
    assert retry is not None and outbox.blob_path(retry) is None  # epoch 1 replays without it


def test_replay_applies_in_order_and_resumes_where_it_failed(tmp_path: Path) -> None:
    """A failure stops the replay at that record; the next replay starts there, not before."""
    outbox = Outbox(tmp_path / "box")
    for n in range(1, 5):
        outbox.append("epoch", {"epoch": n})
    seen: list[int] = []

    def flaky(record: Record, _file: Path | None) -> bool:
        if record.data["epoch"] == 3 and 3 not in seen:
            seen.append(3)
            raise ConnectionError("cut")
        seen.append(record.data["epoch"])
        return True

    with pytest.raises(ConnectionError):
        replay(outbox, flaky)
    outbox.close()
    assert replay(Outbox(tmp_path / "box"), flaky) == (2, True)
    assert seen == [1, 2, 3, 3, 4]
    assert Outbox(tmp_path / "box").pending() == []


def test_a_refused_record_stops_the_replay_and_drop_forgets_everything(tmp_path: Path) -> None:
    """A fenced write the database refuses ends the replay; dropping removes records and files."""
    outbox = Outbox(tmp_path / "box")
    outbox.append("epoch", {"epoch": 1}, blob=b"ck", slot="checkpoint")
    outbox.append("finish", {})
    assert replay(outbox, lambda record, _file: False) == (0, False)
    assert outbox.drop() == 2
    assert outbox.pending() == [] and list((tmp_path / "box" / "blobs").iterdir()) == []
    outbox.close()
    assert Outbox(tmp_path / "box").pending() == []


def test_one_process_at_a_time(tmp_path: Path) -> None:
    """A second opener of the same folder is refused while the first holds it."""
    first = Outbox(tmp_path / "box")
    with pytest.raises(OutboxError, match="in use"):
        Outbox(tmp_path / "box")
    first.close()
    Outbox(tmp_path / "box").close()


def test_outage_backs_off_and_logs_once_a_minute(caplog: pytest.LogCaptureFixture) -> None:
    """Delays double up to the cap; a long outage logs once a minute, then once when it ends."""
    now = [0.0]
    outage = Outage(logging.getLogger("test.outage"), "run 1", clock=lambda: now[0])
    delays = []
    with caplog.at_level(logging.WARNING, "test.outage"):
        for _ in range(40):
            delays.append(outage.failed(ConnectionError("refused")))
            now[0] += delays[-1]
        assert outage.recovered() == pytest.approx(sum(delays[:-1]) + delays[-1])
    assert delays[:5] == [0.5, 1.0, 2.0, 4.0, 5.0] and max(delays) == 5.0
    lines = [r.getMessage() for r in caplog.records]
    # 187.5 s of failures: lines at 0, 62.5, 122.5 and 182.5 s, then the recovery.
    assert len(lines) == 5, lines
    assert all("database unreachable" in line for line in lines[:4])
    assert "for 62 s" in lines[1] and lines[-1] == "run 1: database back after 187.5 s"
    assert outage.recovered() is None  # not down any more: nothing to say
