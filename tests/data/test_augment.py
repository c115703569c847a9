"""Tests for data/augment.py, with Keras's own ImageDataGenerator as the reference."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import keras
import numpy as np
import pytest
import tensorflow as tf
from scipy import stats

from data.augment import (
    AugmentSpec,
    RandomAugment,
    TransformParams,
    apply_params,
    augment_dataset,
    make_augment_fn,
    sample_params,
    spec_from_mapping,
)

# Keras 3.15 exposes IDG only through the tf.keras compatibility namespace (it lives in
# keras/src/legacy/preprocessing/image.py); it is the reference, never product code.
ImageDataGenerator = tf.keras.preprocessing.image.ImageDataGenerator

HEIGHT, WIDTH = 32, 40  # non-square on purpose: exposes IDG's swapped centre offset
STUDY_SPEC = AugmentSpec(
    rotation_range=5,
    shear_range=0.1,
    zoom_range=(0.2, 0.5),
    horizontal_flip=True,
    brightness_range=(0.2, 1.0),
)
# Geometry differs from IDG only by float32 (TF) vs float64 (SciPy) arithmetic, borders included:
# both resample bilinearly and replicate the edge pixel ('nearest'), so no border allowance.
GEOMETRY_TOLERANCE = 0.01

GEOMETRY_CASES: dict[str, dict[str, Any]] = {
    "rotate_5": {"theta": 5.0},
    "rotate_30": {"theta": 30.0},
    "shear_0.1": {"shear": 0.1},
    "shear_20": {"shear": 20.0},
    "zoom_in_0.5_0.8": {"zx": 0.5, "zy": 0.8},
    "zoom_out_1.3": {"zx": 1.3, "zy": 1.3},
    "flip_horizontal": {"flip_horizontal": True},
    "flip_vertical": {"flip_vertical": True},
}
COMBINED = {
    "theta": -12.0,
    "shear": 7.0,
    "zx": 0.4,
    "zy": 0.6,
    "flip_horizontal": True,
    "flip_vertical": True,
    "brightness": 0.7,
}


@pytest.fixture(scope="module")
def image() -> np.ndarray:
    """A 32x40 RGB float32 image in [0, 255] with no symmetry: gradients plus three shapes."""
    rows, cols = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float32)
    pixels = np.stack(
        [rows / (HEIGHT - 1) * 255, cols / (WIDTH - 1) * 255, (rows + 2 * cols) % 64 * 4], -1
    )
    pixels[5:12, 6:20] = [250, 10, 30]
    pixels[20:28, 28:34] = [0, 200, 255]
    pixels[(rows - 24) ** 2 + (cols - 10) ** 2 < 16] = [128, 255, 0]
    return pixels.astype(np.float32)


def _params(idg_params: dict[str, Any], batch: int = 1) -> TransformParams:
    """Our TransformParams for IDG's transform_parameters dict, repeated over a batch."""
    values = {
        "theta": idg_params.get("theta", 0.0),
        "shear": idg_params.get("shear", 0.0),
        "zx": idg_params.get("zx", 1.0),
        "zy": idg_params.get("zy", 1.0),
        "flip_h": float(idg_params.get("flip_horizontal", False)),
        "flip_v": float(idg_params.get("flip_vertical", False)),
        "brightness": idg_params.get("brightness", 1.0),
        "contrast": 1.0,
    }
    return TransformParams(**{k: tf.fill([batch], float(v)) for k, v in values.items()})


def _ours(image: np.ndarray, idg_params: dict[str, Any]) -> np.ndarray:
    """One image through apply_params."""
    return apply_params(image[None], _params(idg_params))[0].numpy()


def _idg(image: np.ndarray, idg_params: dict[str, Any]) -> np.ndarray:
    """One image through ImageDataGenerator.apply_transform."""
    return ImageDataGenerator().apply_transform(image.copy(), idg_params)


def _stack_batches(dataset: tf.data.Dataset) -> np.ndarray:
    """All images of a batched dataset as one array."""
    return np.concatenate(list(dataset.as_numpy_iterator()))


@pytest.mark.parametrize("idg_params", GEOMETRY_CASES.values(), ids=GEOMETRY_CASES.keys())
def test_geometry_matches_idg(image: np.ndarray, idg_params: dict[str, Any]) -> None:
    """Each geometric knob alone reproduces IDG's pixels, borders included."""
    error = np.abs(_ours(image, idg_params) - _idg(image, idg_params))
    assert error.max() < GEOMETRY_TOLERANCE


def test_brightness_matches_idg_up_to_pil_truncation(image: np.ndarray) -> None:
    """Brightness is IDG's multiply; IDG only differs by PIL's two truncations to uint8."""
    difference = _ours(image, {"brightness": 0.3}) - _idg(image, {"brightness": 0.3})
    # IDG computes floor(floor(x) * b) and we compute x * b, so 0 <= ours - IDG < 1 + b.
    assert difference.min() >= -1e-4
    assert difference.max() < 1.3
    assert np.abs(difference).mean() < 1.0


def test_combined_transform_matches_idg(image: np.ndarray) -> None:
    """All knobs at once (one matrix with folded flips, then brightness) match IDG's order."""
    difference = _ours(image, COMBINED) - _idg(image, COMBINED)
    # Geometry is exact; the remaining gap is PIL's uint8 truncation inside brightness (< 1 + b).
    assert difference.min() >= -GEOMETRY_TOLERANCE
    assert difference.max() < 1.0 + COMBINED["brightness"] + GEOMETRY_TOLERANCE
    assert np.abs(difference).mean() < 1.0


def test_batch_applies_each_images_own_params(image: np.ndarray) -> None:
    """A batch with different parameters per image equals transforming each image alone."""
    cases = [GEOMETRY_CASES["rotate_30"], GEOMETRY_CASES["zoom_in_0.5_0.8"], COMBINED]
    per_image = [_params(case) for case in cases]
    stacked = TransformParams(
        **{
            name: tf.concat([getattr(p, name) for p in per_image], axis=0)
            for name in (field.name for field in dataclasses.fields(TransformParams))
        }
    )
    batch = apply_params(np.stack([image] * 3), stacked).numpy()
    expected = np.stack([_ours(image, case) for case in cases])
    np.testing.assert_allclose(batch, expected, atol=1e-3)


def test_contrast_matches_tf_adjust_contrast(image: np.ndarray) -> None:
    """Contrast is tf.image.adjust_contrast with the drawn factor, clipped to [0, 255]."""
    params = dataclasses.replace(_params({}), contrast=tf.constant([1.7]))
    expected = tf.clip_by_value(tf.image.adjust_contrast(image[None], 1.7), 0.0, 255.0)
    np.testing.assert_allclose(apply_params(image[None], params), expected, atol=1e-3)


def test_sample_params_stays_within_idg_ranges() -> None:
    """Every drawn value lies in the interval IDG draws from."""
    spec = AugmentSpec(
        rotation_range=5,
        shear_range=0.1,
        zoom_range=(0.2, 0.5),
        brightness_range=(0.2, 1.0),
        contrast_range=(0.5, 1.5),
    )
    params = sample_params(spec, 2000, tf.constant([1, 2]))
    bounds = {
        "theta": (-5, 5),
        "shear": (-0.1, 0.1),
        "zx": (0.2, 0.5),
        "zy": (0.2, 0.5),
        "brightness": (0.2, 1.0),
        "contrast": (0.5, 1.5),
    }
    for name, (lo, hi) in bounds.items():
        values = getattr(params, name).numpy()
        assert lo <= values.min() and values.max() <= hi, name


def test_sample_params_distribution_matches_idg() -> None:
    """Theta, zx and brightness follow IDG's own get_random_transform draws (KS test)."""
    idg = ImageDataGenerator(rotation_range=5, zoom_range=[0.2, 0.5], brightness_range=[0.2, 1.0])
    np.random.seed(0)
    reference = [idg.get_random_transform((HEIGHT, WIDTH, 3)) for _ in range(2000)]
    ours = sample_params(STUDY_SPEC, 2000, tf.constant([3, 4]))
    for name in ("theta", "zx", "brightness"):
        idg_values = [params[name] for params in reference]
        assert stats.ks_2samp(getattr(ours, name).numpy(), idg_values).pvalue > 1e-3, name


def test_sample_params_draws_zoom_axes_independently() -> None:
    """zx and zy are independent draws, as IDG's uniform(lo, hi, 2), not one shared factor."""
    params = sample_params(STUDY_SPEC, 4000, tf.constant([5, 6]))
    assert abs(np.corrcoef(params.zx.numpy(), params.zy.numpy())[0, 1]) < 0.1


def test_sample_params_flips_about_half() -> None:
    """Each enabled flip fires with probability 0.5; a disabled flip never fires."""
    params = sample_params(STUDY_SPEC, 4000, tf.constant([7, 8]))
    assert 0.45 < params.flip_h.numpy().mean() < 0.55
    assert params.flip_v.numpy().max() == 0.0


def test_sample_params_is_deterministic_for_a_seed() -> None:
    """The same seed gives the same parameters; another seed gives others."""
    first = sample_params(STUDY_SPEC, 16, tf.constant([9, 10]))
    again = sample_params(STUDY_SPEC, 16, tf.constant([9, 10]))
    other = sample_params(STUDY_SPEC, 16, tf.constant([9, 11]))
    np.testing.assert_array_equal(first.theta, again.theta)
    np.testing.assert_array_equal(first.zx, again.zx)
    assert not np.array_equal(first.theta, other.theta)


def test_sample_params_gives_identity_for_disabled_knobs() -> None:
    """Knobs the spec leaves off take identity values (no rotation, zoom 1, factors 1)."""
    params = sample_params(AugmentSpec(horizontal_flip=True), 8, tf.constant([1, 1]))
    for name, identity in [("theta", 0), ("shear", 0), ("zx", 1), ("zy", 1), ("brightness", 1)]:
        np.testing.assert_array_equal(getattr(params, name), np.full(8, identity), name)


def test_identity_augment_fn_returns_input_unchanged(image: np.ndarray) -> None:
    """An identity spec returns the very same tensor, doing no work."""
    batch = tf.constant(image[None])
    assert make_augment_fn(AugmentSpec(), seed=0)(batch) is batch


def test_augment_fn_changes_consecutive_batches(image: np.ndarray) -> None:
    """Two calls on the same batch get different transforms."""
    augment = make_augment_fn(STUDY_SPEC, seed=0)
    batch = tf.constant(np.stack([image] * 4))
    assert not np.allclose(augment(batch), augment(batch))


def test_augment_fn_replays_for_the_same_seed(image: np.ndarray) -> None:
    """Two augmenters with the same seed produce the same sequence of batches."""
    batch = tf.constant(np.stack([image] * 4))
    first, second = make_augment_fn(STUDY_SPEC, seed=3), make_augment_fn(STUDY_SPEC, seed=3)
    for _ in range(2):
        np.testing.assert_array_equal(first(batch), second(batch))


def test_augment_fn_maps_uint8_batches_in_tf_data(image: np.ndarray) -> None:
    """Inside Dataset.map on cached uint8 batches it yields float [0, 255] augmented images."""
    images = np.stack([image] * 8).astype(np.uint8)
    dataset = tf.data.Dataset.from_tensor_slices(images).batch(4)
    augmented = _stack_batches(dataset.map(make_augment_fn(STUDY_SPEC, seed=1)))
    assert augmented.shape == images.shape and augmented.dtype == np.float32
    assert augmented.min() >= 0.0 and augmented.max() <= 255.0
    assert not np.allclose(augmented, images)


def test_augment_dataset_is_reproducible_under_parallel_map(image: np.ndarray) -> None:
    """augment_dataset gives the same images for a seed even with a parallel map."""
    images = np.stack([image] * 16)
    labels = np.arange(16)

    def build() -> tf.data.Dataset:
        dataset = tf.data.Dataset.from_tensor_slices((images, labels)).batch(2)
        return augment_dataset(dataset, STUDY_SPEC, seed=5, num_parallel_calls=8)

    first, second = build(), build()
    np.testing.assert_array_equal(
        _stack_batches(first.map(lambda x, y: x)), _stack_batches(second.map(lambda x, y: x))
    )


def test_augment_dataset_redraws_each_epoch(image: np.ndarray) -> None:
    """Iterating the dataset again gives fresh transforms and keeps labels aligned."""
    dataset = tf.data.Dataset.from_tensor_slices((np.stack([image] * 4), np.arange(4))).batch(2)
    augmented = augment_dataset(dataset, STUDY_SPEC, seed=5)
    epochs = [list(augmented.as_numpy_iterator()) for _ in range(2)]
    assert not np.allclose(epochs[0][0][0], epochs[1][0][0])
    assert [list(labels) for _, labels in epochs[0]] == [[0, 1], [2, 3]]


def test_random_augment_is_identity_at_inference(image: np.ndarray) -> None:
    """With training=False the layer returns its input."""
    layer = RandomAugment(STUDY_SPEC, seed=0)
    batch = tf.constant(image[None])
    np.testing.assert_array_equal(layer(batch, training=False), batch)


def test_random_augment_changes_images_when_training(image: np.ndarray) -> None:
    """With training=True the layer augments."""
    layer = RandomAugment(STUDY_SPEC, seed=0)
    batch = tf.constant(np.stack([image] * 2))
    assert not np.allclose(layer(batch, training=True), batch)


def test_model_with_random_augment_loads_in_safe_mode(tmp_path: Path) -> None:
    """A model holding the layer saves to .keras and loads with safe_mode=True, spec intact."""
    inputs = keras.Input((HEIGHT, WIDTH, 3))
    augmented = RandomAugment(STUDY_SPEC, seed=0)(inputs)
    outputs = keras.layers.Dense(2)(keras.layers.GlobalAveragePooling2D()(augmented))
    path = tmp_path / "model.keras"
    keras.Model(inputs, outputs).save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    assert next(lay for lay in loaded.layers if isinstance(lay, RandomAugment)).spec == STUDY_SPEC


def test_model_with_random_augment_trains() -> None:
    """model.fit trains through the layer for two epochs."""
    model = keras.Sequential(
        [
            keras.Input((16, 16, 3)),
            RandomAugment(STUDY_SPEC, seed=0),
            keras.layers.Rescaling(1 / 255),
            keras.layers.Flatten(),
            keras.layers.Dense(2),
        ]
    )
    model.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(True))
    rng = np.random.default_rng(0)
    history = model.fit(
        rng.uniform(0, 255, (8, 16, 16, 3)), rng.integers(0, 2, 8), epochs=2, verbose=0
    )
    assert np.isfinite(history.history["loss"]).all()


def test_random_augment_opts_out_of_xla() -> None:
    """The layer tells Keras not to jit-compile the model around its random ops."""
    assert RandomAugment(STUDY_SPEC).supports_jit is False


def test_spec_from_mapping_reads_idg_values() -> None:
    """The study's IDG keywords map to the spec; lists become tuples."""
    values = {
        "rotation_range": 5,
        "shear_range": 0.1,
        "zoom_range": [0.2, 0.5],
        "horizontal_flip": True,
        "brightness_range": [0.2, 1.0],
    }
    assert spec_from_mapping(values) == STUDY_SPEC


def test_spec_from_mapping_expands_scalar_zoom() -> None:
    """A scalar zoom_range z means [1 - z, 1 + z], as in IDG's constructor."""
    assert spec_from_mapping({"zoom_range": 0.25}).zoom_range == (0.75, 1.25)


def test_spec_from_mapping_rejects_unknown_keys() -> None:
    """A misspelt knob raises instead of silently doing nothing."""
    with pytest.raises(ValueError, match="rotaton_range"):
        spec_from_mapping({"rotaton_range": 5})


def test_spec_normalises_lists_to_tuples() -> None:
    """A spec built from JSON lists equals one built from tuples."""
    from_json = AugmentSpec(zoom_range=[0.2, 0.5])  # type: ignore[arg-type]
    assert from_json == AugmentSpec(zoom_range=(0.2, 0.5))


def test_spec_rejects_inverted_range() -> None:
    """A (lo, hi) range with lo > hi is refused."""
    with pytest.raises(ValueError, match="brightness_range"):
        AugmentSpec(brightness_range=(1.0, 0.2))
