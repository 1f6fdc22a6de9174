"""Overlapping tiles, smooth blending windows and band-by-band assembly of a stylised image.

Tiles start on multiples of :data:`TILE_ALIGN` pixels: the generator downsamples twice by
stride-2 convolutions, so a tile that starts on a multiple of 4 samples the same pixel grid as
the whole image does (the lite generator downsamples three times: its tiles use ``align=8``). Each tile's output is weighted by a separable raised-cosine window that
ramps up over the overlap on every side that borders another tile (full weight at the image
border), and the weighted sum is divided by the summed weights. Finished rows are written out
band by band, so the float accumulators cover at most two tile rows, not the whole image.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np

__all__ = [
    "CALL_OVERHEAD_PIXELS",
    "MIN_SIDE",
    "TILE_ALIGN",
    "Tile",
    "blend_window",
    "plan_tiles",
    "tile_starts",
    "tiled_apply",
    "tiling_work",
]

# Stride of the generator's encoder (two stride-2 convs): tile origins are kept on this grid.
TILE_ALIGN = 4
# Smallest side the generator accepts (reflection padding of the k7 conv on the H/4 map).
MIN_SIDE = 8


@dataclass(frozen=True)
class Tile:
    """One tile: rows ``[top, bottom)``, columns ``[left, right)`` of the image.

    ``*_overlap`` flags say which sides border another tile (and therefore get a ramp).
    """

    top: int
    bottom: int
    left: int
    right: int
    overlap_top: bool
    overlap_bottom: bool
    overlap_left: bool
    overlap_right: bool


def tile_starts(length: int, tile: int, overlap: int, align: int = TILE_ALIGN) -> list[int]:
    """Start offsets of tiles covering ``[0, length)`` along one axis, spread evenly.

    The fewest tiles whose neighbours share at least ``overlap`` pixels are placed at even
    spacing (so the spare room becomes extra overlap instead of a last tile that barely
    moves), then each start is rounded down to a multiple of ``align``.

    Args:
        length: image side in pixels, >= 1.
        tile: tile side in pixels, >= ``2 * align``.
        overlap: pixels neighbouring tiles should share, ``0 <= overlap < tile``.
        align: tile origins are multiples of this (the generator's total encoder stride).

    Returns:
        Sorted starts, all multiples of ``align``; the first is 0. Every tile is ``tile``
        long except the last, which runs to ``length`` (up to ``tile + align - 1`` long).
        Neighbours share at least ``overlap - align + 1`` pixels (grid rounding).
        ``[0]`` when ``length <= tile``.
    """
    if tile < 2 * align:
        raise ValueError(f"tile must be at least {2 * align} pixels, got {tile}")
    if not 0 <= overlap < tile:
        raise ValueError(f"overlap must be in [0, tile), got overlap={overlap}, tile={tile}")
    if length <= tile:
        return [0]
    count = math.ceil((length - tile) / (tile - overlap)) + 1
    span = length - tile
    starts = [(i * span // (count - 1)) // align * align for i in range(count)]
    return sorted(set(starts))


# Cost of one generator call in pixel-equivalents of work on top of its pixels: measured on
# 2 CPU cores, a call costs about 8 ms + 20 us per pixel, so a call's fixed cost equals ~400 px.
CALL_OVERHEAD_PIXELS = 400


def tiling_work(sizes: Sequence[tuple[int, int]], tile: int, overlap: int) -> tuple[int, float]:
    """Generator calls and work needed to stylise images of the given sizes.

    Args:
        sizes: ``(width, height)`` of each image, pixels.
        tile: tile side in pixels (as :class:`~animegan.inference.pipeline.Stylizer`).
        overlap: pixels shared by neighbouring tiles.

    Returns:
        ``(calls, work)``: generator calls in all, and the work in pixel-equivalents (each
        call's pixels plus :data:`CALL_OVERHEAD_PIXELS`); compare two settings by their ratio.
    """
    calls = 0
    work = 0.0
    for width, height in sizes:
        if height <= tile and width <= tile:
            count = 1
        else:
            count = len(tile_starts(height, tile, overlap)) * len(tile_starts(width, tile, overlap))
        calls += count
        work += count * (CALL_OVERHEAD_PIXELS + min(height, tile) * min(width, tile))
    return calls, work


def plan_tiles(
    height: int, width: int, tile: int, overlap: int, align: int = TILE_ALIGN
) -> list[list[Tile]]:
    """Tiles covering an image, grouped by tile row (top to bottom, left to right).

    Args:
        height: image height in pixels.
        width: image width in pixels.
        tile: tile side in pixels.
        overlap: pixels shared by neighbouring tiles.
        align: tile origins are multiples of this (see :func:`tile_starts`).

    Returns:
        ``rows[i][j]``: the tile in row i, column j. One tile when the image fits.
    """
    ys = tile_starts(height, tile, overlap, align)
    xs = tile_starts(width, tile, overlap, align)
    y_ends = [*ys[1:], None]
    x_ends = [*xs[1:], None]
    rows = []
    for i, top in enumerate(ys):
        bottom = height if y_ends[i] is None else min(top + tile, height)
        row = []
        for j, left in enumerate(xs):
            right = width if x_ends[j] is None else min(left + tile, width)
            row.append(
                Tile(
                    top=top,
                    bottom=bottom,
                    left=left,
                    right=right,
                    overlap_top=i > 0,
                    overlap_bottom=i < len(ys) - 1,
                    overlap_left=j > 0,
                    overlap_right=j < len(xs) - 1,
                )
            )
        rows.append(row)
    return rows


def _ramp(length: int, overlap: int, start: bool, end: bool) -> np.ndarray:
    weights = np.ones(length, dtype=np.float32)
    ramp_len = min(overlap, length // 2)
    if ramp_len <= 0:
        return weights
    # Raised cosine sampled at pixel centres: strictly positive, so every pixel has weight,
    # and its derivative is 0 at both ends, so the blend shows no crease.
    ramp = (0.5 - 0.5 * np.cos(np.pi * (np.arange(ramp_len) + 0.5) / ramp_len)).astype(np.float32)
    if start:
        weights[:ramp_len] = ramp
    if end:
        weights[length - ramp_len :] = np.minimum(weights[length - ramp_len :], ramp[::-1])
    return weights


def blend_window(tile: Tile, overlap: int) -> np.ndarray:
    """Blending weights of one tile.

    Args:
        tile: the tile.
        overlap: ramp length in pixels on each side that borders another tile.

    Returns:
        ``[h, w, 1]`` float32 weights in (0, 1]; 1 away from shared edges.
    """
    wy = _ramp(tile.bottom - tile.top, overlap, tile.overlap_top, tile.overlap_bottom)
    wx = _ramp(tile.right - tile.left, overlap, tile.overlap_left, tile.overlap_right)
    return (wy[:, None] * wx[None, :])[..., None]


def _iter_bands(rows: list[list[Tile]], height: int) -> Iterator[tuple[list[Tile], int]]:
    """Yield each tile row with the first image row that no later tile touches."""
    for i, row in enumerate(rows):
        final_until = rows[i + 1][0].top if i + 1 < len(rows) else height
        yield row, final_until


def tiled_apply(
    image: np.ndarray,
    process: Callable[[np.ndarray], np.ndarray],
    *,
    tile: int,
    overlap: int,
    finish: Callable[[np.ndarray, int, int], np.ndarray] | None = None,
    on_tile: Callable[[], None] | None = None,
    align: int = TILE_ALIGN,
) -> np.ndarray:
    """Apply a size-preserving image function tile by tile and blend the results.

    Args:
        image: ``[H, W, C]`` array (any dtype) that tiles are cut from.
        process: maps a tile ``[h, w, C]`` to ``[h, w, K]`` float32 (e.g. the generator's
            output in [-1, 1]). Called once per tile, so peak memory follows the tile size.
        tile: tile side in pixels; an image with both sides <= ``tile`` is one call.
        overlap: pixels shared by neighbouring tiles (and ramp length of the windows).
        finish: turns a finished band of blended float rows ``[rows, W, K]`` starting at image
            row ``top`` into output rows (e.g. uint8 conversion); identity by default.
            Called as ``finish(band, top, bottom)``.
        on_tile: called after each tile (progress reporting).
        align: tile origins are multiples of this (see :func:`tile_starts`).

    Returns:
        ``[H, W, K]`` array made of the ``finish`` outputs, in their dtype.
    """
    height, width = image.shape[:2]
    rows = plan_tiles(height, width, tile, overlap, align)
    output: np.ndarray | None = None
    # Accumulators cover image rows [acc_top, acc_top + len(acc)).
    acc: np.ndarray | None = None
    weight_acc: np.ndarray | None = None
    acc_top = 0
    for row, final_until in _iter_bands(rows, height):
        needed = max(t.bottom for t in row)
        for t in row:
            out = process(image[t.top : t.bottom, t.left : t.right])
            if acc is None:
                acc = np.zeros((needed - acc_top, width, out.shape[-1]), dtype=np.float32)
                weight_acc = np.zeros((needed - acc_top, width, 1), dtype=np.float32)
            if acc.shape[0] < needed - acc_top:
                grow = needed - acc_top - acc.shape[0]
                acc = np.concatenate([acc, np.zeros((grow, *acc.shape[1:]), np.float32)])
                weight_acc = np.concatenate(
                    [weight_acc, np.zeros((grow, *weight_acc.shape[1:]), np.float32)]
                )
            window = blend_window(t, overlap)
            acc[t.top - acc_top : t.bottom - acc_top, t.left : t.right] += out * window
            weight_acc[t.top - acc_top : t.bottom - acc_top, t.left : t.right] += window
            if on_tile is not None:
                on_tile()
        done = final_until - acc_top
        band = acc[:done] / weight_acc[:done]
        band_out = finish(band, acc_top, final_until) if finish is not None else band
        if output is None:
            output = np.empty((height, width, band_out.shape[-1]), dtype=band_out.dtype)
        output[acc_top:final_until] = band_out
        acc, weight_acc = acc[done:], weight_acc[done:]
        acc_top = final_until
    assert output is not None
    return output
