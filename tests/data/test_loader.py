"""Scanning, splitting, fingerprinting and the tf.data pipeline, on real files."""

from __future__ import annotations

import shutil
from io import BytesIO
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from data.augment import AugmentSpec
from data.images import ImageError
from data.loader import (
    DatasetError,
    DatasetIndex,
    Split,
    batches_per_epoch,
    decode_image,
    fingerprint,
    load_image_for_prediction,
    make_dataset,
    scan_dataset,
    stratified_split,
)

CLASSES = ("cloudy", "rain", "shine", "sunrise")


def _write_image(path: Path, seed: int = 0, size: tuple[int, int] = (20, 14)) -> Path:
    """Save a small random RGB image in the format its extension names."""
    pixels = np.random.default_rng(seed).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path)
    return path


def _index(sizes: dict[str, int]) -> DatasetIndex:
    """An index of made-up paths: splitting never opens files."""
    names = tuple(sorted(sizes))
    pairs = [(f"/data/{n}/{n}{i:04d}.jpg", c) for c, n in enumerate(names) for i in range(sizes[n])]
    return DatasetIndex(
        root="/data",
        layout="folders",
        class_names=names,
        files=tuple(p for p, _ in pairs),
        labels=tuple(c for _, c in pairs),
        skipped=(),
    )


def _labels(dataset: tf.data.Dataset) -> list[int]:
    return [int(label) for _, labels in dataset.as_numpy_iterator() for label in labels]


# ---- scan_dataset ----


def test_scan_reads_one_folder_per_class(tiny_sample: Path) -> None:
    """A folder of class folders gives the folders layout, sorted classes and labels."""
    index = scan_dataset(tiny_sample)
    assert index.layout == "folders"
    assert index.class_names == CLASSES
    assert len(index.files) == 24
    assert list(index.files) == sorted(index.files)
    assert all(Path(f).is_absolute() for f in index.files)
    assert all(
        Path(f).parent.name == index.class_names[c]
        for f, c in zip(index.files, index.labels, strict=True)
    )


def test_scan_reads_a_flat_folder_by_name_prefix(tmp_path: Path) -> None:
    """Flat files take their class from the leading letters: cloudy1.jpg, Rain_7.png."""
    for name in (
        "cloudy1.jpg",
        "cloudy12.jpg",
        "sunrise12.jpg",
        "sunrise3.jpeg",
        "Rain_7.png",
        "rain8.PNG",
    ):
        _write_image(tmp_path / name)
    index = scan_dataset(tmp_path)
    assert index.layout == "flat"
    assert index.class_names == ("cloudy", "rain", "sunrise")
    by_name = {
        Path(f).name: index.class_names[c] for f, c in zip(index.files, index.labels, strict=True)
    }
    assert by_name == {
        "cloudy1.jpg": "cloudy",
        "cloudy12.jpg": "cloudy",
        "sunrise12.jpg": "sunrise",
        "sunrise3.jpeg": "sunrise",
        "Rain_7.png": "rain",
        "rain8.PNG": "rain",
    }


def test_flat_scan_skips_non_images_and_unprefixed_names(tmp_path: Path) -> None:
    """Text files and images without a class prefix are listed as skipped; hidden ones vanish."""
    for name in ("cloudy1.jpg", "cloudy2.jpg", "rain1.jpg", "rain2.jpg", "123.jpg"):
        _write_image(tmp_path / name)
    (tmp_path / "notes.txt").write_text("hello")
    (tmp_path / ".DS_Store").write_bytes(b"\0")
    index = scan_dataset(tmp_path)
    assert [Path(p).name for p in index.skipped] == ["123.jpg", "notes.txt"]
    assert len(index.files) == 4


def test_folder_scan_skips_non_images_and_hidden_entries(tiny_sample: Path) -> None:
    """Non-image files are skipped and listed; hidden folders never become classes."""
    (tiny_sample / "README.md").write_text("about")
    (tiny_sample / "rain" / "labels.csv").write_text("a,b")
    _write_image(tiny_sample / ".thumbnails" / "x1.jpg")
    index = scan_dataset(tiny_sample)
    assert index.class_names == CLASSES
    assert [Path(p).name for p in index.skipped] == ["README.md", "labels.csv"]


def test_scan_rejects_a_missing_path(tmp_path: Path) -> None:
    """A path that does not exist is named in the error."""
    with pytest.raises(DatasetError, match="no such folder") as error:
        scan_dataset(tmp_path / "nowhere")
    assert "nowhere" in str(error.value)


def test_scan_rejects_a_file(tmp_path: Path) -> None:
    """A file instead of a folder is refused."""
    path = _write_image(tmp_path / "cloudy1.jpg")
    with pytest.raises(DatasetError, match="not a folder"):
        scan_dataset(path)


def test_scan_rejects_a_folder_without_images(tmp_path: Path) -> None:
    """A folder with no image files says which extensions it looked for."""
    (tmp_path / "notes.txt").write_text("hi")
    with pytest.raises(DatasetError, match=r"no image files \(.*\.jpg"):
        scan_dataset(tmp_path)


def test_scan_rejects_images_without_a_class_prefix(tmp_path: Path) -> None:
    """A flat folder whose images carry no class prefix says how to name them."""
    for name in ("001.jpg", "002.jpg"):
        _write_image(tmp_path / name)
    with pytest.raises(DatasetError, match="no image name starts with a class"):
        scan_dataset(tmp_path)


def test_scan_rejects_a_single_class(tmp_path: Path) -> None:
    """One class is not a classification problem."""
    for i in range(3):
        _write_image(tmp_path / f"cloudy{i}.jpg")
    with pytest.raises(DatasetError, match="only the class 'cloudy'"):
        scan_dataset(tmp_path)


def test_scan_rejects_a_class_with_one_image(tmp_path: Path) -> None:
    """A class with a single image cannot be split, and the error names it."""
    for name in ("cloudy1.jpg", "cloudy2.jpg", "rain1.jpg"):
        _write_image(tmp_path / name)
    with pytest.raises(DatasetError, match="rain have fewer than 2 usable images"):
        scan_dataset(tmp_path)


def test_scan_rejects_an_empty_class_folder(tiny_sample: Path) -> None:
    """A class folder with no images is named in the error."""
    (tiny_sample / "fog").mkdir()
    (tiny_sample / "fog" / "todo.txt").write_text("collect fog photos")
    with pytest.raises(DatasetError, match="'fog' has no images"):
        scan_dataset(tiny_sample)


def test_scan_rejects_loose_images_beside_class_folders(tiny_sample: Path) -> None:
    """Images both at the top and in class folders are ambiguous and refused."""
    _write_image(tiny_sample / "cloudy99.jpg")
    with pytest.raises(DatasetError, match="both class folders and loose images"):
        scan_dataset(tiny_sample)


# ---- stratified_split ----


def test_split_puts_every_class_on_both_sides() -> None:
    """Each class appears in training and in validation, even a class of 2."""
    train, validation = stratified_split(_index({"a": 2, "b": 5, "c": 40}), 0.2, seed=0)
    assert set(train.labels) == set(validation.labels) == {0, 1, 2}


def test_split_is_disjoint_and_covers_everything() -> None:
    """No file is on both sides and none is lost."""
    index = _index({"a": 7, "b": 9, "c": 12})
    train, validation = stratified_split(index, 0.3, seed=3)
    assert not set(train.files) & set(validation.files)
    assert sorted(train.files + validation.files) == sorted(index.files)


def test_split_keeps_the_overall_fraction() -> None:
    """On the real dataset's class sizes, validation gets round(0.2 * 1125) = 225 images."""
    train, validation = stratified_split(
        _index({"cloudy": 300, "rain": 215, "shine": 253, "sunrise": 357}), 0.2, seed=0
    )
    assert len(validation.files) == 225
    assert len(train.files) == 900


def test_split_keeps_labels_aligned_with_files() -> None:
    """Each split label is the label the index gave that file."""
    index = _index({"a": 6, "b": 6})
    truth = dict(zip(index.files, index.labels, strict=True))
    for side in stratified_split(index, 0.5, seed=1):
        assert all(truth[f] == label for f, label in zip(side.files, side.labels, strict=True))


def test_split_is_the_same_for_a_seed() -> None:
    """The same seed gives the same split, in the same order."""
    index = _index({"a": 20, "b": 20})
    assert stratified_split(index, 0.25, seed=5) == stratified_split(index, 0.25, seed=5)


def test_split_differs_across_seeds() -> None:
    """Another seed picks other validation files."""
    index = _index({"a": 20, "b": 20})
    assert stratified_split(index, 0.25, seed=0)[1] != stratified_split(index, 0.25, seed=1)[1]


@pytest.mark.parametrize("fraction", [0.0, 1.0, -0.1, 1.5])
def test_split_rejects_a_fraction_outside_zero_one(fraction: float) -> None:
    """validation_split must be strictly between 0 and 1."""
    with pytest.raises(ValueError, match="validation_split"):
        stratified_split(_index({"a": 4, "b": 4}), fraction, seed=0)


# ---- fingerprint ----


def test_fingerprint_ignores_where_the_folder_lives(tiny_sample: Path, tmp_path: Path) -> None:
    """A copy of the dataset elsewhere has the same fingerprint."""
    copy = shutil.copytree(tiny_sample, tmp_path / "elsewhere")
    assert fingerprint(scan_dataset(tiny_sample)) == fingerprint(scan_dataset(copy))


def test_fingerprint_changes_when_one_file_changes(tiny_sample: Path) -> None:
    """Rewriting a single image changes the fingerprint."""
    before = fingerprint(scan_dataset(tiny_sample))
    _write_image(tiny_sample / "rain" / "rain0003.jpg", seed=42)
    assert fingerprint(scan_dataset(tiny_sample)) != before


def test_fingerprint_changes_when_a_file_is_renamed(tiny_sample: Path) -> None:
    """Moving an image to another class changes the fingerprint."""
    before = fingerprint(scan_dataset(tiny_sample))
    (tiny_sample / "rain" / "rain0001.jpg").rename(tiny_sample / "shine" / "rain0001.jpg")
    assert fingerprint(scan_dataset(tiny_sample)) != before


# ---- make_dataset ----


def test_training_batches_have_shape_dtype_and_range(tiny_sample: Path) -> None:
    """Training batches are float32 (B, S, S, 3) pixels in [0, 255] with int32 labels."""
    train, _ = stratified_split(scan_dataset(tiny_sample), 0.25, seed=0)
    dataset = make_dataset(train, image_size=16, batch_size=5, training=True, seed=0)
    batches = list(dataset.as_numpy_iterator())
    assert len(batches) == batches_per_epoch(len(train.files), 5) == 4
    images, labels = batches[0]
    assert images.shape == (5, 16, 16, 3) and images.dtype == np.float32
    assert labels.dtype == np.int32
    assert images.min() >= 0.0 and images.max() <= 255.0 and images.max() > 50


def test_steps_beyond_one_pass_repeat_the_data(tiny_sample: Path) -> None:
    """With steps the dataset repeats, so Keras can draw more batches than one pass holds."""
    train, _ = stratified_split(scan_dataset(tiny_sample), 0.25, seed=0)
    dataset = make_dataset(train, image_size=8, batch_size=5, training=True, seed=0, steps=10)
    batches = list(dataset.take(10).as_numpy_iterator())
    assert len(batches) == 10
    assert all(images.shape[0] == 5 for images, _ in batches)


def test_without_steps_one_pass_ends(tiny_sample: Path) -> None:
    """Without steps the dataset stops after one pass, the last batch partial."""
    _, validation = stratified_split(scan_dataset(tiny_sample), 0.5, seed=0)
    dataset = make_dataset(validation, image_size=8, batch_size=5, training=False, seed=0)
    assert [len(labels) for _, labels in dataset.as_numpy_iterator()] == [5, 5, 2]


def test_validation_keeps_the_split_order(tiny_sample: Path) -> None:
    """Validation data is never shuffled: labels come in the split's order every pass."""
    _, validation = stratified_split(scan_dataset(tiny_sample), 0.5, seed=0)
    dataset = make_dataset(validation, image_size=8, batch_size=4, training=False, seed=0)
    assert _labels(dataset) == list(validation.labels) == _labels(dataset)


def test_training_is_shuffled_the_same_way_for_a_seed(tiny_sample: Path) -> None:
    """Training order differs from the split order but repeats for the same seed."""
    train, _ = stratified_split(scan_dataset(tiny_sample), 0.25, seed=0)

    def build() -> tf.data.Dataset:
        return make_dataset(train, image_size=8, batch_size=4, training=True, seed=3)

    first = _labels(build())
    assert first == _labels(build())
    assert first != list(train.labels)
    assert sorted(first) == sorted(train.labels)


def test_augmentation_applies_only_in_training(tiny_sample: Path) -> None:
    """The augmentation spec changes training batches and leaves validation batches alone."""
    train, _ = stratified_split(scan_dataset(tiny_sample), 0.25, seed=0)
    darken = AugmentSpec(brightness_range=(0.2, 0.2))

    def first_batch(training: bool, augment: AugmentSpec | None) -> np.ndarray:
        dataset = make_dataset(
            train, image_size=8, batch_size=4, training=training, seed=0, augment=augment
        )
        return next(dataset.as_numpy_iterator())[0]

    plain = first_batch(training=True, augment=None)
    np.testing.assert_allclose(first_batch(training=True, augment=darken), plain * 0.2, rtol=1e-5)
    np.testing.assert_array_equal(
        first_batch(training=False, augment=darken), first_batch(training=False, augment=None)
    )


def test_empty_split_is_refused() -> None:
    """An empty split is an error, not an empty dataset."""
    with pytest.raises(ValueError, match="empty split"):
        make_dataset(Split((), ()), image_size=8, batch_size=2, training=False, seed=0)


@pytest.mark.parametrize(("n", "batch", "expected"), [(10, 4, 3), (8, 4, 2), (0, 4, 0), (1, 16, 1)])
def test_batches_per_epoch_rounds_up(n: int, batch: int, expected: int) -> None:
    """One pass is ceil(n / batch) batches, like Keras's default steps_per_epoch."""
    assert batches_per_epoch(n, batch) == expected


# ---- decoding ----


@pytest.mark.parametrize("suffix", [".png", ".bmp", ".gif", ".webp", ".jpeg"])
def test_decode_image_reads_every_supported_format(tmp_path: Path, suffix: str) -> None:
    """Each supported format decodes inside tf.data to uint8 (S, S, 3)."""
    path = _write_image(tmp_path / f"cloudy1{suffix}")
    dataset = tf.data.Dataset.from_tensors(str(path)).map(lambda p: decode_image(p, 12))
    image = next(dataset.as_numpy_iterator())
    assert image.shape == (12, 12, 3) and image.dtype == np.uint8


def test_decode_image_makes_greyscale_and_alpha_three_channels(tmp_path: Path) -> None:
    """Greyscale and RGBA PNGs both come out with 3 channels."""
    Image.new("L", (10, 10), 128).save(tmp_path / "grey.png")
    Image.new("RGBA", (10, 10), (10, 20, 30, 40)).save(tmp_path / "alpha.png")
    for name in ("grey.png", "alpha.png"):
        assert decode_image(tf.constant(str(tmp_path / name)), 6).shape == (6, 6, 3)


def test_prediction_preprocessing_matches_training(tiny_sample: Path) -> None:
    """Uploaded JPEG bytes become the same array the training pipeline feeds the model."""
    path = tiny_sample / "sunrise" / "sunrise0002.jpg"
    trained = decode_image(tf.constant(str(path)), 20).numpy().astype(np.float32)
    predicted = load_image_for_prediction(path.read_bytes(), 20)
    assert predicted.shape == (20, 20, 3) and predicted.dtype == np.float32
    np.testing.assert_allclose(predicted, trained, atol=1e-6)


def test_prediction_follows_exif_orientation() -> None:
    """A photo tagged as rotated 180 degrees is turned upright before resizing."""
    pixels = np.zeros((16, 16, 3), np.uint8)
    pixels[:, 8:] = 255  # right half white as stored
    exif = Image.Exif()
    exif[0x0112] = 3  # orientation: rotate 180
    buffer = BytesIO()
    Image.fromarray(pixels).save(buffer, "JPEG", exif=exif, quality=95)
    upright = load_image_for_prediction(buffer.getvalue(), 16)
    assert upright[:, :4].mean() > 230 and upright[:, -4:].mean() < 25


def test_prediction_uses_the_first_gif_frame() -> None:
    """An animated GIF is read from its first frame."""
    frames = [Image.new("RGB", (8, 8), colour) for colour in ((255, 0, 0), (0, 0, 255))]
    buffer = BytesIO()
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:])
    image = load_image_for_prediction(buffer.getvalue(), 8)
    assert image[..., 0].mean() > 230 and image[..., 2].mean() < 25


def test_prediction_rejects_bytes_that_are_not_an_image() -> None:
    """Unreadable bytes raise ImageError with a message naming the accepted formats."""
    with pytest.raises(ImageError, match=r"^upload: text, not a JPEG, PNG, WebP, BMP or GIF image"):
        load_image_for_prediction(b"definitely not a picture", 16)
