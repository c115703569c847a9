"""Decoded images on local disk, for runs whose decoded images do not fit the memory budget.

Decoding and resizing a photo costs about as much CPU as a small model's training step on it
(1.4 ms against 2 ms for the report CNN at 224 px on this project's CI machine), so decoding
every epoch made training 1.8x slower. Instead such a run decodes each image once, in parallel,
into a file of its own (a serialised uint8 tensor at the run's image size), and every epoch
reads those back: plain reads that the OS caches when it has room to, and that never count
against the worker's memory.

Each run writes into a folder of its own under the machine's cache dir, removed when the run
ends. A worker killed before it could remove its folder leaves it behind: each folder has a
lock file that its process holds (``flock``) for as long as it lives, and creating a folder
removes every folder whose lock nobody holds.
"""

from __future__ import annotations

import fcntl
import logging
import os
import secrets
import shutil
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import IO

import tensorflow as tf

from data.images import decode_image

__all__ = ["DecodedImages", "free_space", "read_decoded", "remove_abandoned"]

log = logging.getLogger("data.decoded")

_SUFFIX = ".tensor"
_LOCK = ".lock"
_BATCH = 256  # files written between two progress calls


class DecodedImages:
    """One run's folder of decoded images; removed by ``close`` (or when garbage collected)."""

    def __init__(self, folder: Path, lock: IO[bytes]) -> None:
        self.folder = folder
        self._lock = lock
        # The folder goes even when the run ends in an exception that skips close().
        self._finalizer = weakref.finalize(self, _remove, folder, lock)

    @classmethod
    def create(cls, parent: Path) -> DecodedImages:
        """A new, empty, locked folder under ``parent``; abandoned ones there are removed first.

        Raises:
            OSError: ``parent`` cannot be created or written.
        """
        parent.mkdir(parents=True, exist_ok=True)
        remove_abandoned(parent)
        while True:
            name = f"run-{os.getpid()}-{secrets.token_hex(4)}"
            # Lock first, then the folder: a cleaner never sees the folder with its lock free.
            lock_path = parent / f"{name}{_LOCK}"
            lock = lock_path.open("wb")
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            # A cleaner may have taken the lock between open and flock and deleted the file.
            if lock_path.exists() and os.stat(lock_path).st_ino == os.fstat(lock.fileno()).st_ino:
                break
            lock.close()
        folder = parent / name
        folder.mkdir()
        return cls(folder, lock)

    def write(
        self,
        files: tuple[str, ...],
        image_size: int,
        *,
        part: str,
        progress: Callable[[int, int], None] | None = None,
    ) -> tuple[str, ...]:
        """Decode ``files`` at ``image_size`` into this folder; the decoded files, in order.

        Decoding runs in parallel in tf.data, exactly as ``data.loader.make_dataset`` decodes,
        so a model sees the same pixels from these files as from memory.

        Args:
            files: image files to decode.
            image_size: side of the square images.
            part: subfolder name, one per split ("train", "validation").
            progress: called as ``progress(done, total)`` every few hundred files; whatever it
                raises stops the writing and propagates.
        """
        target = self.folder / part
        target.mkdir()
        outputs = tuple(str(target / f"{i:08d}{_SUFFIX}") for i in range(len(files)))

        def decode_and_write(path: tf.Tensor, output: tf.Tensor) -> tf.Tensor:
            image = decode_image(path, image_size)
            with tf.control_dependencies([tf.io.write_file(output, tf.io.serialize_tensor(image))]):
                return tf.identity(output)

        dataset = tf.data.Dataset.from_tensor_slices((list(files), list(outputs)))
        dataset = dataset.map(decode_and_write, num_parallel_calls=tf.data.AUTOTUNE)
        done = 0
        for batch in dataset.batch(_BATCH):
            done += int(batch.shape[0])
            if progress is not None:
                progress(done, len(files))
        return outputs

    def close(self) -> None:
        """Remove the folder and release its lock."""
        self._finalizer()


def read_decoded(path: tf.Tensor, image_size: int) -> tf.Tensor:
    """A file ``DecodedImages.write`` wrote, back as uint8 (S, S, 3), inside tf.data."""
    image = tf.io.parse_tensor(tf.io.read_file(path), tf.uint8)
    return tf.ensure_shape(image, (image_size, image_size, 3))


def remove_abandoned(parent: Path) -> int:
    """Remove the folders under ``parent`` whose process is gone; how many were removed."""
    removed = 0
    for lock_path in parent.glob(f"run-*{_LOCK}"):
        try:
            lock = lock_path.open("rb")
        except OSError:
            continue  # removed meanwhile by another cleaner
        with lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                continue  # its run is alive
            shutil.rmtree(parent / lock_path.name.removesuffix(_LOCK), ignore_errors=True)
            lock_path.unlink(missing_ok=True)
            removed += 1
    if removed:
        log.info(
            "removed %s decoded-image folder(s) left by stopped workers in %s", removed, parent
        )
    return removed


def free_space(path: Path) -> int | None:
    """Free bytes on the disk that holds ``path`` (or its nearest existing parent)."""
    for candidate in (path, *path.parents):
        if candidate.exists():
            try:
                return shutil.disk_usage(candidate).free
            except OSError:
                return None
    return None


def _remove(folder: Path, lock: IO[bytes]) -> None:
    shutil.rmtree(folder, ignore_errors=True)
    Path(f"{folder}{_LOCK}").unlink(missing_ok=True)
    lock.close()  # releases the flock
