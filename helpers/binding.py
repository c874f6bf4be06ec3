"""Measuring a space that binds several modalities: cross-modal recall, the modality gap, centring.

Most functions take a mapping from modality name ("image", "text", "audio") to embeddings (N, dim)
and, where digits matter, one to labels (N,). Every measure is computed in torch, and every search
is `evaluation.cosine_top_k`; `cross_modal_recall` and `centroid_distances` hand back pandas tables
for reading, importing pandas only there.

Taught in 01_modalities (`neighbour_agreement`) and 06_any_to_any_search (the rest).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F

from helpers.evaluation import cosine_top_k

if TYPE_CHECKING:
    import pandas as pd

Embeddings = Mapping[str, torch.Tensor]


def _check(embeddings: Embeddings, labels: Mapping[str, torch.Tensor]) -> None:
    if not embeddings or set(embeddings) != set(labels):
        raise ValueError(
            f"Pass embeddings and labels for the same modalities, got {list(embeddings)} and "
            f"{list(labels)}."
        )
    for modality, values in embeddings.items():
        if values.ndim != 2 or labels[modality].shape != (len(values),):
            raise ValueError(
                f"{modality}: embeddings must be (N, dim) with labels (N,), got "
                f"{tuple(values.shape)} and {tuple(labels[modality].shape)}."
            )


def recall_matrices(
    embeddings: Embeddings, labels: Mapping[str, torch.Tensor], *, ks: Sequence[int] = (1, 5)
) -> dict[int, torch.Tensor]:
    """Recall@k of every query modality (rows) against every target modality (columns): {k: (M, M)}.

    Taught in 06_any_to_any_search. A query scores a hit when one of its k most cosine-similar
    targets shows the same digit. Within one modality a query never finds itself (leave one out).
    Rows and columns follow the order of `embeddings`.
    """
    _check(embeddings, labels)
    if not ks or min(ks) < 1:
        raise ValueError(f"ks must hold positive ranks, got {ks}.")
    names = list(embeddings)
    recall = {k: torch.zeros(len(names), len(names)) for k in ks}
    for row, query in enumerate(names):
        for column, target in enumerate(names):
            _, nearest = cosine_top_k(
                embeddings[query], embeddings[target], k=max(ks), exclude_self=query == target
            )  # (Nq, max_k)
            hit = labels[target][nearest] == labels[query][:, None]  # (Nq, max_k)
            for k in ks:
                recall[k][row, column] = hit[:, :k].any(dim=1).float().mean()
    return recall


def cross_modal_recall(
    embeddings: Embeddings, labels: Mapping[str, torch.Tensor], *, ks: Sequence[int] = (1, 5)
) -> dict[int, pd.DataFrame]:
    """`recall_matrices` as tables to read: {k: DataFrame}, index "query", columns "target".

    Taught in 06_any_to_any_search.
    """
    import pandas as pd

    names = list(embeddings)
    return {
        k: pd.DataFrame(matrix.numpy(), index=names, columns=names).rename_axis(
            index="query", columns="target"
        )
        for k, matrix in recall_matrices(embeddings, labels, ks=ks).items()
    }


def nearest_cosines(embeddings: Embeddings) -> pd.DataFrame:
    """Mean cosine between each query and its nearest item of every modality, as a table.

    Taught in 06_any_to_any_search: what one unfiltered search ranks by. Rows are query
    modalities, columns target modalities; within a modality a query never finds itself. When
    the diagonal is far above the rest of its row, an unfiltered search returns only the query's
    own modality.
    """
    import pandas as pd

    names = list(embeddings)
    table = torch.zeros(len(names), len(names))  # (M, M)
    for row, query in enumerate(names):
        for column, target in enumerate(names):
            scores, _ = cosine_top_k(
                embeddings[query], embeddings[target], k=1, exclude_self=query == target
            )  # (Nq, 1)
            table[row, column] = scores.mean()
    return pd.DataFrame(table.numpy(), index=names, columns=names).rename_axis(
        index="query", columns="target"
    )


def chance_recall(labels: torch.Tensor, *, k: int) -> float:
    """Recall@k of a search that ranks targets at random, for targets with these labels.

    Taught in 06_any_to_any_search. For a query of digit d among N targets, n_d of them of digit
    d, the chance that none of k random targets is a d is C(N - n_d, k) / C(N, k); averaged over
    the digits of the targets.
    """
    counts = torch.bincount(labels.flatten()).double()  # (digits,)
    total = counts.sum()
    share = counts / total
    miss = torch.ones_like(counts)
    for i in range(k):
        miss *= (total - counts - i).clamp_min(0) / (total - i)
    return float((share * (1 - miss)).sum())


def unit(embeddings: Embeddings) -> dict[str, torch.Tensor]:
    """Each modality's embeddings scaled to length 1.

    Taught in 06_any_to_any_search.
    """
    return {modality: F.normalize(values.float(), dim=1) for modality, values in embeddings.items()}


def modality_centroids(embeddings: Embeddings) -> dict[str, torch.Tensor]:
    """The mean of each modality's unit-length embeddings (dim,). Taught in 06_any_to_any_search."""
    return {modality: values.mean(dim=0) for modality, values in unit(embeddings).items()}


def gap_matrix(embeddings: Embeddings) -> torch.Tensor:
    """Distances between modality centroids (M, M), in the order of `embeddings`.

    Taught in 06_any_to_any_search.
    """
    centroids = torch.stack(list(modality_centroids(embeddings).values()))  # (M, dim)
    return torch.cdist(centroids[None], centroids[None])[0]  # (M, M)


def centroid_distances(embeddings: Embeddings) -> pd.DataFrame:
    """The modality gap of Liang et al. (2022): distances between modality centroids, as a table.

    Taught in 06_any_to_any_search. Each centroid is the mean of a modality's unit-length
    embeddings; a distance of 0 means the modalities are centred on the same point, the largest
    possible is 2.
    """
    import pandas as pd

    names = list(embeddings)
    return pd.DataFrame(gap_matrix(embeddings).numpy(), index=names, columns=names)


def centre(
    embeddings: Embeddings, centroids: Mapping[str, torch.Tensor]
) -> dict[str, torch.Tensor]:
    """Subtract each modality's centroid from its unit-length embeddings, then rescale to length 1.

    Taught in 06_any_to_any_search. Pass centroids measured on training data, so the held-out
    data stay unseen.
    """
    missing = set(embeddings) - set(centroids)
    if missing:
        raise ValueError(f"No centroid for {sorted(missing)}; measure it on training data first.")
    return {
        modality: F.normalize(values - centroids[modality].float(), dim=1)
        for modality, values in unit(embeddings).items()
    }


def _nearest_across(
    embeddings: torch.Tensor, across: torch.Tensor, groups: torch.Tensor
) -> torch.Tensor:
    """For each item, the index of its most cosine-similar item of another `across` value (N,)."""
    if across.shape != groups.shape:
        raise ValueError("`across` needs one value per item, shaped like `groups`.")
    nearest = torch.empty(len(groups), dtype=torch.int64)  # (N,)
    for value in across.unique():
        mine, others = torch.nonzero(across == value)[:, 0], torch.nonzero(across != value)[:, 0]
        if len(others) == 0:
            raise ValueError("Some item has no candidate neighbour; check `across`.")
        _, top = cosine_top_k(embeddings[mine], embeddings[others], k=1)  # (n_mine, 1)
        nearest[mine] = others[top[:, 0]]
    return nearest


def neighbour_agreement(
    embeddings: torch.Tensor, groups: torch.Tensor, *, across: torch.Tensor | None = None
) -> tuple[float, float]:
    """Share of items whose nearest other item (cosine) shares their group, and the chance level.

    Taught in 01_modalities. `embeddings` (N, dim), `groups` (N,) int64 (a modality number or a
    digit). With `across` (N,), say each item's modality, only items of another `across` value
    count as neighbours: "does a search from this item into the other modalities find its group
    first?". Chance is the share of an item's candidate neighbours in its own group, averaged.
    """
    if embeddings.ndim != 2 or groups.shape != (len(embeddings),) or len(embeddings) < 2:
        raise ValueError("Pass embeddings (N, dim) and groups (N,) for at least two items.")
    if across is None:  # any other item may be the neighbour
        _, top = cosine_top_k(embeddings, embeddings, k=1, exclude_self=True)  # (N, 1)
        nearest = top[:, 0]  # (N,)
        candidate = ~torch.eye(len(groups), dtype=torch.bool)  # (N, N)
    else:
        nearest = _nearest_across(embeddings, across, groups)  # (N,)
        candidate = across[:, None] != across[None, :]  # (N, N)
    agreement = (groups[nearest] == groups).float().mean().item()
    same = (groups[:, None] == groups[None, :]) & candidate  # (N, N)
    chance = (same.sum(dim=1) / candidate.sum(dim=1)).mean().item()
    return agreement, chance
