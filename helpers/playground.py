"""The live playground: draw a digit, type a word or press a key, and watch the shared space answer.

One widget takes a query in any of the three modalities of notebook 06: a canvas to draw on (mouse,
pen or finger), a text box, and a telephone keypad whose keys play a tone. Every change is embedded
by that modality's encoder and searched in the LanceDB table of notebook 06, and the top results of
each modality come back (images drawn, texts written, tones as players), while a 3-D view of the
space marks the query and its neighbours.

The widget is built on anywidget: one small ES module (`playground.js`, shipped beside this file)
is its whole front end, with no build step, and the same widget runs in JupyterLab, the classic
Notebook and Colab (where anywidget switches on Colab's custom-widget manager by itself). The 3-D
view is plotly's own `FigureWidget`, which is an anywidget too. Everything the widget shows is
computed by `live_search.answer`, plain Python that the tests call without a browser.

Taught in 08_playground.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anywidget
import ipywidgets
import numpy as np
import torch
import traitlets

from helpers.live_search import MAX_K, MODALITIES, SearchSpace, answer, check_options, table_rows

if TYPE_CHECKING:
    import matplotlib.figure
    import plotly.graph_objects as go

KEYPAD = "123456789 0 "  # a phone's keypad, row by row; blanks are the keys without a digit
SYMBOLS = {"image": "circle", "text": "square", "audio": "diamond"}  # one marker per modality
FALLBACK_TEXT = (
    "Live playground: a canvas, a text box and a keypad that search the shared space. It needs a "
    "running Python kernel (JupyterLab, Notebook or Colab); the static example above shows what it "
    "answers for a drawn 7."
)


# --- The 3-D view of the space ------------------------------------------------------------------


@dataclass(frozen=True)
class SpaceView:
    """Every row of the table on the space's first three principal axes, and how to add a query."""

    ids: np.ndarray  # (N,)
    points: np.ndarray  # (N, 3)
    labels: np.ndarray  # (N,)
    modalities: list[str]
    projection: Any  # projection.PCAProjection fitted on the rows' unit vectors

    def place(self, vector: Sequence[float] | torch.Tensor) -> np.ndarray:
        """Where an embedding (dim,) lands in the view, (3,)."""
        return self.projection.project(np.asarray(vector, dtype=np.float32)[None])[0]

    def rows_of(self, ids: Sequence[int]) -> np.ndarray:
        """Positions in `points` of the rows with these ids."""
        where = {int(row_id): index for index, row_id in enumerate(self.ids)}
        return np.array([where[int(row_id)] for row_id in ids], dtype=np.int64)


def space_view(space: SearchSpace) -> SpaceView:
    """PCA of every row's unit vector onto three axes (as in 05_embedding_space's 3-D view).

    A linear map, so a new query is placed in the same picture with one matrix product.
    """
    from helpers import projection

    ids, vectors, labels, modalities = table_rows(space)
    fitted = projection.pca_3d(vectors)
    return SpaceView(ids, fitted.points, labels, modalities, fitted)


def view_figure(view: SpaceView, *, widget: bool = True) -> go.FigureWidget | go.Figure:
    """The 3-D view: one trace per modality (marker shape), coloured by digit (tab10).

    Two more traces, empty until `highlight` fills them, mark the neighbours and the query.
    Returns a plotly `FigureWidget` (live in the playground) or, with `widget=False`, a `Figure`.
    """
    import matplotlib
    import plotly.graph_objects as go
    from matplotlib.colors import to_hex

    palette = [to_hex(colour) for colour in matplotlib.colormaps["tab10"].colors]
    modalities = np.asarray(view.modalities)
    traces = []
    for modality in MODALITIES:
        mask = modalities == modality
        if not mask.any():
            continue
        labels = view.labels[mask]
        traces.append(
            go.Scatter3d(
                x=view.points[mask, 0],
                y=view.points[mask, 1],
                z=view.points[mask, 2],
                mode="markers",
                name=modality,
                text=[f"{modality} {label}" for label in labels],
                hoverinfo="text",
                marker={
                    "size": 2.5,
                    "color": [palette[label % 10] for label in labels],
                    "symbol": SYMBOLS[modality],
                    "opacity": 0.5,
                },
            )
        )
    for name, size, symbol in (("neighbours", 7, "circle-open"), ("query", 9, "x")):
        traces.append(
            go.Scatter3d(
                x=[], y=[], z=[], mode="markers", name=name, hoverinfo="text",
                marker={"size": size, "color": "black", "symbol": symbol},
            )
        )  # fmt: skip
    layout = {
        "height": 480,
        "margin": {"l": 0, "r": 0, "t": 30, "b": 0},
        "title": "the shared space (PCA, 3 axes): query and neighbours in black",
        "legend": {"itemsizing": "constant"},
    }
    return (go.FigureWidget if widget else go.Figure)(data=traces, layout=layout)


def highlight(
    figure: go.FigureWidget | go.Figure, view: SpaceView, reply: Mapping[str, Any]
) -> None:
    """Mark the query and its neighbours of a `answer` reply in a `view_figure` (last two traces)."""
    neighbours, query = figure.data[-2], figure.data[-1]
    if reply.get("status") != "ok":
        with figure.batch_update():
            for trace in (neighbours, query):
                trace.x, trace.y, trace.z, trace.text = [], [], [], []
        return
    found = [row for rows in reply["results"].values() for row in rows]
    rows = view.rows_of([row["id"] for row in found])
    points = view.points[rows]  # (found, 3)
    here = view.place(reply["vector"])  # (3,)
    with figure.batch_update():
        neighbours.x, neighbours.y, neighbours.z = points[:, 0], points[:, 1], points[:, 2]
        neighbours.text = [f"{view.modalities[i]} {view.labels[i]}" for i in rows]
        query.x, query.y, query.z = [here[0]], [here[1]], [here[2]]
        query.text = [f"your {reply['query']['modality']}"]


# --- The widget ---------------------------------------------------------------------------------


class Playground(anywidget.AnyWidget):
    """The query side of the playground: canvas, text box and keypad, with the results beside them.

    Taught in 08_playground. The browser sets `query`; Python answers into `answer`. From Python,
    `draw`, `type_text` and `press` ask the same questions the browser does.
    """

    _esm = Path(__file__).with_name("playground.js")
    _css = Path(__file__).with_name("playground.css")
    query = traitlets.Dict().tag(sync=True)
    answer = traitlets.Dict().tag(sync=True)
    k = traitlets.Int(5).tag(sync=True)
    targets = traitlets.List(traitlets.Unicode(), default_value=list(MODALITIES)).tag(sync=True)
    canvas_size = traitlets.Int(280).tag(sync=True)
    pen_width = traitlets.Float(18.0).tag(sync=True)
    keypad = traitlets.Unicode(KEYPAD).tag(sync=True)
    max_k = traitlets.Int(MAX_K).tag(sync=True)

    def __init__(
        self,
        space: SearchSpace,
        *,
        view: SpaceView | None = None,
        figure: go.FigureWidget | None = None,
        k: int = 5,
        targets: Sequence[str] = MODALITIES,
        seed: int = 0,
    ) -> None:
        check_options(k, targets)
        super().__init__(k=k, targets=list(targets))
        self.space, self.view, self.figure = space, view, figure
        self.generator = torch.Generator().manual_seed(seed)  # each key press: a new tone

    @traitlets.observe("query", "k", "targets")
    def _ask(self, _change: Mapping[str, Any]) -> None:
        if not self.query:
            return
        try:
            reply = answer(
                self.space, self.query, k=self.k, targets=self.targets, generator=self.generator
            )
        except Exception as error:  # shown in the widget: a live view must not fail silently
            reply = {"seq": self.query.get("seq", 0), "status": "message", "results": {}}
            reply["message"] = f"{type(error).__name__}: {error}"
        if self.figure is not None and self.view is not None:
            highlight(self.figure, self.view, reply)
        self.answer = reply

    def _next(self, **query: Any) -> dict:
        self.query = {**query, "seq": int(self.query.get("seq", 0)) + 1}
        return self.answer

    def draw(self, strokes: Sequence[Sequence[tuple[float, float]]]) -> dict:
        """Search for a drawing (strokes of (x, y) points on the canvas); returns the answer."""
        strokes = [[list(map(float, point)) for point in stroke] for stroke in strokes]
        size = [self.canvas_size, self.canvas_size]
        return self._next(
            kind="drawing", strokes=strokes, canvas_size=size, pen_width=self.pen_width
        )

    def type_text(self, text: str) -> dict:
        """Search for a typed text; returns the answer."""
        return self._next(kind="text", text=text)

    def press(self, key: str | int) -> dict:
        """Search for a new tone of a keypad key; returns the answer."""
        return self._next(kind="key", key=str(key))


class PlaygroundPanel(ipywidgets.VBox):
    """The playground above its 3-D view; without a live kernel it reads as one plain sentence."""

    def _repr_mimebundle_(self, **kwargs: Any) -> dict | None:
        bundle = super()._repr_mimebundle_(**kwargs)
        if bundle is not None:  # the default text is a repr with memory addresses
            bundle["text/plain"] = FALLBACK_TEXT
        return bundle


def playground(
    space: SearchSpace, *, k: int = 5, targets: Sequence[str] = MODALITIES, seed: int = 0
) -> PlaygroundPanel:
    """The whole playground: query widget and results, above a live 3-D view of the space.

    Taught in 08_playground. `panel.children[0]` is the `Playground` widget (its `draw`,
    `type_text` and `press` ask from Python) and `panel.children[1]` the plotly `FigureWidget`.
    """
    view = space_view(space)
    figure = view_figure(view)
    widget = Playground(space, view=view, figure=figure, k=k, targets=targets, seed=seed)
    return PlaygroundPanel([widget, figure])


# --- The same answer as a still picture, for readers without a live kernel ----------------------


def _decode(url: str) -> bytes:
    import base64

    return base64.b64decode(url.split(",", 1)[1])


def _draw_item(axis: Any, modality: str, row: Mapping[str, Any]) -> None:
    """One shown item on a matplotlib axis: a picture, a text, or a tone's spectrogram (0-2 kHz)."""
    import io
    import wave

    from PIL import Image

    if modality == "image":
        axis.imshow(np.asarray(Image.open(io.BytesIO(_decode(row["picture"])))), cmap="gray")
    elif modality == "text":
        axis.text(0.5, 0.5, repr(row["text"]), ha="center", va="center", fontsize=10)
        axis.set_facecolor("#f4f4f4")
    else:
        with wave.open(io.BytesIO(_decode(row["audio"]))) as file:
            rate = file.getframerate()
            samples = np.frombuffer(file.readframes(file.getnframes()), dtype="<i2")
        axis.specgram(samples / 32768, Fs=rate, NFFT=256, noverlap=192, cmap="magma")
        axis.set_ylim(0, 2000)
    axis.set_xticks([])
    axis.set_yticks([])


def static_answer(
    reply: Mapping[str, Any], *, expected: int | None = None
) -> matplotlib.figure.Figure:
    """A matplotlib figure of an answer: the query, then one row per modality of its top results.

    Taught in 08_playground. Tones are drawn as spectrograms (0-2 kHz). With `expected`, results
    of another digit get a red frame. Returns the figure (GitHub's viewer shows it as a PNG).
    """
    import matplotlib.pyplot as plt

    if reply.get("status") != "ok":
        raise ValueError(f"There is nothing to draw: the answer says {reply.get('message')!r}.")
    results = reply["results"]
    columns = 1 + max(len(rows) for rows in results.values())
    figure, axes = plt.subplots(
        len(results), columns, figsize=(1.45 * columns, 1.6 * len(results)), squeeze=False
    )
    for axis in axes.flat:
        axis.axis("off")
    query = reply["query"]
    axes[0, 0].axis("on")
    _draw_item(axes[0, 0], query["modality"], query)
    axes[0, 0].set_title(f"query: {query['modality']}", fontsize=9)
    for line, (modality, rows) in enumerate(results.items()):
        for rank, row in enumerate(rows, start=1):
            axis = axes[line, rank]
            axis.axis("on")
            _draw_item(axis, modality, row)
            axis.set_title(f"{rank}. {row['label']} · {row['similarity']:.2f}", fontsize=9)
            if expected is not None and row["label"] != expected:
                for spine in axis.spines.values():
                    spine.set(color="red", linewidth=2)
        axes[line, 1].set_ylabel(modality, fontsize=9)
    figure.tight_layout()
    return figure


def static_view(
    view: SpaceView, reply: Mapping[str, Any], *, size: tuple[float, float] = (6, 5)
) -> matplotlib.figure.Figure:
    """The 3-D view as a still: every row faint in its digit's colour, the query and its
    neighbours in black. Taught in 08_playground. Returns the matplotlib figure."""
    import matplotlib
    import matplotlib.pyplot as plt

    if reply.get("status") != "ok":
        raise ValueError(f"There is nothing to draw: the answer says {reply.get('message')!r}.")
    palette = matplotlib.colormaps["tab10"].colors
    figure = plt.figure(figsize=size)
    axis = figure.add_subplot(projection="3d")
    colours = [palette[label % 10] for label in view.labels]
    axis.scatter(*view.points.T, s=2, c=colours, alpha=0.25, depthshade=False)
    found = [row["id"] for rows in reply["results"].values() for row in rows]
    near = view.points[view.rows_of(found)]  # (found, 3)
    axis.scatter(*near.T, s=45, facecolors="none", edgecolors="black", label="neighbours")
    axis.scatter(*view.place(reply["vector"]), s=140, c="black", marker="X", label="query")
    axis.set(xlabel="PC 1", ylabel="PC 2", zlabel="PC 3")
    axis.legend(loc="upper left")
    figure.tight_layout()
    return figure
