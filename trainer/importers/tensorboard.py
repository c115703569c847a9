"""Read a TensorBoard run: every scalar of every event file, at full resolution.

TensorBoard's own `EventAccumulator` keeps a reservoir sample (10,000 points per tag by
default) and skips a truncated record silently, as it must for files still being written.
An import wants every point and a clear error instead, so this reads the records with
TensorFlow's TFRecord reader (which checks each record's CRC and length) and decodes them
with TensorBoard's protos: TF2 writes scalars as tensors with "scalars" plugin metadata,
TF1 as `simple_value` (TensorBoard's `data_compat` turns those into the TF2 form).

Names follow Keras's TensorBoard callback: `epoch_loss` is `loss` on the epoch axis (Keras
writes epoch n as step n - 1), `batch_loss` is `loss` on the step axis, files under
`validation/` give `val_` names (`evaluation_loss_vs_iterations` there is `val_loss` on the
step axis). Any other tag is a step-axis series of its own name.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from db.metrics import finite_or_none
from db.models import MetricAxis
from experiment.metrics import VALIDATION_PREFIX
from trainer.importers.runlog import LogError, RunLog, utc
from trainer.importers.sources import LogSource

_EVALUATION_TAG = re.compile(r"evaluation_(.+)_vs_iterations")
_HPARAMS_START = "_hparams_/session_start_info"
_RECORDS_PER_READ = 4096


@dataclass(frozen=True)
class _Point:
    axis: MetricAxis
    name: str
    position: int
    value: float | None
    wall_time: float


def read_tensorboard(source: LogSource) -> RunLog:
    """Every scalar of the run's event files; LogError for a truncated or corrupt file or a
    run without a single scalar."""
    points: list[_Point] = []
    config: dict[str, Any] = {}
    times: list[float] = []
    base = source.path
    for file in source.files:
        folder = file.parent.relative_to(base).as_posix() if file.parent != base else ""
        prefix = VALIDATION_PREFIX if folder == "validation" else ""
        plugins: dict[str, str] = {}  # TF2 writes a tag's metadata with its first value only
        for event in _events(file, base):
            times.append(event.wall_time)
            for value in event.summary.value:
                point = _point(value, event, prefix, plugins, config)
                if point is not None:
                    points.append(point)
    if not points:
        raise LogError(f"{base}: the event files hold no scalar values")
    log = _assemble(points)
    log.config = config
    log.started_at, log.finished_at = utc(min(times)), utc(max(times))
    return log


def _events(file: Path, base: Path) -> Iterator[Any]:
    """The file's events, in order; LogError naming the file and byte on a damaged record."""
    import tensorflow as tf
    from google.protobuf.message import DecodeError
    from tensorboard.compat.proto import event_pb2

    shown = file.relative_to(base.parent) if base.parent in file.parents else file
    dataset = tf.data.TFRecordDataset(str(file)).batch(_RECORDS_PER_READ)
    try:
        for batch in dataset:
            for record in batch.numpy():
                yield event_pb2.Event.FromString(record)
    except tf.errors.DataLossError as error:
        found = re.search(r"(truncated|corrupted) record at (\d+)", error.message)
        where = f"{found[1]} record at byte {found[2]}" if found else error.message.splitlines()[0]
        size = file.stat().st_size
        raise LogError(
            f"{shown}: damaged event file ({where} of {size}; was it still being written?)"
        ) from None
    except DecodeError as error:  # a sound TFRecord file of something else
        raise LogError(f"{shown}: not a TensorBoard event file ({error})") from None


def _point(
    value: Any, event: Any, prefix: str, plugins: dict[str, str], config: dict[str, Any]
) -> _Point | None:
    from tensorboard import data_compat
    from tensorboard.util import tensor_util

    value = data_compat.migrate_value(value)
    plugin = value.metadata.plugin_data.plugin_name or plugins.get(value.tag, "")
    if plugin:
        plugins.setdefault(value.tag, plugin)
    if plugin == "hparams":
        if value.tag == _HPARAMS_START:
            config.update(_hparams(value.metadata.plugin_data.content))
        return None
    if plugin not in ("", "scalars") or not value.HasField("tensor"):
        return None
    try:
        array = tensor_util.make_ndarray(value.tensor)
    except (TypeError, ValueError):
        return None
    if array.size != 1 or array.dtype.kind not in "biuf":
        return None
    axis, name, position = place(value.tag, prefix, int(event.step))
    number = finite_or_none(float(array.reshape(())))
    return _Point(axis, name, position, number, event.wall_time)


def place(tag: str, prefix: str, step: int) -> tuple[MetricAxis, str, int]:
    """Which series a tag's value at `step` belongs to: axis, lab name, epoch or step."""
    evaluation = _EVALUATION_TAG.fullmatch(tag)
    if evaluation is not None and prefix:
        return MetricAxis.STEP, VALIDATION_PREFIX + evaluation[1], step
    if tag.startswith("epoch_"):
        return MetricAxis.EPOCH, _prefixed(prefix, tag.removeprefix("epoch_")), step + 1
    if tag.startswith("batch_"):
        return MetricAxis.STEP, _prefixed(prefix, tag.removeprefix("batch_")), step
    return MetricAxis.STEP, _prefixed(prefix, tag), step


def _prefixed(prefix: str, name: str) -> str:
    return name if name.startswith(prefix) else prefix + name


def _hparams(content: bytes) -> dict[str, Any]:
    """The HParams plugin's session start: hyper-parameter name -> value."""
    from tensorboard.plugins.hparams import metadata

    try:
        start = metadata.parse_session_start_info_plugin_data(content)
    except Exception:  # an HParams summary we cannot read is not worth failing the run for
        return {}
    return {name: _plain(value) for name, value in sorted(start.hparams.items())}


def _plain(value: Any) -> Any:
    """A protobuf Value as JSON; whole numbers (HParams stores every number as a double)
    as ints, so `batch_size: 32` reads as it was written."""
    from google.protobuf.json_format import MessageToDict

    kind = value.WhichOneof("kind")
    if kind == "number_value":
        number = float(value.number_value)
        return int(number) if number.is_integer() and abs(number) < 2**53 else number
    if kind == "string_value":
        return str(value.string_value)
    if kind == "bool_value":
        return bool(value.bool_value)
    if kind is None or kind == "null_value":
        return None
    return MessageToDict(value)


def _assemble(points: list[_Point]) -> RunLog:
    """Points into epochs and steps; of two values at the same place the later one wins, as
    in TensorBoard after a restart."""
    log = RunLog()
    overwritten = 0
    for point in sorted(points, key=lambda p: p.wall_time):  # stable: file order among equals
        rows, times = (
            (log.epochs, log.epoch_times)
            if point.axis is MetricAxis.EPOCH
            else (log.steps, log.step_times)
        )
        row = rows.setdefault(point.position, {})
        overwritten += point.name in row
        row[point.name] = point.value
        stamp = utc(point.wall_time)
        if point.position not in times or times[point.position] < stamp:
            times[point.position] = stamp
    if overwritten:
        log.notes.append(
            f"{overwritten} value(s) were logged twice at the same epoch or step "
            "(a restarted run?): the later one is kept"
        )
    return log
