"""Uploads: what decode_upload refuses (one ImageError naming the file) and the pixels it gives.

Every file is made here, in memory: no binary fixtures.
"""

from __future__ import annotations

import struct
import time
import zlib
from io import BytesIO
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, ImageFile

from data.images import (
    MAX_UPLOAD_BYTES,
    ImageError,
    decode_upload,
    load_image_for_prediction,
    to_rgb,
)

ACCEPTED = "JPEG, PNG, WebP, BMP or GIF"


def _encode(image: Image.Image, fmt: str, **options: Any) -> bytes:
    buffer = BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _refusal(data: bytes, name: str) -> str:
    with pytest.raises(ImageError) as error:
        decode_upload(data, name)
    return str(error.value)


def _colours(pixels: np.ndarray) -> list[tuple[int, ...]]:
    """The distinct RGB values of an image, sorted."""
    return sorted({tuple(int(v) for v in p) for p in pixels.reshape(-1, 3)})


# ---- refused ----


def test_zero_bytes_are_refused() -> None:
    """An empty file is refused as empty."""
    assert _refusal(b"", "empty.jpg") == "empty.jpg: the file is empty (0 bytes)"


def test_random_bytes_are_refused() -> None:
    """Noise is refused with the accepted formats named."""
    noise = b"\x00" + np.random.default_rng(0).bytes(4095)
    assert _refusal(noise, "noise.png") == f"noise.png: not a {ACCEPTED} image"


def test_text_named_jpg_is_refused() -> None:
    """A text file called .jpg is recognised as text: the content decides, not the name."""
    message = _refusal(b"just some notes\nnot a photo\n", "notes.jpg")
    assert message == f"notes.jpg: text, not a {ACCEPTED} image"


def test_truncated_jpeg_is_refused() -> None:
    """A JPEG cut short is refused as truncated, never decoded with grey filler."""
    pixels = np.random.default_rng(1).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    data = _encode(Image.fromarray(pixels), "JPEG")
    assert _refusal(data[: len(data) // 2], "cut.jpg").startswith(
        "cut.jpg: truncated: the JPEG data ends early"
    )


def test_png_with_a_bad_crc_is_refused() -> None:
    """A PNG whose IDAT checksum is wrong is refused, though Pillow alone would decode it."""
    data = bytearray(_encode(Image.new("RGB", (16, 16), (1, 2, 3)), "PNG"))
    idat = data.index(b"IDAT")
    length = int.from_bytes(data[idat - 4 : idat], "big")
    data[idat + 4 + length] ^= 0xFF  # first byte of the IDAT's CRC
    assert _refusal(bytes(data), "bad.png") == (
        "bad.png: damaged PNG: bad checksum (CRC) in its IDAT chunk"
    )


def test_decompression_bomb_is_refused_from_the_header(monkeypatch: pytest.MonkeyPatch) -> None:
    """A 20,000 x 20,000 PNG (a few KB) is refused at once, without decoding a pixel."""
    width = height = 20_000
    row = b"\x00" + bytes(width // 8)  # filter byte + one bit per pixel, all black
    packer = zlib.compressobj(9)
    idat = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    bomb = (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", idat)
        + _chunk(b"IEND", b"")
    )
    loads: list[object] = []
    real_load = ImageFile.ImageFile.load

    def spy(image: ImageFile.ImageFile) -> Any:
        loads.append(image)
        return real_load(image)

    monkeypatch.setattr(ImageFile.ImageFile, "load", spy)
    start = time.perf_counter()
    message = _refusal(bomb, "bomb.png")
    assert len(bomb) < 100_000
    assert message.startswith("bomb.png: too large to decode safely: Image size (400000000 pixels)")
    assert loads == []  # no pixel buffer was ever allocated
    assert time.perf_counter() - start < 0.5


def test_image_wider_than_the_side_cap_is_refused() -> None:
    """A 12,001 x 8 strip (under the pixel cap) is refused by the 12,000 px side cap."""
    message = _refusal(_encode(Image.new("L", (12_001, 8)), "PNG"), "strip.png")
    assert message == (
        "strip.png: too large: 12001x8 px (limit 12,000 px a side and 89,478,485 px in all)"
    )


def test_one_pixel_image_is_refused_as_too_small() -> None:
    """A 1 x 1 image is too small to be a photo."""
    message = _refusal(_encode(Image.new("RGB", (1, 1)), "PNG"), "dot.png")
    assert message == "dot.png: too small: 1x1 px; images need at least 8 px a side"


def test_svg_is_refused() -> None:
    """An SVG drawing is named as such and refused: Pillow must never see vector formats."""
    svg = b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="9" height="9"/>'
    assert _refusal(svg, "logo.png") == f"logo.png: an SVG drawing, not a {ACCEPTED} image"


def test_tiff_is_refused() -> None:
    """A TIFF, a real image that Pillow could read, is outside the allowlist."""
    tiff = _encode(Image.new("RGB", (16, 16)), "TIFF")
    assert _refusal(tiff, "scan.jpg") == f"scan.jpg: a TIFF image, not a {ACCEPTED} image"


def test_file_over_the_size_cap_is_refused() -> None:
    """One byte over 10 MB is refused before any parsing."""
    assert _refusal(bytes(MAX_UPLOAD_BYTES + 1), "huge.jpg") == (
        "huge.jpg: the file is 10,485,761 bytes; uploads are limited to 10 MB (10,485,760 bytes)"
    )


def test_prediction_names_the_upload_in_its_error() -> None:
    """load_image_for_prediction passes the file name into the error."""
    with pytest.raises(ImageError, match=r"^holiday\.jpg: the file is empty"):
        load_image_for_prediction(b"", 16, name="holiday.jpg")


# ---- decoded ----


def test_sixteen_bit_png_is_scaled_not_clipped() -> None:
    """16-bit greyscale keeps its top 8 bits: 65535 -> 255, 32768 -> 128, 256 -> 1, 255 -> 0."""
    values = np.array([0, 255, 256, 32768, 65535, 65535, 65535, 65535], dtype=np.uint16)
    data = _encode(Image.fromarray(np.tile(values, (8, 1))), "PNG")
    assert Image.open(BytesIO(data)).mode == "I;16"
    pixels = decode_upload(data, "depth.png")
    assert pixels.dtype == np.uint8 and pixels.shape == (8, 8, 3)
    assert pixels[0, :5].tolist() == [[v] * 3 for v in (0, 0, 1, 128, 255)]


def test_cmyk_jpeg_becomes_rgb() -> None:
    """A CMYK JPEG (Adobe, as Photoshop writes them) gives the RGB its inks stand for."""
    red = _encode(Image.new("CMYK", (16, 16), (0, 255, 255, 0)), "JPEG", quality=100)
    teal = _encode(Image.new("CMYK", (16, 16), (255, 0, 0, 64)), "JPEG", quality=100)
    assert _colours(decode_upload(red, "red.jpg")) == [(255, 0, 0)]
    assert _colours(decode_upload(teal, "teal.jpg")) == [(0, 191, 191)]


def test_palette_png_transparency_becomes_white() -> None:
    """Pixels of a palette PNG's transparent index come out white, the others exact."""
    image = Image.new("P", (8, 8), 0)
    image.putpalette([10, 20, 30, 200, 100, 50] + [0] * 762)
    image.paste(1, (0, 0, 8, 4))  # top half index 1, bottom half index 0
    pixels = decode_upload(_encode(image, "PNG", transparency=0), "badge.png")
    assert _colours(pixels[:4]) == [(200, 100, 50)]
    assert _colours(pixels[4:]) == [(255, 255, 255)]


def test_animated_gif_gives_its_first_frame() -> None:
    """Of a red-then-blue animation, only the red first frame is read."""
    frames = [Image.new("RGB", (8, 8), colour) for colour in ((255, 0, 0), (0, 0, 255))]
    data = _encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100)
    assert Image.open(BytesIO(data)).n_frames == 2
    assert _colours(decode_upload(data, "blink.gif")) == [(255, 0, 0)]


def test_exif_rotated_jpeg_is_turned_upright() -> None:
    """Orientation 6 (turn 90 degrees clockwise): a 32x16 stored image comes out 16x32."""
    stored = np.zeros((16, 32), np.uint8)
    stored[:, 16:] = 255  # left half black, right half white, on 8x8 block edges
    exif = Image.Exif()
    exif[0x0112] = 6
    data = _encode(Image.fromarray(stored).convert("RGB"), "JPEG", quality=100, exif=exif)
    pixels = decode_upload(data, "phone.jpg")
    assert pixels.shape == (32, 16, 3)
    assert _colours(pixels[:16]) == [(0, 0, 0)]  # the left half is now on top
    assert _colours(pixels[16:]) == [(255, 255, 255)]


@pytest.mark.parametrize(
    ("mode", "value", "expected"),
    [
        ("1", 1, (255, 255, 255)),
        ("L", 100, (100, 100, 100)),
        ("LA", (100, 255), (100, 100, 100)),
        ("LA", (100, 0), (255, 255, 255)),
        ("LA", (0, 128), (127, 127, 127)),
        ("RGBA", (200, 0, 0, 128), (227, 127, 127)),
        ("RGBA", (10, 20, 30, 255), (10, 20, 30)),
        ("CMYK", (0, 255, 255, 0), (255, 0, 0)),
        ("I;16", 65535, (255, 255, 255)),
        ("I;16", 32768, (128, 128, 128)),
        ("I", 65535, (255, 255, 255)),
        ("I", 32768, (128, 128, 128)),
        ("F", 0.5, (128, 128, 128)),
        ("F", 1.0, (255, 255, 255)),
    ],
)
def test_every_mode_becomes_the_expected_rgb(
    mode: str, value: int | float | tuple[int, ...], expected: tuple[int, int, int]
) -> None:
    """Each Pillow mode converts to the exact RGB documented in to_rgb (alpha over white)."""
    assert _colours(to_rgb(Image.new(mode, (8, 8), value))) == [expected]


@pytest.mark.parametrize("mode", ["I", "F"])
def test_wide_range_images_are_scaled_from_their_own_range(mode: str) -> None:
    """An "I" or "F" image outside 0..65535 / 0..1 maps its min..max to 0..255, no clipping."""
    values = np.array([[-1000.0, 0.0, 1000.0, 3000.0] * 2] * 8)
    image = Image.fromarray(values.astype(np.int32 if mode == "I" else np.float32))
    assert image.mode == mode
    assert to_rgb(image)[0, :4, 0].tolist() == [0, 64, 128, 255]


def test_palette_png_without_transparency_keeps_its_colours() -> None:
    """A plain palette PNG gives its palette's colours exactly."""
    image = Image.new("P", (8, 8), 1)
    image.putpalette([10, 20, 30, 200, 100, 50] + [0] * 762)
    assert _colours(decode_upload(_encode(image, "PNG"), "plain.png")) == [(200, 100, 50)]


# ---- any bytes at all ----


def _valid(fmt: str) -> bytes:
    pixels = np.random.default_rng(7).integers(0, 256, (12, 12, 3), dtype=np.uint8)
    return _encode(Image.fromarray(pixels), fmt)


_HEADERS = st.sampled_from(
    [
        b"\x89PNG\r\n\x1a\n",
        _valid("PNG")[:33],  # signature + a valid IHDR
        b"\xff\xd8\xff",
        _valid("JPEG")[:20],  # SOI + APP0
        b"GIF89a",
        b"BM",
        b"RIFF\x00\x00\x00\x00WEBPVP8 ",
    ]
)
_VALID_FILES = st.sampled_from([_valid(fmt) for fmt in ("PNG", "JPEG", "GIF", "BMP", "WEBP")])


def _only_image_errors(data: bytes) -> None:
    try:
        pixels = load_image_for_prediction(data, 8, name="fuzz.bin")
    except ImageError as error:
        assert str(error).startswith("fuzz.bin: ")
    else:
        assert pixels.shape == (8, 8, 3) and pixels.dtype == np.float32


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2048))
def test_arbitrary_bytes_raise_only_image_error(data: bytes) -> None:
    """Any bytes give pixels or an ImageError naming the file, never another exception."""
    _only_image_errors(data)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_HEADERS, st.binary(max_size=2048))
def test_valid_headers_then_garbage_raise_only_image_error(header: bytes, tail: bytes) -> None:
    """A real PNG/JPEG/GIF/BMP/WebP header followed by anything still gives only ImageError."""
    _only_image_errors(header + tail)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_VALID_FILES, st.integers(min_value=0, max_value=4095), st.binary(min_size=1, max_size=16))
def test_damaged_valid_files_raise_only_image_error(data: bytes, at: int, patch: bytes) -> None:
    """A valid small image with a few bytes overwritten gives pixels or an ImageError."""
    position = at % len(data)
    _only_image_errors(data[:position] + patch + data[position + len(patch) :])
