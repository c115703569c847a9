"""The memory budget for decoded images and the choice between memory, disk and streaming."""

from __future__ import annotations

import pytest

from data.memory import (
    MemoryBudget,
    MemorySetting,
    MemorySettingError,
    decoded_bytes,
    memory_budget,
    plan_input,
)

GB = 10**9


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("8GB", MemorySetting(size=8 * GB)),
        ("512MiB", MemorySetting(size=512 * 2**20)),
        ("1.5 gb", MemorySetting(size=int(1.5 * GB))),
        ("0", MemorySetting(size=0)),
        ("40%", MemorySetting(share=0.4)),
        ("100 %", MemorySetting(share=1.0)),
    ],
)
def test_memory_setting_reads_sizes_and_shares(text: str, expected: MemorySetting) -> None:
    """Sizes take decimal and binary units; a percentage is a share of the machine."""
    assert MemorySetting.parse(text) == expected


@pytest.mark.parametrize("text", ["lots", "8 gigs", "-1GB", "0%", "150%", ""])
def test_memory_setting_refuses_anything_else_saying_what_it_takes(text: str) -> None:
    """A bad value names itself and shows both accepted forms (or the share's range)."""
    with pytest.raises(MemorySettingError, match=r"8GB|\(0, 100\]"):
        MemorySetting.parse(text)


def test_a_share_is_split_between_the_workers_of_the_machine() -> None:
    """50% of 32 GB with 4 workers running is 4 GB each, and the basis says so."""
    budget = memory_budget(MemorySetting(share=0.5), 4, total=32 * GB, available=30 * GB)
    assert budget.limit == 4 * GB
    assert budget.basis == "50% of 32.0 GB / 4 workers on this machine"


def test_a_size_is_per_worker_already() -> None:
    """LAB_DATA_MEMORY=3GB gives each worker 3 GB, however many there are."""
    budget = memory_budget(MemorySetting(size=3 * GB), 4, total=32 * GB, available=30 * GB)
    assert budget.limit == 3 * GB and "per worker" in budget.basis


def test_the_budget_never_exceeds_most_of_the_free_memory() -> None:
    """With 5 GB free, a 16 GB share is capped at 80% of what is free."""
    budget = memory_budget(MemorySetting(share=0.5), 1, total=32 * GB, available=5 * GB)
    assert budget.limit == 4 * GB
    assert "capped at 80% of the 5.0 GB free now" in budget.basis


def test_images_that_fit_stay_in_memory() -> None:
    """1,000 images at 64 px (12 MB) fit a 1 GB budget."""
    plan = plan_input(1000, 64, MemoryBudget(GB, "test"), disk_free=100 * GB)
    assert plan.mode == "memory" and plan.in_memory
    assert plan.needed == decoded_bytes(1000, 64) >= 1000 * 64 * 64 * 3
    assert "within the memory budget of 1.0 GB (test): decoded once, kept" in plan.reason()


def test_images_over_the_budget_go_to_disk_when_it_has_room() -> None:
    """30,000 images at 224 px (4.5 GB) over a 2 GB budget go to a disk with 100 GB free."""
    plan = plan_input(30_000, 224, MemoryBudget(2 * GB, "test"), disk_free=100 * GB)
    assert plan.mode == "disk" and not plan.in_memory
    assert plan.reason().startswith("decoded images need 4.5 GB, over the memory budget of 2.0 GB")
    assert "decoded once to local files (100.0 GB free" in plan.reason()


def test_images_stream_when_neither_memory_nor_disk_has_room() -> None:
    """With 6 GB of free disk (4.5 GB would be over half of it) the run streams."""
    plan = plan_input(30_000, 224, MemoryBudget(2 * GB, "test"), disk_free=6 * GB)
    assert plan.mode == "stream"
    assert "too little free disk for decoded files (6.0 GB free" in plan.reason()
    assert plan.reason().endswith("decoded from the image files every epoch, in parallel")


def test_images_stream_without_a_cache_dir() -> None:
    """No place for decoded files (LAB_CACHE_DIR=off) means streaming, and the reason says so."""
    plan = plan_input(30_000, 224, MemoryBudget(0, "LAB_DATA_MEMORY=0"), disk_free=None)
    assert plan.mode == "stream" and "no cache dir" in plan.reason()
