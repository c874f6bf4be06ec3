"""Figures of the made-offline modalities: all seven side by side, keypad-tone spectrograms, and
the 2-D toy of contrastive learning.

Taught in 01_modalities (and the spectrograms in 06_any_to_any_search).
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F

from helpers.modalities import audio, text
from helpers.plots.style import NEGATIVE, NEUTRAL, POSITIVE, as_numpy, series_style


def _text_panel(axis: plt.Axes, ids: torch.Tensor, *, shown: int = 16) -> None:
    """The first `shown` character ids as one-hot rows, each labelled with its character."""
    first = ids[:shown]  # (shown,)
    characters = list(text.decode(first[None])[0].ljust(len(first)))
    one_hot = F.one_hot(first, text.VOCABULARY_SIZE)  # (shown, vocabulary)
    axis.imshow(one_hot.numpy(), cmap="Greys", aspect="auto", interpolation="nearest")
    names = [f"{c!r} {i}" for c, i in zip(characters, first.tolist(), strict=True)]
    axis.set_yticks(range(len(names)), names, fontsize=7)
    axis.set_xlabel("character id")
    part = "" if len(ids) <= shown else f"first {shown} of "
    axis.set_title(f"text: {part}{len(ids)} character ids, one-hot", fontsize=10)


def _audio_panels(
    waveform_axis: plt.Axes, spectrogram_axis: plt.Axes, waveform: torch.Tensor, sample_rate: int
) -> None:
    shown = int(0.02 * sample_rate)  # the first 20 ms
    time_ms = 1000 * np.arange(shown) / sample_rate
    waveform_axis.plot(time_ms, as_numpy(waveform[:shown]), lw=1, color=NEUTRAL)
    waveform_axis.set(xlabel="time (ms)", ylabel="amplitude")
    waveform_axis.set_title(f"audio: waveform ({waveform.numel()} samples)")
    power_db, hz = audio.spectrogram(waveform, sample_rate=sample_rate)  # (rows, frames), (rows,)
    extent = (0, power_db.shape[1], 0, float(hz[-1]))
    spectrogram_axis.imshow(
        power_db.numpy(), origin="lower", aspect="auto", cmap="magma", extent=extent
    )
    spectrogram_axis.set(xlabel="frame", ylabel="frequency (Hz)")
    spectrogram_axis.set_title(f"audio: spectrogram, 0-{hz[-1] / 1000:.0f} kHz (dB)")


def _picture_panel(axis: plt.Axes, picture: torch.Tensor, title: str) -> None:
    axis.imshow(as_numpy(picture), cmap="gray")
    axis.set_title(title)
    axis.set(xticks=[], yticks=[])


def _imu_panels(
    figure: plt.Figure,
    cell,
    time_s: torch.Tensor,
    accelerometer: torch.Tensor,
    gyroscope: torch.Tensor,
) -> None:
    inner = cell.subgridspec(2, 1, hspace=0.15)
    for row, (values, label) in enumerate(
        [(accelerometer, "accel. (m/s²)"), (gyroscope, "gyro (rad/s)")]
    ):
        axis = figure.add_subplot(inner[row])
        for index, name in enumerate("xyz"):
            look = series_style(index) | {"marker": None}
            axis.plot(as_numpy(time_s), as_numpy(values[:, index]), lw=0.8, label=name, **look)
        axis.set_ylabel(label, fontsize=8)
        if row == 0:
            axis.set_title("IMU: stand, then walk")
            axis.legend(fontsize=7, ncols=3, loc="center left")
            axis.set_xticklabels([])
        else:
            axis.set_xlabel("time (s)")


def plot_modalities(
    *,
    text_ids: torch.Tensor,
    waveform: torch.Tensor,
    clip: torch.Tensor,
    image: torch.Tensor,
    depth: torch.Tensor,
    thermal: torch.Tensor,
    imu_time: torch.Tensor,
    accelerometer: torch.Tensor,
    gyroscope: torch.Tensor,
    sample_rate: int = audio.SAMPLE_RATE,
    dpi: int = 80,
) -> plt.Figure:
    """One figure, one panel per modality (audio gets two: waveform and spectrogram).

    Taught in 01_modalities. `text_ids` (length,) from `text.tokenise`; the spectrogram is
    computed here with `audio.spectrogram`, the same one the encoders read.
    """
    figure = plt.figure(figsize=(17, 7.5), dpi=dpi)
    grid = figure.add_gridspec(2, 4, hspace=0.45, wspace=0.5)
    _text_panel(figure.add_subplot(grid[0, 0]), text_ids)
    _audio_panels(
        figure.add_subplot(grid[0, 1]), figure.add_subplot(grid[0, 2]), waveform, sample_rate
    )
    strip = torch.cat(list(clip[:: max(1, len(clip) // 4)]), dim=0)  # frames stacked vertically
    _picture_panel(figure.add_subplot(grid[0, 3]), strip, f"video: {len(clip)} frames (some shown)")
    _picture_panel(figure.add_subplot(grid[1, 0]), image, "image: one MNIST digit")
    for column, (values, unit, cmap, title) in enumerate(
        [
            (depth, "metres", "viridis_r", "depth: floor, wall, ball"),
            (thermal, "°C", "inferno", "thermal: the same scene"),
        ],
        start=1,
    ):
        axis = figure.add_subplot(grid[1, column])
        figure.colorbar(
            axis.imshow(as_numpy(values), cmap=cmap), ax=axis, label=unit, fraction=0.046
        )
        axis.set_title(title)
        axis.set(xticks=[], yticks=[])
    _imu_panels(figure, grid[1, 3], imu_time, accelerometer, gyroscope)
    return figure


def show_spectrograms(
    spectrograms: torch.Tensor | np.ndarray,
    *,
    titles: Sequence[str],
    size: float = 1.5,
) -> plt.Figure:
    """Spectrograms (N, rows, frames) from `audio.spectrogram_batch` in one row, 0-2 kHz.

    Taught in 06_any_to_any_search: one keypad tone per digit, its two tones as two bright bands.
    """
    pictures = as_numpy(spectrograms)
    if pictures.ndim != 3 or len(titles) != len(pictures):
        raise ValueError(
            f"Pass spectrograms (N, rows, frames) and N titles, got {pictures.shape} and "
            f"{len(titles)} titles."
        )
    figure, axes = plt.subplots(
        1, len(pictures), figsize=(size * len(pictures), size * 1.5), sharey=True, squeeze=False
    )
    for axis, picture, title in zip(axes[0], pictures, titles, strict=True):
        extent = (0, picture.shape[1], 0, audio.MAX_HZ)
        axis.imshow(picture, origin="lower", aspect="auto", cmap="magma", extent=extent)
        axis.set_title(title, fontsize=9)
        axis.set_xticks([])
    axes[0, 0].set_ylabel("Hz")
    figure.tight_layout()
    return figure


def plot_toy_trajectory(
    trajectory: torch.Tensor | np.ndarray,
    *,
    n_positives: int,
    margin: float | None = None,
    dpi: int = 80,
) -> plt.Figure:
    """The anchor, positives and negatives of a toy run: start hollow, end filled, paths drawn.

    Taught in 01_modalities. `trajectory` is (steps + 1, 1 + P + N, 2) as
    `modalities.toy.run_toy_contrastive` records it; with `margin` a dashed circle of that radius
    is drawn round the anchor's final position. Positives are green and negatives red.
    """
    trajectory = as_numpy(trajectory)  # (steps + 1, 1 + P + N, 2)
    figure, axis = plt.subplots(figsize=(6, 6), dpi=dpi)
    if margin is not None:
        end = trajectory[-1, 0].tolist()
        circle = plt.Circle(
            end, margin, fill=False, ls="--", color="grey", label=f"margin {margin:g}"
        )
        axis.add_patch(circle)
    groups = [
        ("anchor", slice(0, 1), NEUTRAL, "*"),
        ("positives", slice(1, 1 + n_positives), POSITIVE, "o"),
        ("negatives", slice(1 + n_positives, None), NEGATIVE, "s"),
    ]
    for name, rows, colour, marker in groups:
        path = trajectory[:, rows]  # (steps + 1, n, 2)
        for i in range(path.shape[1]):
            axis.plot(path[:, i, 0], path[:, i, 1], color=colour, lw=0.8, alpha=0.6)
        axis.scatter(
            path[0, :, 0], path[0, :, 1], facecolors="none", edgecolors=colour, marker=marker
        )
        axis.scatter(path[-1, :, 0], path[-1, :, 1], color=colour, marker=marker, s=60, label=name)
    axis.set_aspect("equal")
    axis.set_title(f"{len(trajectory) - 1} steps: hollow = start, filled = end")
    axis.legend()
    return figure
