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
    import pandas as pd
    import plotly.graph_objects as go

KEYPAD = "123456789 0 "  # a phone's keypad, row by row; blanks are the keys without a digit
# One marker per modality in plotly's 3-D view: the series' shapes (plots.style.MODALITY_MARKERS),
# with a diamond for audio's triangle, which plotly's 3-D markers lack.
SYMBOLS = {"image": "circle", "text": "square", "audio": "diamond"}
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


def _medians(view: SpaceView) -> dict[int, np.ndarray]:
    """Each digit's median position (3,) over all modalities: where its label is written."""
    return {
        int(d): np.median(view.points[view.labels == d], axis=0) for d in np.unique(view.labels)
    }


def view_figure(view: SpaceView, *, widget: bool = True) -> go.FigureWidget | go.Figure:
    """The 3-D view in the series' visual language: digit colours (tab10), modality shapes.

    Taught in 08_playground. One trace per modality (circle image, square text, diamond audio:
    plotly's 3-D markers have no triangle), each point in its digit's colour; the legend shows the
    shapes in grey, and every digit's label sits at its median point. Two more traces, empty until
    `highlight` fills them, mark the neighbours and the query in black. Returns a plotly
    `FigureWidget` (live in the playground) or, with `widget=False`, a `Figure`.
    """
    import plotly.graph_objects as go

    from helpers.plots.style import MODALITY_TONES, NEUTRAL, digit_colour

    modalities = np.asarray(view.modalities)
    traces = []
    for modality in (m for m in MODALITIES if (modalities == m).any()):
        mask = modalities == modality
        shape = {"symbol": SYMBOLS[modality]}
        traces.append(
            go.Scatter3d(
                x=view.points[mask, 0], y=view.points[mask, 1], z=view.points[mask, 2],
                mode="markers", name=modality, legendgroup=modality, showlegend=False,
                text=[f"{modality} {label}" for label in view.labels[mask]], hoverinfo="text",
                marker={**shape, "size": 2.5, "opacity": 0.5,
                        "color": [digit_colour(label) for label in view.labels[mask]]},
            )
        )  # fmt: skip
        traces.append(  # the legend entry: the modality's shape in grey, no digit colour
            go.Scatter3d(
                x=[None], y=[None], z=[None], mode="markers", name=modality, legendgroup=modality,
                marker={**shape, "size": 6, "color": MODALITY_TONES[modality]},
            )
        )  # fmt: skip
    centres = _medians(view)
    traces.append(
        go.Scatter3d(
            x=[c[0] for c in centres.values()], y=[c[1] for c in centres.values()],
            z=[c[2] for c in centres.values()], mode="text", name="digits", hoverinfo="skip",
            text=[str(d) for d in centres], showlegend=False,
            textfont={"size": 18, "weight": "bold", "color": [digit_colour(d) for d in centres]},
        )
    )  # fmt: skip
    for name, size, symbol in (("neighbours", 7, "circle-open"), ("query", 9, "x")):
        traces.append(
            go.Scatter3d(
                x=[], y=[], z=[], mode="markers", name=name, hoverinfo="text",
                marker={"size": size, "color": NEUTRAL, "symbol": symbol},
            )
        )  # fmt: skip
    layout = {
        "height": 480,
        "margin": {"l": 0, "r": 0, "t": 50, "b": 0},
        "title": {"text": "the shared space (PCA, 3 axes): query and neighbours in black", "x": 0},
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


# --- The same answer as still pictures, for readers without a live kernel ----------------------


def _data(url: str) -> bytes:
    """The bytes of a base64 data URL (a PNG or a WAV from `live_search`)."""
    import base64

    return base64.b64decode(url.split(",", 1)[1])


def query_item(reply: Mapping[str, Any]) -> np.ndarray | str:
    """The query of an answer as its modality's item: a digit (28, 28) uint8, a text, or a tone.

    Taught in 08_playground. The tone comes back from its WAV as float32 samples (samples,) in
    [-1, 1], scaled as it was written (loudest sample near full scale).
    """
    import io
    import wave

    from PIL import Image

    if reply.get("status") != "ok":
        raise ValueError(f"The answer has no query to show: it says {reply.get('message')!r}.")
    shown = reply["query"]
    if shown["modality"] == "image":
        return np.asarray(Image.open(io.BytesIO(_data(shown["picture"]))), dtype=np.uint8)
    if shown["modality"] == "text":
        return shown["text"]
    with wave.open(io.BytesIO(_data(shown["audio"]))) as file:
        pcm = np.frombuffer(file.readframes(file.getnframes()), dtype="<i2")  # (samples,)
    return (pcm / 32768).astype(np.float32)


def found_rows(space: SearchSpace, reply: Mapping[str, Any], modality: str) -> pd.DataFrame:
    """One modality's results of an answer as table rows, in rank order, with their cosines.

    Taught in 08_playground. The rows are read back from the table by id, so they carry the
    stored items, and `plots.show_results` can draw them as it draws notebook 06's searches.
    """
    rows = reply["results"][modality]
    ids = [row["id"] for row in rows]
    stored = space.table.to_pandas().drop(columns=["vector"]).set_index("id")
    found = stored.loc[ids].reset_index()
    found["similarity"] = [row["similarity"] for row in rows]
    return found


def static_answer(
    space: SearchSpace, reply: Mapping[str, Any], *, expected: int | None = None
) -> list[matplotlib.figure.Figure]:
    """An answer as still pictures: per searched modality, the query and its top results.

    Taught in 08_playground. Each figure is `plots.show_results` (notebook 06's picture of a
    search: tones as spectrograms, a result framed green when it shows `expected`, red when not).
    Returns the figures, one per modality; GitHub's viewer shows them as PNGs.
    """
    from helpers import plots

    item = query_item(reply)
    return [
        plots.show_results(item, found_rows(space, reply, modality), query_label=expected)
        for modality in reply["results"]
    ]


def static_view(
    view: SpaceView, reply: Mapping[str, Any], *, size: tuple[float, float] = (6.5, 5.5)
) -> matplotlib.figure.Figure:
    """The 3-D view as a still: every row faint in its digit's colour and its modality's shape,
    labels at digit centres, the query and its neighbours in black. Taught in 08_playground."""
    import matplotlib.pyplot as plt

    from helpers.plots.style import MODALITY_MARKERS, MODALITY_TONES, NEUTRAL, digit_colour
    from helpers.plots.style import digit_colours as colours_of

    if reply.get("status") != "ok":
        raise ValueError(f"There is nothing to draw: the answer says {reply.get('message')!r}.")
    figure = plt.figure(figsize=size)
    axis = figure.add_subplot(projection="3d")
    modalities = np.asarray(view.modalities)
    for modality in (m for m in MODALITIES if (modalities == m).any()):
        mask = modalities == modality
        marker = MODALITY_MARKERS[modality]
        axis.scatter(*view.points[mask].T, s=3, c=colours_of(view.labels[mask]), marker=marker,
                     alpha=0.25, depthshade=False)  # fmt: skip
        axis.scatter([], [], [], marker=marker, c=MODALITY_TONES[modality], label=modality)
    for digit, centre in _medians(view).items():
        axis.text(*centre, str(digit), color=digit_colour(digit), fontsize=12, fontweight="bold")
    found = [row["id"] for rows in reply["results"].values() for row in rows]
    near = view.points[view.rows_of(found)]  # (found, 3)
    axis.scatter(*near.T, s=45, facecolors="none", edgecolors=NEUTRAL, label="neighbours")
    here = view.place(reply["vector"])  # (3,)
    axis.scatter(*here, s=160, c=NEUTRAL, marker="X", edgecolors="white", label="query")
    axis.set(xlabel="PC 1", ylabel="PC 2", zlabel="PC 3")
    axis.legend(loc="upper left", fontsize=8)
    figure.tight_layout()
    return figure
