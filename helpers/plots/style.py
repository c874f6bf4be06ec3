"""The series' one visual language, used by every figure in `helpers.plots`.

- A digit has one colour everywhere: matplotlib's tab10, digit d in colour d (`digit_colour`).
- Green and red mean only positive and negative (same digit / different digit, a right or a
  wrong search result); nothing else is drawn in them.
- Modalities are told apart by marker shape in neutral tones (`MODALITY_MARKERS`,
  `MODALITY_TONES`), never by digit colours; other named series (loss curves, reference lines)
  use neutral tones and line styles (`series_style`).
- 2-D maps carry each digit's label at its cluster's centre (`label_centres`).
- Cosines are written with three decimals where they are all near 1.00 (`cosine_decimals`).

Taught in 02_pairs (the first figures) and used by every notebook after it.
"""

from __future__ import annotations

import matplotlib
import matplotlib.patheffects as path_effects
import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.colors import to_hex, to_rgba

DIGIT_COLOURS = tuple(to_hex(colour) for colour in matplotlib.colormaps["tab10"].colors)
POSITIVE = "tab:green"  # a same-digit pair, a right result
NEGATIVE = "tab:red"  # a different-digit pair, a wrong result
NEUTRAL = "#333333"  # queries, anchors, anything that is neither
MODALITY_MARKERS = {
    "image": "o",
    "text": "s",
    "audio": "^",
    "video": "D",
    "depth": "v",
    "thermal": "P",
    "imu": "X",
}
MODALITY_TONES = {
    "image": "#202020",
    "text": "#7a7a7a",
    "audio": "#b5b5b5",
    "video": "#4d4d4d",
    "depth": "#606060",
    "thermal": "#959595",
    "imu": "#3a3a3a",
}
_SERIES = (  # (colour, line style, marker) for named series that are neither digits nor pairs
    ("#202020", "-", "o"),
    ("#808080", "--", "s"),
    ("#505050", ":", "^"),
    ("#a8a8a8", "-.", "D"),
    ("#000000", (0, (5, 1, 1, 1)), "v"),
)


def as_numpy(values: torch.Tensor | np.ndarray | list) -> np.ndarray:
    """A CPU NumPy copy of a tensor or array (plots never hold device memory)."""
    return np.asarray(values.detach().cpu() if isinstance(values, torch.Tensor) else values)


def digit_colour(digit: int) -> str:
    """The colour of `digit` in every figure of the series (tab10), as a hex string."""
    return DIGIT_COLOURS[int(digit) % len(DIGIT_COLOURS)]


def digit_colours(labels: torch.Tensor | np.ndarray) -> np.ndarray:
    """One RGBA colour per label (N, 4), digit d in tab10's colour d."""
    table = np.array([to_rgba(colour) for colour in DIGIT_COLOURS])  # (10, 4)
    return table[as_numpy(labels).reshape(-1).astype(int) % len(DIGIT_COLOURS)]


def modality_marker(modality: str) -> str:
    """The marker shape of a modality; an unknown name raises with the known ones."""
    if modality not in MODALITY_MARKERS:
        raise ValueError(f"Unknown modality {modality!r}; use one of {list(MODALITY_MARKERS)}.")
    return MODALITY_MARKERS[modality]


def series_style(index: int) -> dict[str, object]:
    """Colour, line style and marker of the index-th named series: neutral tones only."""
    colour, linestyle, marker = _SERIES[index % len(_SERIES)]
    return {"color": colour, "linestyle": linestyle, "marker": marker}


def cosine_decimals(values: torch.Tensor | np.ndarray | list[float]) -> int:
    """3 where the cosines are all near 1 (or would print as 1.00 while below it), else 2."""
    array = as_numpy(values).astype(float).reshape(-1)
    if array.size == 0:
        return 2
    near_one = (array >= 0.95).all() or ((array >= 0.995) & (array < 1.0)).any()
    return 3 if near_one else 2


def digit_handles(digits: list[int] | np.ndarray, *, marker: str = "o") -> list[plt.Line2D]:
    """Legend entries, one per digit, in the digits' colours."""
    return [
        plt.Line2D([], [], marker=marker, linestyle="", color=digit_colour(d), label=str(int(d)))
        for d in digits
    ]


def label_centres(
    axis: plt.Axes, points: np.ndarray, labels: np.ndarray, *, fontsize: float = 12
) -> None:
    """Write each digit at the median of its points, bold and haloed so it reads on any cluster."""
    labels = labels.reshape(-1).astype(int)
    halo = [path_effects.withStroke(linewidth=3, foreground="white")]
    for digit in np.unique(labels):
        x, y = np.median(points[labels == digit, :2], axis=0)
        axis.text(
            x, y, str(digit), ha="center", va="center", fontsize=fontsize, fontweight="bold",
            color=digit_colour(digit), path_effects=halo,
        )  # fmt: skip


def frame_axis(axis: plt.Axes, colour: str | None, *, width: float = 2.5) -> None:
    """No ticks; a thick coloured frame around the picture, or no frame when colour is None."""
    axis.set_xticks([])
    axis.set_yticks([])
    for spine in axis.spines.values():
        spine.set_visible(colour is not None)
        if colour is not None:
            spine.set_color(colour)
            spine.set_linewidth(width)


def checked_points(
    points: torch.Tensor | np.ndarray, labels: torch.Tensor | np.ndarray, *, dims: int, caller: str
) -> tuple[np.ndarray, np.ndarray]:
    """Points (N, dims) and integer labels (N,) as NumPy, or a ValueError naming the caller."""
    points, labels = as_numpy(points), as_numpy(labels).reshape(-1).astype(int)
    if points.ndim != 2 or points.shape[1] != dims or len(points) != len(labels):
        raise ValueError(
            f"{caller} needs points shaped (N, {dims}) and N labels, got {points.shape} and "
            f"{len(labels)} labels."
        )
    return points, labels


def finish(figure: plt.Figure, title: str | None = None) -> plt.Figure:
    """Give the figure its title (if any) and a tight layout, and return it."""
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    return figure
