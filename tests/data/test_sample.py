"""The procedural weather dataset: counts, determinism, safe writes and the command line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from data.sample import CLASS_COUNTS, SampleError, generate, main, render

REPO = Path(__file__).resolve().parents[2]


def _contents(root: Path) -> dict[str, bytes]:
    return {
        path.relative_to(root).as_posix(): path.read_bytes() for path in sorted(root.rglob("*.jpg"))
    }


def _linear_accuracy(per_class: int, size: int) -> float:
    """Held-out accuracy of softmax regression on 8x8 thumbnails (numpy only)."""
    features, labels = [], []
    for label, name in enumerate(CLASS_COUNTS):
        for i in range(per_class):
            pixels = render(name, size, np.random.default_rng([0, label, i])) / 255.0
            thumb = pixels.reshape(8, size // 8, 8, size // 8, 3).mean(axis=(1, 3))
            features.append(thumb.ravel())
            labels.append(label)
    x, y = np.array(features), np.array(labels)
    order = np.random.default_rng(0).permutation(len(y))
    train, test = order[: int(0.7 * len(y))], order[int(0.7 * len(y)) :]
    mean, std = x[train].mean(0), x[train].std(0) + 1e-6
    a, b = (x[train] - mean) / std, (x[test] - mean) / std
    weights, bias, onehot = np.zeros((a.shape[1], 4)), np.zeros(4), np.eye(4)[y[train]]
    for _ in range(300):
        logits = a @ weights + bias
        p = np.exp(logits - logits.max(1, keepdims=True))
        grad = p / p.sum(1, keepdims=True) - onehot
        weights -= 0.1 * (a.T @ grad / len(a) + 1e-3 * weights)
        bias -= 0.1 * grad.mean(0)
    return float(((b @ weights + bias).argmax(1) == y[test]).mean())


def test_per_class_sets_every_class_count(tmp_path: Path) -> None:
    """--per-class N writes N images named <class>0001.jpg... in each class folder."""
    counts = generate(tmp_path / "out", size=16, per_class=3)
    assert counts == dict.fromkeys(CLASS_COUNTS, 3)
    assert sorted(p.name for p in (tmp_path / "out" / "rain").iterdir()) == [
        "rain0001.jpg",
        "rain0002.jpg",
        "rain0003.jpg",
    ]


def test_default_counts_are_the_real_datasets(tmp_path: Path) -> None:
    """Without --per-class the counts are cloudy 300, rain 215, shine 253, sunrise 357."""
    counts = generate(tmp_path / "out", size=16)
    assert counts == {"cloudy": 300, "rain": 215, "shine": 253, "sunrise": 357}
    for name, count in counts.items():
        assert len(list((tmp_path / "out" / name).glob("*.jpg"))) == count


def test_images_are_rgb_jpegs_of_the_requested_size(tmp_path: Path) -> None:
    """Every file is a size x size RGB JPEG."""
    generate(tmp_path / "out", size=24, per_class=2)
    for path in (tmp_path / "out").rglob("*.jpg"):
        with Image.open(path) as image:
            assert (image.format, image.mode, image.size) == ("JPEG", "RGB", (24, 24))


def test_same_seed_gives_identical_bytes(tmp_path: Path) -> None:
    """Two runs with the same arguments write byte-identical files."""
    generate(tmp_path / "a", size=32, per_class=4, seed=7)
    generate(tmp_path / "b", size=32, per_class=4, seed=7)
    assert _contents(tmp_path / "a") == _contents(tmp_path / "b")


def test_other_seed_gives_different_images(tmp_path: Path) -> None:
    """A different seed changes every image."""
    generate(tmp_path / "a", size=32, per_class=4, seed=0)
    generate(tmp_path / "b", size=32, per_class=4, seed=1)
    a, b = _contents(tmp_path / "a"), _contents(tmp_path / "b")
    assert a.keys() == b.keys()
    assert all(a[name] != b[name] for name in a)


def test_no_temporary_folder_is_left_beside_the_output(tmp_path: Path) -> None:
    """After a run the parent folder holds only the dataset, no staging folder."""
    generate(tmp_path / "out", size=16, per_class=2)
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_complete_set_is_left_untouched(tmp_path: Path) -> None:
    """Generating again with the same arguments rewrites nothing."""
    out = tmp_path / "out"
    generate(out, size=16, per_class=2)
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*")}
    generate(out, size=16, per_class=2)
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*")} == before


def test_other_folder_is_refused_without_force(tmp_path: Path) -> None:
    """An existing folder that is not this sample set is not overwritten."""
    out = tmp_path / "out"
    out.mkdir()
    (out / "mine.txt").write_text("keep me")
    with pytest.raises(SampleError, match="--force"):
        generate(out, size=16, per_class=2)
    assert (out / "mine.txt").read_text() == "keep me"


def test_force_replaces_an_existing_set(tmp_path: Path) -> None:
    """With force, a set made with other arguments is replaced as a whole."""
    out = tmp_path / "out"
    generate(out, size=16, per_class=3, seed=0)
    generate(out, size=16, per_class=2, seed=1, force=True)
    assert len(list(out.rglob("*.jpg"))) == 8
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_classes_are_learnable_but_not_trivial() -> None:
    """A linear model on 8x8 thumbnails beats chance clearly yet stays far from 100%."""
    assert 0.55 <= _linear_accuracy(per_class=40, size=32) <= 0.95


def test_cli_prints_one_summary_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """main() writes the set and prints one line naming the counts and the folder."""
    out = tmp_path / "out"
    assert main(["--out", str(out), "--size", "16", "--per-class", "2"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1
    assert "8 images" in lines[0] and str(out) in lines[0]


def test_cli_reports_an_existing_complete_set(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Running the same command twice says the set is already there and exits 0."""
    args = ["--out", str(tmp_path / "out"), "--size", "16", "--per-class", "2"]
    main(args)
    capsys.readouterr()
    assert main(args) == 0
    assert "already" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--size", "8"], "--size must be between 16 and 2048"),
        (["--size", "4096"], "--size must be between 16 and 2048"),
        (["--per-class", "0"], "--per-class must be at least 1"),
        (["--seed", "-1"], "--seed must be 0 or more"),
    ],
)
def test_cli_rejects_bad_arguments(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    """Out-of-range arguments exit non-zero with a one-line message and write nothing."""
    assert main(["--out", str(tmp_path / "out"), *args]) != 0
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


def test_cli_rejects_an_output_that_is_a_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--out naming an existing file exits non-zero and says it is not a folder."""
    target = tmp_path / "taken"
    target.write_text("x")
    assert main(["--out", str(target), "--per-class", "1"]) != 0
    assert "not a folder" in capsys.readouterr().err


def test_cli_reports_an_unwritable_output(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An --out whose parent is a file exits non-zero with one line, not a traceback."""
    (tmp_path / "file").write_text("x")
    assert main(["--out", str(tmp_path / "file" / "out"), "--per-class", "1"]) != 0
    err = capsys.readouterr().err
    assert "cannot write" in err and len(err.strip().splitlines()) == 1


def test_module_runs_with_python_dash_m(tmp_path: Path) -> None:
    """`python -m data.sample` works from the repository root."""
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "data.sample",
            "--out",
            str(tmp_path / "out"),
            "--size",
            "16",
            "--per-class",
            "1",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert len(list((tmp_path / "out").rglob("*.jpg"))) == 4
