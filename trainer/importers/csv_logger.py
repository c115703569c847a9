"""Read a Keras `CSVLogger` file: an `epoch` column and any metric columns.

CSVLogger writes `epoch,accuracy,loss,val_accuracy,val_loss,...` with epochs from 0 (here
epochs count from 1), `NA` where a key was missing that epoch (left out here), `nan` for a
NaN (kept as None), and a vector metric as `"[0.1, 0.2]"` (one value per element,
`name[0]`, `name[1]`, as the worker records them). Its separator may be changed (`sep=`):
comma, semicolon, tab and `|` are recognised.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

from trainer.importers.runlog import LogError, RunLog

_SEPARATORS = ",;\t|"
_MISSING = {"", "na", "n/a"}


def read_csv_logger(path: Path) -> RunLog:
    """The file's epochs; LogError naming the file, line and column of anything unreadable."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise LogError(f"{path}: not a text file (a Keras CSVLogger file is UTF-8 text)") from None
    lines = text.splitlines()
    if not lines or not lines[0].strip():
        raise LogError(f"{path} is empty: a Keras CSVLogger file starts with a header line")
    reader = csv.reader(lines, delimiter=_separator(lines[0]))
    header = [name.strip() for name in next(reader)]
    if "epoch" not in header:
        shown = ", ".join(header[:8]) + (", ..." if len(header) > 8 else "")
        raise LogError(
            f"{path}: no `epoch` column (found: {shown}); a Keras CSVLogger file's header "
            "starts with epoch"
        )
    where = header.index("epoch")
    log = RunLog()
    repeated = 0
    for number, row in enumerate(reader, start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            raise LogError(
                f"{path}, line {number}: {len(row)} values for {len(header)} columns "
                "(a line cut short?)"
            )
        epoch = _epoch(path, number, row[where]) + 1
        values: dict[str, float | None] = {}
        for name, cell in zip(header, row, strict=True):
            if name != "epoch":
                values.update(_values(path, number, name, cell))
        repeated += epoch in log.epochs
        log.epochs[epoch] = values
    if not log.epochs:
        raise LogError(f"{path} has a header but no epochs")
    if repeated:
        log.notes.append(
            f"{repeated} epoch(s) appear twice (CSVLogger(append=True) after a restart?): "
            "the later line is kept"
        )
    return log


def _separator(header: str) -> str:
    counts = {sep: header.count(sep) for sep in _SEPARATORS}
    best = max(counts, key=lambda sep: counts[sep])
    return best if counts[best] else ","


def _epoch(path: Path, line: int, cell: str) -> int:
    try:
        number = float(cell)
    except ValueError:
        number = math.nan
    if not number.is_integer():
        raise LogError(f"{path}, line {line}: epoch {cell.strip()!r} is not a whole number")
    return int(number)


def _values(path: Path, line: int, name: str, cell: str) -> dict[str, float | None]:
    """One cell as {name: value}: nothing for NA, one entry per element for a vector."""
    text = cell.strip().strip('"').strip()  # CSVLogger quotes a vector inside its quoting
    if text.lower() in _MISSING:
        return {}
    if text.startswith("[") and text.endswith("]"):
        items = [item for item in text[1:-1].replace(",", " ").split() if item]
        return {f"{name}[{i}]": _number(path, line, name, item) for i, item in enumerate(items)}
    return {name: _number(path, line, name, text)}


def _number(path: Path, line: int, name: str, text: str) -> float | None:
    try:
        number = float(text)
    except ValueError:
        raise LogError(f"{path}, line {line}, column {name!r}: {text!r} is not a number") from None
    return number if math.isfinite(number) else None
