"""One vector database for every modality: store, search exactly, and show what comes back.

The database is LanceDB, embedded: one folder on disk, no server, and the same `lancedb.connect`
call reaches LanceDB Cloud or Enterprise when one machine is not enough. Each row holds a vector,
its modality, its digit label and the item itself (the image's pixels, the text, the waveform) in
Arrow columns. Searches are exact (a flat scan with cosine distance, no approximate index), so a
test can check them against torch.

Taught in 06_any_to_any_search.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import torch
from torch import nn

from helpers import encoders, evaluation

os.environ.setdefault("LANCEDB_LOG", "error")  # quiet the "creating a new dataset" warning
import lancedb  # noqa: E402  (after LANCEDB_LOG, read once by its Rust logger)

MODALITY_ORDER = ("image", "text", "audio")


@dataclass(frozen=True)
class ModalityItems:
    """The items of one modality: embeddings (N, dim), labels (N,) and the items themselves.

    Payloads: images (N, 28, 28) uint8, a list of N strings, or a list of N waveforms (samples,).
    """

    embeddings: torch.Tensor
    labels: torch.Tensor
    payloads: Any


def _check_items(modality: str, items: ModalityItems) -> int:
    if modality not in MODALITY_ORDER:
        raise ValueError(f"Unknown modality {modality!r}; use one of {MODALITY_ORDER}.")
    count = len(items.embeddings)
    if items.embeddings.ndim != 2 or count == 0:
        raise ValueError(f"{modality} embeddings must be (N, dim) with N >= 1.")
    if items.labels.shape != (count,) or len(items.payloads) != count:
        raise ValueError(
            f"{modality}: {count} embeddings need {count} labels and {count} payloads, got "
            f"{tuple(items.labels.shape)} labels and {len(items.payloads)} payloads."
        )
    if modality == "image" and tuple(items.payloads.shape[1:]) != (28, 28):
        raise ValueError(f"image payloads must be (N, 28, 28) uint8, got {items.payloads.shape}.")
    if modality == "text" and not all(isinstance(text, str) for text in items.payloads):
        raise ValueError("text payloads must be strings.")
    return count


def _rows(modality: str, items: ModalityItems, first_id: int) -> dict[str, list]:
    count = _check_items(modality, items)
    vectors = items.embeddings.detach().to(torch.float32).cpu().numpy()  # (N, dim)
    rows: dict[str, list] = {
        "id": list(range(first_id, first_id + count)),
        "modality": [modality] * count,
        "label": items.labels.tolist(),
        "vector": list(vectors),
        "image": [None] * count,
        "text": [None] * count,
        "audio": [None] * count,
    }
    if modality == "image":
        pixels = torch.as_tensor(items.payloads).to(torch.uint8).numpy()
        rows["image"] = [picture.tobytes() for picture in pixels]  # 784 bytes each
    elif modality == "text":
        rows["text"] = list(items.payloads)
    else:
        rows["audio"] = [
            torch.as_tensor(wave, dtype=torch.float32).numpy().tobytes() for wave in items.payloads
        ]  # float32 samples at encoders.AUDIO_SAMPLE_RATE
    return rows


def create_table(
    folder: str | Path,
    items: Mapping[str, ModalityItems],
    *,
    name: str = "items",
) -> lancedb.table.Table:
    """Write every modality's items into one LanceDB table in `folder`, replacing an old one.

    Rows get ids 0, 1, 2, ... in the order of `items`. Returns the open table.
    """
    if not items:
        raise ValueError("Pass at least one modality's items, e.g. {'image': ModalityItems(...)}.")
    dims = {modality: part.embeddings.shape[-1] for modality, part in items.items()}
    if len(set(dims.values())) != 1:
        raise ValueError(f"All modalities must share one embedding size, got {dims}.")
    dim = next(iter(dims.values()))
    columns: dict[str, list] = {}
    for modality, part in items.items():
        rows = _rows(modality, part, first_id=len(columns.get("id", [])))
        for column, values in rows.items():
            columns.setdefault(column, []).extend(values)
    schema = pa.schema(
        [
            pa.field("id", pa.int64()),
            pa.field("modality", pa.string()),
            pa.field("label", pa.int64()),
            pa.field("vector", pa.list_(pa.float32(), dim)),
            pa.field("image", pa.binary()),
            pa.field("text", pa.string()),
            pa.field("audio", pa.binary()),
        ]
    )
    vectors = np.stack(columns["vector"]).astype(np.float32)  # (rows, dim)
    columns["vector"] = pa.FixedSizeListArray.from_arrays(pa.array(vectors.ravel()), dim)
    table = pa.table(columns, schema=schema)
    database = lancedb.connect(Path(folder))
    return database.create_table(name, data=table, mode="overwrite")


def search_table(
    table: lancedb.table.Table,
    vector: torch.Tensor | np.ndarray,
    *,
    k: int = 5,
    modality: str | None = None,
) -> pd.DataFrame:
    """The k rows nearest to `vector` (dim,) by cosine distance, of one modality or of all.

    An exact search: every row (of the chosen modality) is compared, no approximate index is used.
    Returns a DataFrame in order of similarity with `id`, `modality`, `label`, the payload
    columns, `distance` (LanceDB's cosine distance, 1 - cosine) and `similarity` (the cosine).
    """
    query = np.asarray(torch.as_tensor(vector, dtype=torch.float32).cpu()).reshape(-1)
    if torch.as_tensor(vector).ndim != 1 and torch.as_tensor(vector).shape[0] != 1:
        raise ValueError("search_table takes one query vector (dim,); loop over a batch.")
    if not np.isfinite(query).all() or not np.any(query):
        raise ValueError("The query vector is zero or not finite; it has no direction to compare.")
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}.")
    if modality is not None and modality not in MODALITY_ORDER:
        raise ValueError(f"Unknown modality {modality!r}; use one of {MODALITY_ORDER} or None.")
    search = (
        table.search(query, vector_column_name="vector")
        .distance_type("cosine")
        .bypass_vector_index()  # exact: a flat scan even if an index is added later
        .limit(k)
    )
    if modality is not None:
        search = search.where(f"modality = '{modality}'", prefilter=True)
    found = search.to_pandas().rename(columns={"_distance": "distance"})
    found = found.drop(columns=["vector"]).sort_values(["distance", "id"], kind="stable")
    found["similarity"] = 1.0 - found["distance"]
    return found.reset_index(drop=True)


def query_modality(query: Any) -> str:
    """Which modality a query is: a string is text, a 28x28 array an image, a 1-D array audio."""
    if isinstance(query, str):
        if not query.strip():
            raise ValueError("The text query is empty; type a digit, e.g. 'seven'.")
        return "text"
    if isinstance(query, torch.Tensor | np.ndarray):
        shape = tuple(query.shape)
        if shape == (28, 28):
            return "image"
        if len(shape) == 1 and shape[0] >= encoders.AUDIO_N_FFT:
            return "audio"
    described = getattr(query, "shape", type(query).__name__)
    raise ValueError(
        f"Cannot tell the modality of a query shaped {described}: pass a string (text), a "
        f"(28, 28) image array or a 1-D waveform of at least {encoders.AUDIO_N_FFT} samples at "
        f"{encoders.AUDIO_SAMPLE_RATE} Hz (audio)."
    )


def embed_query(
    query: Any,
    *,
    image_encoder: nn.Module,
    text_encoder: nn.Module,
    audio_encoder: nn.Module,
) -> tuple[str, torch.Tensor]:
    """The query's modality and its embedding (dim,), each modality through its own encoder."""
    modality = query_modality(query)
    if modality == "image":
        pixels = torch.as_tensor(query)
        if pixels.dtype != torch.uint8:
            raise ValueError(f"An image query must be uint8 pixels 0-255, got {pixels.dtype}.")
        vector = evaluation.embed(image_encoder, pixels[None])  # (1, dim)
    elif modality == "text":
        vector = encoders.encode(text_encoder, encoders.character_ids([query]))  # (1, dim)
    else:
        spectrogram = encoders.spectrogram_batch([torch.as_tensor(query, dtype=torch.float32)])
        vector = encoders.encode(audio_encoder, spectrogram)  # (1, dim)
    return modality, vector[0]


def search_any(
    query: Any,
    table: lancedb.table.Table,
    *,
    image_encoder: nn.Module,
    text_encoder: nn.Module,
    audio_encoder: nn.Module,
    k: int = 5,
    target: str | None = None,
) -> tuple[str, pd.DataFrame]:
    """Embed a query of any modality and return (its modality, the top k rows of `target`).

    `target=None` searches all modalities at once.
    """
    modality, vector = embed_query(
        query, image_encoder=image_encoder, text_encoder=text_encoder, audio_encoder=audio_encoder
    )
    return modality, search_table(table, vector, k=k, modality=target)


def payload(row: Mapping[str, Any] | pd.Series) -> np.ndarray | str:
    """A row's item as it went in: image (28, 28) uint8, the text, or the waveform (samples,)."""
    modality = row["modality"]
    if modality == "image":
        return np.frombuffer(row["image"], dtype=np.uint8).reshape(28, 28).copy()
    if modality == "text":
        return row["text"]
    if modality == "audio":
        return np.frombuffer(row["audio"], dtype=np.float32).copy()
    raise ValueError(f"Row has unknown modality {modality!r}.")


def _draw(axis, modality: str, item: np.ndarray | str) -> None:
    if modality == "image":
        axis.imshow(item, cmap="gray")
    elif modality == "text":
        axis.text(0.5, 0.5, repr(item), ha="center", va="center", fontsize=11, wrap=True)
        axis.set_facecolor("#f4f4f4")
    else:
        picture = encoders.spectrogram_batch([torch.as_tensor(item)])[0].numpy()  # (65, frames)
        axis.imshow(
            picture,
            origin="lower",
            aspect="auto",
            cmap="magma",
            extent=(0, picture.shape[1], 0, encoders.AUDIO_MAX_HZ),
        )
    axis.set_xticks([])
    axis.set_yticks([])


def show_results(
    query: Any,
    results: pd.DataFrame,
    *,
    query_label: int | None = None,
    play_audio: bool = True,
    dpi: int = 80,
):
    """Draw the query and its results the way each modality reads: images drawn, text written,
    audio as its spectrogram (0-2 kHz); then a player for every audio item.

    Prints one line per result (rank, modality, label, cosine similarity, text) and returns the
    figure. Results of another digit than `query_label` get a red frame.
    """
    import matplotlib.pyplot as plt
    from IPython.display import Audio, display

    if results.empty:
        raise ValueError("There are no results to show; the search returned no rows.")
    modality = query_modality(query)
    query_item = np.asarray(query) if modality != "text" else query
    count = len(results) + 1
    figure, axes = plt.subplots(1, count, figsize=(1.7 * count, 2.0), dpi=dpi, squeeze=False)
    _draw(axes[0, 0], modality, query_item)
    suffix = "" if query_label is None else f" ({query_label})"
    axes[0, 0].set_title(f"query: {modality}{suffix}", fontsize=9)
    players = [("query", query_item)] if modality == "audio" else []
    for rank, (axis, (_, row)) in enumerate(zip(axes[0, 1:], results.iterrows(), strict=True), 1):
        item = payload(row)
        _draw(axis, row["modality"], item)
        axis.set_title(
            f"{rank}. {row['modality']} {row['label']}\ncos {row['similarity']:.2f}", fontsize=9
        )
        if query_label is not None and row["label"] != query_label:
            for spine in axis.spines.values():
                spine.set(color="red", linewidth=2)
        if row["modality"] == "audio":
            players.append((f"result {rank}", item))
        text = f"  {item!r}" if row["modality"] == "text" else ""
        print(
            f"{rank}. {row['modality']:<5} digit {row['label']}  "
            f"cosine {row['similarity']:.3f}{text}"
        )
    figure.tight_layout()
    plt.show()
    if play_audio:
        for title, wave in players:
            print(f"{title}: keypad tone")
            display(Audio(np.asarray(wave), rate=encoders.AUDIO_SAMPLE_RATE, normalize=True))
    return figure


def modality_counts(table: lancedb.table.Table) -> dict[str, int]:
    """How many rows each modality has in the table."""
    frame = table.to_arrow().select(["modality"]).to_pandas()
    counts = frame["modality"].value_counts()
    return {modality: int(counts.get(modality, 0)) for modality in MODALITY_ORDER}


def exact_top_k(
    query: torch.Tensor, gallery: torch.Tensor, *, k: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Exact cosine top k with torch: similarities (k,) and row indices (k,), for checking search."""
    unit_query = torch.nn.functional.normalize(query.reshape(1, -1).float(), dim=1)  # (1, dim)
    unit_gallery = torch.nn.functional.normalize(gallery.float(), dim=1)  # (N, dim)
    similarity = (unit_gallery @ unit_query.T)[:, 0]  # (N,)
    top = similarity.topk(k)
    return top.values, top.indices
