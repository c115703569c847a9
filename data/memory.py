"""How much memory a worker may spend on decoded images, and where a run keeps them.

The fast pipeline keeps every training and validation image decoded in memory, as uint8 at the
run's image size: 30,000 images at 224 px are 4.5 GB, for each worker on the machine. When that
does not fit the budget, the run decodes each image once into a local file instead and reads
those back every epoch (``data/decoded.py``), when the cache dir's disk has room for them; else
it streams, decoding the image files again every epoch, in parallel. Either way its memory stays
at a few batches whatever the dataset's size, and all three give the same batches
(``data.loader.make_dataset``'s ``source``).

The budget is ``LAB_DATA_MEMORY``: a size per worker (``8GB``), or a share of the machine's
memory split between the workers running on it (``50%``, the default), and never more than
80% of the memory available when the run starts. "The machine's memory" is the smaller of the
RAM and the container's (cgroup) limit.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "DEFAULT_SHARE",
    "InputPlan",
    "MemoryBudget",
    "MemorySetting",
    "MemorySettingError",
    "available_memory",
    "decoded_bytes",
    "format_bytes",
    "machine_memory",
    "memory_budget",
    "plan_input",
]

DEFAULT_SHARE = 0.5
# At most this share of the memory free when the run starts, whatever the setting says: other
# programs, and the model and TensorFlow themselves, need the rest.
AVAILABLE_SHARE = 0.8
# Decoded files may fill at most this share of the free disk, leaving the rest to others.
DISK_SHARE = 0.5
# Measured growth of a worker's memory per cached image beyond its pixels (the tensor, its
# label, tf.data's bookkeeping; bench/dataset_scale.py), rounded up.
_PER_IMAGE_OVERHEAD = 1024
_UNITS = {
    "": 1,
    "b": 1,
    "k": 10**3,
    "kb": 10**3,
    "m": 10**6,
    "mb": 10**6,
    "g": 10**9,
    "gb": 10**9,
    "t": 10**12,
    "tb": 10**12,
    "kib": 2**10,
    "mib": 2**20,
    "gib": 2**30,
    "tib": 2**40,
}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*([a-z]*)\s*$", re.IGNORECASE)
_SHARE = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*%\s*$")
_CGROUP_V2 = Path("/sys/fs/cgroup")
_CGROUP_V1 = Path("/sys/fs/cgroup/memory")


class MemorySettingError(ValueError):
    """A memory setting that is neither a size nor a percentage; the message shows both forms."""


@dataclass(frozen=True)
class MemorySetting:
    """``LAB_DATA_MEMORY``: a fixed size per worker, or a share of the machine split by workers.

    Attributes:
        size: bytes per worker; None to use ``share``. 0 always streams.
        share: fraction of the machine's memory for all its workers together, in (0, 1].
    """

    size: int | None = None
    share: float = DEFAULT_SHARE

    @classmethod
    def parse(cls, text: str) -> MemorySetting:
        """Read ``"8GB"``, ``"512MiB"``, ``"0"`` (always stream) or ``"40%"``.

        Raises:
            MemorySettingError: anything else, or a share outside (0, 100]%.
        """
        share = _SHARE.match(text)
        if share:
            value = float(share.group(1))
            if not 0 < value <= 100:
                raise MemorySettingError(f"a share of memory must be in (0, 100]%, got {text!r}")
            return cls(share=value / 100)
        size = _SIZE.match(text)
        unit = size.group(2).lower() if size else ""
        if size is None or unit not in _UNITS:
            raise MemorySettingError(
                f"{text!r} is neither a size (8GB, 512MiB, 0 to always stream) nor a share of "
                "the machine's memory (50%)"
            )
        return cls(size=int(float(size.group(1)) * _UNITS[unit]))

    def describe(self) -> str:
        return format_bytes(self.size) if self.size is not None else f"{self.share:.0%}"


@dataclass(frozen=True)
class MemoryBudget:
    """Bytes a worker may give to decoded images, and how that number came about."""

    limit: int
    basis: str  # e.g. "50% of 23.6 GB / 2 workers on this machine"


@dataclass(frozen=True)
class InputPlan:
    """Where a run keeps its decoded images (``mode``), and why.

    Attributes:
        mode: ``"memory"``, ``"disk"`` (decoded once to local files) or ``"stream"`` (decoded
            from the image files every epoch): ``make_dataset``'s ``source``.
        needed: bytes the decoded images take.
        budget: the worker's memory budget.
        disk_free: free bytes where decoded files would go; None when there is no such place.
    """

    mode: str
    needed: int
    budget: MemoryBudget
    disk_free: int | None = None

    @property
    def in_memory(self) -> bool:
        return self.mode == "memory"

    def reason(self) -> str:
        """One sentence for the run's page, e.g. "decoded images need 4.5 GB, over the ..."."""
        need = f"decoded images need {format_bytes(self.needed)}"
        budget = f"the memory budget of {format_bytes(self.budget.limit)} ({self.budget.basis})"
        if self.mode == "memory":
            return f"{need}, within {budget}: decoded once, kept in memory"
        over = f"{need}, over {budget}"
        if self.mode == "disk":
            return (
                f"{over}: decoded once to local files ({format_bytes(self.disk_free or 0)} free "
                "on that disk), read back every epoch"
            )
        if self.disk_free is None:
            room = "no cache dir for decoded files (LAB_CACHE_DIR)"
        else:
            room = (
                f"too little free disk for decoded files ({format_bytes(self.disk_free)} free; "
                f"they may take {DISK_SHARE:.0%})"
            )
        return f"{over}, and {room}: decoded from the image files every epoch, in parallel"


def decoded_bytes(images: int, image_size: int) -> int:
    """Memory that ``images`` decoded uint8 RGB images of ``image_size`` px take in the cache."""
    return images * (image_size * image_size * 3 + _PER_IMAGE_OVERHEAD)


def plan_input(
    images: int, image_size: int, budget: MemoryBudget, *, disk_free: int | None = None
) -> InputPlan:
    """Memory when the decoded images fit ``budget``; else local files when they fit in
    ``DISK_SHARE`` of ``disk_free``; else streaming."""
    needed = decoded_bytes(images, image_size)
    if needed <= budget.limit:
        mode = "memory"
    elif disk_free is not None and needed <= disk_free * DISK_SHARE:
        mode = "disk"
    else:
        mode = "stream"
    return InputPlan(mode=mode, needed=needed, budget=budget, disk_free=disk_free)


def memory_budget(
    setting: MemorySetting,
    workers: int,
    *,
    total: int | None = None,
    available: int | None = None,
) -> MemoryBudget:
    """This worker's budget for decoded images.

    Args:
        setting: the size or share to give.
        workers: workers running on this machine, this one included (a share is split
            between them; a size is per worker already).
        total: the machine's memory; measured when None.
        available: memory free now; measured when None (not capped where unknown).
    """
    workers = max(1, workers)
    if setting.size is not None:
        limit, basis = setting.size, f"LAB_DATA_MEMORY={format_bytes(setting.size)} per worker"
    else:
        total = machine_memory() if total is None else total
        limit = int(total * setting.share / workers)
        per = f" / {workers} workers on this machine" if workers > 1 else ""
        basis = f"{setting.share:.0%} of {format_bytes(total)}{per}"
    available = available_memory() if available is None else available
    if available is not None and limit > available * AVAILABLE_SHARE:
        limit = int(available * AVAILABLE_SHARE)
        basis += f", capped at {AVAILABLE_SHARE:.0%} of the {format_bytes(available)} free now"
    return MemoryBudget(limit=limit, basis=basis)


def machine_memory() -> int:
    """Physical memory, or the container's memory limit when that is lower."""
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    limit = _cgroup_limit()
    return min(total, limit) if limit else total


def available_memory() -> int | None:
    """Memory that can be used now without swapping (Linux's MemAvailable, within the cgroup's
    limit); None where the system does not say."""
    free = _meminfo("MemAvailable")
    limit, usage = _cgroup_limit(), _cgroup_usage()
    if limit and usage is not None:
        room = max(0, limit - usage)
        free = room if free is None else min(free, room)
    return free


def format_bytes(count: int) -> str:
    """``4.5 GB``, ``512 MB``: decimal units, one decimal from GB up."""
    if count >= 10**9:
        return f"{count / 10**9:.1f} GB"
    if count >= 10**6:
        return f"{count / 10**6:.0f} MB"
    return f"{count / 10**3:.0f} kB" if count >= 10**3 else f"{count} bytes"


def _meminfo(key: str) -> int | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            name, _, value = line.partition(":")
            if name == key:
                return int(value.split()[0]) * 1024  # reported in kB
    except (OSError, ValueError, IndexError):
        return None
    return None


def _cgroup_limit() -> int | None:
    """The memory limit of this process's cgroup (v2, then v1), or None when unlimited."""
    for path in (_CGROUP_V2 / "memory.max", _CGROUP_V1 / "memory.limit_in_bytes"):
        value = _read_int(path)
        # v1 writes "no limit" as a number near 2**63; v2 writes "max" (None here).
        if value is not None and value < 2**60:
            return value
    return None


def _cgroup_usage() -> int | None:
    for path in (_CGROUP_V2 / "memory.current", _CGROUP_V1 / "memory.usage_in_bytes"):
        value = _read_int(path)
        if value is not None:
            return value
    return None


def _read_int(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None
