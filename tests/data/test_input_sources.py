"""Where each pass takes its images from: memory, decoded files on disk, or the image files."""

from __future__ import annotations

import fcntl
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from data.augment import AugmentSpec
from data.decoded import DecodedImages, remove_abandoned
from data.loader import Split, make_dataset, scan_dataset, stratified_split

AUGMENT = AugmentSpec(rotation_range=10, horizontal_flip=True, brightness_range=(0.5, 1.5))


def _passes(dataset: tf.data.Dataset, batches: int) -> list[tuple[np.ndarray, np.ndarray]]:
    return list(dataset.take(batches).as_numpy_iterator())


def _epochs(dataset: tf.data.Dataset, count: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """``count`` passes, each from a new iterator, as Keras runs epochs."""
    return [batch for _ in range(count) for batch in dataset.as_numpy_iterator()]


def _same(first: list, second: list) -> bool:
    return len(first) == len(second) and all(
        np.array_equal(a_images, b_images) and np.array_equal(a_labels, b_labels)
        for (a_images, a_labels), (b_images, b_labels) in zip(first, second, strict=True)
    )


@pytest.fixture
def splits(tiny_sample: Path, tmp_path: Path) -> Iterator[dict[str, Split]]:
    """The training split as image files, and as decoded files written for 16 px."""
    train, _ = stratified_split(scan_dataset(tiny_sample), 0.25, seed=0)
    decoded = DecodedImages.create(tmp_path / "decoded")
    files = decoded.write(train.files, 16, part="train")
    yield {"memory": train, "stream": train, "disk": Split(files, train.labels)}
    decoded.close()


@pytest.mark.parametrize(
    "options",
    [
        {"training": True, "augment": AUGMENT, "steps": 5},
        {"training": True},
        {"training": False},
    ],
    ids=["augmented-with-steps", "shuffled", "validation"],
)
def test_every_source_gives_the_same_batches(splits: dict[str, Split], options: dict) -> None:
    """Same images, labels and order for a seed, epoch after epoch, from all three sources."""
    batches = {}
    for source in ("memory", "disk", "stream"):
        dataset = make_dataset(
            splits[source], image_size=16, batch_size=4, seed=7, source=source, **options
        )
        batches[source] = _passes(dataset, 10) if options.get("steps") else _epochs(dataset, 2)
    assert _same(batches["memory"], batches["disk"])
    assert _same(batches["memory"], batches["stream"])
    first_pass = batches["memory"][: len(batches["memory"]) // 2]
    if options.get("training") and not options.get("steps"):
        # The shuffle differs between epochs, and the sources agree on that too.
        assert not _same(first_pass, batches["memory"][len(first_pass) :])


def test_a_filled_cache_needs_the_files_no_more(tiny_sample: Path, tmp_path: Path) -> None:
    """With a progress hook the memory cache is filled at once, reporting as it goes."""
    copy = tmp_path / "copy"
    shutil.copytree(tiny_sample, copy)
    index = scan_dataset(copy)
    split = Split(index.files, index.labels)
    calls: list[tuple[int, int]] = []
    dataset = make_dataset(
        split,
        image_size=8,
        batch_size=5,
        training=True,
        seed=0,
        progress=lambda *a: calls.append(a),
    )
    shutil.rmtree(copy)
    assert calls[-1] == (24, 24)
    assert sorted(label for _, labels in _epochs(dataset, 1) for label in labels) == sorted(
        split.labels
    )


def test_an_unknown_source_is_refused(tiny_sample: Path) -> None:
    """A typo in the source is an error naming the three choices."""
    index = scan_dataset(tiny_sample)
    with pytest.raises(ValueError, match="memory, disk, stream"):
        make_dataset(
            Split(index.files, index.labels),
            image_size=8,
            batch_size=2,
            training=False,
            seed=0,
            source="ssd",
        )


def test_decoded_files_go_when_the_run_closes_them(tiny_sample: Path, tmp_path: Path) -> None:
    """close() removes the run's folder and its lock file."""
    index = scan_dataset(tiny_sample)
    decoded = DecodedImages.create(tmp_path / "decoded")
    decoded.write(index.files[:3], 8, part="train")
    assert len(list((decoded.folder / "train").iterdir())) == 3
    decoded.close()
    assert list((tmp_path / "decoded").iterdir()) == []


def test_folders_of_stopped_workers_are_removed_and_live_ones_kept(tmp_path: Path) -> None:
    """A folder whose lock nobody holds is removed; one whose lock is held stays."""
    for name in ("run-1-dead", "run-2-live"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "00000000.tensor").write_bytes(b"x")
        (tmp_path / f"{name}.lock").touch()
    with (tmp_path / "run-2-live.lock").open("rb") as held:
        fcntl.flock(held, fcntl.LOCK_EX)  # another open file: as if another process held it
        assert remove_abandoned(tmp_path) == 1
        assert sorted(p.name for p in tmp_path.iterdir()) == ["run-2-live", "run-2-live.lock"]
