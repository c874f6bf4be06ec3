"""Measuring a space that binds several modalities: cross-modal recall and the modality gap.

Every function takes a mapping from modality name ("image", "text", "audio") to embeddings (N, dim)
and one to labels (N,). Taught in 06_any_to_any_search.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
import torch
import torch.nn.functional as F

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


def cross_modal_recall(
    embeddings: Embeddings,
    labels: Mapping[str, torch.Tensor],
    *,
    ks: Sequence[int] = (1, 5),
) -> dict[int, pd.DataFrame]:
    """Recall@k for every query modality (rows) against every target modality (columns).

    A query scores a hit when one of its k most cosine-similar targets shows the same digit. Within
    one modality a query never finds itself (leave one out). Returns {k: table}.
    """
    _check(embeddings, labels)
    if not ks or min(ks) < 1:
        raise ValueError(f"ks must hold positive ranks, got {ks}.")
    names = list(embeddings)
    tables = {k: pd.DataFrame(index=names, columns=names, dtype=float) for k in ks}
    for query in names:
        unit_query = F.normalize(embeddings[query].float(), dim=1)  # (Nq, dim)
        for target in names:
            unit_target = F.normalize(embeddings[target].float(), dim=1)  # (Nt, dim)
            similarity = unit_query @ unit_target.T  # (Nq, Nt)
            if query == target:
                similarity.fill_diagonal_(float("-inf"))
            nearest = similarity.topk(max(ks), dim=1).indices  # (Nq, max_k)
            hit = labels[target][nearest] == labels[query][:, None]  # (Nq, max_k)
            for k in ks:
                tables[k].loc[query, target] = hit[:, :k].any(dim=1).float().mean().item()
    tables = {k: table.rename_axis(index="query", columns="target") for k, table in tables.items()}
    return tables


def chance_recall(labels: torch.Tensor, *, k: int) -> float:
    """Recall@k of a search that ranks targets at random, for targets with these labels.

    For a query of digit d among N targets, n_d of them of digit d, the chance that none of k
    random targets is a d is C(N - n_d, k) / C(N, k); averaged over the digits of the targets.
    """
    counts = torch.bincount(labels.flatten()).double()  # (digits,)
    total = counts.sum()
    share = counts / total
    miss = torch.ones_like(counts)
    for i in range(k):
        miss *= (total - counts - i).clamp_min(0) / (total - i)
    return float((share * (1 - miss)).sum())


def unit(embeddings: Embeddings) -> dict[str, torch.Tensor]:
    """Each modality's embeddings scaled to length 1."""
    return {modality: F.normalize(values.float(), dim=1) for modality, values in embeddings.items()}


def modality_centroids(embeddings: Embeddings) -> dict[str, torch.Tensor]:
    """The mean of each modality's unit-length embeddings (dim,)."""
    return {modality: values.mean(dim=0) for modality, values in unit(embeddings).items()}


def centroid_distances(embeddings: Embeddings) -> pd.DataFrame:
    """The modality gap of Liang et al. (2022): distances between modality centroids.

    Each centroid is the mean of a modality's unit-length embeddings; a distance of 0 means the
    modalities are centred on the same point, the largest possible is 2.
    """
    centroids = modality_centroids(embeddings)
    names = list(centroids)
    table = pd.DataFrame(index=names, columns=names, dtype=float)
    for a in names:
        for b in names:
            table.loc[a, b] = (centroids[a] - centroids[b]).norm().item()
    return table


def centre(
    embeddings: Embeddings, centroids: Mapping[str, torch.Tensor]
) -> dict[str, torch.Tensor]:
    """Subtract each modality's centroid from its unit-length embeddings, then rescale to length 1.

    Pass centroids measured on training data, so the held-out data stay unseen.
    """
    missing = set(embeddings) - set(centroids)
    if missing:
        raise ValueError(f"No centroid for {sorted(missing)}; measure it on training data first.")
    return {
        modality: F.normalize(values - centroids[modality], dim=1)
        for modality, values in unit(embeddings).items()
    }


def plot_recall_heatmaps(
    tables: Mapping[str, pd.DataFrame], *, note: str | None = None, size: float = 3.4
) -> plt.Figure:
    """One annotated 3x3 heatmap per named recall table, side by side, on one 0-1 colour scale.

    `note` (say, the chance level) is written under the figure.
    """
    if not tables:
        raise ValueError("Pass at least one recall table.")
    figure, axes = plt.subplots(
        1, len(tables), figsize=(size * len(tables), size * 0.9), squeeze=False
    )
    for axis, (title, table) in zip(axes[0], tables.items(), strict=True):
        sns.heatmap(
            table.astype(float),
            vmin=0,
            vmax=1,
            annot=True,
            fmt=".2f",
            cmap="viridis",
            cbar=False,
            square=True,
            ax=axis,
        )
        axis.set_title(title, fontsize=10)
        axis.set_xlabel("target")
        axis.set_ylabel("query")
    if note:
        figure.suptitle(note, fontsize=9, y=0.02)
    figure.tight_layout()
    return figure


def plot_modality_maps(
    points: np.ndarray,
    modalities: Sequence[str],
    labels: torch.Tensor | np.ndarray,
    *,
    title: str = "",
    point_size: float = 8.0,
) -> plt.Figure:
    """A 2-D map (N, 2) drawn twice: coloured by modality, then by digit."""
    labels = np.asarray(labels).reshape(-1)
    if points.shape != (len(labels), 2) or len(modalities) != len(labels):
        raise ValueError(
            f"Pass points (N, 2) with N modalities and N labels, got {points.shape}, "
            f"{len(modalities)} and {len(labels)}."
        )
    frame = pd.DataFrame(
        {"x": points[:, 0], "y": points[:, 1], "modality": list(modalities), "digit": labels}
    )
    figure, axes = plt.subplots(1, 2, figsize=(12, 5))
    markers = {"image": "o", "text": "s", "audio": "^"}
    for axis, hue, palette in ((axes[0], "modality", "Set1"), (axes[1], "digit", "tab10")):
        sns.scatterplot(
            data=frame,
            x="x",
            y="y",
            hue=hue,
            style="modality",
            markers=markers,
            palette=palette,
            s=point_size,
            linewidth=0,
            ax=axis,
            legend="full" if hue == "digit" else "brief",
        )
        axis.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
        axis.set(xticks=[], yticks=[], xlabel="", ylabel="", title=f"{title} coloured by {hue}")
    figure.tight_layout()
    return figure
