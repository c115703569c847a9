"""One image in, one model-ready tensor out: the same resize for training and for prediction.

Training decodes files with TensorFlow inside tf.data; prediction decodes uploaded bytes with
Pillow (it understands EXIF orientation). Both go through ``resize_image``, so a model sees
the same pixels for the same picture either way.
"""

from __future__ import annotations

from io import BytesIO

import numpy as np
import tensorflow as tf
from PIL import Image, ImageOps

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp"})


class ImageError(ValueError):
    """Bytes that are not an image we can read; the message says what was expected."""


def resize_image(image: tf.Tensor, image_size: int) -> tf.Tensor:
    """Resize a uint8 (H, W, 3) image to (S, S, 3) uint8, the one resize both paths share.

    Bilinear with antialiasing, because photos are usually shrunk a lot and plain bilinear
    aliases; rounded rather than truncated so the uint8 cache does not darken images.
    """
    resized = tf.image.resize(image, (image_size, image_size), method="bilinear", antialias=True)
    return tf.cast(tf.clip_by_value(tf.round(resized), 0.0, 255.0), tf.uint8)


def decode_image(path: tf.Tensor, image_size: int) -> tf.Tensor:
    """Read and decode one image file inside tf.data, as uint8 (S, S, 3).

    JPEG, PNG, BMP, GIF (first frame) and WebP; greyscale and alpha become 3 channels.
    """
    contents = tf.io.read_file(path)
    image = tf.cond(
        tf.io.is_jpeg(contents),
        # Pillow's accurate integer DCT: TF's default fast DCT differs by up to 5 levels,
        # which would make predictions see slightly different pixels than training did.
        lambda: tf.io.decode_jpeg(contents, channels=3, dct_method="INTEGER_ACCURATE"),
        lambda: tf.io.decode_image(contents, channels=3, dtype=tf.uint8, expand_animations=False),
    )
    image.set_shape((None, None, 3))
    return resize_image(image, image_size)


def load_image_for_prediction(data: bytes, image_size: int) -> np.ndarray:
    """Turn uploaded bytes into the float32 (S, S, 3) pixels in [0, 255] the model takes.

    The stored model rescales to [0, 1] itself, exactly as it did in training.

    Raises:
        ImageError: when Pillow cannot read the bytes as an image.
    """
    pixels = _pillow_rgb(data)
    resized = resize_image(tf.convert_to_tensor(pixels), image_size)
    return resized.numpy().astype(np.float32)


def _pillow_rgb(data: bytes) -> np.ndarray:
    """Decode with Pillow: upright per EXIF, first frame of an animation, RGB uint8."""
    try:
        with Image.open(BytesIO(data)) as image:
            image.seek(0)
            upright = ImageOps.exif_transpose(image)
            return np.asarray(upright.convert("RGB"), dtype=np.uint8)
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        # Pillow signals unreadable data with several types; the caller needs only one.
        raise ImageError(
            f"cannot read the upload as an image (JPEG, PNG, BMP, GIF or WebP): {exc}"
        ) from exc
