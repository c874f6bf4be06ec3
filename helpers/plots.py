"""Plotting boilerplate for the notebooks: digit grids, pair grids, curves, embeddings.

Shared by several notebooks; each function returns the figure so a notebook can tweak it.
"""

from __future__ import annotations

import sys

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio
import seaborn as sns
import torch
from matplotlib.colors import to_hex


def show_digits(
    images: torch.Tensor | np.ndarray,
    labels: torch.Tensor | np.ndarray | None = None,
    *,
    columns: int = 10,
    title: str | None = None,
    size: float = 1.0,
) -> plt.Figure:
    """A grid of 28x28 digits, each titled with its label when labels are given (taught in 02_pairs)."""
    images = np.asarray(images.cpu() if isinstance(images, torch.Tensor) else images)
    images = images.reshape(-1, 28, 28)
    count = len(images)
    rows = max(1, -(-count // columns))
    figure, axes = plt.subplots(
        rows, columns, figsize=(columns * size, rows * size * 1.15), squeeze=False
    )
    for index, axis in enumerate(axes.flat):
        axis.axis("off")
        if index < count:
            axis.imshow(images[index], cmap="gray_r", vmin=images.min(), vmax=images.max())
            if labels is not None:
                axis.set_title(str(int(labels[index])), fontsize=9)
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    return figure


def _as_numpy(values: torch.Tensor | np.ndarray) -> np.ndarray:
    """A CPU NumPy copy of a tensor or array (plots never hold device memory)."""
    return np.asarray(values.detach().cpu() if isinstance(values, torch.Tensor) else values)


def show_pairs(
    anchors: torch.Tensor | np.ndarray,
    partners: torch.Tensor | np.ndarray,
    targets: torch.Tensor | np.ndarray,
    *,
    anchor_labels: torch.Tensor | np.ndarray | None = None,
    partner_labels: torch.Tensor | np.ndarray | None = None,
    columns: int = 8,
    title: str | None = None,
    size: float = 1.1,
) -> plt.Figure:
    """Anchors in one row, their partners under them framed green "same" or red "different".

    Taught in 02_pairs. `targets` holds 1.0 for a same-digit pair and 0.0 for a different one;
    with labels given, each picture is titled with its digit too.
    """
    anchors = _as_numpy(anchors).reshape(-1, 28, 28)
    partners = _as_numpy(partners).reshape(-1, 28, 28)
    targets = _as_numpy(targets).reshape(-1)
    if not len(anchors) == len(partners) == len(targets):
        raise ValueError(
            f"show_pairs needs one partner and one target per anchor, got {len(anchors)} anchors, "
            f"{len(partners)} partners and {len(targets)} targets."
        )
    if columns < 1:
        raise ValueError(f"columns must be at least 1, got {columns}.")
    count = len(anchors)
    groups = max(1, -(-count // columns))
    figure, axes = plt.subplots(
        2 * groups, columns, figsize=(columns * size, 2 * groups * size * 1.25), squeeze=False
    )
    for axis in axes.flat:
        axis.set_xticks([])
        axis.set_yticks([])
        for spine in axis.spines.values():
            spine.set_visible(False)
    for index in range(count):
        row, column = 2 * (index // columns), index % columns
        top, bottom = axes[row, column], axes[row + 1, column]
        top.imshow(anchors[index], cmap="gray_r")
        bottom.imshow(partners[index], cmap="gray_r")
        same = bool(targets[index] >= 0.5)
        colour = "tab:green" if same else "tab:red"
        for spine in bottom.spines.values():
            spine.set_visible(True)
            spine.set_color(colour)
            spine.set_linewidth(2.5)
        if anchor_labels is not None:
            top.set_title(str(int(anchor_labels[index])), fontsize=9)
        word = "same" if same else "different"
        if partner_labels is not None:
            word += f" ({int(partner_labels[index])})"
        bottom.set_title(word, fontsize=8, color=colour)
    for group in range(groups):
        axes[2 * group, 0].set_ylabel("anchor", fontsize=8)
        axes[2 * group + 1, 0].set_ylabel("partner", fontsize=8)
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    return figure


def show_side_by_side(
    images: list[torch.Tensor | np.ndarray],
    titles: list[str],
    *,
    cmap: str = "gray",
    size: float = 2.6,
) -> plt.Figure:
    """Images next to each other, each on its own value range with a colour bar to read it.

    Taught in 02_pairs: the colour bars show what values a transform really produced.
    """
    if len(images) != len(titles):
        raise ValueError(f"Give one title per image: {len(images)} images, {len(titles)} titles.")
    if not images:
        raise ValueError("show_side_by_side needs at least one image.")
    figure, axes = plt.subplots(1, len(images), figsize=(len(images) * size * 1.3, size))
    for axis, image, text in zip(np.atleast_1d(axes), images, titles, strict=True):
        picture = _as_numpy(image).squeeze()
        shown = axis.imshow(picture, cmap=cmap)
        figure.colorbar(shown, ax=axis, fraction=0.046, pad=0.04)
        axis.set_title(text, fontsize=9)
        axis.axis("off")
    figure.tight_layout()
    return figure


def plot_lines(
    curves: dict[str, torch.Tensor | np.ndarray | list[float]],
    *,
    x: torch.Tensor | np.ndarray | list[float] | None = None,
    xlabel: str = "",
    ylabel: str = "",
    title: str | None = None,
    log_y: bool = False,
    steps: bool = False,
    size: tuple[float, float] = (6.0, 3.5),
) -> plt.Figure:
    """One line per named curve on shared axes (`steps=True` draws a staircase, e.g. a schedule).

    Taught in 02_pairs (pixel mappings) and 03_network_and_loss (loss curves, learning rates).
    """
    if not curves:
        raise ValueError("plot_lines needs at least one named curve.")
    figure, axis = plt.subplots(figsize=size)
    for name, values in curves.items():
        values = _as_numpy(values).reshape(-1)
        positions = np.arange(len(values)) if x is None else _as_numpy(x).reshape(-1)
        if len(positions) != len(values):
            raise ValueError(
                f"Curve {name!r} has {len(values)} values but x has {len(positions)} positions."
            )
        axis.plot(positions, values, label=name, drawstyle="steps-post" if steps else "default")
    if log_y:
        axis.set_yscale("log")
    axis.set_xlabel(xlabel)
    axis.set_ylabel(ylabel)
    if title:
        axis.set_title(title)
    axis.grid(alpha=0.3)
    axis.legend(fontsize=8)
    figure.tight_layout()
    return figure


def plot_class_counts(
    counts: dict[str, torch.Tensor | np.ndarray | list[int]],
    *,
    title: str | None = None,
    size: tuple[float, float] = (7.0, 3.0),
) -> plt.Figure:
    """Grouped bars: how many images of each digit every named set holds (taught in 02_pairs)."""
    if not counts:
        raise ValueError("plot_class_counts needs at least one named set of counts.")
    arrays = {name: _as_numpy(values).reshape(-1) for name, values in counts.items()}
    num_classes = {len(values) for values in arrays.values()}
    if len(num_classes) != 1:
        raise ValueError(f"Every set needs one count per digit; got lengths {sorted(num_classes)}.")
    classes = np.arange(num_classes.pop())
    width = 0.8 / len(arrays)
    figure, axis = plt.subplots(figsize=size)
    for offset, (name, values) in enumerate(arrays.items()):
        axis.bar(classes + (offset - (len(arrays) - 1) / 2) * width, values, width, label=name)
    axis.set_xticks(classes)
    axis.set_xlabel("digit")
    axis.set_ylabel("images")
    if title:
        axis.set_title(title)
    axis.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))  # beside the bars
    figure.tight_layout()
    return figure


# ---- Training curves, similarity histograms and embedding maps (taught in 04 and 05) ----------


def _history_frame(history: object) -> pd.DataFrame:
    """A DataFrame indexed by epoch from fit's History, a list of dicts or a DataFrame."""
    if isinstance(history, pd.DataFrame):
        frame = history
    elif hasattr(history, "to_frame"):
        frame = history.to_frame()
    else:
        frame = pd.DataFrame(list(history))
    if "epoch" in frame.columns:
        frame = frame.set_index("epoch")
    if frame.empty:
        raise ValueError("The history is empty: train for at least one epoch first.")
    return frame


def plot_history(
    history: object,
    *,
    references: dict[str, float] | None = None,
    title: str | None = None,
    size: tuple[float, float] = (12.0, 3.4),
) -> plt.Figure:
    """Three panels per epoch: train and validation loss, validation 1-NN accuracy, learning rate.

    Taught in 04_training. `references` draws dashed lines on the accuracy panel, for example
    `{"raw pixels": 0.941}`, so the curve shows what training bought.
    """
    frame = _history_frame(history)
    figure, (loss_axis, accuracy_axis, rate_axis) = plt.subplots(1, 3, figsize=size)
    for column, name in (("train_loss", "train"), ("val_loss", "validation")):
        if column in frame:
            loss_axis.plot(frame.index, frame[column], marker="o", markersize=3, label=name)
    loss_axis.set(title="loss", xlabel="epoch")
    loss_axis.legend(fontsize=8)
    if "val_1nn" in frame:
        accuracy_axis.plot(frame.index, frame["val_1nn"], marker="o", markersize=3, label="network")
    for offset, (name, value) in enumerate((references or {}).items()):
        accuracy_axis.axhline(value, linestyle="--", color=f"C{offset + 1}", label=name)
    accuracy_axis.set(title="validation 1-NN accuracy", xlabel="epoch")
    accuracy_axis.legend(fontsize=8)
    if "lr" in frame:
        rate_axis.plot(frame.index, frame["lr"], drawstyle="steps-post", marker="o", markersize=3)
        rate_axis.set_yscale("log")
    rate_axis.set(title="learning rate", xlabel="epoch")
    for axis in (loss_axis, accuracy_axis, rate_axis):
        axis.grid(alpha=0.3)
        axis.xaxis.get_major_locator().set_params(integer=True)
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    return figure


def plot_similarity_histograms(
    positive: torch.Tensor | np.ndarray,
    negative: torch.Tensor | np.ndarray,
    *,
    title: str | None = None,
    axis: plt.Axes | None = None,
    bins: int = 50,
) -> plt.Figure:
    """Histograms of cosine similarity for same-digit and different-digit pairs, on one axis.

    Taught in 05_embedding_space: after training the two should barely overlap.
    """
    if axis is None:
        figure, axis = plt.subplots(figsize=(6.0, 3.4))
    else:
        figure = axis.figure
    edges = np.linspace(-1.0, 1.0, bins + 1)
    axis.hist(_as_numpy(positive), bins=edges, alpha=0.6, density=True, label="same digit")
    axis.hist(_as_numpy(negative), bins=edges, alpha=0.6, density=True, label="different digits")
    axis.set(xlabel="cosine similarity", ylabel="density", xlim=(-1.0, 1.0))
    axis.legend(fontsize=8)
    if title:
        axis.set_title(title)
    figure.tight_layout()
    return figure


def plot_scores(
    scores: dict[str, float],
    *,
    references: dict[str, float] | None = None,
    xlabel: str = "validation 1-NN accuracy",
    title: str | None = None,
    size: tuple[float, float] = (7.0, 2.8),
) -> plt.Figure:
    """Horizontal bars, one per named score, with dashed lines for reference scores to beat.

    Taught in 04_training: several losses trained on the same budget, each bar labelled with its
    value, next to lines for raw pixels and an untrained network. The axis starts a little below
    the lowest value, so small differences near 1.0 stay visible.
    """
    if not scores:
        raise ValueError("plot_scores needs at least one named score.")
    references = references or {}
    values = np.array([float(value) for value in scores.values()])
    everything = np.concatenate([values, np.array(list(references.values()), dtype=float)])
    if not np.all(np.isfinite(everything)):
        raise ValueError(f"Every score must be a finite number, got {scores} and {references}.")
    figure, axis = plt.subplots(figsize=size)
    positions = np.arange(len(values))[::-1]  # the first score on top
    axis.barh(positions, values, color="C0", height=0.6)
    for position, value in zip(positions, values, strict=True):
        axis.text(value, position, f" {value:.3f}", va="center", fontsize=8)
    for offset, (name, value) in enumerate(references.items()):
        axis.axvline(value, linestyle="--", color=f"C{offset + 1}", label=f"{name} ({value:.3f})")
    axis.set_yticks(positions, list(scores))
    low, high = float(everything.min()), float(everything.max())
    span = max(high - low, 0.02)
    axis.set_xlim(max(0.0, low - 0.25 * span), high + 0.25 * span)
    axis.set_xlabel(xlabel)
    axis.grid(alpha=0.3, axis="x")
    if references:
        axis.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    if title:
        axis.set_title(title)
    figure.tight_layout()
    return figure


def scatter_2d(
    points: torch.Tensor | np.ndarray,
    labels: torch.Tensor | np.ndarray,
    *,
    title: str | None = None,
    axis: plt.Axes | None = None,
    point_size: float = 6.0,
) -> plt.Figure:
    """A seaborn scatter of 2-D points (a UMAP or PCA map) coloured by digit, one colour each.

    Taught in 05_embedding_space. Make the points with `helpers.projection.umap_2d` or `pca`.
    """
    points = _as_numpy(points)
    labels = _as_numpy(labels).reshape(-1)
    if points.ndim != 2 or points.shape[1] != 2 or len(points) != len(labels):
        raise ValueError(
            f"scatter_2d needs points shaped (N, 2) and N labels, got {points.shape} and "
            f"{len(labels)} labels."
        )
    if axis is None:
        figure, axis = plt.subplots(figsize=(6.5, 5.5))
    else:
        figure = axis.figure
    frame = pd.DataFrame({"x": points[:, 0], "y": points[:, 1], "digit": labels.astype(int)})
    sns.scatterplot(
        data=frame,
        x="x",
        y="y",
        hue="digit",
        palette="tab10",
        s=point_size,
        linewidth=0,
        ax=axis,
        legend="full",
    )
    axis.legend(title="digit", fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    axis.set(xticks=[], yticks=[], xlabel="", ylabel="")
    if title:
        axis.set_title(title)
    figure.tight_layout()
    return figure


def _in_colab() -> bool:
    return "google.colab" in sys.modules


def _in_jupyter() -> bool:
    return "ipykernel" in sys.modules


def configure_plotly(*, offline: bool = False) -> str:
    """Pick plotly's renderer so figures show in Colab, JupyterLab and the classic Notebook.

    Taught in 05_embedding_space. Colab: "colab". Jupyter: "plotly_mimetype" (JupyterLab) plus
    "notebook_connected" (classic Notebook, loads plotly.js from the web) or, with
    `offline=True`, "notebook" (embeds plotly.js in the notebook: works offline, adds 3-4 MB).
    Elsewhere (scripts, tests) plotly's default is left alone. Returns the renderer's name.
    GitHub shows none of these: pair each figure with `show_static` for a PNG.
    """
    if _in_colab():
        renderer = "colab"
    elif _in_jupyter():
        renderer = "plotly_mimetype+" + ("notebook" if offline else "notebook_connected")
    else:
        return str(pio.renderers.default)
    pio.renderers.default = renderer
    return renderer


def _hover_labels(labels: np.ndarray) -> list[str]:
    return [str(int(label)) for label in labels]


def scatter_3d(
    points: torch.Tensor | np.ndarray,
    labels: torch.Tensor | np.ndarray,
    *,
    title: str | None = None,
    point_size: float = 2.5,
) -> go.Figure:
    """An interactive plotly 3-D scatter, one trace per digit (click the legend to hide digits).

    Taught in 05_embedding_space. Make the points with `helpers.projection.pca_3d`.
    """
    points = _as_numpy(points)
    labels = _as_numpy(labels).reshape(-1).astype(int)
    if points.ndim != 2 or points.shape[1] != 3 or len(points) != len(labels):
        raise ValueError(
            f"scatter_3d needs points shaped (N, 3) and N labels, got {points.shape} and "
            f"{len(labels)} labels."
        )
    figure = go.Figure(data=_digit_traces(points, labels, point_size))
    figure.update_layout(
        title=title,
        legend_title_text="digit",
        height=550,
        margin={"l": 0, "r": 0, "t": 40 if title else 10, "b": 0},
    )
    return figure


def _digit_traces(points: np.ndarray, labels: np.ndarray, point_size: float) -> list[go.Scatter3d]:
    # matplotlib's tab10, as in the seaborn maps: a digit keeps its colour in every figure
    palette = [to_hex(colour) for colour in matplotlib.colormaps["tab10"].colors]
    return [
        go.Scatter3d(
            x=points[labels == digit, 0],
            y=points[labels == digit, 1],
            z=points[labels == digit, 2],
            mode="markers",
            name=str(digit),
            marker={"size": point_size, "color": palette[digit % len(palette)]},
        )
        for digit in np.unique(labels)
    ]


def animate_3d(
    frames: list[torch.Tensor | np.ndarray],
    labels: torch.Tensor | np.ndarray,
    *,
    frame_names: list[str] | None = None,
    title: str | None = None,
    point_size: float = 2.5,
    duration_ms: int = 600,
) -> go.Figure:
    """A plotly 3-D scatter with a play button and a slider, one frame per set of points.

    Taught in 05_embedding_space: how the space organises itself epoch by epoch. Align the
    frames first (`helpers.projection.aligned_pca_frames`) or the cloud spins between frames.
    """
    if not frames:
        raise ValueError("animate_3d needs at least one frame of points.")
    labels = _as_numpy(labels).reshape(-1).astype(int)
    arrays = [_as_numpy(points) for points in frames]
    if any(a.ndim != 2 or a.shape[1] != 3 or len(a) != len(labels) for a in arrays):
        raise ValueError("Every frame must be shaped (N, 3), with the same N as labels.")
    names = frame_names or [str(index) for index in range(len(arrays))]
    if len(names) != len(arrays):
        raise ValueError(f"Give one name per frame: {len(arrays)} frames, {len(names)} names.")
    stacked = np.concatenate(arrays)
    low, high = stacked.min(axis=0), stacked.max(axis=0)
    axes = {
        f"{axis}axis": {"range": [float(low[i]), float(high[i])], "autorange": False}
        for i, axis in enumerate("xyz")
    }
    figure = go.Figure(
        data=_digit_traces(arrays[0], labels, point_size),
        frames=[
            go.Frame(data=_digit_traces(points, labels, point_size), name=name)
            for points, name in zip(arrays, names, strict=True)
        ],
    )
    play = {"frame": {"duration": duration_ms, "redraw": True}, "fromcurrent": True}
    figure.update_layout(
        title=title,
        legend_title_text="digit",
        height=600,
        scene={**axes, "aspectmode": "cube"},
        updatemenus=[
            {
                "type": "buttons",
                "showactive": False,
                "x": 0.0,
                "y": 0.0,
                "buttons": [
                    {"label": "play", "method": "animate", "args": [None, play]},
                    {
                        "label": "pause",
                        "method": "animate",
                        "args": [[None], {"frame": {"duration": 0}, "mode": "immediate"}],
                    },
                ],
            }
        ],
        sliders=[
            {
                "currentvalue": {"prefix": "frame: "},
                "steps": [
                    {
                        "label": name,
                        "method": "animate",
                        "args": [
                            [name],
                            {"frame": {"duration": 0, "redraw": True}, "mode": "immediate"},
                        ],
                    }
                    for name in names
                ],
            }
        ],
    )
    return figure


def static_figure(
    figure: go.Figure, *, frame: int | None = None, size: tuple[float, float] = (6.5, 5.5)
) -> plt.Figure:
    """A matplotlib drawing of a plotly scatter's data (3-D or 2-D): the picture GitHub can show.

    Taught in 05_embedding_space. Needs no kaleido: it redraws the traces' points and colours.
    For an animation, `frame` picks which frame to draw (default: the last one).
    """
    traces = figure.data
    if figure.frames:
        traces = figure.frames[-1 if frame is None else frame].data
    three_d = any(trace.type == "scatter3d" for trace in traces)
    canvas = plt.figure(figsize=size)
    axis = canvas.add_subplot(projection="3d" if three_d else None)
    for trace in traces:
        colour = trace.marker.color if trace.marker is not None else None
        coordinates = [trace.x, trace.y] + ([trace.z] if three_d else [])
        axis.scatter(*[np.asarray(c) for c in coordinates], s=3, color=colour, label=trace.name)
    title = figure.layout.title.text
    if title:
        axis.set_title(title)
    if any(trace.name for trace in traces):
        axis.legend(
            title="digit", fontsize=7, markerscale=3, loc="upper left", bbox_to_anchor=(1.02, 1.0)
        )
    canvas.tight_layout()
    return canvas


def show_static(figure: go.Figure, *, frame: int | None = None) -> None:
    """Show a PNG of a plotly figure under the interactive one, so GitHub's viewer has a picture.

    Taught in 05_embedding_space. Uses kaleido's exact export when it is installed, and a
    matplotlib drawing of the same points (`static_figure`) when it is not.
    """
    from IPython.display import Image, display

    try:
        display(Image(figure.to_image(format="png", width=700, height=550)))
    except Exception:  # kaleido missing or unable to start (no Chrome): draw it with matplotlib
        canvas = static_figure(figure, frame=frame)
        display(canvas)
        plt.close(canvas)


# ---- Side-by-side maps, animation stills and neighbour galleries (05_embedding_space) ----------


def scatter_maps(
    maps: dict[str, torch.Tensor | np.ndarray],
    labels: torch.Tensor | np.ndarray,
    *,
    scores: dict[str, dict[str, float]] | None = None,
    point_size: float = 6.0,
    size: float = 4.2,
) -> plt.Figure:
    """2-D maps side by side (one `scatter_2d` each), with one shared digit legend on the right.

    Taught in 05_embedding_space: the UMAP map made with cosine distance next to the one made with
    Euclidean distance. `scores` (map name -> {"5-NN": 0.95, "silhouette": 0.6}) go in the
    titles, so each picture carries its measured quality.
    """
    if not maps:
        raise ValueError("scatter_maps needs at least one named map.")
    figure, axes = plt.subplots(1, len(maps), figsize=(size * len(maps) + 1.0, size), squeeze=False)
    for index, (axis, (name, points)) in enumerate(zip(axes[0], maps.items(), strict=True)):
        title = name
        if scores and name in scores:
            title += "\n" + ", ".join(f"{key} {value:.3f}" for key, value in scores[name].items())
        scatter_2d(points, labels, title=title, axis=axis, point_size=point_size)
        axis.title.set_fontsize(10)
        if index < len(maps) - 1 and axis.get_legend() is not None:
            axis.get_legend().remove()
    figure.tight_layout()
    return figure


def static_frames(
    frames: list[torch.Tensor | np.ndarray],
    labels: torch.Tensor | np.ndarray,
    *,
    frame_titles: list[str],
    columns: int = 4,
    size: float = 2.3,
) -> plt.Figure:
    """Every frame of an animation as a small still map (its first two axes), side by side.

    Taught in 05_embedding_space: the picture of the whole animation that GitHub can show. All
    panels share the same limits, as the animation's frames do.
    """
    if not frames:
        raise ValueError("static_frames needs at least one frame.")
    if len(frame_titles) != len(frames):
        raise ValueError(f"Give one title per frame: {len(frames)} frames, {len(frame_titles)}.")
    if columns < 1:
        raise ValueError(f"columns must be at least 1, got {columns}.")
    labels = _as_numpy(labels).reshape(-1).astype(int)
    arrays = [_as_numpy(points) for points in frames]
    if any(a.ndim != 2 or a.shape[1] < 2 or len(a) != len(labels) for a in arrays):
        raise ValueError("Every frame must be shaped (N, 2) or (N, 3), with the same N as labels.")
    stacked = np.concatenate([a[:, :2] for a in arrays])
    low, high = stacked.min(axis=0), stacked.max(axis=0)
    palette = np.array(sns.color_palette("tab10", 10))  # (10, 3): the colours of scatter_2d
    columns = min(columns, len(arrays))
    rows = -(-len(arrays) // columns)
    figure, axes = plt.subplots(rows, columns, figsize=(columns * size, rows * size), squeeze=False)
    for axis in axes.flat:
        axis.axis("off")
    for axis, points, text in zip(axes.flat, arrays, frame_titles, strict=False):
        axis.axis("on")
        axis.scatter(points[:, 0], points[:, 1], s=3, c=palette[labels % 10], linewidths=0)
        axis.set(xlim=(low[0], high[0]), ylim=(low[1], high[1]), xticks=[], yticks=[])
        axis.set_title(text, fontsize=8)
    handles = [
        plt.Line2D([], [], marker="o", linestyle="", color=palette[digit % 10], label=str(digit))
        for digit in np.unique(labels)
    ]
    figure.tight_layout(rect=(0.0, 0.0, 0.93, 1.0))
    figure.legend(handles=handles, title="digit", fontsize=7, loc="center right")
    return figure


def _frame_axis(axis: plt.Axes, colour: str | None) -> None:
    """No ticks; a thick coloured frame around the picture, or no frame when colour is None."""
    axis.set_xticks([])
    axis.set_yticks([])
    for spine in axis.spines.values():
        spine.set_visible(colour is not None)
        if colour is not None:
            spine.set_color(colour)
            spine.set_linewidth(2.5)


def show_neighbours(
    queries: torch.Tensor | np.ndarray,
    query_labels: torch.Tensor | np.ndarray,
    neighbours: torch.Tensor | np.ndarray,
    neighbour_labels: torch.Tensor | np.ndarray,
    *,
    similarities: torch.Tensor | np.ndarray | None = None,
    size: float = 1.0,
    title: str | None = None,
) -> plt.Figure:
    """A gallery: each row a query digit, then its nearest neighbours, framed green or red.

    Taught in 05_embedding_space. `queries` (Q, 28, 28) with labels (Q,); `neighbours`
    (Q, k, 28, 28) with labels (Q, k); optional cosine `similarities` (Q, k) in the titles.
    A green frame marks a neighbour of the query's digit, a red one another digit.
    """
    queries = _as_numpy(queries).reshape(-1, 28, 28)
    query_labels = _as_numpy(query_labels).reshape(-1)
    count = len(queries)
    if len(query_labels) != count:
        raise ValueError(f"Give one label per query: {count} queries, {len(query_labels)} labels.")
    neighbours = _as_numpy(neighbours).reshape(count, -1, 28, 28)  # (Q, k, 28, 28)
    k = neighbours.shape[1]
    neighbour_labels = _as_numpy(neighbour_labels).reshape(count, k)
    if similarities is not None:
        similarities = _as_numpy(similarities).reshape(count, k)
    figure, axes = plt.subplots(
        count, k + 1, figsize=((k + 1) * size, count * size * 1.25), squeeze=False
    )
    for row in range(count):
        axis = axes[row, 0]
        axis.imshow(queries[row], cmap="gray_r", interpolation="nearest")
        _frame_axis(axis, "black")
        axis.set_title(f"query {int(query_labels[row])}", fontsize=8, fontweight="bold")
        for column in range(k):
            axis = axes[row, column + 1]
            axis.imshow(neighbours[row, column], cmap="gray_r", interpolation="nearest")
            same = int(neighbour_labels[row, column]) == int(query_labels[row])
            _frame_axis(axis, "tab:green" if same else "tab:red")
            text = str(int(neighbour_labels[row, column]))
            if similarities is not None:
                text += f" ({similarities[row, column]:.2f})"
            axis.set_title(text, fontsize=7, color="black" if same else "tab:red")
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
        queries = _as_numpy(queries).reshape(-1, 28, 28)
        matches = _as_numpy(matches).reshape(-1, 28, 28)
        if len(queries) != len(matches):
            raise ValueError(
                f"Row {name!r}: {len(queries)} queries but {len(matches)} matched neighbours."
            )
        for index in range(min(per_row, len(queries))):
            pictures = ((queries[index], None), (matches[index], "tab:red"))
            for offset, (image, colour) in enumerate(pictures):
                axis = axes[row, 2 * index + offset]
                axis.axis("on")
                axis.imshow(image, cmap="gray_r", interpolation="nearest")
                _frame_axis(axis, colour)
        axes[row, 0].set_title(name, fontsize=8, loc="left")
    if title:
        figure.suptitle(title, fontsize=10)
    figure.tight_layout()
    return figure
