"""A dataset folder to tf.data: scan it, split it by class, fingerprint it, feed Keras.

Two layouts are understood, the two the Multi-class Weather Dataset ships in: one folder per
class (``cloudy/cloudy1.jpg``) or one flat folder where the file name starts with the class
(``cloudy1.jpg``, ``sunrise12.jpg``).

The scan opens every image before training starts (``data.images.check_training_image``), so a
corrupt, unsupported or tiny file is skipped and reported up front instead of failing inside
tf.data in the middle of an epoch. With a ``FileCache`` (data/filecache.py) only files that are
new or changed since an earlier scan on this machine are opened; the verdicts and content hashes
of the others are read from the cache.
"""

from __future__ import annotations

import hashlib
import math
import os
import re
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import numpy as np
import PIL
import tensorflow as tf

from data.augment import AugmentSpec, augment_dataset
from data.decoded import read_decoded
from data.filecache import FileCache, FileFacts
from data.images import (
    CHECK_RULES_VERSION,
    IMAGE_EXTENSIONS,
    ImageError,
    ImageProblem,
    check_training_image,
    decode_image,
    load_image_for_prediction,
)

__all__ = [
    "SOURCES",
    "DatasetError",
    "DatasetIndex",
    "ScanReport",
    "SkippedImage",
    "Split",
    "batches_per_epoch",
    "checker_version",
    "decode_image",
    "fingerprint",
    "load_image_for_prediction",
    "make_dataset",
    "scan_dataset",
    "stratified_split",
]

# "cloudy12.jpg" -> "cloudy", "Rain_7.png" -> "Rain": leading letters, then digits.
_FLAT_NAME = re.compile(r"^([A-Za-z]+)[ _.(-]*\d")
_CHUNK = 1 << 20
# Pillow and TensorFlow both decode outside the GIL, so threads verify in parallel.
_VERIFY_THREADS = min(8, os.cpu_count() or 1)
# Where make_dataset's passes take their images from (see its docstring).
SOURCES = ("memory", "disk", "stream")
# Files checked between two progress calls and cache writes: a killed worker keeps the work of
# every finished batch, and a caller heartbeating from the progress call does so every few s.
_BATCH_FILES = 256
_SHOWN = 5  # files named per warning line or error message


class DatasetError(ValueError):
    """A dataset folder the trainer cannot use; message names the path and the problem."""


class SkippedImage(NamedTuple):
    """An image file the scan left out of training, and why."""

    path: str  # absolute
    reason: str  # e.g. "truncated: the JPEG data ends early (...)"


@dataclass(frozen=True)
class ScanReport:
    """How a verifying scan went: what it could take from the file cache and what it opened.

    Attributes:
        images: image files found (usable or not).
        from_cache: of those, files whose verdict and hash came from the file cache.
        checked: files opened, checked and hashed in this scan.
        seconds: wall time of the whole scan, listing included.
        cache: the file cache used, or None.
    """

    images: int
    from_cache: int
    checked: int
    seconds: float
    cache: str | None = None

    def describe(self) -> str:
        """One line for the run's record, e.g. ``"1.2 s: 30,000 images, 29,998 from the file
        cache, 2 checked"``."""
        source = f", {self.from_cache:,} from the file cache" if self.cache else ", no file cache"
        return f"{self.seconds:.1f} s: {self.images:,} images{source}, {self.checked:,} checked"


@dataclass(frozen=True)
class DatasetIndex:
    """Every usable image of a dataset folder with its class, in a fixed order.

    The three tuples of ``SkippedImage`` stay empty when the scan did not verify the images.
    """

    root: str
    layout: str  # "folders" (one folder per class) or "flat" (cloudy12.jpg)
    class_names: tuple[str, ...]  # sorted
    files: tuple[str, ...]  # absolute paths, sorted
    labels: tuple[int, ...]  # index into class_names
    skipped: tuple[str, ...]  # files that were ignored: not images, or no class in the name
    corrupt: tuple[SkippedImage, ...] = ()  # unreadable, truncated, damaged, not an image
    unsupported: tuple[SkippedImage, ...] = ()  # real images TensorFlow would read wrongly
    too_small: tuple[SkippedImage, ...] = ()  # under 8 px a side
    # sha256 hex of each file's bytes, aligned with ``files``; empty when not verified.
    digests: tuple[str, ...] = field(default=(), repr=False)
    scan: ScanReport | None = field(default=None, compare=False)

    def warnings(self) -> list[str]:
        """One line per kind of left-out file, naming the first few, for the run's record.

        For example ``"skipped 2 corrupt image(s): rain/rain7.jpg (truncated: ...),
        rain/rain9.jpg (...)"``; an empty list when nothing was left out.
        """
        other = (
            "non-image file(s)"
            if self.layout == "folders"
            else "file(s) that are not images or name no class"
        )
        lines = [_listing(other, [self._relative(p) for p in self.skipped])]
        for label, items in (
            ("corrupt image(s)", self.corrupt),
            ("unsupported image(s)", self.unsupported),
            ("too small image(s)", self.too_small),
        ):
            lines.append(_listing(label, [f"{self._relative(p)} ({r})" for p, r in items]))
        return [line for line in lines if line]

    def _relative(self, path: str) -> str:
        return Path(path).relative_to(self.root).as_posix()


@dataclass(frozen=True)
class Split:
    """One side of a train/validation split."""

    files: tuple[str, ...]
    labels: tuple[int, ...]


def scan_dataset(
    path: str | Path,
    *,
    verify: bool = True,
    cache: FileCache | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> DatasetIndex:
    """List a dataset folder's images and classes, refusing folders that cannot be trained on.

    Args:
        path: the dataset folder.
        verify: open every image (format by content, size, complete data, and TensorFlow
            reading it as prediction would) and leave out the ones that fail, listed in the
            index's ``corrupt``, ``unsupported`` and ``too_small``; hash each file for
            ``fingerprint`` on the same read. Without it only names are looked at.
        cache: where earlier scans on this machine left each file's verdict and hash; files
            whose size and modification time are unchanged are not opened again, and what this
            scan learns is added. Files that no longer exist are dropped from it.
        progress: called as ``progress(done, total)`` while verifying, every few hundred files
            (a worker heartbeats from it). Whatever it raises stops the scan and propagates;
            the files checked so far stay in the cache.

    Raises:
        DatasetError: the path is missing or not a folder, holds no images (or no usable
            ones), has fewer than two classes, a class folder without images, a class whose
            images are all unusable, or a class with fewer than two usable images.
    """
    started = time.monotonic()
    root = Path(path).expanduser().resolve()
    if not root.exists():
        raise DatasetError(f"{root}: no such folder; check the dataset path")
    if not root.is_dir():
        raise DatasetError(f"{root}: not a folder; point to the folder that holds the images")
    entries = _visible(str(root))
    # One listing per folder: at 30,000 images, listing twice cost more than the file cache.
    folders = {entry.name: _visible(entry.path) for entry in entries if entry.is_dir}
    loose_images = [entry for entry in entries if entry.is_file and _is_image(entry.name)]
    if any(entry.is_file and _is_image(entry.name) for f in folders.values() for entry in f):
        if loose_images:
            raise DatasetError(
                f"{root}: has both class folders and loose images; move the images "
                "into class folders, or the folders out"
            )
        pairs, skipped = _scan_folders(root, entries, folders)
        layout = "folders"
    else:
        pairs, skipped = _scan_flat(root, entries)
        layout = "flat"
    if not verify:
        return _index(root, layout, pairs, skipped, {})
    images = [image for _, image in pairs]
    facts, from_cache = _check_images(str(root), images, cache, progress)
    report = ScanReport(
        images=len(images),
        from_cache=from_cache,
        checked=len(images) - from_cache,
        seconds=time.monotonic() - started,
        cache=str(cache.path) if cache is not None else None,
    )
    return _index(root, layout, pairs, skipped, facts, report)


def stratified_split(
    index: DatasetIndex, validation_split: float, seed: int
) -> tuple[Split, Split]:
    """Split into (train, validation) with every class on both sides, the same for a seed.

    Each class gives about ``validation_split`` of its images (at least one, never all) to
    validation; the per-class rounding is balanced so the overall fraction stays close.

    Raises:
        ValueError: if ``validation_split`` is not strictly between 0 and 1.
    """
    if not 0.0 < validation_split < 1.0:
        raise ValueError(f"validation_split must be between 0 and 1, got {validation_split}")
    labels = np.asarray(index.labels)
    members = [np.flatnonzero(labels == c) for c in range(len(index.class_names))]
    quotas = _validation_quotas([len(m) for m in members], validation_split)
    rng = np.random.default_rng(seed)
    chosen = [rng.permutation(m)[:quota] for m, quota in zip(members, quotas, strict=True)]
    in_validation = np.zeros(len(labels), dtype=bool)
    in_validation[np.concatenate(chosen)] = True
    # Positions in the index's own sorted order, so the result never depends on set order.
    return _subset(index, ~in_validation), _subset(index, in_validation)


def fingerprint(index: DatasetIndex) -> str:
    """Hash the dataset's relative paths and each file's sha256 (sha256 hex).

    Two runs with the same fingerprint trained on the same bytes under the same names,
    wherever the folder lives. A verifying scan hashed every file already (or found the hash
    in the file cache); otherwise the files are read here, in chunks.
    """
    digests = index.digests or tuple(_file_sha256(Path(name)) for name in index.files)
    digest = hashlib.sha256()
    for name, file_digest in zip(index.files, digests, strict=True):
        relative = _relative(index.root, name).encode()
        # The length prefix keeps (name, content) boundaries unambiguous.
        digest.update(len(relative).to_bytes(8, "big") + relative)
        digest.update(bytes.fromhex(file_digest))
    return digest.hexdigest()


def checker_version() -> str:
    """Names the rules that judge a file: ours, and the decoders whose reading they compare.

    A verdict in the file cache under another version is not trusted.
    """
    return f"rules{CHECK_RULES_VERSION}:tf{tf.__version__}:pillow{PIL.__version__}"


def make_dataset(
    split: Split,
    *,
    image_size: int,
    batch_size: int,
    training: bool,
    seed: int,
    augment: AugmentSpec | None = None,
    steps: int | None = None,
    source: str = "memory",
    progress: Callable[[int, int], None] | None = None,
) -> tf.data.Dataset:
    """Build the input pipeline of (float32 pixels in [0, 255], int32 labels) batches.

    In the tf.data guide's order: decode and resize per file, cache the uint8 images in
    memory, shuffle (training only), batch, then cast and augment (training only) whole
    batches in parallel, and prefetch. Rescaling to [0, 1] is the model's first layer
    (trainer/train.py), so prediction needs no preprocessing of its own. With ``steps`` the
    data repeats, so Keras ``fit(steps_per_epoch=steps)`` may ask for more batches than one
    pass holds.

    Where each pass takes its images from is ``source`` (``data.memory.plan_input`` chooses):

    - ``"memory"``: decoded once into the in-memory cache.
    - ``"disk"``: ``split.files`` are decoded images that ``data.decoded.DecodedImages.write``
      wrote to local disk; each pass reads them back.
    - ``"stream"``: each pass decodes the image files again, in parallel.

    Only ``"memory"`` holds the images in memory: the others shuffle the file names and read
    after the shuffle, so memory stays at a few batches however large the split (a shuffle
    buffer of decoded images would hold the whole split, as the cache does). The shuffle sees
    the same number of elements with the same seed either way, so all three give the same
    batches.

    Args:
        split: the files and labels to serve.
        image_size: side of the square images the model takes.
        batch_size: images per batch.
        training: shuffle each pass and apply ``augment``; validation does neither.
        seed: shuffle seed.
        augment: the augmentation knobs (data/augment.py), applied per batch, reproducibly for
            ``seed`` even with a parallel map.
        steps: batches Keras will draw per epoch; any value makes the dataset repeat.
        source: ``"memory"``, ``"disk"`` or ``"stream"``, as above.
        progress: with ``"memory"``, fill the cache now rather than in the first batch, calling
            ``progress(done, total)`` every few hundred images (a worker heartbeats from it;
            whatever it raises propagates).
    """
    if not split.files:
        raise ValueError("cannot build a dataset from an empty split")
    if source not in SOURCES:
        raise ValueError(f"source must be one of {', '.join(SOURCES)}, got {source!r}")
    if batch_size < 1 or image_size < 1 or (steps is not None and steps < 1):
        raise ValueError(
            f"batch_size, image_size and steps must be positive, got {batch_size}, "
            f"{image_size}, {steps}"
        )
    files = tf.constant(split.files, dtype=tf.string)
    labels = tf.constant(split.labels, dtype=tf.int32)
    dataset = tf.data.Dataset.from_tensor_slices((files, labels))

    read = read_decoded if source == "disk" else decode_image

    def load(path: tf.Tensor, label: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        return read(path, image_size), label

    if source == "memory":
        dataset = dataset.map(load, num_parallel_calls=tf.data.AUTOTUNE).cache()
        if progress is not None:
            _fill(dataset, len(split.files), progress)
    if training:
        dataset = dataset.shuffle(len(split.files), seed=seed, reshuffle_each_iteration=True)
    if steps is not None:
        dataset = dataset.repeat()
    if source != "memory":
        dataset = dataset.map(load, num_parallel_calls=tf.data.AUTOTUNE)
    dataset = dataset.batch(batch_size)
    if training and augment is not None and not augment.is_identity:
        dataset = augment_dataset(dataset, augment, seed)  # casts to float32 itself
    else:
        dataset = dataset.map(_to_float, num_parallel_calls=tf.data.AUTOTUNE)
    return dataset.prefetch(tf.data.AUTOTUNE)


def batches_per_epoch(n: int, batch_size: int) -> int:
    """Batches in one pass over ``n`` images, the last one partial: Keras's default steps."""
    if n < 0 or batch_size < 1:
        raise ValueError(f"need n >= 0 and batch_size >= 1, got {n}, {batch_size}")
    return math.ceil(n / batch_size)


def _fill(cached: tf.data.Dataset, total: int, progress: Callable[[int, int], None]) -> None:
    """One pass over a cached dataset, so its cache is complete before training starts."""
    done = 0
    for _, labels in cached.batch(_BATCH_FILES):
        done += int(labels.shape[0])
        progress(done, total)


def _to_float(images: tf.Tensor, labels: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    return tf.cast(images, tf.float32), labels


class _Entry(NamedTuple):
    """A folder entry as the scan needs it: plain strings, file type from the listing itself."""

    name: str
    path: str  # absolute
    is_dir: bool
    is_file: bool


def _visible(folder: str) -> list[_Entry]:
    """Entries of ``folder`` by name, without hidden ones (.DS_Store, .git, our manifests)."""
    # os.scandir gives each entry's type without a stat call, and strings sort far faster
    # than Path objects: listing 30,000 files took 4.3 s with Path objects, 0.3 s like this
    # (on a busy 2-core machine), against a 2 s target for the whole cached preparation.
    with os.scandir(folder) as listing:
        return sorted(
            _Entry(entry.name, entry.path, entry.is_dir(), entry.is_file())
            for entry in listing
            if not entry.name.startswith(".")
        )


def _is_image(name: str) -> bool:
    return os.path.splitext(name)[1].lower() in IMAGE_EXTENSIONS


def _scan_folders(
    root: Path, entries: list[_Entry], folders: dict[str, list[_Entry]]
) -> tuple[list[tuple[str, str]], list[str]]:
    pairs: list[tuple[str, str]] = []
    skipped = [entry.path for entry in entries if entry.is_file]
    for name, listing in folders.items():
        images: list[str] = []
        for entry in listing:
            if entry.is_file:
                (images if _is_image(entry.name) else skipped).append(entry.path)
        if not images:
            raise DatasetError(
                f"{root}: class folder '{name}' has no images; add images to it or remove it"
            )
        pairs.extend((name, image) for image in images)
    return pairs, skipped


def _scan_flat(root: Path, entries: list[_Entry]) -> tuple[list[tuple[str, str]], list[str]]:
    pairs: list[tuple[str, str]] = []
    skipped: list[str] = []
    for entry in entries:
        if not entry.is_file:
            continue
        match = _FLAT_NAME.match(entry.name)
        if _is_image(entry.name) and match:
            pairs.append((match.group(1).lower(), entry.path))
        else:
            skipped.append(entry.path)
    if not pairs and any(_is_image(path) for path in skipped):
        raise DatasetError(
            f"{root}: no image name starts with a class (like cloudy12.jpg); rename the files "
            "or sort them into one folder per class"
        )
    if not pairs:
        raise DatasetError(
            f"{root}: no image files ({', '.join(sorted(IMAGE_EXTENSIONS))}) found at the top "
            "or one level down; use one folder per class, or a flat folder of files named "
            "like cloudy12.jpg"
        )
    return pairs, skipped


def _check_images(
    root: str,
    images: Sequence[str],
    cache: FileCache | None,
    progress: Callable[[int, int], None] | None,
) -> tuple[dict[str, FileFacts], int]:
    """Every image's facts (verdict and hash), and how many of them came from ``cache``."""
    checker = checker_version()
    known = cache.facts_under(root) if cache is not None else {}
    facts: dict[str, FileFacts] = {}
    todo: list[str] = []
    for image in images:
        cached = known.get(image)
        if cached is not None and _unchanged(image, cached, checker):
            facts[image] = cached
        else:
            todo.append(image)
    from_cache = len(facts)
    if cache is not None:
        _forget_vanished(cache, known, images)
    if progress is not None:
        progress(from_cache, len(images))
    with ThreadPoolExecutor(max_workers=_VERIFY_THREADS) as pool:
        for start in range(0, len(todo), _BATCH_FILES):
            batch = todo[start : start + _BATCH_FILES]
            found = list(pool.map(lambda image: _check_file(root, image, checker), batch))
            facts.update(zip(batch, (fact for fact, _ in found), strict=True))
            if cache is not None:
                cache.store(fact for fact, keep in found if keep)
            if progress is not None:
                progress(from_cache + start + len(batch), len(images))
    return facts, from_cache


def _unchanged(path: str, facts: FileFacts, checker: str) -> bool:
    try:
        return facts.describes(os.stat(path), checker)
    except OSError:
        return False  # gone since the listing: _check_file says so


def _forget_vanished(cache: FileCache, known: dict[str, FileFacts], images: Sequence[str]) -> None:
    """Drop cached files under the root that this scan did not list and that no longer exist.

    Only missing files: a deeper folder may be another dataset with its own cached files.
    """
    listed = set(images)
    cache.forget(p for p in known if p not in listed and not os.path.exists(p))


def _check_file(root: str, path: str, checker: str) -> tuple[FileFacts, bool]:
    """Read, hash and check one file; the facts, and whether the cache may keep them.

    Kept only when the file did not change while it was read and was last written long
    enough ago for its timestamp to be trusted (``FileFacts.settled``).
    """
    name = _relative(root, path)
    try:
        before = os.stat(path)
        with open(path, "rb") as handle:
            data = handle.read()
        after = os.stat(path)
    except OSError as exc:
        reason = f"cannot read the file ({exc.strerror or exc})"
        return FileFacts(path, 0, 0, checker, "", ImageProblem.CORRUPT.value, reason), False
    facts = FileFacts(
        path, before.st_size, before.st_mtime_ns, checker, hashlib.sha256(data).hexdigest()
    )
    try:
        check_training_image(data, name)
    except ImageError as error:
        facts = facts._replace(problem=error.problem.value, reason=error.reason)
    steady = (before.st_size, before.st_mtime_ns) == (after.st_size, after.st_mtime_ns)
    return facts, steady and facts.settled()


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _relative(root: str, path: str) -> str:
    """``path`` relative to ``root`` with forward slashes (strings: Path.relative_to is slow)."""
    return path[len(root.rstrip(os.sep)) + 1 :].replace(os.sep, "/")


def _index(
    root: Path,
    layout: str,
    pairs: list[tuple[str, str]],
    skipped: list[str],
    facts: dict[str, FileFacts],
    report: ScanReport | None = None,
) -> DatasetIndex:
    problems = {
        path: ImageError(_relative(str(root), path), fact.reason or "", ImageProblem(fact.problem))
        for path, fact in facts.items()
        if fact.problem is not None
    }
    usable = [(name, path) for name, path in pairs if path not in problems]
    if not usable:
        raise DatasetError(
            f"{root}: none of its {len(pairs)} image(s) can be used "
            f"({_problem_counts(problems.values())}): {_examples(problems.values())}; "
            "replace them with readable JPEG, PNG, WebP, BMP or GIF images"
        )
    counts = Counter(name for name, _ in usable)
    lost = sorted({name for name, _ in pairs} - set(counts))
    if lost:
        errors = [problems[path] for name, path in pairs if name in lost]
        raise DatasetError(
            f"{root}: class(es) {', '.join(lost)} have no usable images: {_examples(errors)}; "
            "replace the files or remove the class"
        )
    class_names = tuple(sorted(counts))
    if len(class_names) < 2:
        raise DatasetError(
            f"{root}: found only the class '{class_names[0]}'; a classifier needs at least "
            "2 classes"
        )
    too_few = sorted(name for name, count in counts.items() if count < 2)
    if too_few:
        raise DatasetError(
            f"{root}: class(es) {', '.join(too_few)} have fewer than 2 usable images; each "
            "class needs at least 2 so it can appear in both training and validation"
        )
    label_of = {name: label for label, name in enumerate(class_names)}
    ordered = sorted((path, label_of[name]) for name, path in usable)
    return DatasetIndex(
        root=str(root),
        layout=layout,
        class_names=class_names,
        files=tuple(path for path, _ in ordered),
        labels=tuple(label for _, label in ordered),
        skipped=tuple(sorted(skipped)),
        corrupt=_skipped_images(problems, ImageProblem.CORRUPT),
        unsupported=_skipped_images(problems, ImageProblem.UNSUPPORTED),
        too_small=_skipped_images(problems, ImageProblem.TOO_SMALL),
        digests=tuple(facts[path].sha256 for path, _ in ordered) if facts else (),
        scan=report,
    )


def _skipped_images(
    problems: dict[str, ImageError], problem: ImageProblem
) -> tuple[SkippedImage, ...]:
    return tuple(
        sorted(
            SkippedImage(path, error.reason)
            for path, error in problems.items()
            if error.problem is problem
        )
    )


def _problem_counts(errors: Iterable[ImageError]) -> str:
    counts = Counter(error.problem for error in errors)
    return ", ".join(
        f"{counts[problem]} {problem.value.replace('_', ' ')}"
        for problem in ImageProblem
        if counts[problem]
    )


def _examples(errors: Iterable[ImageError]) -> str:
    """The first few errors, ordered by file name, as "a.jpg (truncated), ..."."""
    ordered = sorted(errors, key=lambda error: error.name)
    shown = ", ".join(f"{error.name} ({error.reason})" for error in ordered[:_SHOWN])
    more = len(ordered) - _SHOWN
    return f"{shown} and {more} more" if more > 0 else shown


def _listing(label: str, items: Sequence[str]) -> str:
    """``"skipped N <label>: a, b, c and 2 more"``, or "" for no items."""
    if not items:
        return ""
    more = len(items) - _SHOWN
    shown = ", ".join(items[:_SHOWN]) + (f" and {more} more" if more > 0 else "")
    return f"skipped {len(items)} {label}: {shown}"


def _validation_quotas(sizes: list[int], fraction: float) -> list[int]:
    """Validation images per class: largest-remainder rounding, then 1..n-1 per class."""
    ideal = [fraction * n for n in sizes]
    quotas = [math.floor(x) for x in ideal]
    missing = round(fraction * sum(sizes)) - sum(quotas)
    # Give the leftover images to the classes that lost the most in rounding down.
    by_remainder = sorted(range(len(sizes)), key=lambda c: (quotas[c] - ideal[c], c))
    for c in by_remainder[: max(0, missing)]:
        quotas[c] += 1
    return [min(max(q, 1), n - 1) for q, n in zip(quotas, sizes, strict=True)]


def _subset(index: DatasetIndex, mask: np.ndarray) -> Split:
    positions = np.flatnonzero(mask)
    return Split(
        files=tuple(index.files[i] for i in positions),
        labels=tuple(index.labels[i] for i in positions),
    )
