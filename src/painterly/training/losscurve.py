"""A loss-curve PNG drawn with Pillow (no plotting library needed); shared by all training loops.

Log-scale y axis, one line per loss term, axes with ticks and labels, a
legend. Long runs are reduced to one averaged point per pixel column, which
also smooths the batch-to-batch noise of stochastic training.
"""

from __future__ import annotations

import math
import os
from typing import Dict, List, Mapping, Sequence, Tuple

from PIL import Image, ImageDraw

from ..imaging.sheet import label_font

#: Line colours, cycled (colour-blind-friendly Okabe-Ito palette).
COLORS = [(0, 0, 0), (0, 114, 178), (213, 94, 0), (0, 158, 115), (204, 121, 167), (230, 159, 0), (86, 180, 233)]


def _nice_step(span: float, target: int) -> float:
    """A 1/2/5 x 10^k step giving about ``target`` ticks over ``span``."""
    raw = span / max(1, target)
    power = 10 ** math.floor(math.log10(raw)) if raw > 0 else 1
    for mult in (1, 2, 5, 10):
        if mult * power >= raw:
            return mult * power
    return 10 * power


def _reduce(values: Sequence[float], columns: int) -> List[Tuple[float, float]]:
    """(x, mean value) points, at most ``columns`` of them; x is the 1-based iteration."""
    n = len(values)
    if n <= columns:
        return [(i + 1.0, v) for i, v in enumerate(values)]
    points = []
    for c in range(columns):
        lo, hi = c * n // columns, (c + 1) * n // columns
        chunk = [v for v in values[lo:hi] if v > 0 and math.isfinite(v)]
        if chunk:
            points.append(((lo + hi + 1) / 2.0, sum(chunk) / len(chunk)))
    return points


def curve_points(history: Mapping[str, Sequence[float]], columns: int) -> Dict[str, List[Tuple[float, float]]]:
    """(iteration, mean value) points per term, about ``columns`` across the whole run.

    A term that a resumed stage added (an identity or distribution loss) has fewer
    values than the run has iterations: they are its last ones, so its points start
    where it started, not at iteration 1. Non-positive and non-finite values are
    left out (they have no logarithm).
    """
    n_iter = max((len(v) for v in history.values()), default=0)
    series: Dict[str, List[Tuple[float, float]]] = {}
    for name, values in history.items():
        start = n_iter - len(values)
        share = max(1, columns * len(values) // max(1, n_iter))
        points = [(start + x, v) for x, v in _reduce(list(values), share) if v > 0 and math.isfinite(v)]
        if points:
            series[name] = points
    return series


def _format_tick(value: float) -> str:
    if value == 0:
        return "0"
    exponent = math.floor(math.log10(abs(value)) + 1e-9)
    if -3 <= exponent <= 4:
        return f"{value:.{max(0, -exponent)}f}"
    mantissa = value / 10**exponent
    return f"{mantissa:g}e{exponent}"


def draw_loss_curve(
    history: Mapping[str, Sequence[float]],
    path: str | os.PathLike,
    title: str = "training loss",
    size: Tuple[int, int] = (900, 520),
) -> Image.Image:
    """Draw ``history`` (term name -> value per iteration) and save it as PNG at ``path``.

    Non-positive and non-finite values are left out (they have no logarithm).
    The file is written atomically.

    Returns:
        The image.
    """
    from ..imaging.io import save_image

    width, height = size
    left, right, top, bottom = 80, 150, 40, 56
    plot_w, plot_h = width - left - right, height - top - bottom
    image = Image.new("RGB", size, (255, 255, 255))
    draw = ImageDraw.Draw(image)
    font, small = label_font(14), label_font(12)

    n_iter = max((len(v) for v in history.values()), default=0)
    series = curve_points(history, plot_w)
    all_y = [v for pts in series.values() for _, v in pts]
    if all_y:
        y_lo, y_hi = math.log10(min(all_y)), math.log10(max(all_y))
    else:
        y_lo, y_hi = 0.0, 1.0
    if y_hi - y_lo < 0.3:  # nearly flat: give it some room
        mid = (y_hi + y_lo) / 2
        y_lo, y_hi = mid - 0.3, mid + 0.3
    pad = 0.04 * (y_hi - y_lo)
    y_lo, y_hi = y_lo - pad, y_hi + pad
    x_lo, x_hi = 1.0, max(2.0, float(n_iter))

    def px(x: float) -> float:
        return left + (x - x_lo) / (x_hi - x_lo) * plot_w

    def py(v: float) -> float:
        return top + (y_hi - math.log10(v)) / (y_hi - y_lo) * plot_h

    grid, axis = (225, 225, 225), (60, 60, 60)
    # y ticks: powers of ten, plus 2x and 5x when the range is under two decades.
    ticks: List[float] = []
    for k in range(math.floor(y_lo), math.ceil(y_hi) + 1):
        for mult in ((1, 2, 5) if y_hi - y_lo < 2 else (1,)):
            t = mult * 10.0**k
            if y_lo <= math.log10(t) <= y_hi:
                ticks.append(t)
    for t in ticks:
        y = py(t)
        draw.line([(left, y), (left + plot_w, y)], fill=grid)
        draw.line([(left - 5, y), (left, y)], fill=axis)
        label = _format_tick(t)
        tw = draw.textlength(label, font=small)
        draw.text((left - 8 - tw, y - 7), label, fill=axis, font=small)
    step = max(1.0, _nice_step(x_hi - x_lo, 8))  # iterations are whole numbers
    x = math.ceil(x_lo / step) * step
    while x <= x_hi + 1e-9:
        xx = px(x)
        draw.line([(xx, top), (xx, top + plot_h)], fill=grid)
        draw.line([(xx, top + plot_h), (xx, top + plot_h + 5)], fill=axis)
        label = _format_tick(x)
        tw = draw.textlength(label, font=small)
        draw.text((xx - tw / 2, top + plot_h + 8), label, fill=axis, font=small)
        x += step
    draw.rectangle([left, top, left + plot_w, top + plot_h], outline=axis)

    for i, (name, points) in enumerate(series.items()):
        colour = COLORS[i % len(COLORS)]
        xy = [(px(x), py(v)) for x, v in points]
        if len(xy) == 1:
            x0, y0 = xy[0]
            draw.ellipse([x0 - 2, y0 - 2, x0 + 2, y0 + 2], fill=colour)
        else:
            draw.line(xy, fill=colour, width=2)
        ly = top + 10 + 22 * i
        lx = left + plot_w + 14
        draw.line([(lx, ly + 8), (lx + 24, ly + 8)], fill=colour, width=3)
        draw.text((lx + 30, ly), name, fill=(0, 0, 0), font=font)

    tw = draw.textlength(title, font=font)
    draw.text((left + (plot_w - tw) / 2, 12), title, fill=(0, 0, 0), font=font)
    xlabel = "iteration"
    tw = draw.textlength(xlabel, font=font)
    draw.text((left + (plot_w - tw) / 2, height - 24), xlabel, fill=(0, 0, 0), font=font)
    ylabel = "loss (log scale)"
    label_img = Image.new("RGB", (int(draw.textlength(ylabel, font=font)) + 4, 18), (255, 255, 255))
    ImageDraw.Draw(label_img).text((2, 0), ylabel, fill=(0, 0, 0), font=font)
    rotated = label_img.rotate(90, expand=True)
    image.paste(rotated, (8, top + (plot_h - rotated.height) // 2))
    save_image(image, path)
    return image


__all__ = ["draw_loss_curve"]
