"""A procedural stand-in for the Multi-class Weather Dataset, so the lab runs with no download.

The pictures are painted with numpy: a sky gradient, a sun, clouds, rain streaks and a ground
band. Classes share colours and textures on purpose, so optimizers and architectures give
different learning curves instead of all reaching 100% after one epoch.

Usage: ``python -m data.sample [--out DIR] [--size PX] [--per-class N] [--seed S] [--force]``
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import secrets
import shutil
import sys
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

# The real dataset's class sizes, so the default sample splits like the study's data.
CLASS_COUNTS: dict[str, int] = {"cloudy": 300, "rain": 215, "shine": 253, "sunrise": 357}
DEFAULT_OUT = Path("var/data/weather-sample")
MIN_SIZE = 16
MAX_SIZE = 2048
JPEG_QUALITY = 90
# Hidden, so the dataset loader never sees it; records the arguments that made the set.
MANIFEST_NAME = ".sample.json"
# Bump when the painting changes, so an old set is not mistaken for a current one.
PAINTER_VERSION = 1

RGB = tuple[float, float, float]
Float = np.float32

# (sky at the top, sky at the horizon); each class's mean, jittered per image.
_SKY: dict[str, tuple[RGB, RGB]] = {
    "cloudy": ((0.52, 0.58, 0.66), (0.74, 0.76, 0.79)),
    "rain": ((0.36, 0.38, 0.42), (0.54, 0.56, 0.59)),
    "shine": ((0.16, 0.42, 0.85), (0.62, 0.78, 0.95)),
    "sunrise": ((0.24, 0.18, 0.42), (0.98, 0.58, 0.32)),
}
# Which class's sky an image may partly borrow: the deliberate overlap between classes.
_LOOKALIKES: dict[str, tuple[str, ...]] = {
    "cloudy": ("rain", "shine"),
    "rain": ("cloudy",),
    "shine": ("cloudy", "sunrise"),
    "sunrise": ("shine", "cloudy"),
}
_RAIN_COLOUR = np.array([0.78, 0.8, 0.84], Float).reshape(3, 1, 1)
_GROUNDS: tuple[RGB, ...] = (
    (0.22, 0.38, 0.16),  # grass
    (0.50, 0.42, 0.22),  # field
    (0.38, 0.36, 0.34),  # rock
    (0.18, 0.18, 0.20),  # town
    (0.80, 0.82, 0.85),  # snow
)


class SampleError(ValueError):
    """Arguments or an output folder the generator cannot use; the message says which."""


@dataclass(frozen=True)
class _Scene:
    """What one picture shows; drawn per class with overlapping ranges."""

    sky_top: np.ndarray
    sky_horizon: np.ndarray
    horizon: float  # fraction of the height where the ground starts
    hills: float  # amplitude of the skyline, as a fraction of the height
    sun: tuple[float, float, float] | None  # (x, y, radius) in fractions of the size
    sun_colour: np.ndarray
    glow: float
    cloud_cover: float
    cloud_colour: np.ndarray
    rain: float  # streak strength, 0 for none
    ground: np.ndarray
    light: np.ndarray  # how the class's light tints the ground


def generate(
    out: Path,
    *,
    size: int = 256,
    per_class: int | None = None,
    seed: int = 0,
    force: bool = False,
    processes: int = 1,
) -> dict[str, int]:
    """Write the sample dataset as ``out/<class>/<class>0001.jpg`` and return counts per class.

    The set is written to a temporary folder beside ``out`` and renamed into place, so an
    interrupted run never leaves half a dataset. A complete set made with the same arguments
    is left as it is; anything else already at ``out`` is replaced only with ``force``.
    ``processes`` > 1 paints in that many processes (for the 30,000-image benchmark set); every
    image has its own random generator, so the files are the same either way.

    Raises:
        SampleError: on a size or count out of range, or an ``out`` that cannot be used.
    """
    counts = _counts(per_class)
    _check_args(out, size, seed)
    manifest = _manifest(size, seed, counts)
    if out.exists() and not force:
        if is_complete(out, size=size, per_class=per_class, seed=seed):
            return counts
        raise SampleError(
            f"{out} already exists with other contents or arguments; pass --force to replace it"
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = out.parent / f".{out.name}.tmp-{os.getpid()}-{secrets.token_hex(4)}"
    staging.mkdir()
    try:
        if processes > 1:
            _write_images_in_parallel(staging, size, seed, counts, processes)
        else:
            _write_images(staging, size, seed, counts)
        (staging / MANIFEST_NAME).write_text(json.dumps(manifest, indent=2) + "\n")
        _swap_in(staging, out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return counts


def is_complete(out: Path, *, size: int = 256, per_class: int | None = None, seed: int = 0) -> bool:
    """Tell whether ``out`` already holds every file these arguments would write."""
    counts = _counts(per_class)
    try:
        found = json.loads((out / MANIFEST_NAME).read_text())
    except (OSError, ValueError):
        return False
    if found != _manifest(size, seed, counts):
        return False
    return all(
        (out / name / _file_name(name, i, count)).is_file()
        for name, count in counts.items()
        for i in range(count)
    )


def render(class_name: str, size: int, rng: np.random.Generator) -> np.ndarray:
    """Paint one picture of ``class_name`` as a uint8 (size, size, 3) array."""
    scene = _draw_scene(class_name, rng)
    ys = np.linspace(0.0, 1.0, size, dtype=Float)[:, None]
    xs = np.linspace(0.0, 1.0, size, dtype=Float)[None, :]
    # Channels first while painting: blends over (3, H, W) run far faster than over (H, W, 3).
    image = _paint_sky(scene, ys, size)
    _paint_sun(image, scene, xs, ys)
    _paint_clouds(image, scene, rng, ys)
    _paint_ground(image, scene, rng, ys)
    _paint_rain(image, scene, rng)
    return _finish(image, rng)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the process exit status."""
    args = _parser().parse_args(argv)
    try:
        # Asked first because generate() answers both cases with the same counts.
        already = not args.force and is_complete(
            args.out, size=args.size, per_class=args.per_class, seed=args.seed
        )
        counts = generate(
            args.out, size=args.size, per_class=args.per_class, seed=args.seed, force=args.force
        )
    except SampleError as exc:
        print(f"data.sample: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # a read-only disk, a parent that is a file, a full disk
        print(f"data.sample: error: cannot write {args.out}: {exc}", file=sys.stderr)
        return 1
    if already:
        print(f"{args.out} already holds this sample set; nothing to do (--force rewrites it)")
        return 0
    summary = ", ".join(f"{name} {count}" for name, count in counts.items())
    print(f"wrote {sum(counts.values())} images ({summary}) of {args.size} px to {args.out}")
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m data.sample",
        description="Write a procedural four-class weather photo dataset (one folder per class).",
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="dataset folder to write")
    parser.add_argument("--size", type=int, default=256, help="image side in pixels")
    parser.add_argument(
        "--per-class", type=int, default=None, help="images per class (default: the real counts)"
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed")
    parser.add_argument("--force", action="store_true", help="replace whatever is at --out")
    return parser


def _counts(per_class: int | None) -> dict[str, int]:
    if per_class is None:
        return dict(CLASS_COUNTS)
    if per_class < 1:
        raise SampleError(f"--per-class must be at least 1, got {per_class}")
    return dict.fromkeys(CLASS_COUNTS, per_class)


def _check_args(out: Path, size: int, seed: int) -> None:
    if not MIN_SIZE <= size <= MAX_SIZE:
        raise SampleError(f"--size must be between {MIN_SIZE} and {MAX_SIZE} pixels, got {size}")
    if seed < 0:
        raise SampleError(f"--seed must be 0 or more, got {seed}")
    if out.exists() and not out.is_dir():
        raise SampleError(f"{out} exists and is not a folder; choose another --out")


def _manifest(size: int, seed: int, counts: dict[str, int]) -> dict[str, object]:
    return {"painter": PAINTER_VERSION, "size": size, "seed": seed, "counts": counts}


def _file_name(class_name: str, index: int, count: int) -> str:
    return f"{class_name}{index + 1:0{max(4, len(str(count)))}d}.jpg"


def _write_images(folder: Path, size: int, seed: int, counts: dict[str, int]) -> None:
    for name, count in counts.items():
        (folder / name).mkdir()
        _write_range(folder, size, seed, name, count, 0, count)


def _write_range(
    folder: Path, size: int, seed: int, name: str, count: int, start: int, stop: int
) -> None:
    """Paint images ``start`` to ``stop`` of class ``name`` (of ``count``) into its folder."""
    class_id = list(CLASS_COUNTS).index(name)
    for i in range(start, stop):
        # One generator per image: any image can be rebuilt alone, in any order.
        rng = np.random.default_rng([seed, class_id, i])
        pixels = render(name, size, rng)
        Image.fromarray(pixels).save(
            folder / name / _file_name(name, i, count), "JPEG", quality=JPEG_QUALITY
        )


def _write_images_in_parallel(
    folder: Path, size: int, seed: int, counts: dict[str, int], processes: int
) -> None:
    # Spawned, not forked: the caller may have TensorFlow's threads running.
    context = multiprocessing.get_context("spawn")
    chunk = 500
    with ProcessPoolExecutor(processes, mp_context=context) as pool:
        futures = []
        for name, count in counts.items():
            (folder / name).mkdir()
            for start in range(0, count, chunk):
                stop = min(start + chunk, count)
                futures.append(
                    pool.submit(_write_range, folder, size, seed, name, count, start, stop)
                )
        for future in futures:
            future.result()  # re-raises a child's error (a full disk, say)


def _swap_in(staging: Path, out: Path) -> None:
    """Move the finished set to ``out``; an old set is renamed away before it is deleted."""
    if not out.exists():
        staging.rename(out)
        return
    retired = staging.with_name(staging.name + "-old")
    out.rename(retired)
    staging.rename(out)
    shutil.rmtree(retired, ignore_errors=True)


# ---- painting: every step works on whole arrays, one picture at a time ----


def _jitter(
    rng: np.random.Generator, colour: Sequence[float] | np.ndarray, scale: float
) -> np.ndarray:
    """Shift a colour mostly in brightness: independent channel noise turned skies green."""
    shift = rng.normal(0.0, scale) + rng.normal(0.0, scale / 3, 3)
    return _rgb(np.clip(np.asarray(colour, Float).ravel() + shift, 0.0, 1.0))


def _rgb(colour: Sequence[float] | np.ndarray) -> np.ndarray:
    """A colour shaped (3, 1, 1), to broadcast over a channels-first image."""
    return np.asarray(colour, Float).reshape(3, 1, 1)


def _draw_scene(class_name: str, rng: np.random.Generator) -> _Scene:
    top, horizon = (np.asarray(c, Float) for c in _SKY[class_name])
    if rng.random() < 0.55:
        # Borrow part of a look-alike class's sky: dull shine days, bright cloudy ones.
        other = _SKY[str(rng.choice(_LOOKALIKES[class_name]))]
        t = rng.uniform(0.2, 0.85)
        top = (1 - t) * top + t * np.asarray(other[0], Float)
        horizon = (1 - t) * horizon + t * np.asarray(other[1], Float)
    level = rng.uniform(0.55, 0.85)
    return _Scene(
        sky_top=_jitter(rng, top, 0.06),
        sky_horizon=_jitter(rng, horizon, 0.06),
        horizon=level,
        hills=rng.uniform(0.0, 0.08),
        sun=_draw_sun(class_name, rng, level),
        sun_colour=_sun_colour(class_name, rng),
        glow=_glow(class_name, rng),
        cloud_cover=_cloud_cover(class_name, rng),
        cloud_colour=_cloud_colour(class_name, rng),
        rain=_rain_strength(class_name, rng),
        ground=_jitter(rng, _GROUNDS[rng.integers(len(_GROUNDS))], 0.05),
        light=_ground_light(class_name, rng),
    )


def _draw_sun(
    class_name: str, rng: np.random.Generator, horizon: float
) -> tuple[float, float, float] | None:
    x = rng.uniform(0.1, 0.9)
    if class_name == "shine" and rng.random() < 0.85:
        return x, rng.uniform(0.06, 0.45) * horizon, rng.uniform(0.04, 0.08)
    if class_name == "sunrise" and rng.random() < 0.8:
        # Low and large, often cut by the skyline.
        return x, horizon + rng.uniform(-0.15, 0.04), rng.uniform(0.07, 0.15)
    if class_name == "cloudy" and rng.random() < 0.15:
        return x, rng.uniform(0.1, 0.5) * horizon, rng.uniform(0.04, 0.08)
    return None


def _sun_colour(class_name: str, rng: np.random.Generator) -> np.ndarray:
    if class_name == "sunrise":
        return _jitter(rng, (1.0, rng.uniform(0.45, 0.75), rng.uniform(0.15, 0.35)), 0.03)
    return _jitter(rng, (1.0, 0.98, 0.86), 0.02)


def _glow(class_name: str, rng: np.random.Generator) -> float:
    strengths = {"shine": (0.3, 0.7), "sunrise": (0.4, 0.9), "cloudy": (0.05, 0.25)}
    low, high = strengths.get(class_name, (0.0, 0.0))
    return float(rng.uniform(low, high))


def _cloud_cover(class_name: str, rng: np.random.Generator) -> float:
    if class_name == "shine":
        # Most shine skies are clear; some carry a fair amount of cloud.
        return float(rng.uniform(0.0, 0.2) if rng.random() < 0.7 else rng.uniform(0.2, 0.55))
    ranges = {"cloudy": (0.5, 0.95), "rain": (0.6, 1.0), "sunrise": (0.05, 0.7)}
    return float(rng.uniform(*ranges[class_name]))


def _cloud_colour(class_name: str, rng: np.random.Generator) -> np.ndarray:
    if class_name == "sunrise":
        t = rng.uniform()
        lit, shade = np.array([0.95, 0.6, 0.55], Float), np.array([0.4, 0.3, 0.45], Float)
        return _jitter(rng, (1 - t) * lit + t * shade, 0.04)
    if class_name == "cloudy" and rng.random() < 0.3:
        tone = rng.uniform(0.4, 0.65)  # a heavy cloudy sky that looks like rain
    else:
        tones = {"cloudy": (0.65, 0.92), "rain": (0.3, 0.65), "shine": (0.88, 1.0)}
        tone = rng.uniform(*tones[class_name])
    return _jitter(rng, (tone, tone, tone * 1.03), 0.02)


def _rain_strength(class_name: str, rng: np.random.Generator) -> float:
    if class_name == "rain":
        return float(rng.uniform(0.1, 0.35) if rng.random() < 0.15 else rng.uniform(0.35, 1.0))
    if class_name == "cloudy" and rng.random() < 0.2:
        return float(rng.uniform(0.05, 0.3))
    return 0.0


def _ground_light(class_name: str, rng: np.random.Generator) -> np.ndarray:
    ranges = {"shine": (0.9, 1.15), "cloudy": (0.6, 0.9), "rain": (0.5, 0.75)}
    if class_name == "sunrise":
        return _rgb(rng.uniform(0.25, 0.6) * np.array([1.1, 0.85, 0.7]))
    return _rgb(np.full(3, rng.uniform(*ranges[class_name])))


def _smooth_noise(rng: np.random.Generator, size: int, cells: tuple[int, int]) -> np.ndarray:
    """Value noise on a coarse (rows, cols) grid, smoothly interpolated to (size, size)."""
    return _upsample(rng.random((cells[0] + 1, cells[1] + 1), dtype=Float), size)


def _noise_row(rng: np.random.Generator, size: int, cells: int) -> np.ndarray:
    """One row of value noise: a rolling skyline."""
    grid = rng.random(cells + 1, dtype=Float)
    index, weight = _lattice(size, cells)
    return grid[index] * (1 - weight) + grid[index + 1] * weight


def _upsample(grid: np.ndarray, size: int) -> np.ndarray:
    """Stretch ``grid``'s corner lattice over (size, size) with smoothstep-weighted bilinear."""
    rows, row_w = _lattice(size, grid.shape[0] - 1)
    cols, col_w = _lattice(size, grid.shape[1] - 1)
    mixed = grid[rows] * (1 - row_w[:, None]) + grid[rows + 1] * row_w[:, None]
    return mixed[:, cols] * (1 - col_w) + mixed[:, cols + 1] * col_w


def _lattice(size: int, cells: int) -> tuple[np.ndarray, np.ndarray]:
    position = np.linspace(0.0, cells, size, endpoint=False, dtype=Float)
    floor = np.floor(position)
    frac = position - floor  # stays float32: float64 here doubled the painting time
    return floor.astype(np.intp), frac * frac * (3 - 2 * frac)  # smoothstep hides the grid


def _fractal_noise(rng: np.random.Generator, size: int, base: int, octaves: int) -> np.ndarray:
    """Octaves of value noise summed at a small working size, then stretched once to ``size``.

    The finest octave has fewer cells than the working size has pixels, so nothing is lost;
    summing small and stretching once made the painting several times faster.
    """
    work = min(size, 64)
    total = np.zeros((work, work), Float)
    for octave in range(octaves):
        cells = base * 2**octave
        # Twice as many rows as columns: clouds are wider than they are tall.
        total += 0.5**octave * _smooth_noise(rng, work, (2 * cells, cells))
    total /= 2 - 0.5 ** (octaves - 1)
    return total if work == size else _upsample(total, size)


def _blend(image: np.ndarray, alpha: np.ndarray, colour: np.ndarray) -> None:
    """Lay ``colour`` over ``image`` in place with opacity ``alpha`` (H, W).

    In-place with one temporary: two live image-sized temporaries cost ~1 ms each in page
    faults here, more than the arithmetic.
    """
    change = colour - image
    change *= alpha
    image += change


def _lay(image: np.ndarray, alpha: np.ndarray, layer: np.ndarray) -> None:
    """Like ``_blend`` for a whole (3, H, W) layer, reusing (and so spoiling) ``layer``."""
    layer -= image
    layer *= alpha
    image += layer


def _paint_sky(scene: _Scene, ys: np.ndarray, size: int) -> np.ndarray:
    t = np.clip(ys / scene.horizon, 0.0, 1.0) ** 1.5
    column = (1 - t) * scene.sky_top + t * scene.sky_horizon  # (3, size, 1)
    return np.repeat(column, size, axis=2)


def _paint_sun(image: np.ndarray, scene: _Scene, xs: np.ndarray, ys: np.ndarray) -> None:
    if scene.sun is None:
        return
    x, y, radius = scene.sun
    distance = np.sqrt((xs - x) ** 2 + (ys - y) ** 2)
    image += (scene.glow * np.exp(-distance / (3 * radius))) * scene.sun_colour
    _blend(image, np.clip((radius - distance) / (0.15 * radius), 0.0, 1.0), scene.sun_colour)


def _paint_clouds(
    image: np.ndarray, scene: _Scene, rng: np.random.Generator, ys: np.ndarray
) -> None:
    if scene.cloud_cover <= 0.01:
        return
    size = image.shape[1]
    density = _fractal_noise(rng, size, base=2, octaves=4)
    flat = density.ravel()
    rank = min(flat.size - 1, int((1 - scene.cloud_cover) * flat.size))
    threshold = float(np.partition(flat, rank)[rank])  # the cover is the share above it
    alpha = np.clip((density - threshold) / 0.08, 0.0, 1.0) * rng.uniform(0.7, 0.97)
    # Clouds thin out towards the horizon, as they do with distance.
    alpha *= np.clip(1.3 - ys / scene.horizon, 0.3, 1.0)
    shade = 0.8 + 0.35 * _fractal_noise(rng, size, base=4, octaves=3)
    _lay(image, alpha, shade * scene.cloud_colour)


def _paint_ground(
    image: np.ndarray, scene: _Scene, rng: np.random.Generator, ys: np.ndarray
) -> None:
    size = image.shape[1]
    skyline = scene.horizon - scene.hills * _noise_row(rng, size, cells=5)
    below = ys - skyline  # (size, size): distance under the skyline
    texture = 0.8 + 0.4 * _fractal_noise(rng, size, base=4, octaves=3)
    ground = texture * (scene.ground * scene.light)  # (3, size, size)
    # Haze: the far ground takes on the colour of the sky.
    depth = np.clip(below / (1 - scene.horizon + 1e-3), 0.0, 1.0)
    _blend(ground, 0.4 * (1 - depth) ** 4, scene.sky_horizon)
    _lay(image, np.clip(below * size, 0.0, 1.0), ground)  # a one-pixel soft edge


def _paint_rain(image: np.ndarray, scene: _Scene, rng: np.random.Generator) -> None:
    if scene.rain <= 0:
        return
    size = image.shape[1]
    drops = (rng.random((size, size), dtype=Float) < 0.004 * scene.rain).astype(Float)
    angle = rng.uniform(-0.5, 0.5)  # radians from vertical
    length = max(2, int(size * rng.uniform(0.05, 0.12)))
    streaks = np.zeros_like(drops)
    for step in range(length):
        # Smear each drop along the fall direction; wrapping at the edges is invisible.
        shift = (round(step * np.cos(angle)), round(step * np.sin(angle)))
        streaks += np.roll(drops, shift, axis=(0, 1))
    alpha = np.clip(streaks, 0.0, 1.0) * rng.uniform(0.25, 0.5) * min(1.0, 0.4 + scene.rain)
    image *= 1 - 0.25 * scene.rain  # rain dims the whole scene
    _blend(image, alpha, _RAIN_COLOUR)


def _finish(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Camera-like variation (exposure, contrast, saturation, sensor noise); to (H, W, 3) uint8."""
    contrast, exposure = rng.uniform(0.8, 1.2), rng.uniform(0.75, 1.25)
    saturation, noise = rng.uniform(0.7, 1.15), rng.uniform(0.005, 0.035)
    warmth = rng.normal(0.0, 0.07)  # white balance: a warm or cool cast on any class
    image *= _rgb((1 + warmth, 1.0, 1 - warmth))
    mean = float(image.mean())
    grey = image.mean(axis=0)
    image *= saturation
    image += (1 - saturation) * grey
    image *= contrast  # contrast about the mean, then exposure
    image += mean * (exposure - contrast)
    # Uniform noise with the same spread as Gaussian noise of std ``noise``, 4x cheaper to draw.
    grain = rng.random(image.shape, dtype=Float)
    grain -= 0.5
    grain *= noise * 12**0.5
    image += grain
    np.clip(image, 0.0, 1.0, out=image)
    image *= 255
    image += 0.5
    return np.ascontiguousarray(image.astype(np.uint8).transpose(1, 2, 0))


if __name__ == "__main__":
    raise SystemExit(main())
