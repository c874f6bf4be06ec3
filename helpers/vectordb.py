"""One vector database for every modality: store items with their vectors, search them exactly.

The database is LanceDB, embedded: one folder on disk, no server, and the same `lancedb.connect`
call reaches LanceDB Cloud or Enterprise when one machine is not enough. Each row holds a vector,
its modality, its digit label and the item itself (the image's pixels, the text, the waveform) in
Arrow columns. Searches are exact (a flat scan with cosine distance, no approximate index), so a
test can check them against `evaluation.cosine_top_k`.

A search without a modality filter ranks every row by one cosine, and cosines of different
modalities are not on one scale (the modality gap, Liang et al., 2022). Two remedies are offered.
A table may store centred vectors: each modality's centroid, measured on training data, is taken
off before storing (`binding.centre`) and saved in the table's schema, so a query is centred the
same way when it searches; that removes a gap that is a shift between modalities. `search_fused`
runs one exact search per modality and merges them by rank, so the list holds every modality
even when a query's own modality holds near copies of it, which centring cannot change.

Nothing here prints or draws: `plots.show_results` shows what a search returns. lancedb and
pandas are imported inside the functions that use them.

Taught in 06_any_to_any_search.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn

from helpers import binding, evaluation
from helpers.modalities import audio, text

if TYPE_CHECKING:
    import pandas as pd
    from lancedb.table import Table

MODALITY_ORDER = ("image", "text", "audio")
_CENTROIDS_KEY = b"centroids"  # schema metadata: JSON {modality: [dim floats]}


@dataclass(frozen=True)
class ModalityItems:
    """The items of one modality: embeddings (N, dim), labels (N,) and the items themselves.

    Payloads: images (N, 28, 28) uint8, a list of N strings, or a list of N waveforms (samples,)
    at `modalities.audio.SAMPLE_RATE`.
    Taught in 06_any_to_any_search.
    """

    embeddings: torch.Tensor
    labels: torch.Tensor
    payloads: Any


def _connect(folder: str | Path):
    """`lancedb.connect(folder)`, importing lancedb with its Rust logger quietened first."""
    os.environ.setdefault("LANCEDB_LOG", "error")  # no "creating a new dataset" warning
    import lancedb

    return lancedb.connect(Path(folder))


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
    if modality == "text" and not all(isinstance(item, str) for item in items.payloads):
        raise ValueError("text payloads must be strings.")
    return count


def _columns(modality: str, items: ModalityItems, vectors: torch.Tensor) -> dict[str, list]:
    """One modality's rows as columns: modality, label, vector and the three payload columns."""
    count = _check_items(modality, items)
    columns: dict[str, list] = {
        "modality": [modality] * count,
        "label": items.labels.tolist(),
        "vector": list(vectors.detach().to(torch.float32).cpu().numpy()),  # N arrays (dim,)
        "image": [None] * count,
        "text": [None] * count,
        "audio": [None] * count,
    }
    if modality == "image":
        pixels = torch.as_tensor(items.payloads).to(torch.uint8).numpy()
        columns["image"] = [picture.tobytes() for picture in pixels]  # 784 bytes each
    elif modality == "text":
        columns["text"] = list(items.payloads)
    else:
        columns["audio"] = [
            torch.as_tensor(wave, dtype=torch.float32).numpy().tobytes() for wave in items.payloads
        ]  # float32 samples at audio.SAMPLE_RATE
    return columns


def _schema(dim: int, centroids: Mapping[str, torch.Tensor] | None):
    import pyarrow as pa

    metadata = None
    if centroids is not None:
        saved = {modality: c.float().tolist() for modality, c in centroids.items()}
        metadata = {_CENTROIDS_KEY: json.dumps(saved).encode()}
    fields = [("id", pa.int64()), ("modality", pa.string()), ("label", pa.int64())]
    fields += [("vector", pa.list_(pa.float32(), dim)), ("image", pa.binary())]
    fields += [("text", pa.string()), ("audio", pa.binary())]
    return pa.schema([pa.field(name, kind) for name, kind in fields], metadata=metadata)


def create_table(
    folder: str | Path,
    items: Mapping[str, ModalityItems],
    *,
    name: str = "items",
    centroids: Mapping[str, torch.Tensor] | None = None,
) -> Table:
    """Write every modality's items into one LanceDB table in `folder`, replacing an old one.

    Taught in 06_any_to_any_search. Rows get ids 0, 1, 2, ... in the order of `items`. With
    `centroids` ({modality: (dim,)}, from `binding.modality_centroids` on training embeddings)
    the stored vectors are centred and the centroids saved with the table. Returns the open table.
    """
    import pyarrow as pa

    if not items:
        raise ValueError("Pass at least one modality's items, e.g. {'image': ModalityItems(...)}.")
    dims = {modality: part.embeddings.shape[-1] for modality, part in items.items()}
    if len(set(dims.values())) != 1:
        raise ValueError(f"All modalities must share one embedding size, got {dims}.")
    dim = next(iter(dims.values()))
    vectors = {modality: part.embeddings for modality, part in items.items()}
    if centroids is not None:
        if any(c.shape != (dim,) for c in centroids.values()):
            raise ValueError(f"Each centroid must be a vector ({dim},) like the embeddings.")
        vectors = binding.centre(vectors, centroids)
    columns: dict[str, list] = {}
    for modality, part in items.items():
        for column, values in _columns(modality, part, vectors[modality]).items():
            columns.setdefault(column, []).extend(values)
    flat = np.stack(columns.pop("vector")).astype(np.float32).ravel()  # (rows * dim,)
    columns["vector"] = pa.FixedSizeListArray.from_arrays(pa.array(flat), dim)
    columns["id"] = list(range(len(columns["label"])))
    table = pa.table(columns, schema=_schema(dim, centroids))
    return _connect(folder).create_table(name, data=table, mode="overwrite")


def table_centroids(table: Table) -> dict[str, torch.Tensor] | None:
    """The modality centroids a table was centred with ({modality: (dim,)}), or None if it was not.

    Taught in 06_any_to_any_search.
    """
    saved = (table.schema.metadata or {}).get(_CENTROIDS_KEY)
    if saved is None:
        return None
    return {m: torch.tensor(values) for m, values in json.loads(saved.decode()).items()}


def _query_vector(table: Table, vector: Any, query_modality: str | None) -> np.ndarray:
    """The query as float32 (dim,), centred as the table is; a clear error when it cannot be."""
    query = torch.as_tensor(vector, dtype=torch.float32).cpu()
    if query.ndim != 1 and not (query.ndim == 2 and len(query) == 1):
        raise ValueError("search_table takes one query vector (dim,); loop over a batch.")
    query = query.reshape(-1)  # (dim,)
    if not torch.isfinite(query).all() or not query.any():
        raise ValueError("The query vector is zero or not finite; it has no direction to compare.")
    centroids = table_centroids(table)
    if centroids is not None:
        if query_modality not in centroids:
            raise ValueError(
                f"This table stores centred vectors; say which modality the query is "
                f"(query_modality= one of {sorted(centroids)}), so it is centred the same way."
            )
        query = binding.centre({query_modality: query[None]}, centroids)[query_modality][0]
    return query.numpy()


def search_table(
    table: Table,
    vector: torch.Tensor | np.ndarray,
    *,
    k: int = 5,
    target: str | None = None,
    query_modality: str | None = None,
) -> pd.DataFrame:
    """The k rows nearest to `vector` (dim,) by cosine distance, of modality `target` or of all.

    Taught in 06_any_to_any_search. An exact search: every row (of the `target` modality) is
    compared; no approximate index is used. A table with saved centroids needs `query_modality`.
    Returns a DataFrame in order of similarity with `id`, `modality`, `label`, the payload columns,
    `distance` (LanceDB's cosine distance, 1 - cosine) and `similarity` (the cosine).
    """
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be at least 1, got {k!r}.")
    if target is not None and target not in MODALITY_ORDER:
        raise ValueError(f"Unknown modality {target!r}; use one of {MODALITY_ORDER} or None.")
    query = _query_vector(table, vector, query_modality)  # (dim,)
    search = (
        table.search(query, vector_column_name="vector")
        .distance_type("cosine")
        .bypass_vector_index()  # exact: a flat scan even if an index is added later
        .limit(k)
    )
    if target is not None:
        search = search.where(f"modality = '{target}'", prefilter=True)
    found = search.to_pandas().rename(columns={"_distance": "distance"})
    found = found.drop(columns=["vector"]).sort_values(["distance", "id"], kind="stable")
    found["similarity"] = 1.0 - found["distance"]
    return found.reset_index(drop=True)


def search_fused(
    table: Table,
    vector: torch.Tensor | np.ndarray,
    *,
    k: int = 6,
    query_modality: str | None = None,
    rank_constant: int = 60,
) -> pd.DataFrame:
    """The k best rows across modalities, merging one exact search per modality by their ranks.

    Taught in 06_any_to_any_search. Cosines of different modalities are not on one scale: a
    query's own modality holds near copies of it, so an unfiltered search returns only that
    modality. Reciprocal rank fusion (Cormack, Clarke and Buttcher, 2009) scores each row
    1 / (rank_constant + its rank within its modality), so the list mixes modalities: every
    modality's best row, then every modality's second, and so on, higher cosine first in each
    round. Adds the columns `modality_rank` and `fused_score` to those of `search_table`.
    """
    import pandas as pd

    if isinstance(rank_constant, bool) or not isinstance(rank_constant, int) or rank_constant < 0:
        raise ValueError(
            f"rank_constant must be a whole number of at least 0, got {rank_constant!r}."
        )
    parts = []
    for modality, count in modality_counts(table).items():
        if count == 0:
            continue
        found = search_table(
            table, vector, k=min(k, count), target=modality, query_modality=query_modality
        )
        found["modality_rank"] = np.arange(1, len(found) + 1)
        parts.append(found)
    merged = pd.concat(parts, ignore_index=True)
    merged["fused_score"] = 1.0 / (rank_constant + merged["modality_rank"])
    merged = merged.sort_values(["fused_score", "similarity"], ascending=False, kind="stable")
    return merged.head(k).reset_index(drop=True)


def query_modality(query: Any) -> str:
    """Which modality a query is: a string is text, a 28x28 array an image, a 1-D array audio.

    Taught in 06_any_to_any_search.
    """
    if isinstance(query, str):
        if not query.strip():
            raise ValueError("The text query is empty; type a digit, e.g. 'seven'.")
        return "text"
    if isinstance(query, torch.Tensor | np.ndarray):
        shape = tuple(query.shape)
        if shape == (28, 28):
            return "image"
        if len(shape) == 1 and shape[0] >= audio.N_FFT:
            return "audio"
    described = getattr(query, "shape", type(query).__name__)
    raise ValueError(
        f"Cannot tell the modality of a query shaped {described}: pass a string (text), a "
        f"(28, 28) image array or a 1-D waveform of at least {audio.N_FFT} samples at "
        f"{audio.SAMPLE_RATE} Hz (audio)."
    )


def embed_query(
    query: Any,
    *,
    image_encoder: nn.Module,
    text_encoder: nn.Module,
    audio_encoder: nn.Module,
) -> tuple[str, torch.Tensor]:
    """The query's modality and its embedding (dim,), each modality through its own encoder.

    Taught in 06_any_to_any_search.
    """
    modality = query_modality(query)
    if modality == "image":
        pixels = torch.as_tensor(query)
        if pixels.dtype != torch.uint8:
            raise ValueError(f"An image query must be uint8 pixels 0-255, got {pixels.dtype}.")
        vector = evaluation.embed(image_encoder, pixels[None])  # (1, dim)
    elif modality == "text":
        vector = evaluation.encode(text_encoder, text.tokenise([query]))  # (1, dim)
    else:
        waveform = torch.as_tensor(query, dtype=torch.float32)
        vector = evaluation.encode(audio_encoder, audio.spectrogram_batch([waveform]))  # (1, dim)
    return modality, vector[0]


def search_any(
    query: Any,
    table: Table,
    *,
    image_encoder: nn.Module,
    text_encoder: nn.Module,
    audio_encoder: nn.Module,
    k: int = 5,
    target: str | None = None,
    fused: bool = False,
) -> tuple[str, pd.DataFrame]:
    """Embed a query of any modality and return (its modality, the top k rows of `target`).

    Taught in 06_any_to_any_search. `target=None` searches all modalities at once by cosine;
    `fused=True` instead merges one search per modality by rank (`search_fused`), a mixed list.
    """
    if fused and target is not None:
        raise ValueError("fused=True merges every modality; leave target=None with it.")
    modality, vector = embed_query(
        query, image_encoder=image_encoder, text_encoder=text_encoder, audio_encoder=audio_encoder
    )
    if fused:
        return modality, search_fused(table, vector, k=k, query_modality=modality)
    return modality, search_table(table, vector, k=k, target=target, query_modality=modality)


def payload(row: Mapping[str, Any]) -> np.ndarray | str:
    """A row's item as it went in: image (28, 28) uint8, the text, or the waveform (samples,).

    Taught in 06_any_to_any_search.
    """
    modality = row["modality"]
    if modality == "image":
        return np.frombuffer(row["image"], dtype=np.uint8).reshape(28, 28).copy()
    if modality == "text":
        return row["text"]
    if modality == "audio":
        return np.frombuffer(row["audio"], dtype=np.float32).copy()
    raise ValueError(f"Row has unknown modality {modality!r}.")


def modality_counts(table: Table) -> dict[str, int]:
    """How many rows each modality has in the table.

    Taught in 06_any_to_any_search.
    """
    found = table.to_arrow().column("modality").to_pylist()
    return {modality: found.count(modality) for modality in MODALITY_ORDER}
