"""Answering a live query: a drawing, a text or a key press, embedded and searched in one table.

`answer` takes a query as the playground's browser side sends it (plain JSON), turns it into an
item of its modality (a drawing into an MNIST digit, a key into a new keypad tone), embeds it with
that modality's encoder, searches notebook 06's LanceDB table for the top k of each modality, and
returns plain JSON again: pictures as PNG and tones as WAV data URLs, ready for the browser, plus
how long each step took. Nothing here needs a browser or a widget, so the tests call it directly.

Taught in 08_playground.
"""

from __future__ import annotations

import base64
import io
import time
import wave
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from helpers import drawing

MODALITIES = ("image", "text", "audio")
MAX_K = 10


# --- The one place that calls the series' encoders and database --------------------------------
# Everything below this banner and above the next one uses helpers.vectordb and
# helpers.modalities.audio; the rest of the module sees only SearchSpace, _embed, _search,
# _as_stored, table_rows, _key_tone and _sample_rate.


@dataclass(frozen=True)
class SearchSpace:
    """What queries are searched in: notebook 06's LanceDB table and the three encoders behind it."""

    table: Any  # a lancedb table made by vectordb.create_table
    image_encoder: nn.Module
    text_encoder: nn.Module
    audio_encoder: nn.Module


def _sample_rate() -> int:
    from helpers.modalities import audio

    return audio.SAMPLE_RATE


def _embed(space: SearchSpace, item: torch.Tensor | str) -> tuple[str, torch.Tensor]:
    """The modality and embedding (dim,) of a digit (28, 28) uint8, a text or a waveform."""
    from helpers import vectordb

    return vectordb.embed_query(
        item,
        image_encoder=space.image_encoder,
        text_encoder=space.text_encoder,
        audio_encoder=space.audio_encoder,
    )  # (modality, (dim,))


def _search(
    space: SearchSpace, vector: torch.Tensor, *, k: int, target: str, query_modality: str
) -> list[dict]:
    """The k nearest rows of one modality: id, label, cosine similarity and the item itself."""
    from helpers import vectordb

    found = vectordb.search_table(
        space.table, vector, k=k, target=target, query_modality=query_modality
    )
    return [
        {
            "id": int(row["id"]),
            "label": int(row["label"]),
            "similarity": float(row["similarity"]),
            "item": vectordb.payload(row),
        }
        for row in found.to_dict("records")
    ]


def _as_stored(space: SearchSpace, vector: torch.Tensor, modality: str) -> torch.Tensor:
    """The query (dim,) as the table stores its rows: centred too when the table is centred."""
    from helpers import binding, vectordb

    centroids = vectordb.table_centroids(space.table)
    if centroids is None:
        return vector  # (dim,)
    return binding.centre({modality: vector[None]}, centroids)[modality][0]  # (dim,)


def table_rows(space: SearchSpace) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """Every row's id (N,), stored vector (N, dim), label (N,) and modality, for the 3-D view."""
    columns = space.table.to_arrow().select(["id", "vector", "label", "modality"]).to_pydict()
    vectors = np.asarray(columns["vector"], dtype=np.float32)  # (N, dim)
    return np.asarray(columns["id"]), vectors, np.asarray(columns["label"]), columns["modality"]


def _key_tone(digit: int, generator: torch.Generator) -> torch.Tensor:
    """A new keypad tone (samples,) of one digit, varied like the tones the encoder learnt from."""
    from helpers.modalities import audio

    return audio.random_dtmf_waveforms(torch.tensor([digit]), generator)[0]


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


def check_options(k: int, targets: Sequence[str]) -> None:
    """Raise a ValueError unless 1 <= k <= MAX_K and targets names known modalities."""
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
    a text or a WAV), `vector` (the query's embedding as the table stores its rows, so the 3-D
    view can place it) and `timing_ms` per step.
    """
    check_options(k, targets)
    generator = generator if generator is not None else torch.Generator().manual_seed(0)
    timing = {}
    started = time.perf_counter()
    base = {"seq": query.get("seq", 0), "kind": query.get("kind"), "k": k, "targets": list(targets)}
    try:
        item, shown_query = _prepare(query, generator)
    except ValueError as error:
        return {**base, "status": "message", "message": str(error), "results": {}}
    timing["preprocess"] = time.perf_counter()
    modality, vector = _embed(space, item)  # (dim,)
    timing["embed"] = time.perf_counter()
    found = {
        target: _search(space, vector, k=k, target=target, query_modality=modality)
        for target in targets
    }
    timing["search"] = time.perf_counter()
    results = {
        target: [
            {key: row[key] for key in ("id", "label", "similarity")} | _shown(target, row["item"])
            for row in rows
        ]
        for target, rows in found.items()
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
        "vector": _as_stored(space, vector, modality).tolist(),
        "timing_ms": steps,
    }
