"""How good is an embedding? Nearest-neighbour accuracy, recall@k, similarity distributions.

Every metric here reads embeddings (N, dim) and digit labels. `embed` makes them from a model the
right way: eval mode, no gradients, in batches, BatchNorm statistics left alone.

Taught in 05_embedding_space (and used by `fit` for the validation 1-NN accuracy).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from sklearn.metrics import roc_auc_score, silhouette_score
from sklearn.neighbors import KNeighborsClassifier
from torch import nn

from helpers.data import Digits, as_image_tensor, to_network_input
from helpers.pairs import draw_pairs


def _as_input(images: torch.Tensor) -> torch.Tensor:
    """uint8 digits become network input; float batches (N, 1, 28, 28) pass as they are."""
    if images.dtype == torch.uint8:
        return to_network_input(images)
    if not images.is_floating_point() or images.ndim != 4 or images.shape[1:] != (1, 28, 28):
        raise ValueError(
            "embed expects uint8 digits (N, 28, 28) or float network input (N, 1, 28, 28), "
            f"got {images.dtype} {tuple(images.shape)}."
        )
    if not torch.isfinite(images).all():
        raise ValueError("embed was given float input holding NaN or infinite values.")
    if images.numel() and images.abs().max() > 1.001:
        raise ValueError(
            f"embed expects float network input in [-1, 1], got values up to "
            f"{float(images.abs().max()):g}; pass uint8 pixels 0..255 and embed converts them."
        )
    return images


def encode(model: nn.Module, inputs: torch.Tensor, *, batch_size: int = 1000) -> torch.Tensor:
    """Outputs (N, dim) of any encoder on prepared inputs (N, ...): eval mode, no gradients, batched.

    The one eval-mode loop of the package (images, text and audio encoders all use it). Results
    come back as float32 on the CPU; the inputs move to the model's device batch by batch, and the
    model's train/eval mode is restored afterwards.
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a whole number of at least 1, got {batch_size!r}.")
    if len(inputs) == 0:
        raise ValueError("encode was given no inputs.")
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            outputs = [
                model(inputs[start : start + batch_size].to(device)).float().cpu()  # (B, dim)
                for start in range(0, len(inputs), batch_size)
            ]
    finally:
        model.train(was_training)
    return torch.cat(outputs)  # (N, dim)


def embed(model: nn.Module, images: torch.Tensor, *, batch_size: int = 1000) -> torch.Tensor:
    """Embeddings (N, dim) of digits on the CPU: eval mode, no gradients, batched.

    Taught in 05_embedding_space. Eval mode turns dropout off and makes BatchNorm use (not update)
    its running statistics; the source material's loop ran in train mode and lost 10 points of
    1-NN accuracy. The images may live on any device; they move to the model's device per batch.
    Input that is neither uint8 digits nor finite float network input in [-1, 1] raises ValueError.
    """
    images = as_image_tensor(images, caller="embed")
    if images.ndim == 2:
        images = images.unsqueeze(0)  # one digit (28, 28) becomes a batch of one
    if images.ndim < 3:
        raise ValueError(
            f"embed expects a batch of digits (N, 28, 28) or (N, 1, 28, 28), got shape "
            f"{tuple(images.shape)}; add a batch axis with images[None]."
        )
    if len(images) == 0:
        raise ValueError("embed was given no images.")
    _as_input(images[:1])  # the input contract, checked before any work
    return encode(_InputContract(model), images, batch_size=batch_size)


class _InputContract(nn.Module):
    """Wraps a digit model so each batch passes `_as_input` (uint8 -> network input) first."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model
        self.train(model.training)  # `encode` restores this mode, so it must be the model's

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.model(_as_input(images))


def _numpy(values: torch.Tensor | np.ndarray) -> np.ndarray:
    if isinstance(values, torch.Tensor):
        return values.detach().cpu().numpy()
    return np.asarray(values)


def _flat(images: torch.Tensor | np.ndarray) -> np.ndarray:
    array = _numpy(images)
    return array.reshape(len(array), -1).astype(np.float32)


def cosine_top_k(
    queries: torch.Tensor,
    gallery: torch.Tensor,
    *,
    k: int,
    exclude_self: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The `k` gallery rows most cosine-similar to each query, best first: (scores, indices).

    The one exact search of the package (k-NN, recall@k, cross-modal recall and the checks of the
    vector database all use it). `queries` (Q, dim) or one query (dim,); `gallery` (N, dim).
    Returns scores and indices shaped (Q, k), or (k,) for one query. With `exclude_self` the
    queries are the gallery itself and an item is never its own neighbour (leave one out).
    """
    single = queries.ndim == 1
    queries = queries.reshape(1, -1) if single else queries
    if queries.ndim != 2 or gallery.ndim != 2 or queries.shape[1] != gallery.shape[1]:
        raise ValueError(
            "cosine_top_k needs queries (Q, dim) and a gallery (N, dim) of the same dim; got "
            f"{tuple(queries.shape)} and {tuple(gallery.shape)}."
        )
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= len(gallery) - exclude_self:
        raise ValueError(
            f"k must be a whole number from 1 to {len(gallery) - exclude_self} here, got {k!r}."
        )
    if exclude_self and len(queries) != len(gallery):
        raise ValueError("exclude_self=True needs the queries to be the gallery itself.")
    similarity = F.normalize(queries.float(), dim=1) @ F.normalize(gallery.float(), dim=1).T
    if exclude_self:
        similarity.fill_diagonal_(float("-inf"))  # (Q, N): an item is not its own neighbour
    scores, indices = similarity.topk(k, dim=1)  # (Q, k), (Q, k)
    return (scores[0], indices[0]) if single else (scores, indices)


def knn_accuracy(
    gallery: torch.Tensor | np.ndarray,
    gallery_labels: torch.Tensor | np.ndarray,
    queries: torch.Tensor | np.ndarray,
    query_labels: torch.Tensor | np.ndarray,
    *,
    k: int = 1,
) -> float:
    """Share of queries whose k nearest gallery items (cosine) vote for the right digit.

    Taught in 05_embedding_space. Gallery: training embeddings; queries: validation embeddings.
    Images (N, 28, 28) work too: they are flattened to pixel vectors.
    """
    classifier = KNeighborsClassifier(n_neighbors=k, metric="cosine", algorithm="brute")
    classifier.fit(_flat(gallery), _numpy(gallery_labels))
    return float(classifier.score(_flat(queries), _numpy(query_labels)))


def recall_at_k(
    embeddings: torch.Tensor | np.ndarray,
    labels: torch.Tensor | np.ndarray,
    *,
    ks: tuple[int, ...] = (1, 5, 10),
) -> dict[str, float]:
    """Recall@k within one set: share of items with a same-digit item among their k nearest others.

    Taught in 05_embedding_space. Leave-one-out: an item is never its own neighbour.
    """
    z = F.normalize(torch.as_tensor(_flat(embeddings)), dim=1)  # (N, dim)
    y = torch.as_tensor(_numpy(labels))
    similarity = z @ z.T  # (N, N)
    similarity.fill_diagonal_(float("-inf"))
    nearest = similarity.topk(max(ks), dim=1).indices  # (N, max_k)
    hit = y[nearest] == y[:, None]  # (N, max_k)
    return {f"recall@{k}": float(hit[:, :k].any(dim=1).float().mean()) for k in ks}


def pair_similarities(
    embeddings: torch.Tensor | np.ndarray,
    labels: torch.Tensor | np.ndarray,
    *,
    num_pairs: int = 5000,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Cosine similarities of random same-digit pairs and of different-digit pairs.

    Taught in 05_embedding_space: two histograms that should barely overlap after training.
    """
    z = F.normalize(torch.as_tensor(_flat(embeddings)), dim=1)  # (N, dim)
    y = torch.as_tensor(_numpy(labels)).long()
    generator = torch.Generator().manual_seed(seed)
    pairs = draw_pairs(y, generator=generator, num_pairs=num_pairs)
    similarity = (z[pairs.anchor] * z[pairs.partner]).sum(dim=1)  # (num_pairs,)
    same = pairs.target.bool()
    return similarity[same].numpy(), similarity[~same].numpy()


def same_digit_auc(positive: np.ndarray, negative: np.ndarray) -> float:
    """ROC AUC of answering "same digit?" by thresholding the cosine similarity (1.0 is perfect)."""
    scores = np.concatenate([positive, negative])
    truth = np.concatenate([np.ones(len(positive)), np.zeros(len(negative))])
    return float(roc_auc_score(truth, scores))


def silhouette(
    embeddings: torch.Tensor | np.ndarray,
    labels: torch.Tensor | np.ndarray,
    *,
    sample_size: int | None = 2000,
    seed: int = 0,
) -> float:
    """Silhouette score with cosine distance: near 1 tight separate digit clusters, near 0 mixed."""
    array = _flat(embeddings)
    size = None if sample_size is None or sample_size >= len(array) else sample_size
    return float(
        silhouette_score(
            array, _numpy(labels), metric="cosine", sample_size=size, random_state=seed
        )
    )


def evaluate_embeddings(
    train_embeddings: torch.Tensor | np.ndarray,
    train_labels: torch.Tensor | np.ndarray,
    val_embeddings: torch.Tensor | np.ndarray,
    val_labels: torch.Tensor | np.ndarray,
) -> dict[str, float]:
    """Every metric of this module for one embedding, as a dict (rounded to 4 places).

    Taught in 05_embedding_space. k-NN: validation queries against the training gallery; the
    other metrics are computed on the validation set.
    """
    positive, negative = pair_similarities(val_embeddings, val_labels)
    metrics = {
        "val_1nn": knn_accuracy(train_embeddings, train_labels, val_embeddings, val_labels, k=1),
        "val_5nn": knn_accuracy(train_embeddings, train_labels, val_embeddings, val_labels, k=5),
        **recall_at_k(val_embeddings, val_labels, ks=(1, 5)),
        "same_digit_auc": same_digit_auc(positive, negative),
        "silhouette": silhouette(val_embeddings, val_labels),
    }
    return {name: round(value, 4) for name, value in metrics.items()}


def evaluate_model(model: nn.Module, digits: Digits) -> dict[str, float]:
    """`evaluate_embeddings` for a model: embeds training and validation digits (eval mode)."""
    return evaluate_embeddings(
        embed(model, digits.train_images),
        digits.train_labels,
        embed(model, digits.val_images),
        digits.val_labels,
    )


def validation_1nn(model: nn.Module, digits: Digits) -> float:
    """Validation 1-NN accuracy (cosine) with the training digits as gallery: `fit`'s metric."""
    return knn_accuracy(
        embed(model, digits.train_images),
        digits.train_labels,
        embed(model, digits.val_images),
        digits.val_labels,
    )


def reference_table(
    digits: Digits, *, untrained_model: nn.Module, trained_model: nn.Module | None = None
) -> pd.DataFrame:
    """The same metrics for raw pixels, an untrained network and (optionally) a trained one.

    Taught in 05_embedding_space: how much did training buy over doing nothing at all?
    """
    rows = {
        "raw pixels": evaluate_embeddings(
            digits.train_images, digits.train_labels, digits.val_images, digits.val_labels
        ),
        "untrained network": evaluate_model(untrained_model, digits),
    }
    if trained_model is not None:
        rows["trained network"] = evaluate_model(trained_model, digits)
    return pd.DataFrame.from_dict(rows, orient="index")
