"""The CLI end to end in subprocesses: queue two configs, run a worker, list, predict."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from settings import PROJECT_ROOT

pytestmark = pytest.mark.slow


def _cli(
    *args: str, url: str, timeout: float = 60, **variables: str
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": url, "TF_CPP_MIN_LOG_LEVEL": "3", **variables}
    return subprocess.run(
        [sys.executable, "-m", *args],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_queue_work_list_and_predict(tmp_path: Path, tiny_sample: Path) -> None:
    """Two queued configs train in a worker subprocess; runs and predict report them."""
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    assert _cli("db", "upgrade", url=url).returncode == 0
    ids = []
    for optimizer in ("sgd", "rmsprop"):
        config = tmp_path / f"{optimizer}.yaml"
        config.write_text(
            f"name: cli-{optimizer}\ndataset: {tiny_sample}\nimage_size: 106\n"
            f"optimizer: {optimizer}\nbatch_size: 8\nepochs: 2\n"
        )
        queued = _cli("trainer", "queue", str(config), url=url)
        assert queued.returncode == 0, queued.stderr
        ids.append(int(queued.stdout.strip()))
    cache = str(tmp_path / "cache")  # not the checkout's var/cache
    worker = _cli("trainer", "worker", "--until-idle", url=url, timeout=300, LAB_CACHE_DIR=cache)
    assert worker.returncode == 0, worker.stderr[-2000:]
    assert "2 run(s) finished" in worker.stdout

    runs = json.loads(_cli("trainer", "runs", "--json", url=url).stdout)
    assert {(r["id"], r["status"], r["epochs_done"]) for r in runs} == {
        (ids[0], "succeeded", 2),
        (ids[1], "succeeded", 2),
    }
    image = next((tiny_sample / "shine").iterdir())
    predicted = _cli("trainer", "predict", str(ids[0]), str(image), url=url)
    assert predicted.returncode == 0, predicted.stderr
    line = predicted.stdout.strip()
    assert line.startswith(str(image)) and all(c in line for c in ("cloudy", "rain", "shine"))


def test_invalid_config_file_is_refused_with_the_field(
    tmp_path: Path, sqlite_database_url: str
) -> None:
    """A bad value exits 2 naming the field, and nothing is queued."""
    config = tmp_path / "bad.yaml"
    config.write_text("name: bad\nbatch_size: 0\n")
    result = _cli("trainer", "queue", str(config), url=sqlite_database_url)
    assert result.returncode == 2 and "batch_size" in result.stderr
    assert json.loads(_cli("trainer", "runs", "--json", url=sqlite_database_url).stdout) == []


def test_unmigrated_database_names_the_upgrade_command(tmp_path: Path) -> None:
    """A worker on an empty database refuses to start and says what to run."""
    result = _cli("trainer", "worker", "--until-idle", url=f"sqlite:///{tmp_path / 'new.db'}")
    assert result.returncode == 2 and "python -m db upgrade" in result.stderr


def test_a_bad_memory_setting_is_a_one_line_error() -> None:
    """LAB_DATA_MEMORY=lots stops any command with status 2 and a line naming the variable."""
    result = _cli("trainer", "runs", url="sqlite:///unused.db", LAB_DATA_MEMORY="lots")
    assert result.returncode == 2
    assert result.stderr.startswith("error: LAB_DATA_MEMORY: 'lots' is neither a size")


def test_models_lists_parameter_counts() -> None:
    """`models` prints the report CNN's 162,276 parameters at 224 px and 4 classes."""
    result = _cli("trainer", "models", url="sqlite:///unused.db")
    assert result.returncode == 0 and "162,276" in result.stdout and "resnet20" in result.stdout


def test_models_lists_named_backbones_with_their_counts_and_minimums() -> None:
    """Named architectures: total, trainable, frozen-head counts, layers; Inception at its 75 px."""
    result = _cli(
        "trainer",
        "models",
        "vgg16",
        "inception_v3",
        "--image-size",
        "32",
        "--classes",
        "3",
        url="sqlite:///unused.db",
    )
    assert result.returncode == 0, result.stderr
    vgg, inception = (line.split() for line in result.stdout.splitlines()[2:])
    # VGG16 without its top: 14,714,688 (Keras's documentation), plus 512 * 3 + 3 in the head.
    assert vgg[:6] == ["vgg16", "32", "14,716,227", "14,716,227", "1,539", "19"]
    assert inception[:2] == ["inception_v3", "75"] and "built at its minimum, 75 px" in " ".join(
        inception
    )
    rows = _cli("trainer", "models", "resnet20", "--json", url="sqlite:///unused.db").stdout
    # ResNet-20 has 274,442 parameters with 10 classes; 4 classes drop 6 x 65 from its Dense.
    assert json.loads(rows)["total_params"] == 274_442 - 6 * 65
    unknown = _cli("trainer", "models", "resnet5", url="sqlite:///unused.db")
    assert unknown.returncode == 2 and "unknown architecture 'resnet5'" in unknown.stderr


def test_the_report_preset_takes_the_backbones_comparison(sqlite_database_url: str) -> None:
    """`--with backbones` adds two ImageNet backbone runs to the report's study (dry run)."""
    result = _cli(
        "trainer", "queue", "--preset", "report", "--with", "backbones", "--dry-run",
        url=sqlite_database_url,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stderr.startswith("10 run(s)")
    assert "architecture=mobilenet_v2" in result.stderr and "weights=imagenet" in result.stderr
    alone = _cli("trainer", "queue", "--with", "backbones", url=sqlite_database_url)
    assert alone.returncode == 2 and "--with adds to --preset report" in alone.stderr


def test_predict_with_unknown_run_is_an_error(sqlite_database_url: str, tmp_path: Path) -> None:
    """Predicting with a run that does not exist exits 2 with one line."""
    result = _cli("trainer", "predict", "42", str(tmp_path / "x.jpg"), url=sqlite_database_url)
    assert result.returncode == 2 and "no run 42" in result.stderr
