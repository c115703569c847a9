"""One image in, one model-ready tensor out: the same resize for training and for prediction.

Training decodes files with TensorFlow inside tf.data; prediction decodes uploaded bytes with
Pillow (it understands EXIF orientation). Both go through ``resize_image``, so a model sees
the same pixels for the same picture either way.

Every byte that reaches Pillow may come from anyone, so reading is strict: the format is
chosen by content from a short allowlist, the size is checked from the header before any
pixel is decoded, truncated files and PNGs with a bad checksum are refused, and every failure
is one ``ImageError`` that names the file and says why. ``check_training_image`` holds dataset
files to one more rule: TensorFlow must decode them to the pixels prediction would see.
"""

from __future__ import annotations

import re
import warnings
import zlib
from enum import StrEnum
from io import BytesIO

import numpy as np
import tensorflow as tf
from PIL import Image

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp"})
# Pillow plugin names; Image.open tries only these, whatever the file is called.
ACCEPTED_FORMATS = ("JPEG", "PNG", "WEBP", "BMP", "GIF")
ACCEPTED_NAMES = "JPEG, PNG, WebP, BMP or GIF"
MAX_UPLOAD_BYTES = 10 * 1024 * 1024  # the dashboard's maxUploadSize (.streamlit/config.toml)
MAX_SIDE = 12_000  # pixels a side; Image.MAX_IMAGE_PIXELS (~89.5 M) caps the area
MIN_SIDE = 8
# Training and prediction may differ by this many levels per channel and still count as the
# same picture: rounding, never a different reading of the file.
PIXEL_TOLERANCE = 2
# Bump with any change to what check_training_image accepts or refuses: the dataset file
# cache (data/filecache.py) then re-checks every file instead of trusting old verdicts.
CHECK_RULES_VERSION = 1

_ORIENTATION_TAG = 0x0112
_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
_ALPHA_MODES = frozenset({"RGBA", "RGBa", "LA", "La", "PA"})
_SIXTEEN_BIT_MODES = frozenset({"I;16", "I;16L", "I;16B", "I;16N"})
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_JPEG_SOI = b"\xff\xd8\xff"  # exactly what tf.io.is_jpeg tests
# Signatures named in refusals, so "photo.jpg" that is really a TIFF says so.
_SIGNATURES = (
    (_PNG_SIGNATURE, "PNG"),
    (_JPEG_SOI, "JPEG"),
    (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"),
    (b"BM", "BMP"),
)
_OTHER_IMAGES = (
    (b"II*\x00", "a TIFF image"),
    (b"MM\x00*", "a TIFF image"),
    (b"\x00\x00\x01\x00", "an ICO icon"),
    (b"\xff\x4f\xff\x51", "a JPEG 2000 image"),
    (b"\x00\x00\x00\x0cjP  ", "a JPEG 2000 image"),
)
_ISO_BRANDS = {
    b"heic": "a HEIC photo",
    b"heix": "a HEIC photo",
    b"mif1": "a HEIF image",
    b"avif": "an AVIF image",
    b"avis": "an AVIF image",
}


class ImageProblem(StrEnum):
    """Why an image was refused, as the dataset scan sorts them."""

    CORRUPT = "corrupt"  # unreadable, truncated, damaged, or not an image at all
    UNSUPPORTED = "unsupported"  # a real image, but too large, another format, or mis-decoded
    TOO_SMALL = "too_small"  # under MIN_SIDE pixels a side


class ImageError(ValueError):
    """Bytes that are not an image we can use; ``str()`` is ``"<name>: <reason>"``."""

    def __init__(
        self, name: str, reason: str, problem: ImageProblem = ImageProblem.CORRUPT
    ) -> None:
        # All three in args, so the error pickles and compares like any exception.
        super().__init__(name, reason, problem)
        self.name = name
        self.reason = reason
        self.problem = problem

    def __str__(self) -> str:
        return f"{self.name}: {self.reason}"


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
    Files that ``check_training_image`` accepted decode to the pixels prediction sees.
    """
    return resize_image(_tf_decode(tf.io.read_file(path)), image_size)


def load_image_for_prediction(data: bytes, image_size: int, name: str = "upload") -> np.ndarray:
    """Turn uploaded bytes into the float32 (S, S, 3) pixels in [0, 255] the model takes.

    The stored model rescales to [0, 1] itself, exactly as it did in training.

    Args:
        data: the uploaded file's bytes.
        image_size: the model's input side.
        name: the file name, for error messages.

    Raises:
        ImageError: the bytes are not an image we accept (see ``decode_upload``).
    """
    pixels = decode_upload(data, name)
    resized = resize_image(tf.convert_to_tensor(pixels), image_size)
    return resized.numpy().astype(np.float32)


def decode_upload(data: bytes, name: str) -> np.ndarray:
    """Decode an uploaded file to upright uint8 RGB (H, W, 3), refusing anything doubtful.

    At most ``MAX_UPLOAD_BYTES``; JPEG, PNG, WebP, BMP or GIF by content, not by name; at
    most ``MAX_SIDE`` pixels a side and ``Image.MAX_IMAGE_PIXELS`` in all, checked from the
    header before decoding; at least ``MIN_SIDE`` a side; complete (no truncation, PNG
    checksums intact). The EXIF orientation is applied and an animation gives its first
    frame. Colours become RGB as ``to_rgb`` describes (transparency over white).

    Args:
        data: the file's bytes.
        name: the file name, used in error messages only.

    Raises:
        ImageError: one per refusal, naming ``name`` and the reason.
    """
    if len(data) > MAX_UPLOAD_BYTES:
        raise ImageError(
            name,
            f"the file is {len(data):,} bytes; uploads are limited to "
            f"{MAX_UPLOAD_BYTES // 2**20} MB ({MAX_UPLOAD_BYTES:,} bytes)",
            ImageProblem.UNSUPPORTED,
        )
    image = read_image(data, name)
    return to_rgb(_upright(image), name)


def read_image(data: bytes, name: str) -> Image.Image:
    """Open bytes as an accepted format, check the header's size, then decode the first frame.

    Raises:
        ImageError: empty, not an accepted format, damaged, truncated, too large or too
            small.
    """
    if not data:
        raise ImageError(name, "the file is empty (0 bytes)")
    with warnings.catch_warnings():
        # Pillow only warns between MAX_IMAGE_PIXELS and twice that; refuse it too. The
        # filter is process-wide and not thread-safe, so _check_size repeats the check.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = Image.open(BytesIO(data), formats=ACCEPTED_FORMATS)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise ImageError(
                name, f"too large to decode safely: {exc}", ImageProblem.UNSUPPORTED
            ) from exc
        except Exception as exc:
            # Hostile bytes make Pillow's parsers raise many types (Pillow's own fuzzing
            # harness catches Exception for the same reason); all mean "not readable".
            raise ImageError(name, *_unidentified(data)) from exc
        _check_size(image, name)
        if image.format == "PNG":
            _check_png_chunks(data, name)
        try:
            image.load()
        except Exception as exc:
            raise ImageError(name, _load_reason(image, exc)) from exc
    return image


def to_rgb(image: Image.Image, name: str = "image") -> np.ndarray:
    """Any Pillow mode as uint8 RGB (H, W, 3).

    Transparency (RGBA, LA, PA, or a palette/greyscale/RGB image with a transparent colour)
    is composited over white. 16-bit greyscale keeps its top 8 bits (65535 -> 255, as
    TensorFlow converts 16-bit PNGs); 32-bit integer ("I") and float ("F") images are
    scaled from their range to 0..255 (see ``_scale_to_uint8``). "1", "L", "P", "CMYK" and
    the rest use Pillow's conversion.

    Raises:
        ImageError: Pillow cannot convert the image's colours.
    """
    try:
        if image.mode in _SIXTEEN_BIT_MODES or image.mode in ("I", "F"):
            return _grey_to_rgb(_scale_to_uint8(np.asarray(image), image.mode))
        if image.mode in _ALPHA_MODES or "transparency" in image.info:
            rgba = image.convert("RGBA")
            white = Image.new("RGBA", image.size, (255, 255, 255, 255))
            return np.asarray(Image.alpha_composite(white, rgba).convert("RGB"), dtype=np.uint8)
        return np.asarray(image.convert("RGB"), dtype=np.uint8)
    except Exception as exc:  # Pillow on odd metadata (a bad transparency entry, ...)
        raise ImageError(
            name, f"cannot convert its colours (mode {image.mode}) to RGB: {exc}"
        ) from exc


def check_training_image(data: bytes, name: str) -> None:
    """Refuse a dataset file unless TensorFlow decodes it to the pixels prediction would see.

    Runs ``read_image``'s checks, then decodes the file both ways (Pillow as in
    ``decode_upload``, TensorFlow as in ``decode_image``) and compares them.

    Raises:
        ImageError: with ``problem`` CORRUPT, TOO_SMALL or UNSUPPORTED.
    """
    image = read_image(data, name)
    expected = to_rgb(_upright(image), name)
    _check_frames(image, name)  # before TensorFlow decodes them all
    contents = tf.constant(data)
    # The branch tf.io.is_jpeg picks in the pipeline, chosen in Python: a third faster here.
    decode = _tf_decode_jpeg if data.startswith(_JPEG_SOI) else _tf_decode_other
    try:
        actual = decode(contents).numpy()
    except tf.errors.OpError as exc:
        reason = _tf_reason(image, f"TensorFlow cannot decode it: {_op_message(exc)}")
        raise ImageError(name, reason, ImageProblem.UNSUPPORTED) from exc
    if actual.shape != expected.shape:
        tf_size = f"{actual.shape[1]}x{actual.shape[0]}"
        pillow_size = f"{expected.shape[1]}x{expected.shape[0]}"
        reason = _tf_reason(
            image, f"TensorFlow reads it as {tf_size} px, Pillow as {pillow_size} px"
        )
        raise ImageError(name, reason, ImageProblem.UNSUPPORTED)
    difference = _max_difference(actual, expected)
    if difference > PIXEL_TOLERANCE:
        reason = _tf_reason(
            image, f"TensorFlow and Pillow read it {difference} levels apart; save it as PNG"
        )
        raise ImageError(name, reason, ImageProblem.UNSUPPORTED)


def _upright(image: Image.Image) -> Image.Image:
    """The image turned as its EXIF orientation says (a no-op without one)."""
    method = _TRANSPOSE.get(_exif_orientation(image))
    return image if method is None else image.transpose(method)


def _exif_orientation(image: Image.Image) -> int:
    """The EXIF (or XMP) orientation, 1..8; 1 when absent, invalid or unreadable."""
    try:
        value = image.getexif().get(_ORIENTATION_TAG, 1)
    except Exception:
        return 1  # damaged metadata: read the picture as stored, as TensorFlow does
    return value if value in _TRANSPOSE else 1


def _has_transparency(image: Image.Image) -> bool:
    """Whether any pixel is less than fully opaque (decodes the alpha; call after checks)."""
    if image.mode not in _ALPHA_MODES and "transparency" not in image.info:
        return False
    alpha = np.asarray(image.convert("RGBA").getchannel("A"))
    return bool(alpha.size) and int(alpha.min()) < 255


def _max_difference(first: np.ndarray, second: np.ndarray) -> int:
    """Largest per-channel gap between two uint8 images, a band of rows at a time (a photo
    near the pixel cap would otherwise need gigabytes of temporaries)."""
    worst = 0
    for top in range(0, first.shape[0], 256):
        a, b = first[top : top + 256], second[top : top + 256]
        worst = max(worst, int((np.maximum(a, b) - np.minimum(a, b)).max(initial=0)))
    return worst


def _tf_decode(contents: tf.Tensor) -> tf.Tensor:
    """TensorFlow's decode of file bytes to uint8 (H, W, 3), the one training uses."""
    image = tf.cond(
        tf.io.is_jpeg(contents),
        lambda: _tf_decode_jpeg(contents),
        lambda: _tf_decode_other(contents),
    )
    image.set_shape((None, None, 3))
    return image


def _tf_decode_jpeg(contents: tf.Tensor) -> tf.Tensor:
    # Pillow's accurate integer DCT: TF's default fast DCT differs by up to 5 levels,
    # which would make predictions see slightly different pixels than training did.
    return tf.io.decode_jpeg(contents, channels=3, dct_method="INTEGER_ACCURATE")


def _tf_decode_other(contents: tf.Tensor) -> tf.Tensor:
    # PNG, GIF (first frame), BMP and WebP; greyscale and alpha become 3 channels.
    return tf.io.decode_image(contents, channels=3, dtype=tf.uint8, expand_animations=False)


def _check_size(image: Image.Image, name: str) -> None:
    width, height = image.size
    limit = Image.MAX_IMAGE_PIXELS
    if width > MAX_SIDE or height > MAX_SIDE or (limit is not None and width * height > limit):
        raise ImageError(
            name,
            f"too large: {width}x{height} px (limit {MAX_SIDE:,} px a side and "
            f"{limit or 0:,} px in all)",
            ImageProblem.UNSUPPORTED,
        )
    if width < MIN_SIDE or height < MIN_SIDE:
        raise ImageError(
            name,
            f"too small: {width}x{height} px; images need at least {MIN_SIDE} px a side",
            ImageProblem.TOO_SMALL,
        )


def _check_png_chunks(data: bytes, name: str) -> None:
    """Every chunk's CRC up to IEND: Pillow skips some (IDAT, IEND), libpng refuses them."""
    view = memoryview(data)
    position = len(_PNG_SIGNATURE)
    while position + 12 <= len(data):
        length = int.from_bytes(view[position : position + 4], "big")
        end = position + 12 + length
        if end > len(data):
            break
        kind = bytes(view[position + 4 : position + 8])
        if zlib.crc32(view[position + 4 : end - 4]) != int.from_bytes(view[end - 4 : end], "big"):
            label = kind.decode("latin-1", "replace")
            raise ImageError(name, f"damaged PNG: bad checksum (CRC) in its {label} chunk")
        if kind == b"IEND":
            return
        position = end
    raise ImageError(name, "truncated: the PNG ends before its IEND chunk")


def _check_frames(image: Image.Image, name: str) -> None:
    """TensorFlow decodes every GIF frame even when it keeps only the first: cap them all."""
    if image.format != "GIF":
        return
    limit = Image.MAX_IMAGE_PIXELS or 0
    try:
        frames = int(getattr(image, "n_frames", 1))  # walks the frame headers, decodes none
    except Exception as exc:
        raise ImageError(name, f"damaged GIF: its frames cannot be counted ({exc})") from exc
    width, height = image.size
    if limit and frames * width * height > limit:
        raise ImageError(
            name,
            f"a {frames}-frame animation of {width}x{height} px: TensorFlow decodes every "
            f"frame (over {limit:,} px in all); keep only the first frame",
            ImageProblem.UNSUPPORTED,
        )


def _scale_to_uint8(values: np.ndarray, mode: str) -> np.ndarray:
    """16-bit: the top 8 bits. "I": as 16-bit when it fits 0..65535, else min..max. "F": x255
    when it fits 0..1, else min..max. Always a scaling of the range, never a clip."""
    if mode in _SIXTEEN_BIT_MODES:
        return (values.astype(np.uint32) >> 8).astype(np.uint8)
    data = np.nan_to_num(values.astype(np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    low, high = (float(data.min()), float(data.max())) if data.size else (0.0, 0.0)
    if mode == "I" and low >= 0 and high <= 65535:
        return (data.astype(np.uint32) >> 8).astype(np.uint8)
    if mode == "F" and low >= 0 and high <= 1:
        return np.round(data * 255).astype(np.uint8)
    if high == low:
        return np.zeros(data.shape, dtype=np.uint8)
    return np.round((data - low) * (255 / (high - low))).astype(np.uint8)


def _grey_to_rgb(grey: np.ndarray) -> np.ndarray:
    return np.repeat(grey[..., np.newaxis], 3, axis=-1)


def _sniffed(data: bytes) -> tuple[str | None, str | None]:
    """(accepted format its signature claims, or another kind of file) from the first bytes."""
    for signature, accepted in _SIGNATURES:
        if data.startswith(signature):
            return accepted, None
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WebP", None
    for signature, other in _OTHER_IMAGES:
        if data.startswith(signature):
            return None, other
    if data[4:8] == b"ftyp":
        return None, _ISO_BRANDS.get(data[8:12], "an ISO media file (HEIC, AVIF, MP4, ...)")
    head = data[:4096].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if head.startswith(b"<") and b"<svg" in head:
        return None, "an SVG drawing"
    if head.startswith(b"%pdf"):
        return None, "a PDF document"
    if _looks_like_text(data[:4096]):
        return None, "text"
    return None, None


def _looks_like_text(head: bytes) -> bool:
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return all(ch.isprintable() or ch in "\r\n\t" for ch in text)


def _unidentified(data: bytes) -> tuple[str, ImageProblem]:
    """Reason and problem for bytes Pillow could not open as an accepted format."""
    accepted, other = _sniffed(data)
    if accepted is not None:
        return f"damaged {accepted}: its header cannot be read", ImageProblem.CORRUPT
    if other is None:
        return f"not a {ACCEPTED_NAMES} image", ImageProblem.CORRUPT
    # A TIFF or a HEIC photo is a real image in another format; text or a PDF is not.
    is_image = other not in ("text", "a PDF document")
    problem = ImageProblem.UNSUPPORTED if is_image else ImageProblem.CORRUPT
    return f"{other}, not a {ACCEPTED_NAMES} image", problem


def _op_message(exc: tf.errors.OpError) -> str:
    """TensorFlow's error text without the op and device decorations."""
    text = re.sub(r"\{\{.*?\}\}\s*", "", exc.message)
    return re.sub(r"\s*\[Op:.*$", "", text, flags=re.DOTALL).strip() or type(exc).__name__


def _load_reason(image: Image.Image, exc: Exception) -> str:
    text = str(exc)
    if "truncated" in text.lower():
        return f"truncated: the {image.format} data ends early ({text})"
    return f"damaged {image.format} data ({text or type(exc).__name__})"


def _tf_reason(image: Image.Image, detail: str) -> str:
    """Why TensorFlow's reading differs, for the cases measured on TF 2.21; else ``detail``."""
    orientation = _exif_orientation(image)
    if orientation != 1:
        return (
            f"EXIF orientation {orientation}: TensorFlow ignores it and would train on the "
            "picture turned; save it upright"
        )
    if image.format == "WEBP" and getattr(image, "n_frames", 1) > 1:
        return "an animated WebP: TensorFlow cannot decode it; save its first frame"
    if image.format == "WEBP" and image.mode in _ALPHA_MODES:
        return "a WebP with an alpha channel: TensorFlow cannot decode it; save it without alpha"
    if image.format == "BMP" and image.mode == "1":
        return "a 1-bit BMP: TensorFlow cannot decode it; save it as 24-bit BMP or PNG"
    if image.format == "BMP" and image.mode == "P":
        return "a palette BMP: TensorFlow ignores BMP palettes; save it as 24-bit BMP or PNG"
    if _has_transparency(image):
        return (
            "transparent pixels: TensorFlow ignores transparency, so training would see other "
            "colours there than prediction (white); save it without transparency"
        )
    return detail
