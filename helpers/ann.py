"""Search over a million vectors: exact truth, LanceDB's approximate indexes, recall and latency.

A flat scan compares a query with every stored vector; an approximate index compares it with a
few candidates instead. This module builds the million embeddings, stores them in a LanceDB
table, builds LanceDB's own indexes (IVF-PQ, IVF-HNSW-SQ) and measures what each costs and how
much of the exact top-k it finds. Exact neighbours come from `evaluation.cosine_top_k`.

Taught in 07_scaling_out.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from helpers.evaluation import cosine_top_k, encode
from helpers.pairs import Augmentation, augment
from helpers.runtime import amp_policy

INDEX_KINDS = ("IVF_PQ", "IVF_HNSW_SQ", "IVF_FLAT")


def _last_dropout_and_linear(model: nn.Module) -> tuple[nn.Dropout, nn.Linear]:
    """The model's last Dropout and the Linear after it, which ends the network (EmbeddingNet)."""
    layers = [m for m in model.modules() if isinstance(m, nn.Dropout | nn.Linear)]
    if (
        len(layers) < 2
        or not isinstance(layers[-2], nn.Dropout)
        or not isinstance(layers[-1], nn.Linear)
    ):
        raise ValueError(
            f"{type(model).__name__} does not end in Dropout then Linear; use dropout_draws=1."
        )
    return layers[-2], layers[-1]


class _Views(nn.Module):
    """Maps view numbers to embeddings: view i shows image i % N, randomly transformed."""

    def __init__(
        self, model: nn.Module, images: torch.Tensor, *, seed: int, dropout_draws: int
    ) -> None:
        super().__init__()
        device = next(model.parameters()).device
        self.model, self.dropout_draws = model, dropout_draws
        self.images = images.to(device)  # uint8 on the model's device: views are made there
        self.generator = torch.Generator().manual_seed(seed)  # the transforms (pairs.augment)
        self.masks = torch.Generator(device=device).manual_seed(seed + 1)  # the dropout masks
        self.last = _last_dropout_and_linear(model) if dropout_draws > 1 else None
        self.precision = amp_policy(device)  # fp16 on CUDA, bf16 where a CPU runs it natively
        self.hidden: list[torch.Tensor] = []
        self.train(model.training)  # `encode` restores this mode, so it must be the model's

    def forward(self, view: torch.Tensor) -> torch.Tensor:
        chosen = self.images[view % len(self.images)]  # (B, 28, 28) uint8
        x = augment(chosen, generator=self.generator, augmentation=Augmentation())
        x = x.contiguous(memory_format=torch.channels_last)  # (B, 1, 28, 28), faster convolutions
        with self.precision.autocast():
            if self.last is None:
                return self.model(x).float()  # (B, dim)
            dropout, linear = self.last
            grab = dropout.register_forward_hook(
                lambda _, inputs, __: self.hidden.append(inputs[0])
            )
            try:
                self.model(x)
            finally:
                grab.remove()
            hidden = self.hidden.pop()  # (B, h): the input of the last dropout
            draws = (len(hidden), self.dropout_draws, hidden.shape[1])
            kept = torch.rand(draws, generator=self.masks, device=hidden.device) >= dropout.p
            scaled = hidden[:, None, :] / (1.0 - dropout.p)  # (B, 1, h), as dropout scales
            noisy = torch.where(kept, scaled, 0.0)  # (B, D, h): a fresh mask per draw
            return linear(noisy.flatten(0, 1)).float()  # (B * D, dim)


def embed_views(
    model: nn.Module,
    images: torch.Tensor,
    *,
    count: int,
    dropout_draws: int = 1,
    seed: int = 0,
    batch_size: int = 2048,
) -> torch.Tensor:
    """`count` embeddings (count, dim) of randomly transformed views of `images` (N, 28, 28).

    Taught in 07_scaling_out. Views go round the images in order (view i shows image i % N),
    each through `pairs.augment`, in eval mode, channels-last and with bf16 (CPU) or fp16 (CUDA)
    autocast. With `dropout_draws` D > 1 the network runs once per view up to its last dropout,
    and its last layer runs D times with that dropout switched on (SimCLR's views, SimCSE's
    noise): D embeddings for the price of about one. Returns float32 on the CPU.
    """
    if images.dtype != torch.uint8 or images.ndim != 3:
        raise ValueError(
            f"images must be uint8 digits (N, 28, 28), got {images.dtype} {tuple(images.shape)}."
        )
    if count < 1 or dropout_draws < 1:
        raise ValueError(
            f"count and dropout_draws must be at least 1, got {count} and {dropout_draws}."
        )
    views = _Views(model, images, seed=seed, dropout_draws=dropout_draws)
    full_passes = -(-count // dropout_draws)  # ceil
    embeddings = encode(views, torch.arange(full_passes), batch_size=batch_size)
    return embeddings[:count]  # (count, dim)


def view_sources(count: int, num_images: int, *, dropout_draws: int = 1) -> torch.Tensor:
    """Which image each of `count` rows of `embed_views` shows: (count,) indices into the images."""
    return (torch.arange(count) // dropout_draws) % num_images  # (count,)


def exact_neighbours(
    queries: torch.Tensor, gallery: torch.Tensor, *, k: int = 10, chunk: int = 100
) -> torch.Tensor:
    """Row numbers (Q, k) of each query's k most cosine-similar gallery vectors, best first.

    Taught in 07_scaling_out: the truth an approximate index is scored against. Queries go
    through `evaluation.cosine_top_k` `chunk` at a time, so the similarity matrix in memory is
    (chunk, N), not (Q, N): 400 MB for 100 queries against a million vectors.
    """
    parts = [
        cosine_top_k(queries[i : i + chunk], gallery, k=k)[1] for i in range(0, len(queries), chunk)
    ]
    return torch.cat(parts)  # (Q, k)


def recall_at_k(found: np.ndarray | torch.Tensor, truth: np.ndarray | torch.Tensor) -> float:
    """Share of the true k nearest neighbours that a search found, averaged over the queries."""
    found, truth = np.asarray(found), np.asarray(truth)
    if found.shape != truth.shape or found.ndim != 2:
        raise ValueError(
            f"found and truth must both be (queries, k), got {found.shape} and {truth.shape}."
        )
    hits = [len(np.intersect1d(f, t)) for f, t in zip(found, truth, strict=True)]
    return float(np.mean(hits) / truth.shape[1])


def _lancedb():
    os.environ.setdefault("LANCEDB_LOG", "error")  # read once, when the Rust core starts
    import lancedb

    return lancedb


def write_table(
    folder: str | Path,
    vectors: torch.Tensor,
    *,
    labels: torch.Tensor | None = None,
    name: str = "vectors",
) -> Any:
    """A LanceDB table in `folder` (an old one of that name is deleted): id, label, vector.

    Taught in 07_scaling_out. The vectors (N, dim) are stored scaled to length 1 as float32, so
    LanceDB's cosine distance and the torch truth rank them alike. Returns the open table.
    """
    import pyarrow as pa

    if vectors.ndim != 2 or len(vectors) == 0:
        raise ValueError(f"vectors must be (N, dim) with N >= 1, got {tuple(vectors.shape)}.")
    if labels is not None and labels.shape != (len(vectors),):
        raise ValueError(f"labels must be ({len(vectors)},), got {tuple(labels.shape)}.")
    unit = F.normalize(vectors.float(), dim=1).numpy()  # (N, dim)
    columns = {
        "id": pa.array(np.arange(len(unit), dtype=np.int64)),
        "label": pa.array(
            np.full(len(unit), -1) if labels is None else labels.numpy().astype(np.int64)
        ),
        "vector": pa.FixedSizeListArray.from_arrays(pa.array(unit.ravel()), unit.shape[1]),
    }
    database = _lancedb().connect(Path(folder))
    database.drop_table(name, ignore_missing=True)  # its files go too: reruns do not pile up
    return database.create_table(name, data=pa.table(columns))


@dataclass(frozen=True)
class IndexSpec:
    """One approximate index: its kind and the parameters fixed when it is built.

    Taught in 07_scaling_out. IVF_PQ: `partitions` k-means cells, each vector stored as
    `sub_vectors` one-byte codes. IVF_HNSW_SQ: an HNSW graph per partition with `m` links per
    vector, vectors stored as one byte per dimension. IVF_FLAT: cells of full vectors.
    """

    kind: str = "IVF_PQ"
    partitions: int = 256
    sub_vectors: int = 16
    m: int = 20
    ef_construction: int = 150

    def __post_init__(self) -> None:
        if self.kind not in INDEX_KINDS:
            raise ValueError(f"kind={self.kind!r} is unknown; use one of {INDEX_KINDS}.")
        if self.partitions < 1 or self.sub_vectors < 1 or self.m < 2 or self.ef_construction < 1:
            raise ValueError(
                "partitions, sub_vectors and ef_construction >= 1 and m >= 2 are needed."
            )

    def name(self) -> str:
        """A short label for tables and figures."""
        if self.kind == "IVF_PQ":
            return f"IVF_PQ {self.partitions} cells, {self.sub_vectors} codes"
        if self.kind == "IVF_HNSW_SQ":
            return f"IVF_HNSW_SQ {self.partitions} cells, m={self.m}"
        return f"IVF_FLAT {self.partitions} cells"

    def config(self) -> Any:
        """LanceDB's index configuration object for this index, with cosine distance."""
        from lancedb.index import HnswSq, IvfFlat, IvfPq

        if self.kind == "IVF_PQ":
            return IvfPq(
                distance_type="cosine",
                num_partitions=self.partitions,
                num_sub_vectors=self.sub_vectors,
            )
        if self.kind == "IVF_HNSW_SQ":
            return HnswSq(
                distance_type="cosine",
                num_partitions=self.partitions,
                m=self.m,
                ef_construction=self.ef_construction,
            )
        return IvfFlat(distance_type="cosine", num_partitions=self.partitions)


def build_index(table: Any, spec: IndexSpec) -> float:
    """Build `spec` on the table's vector column (replacing any index); return seconds taken."""
    started = time.perf_counter()
    table.create_index("vector", config=spec.config(), replace=True)
    return time.perf_counter() - started


def index_bytes(table: Any) -> int:
    """Bytes on disk of the table's indexes (0 when it has none)."""
    return sum(int(index.size_bytes or 0) for index in table.list_indices())


def folder_bytes(folder: str | Path) -> int:
    """Bytes of every file under `folder`."""
    return sum(path.stat().st_size for path in Path(folder).rglob("*") if path.is_file())


@dataclass
class Searched:
    """What a batch of single-query searches returned: row ids (Q, k) and seconds per query (Q,)."""

    ids: np.ndarray
    seconds: np.ndarray = field(repr=False)

    @property
    def median_ms(self) -> float:
        return float(np.median(self.seconds) * 1e3)

    @property
    def p95_ms(self) -> float:
        return float(np.percentile(self.seconds, 95) * 1e3)


def search(
    table: Any,
    queries: torch.Tensor,
    *,
    k: int = 10,
    exact: bool = False,
    nprobes: int | None = None,
    refine_factor: int | None = None,
    ef: int | None = None,
) -> Searched:
    """Search the table one query at a time, as a service answers users; time every query.

    Taught in 07_scaling_out. `exact` scans every row (the index is bypassed). Otherwise the
    index answers: `nprobes` cells are visited (IVF), `ef` candidates kept in the graph walk
    (HNSW), and with `refine_factor` r the best k * r candidates are re-ranked on full vectors.
    """
    if k < 1 or (exact and any(v is not None for v in (nprobes, refine_factor, ef))):
        raise ValueError("k must be at least 1, and an exact search takes no index parameters.")
    unit = F.normalize(queries.float(), dim=1).numpy()  # (Q, dim)
    ids = np.empty((len(unit), k), dtype=np.int64)
    seconds = np.empty(len(unit))
    for row, vector in enumerate(unit):
        started = time.perf_counter()
        query = table.search(vector, vector_column_name="vector").distance_type("cosine").limit(k)
        if exact:
            query = query.bypass_vector_index()
        if nprobes is not None:
            query = query.nprobes(nprobes)
        if refine_factor is not None:
            query = query.refine_factor(refine_factor)
        if ef is not None:
            query = query.ef(ef)
        found = query.select(["id", "_distance"]).to_arrow()["id"].to_numpy()
        seconds[row] = time.perf_counter() - started
        if len(found) != k:
            raise ValueError(
                f"The search returned {len(found)} rows, not {k}; is the table that small?"
            )
        ids[row] = found
    return Searched(ids=ids, seconds=seconds)


def sweep(
    table: Any,
    queries: torch.Tensor,
    truth: torch.Tensor,
    settings: list[dict[str, int | None]],
    *,
    exact_ms: float,
) -> list[dict[str, float | int | None]]:
    """Search with each setting (e.g. {"nprobes": 10, "refine_factor": 5}); one row per setting.

    Taught in 07_scaling_out. Each row holds the setting, recall@k against `truth` (Q, k), the
    median and 95th-percentile latency in ms, and the speed-up over an exact search of `exact_ms`.
    """
    rows = []
    for setting in settings:
        found = search(table, queries, k=truth.shape[1], **setting)
        rows.append(
            {
                **setting,
                "recall": recall_at_k(found.ids, truth),
                "median_ms": found.median_ms,
                "p95_ms": found.p95_ms,
                "speed_up": exact_ms / found.median_ms,
            }
        )
    return rows
