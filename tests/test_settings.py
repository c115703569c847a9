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


def test_the_script_spool_is_per_user_unless_set(tmp_path: Path) -> None:
    """Scripts spool in the user's cache (XDG_CACHE_HOME or ~/.cache) whatever the project's
    var dir, and LAB_SCRIPT_SPOOL_DIR moves it."""
    env = {"LAB_VAR_DIR": str(tmp_path / "var"), "HOME": str(tmp_path / "home")}
    default = Settings.from_env({**env, "XDG_CACHE_HOME": str(tmp_path / "cache")})
    assert default.script_spool == tmp_path / "cache" / "weather-lab" / "spool"
    home = Settings.from_env(env)
    assert home.script_spool == Path.home() / ".cache" / "weather-lab" / "spool"
    moved = Settings.from_env({**env, "LAB_SCRIPT_SPOOL_DIR": str(tmp_path / "spool")})
    assert moved.script_spool == tmp_path / "spool"
    assert moved.spool == tmp_path / "var" / "spool"  # the workers' spool is its own
