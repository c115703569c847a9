"""Finding the runs under an imported path, and the content hash that recognises them again.

A run is a TensorBoard log folder (event files in it, or in Keras's `train/` and
`validation/` sub-folders, as `keras.callbacks.TensorBoard` writes them) or a CSV file
(`keras.callbacks.CSVLogger`). A path that is neither is searched: every run folder and CSV
file below it is one run, named by its path relative to the imported one.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from trainer.importers.runlog import LogError

# Keras's TensorBoard callback writes a run's training values under train/ and its
# validation values under validation/; the latter become `val_` names.
KERAS_FOLDERS = ("train", "validation")
_CHUNK = 1 << 20


class LogFormat(StrEnum):
    TENSORBOARD = "tensorboard"
    CSV = "csv"


@dataclass(frozen=True)
class LogSource:
    """One run to import: its folder (TensorBoard) or file (CSV) and the files it reads.

    `label` is the path relative to what the user named ("" when it is that path itself).
    """

    format: LogFormat
    path: Path
    files: tuple[Path, ...]
    label: str

    @property
    def default_name(self) -> str:
        """The run's name unless the user gives one: the label, or the folder or file name."""
        name = self.label or self.path.name
        return name.removesuffix(".csv") if self.format is LogFormat.CSV else name

    def content_hash(self) -> str:
        """sha256 over the format, each file's path within the run and its bytes: the same
        logs hash the same wherever they are copied."""
        digest = hashlib.sha256(self.format.value.encode())
        base = self.path if self.path.is_dir() else self.path.parent
        for file in self.files:
            digest.update(b"\0" + file.relative_to(base).as_posix().encode() + b"\0")
            with file.open("rb") as handle:
                while chunk := handle.read(_CHUNK):
                    digest.update(chunk)
        return digest.hexdigest()

    def size_bytes(self) -> int:
        return sum(file.stat().st_size for file in self.files)


def is_event_file(path: Path) -> bool:
    """TensorBoard's own test: `tfevents` in the file name (events.out.tfevents.*)."""
    return "tfevents" in path.name and path.is_file()


def is_csv_file(path: Path) -> bool:
    return path.suffix.lower() == ".csv" and path.is_file()


def find_sources(path: Path) -> list[LogSource]:
    """Every run under `path`, in path order; LogError when there is none."""
    if not path.exists():
        raise LogError(f"{path} does not exist")
    if path.is_file():
        if is_event_file(path):
            return [LogSource(LogFormat.TENSORBOARD, path.parent, (path,), "")]
        if is_csv_file(path):
            return [LogSource(LogFormat.CSV, path, (path,), "")]
        raise LogError(
            f"{path} is neither a TensorBoard event file (events.out.tfevents.*) nor a CSV file"
        )
    found: list[LogSource] = []
    _walk(path, path, found)
    if not found:
        raise LogError(
            f"{path} holds no TensorBoard event files (events.out.tfevents.*) and no CSV "
            "files, in it or in any folder below it"
        )
    return found


def _walk(folder: Path, top: Path, found: list[LogSource]) -> None:
    files = _run_files(folder)
    if files:
        found.append(LogSource(LogFormat.TENSORBOARD, folder, files, _label(folder, top)))
        return
    for child in sorted(folder.iterdir()):
        if child.is_dir() and not child.is_symlink():  # a link could loop back up the tree
            _walk(child, top, found)
        elif is_csv_file(child):
            found.append(LogSource(LogFormat.CSV, child, (child,), _label(child, top)))


def _run_files(folder: Path) -> tuple[Path, ...]:
    """The event files of a run folder: its own and those of Keras's sub-folders."""
    folders = [folder, *(folder / name for name in KERAS_FOLDERS)]
    files = [
        file
        for where in folders
        if where.is_dir()
        for file in where.iterdir()
        if is_event_file(file)
    ]
    return tuple(sorted(files))


def _label(path: Path, top: Path) -> str:
    return "" if path == top else path.relative_to(top).as_posix()
