"""Settings from the environment: the cache dir and the memory budget for decoded images."""

from __future__ import annotations

from pathlib import Path

import pytest

from data.memory import MemorySetting
from settings import Settings, SettingsError


def test_caches_default_to_the_var_dir(tmp_path: Path) -> None:
    """Without LAB_CACHE_DIR the file cache and decoded images live under var/cache."""
    settings = Settings.from_env({"LAB_VAR_DIR": str(tmp_path)})
    assert settings.cache_dir == tmp_path.resolve() / "cache"
    assert settings.dataset_cache == tmp_path.resolve() / "cache" / "dataset-files.sqlite3"
    assert settings.decoded_dir == tmp_path.resolve() / "cache" / "decoded"
    assert settings.data_memory == MemorySetting(share=0.5)


def test_cache_dir_and_memory_come_from_the_environment(tmp_path: Path) -> None:
    """LAB_CACHE_DIR moves both caches; LAB_DATA_MEMORY sets the budget."""
    settings = Settings.from_env(
        {"LAB_CACHE_DIR": str(tmp_path / "fast"), "LAB_DATA_MEMORY": "6GB"}
    )
    assert settings.dataset_cache == tmp_path / "fast" / "dataset-files.sqlite3"
    assert settings.data_memory == MemorySetting(size=6 * 10**9)


def test_caches_can_be_switched_off() -> None:
    """LAB_CACHE_DIR=off: no file cache and no decoded files."""
    settings = Settings.from_env({"LAB_CACHE_DIR": "off"})
    assert settings.dataset_cache is None and settings.decoded_dir is None


def test_a_bad_memory_setting_names_the_variable() -> None:
    """LAB_DATA_MEMORY=lots is refused with the variable's name and the accepted forms."""
    with pytest.raises(SettingsError, match=r"^LAB_DATA_MEMORY: 'lots' is neither a size"):
        Settings.from_env({"LAB_DATA_MEMORY": "lots"})
