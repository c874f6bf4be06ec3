"""Figures of search results: neighbour galleries, confusions, any-to-any results, recall maps.

Green frames a result of the query's digit and red one of another digit; the query itself gets a
neutral frame. Cosines are written with three decimals where they are all near 1.00.

Taught in 05_embedding_space (galleries) and 06_any_to_any_search (results of any modality,
recall heatmaps).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.patches import Rectangle

from helpers.plots.style import NEGATIVE, NEUTRAL, POSITIVE, as_numpy, cosine_decimals, frame_axis

if TYPE_CHECKING:
    import pandas as pd
    from IPython.display import Audio


def show_neighbours(
    queries: torch.Tensor | np.ndarray,
    query_labels: torch.Tensor | np.ndarray,
    neighbours: torch.Tensor | np.ndarray,
    neighbour_labels: torch.Tensor | np.ndarray,
    *,
    similarities: torch.Tensor | np.ndarray | None = None,
    size: float = 1.2,
    title: str | None = None,
) -> plt.Figure:
    """A gallery: each row a query digit, then its nearest neighbours, framed green or red.

    Taught in 05_embedding_space. `queries` (Q, 28, 28) with labels (Q,); `neighbours`
    (Q, k, 28, 28) with labels (Q, k); optional cosine `similarities` (Q, k) in the titles.
    A green frame marks a neighbour of the query's digit, a red one another digit; cosines get
    three decimals when they are all near 1.
    """
    queries = as_numpy(queries).reshape(-1, 28, 28)
    query_labels = as_numpy(query_labels).reshape(-1)
    count = len(queries)
    if len(query_labels) != count:
        raise ValueError(f"Give one label per query: {count} queries, {len(query_labels)} labels.")
    neighbours = as_numpy(neighbours).reshape(count, -1, 28, 28)  # (Q, k, 28, 28)
    k = neighbours.shape[1]
    neighbour_labels = as_numpy(neighbour_labels).reshape(count, k)
    if similarities is not None:
        similarities = as_numpy(similarities).reshape(count, k)
        decimals = cosine_decimals(similarities)
    figure, axes = plt.subplots(
        count, k + 1, figsize=((k + 1) * size, count * size * 1.25), squeeze=False
    )
    for row in range(count):
        axis = axes[row, 0]
        axis.imshow(queries[row], cmap="gray_r", interpolation="nearest")
        frame_axis(axis, NEUTRAL)
        axis.set_title(f"query {int(query_labels[row])}", fontsize=8, fontweight="bold")
        for column in range(k):
            axis = axes[row, column + 1]
            axis.imshow(neighbours[row, column], cmap="gray_r", interpolation="nearest")
            same = int(neighbour_labels[row, column]) == int(query_labels[row])
            frame_axis(axis, POSITIVE if same else NEGATIVE)
            text = str(int(neighbour_labels[row, column]))
            if similarities is not None:
                text += f" ({similarities[row, column]:.{decimals}f})"
            axis.set_title(text, fontsize=8, color="black" if same else NEGATIVE)
    if title:
        figure.suptitle(title, fontsize=10)
    figure.tight_layout()
    return figure


def show_confusions(
    examples: dict[str, tuple[torch.Tensor | np.ndarray, torch.Tensor | np.ndarray]],
    *,
    per_row: int = 5,
    size: float = 1.0,
    title: str | None = None,
) -> plt.Figure:
    """Confused digits: one row per named confusion, each query next to the neighbour it matched.

    Taught in 05_embedding_space. `examples` maps a row title (e.g. "4 taken for 9 (7 times)") to
    (queries (n, 28, 28), matched neighbours (n, 28, 28)); up to `per_row` couples are shown,
    the matched neighbour framed red.
    """
    if not examples:
        raise ValueError("show_confusions needs at least one named row of examples.")
    if per_row < 1:
        raise ValueError(f"per_row must be at least 1, got {per_row}.")
    figure, axes = plt.subplots(
        len(examples),
        2 * per_row,
        figsize=(2 * per_row * size, len(examples) * size * 1.35),
        squeeze=False,
    )
    for axis in axes.flat:
        axis.axis("off")
    for row, (name, (queries, matches)) in enumerate(examples.items()):
        queries = as_numpy(queries).reshape(-1, 28, 28)
        matches = as_numpy(matches).reshape(-1, 28, 28)
        if len(queries) != len(matches):
            raise ValueError(
                f"Row {name!r}: {len(queries)} queries but {len(matches)} matched neighbours."
            )
        for index in range(min(per_row, len(queries))):
            pictures = ((queries[index], None), (matches[index], NEGATIVE))
            for offset, (image, colour) in enumerate(pictures):
                axis = axes[row, 2 * index + offset]
                axis.axis("on")
                axis.imshow(image, cmap="gray_r", interpolation="nearest")
                frame_axis(axis, colour)
        axes[row, 0].set_title(name, fontsize=8, loc="left")
    if title:
        figure.suptitle(title, fontsize=10)
    figure.tight_layout()
    return figure


# --- any-to-any search (06) ---------------------------------------------------------------------


def _draw_item(axis: plt.Axes, modality: str, item: np.ndarray | str) -> None:
    """An item the way its modality reads: a digit drawn, a text written, a tone's spectrogram."""
    from helpers.modalities import audio

    if modality == "image":
        axis.imshow(item, cmap="gray_r", interpolation="nearest")
    elif modality == "text":
        axis.text(0.5, 0.5, repr(item), ha="center", va="center", fontsize=11, wrap=True)
        axis.set_facecolor("#f4f4f4")
    else:
        picture = audio.spectrogram_batch([torch.as_tensor(item)])[0].numpy()  # (rows, frames)
        extent = (0, picture.shape[1], 0, audio.MAX_HZ)
        axis.imshow(picture, origin="lower", aspect="auto", cmap="magma", extent=extent)


def show_results(
    query: Any,
    results: pd.DataFrame,
    *,
    query_label: int | None = None,
    size: float = 1.9,
) -> plt.Figure:
    """The query, then each result of a search, drawn the way its modality reads.

    Taught in 06_any_to_any_search. Images are drawn, texts written, tones shown as their
    spectrogram (0-2 kHz). `results` comes from `vectordb.search_table` or `search_any`; each title
    gives rank, modality, digit and cosine. With `query_label`, results of that digit are framed
    green and others red. Nothing is printed or played: see `audio_players` for sound.
    """
    from helpers import vectordb

    if len(results) == 0:
        raise ValueError("There are no results to show; the search returned no rows.")
    modality = vectordb.query_modality(query)
    count = len(results) + 1
    figure, axes = plt.subplots(1, count, figsize=(size * count, size * 1.2), squeeze=False)
    _draw_item(axes[0, 0], modality, query if modality == "text" else as_numpy(query))
    frame_axis(axes[0, 0], NEUTRAL)
    suffix = "" if query_label is None else f" ({query_label})"
    axes[0, 0].set_title(f"query: {modality}{suffix}", fontsize=9, fontweight="bold")
    decimals = cosine_decimals(results["similarity"].to_numpy())
    rows = results.to_dict("records")
    for rank, (axis, row) in enumerate(zip(axes[0, 1:], rows, strict=True), start=1):
        _draw_item(axis, row["modality"], vectordb.payload(row))
        right = query_label is None or int(row["label"]) == int(query_label)
        frame_axis(axis, None if query_label is None else POSITIVE if right else NEGATIVE)
        axis.set_title(
            f"{rank}. {row['modality']} {row['label']}\ncos {row['similarity']:.{decimals}f}",
            fontsize=9,
            color="black" if right else NEGATIVE,
        )
    figure.tight_layout()
    return figure


def audio_players(query: Any, results: pd.DataFrame) -> list[tuple[str, Audio]]:
    """A titled player for the query and every result that is a tone: [(title, Audio), ...].

    Taught in 06_any_to_any_search. Show them with `display(player)` under a `print(title)`.
    """
    from IPython.display import Audio

    from helpers import vectordb
    from helpers.modalities import audio

    sounds = [("query", as_numpy(query))] if vectordb.query_modality(query) == "audio" else []
    for rank, row in enumerate(results.to_dict("records"), start=1):
        if row["modality"] == "audio":
            sounds.append((f"result {rank}: keypad tone {row['label']}", vectordb.payload(row)))
    return [(title, Audio(wave, rate=audio.SAMPLE_RATE, normalize=True)) for title, wave in sounds]


def plot_recall_heatmaps(
    tables: Mapping[str, pd.DataFrame],
    *,
    note: str | None = None,
    boxes: Sequence[tuple[str, str]] = (),
    size: float = 3.4,
) -> plt.Figure:
    """One annotated query x target heatmap per named recall table, on one 0-1 colour scale.

    Taught in 06_any_to_any_search. Tables come from `binding.cross_modal_recall`. `boxes` lists
    (query, target) cells to outline in every panel, e.g. the emergent pairs text -> audio and
    audio -> text; `note` (say, the chance level) is written under the figure.
    """
    if not tables:
        raise ValueError("Pass at least one recall table.")
    figure, axes = plt.subplots(
        1, len(tables), figsize=(size * len(tables), size * 0.95), squeeze=False
    )
    for axis, (title, table) in zip(axes[0], tables.items(), strict=True):
        values = table.to_numpy(dtype=float)  # (queries, targets)
        queries, targets = [str(name) for name in table.index], [str(n) for n in table.columns]
        axis.imshow(values, vmin=0.0, vmax=1.0, cmap="viridis")
        for (row, column), value in np.ndenumerate(values):
            colour = "black" if value > 0.6 else "white"
            axis.text(column, row, f"{value:.2f}", ha="center", va="center", color=colour)
        for query, target in boxes:
            if query not in queries or target not in targets:
                raise ValueError(f"No cell ({query!r}, {target!r}) in table {title!r} to box.")
            corner = (targets.index(target) - 0.5, queries.index(query) - 0.5)
            for colour, width in (("black", 3.5), ("white", 1.5)):
                axis.add_patch(Rectangle(corner, 1, 1, fill=False, edgecolor=colour, lw=width))
        axis.set_xticks(range(len(targets)), targets)
        axis.set_yticks(range(len(queries)), queries)
        axis.set(title=title, xlabel="target", ylabel="query")
        axis.title.set_fontsize(10)
    if note:
        figure.text(0.5, 0.01, note, ha="center", fontsize=9)
    figure.tight_layout(rect=(0.0, 0.05 if note else 0.0, 1.0, 1.0))
    return figure
