"""Datasets anyone may have uploaded: refused before training, or trained without the bad files.

Each problem is made here with Pillow (no binary fixtures); the scan must refuse the folder
with a message naming the problem, or skip the files and list them in ``index.warnings()``.
"""

from __future__ import annotations

from io import BytesIO
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from data.images import PIXEL_TOLERANCE, decode_image, load_image_for_prediction
from data.loader import DatasetError, SkippedImage, scan_dataset

ACCEPTED = "JPEG, PNG, WebP, BMP or GIF"


def _encode(image: Image.Image, fmt: str, **options: Any) -> bytes:
    buffer = BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def _photo(seed: int = 0, size: tuple[int, int] = (20, 14), mode: str = "RGB") -> Image.Image:
    pixels = np.random.default_rng(seed).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    return Image.fromarray(pixels).convert(mode)


def _jpeg(seed: int = 0) -> bytes:
    return _encode(_photo(seed), "JPEG", quality=90)


def _dataset(root: Path, files: dict[str, bytes]) -> Path:
    """Write {relative path: bytes} under root and return root."""
    for relative, data in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return root


def _healthy(root: Path, per_class: int = 3) -> Path:
    """A good two-class folder dataset: cloudy/ and rain/, JPEGs."""
    return _dataset(
        root,
        {
            f"{name}/{name}{i}.jpg": _jpeg(seed=10 * c + i)
            for c, name in enumerate(("cloudy", "rain"))
            for i in range(per_class)
        },
    )


def _truncated_jpeg() -> bytes:
    data = _encode(_photo(1, (64, 64)), "JPEG")
    return data[: len(data) // 2]


def _bad_crc_png() -> bytes:
    data = bytearray(_encode(_photo(2), "PNG"))
    idat = data.index(b"IDAT")
    data[idat + 4 + int.from_bytes(data[idat - 4 : idat], "big")] ^= 0xFF
    return bytes(data)


def _transparent_png() -> bytes:
    pixels = np.dstack([np.asarray(_photo(3)), np.full((14, 20), 255, np.uint8)])
    pixels[:, :5, 3] = 0
    return _encode(Image.fromarray(pixels, "RGBA"), "PNG")


def _exif_rotated_jpeg() -> bytes:
    exif = Image.Exif()
    exif[0x0112] = 6
    return _encode(_photo(4), "JPEG", exif=exif)


def _palette(size: tuple[int, int] = (20, 14)) -> Image.Image:
    return _photo(5, size).convert("P", palette=Image.Palette.ADAPTIVE, colors=16)


@pytest.fixture
def root_dir(tmp_path: Path) -> Path:
    """The dataset folder, resolved as scan_dataset resolves it (so messages compare equal)."""
    return tmp_path.resolve()


# ---- refused before training ----


def test_missing_folder_is_refused(root_dir: Path) -> None:
    """A dataset path that does not exist is named, with the fix."""
    with pytest.raises(DatasetError) as error:
        scan_dataset(root_dir / "weather")
    assert str(error.value) == f"{root_dir / 'weather'}: no such folder; check the dataset path"


def test_single_class_is_refused(root_dir: Path) -> None:
    """One class folder is not a classification problem."""
    _dataset(root_dir, {f"cloudy/c{i}.jpg": _jpeg(i) for i in range(3)})
    with pytest.raises(DatasetError, match="found only the class 'cloudy'; a classifier needs"):
        scan_dataset(root_dir)


def test_empty_class_folder_is_refused(root_dir: Path) -> None:
    """A class folder holding no image files is named."""
    _healthy(root_dir)
    _dataset(root_dir, {"fog/todo.txt": b"collect fog photos"})
    with pytest.raises(DatasetError, match="class folder 'fog' has no images"):
        scan_dataset(root_dir)


def test_class_whose_images_are_all_unusable_is_refused(root_dir: Path) -> None:
    """A class folder of broken files is refused and each file's problem listed."""
    _healthy(root_dir)
    _dataset(root_dir, {"fog/fog1.jpg": b"", "fog/fog2.jpg": _truncated_jpeg()})
    with pytest.raises(DatasetError) as error:
        scan_dataset(root_dir)
    message = str(error.value)
    assert message.startswith(
        f"{root_dir}: class(es) fog have no usable images: "
        "fog/fog1.jpg (the file is empty (0 bytes)), fog/fog2.jpg (truncated: the JPEG data ends"
    )
    assert message.endswith("; replace the files or remove the class")


def test_class_with_one_usable_image_is_refused(root_dir: Path) -> None:
    """Two files of which one is corrupt leave a class that cannot be split."""
    _healthy(root_dir)
    _dataset(root_dir, {"fog/fog1.jpg": _jpeg(40), "fog/fog2.jpg": b"not a jpeg"})
    with pytest.raises(DatasetError, match=r"class\(es\) fog have fewer than 2 usable images"):
        scan_dataset(root_dir)


def test_dataset_of_only_unusable_files_is_refused(root_dir: Path) -> None:
    """When no file at all can be used, the message counts the problems by kind."""
    _dataset(
        root_dir,
        {
            "cloudy1.jpg": _truncated_jpeg(),
            "cloudy2.png": _encode(Image.new("RGB", (4, 4)), "PNG"),
            "rain1.jpg": b"hello",
            "rain2.gif": _encode(_photo(), "TIFF"),
        },
    )
    with pytest.raises(DatasetError) as error:
        scan_dataset(root_dir)
    assert str(error.value).startswith(
        f"{root_dir}: none of its 4 image(s) can be used (2 corrupt, 1 unsupported, 1 too "
        "small): cloudy1.jpg (truncated: "
    )


# ---- trained without the bad files ----


def test_non_image_files_are_skipped_and_counted(root_dir: Path) -> None:
    """Text files beside the images are left out and counted in one warning line."""
    _healthy(root_dir)
    _dataset(root_dir, {"README.md": b"about", "rain/labels.csv": b"a,b"})
    index = scan_dataset(root_dir)
    assert len(index.files) == 6
    assert [Path(p).name for p in index.skipped] == ["README.md", "labels.csv"]
    assert index.warnings() == ["skipped 2 non-image file(s): README.md, rain/labels.csv"]


def test_corrupt_images_are_skipped_and_listed(root_dir: Path) -> None:
    """Empty, truncated, bad-CRC and not-really-image files are skipped, each with its reason."""
    _healthy(root_dir)
    _dataset(
        root_dir,
        {
            "rain/rain7.jpg": _truncated_jpeg(),
            "rain/rain8.png": _bad_crc_png(),
            "cloudy/empty.jpg": b"",
            "cloudy/notes.jpg": b"taken on a cloudy day\n",
        },
    )
    index = scan_dataset(root_dir)
    assert len(index.files) == 6 and not any("rain7" in f for f in index.files)
    reasons = {Path(path).relative_to(root_dir).as_posix(): r for path, r in index.corrupt}
    assert reasons["cloudy/empty.jpg"] == "the file is empty (0 bytes)"
    assert reasons["cloudy/notes.jpg"] == f"text, not a {ACCEPTED} image"
    assert reasons["rain/rain7.jpg"].startswith("truncated: the JPEG data ends early")
    assert reasons["rain/rain8.png"] == "damaged PNG: bad checksum (CRC) in its IDAT chunk"
    assert index.warnings() == [
        "skipped 4 corrupt image(s): "
        "cloudy/empty.jpg (the file is empty (0 bytes)), "
        f"cloudy/notes.jpg (text, not a {ACCEPTED} image), "
        f"rain/rain7.jpg ({reasons['rain/rain7.jpg']}), "
        "rain/rain8.png (damaged PNG: bad checksum (CRC) in its IDAT chunk)"
    ]


def test_flat_dataset_lists_skipped_images_by_file_name(root_dir: Path) -> None:
    """In a flat folder the warning names the bare file, like rain7.jpg."""
    _dataset(
        root_dir,
        {
            **{f"cloudy{i}.jpg": _jpeg(i) for i in range(2)},
            **{f"rain{i}.jpg": _jpeg(10 + i) for i in range(2)},
            "rain7.jpg": _truncated_jpeg(),
        },
    )
    (line,) = scan_dataset(root_dir).warnings()
    assert line.startswith("skipped 1 corrupt image(s): rain7.jpg (truncated: the JPEG data")


def test_warnings_name_five_files_then_count_the_rest(root_dir: Path) -> None:
    """Seven empty files give one line naming five and "and 2 more"."""
    _healthy(root_dir)
    _dataset(root_dir, {f"rain/broken{i}.jpg": b"" for i in range(7)})
    (line,) = scan_dataset(root_dir).warnings()
    named = ", ".join(f"rain/broken{i}.jpg (the file is empty (0 bytes))" for i in range(5))
    assert line == f"skipped 7 corrupt image(s): {named} and 2 more"


def test_tiny_images_are_skipped(root_dir: Path) -> None:
    """Images under 8 px a side are left out as too small, with their size."""
    _healthy(root_dir)
    _dataset(root_dir, {"rain/icon.png": _encode(Image.new("RGB", (7, 30)), "PNG")})
    index = scan_dataset(root_dir)
    assert index.too_small == (
        SkippedImage(
            str(root_dir / "rain" / "icon.png"),
            "too small: 7x30 px; images need at least 8 px a side",
        ),
    )
    assert index.warnings() == [
        "skipped 1 too small image(s): rain/icon.png (too small: 7x30 px; images need at "
        "least 8 px a side)"
    ]


_MISREAD = [
    (
        "rotated.jpg",
        _exif_rotated_jpeg,
        "EXIF orientation 6: TensorFlow ignores it and would train on the picture turned; "
        "save it upright",
    ),
    (
        "cutout.png",
        _transparent_png,
        "transparent pixels: TensorFlow ignores transparency, so training would see other "
        "colours there than prediction (white); save it without transparency",
    ),
    (
        "sticker.png",
        lambda: _encode(_palette(), "PNG", transparency=0),
        "transparent pixels: TensorFlow ignores transparency, so training would see other "
        "colours there than prediction (white); save it without transparency",
    ),
    (
        "palette.bmp",
        lambda: _encode(_palette(), "BMP"),
        "a palette BMP: TensorFlow ignores BMP palettes; save it as 24-bit BMP or PNG",
    ),
    (
        "mono.bmp",
        lambda: _encode(_photo(mode="1"), "BMP"),
        "a 1-bit BMP: TensorFlow cannot decode it; save it as 24-bit BMP or PNG",
    ),
    (
        "alpha.webp",
        lambda: _encode(Image.open(BytesIO(_transparent_png())), "WEBP", lossless=True),
        "a WebP with an alpha channel: TensorFlow cannot decode it; save it without alpha",
    ),
    (
        "moving.webp",
        lambda: _encode(_photo(), "WEBP", save_all=True, append_images=[_photo(9)]),
        "an animated WebP: TensorFlow cannot decode it; save its first frame",
    ),
    (
        "scan.jpg",
        lambda: _encode(_photo(), "TIFF"),
        f"a TIFF image, not a {ACCEPTED} image",
    ),
]


@pytest.mark.parametrize(
    ("name", "make", "reason"), _MISREAD, ids=[name for name, _, _ in _MISREAD]
)
def test_images_tensorflow_would_misread_are_skipped_as_unsupported(
    root_dir: Path, name: str, make: Any, reason: str
) -> None:
    """Each image TF 2.21 cannot decode, or decodes unlike prediction, is skipped with why."""
    _healthy(root_dir)
    _dataset(root_dir, {f"rain/{name}": make()})
    index = scan_dataset(root_dir)
    assert index.unsupported == (SkippedImage(str(root_dir / "rain" / name), reason),)
    assert index.corrupt == () and index.too_small == ()
    assert len(index.files) == 6


def test_long_gif_animations_are_skipped(root_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """TF decodes every GIF frame, so frames together over the pixel cap are refused."""
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1_000)  # 3 frames of 20x20 = 1,200 px
    frames = [Image.new("RGB", (20, 20), (40 * i, 0, 0)) for i in range(3)]
    _healthy(root_dir)
    _dataset(
        root_dir,
        {"rain/loop.gif": _encode(frames[0], "GIF", save_all=True, append_images=frames[1:])},
    )
    (skipped,) = scan_dataset(root_dir).unsupported
    assert skipped.reason == (
        "a 3-frame animation of 20x20 px: TensorFlow decodes every frame (over 1,000 px in "
        "all); keep only the first frame"
    )


def test_mixed_modes_that_tensorflow_reads_correctly_proceed(root_dir: Path) -> None:
    """Grey, palette, opaque alpha, 16-bit, CMYK, BMP, GIF and WebP files all train, unchanged."""
    sixteen = (np.asarray(_photo(6).convert("L"), dtype=np.uint16) * 257).astype(np.uint16)
    first, second = _photo(7), _photo(8)
    files = {
        "cloudy/grey.png": _encode(_photo(1, mode="L"), "PNG"),
        "cloudy/palette.png": _encode(_palette(), "PNG"),
        "cloudy/opaque.png": _encode(_photo(2, mode="RGBA"), "PNG"),
        "cloudy/opaque_grey.png": _encode(_photo(3, mode="LA"), "PNG"),
        "cloudy/deep.png": _encode(Image.fromarray(sixteen), "PNG"),
        "rain/ink.jpg": _encode(_photo(4, mode="CMYK"), "JPEG"),
        "rain/grey.jpg": _encode(_photo(5, mode="L"), "JPEG"),
        "rain/plain.bmp": _encode(_photo(9), "BMP"),
        "rain/grey.bmp": _encode(_photo(10, mode="L"), "BMP"),
        "rain/loop.gif": _encode(first, "GIF", save_all=True, append_images=[second]),
        "rain/photo.webp": _encode(_photo(11), "WEBP", quality=90),
    }
    _dataset(root_dir, files)
    index = scan_dataset(root_dir)
    assert index.warnings() == []
    assert len(index.files) == len(files)
    for relative, data in files.items():
        trained = decode_image(tf.constant(str(root_dir / relative)), 12).numpy()
        predicted = load_image_for_prediction(data, 12)
        difference = np.abs(trained.astype(np.float32) - predicted).max()
        assert difference <= PIXEL_TOLERANCE, relative


def test_scan_without_verify_opens_no_file(root_dir: Path) -> None:
    """verify=False trusts the extensions: a corrupt file is listed, nothing is reported."""
    _healthy(root_dir)
    _dataset(root_dir, {"rain/rain7.jpg": _truncated_jpeg()})
    index = scan_dataset(root_dir, verify=False)
    assert str(root_dir / "rain" / "rain7.jpg") in index.files
    assert (index.corrupt, index.unsupported, index.too_small) == ((), (), ())
    assert index.warnings() == []
