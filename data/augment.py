"""Batched image augmentation with the semantics of Keras's ImageDataGenerator.

The study augmented with ``ImageDataGenerator`` (IDG), which transforms one image at a time in
NumPy/SciPy/PIL. Here the same knobs mean the same thing, but the whole batch is transformed in
TensorFlow: rotation, shear, zoom and both flips fold into ONE projective matrix per image, applied
by one XLA-compiled bilinear resampler; brightness and contrast are arithmetic.

Semantics taken from ``keras/src/legacy/preprocessing/image.py`` (Keras 3.15):

* ``get_random_transform``: ``theta ~ U(-rotation_range, rotation_range)`` and
  ``shear ~ U(-shear_range, shear_range)``, both in DEGREES; ``zx, zy ~ U(lo, hi)`` drawn
  independently; each flip with probability 0.5; ``brightness ~ U(lo, hi)``.
* ``apply_affine_transform``: output->input matrix ``R(theta) @ S(shear) @ Z(zx, zy)`` with
  ``S = [[1, -sin s], [0, cos s]]``; ``transform_matrix_offset_center(m, h, w)`` centres it, then
  rows and columns are swapped for NumPy's (row, col) order. The swap means the centre used for
  the x (column) axis is ``h / 2 - 0.5`` and for the y (row) axis ``w / 2 - 0.5``: for
  non-square images IDG rotates and zooms about an off-centre point, and we reproduce that.
  ``fill_mode='nearest'``, ``order=1`` (bilinear).
* ``apply_transform``: affine, then horizontal flip, then vertical flip, then brightness.
* ``apply_brightness_shift(x, b, scale=False)``: PIL ``ImageEnhance.Brightness``, i.e. ``x * b``
  clipped to [0, 255]. PIL also truncates to uint8 on the way; we keep float values instead.
* ``rescale`` is applied by ``standardize`` after the random transform, so augmentation here works
  on [0, 255] pixels and the caller rescales afterwards.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import keras
import tensorflow as tf

_PIXEL_MAX = 255.0

# Fixed fold-in indices: each knob draws from its own stream, so turning one knob on or off does
# not change the values the others draw for the same seed.
_THETA, _SHEAR, _ZOOM, _FLIP_H, _FLIP_V, _BRIGHTNESS, _CONTRAST = range(7)
_RANGE_FIELDS = ("zoom_range", "brightness_range", "contrast_range")


@dataclass(frozen=True)
class AugmentSpec:
    """Augmentation knobs, each meaning exactly what it meant in ImageDataGenerator.

    Attributes:
        rotation_range: Degrees; theta ~ U(-r, r).
        shear_range: Degrees (as IDG in Keras 3); shear ~ U(-s, s).
        zoom_range: IDG's [lo, hi]; zx and zy drawn independently; values < 1 zoom in.
        horizontal_flip: Flip left-right with probability 0.5.
        vertical_flip: Flip top-bottom with probability 0.5.
        brightness_range: Multiply by U(lo, hi), clipped to [0, 255].
        contrast_range: ``tf.image.adjust_contrast`` factor U(lo, hi) per image (not in IDG).
    """

    rotation_range: float = 0.0
    shear_range: float = 0.0
    zoom_range: tuple[float, float] | None = None
    horizontal_flip: bool = False
    vertical_flip: bool = False
    brightness_range: tuple[float, float] | None = None
    contrast_range: tuple[float, float] | None = None

    def __post_init__(self) -> None:
        """Normalises ranges to float tuples (JSON gives lists) and rejects malformed ones."""
        if self.rotation_range < 0 or self.shear_range < 0:
            raise ValueError("rotation_range and shear_range must be >= 0 (degrees)")
        for name in _RANGE_FIELDS:
            object.__setattr__(self, name, _as_range(name, getattr(self, name)))
        if self.zoom_range is not None and self.zoom_range[0] <= 0:
            raise ValueError(f"zoom_range must be > 0, got {self.zoom_range}")

    @property
    def has_affine(self) -> bool:
        """Whether any geometric knob is on, so the resampling pass is needed."""
        return bool(
            self.rotation_range
            or self.shear_range
            or _is_active_zoom(self.zoom_range)
            or self.horizontal_flip
            or self.vertical_flip
        )

    @property
    def is_identity(self) -> bool:
        """Whether the spec leaves every image unchanged, so augmentation can be skipped."""
        return not (
            self.has_affine or self.brightness_range is not None or self.contrast_range is not None
        )


def _as_range(name: str, value: Any) -> tuple[float, float] | None:
    """Returns a (lo, hi) float tuple, because U(lo, hi) with lo > hi is meaningless."""
    if value is None:
        return None
    if not isinstance(value, tuple | list) or len(value) != 2 or not 0 <= value[0] <= value[1]:
        raise ValueError(f"{name} must be (lo, hi) with 0 <= lo <= hi, got {value}")
    return (float(value[0]), float(value[1]))


def _is_active_zoom(zoom_range: tuple[float, float] | None) -> bool:
    """IDG treats zoom [1, 1] as off (get_random_transform draws nothing)."""
    return zoom_range is not None and zoom_range != (1.0, 1.0)


@dataclass(frozen=True)
class TransformParams:
    """Per-image transform parameters, each a float32 tensor of shape (B,).

    Attributes mirror IDG's ``transform_parameters`` dict: theta and shear in degrees, zx/zy zoom
    factors, flip_h/flip_v as 0.0/1.0, brightness and contrast factors (1.0 = unchanged).
    """

    theta: tf.Tensor
    shear: tf.Tensor
    zx: tf.Tensor
    zy: tf.Tensor
    flip_h: tf.Tensor
    flip_v: tf.Tensor
    brightness: tf.Tensor
    contrast: tf.Tensor


def _knob_seed(seed: tf.Tensor, knob: int) -> tf.Tensor:
    """Derives an independent stateless seed for one knob."""
    return tf.random.experimental.stateless_fold_in(tf.cast(seed, tf.int64), knob)


def _uniform(
    shape: tf.Tensor | list[Any], seed: tf.Tensor, knob: int, lo: float, hi: float
) -> tf.Tensor:
    """Draws U(lo, hi) statelessly so a seed always yields the same values."""
    return tf.random.stateless_uniform(
        shape, seed=_knob_seed(seed, knob), minval=lo, maxval=hi, dtype=tf.float32
    )


def _coin(batch: tf.Tensor, seed: tf.Tensor, knob: int, enabled: bool) -> tf.Tensor:
    """Draws IDG's ``random() < 0.5`` flip as 0.0/1.0, or all zeros when disabled."""
    if not enabled:
        return tf.zeros([batch], tf.float32)
    return tf.cast(_uniform([batch], seed, knob, 0.0, 1.0) < 0.5, tf.float32)


def _symmetric(batch: tf.Tensor, seed: tf.Tensor, knob: int, limit: float) -> tf.Tensor:
    """Draws U(-limit, limit), or zeros without RNG work when the knob is off."""
    if not limit:
        return tf.zeros([batch], tf.float32)
    return _uniform([batch], seed, knob, -limit, limit)


def _factor(
    batch: tf.Tensor, seed: tf.Tensor, knob: int, bounds: tuple[float, float] | None
) -> tf.Tensor:
    """Draws a multiplicative factor U(lo, hi), or ones when the knob is off."""
    if bounds is None:
        return tf.ones([batch], tf.float32)
    return _uniform([batch], seed, knob, float(bounds[0]), float(bounds[1]))


def _zoom(
    batch: tf.Tensor, seed: tf.Tensor, zoom_range: tuple[float, float] | None
) -> tuple[tf.Tensor, tf.Tensor]:
    """Draws zx and zy independently from U(lo, hi) as IDG does, or ones when zoom is off."""
    if zoom_range is None or not _is_active_zoom(zoom_range):
        ones = tf.ones([batch], tf.float32)
        return ones, ones
    lo, hi = float(zoom_range[0]), float(zoom_range[1])
    zoom = _uniform(tf.stack([batch, 2]), seed, _ZOOM, lo, hi)
    return zoom[:, 0], zoom[:, 1]


def sample_params(
    spec: AugmentSpec, batch_size: tf.Tensor | int, seed: tf.Tensor
) -> TransformParams:
    """Draws one set of IDG-style parameters per image from a stateless (2,) seed.

    Args:
        spec: The knobs to draw for; disabled knobs get identity values.
        batch_size: Number of images (static int or scalar tensor).
        seed: Shape (2,) integer tensor; the same seed always gives the same parameters.

    Returns:
        TransformParams with (B,) float32 tensors.
    """
    batch = tf.convert_to_tensor(batch_size, tf.int32)
    zx, zy = _zoom(batch, seed, spec.zoom_range)
    return TransformParams(
        theta=_symmetric(batch, seed, _THETA, float(spec.rotation_range)),
        shear=_symmetric(batch, seed, _SHEAR, float(spec.shear_range)),
        zx=zx,
        zy=zy,
        flip_h=_coin(batch, seed, _FLIP_H, spec.horizontal_flip),
        flip_v=_coin(batch, seed, _FLIP_V, spec.vertical_flip),
        brightness=_factor(batch, seed, _BRIGHTNESS, spec.brightness_range),
        contrast=_factor(batch, seed, _CONTRAST, spec.contrast_range),
    )


def affine_matrices(
    params: TransformParams, height: int | tf.Tensor, width: int | tf.Tensor
) -> tf.Tensor:
    """Builds IDG's affine-then-flip mapping as one output->input matrix per image.

    In TF's (x=column, y=row) convention IDG's swapped matrix is ``T(o) @ R @ S @ Z @ T(-o)`` with
    ``o = (height / 2 - 0.5, width / 2 - 0.5)`` (the x centre uses the height: IDG's quirk).
    Flipping the affine output afterwards equals composing ``@ F`` on the right, with
    ``F: x -> (width - 1) - x`` and ``y -> (height - 1) - y`` where flipped.

    Args:
        params: Per-image parameters.
        height: Image height in pixels.
        width: Image width in pixels.

    Returns:
        (B, 8) float32 tensor in ``ImageProjectiveTransformV3`` format.
    """
    height = tf.cast(height, tf.float32)
    width = tf.cast(width, tf.float32)
    theta = params.theta * (math.pi / 180.0)
    shear = params.shear * (math.pi / 180.0)
    # R(theta) @ S(shear) @ Z(zx, zy), multiplied out.
    m00 = params.zx * tf.cos(theta)
    m01 = -params.zy * tf.sin(theta + shear)
    m10 = params.zx * tf.sin(theta)
    m11 = params.zy * tf.cos(theta + shear)
    o_x, o_y = height / 2 - 0.5, width / 2 - 0.5
    sign_x, sign_y = 1.0 - 2.0 * params.flip_h, 1.0 - 2.0 * params.flip_v
    shift_x, shift_y = params.flip_h * (width - 1), params.flip_v * (height - 1)
    # Translation of T(o) @ M @ T(-o) @ F: M @ (shift - o) + o.
    a2 = m00 * (shift_x - o_x) + m01 * (shift_y - o_y) + o_x
    b2 = m10 * (shift_x - o_x) + m11 * (shift_y - o_y) + o_y
    zeros = tf.zeros_like(m00)
    return tf.stack(
        [m00 * sign_x, m01 * sign_y, a2, m10 * sign_x, m11 * sign_y, b2, zeros, zeros], axis=1
    )


def _warp(images: tf.Tensor, params: TransformParams) -> tf.Tensor:
    """Resamples the whole batch, bilinear with edge replication like IDG."""
    shape = tf.shape(images)
    matrices = affine_matrices(params, shape[1], shape[2])
    return tf.ensure_shape(_resample(images, matrices), images.shape)


@tf.function(jit_compile=True)
def _resample(images: tf.Tensor, matrices: tf.Tensor) -> tf.Tensor:
    """Bilinear resampling through affine output->input matrices, edges repeated.

    What ImageProjectiveTransformV3 (BILINEAR, fill NEAREST) computes for affine matrices, but
    compiled with XLA: that op works out the source coordinate once per channel on one core and
    was most of the input pipeline's cost (bench/RESULTS.md); this is about 3x cheaper.
    """
    batch = tf.shape(images)[0]
    height, width, channels = tf.shape(images)[1], tf.shape(images)[2], tf.shape(images)[3]
    h, w = tf.cast(height, tf.float32), tf.cast(width, tf.float32)
    ys, xs = tf.meshgrid(tf.range(h), tf.range(w), indexing="ij")
    m = matrices[:, :, None, None]
    x = tf.clip_by_value(m[:, 0] * xs + m[:, 1] * ys + m[:, 2], 0.0, w - 1.0)
    y = tf.clip_by_value(m[:, 3] * xs + m[:, 4] * ys + m[:, 5], 0.0, h - 1.0)
    x0f, y0f = tf.floor(x), tf.floor(y)
    wx, wy = (x - x0f)[..., None], (y - y0f)[..., None]
    x0, y0 = tf.cast(x0f, tf.int32), tf.cast(y0f, tf.int32)
    x1, y1 = tf.minimum(x0 + 1, width - 1), tf.minimum(y0 + 1, height - 1)
    base = (tf.range(batch) * height * width)[:, None, None]
    flat = tf.reshape(images, [-1, channels])

    def pixel(row: tf.Tensor, column: tf.Tensor) -> tf.Tensor:
        return tf.cast(tf.gather(flat, base + row * width + column), tf.float32)

    top = (1 - wx) * pixel(y0, x0) + wx * pixel(y0, x1)
    bottom = (1 - wx) * pixel(y1, x0) + wx * pixel(y1, x1)
    return (1 - wy) * top + wy * bottom


def _per_image(values: tf.Tensor) -> tf.Tensor:
    """Reshapes a (B,) tensor to broadcast over (B, H, W, C)."""
    return tf.reshape(values, [-1, 1, 1, 1])


def _brighten(images: tf.Tensor, brightness: tf.Tensor) -> tf.Tensor:
    """PIL's Brightness enhancer blends with black: multiply, clip to the pixel range."""
    return tf.clip_by_value(images * _per_image(brightness), 0.0, _PIXEL_MAX)


def _contrast(images: tf.Tensor, contrast: tf.Tensor) -> tf.Tensor:
    """Per-image ``tf.image.adjust_contrast`` with a per-image factor, clipped."""
    mean = tf.reduce_mean(images, axis=[1, 2], keepdims=True)
    adjusted = (images - mean) * _per_image(contrast) + mean
    return tf.clip_by_value(adjusted, 0.0, _PIXEL_MAX)


def apply_params(
    images: tf.Tensor, params: TransformParams, spec: AugmentSpec | None = None
) -> tf.Tensor:
    """Applies IDG's transform to a batch: one affine+flip warp, then brightness, then contrast.

    Args:
        images: float32 (B, H, W, C) with pixel values in [0, 255].
        params: Per-image parameters, e.g. from ``sample_params``.
        spec: When given, stages the spec leaves off are skipped at trace time (cheaper);
            when None every stage runs.

    Returns:
        The transformed float32 batch, same shape.
    """
    images = tf.cast(images, tf.float32)
    if spec is None or spec.has_affine:
        images = _warp(images, params)
    if spec is None or spec.brightness_range is not None:
        images = _brighten(images, params.brightness)
    if spec is None or spec.contrast_range is not None:
        images = _contrast(images, params.contrast)
    return images


def augment_batch(images: tf.Tensor, spec: AugmentSpec, seed: tf.Tensor) -> tf.Tensor:
    """Samples parameters for ``seed`` and applies them: the whole augmentation of one batch."""
    if spec.is_identity:
        return images
    images = tf.cast(images, tf.float32)
    params = sample_params(spec, tf.shape(images)[0], seed)
    return apply_params(images, params, spec)


def make_augment_fn(spec: AugmentSpec, seed: int) -> Callable[[tf.Tensor], tf.Tensor]:
    """Returns a batch augmenter for ``tf.data`` whose batches differ but replay for a seed.

    A captured ``tf.random.Generator`` hands each call a fresh stateless seed, so consecutive
    batches (and epochs) differ and the sequence of seeds is fixed by ``seed``. Which batch gets
    which seed is fixed only when calls run in order (eager use, or ``map`` without
    ``num_parallel_calls``): with a parallel map, runs were measured to differ. For a parallel,
    still reproducible pipeline use ``augment_dataset``.

    Args:
        spec: The augmentation knobs.
        seed: Run seed.

    Returns:
        ``fn(images) -> images`` for float (B, H, W, C) batches in [0, 255].
    """
    if spec.is_identity:
        return _identity
    generator = tf.random.Generator.from_seed(seed)

    def augment(images: tf.Tensor) -> tf.Tensor:
        return augment_batch(images, spec, generator.make_seeds(1)[:, 0])

    return augment


def _identity(images: tf.Tensor) -> tf.Tensor:
    """Returns the batch untouched, so an identity spec costs nothing."""
    return images


def augment_dataset(
    dataset: tf.data.Dataset,
    spec: AugmentSpec,
    seed: int,
    num_parallel_calls: int = tf.data.AUTOTUNE,
) -> tf.data.Dataset:
    """Augments the images of a batched dataset in parallel, reproducibly for ``seed``.

    Each batch is zipped with its own seed from ``Dataset.random``, so the result does not depend
    on the order in which parallel map calls run, and ``rerandomize_each_iteration`` gives every
    epoch fresh (still reproducible) transforms.

    Args:
        dataset: Batched dataset of images or of ``(images, *rest)`` tuples.
        spec: The augmentation knobs.
        seed: Run seed.
        num_parallel_calls: Passed to ``Dataset.map``.

    Returns:
        The dataset with augmented images and the other elements unchanged.
    """
    if spec.is_identity:
        return dataset
    seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).batch(2)

    def augment(element: Any, batch_seed: tf.Tensor) -> Any:
        if isinstance(element, tuple):
            return (augment_batch(element[0], spec, batch_seed), *element[1:])
        return augment_batch(element, spec, batch_seed)

    return tf.data.Dataset.zip(dataset, seeds).map(
        augment, num_parallel_calls=num_parallel_calls, deterministic=True
    )


def spec_from_mapping(values: Mapping[str, Any]) -> AugmentSpec:
    """Builds a spec from IDG-style keyword values (e.g. an experiment's JSON config).

    Unknown keys are rejected so a typo cannot silently disable a knob. A scalar zoom_range ``z``
    means ``[1 - z, 1 + z]`` as in IDG, and 0 means off.

    Args:
        values: Mapping of AugmentSpec field names to values; lists become tuples.

    Returns:
        The validated AugmentSpec.
    """
    known = {field.name for field in dataclasses.fields(AugmentSpec)}
    unknown = set(values) - known
    if unknown:
        raise ValueError(f"unknown augmentation keys: {sorted(unknown)}")
    kwargs = dict(values)
    zoom = kwargs.get("zoom_range")
    if isinstance(zoom, int | float):
        # IDG's constructor: a scalar z means [1 - z, 1 + z], so 0 means no zoom.
        kwargs["zoom_range"] = None if zoom == 0 else (1.0 - zoom, 1.0 + zoom)
    return AugmentSpec(**kwargs)


def spec_to_mapping(spec: AugmentSpec) -> dict[str, Any]:
    """JSON-ready dict of the spec (tuples as lists), the inverse of ``spec_from_mapping``."""
    values = dataclasses.asdict(spec)
    return {
        key: list(value) if isinstance(value, tuple) else value for key, value in values.items()
    }


@keras.saving.register_keras_serializable(package="weather_lab")
class RandomAugment(keras.layers.Layer):
    """IDG-style augmentation inside a model, so it runs on the accelerator with training.

    Active only when ``training=True``; at inference it returns its input unchanged. Expects
    (B, H, W, C) pixels in [0, 255] (put any rescaling layer after it, as IDG rescales after
    augmenting). TensorFlow backend only.

    Args:
        spec: The augmentation knobs.
        seed: Seed for the layer's seed generator; None draws one.
        **kwargs: Passed to ``keras.layers.Layer``.
    """

    def __init__(
        self, spec: AugmentSpec | None = None, seed: int | None = None, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.spec = spec or AugmentSpec()
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        # The resampler is XLA-compiled on its own; like Keras's RandomZoom, the layer keeps
        # Keras from compiling the model around its random ops.
        self.supports_jit = False

    def call(self, inputs: tf.Tensor, training: bool | None = None) -> tf.Tensor:
        """Augments when training, passes through otherwise."""
        if not training or self.spec.is_identity:
            return inputs
        augmented = augment_batch(inputs, self.spec, self.seed_generator.next())
        return tf.cast(augmented, inputs.dtype)

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        """Augmentation keeps the shape."""
        return input_shape

    def get_config(self) -> dict[str, Any]:
        """Stores the spec fields flat, so the saved model is plain JSON (safe_mode loads it)."""
        config = super().get_config()
        config.update(spec_to_mapping(self.spec))
        config["seed"] = self.seed
        return config

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> RandomAugment:
        """Rebuilds the spec from the flat fields written by ``get_config``."""
        config = dict(config)
        names = [field.name for field in dataclasses.fields(AugmentSpec)]
        spec_values = {name: config.pop(name) for name in names if name in config}
        return cls(spec=spec_from_mapping(spec_values), **config)
