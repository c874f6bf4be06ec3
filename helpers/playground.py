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
computed in `answer`, plain Python that the tests call without a browser.

Taught in 08_playground.
"""

from __future__ import annotations

import base64
import io
import time
import wave
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anywidget
import ipywidgets
import numpy as np
import torch
import traitlets
from torch import nn

from helpers import drawing

MODALITIES = ("image", "text", "audio")
MAX_K = 10
KEYPAD = "123456789 0 "  # a phone's keypad, row by row; blanks are the keys without a digit
SYMBOLS = {"image": "circle", "text": "square", "audio": "diamond"}  # one marker per modality
FALLBACK_TEXT = (
    "Live playground: a canvas, a text box and a keypad that search the shared space. It needs a "
    "running Python kernel (JupyterLab, Notebook or Colab); the static example above shows what it "
    "answers for a drawn 7."
)


# --- The one place that calls the series' encoders and database --------------------------------
# Everything below this banner and above the next one uses helpers.vectordb and helpers.encoders;
# the rest of the module sees only SearchSpace, _embed, _search, _rows and _key_tone.


@dataclass(frozen=True)
class SearchSpace:
    """What queries are searched in: notebook 06's LanceDB table and the three encoders behind it."""

    table: Any  # a lancedb table made by vectordb.create_table
    image_encoder: nn.Module
    text_encoder: nn.Module
    audio_encoder: nn.Module


def _sample_rate() -> int:
    from helpers import encoders

    return encoders.AUDIO_SAMPLE_RATE


def _embed(space: SearchSpace, item: torch.Tensor | str) -> torch.Tensor:
    """The embedding (dim,) of a digit (28, 28) uint8, a text, or a waveform (samples,)."""
    from helpers import vectordb

    _, vector = vectordb.embed_query(
        item,
        image_encoder=space.image_encoder,
        text_encoder=space.text_encoder,
        audio_encoder=space.audio_encoder,
    )
    return vector  # (dim,)


def _search(space: SearchSpace, vector: torch.Tensor, *, k: int, modality: str) -> list[dict]:
    """The k nearest rows of one modality: id, label, cosine similarity and the item itself."""
    from helpers import vectordb

    found = vectordb.search_table(space.table, vector, k=k, modality=modality)
    return [
        {
            "id": int(row["id"]),
            "label": int(row["label"]),
            "similarity": float(row["similarity"]),
            "item": vectordb.payload(row),
        }
        for _, row in found.iterrows()
    ]


def _rows(space: SearchSpace) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """Every row's id (N,), vector (N, dim), label (N,) and modality, for the 3-D view."""
    columns = space.table.to_arrow().select(["id", "vector", "label", "modality"]).to_pydict()
    vectors = np.asarray(columns["vector"], dtype=np.float32)  # (N, dim)
    return np.asarray(columns["id"]), vectors, np.asarray(columns["label"]), columns["modality"]


def _key_tone(digit: int, generator: torch.Generator) -> torch.Tensor:
    """A new keypad tone (samples,) of one digit, varied like the tones the encoder learnt from."""
    from helpers import encoders

    return encoders.random_dtmf_waveforms(torch.tensor([digit]), generator)[0]


# --- Queries and answers ------------------------------------------------------------------------


def digit_png(digit: torch.Tensor | np.ndarray) -> str:
    """A (28, 28) uint8 digit as a PNG data URL, for an <img> in the browser."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.asarray(digit, dtype=np.uint8)).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def tone_wav(waveform: torch.Tensor | np.ndarray, *, sample_rate: int | None = None) -> str:
    """A waveform (samples,) as a 16-bit WAV data URL at its loudest without clipping."""
    samples = np.asarray(waveform, dtype=np.float64).reshape(-1)
    peak = np.abs(samples).max() if samples.size else 0.0
    pcm = (samples / peak * 32000 if peak > 0 else samples).astype("<i2")  # (samples,) int16
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as file:  # the standard library writes a valid WAV header
        file.setnchannels(1)
        file.setsampwidth(2)
        file.setframerate(sample_rate or _sample_rate())
        file.writeframes(pcm.tobytes())
    return "data:audio/wav;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _prepare(query: Mapping[str, Any], generator: torch.Generator) -> tuple[Any, dict]:
    """The item to embed for a widget query, and what the widget shows of the query itself."""
    kind = query.get("kind")
    if kind == "drawing":
        size = query.get("canvas_size", (280, 280))
        digit = drawing.drawing_to_digit(
            query.get("strokes", []),
            canvas_size=(int(size[0]), int(size[1])),
            pen_width=float(query.get("pen_width", 18.0)),
        )  # (28, 28) uint8
        return digit, {"modality": "image", "picture": digit_png(digit)}
    if kind == "text":
        text = str(query.get("text", ""))
        if not text.strip():
            raise ValueError("The text box is empty: type a digit in any way, e.g. 'sieben' or 7.")
        return text, {"modality": "text", "text": text}
    if kind == "key":
        key = str(query.get("key", ""))
        if len(key) != 1 or key not in "0123456789":
            raise ValueError(f"Key {key!r} has no digit: press one of 0-9.")
        tone = _key_tone(int(key), generator)  # (samples,)
        return tone, {"modality": "audio", "key": key, "audio": tone_wav(tone)}
    raise ValueError(f"Unknown query kind {kind!r}: use 'drawing', 'text' or 'key'.")


def _check_options(k: int, targets: Sequence[str]) -> None:
    if not 1 <= k <= MAX_K:
        raise ValueError(f"k must be between 1 and {MAX_K}, got {k}.")
    unknown = set(targets) - set(MODALITIES)
    if not targets or unknown:
        raise ValueError(f"targets must name one or more of {MODALITIES}, got {list(targets)}.")


def _shown(modality: str, item: Any) -> dict:
    if modality == "image":
        return {"picture": digit_png(item)}
    if modality == "text":
        return {"text": item}
    return {"audio": tone_wav(item)}


def answer(
    space: SearchSpace,
    query: Mapping[str, Any],
    *,
    k: int = 5,
    targets: Sequence[str] = MODALITIES,
    generator: torch.Generator | None = None,
) -> dict:
    """Embed a widget query, search each target modality and return what the widget shows.

    Taught in 08_playground. The answer is plain JSON: `status` ("ok", or "message" when the query
    cannot be searched, e.g. an empty canvas, with `message` saying why), `query` (how it is
    shown), `results` (per modality, the top k: id, label, similarity and the item as a picture,
    a text or a WAV), `vector` (the query's embedding) and `timing_ms` per step.
    """
    _check_options(k, targets)
    generator = generator if generator is not None else torch.Generator().manual_seed(0)
    timing = {}
    started = time.perf_counter()
    base = {"seq": query.get("seq", 0), "kind": query.get("kind"), "k": k, "targets": list(targets)}
    try:
        item, shown_query = _prepare(query, generator)
    except ValueError as error:
        return {**base, "status": "message", "message": str(error), "results": {}}
    timing["preprocess"] = time.perf_counter()
    vector = _embed(space, item)  # (dim,)
    timing["embed"] = time.perf_counter()
    found = {modality: _search(space, vector, k=k, modality=modality) for modality in targets}
    timing["search"] = time.perf_counter()
    results = {
        modality: [
            {key: row[key] for key in ("id", "label", "similarity")} | _shown(modality, row["item"])
            for row in rows
        ]
        for modality, rows in found.items()
    }
    timing["render"] = time.perf_counter()
    steps, previous = {}, started
    for step, moment in timing.items():
        steps[step] = round((moment - previous) * 1000, 2)
        previous = moment
    steps["total"] = round((previous - started) * 1000, 2)
    return {
        **base,
        "status": "ok",
        "message": "",
        "query": shown_query,
        "results": results,
        "vector": vector.tolist(),
        "timing_ms": steps,
    }


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

    ids, vectors, labels, modalities = _rows(space)
    fitted = projection.pca_3d(vectors)
    return SpaceView(ids, fitted.points, labels, modalities, fitted)


def view_figure(view: SpaceView, *, widget: bool = True):
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


def highlight(figure, view: SpaceView, reply: Mapping[str, Any]) -> None:
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
        figure=None,
        k: int = 5,
        targets: Sequence[str] = MODALITIES,
        seed: int = 0,
    ) -> None:
        _check_options(k, targets)
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
