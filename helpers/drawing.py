"""A digit drawn with the mouse or a finger, turned into a 28 x 28 digit the way MNIST made its own.

LeCun, Cortes and Burges describe the recipe on the MNIST page: each black-and-white digit from
NIST was scaled to fit a 20 x 20 box, keeping its aspect ratio (the scaling's anti-aliasing is
where MNIST's grey levels come from), then placed in a 28 x 28 field so that its centre of mass
sits at the centre. A drawing goes through the same steps here: its strokes are painted as a
black-and-white ink image (like NIST's scans), cropped to the ink, scaled into 20 x 20 by
averaging over each output pixel's area, and shifted by whole pixels so its centre of mass lands on
pixel (14, 14), where MNIST's own digits have theirs (to within the half pixel a whole-pixel shift
leaves). A network trained on MNIST then sees a drawing the way it saw its training digits.

Taught in 08_playground.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import torch

FIELD = 28  # MNIST's image size
BOX = 20  # the box MNIST scaled each digit into
CENTRE = (14.0, 14.0)  # (row, column) where MNIST puts a digit's centre of mass
EMPTY_CANVAS = "The canvas is empty: draw a digit first (there is nothing to search for)."

Point = tuple[float, float]  # (x, y) in canvas pixels, y pointing down as on a screen


def _check_strokes(strokes: Sequence[Sequence[Point]]) -> list[np.ndarray]:
    if isinstance(strokes, np.ndarray | torch.Tensor | str) or not isinstance(strokes, Iterable):
        raise ValueError("Pass strokes as a list of strokes, each a list of (x, y) points.")
    arrays = []
    for number, stroke in enumerate(strokes):
        try:
            points = np.asarray(stroke, dtype=np.float64)  # (points, 2)
        except (TypeError, ValueError) as error:
            raise ValueError(f"Stroke {number} must be a list of (x, y) points.") from error
        if points.size == 0:
            continue  # a stroke with no points leaves no ink
        if points.ndim != 2 or points.shape[1] != 2:
            raise ValueError(
                f"Stroke {number} must be a list of (x, y) points, got {points.shape}."
            )
        if not np.isfinite(points).all():
            raise ValueError(f"Stroke {number} holds a point that is not a finite number.")
        arrays.append(points)
    return arrays


def render_strokes(
    strokes: Sequence[Sequence[Point]],
    *,
    canvas_size: tuple[int, int] = (280, 280),
    pen_width: float = 18.0,
) -> np.ndarray:
    """Strokes painted as black-and-white ink, (height, width) uint8 with ink 255, like NIST's scans.

    `canvas_size` is (width, height) in pixels; each stroke is a polyline with round ends and
    joints, `pen_width` pixels wide. A stroke of one point is a dot.
    """
    from PIL import Image, ImageDraw  # Pillow paints lines with round joints; torch has no painter

    width, height = canvas_size
    if width < 1 or height < 1:
        raise ValueError(
            f"canvas_size must be (width, height) of at least 1 pixel, got {width, height}."
        )
    if not pen_width > 0:
        raise ValueError(f"pen_width must be positive, got {pen_width}.")
    canvas = Image.new("L", (int(width), int(height)), 0)
    painter = ImageDraw.Draw(canvas)
    radius = pen_width / 2
    for points in _check_strokes(strokes):
        if len(points) > 1:
            line = [tuple(point) for point in points]
            painter.line(line, fill=255, width=max(1, round(pen_width)), joint="curve")
        for x, y in points[[0, -1]]:  # round pen ends (the joints are rounded by `joint`)
            painter.ellipse((x - radius, y - radius, x + radius, y + radius), fill=255)
    return np.asarray(canvas, dtype=np.uint8)  # (height, width)


def centre_of_mass(image: torch.Tensor | np.ndarray) -> tuple[float, float]:
    """The (row, column) of an image's centre of mass, weighting each pixel by its grey level."""
    pixels = np.asarray(image, dtype=np.float64)
    if pixels.ndim != 2:
        raise ValueError(f"centre_of_mass needs one image (height, width), got {pixels.shape}.")
    total = pixels.sum()
    if total <= 0:
        raise ValueError("The image has no ink, so it has no centre of mass.")
    rows, columns = np.indices(pixels.shape)
    return float((rows * pixels).sum() / total), float((columns * pixels).sum() / total)


def to_mnist(ink: torch.Tensor | np.ndarray) -> torch.Tensor:
    """An ink image of any size as an MNIST digit, (28, 28) uint8: fit into 20 x 20, centre by mass.

    Taught in 08_playground. Ink is any value above 0 (white on black, as in MNIST). Raises a
    ValueError with `EMPTY_CANVAS` when there is no ink at all.
    """
    from PIL import Image  # its BOX filter averages each output pixel's exact area

    pixels = np.asarray(ink)
    if pixels.ndim != 2:
        raise ValueError(f"to_mnist needs one ink image (height, width), got {pixels.shape}.")
    rows, columns = np.nonzero(pixels > 0)
    if len(rows) == 0:
        raise ValueError(EMPTY_CANVAS)
    top, bottom, left, right = rows.min(), rows.max() + 1, columns.min(), columns.max() + 1
    crop = np.clip(pixels[top:bottom, left:right], 0, 255).astype(np.uint8)  # (h, w)
    scale = BOX / max(crop.shape)
    height = max(1, round(crop.shape[0] * scale))
    width = max(1, round(crop.shape[1] * scale))
    # Shrinking averages areas (anti-aliasing); a drawing smaller than the box is interpolated.
    smooth = Image.Resampling.BOX if scale <= 1 else Image.Resampling.BILINEAR
    fitted = np.asarray(Image.fromarray(crop).resize((width, height), smooth))  # (height, width)
    if not fitted.any():
        raise ValueError(EMPTY_CANVAS)
    mass_row, mass_column = centre_of_mass(fitted)
    # Whole-pixel shift that brings the centre of mass to CENTRE, kept inside the 28 x 28 field.
    top = int(np.clip(round(CENTRE[0] - mass_row), 0, FIELD - height))
    left = int(np.clip(round(CENTRE[1] - mass_column), 0, FIELD - width))
    digit = np.zeros((FIELD, FIELD), dtype=np.uint8)
    digit[top : top + height, left : left + width] = fitted
    return torch.from_numpy(digit)  # (28, 28) uint8


def drawing_to_digit(
    strokes: Sequence[Sequence[Point]],
    *,
    canvas_size: tuple[int, int] = (280, 280),
    pen_width: float = 18.0,
) -> torch.Tensor:
    """Strokes drawn on a canvas as an MNIST digit (28, 28) uint8: `render_strokes`, then `to_mnist`.

    Taught in 08_playground. An empty canvas raises a ValueError that says so.
    """
    ink = render_strokes(strokes, canvas_size=canvas_size, pen_width=pen_width)
    return to_mnist(ink)


def place_on_canvas(
    digit: torch.Tensor | np.ndarray,
    *,
    size: int,
    top: int,
    left: int,
    canvas_size: tuple[int, int] = (280, 280),
) -> np.ndarray:
    """An MNIST digit redrawn as pen ink on a canvas, (height, width) uint8 with ink 255.

    Taught in 08_playground: a stand-in for a reader's drawing whose digit is known. The digit's
    ink is scaled so that its longer side is `size` pixels (keeping its aspect ratio), made black
    and white like pen strokes, and centred in the square box of side `size` whose top-left
    corner is (`top`, `left`). The box must lie on the canvas (`canvas_size` is (width, height)).
    """
    from PIL import Image

    pixels = np.asarray(digit)
    if pixels.shape != (FIELD, FIELD):
        raise ValueError(f"place_on_canvas takes one digit (28, 28), got {pixels.shape}.")
    rows, columns = np.nonzero(pixels)
    if len(rows) == 0:
        raise ValueError("The digit has no ink to redraw.")
    canvas_width, canvas_height = canvas_size
    if size < 1 or top < 0 or left < 0 or top + size > canvas_height or left + size > canvas_width:
        raise ValueError(
            f"A box of {size} pixels at row {top}, column {left} does not fit a canvas of "
            f"{canvas_width} x {canvas_height}."
        )
    crop = pixels[rows.min() : rows.max() + 1, columns.min() : columns.max() + 1]  # (h, w)
    scale = size / max(crop.shape)
    height, width = (max(1, round(side * scale)) for side in crop.shape)
    scaled = Image.fromarray(crop.astype(np.uint8)).resize(
        (width, height), Image.Resampling.BILINEAR
    )
    top, left = top + (size - height) // 2, left + (size - width) // 2
    canvas = np.zeros((canvas_height, canvas_width), dtype=np.uint8)
    canvas[top : top + height, left : left + width] = np.where(np.asarray(scaled) >= 128, 255, 0)
    return canvas  # (canvas height, canvas width)
