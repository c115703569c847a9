"""The dataset file cache: a second scan of an unchanged folder opens no image, changes are
re-checked alone, and several worker processes share one cache file."""

from __future__ import annotations

import multiprocessing
import os
import shutil
import sqlite3
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

import data.loader
from data.filecache import FileCache, FileCacheError, FileFacts
from data.loader import fingerprint, scan_dataset
from data.sample import generate

PER_CLASS = 60  # 240 images of 16 px: a few seconds to check, milliseconds from the cache


def _age(root: Path, seconds: float = 600) -> None:
    """Date every file back, as files copied in a while ago (fresh ones are not trusted)."""
    stamp = time.time() - seconds
    for path in root.rglob("*"):
        os.utime(path, (stamp, stamp))


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("pristine") / "weather"
    generate(root, size=16, per_class=PER_CLASS)
    return root


@pytest.fixture
def dataset(pristine: Path, tmp_path: Path) -> Path:
    """A private copy of a 240-image dataset whose files were written ten minutes ago."""
    root = tmp_path / "weather"
    shutil.copytree(pristine, root)
    _age(root)
    return root


@pytest.fixture
def checks(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the images the scan decodes to check, in the order it does."""
    checked: list[str] = []
    real = data.loader.check_training_image

    def counting(contents: bytes, name: str) -> None:
        checked.append(name)
        real(contents, name)

    monkeypatch.setattr(data.loader, "check_training_image", counting)
    return checked


def _replace_image(path: Path, seed: int) -> None:
    """New pixels under the same name, dated in the past but not as the old file was."""
    pixels = np.random.default_rng(seed).integers(0, 256, (16, 16, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path, "JPEG")
    _age_file(path, 300)


def _age_file(path: Path, seconds: float) -> None:
    stamp = time.time() - seconds
    os.utime(path, (stamp, stamp))


def test_second_scan_of_an_unchanged_folder_opens_no_image(
    dataset: Path, tmp_path: Path, checks: list[str]
) -> None:
    """The second scan takes every verdict and hash from the cache and gives the same index."""
    with FileCache.open(tmp_path / "cache.sqlite3") as cache:
        first = scan_dataset(dataset, cache=cache)
        assert len(checks) == 4 * PER_CLASS
        checks.clear()
        second = scan_dataset(dataset, cache=cache)
    assert checks == []
    assert second.scan is not None and second.scan.from_cache == 4 * PER_CLASS
    assert second == first and second.digests == first.digests
    assert fingerprint(second) == fingerprint(first) == fingerprint(scan_dataset(dataset))


def test_a_changed_file_is_rechecked_alone(
    dataset: Path, tmp_path: Path, checks: list[str]
) -> None:
    """New bytes under an old name are checked again, and change the fingerprint."""
    with FileCache.open(tmp_path / "cache.sqlite3") as cache:
        before = fingerprint(scan_dataset(dataset, cache=cache))
        _replace_image(dataset / "rain" / "rain0007.jpg", seed=1)
        checks.clear()
        after = scan_dataset(dataset, cache=cache)
    assert checks == ["rain/rain0007.jpg"]
    assert after.scan is not None and after.scan.from_cache == 4 * PER_CLASS - 1
    assert fingerprint(after) != before


def test_an_added_file_is_checked_alone(dataset: Path, tmp_path: Path, checks: list[str]) -> None:
    """A new image is checked; the others come from the cache."""
    with FileCache.open(tmp_path / "cache.sqlite3") as cache:
        scan_dataset(dataset, cache=cache)
        _replace_image(dataset / "shine" / "shine9999.jpg", seed=2)
        checks.clear()
        index = scan_dataset(dataset, cache=cache)
    assert checks == ["shine/shine9999.jpg"]
    assert len(index.files) == 4 * PER_CLASS + 1


def test_a_removed_file_is_forgotten_and_nothing_rechecked(
    dataset: Path, tmp_path: Path, checks: list[str]
) -> None:
    """Deleting an image checks nothing again and drops it from the cache."""
    with FileCache.open(tmp_path / "cache.sqlite3") as cache:
        scan_dataset(dataset, cache=cache)
        (dataset / "cloudy" / "cloudy0003.jpg").unlink()
        checks.clear()
        index = scan_dataset(dataset, cache=cache)
        assert cache.count() == 4 * PER_CLASS - 1
    assert checks == []
    assert str(dataset / "cloudy" / "cloudy0003.jpg") not in index.files


def test_a_corrupt_file_is_remembered_as_corrupt(
    dataset: Path, tmp_path: Path, checks: list[str]
) -> None:
    """A refused file is not decoded again either, and is still listed with its reason."""
    broken = dataset / "rain" / "rain0002.jpg"
    broken.write_bytes(broken.read_bytes()[:200])
    _age_file(broken, 300)
    with FileCache.open(tmp_path / "cache.sqlite3") as cache:
        first = scan_dataset(dataset, cache=cache)
        checks.clear()
        second = scan_dataset(dataset, cache=cache)
    assert checks == []
    assert [p for p, _ in second.corrupt] == [str(broken)]
    assert second.corrupt == first.corrupt and "JPEG" in second.corrupt[0].reason
    assert second.warnings() == first.warnings()


def test_a_file_written_just_now_is_not_trusted_yet(
    dataset: Path, tmp_path: Path, checks: list[str]
) -> None:
    """A file as new as the scan is checked again next time: its timestamp may not move yet."""
    fresh = dataset / "sunrise" / "sunrise0001.jpg"
    os.utime(fresh)  # now
    with FileCache.open(tmp_path / "cache.sqlite3") as cache:
        scan_dataset(dataset, cache=cache)
        checks.clear()
        scan_dataset(dataset, cache=cache)
    assert checks == ["sunrise/sunrise0001.jpg"]


def test_verdicts_of_other_rules_are_not_trusted(
    dataset: Path, tmp_path: Path, checks: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """After an upgrade of the checks (or of TensorFlow or Pillow) every file is checked again."""
    with FileCache.open(tmp_path / "cache.sqlite3") as cache:
        scan_dataset(dataset, cache=cache)
        monkeypatch.setattr(data.loader, "checker_version", lambda: "rules999:tf-next")
        checks.clear()
        scan_dataset(dataset, cache=cache)
    assert len(checks) == 4 * PER_CLASS


def test_a_damaged_cache_file_is_set_aside_and_replaced(tmp_path: Path) -> None:
    """A cache file that is not a database is renamed and a new one starts empty."""
    path = tmp_path / "cache.sqlite3"
    path.write_bytes(b"this is not a database at all" * 100)
    with FileCache.open(path) as cache:
        assert cache.count() == 0
        cache.store([FileFacts("/data/a.jpg", 1, 2, "rules", "ab" * 32)])
    assert [p.name.startswith("cache.sqlite3.damaged-") for p in tmp_path.iterdir()].count(True)


def test_an_unusable_cache_place_is_a_clear_error(tmp_path: Path) -> None:
    """A cache path under a file (not a folder) raises FileCacheError naming the path."""
    (tmp_path / "file").write_text("x")
    with pytest.raises(FileCacheError, match=r"dataset file cache .*file/cache\.sqlite3"):
        FileCache.open(tmp_path / "file" / "cache.sqlite3")


def _child(root: str, cache_path: str, worker: int, barrier: Any, results: Any) -> None:
    """Scan with the others at once, then write with the others at once."""
    with FileCache.open(Path(cache_path)) as cache:
        barrier.wait()
        index = scan_dataset(root, cache=cache)
        results.put(fingerprint(index))
        barrier.wait()
        for i in range(150):  # one transaction each: as much write contention as there can be
            cache.store([FileFacts(f"/data/w{worker}/{i}.jpg", i, i, "rules", f"{i:064x}")])


@pytest.mark.slow
def test_worker_processes_share_one_cache(dataset: Path, tmp_path: Path) -> None:
    """Three processes scanning at once, then writing at once, leave one sound cache."""
    cache_path = str(tmp_path / "cache.sqlite3")
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(3), context.Queue()
    children = [
        context.Process(target=_child, args=(str(dataset), cache_path, w, barrier, results))
        for w in range(3)
    ]
    for child in children:
        child.start()
    fingerprints = {results.get(timeout=120) for _ in children}
    for child in children:
        child.join(timeout=120)
    assert [child.exitcode for child in children] == [0, 0, 0]
    assert len(fingerprints) == 1
    with sqlite3.connect(cache_path) as connection:
        assert connection.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    with FileCache.open(Path(cache_path)) as cache:
        assert cache.count() == 4 * PER_CLASS + 3 * 150
        index = scan_dataset(dataset, cache=cache)
    assert index.scan is not None and index.scan.checked == 0
    assert {fingerprint(index)} == fingerprints
