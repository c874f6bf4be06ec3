"""The embedding space in 3-D with plotly: rotate it, animate it over training, and keep a still.

plotly is imported inside the functions that draw; `configure_plotly` picks the renderer that
shows in Colab, JupyterLab and the classic Notebook. `static_figure` redraws a plotly scatter with
matplotlib, the picture GitHub's viewer can show.

Taught in 05_embedding_space.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import matplotlib.pyplot as plt
import numpy as np
import torch

from helpers.plots.style import as_numpy, checked_points, digit_colour

if TYPE_CHECKING:
    import plotly.graph_objects as go


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
    import plotly.io as pio

    if _in_colab():
        renderer = "colab"
    elif _in_jupyter():
        renderer = "plotly_mimetype+" + ("notebook" if offline else "notebook_connected")
    else:
        return str(pio.renderers.default)
    pio.renderers.default = renderer
    return renderer


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
    points, labels = checked_points(points, labels, dims=3, caller="scatter_3d")
    import plotly.graph_objects as go

    figure = go.Figure(data=_digit_traces(points, labels, point_size))
    figure.update_layout(
        title=title,
        legend_title_text="digit",
        height=550,
        margin={"l": 0, "r": 0, "t": 40 if title else 10, "b": 0},
    )
    return figure


def _digit_traces(points: np.ndarray, labels: np.ndarray, point_size: float) -> list[go.Scatter3d]:
    """One plotly trace per digit, in the digit's colour of every other figure (tab10)."""
    import plotly.graph_objects as go

    return [
        go.Scatter3d(
            x=points[labels == digit, 0],
            y=points[labels == digit, 1],
            z=points[labels == digit, 2],
            mode="markers",
            name=str(digit),
            marker={"size": point_size, "color": digit_colour(digit)},
        )
        for digit in np.unique(labels)
    ]


def _player(names: list[str], duration_ms: int) -> dict[str, list[dict]]:
    """plotly layout for a play/pause pair of buttons and a slider over the named frames."""
    play = {"frame": {"duration": duration_ms, "redraw": True}, "fromcurrent": True}
    still = {"frame": {"duration": 0, "redraw": True}, "mode": "immediate"}
    buttons = [
        {"label": "play", "method": "animate", "args": [None, play]},
        {
            "label": "pause",
            "method": "animate",
            "args": [[None], {**still, "frame": {"duration": 0}}],
        },
    ]
    steps = [{"label": name, "method": "animate", "args": [[name], still]} for name in names]
    return {
        "updatemenus": [
            {"type": "buttons", "showactive": False, "x": 0.0, "y": 0.0, "buttons": buttons}
        ],
        "sliders": [{"currentvalue": {"prefix": "frame: "}, "steps": steps}],
    }


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
    labels = as_numpy(labels).reshape(-1).astype(int)
    arrays = [as_numpy(points) for points in frames]
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
    import plotly.graph_objects as go

    figure = go.Figure(
        data=_digit_traces(arrays[0], labels, point_size),
        frames=[
            go.Frame(data=_digit_traces(points, labels, point_size), name=name)
            for points, name in zip(arrays, names, strict=True)
        ],
    )
    figure.update_layout(
        title=title,
        legend_title_text="digit",
        height=600,
        scene={**axes, "aspectmode": "cube"},
        **_player(names, duration_ms),
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
        axis.scatter(*[np.asarray(c) for c in coordinates], s=6, color=colour, label=trace.name)
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
