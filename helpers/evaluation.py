"""How good is an embedding? Nearest-neighbour accuracy, recall@k, similarity distributions.

Every metric here reads embeddings (N, dim) and digit labels. `embed` makes them from a model the
right way: eval mode, no gradients, in batches, BatchNorm statistics left alone. Searches and
k-NN run in torch through `cosine_top_k`; scikit-learn is imported only by the two metrics that
use it (ROC AUC and silhouette), pandas only by `reference_table`.

Taught in 05_embedding_space (and used by `fit` for the validation 1-NN accuracy).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from helpers.data import Digits, as_image_tensor, to_network_input
from helpers.intervals import (  # re-exported: evaluation.accuracy_interval and friends
    Estimate,
    proportion_interval,
    seed_interval,
)
from helpers.intervals import accuracy_interval as accuracy_interval
from helpers.intervals import mean_interval as mean_interval
from helpers.pairs import draw_pairs

if TYPE_CHECKING:
    import pandas as pd

DIGIT_SHAPE = (28, 28)
QUERY_CHUNK = 1024  # queries compared with the gallery at once: bounds memory on full MNIST


def _digit_batch(images: object) -> torch.Tensor:
    """`embed`'s input contract, checked once on the whole input.

    uint8 pixels come back as (N, 28, 28); float network input as float32 (N, 1, 28, 28).
    """
    images = as_image_tensor(images, caller="embed")
    shape = tuple(images.shape)
    if shape == DIGIT_SHAPE or shape == (784,):
        images = images.reshape(1, 28, 28)  # one digit becomes a batch of one
    elif images.ndim == 2 and shape[1] == 784:
        images = images.reshape(-1, 28, 28)  # flat rows of 784 pixels, as in a CSV
    elif images.ndim == 4 and shape[1:] == (1, 28, 28):
        images = images[:, 0]
    if images.ndim != 3 or tuple(images.shape[1:]) != DIGIT_SHAPE:
        raise ValueError(
            f"embed expects digits shaped (N, 28, 28), (N, 1, 28, 28), (N, 784) or one (28, 28), "
            f"got shape {shape}; add a batch axis with images[None]."
        )
    if len(images) == 0:
        raise ValueError("embed was given no images.")
    if images.dtype == torch.uint8:
        return images
    if not images.is_floating_point():
        raise ValueError(
            f"embed expects uint8 pixels 0..255 or float network input in [-1, 1], got "
            f"{images.dtype}; convert whole-number pixels with .to(torch.uint8)."
        )
    _check_network_input(images)
    return images.unsqueeze(1).float()  # (N, 1, 28, 28)


def _check_network_input(images: torch.Tensor) -> None:
    if not torch.isfinite(images).all():
        raise ValueError("embed was given float input holding NaN or infinite values.")
    largest = float(images.abs().max())
    if largest > 1.001:
        raise ValueError(
            f"embed expects float network input in [-1, 1], got values up to {largest:g}; pass "
            "uint8 pixels 0..255 and embed converts them."
        )
    if float(images.min()) >= 0:
        raise ValueError(
            "embed was given float input with no negative value, which looks like pixels in "
            "[0, 1] (what ToTensor() gives); network input lies in [-1, 1] with a background of "
            "-1. Pass uint8 pixels 0..255, or convert with x * 2 - 1."
        )


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
    1-NN accuracy. Digits are uint8 pixels (N, 28, 28), (N, 1, 28, 28) or flat (N, 784), or float
    network input in [-1, 1]; anything else, including [0, 1] floats, raises ValueError. The
    images may live on any device; they move to the model's device batch by batch.
    """
    images = _digit_batch(images)
    return encode(_DigitInput(model), images, batch_size=batch_size)


class _DigitInput(nn.Module):
    """Wraps a digit model so uint8 batches become network input on the way in."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model
        self.train(model.training)  # `encode` restores this mode, so it must be the model's

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = to_network_input(images) if images.dtype == torch.uint8 else images
        return self.model(x)  # (batch, dim)


def _numpy(values: torch.Tensor | np.ndarray) -> np.ndarray:
    if isinstance(values, torch.Tensor):
        return values.detach().cpu().numpy()
    return np.asarray(values)


def _flat(values: torch.Tensor | np.ndarray) -> torch.Tensor:
    """Embeddings or images as float32 rows (N, features) on the CPU."""
    tensor = torch.as_tensor(_numpy(values))
    return tensor.reshape(len(tensor), -1).float()


def _labels(values: torch.Tensor | np.ndarray) -> torch.Tensor:
    return torch.as_tensor(_numpy(values)).long().reshape(-1)


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
    queries = F.normalize(queries.float(), dim=1)  # (Q, dim), unit length: dot = cosine
    gallery = F.normalize(gallery.float(), dim=1)  # (N, dim)
    scores = torch.empty(len(queries), k, device=queries.device)  # (Q, k)
    indices = torch.empty(len(queries), k, dtype=torch.long, device=queries.device)  # (Q, k)
    for start in range(0, len(queries), QUERY_CHUNK):  # a chunk at a time: (chunk, N) in memory
        similarity = queries[start : start + QUERY_CHUNK] @ gallery.T  # (chunk, N)
        if exclude_self:  # an item is not its own neighbour
            rows = torch.arange(len(similarity), device=similarity.device)
            similarity[rows, rows + start] = float("-inf")
        scores[start : start + QUERY_CHUNK], indices[start : start + QUERY_CHUNK] = similarity.topk(
            k, dim=1
        )
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
    Images (N, 28, 28) work too: they are flattened to pixel vectors. A tied vote goes to the
    smallest digit, as in scikit-learn's `KNeighborsClassifier`.
    """
    gallery, queries = _flat(gallery), _flat(queries)
    gallery_labels, query_labels = _labels(gallery_labels), _labels(query_labels)
    if len(gallery) != len(gallery_labels) or len(queries) != len(query_labels):
        raise ValueError(
            f"knn_accuracy needs one label per item: {len(gallery)} gallery items with "
            f"{len(gallery_labels)} labels, {len(queries)} queries with {len(query_labels)} labels."
        )
    return float(
        _knn_predictions(gallery, gallery_labels, queries, k=k).eq(query_labels).float().mean()
    )


def _knn_predictions(
    gallery: torch.Tensor, gallery_labels: torch.Tensor, queries: torch.Tensor, *, k: int
) -> torch.Tensor:
    """The digit each query's k nearest gallery items (cosine) vote for (M,)."""
    _, nearest = cosine_top_k(queries, gallery, k=k)  # (M, k)
    classes, class_of = torch.unique(gallery_labels, return_inverse=True)  # (C,), (N,)
    votes = F.one_hot(class_of[nearest], len(classes)).sum(dim=1)  # (M, C)
    return classes[votes.argmax(dim=1)]  # (M,) the first, so smallest, of tied digits


def recall_at_k(
    embeddings: torch.Tensor | np.ndarray,
    labels: torch.Tensor | np.ndarray,
    *,
    ks: tuple[int, ...] = (1, 5, 10),
) -> dict[str, float]:
    """Recall@k within one set: share of items with a same-digit item among their k nearest others.

    Taught in 05_embedding_space. Leave-one-out: an item is never its own neighbour.
    """
    hit = _recall_hits(_flat(embeddings), _labels(labels), k=max(ks))  # (N, max_k)
    return {f"recall@{k}": float(hit[:, :k].any(dim=1).float().mean()) for k in ks}


def _recall_hits(z: torch.Tensor, y: torch.Tensor, *, k: int) -> torch.Tensor:
    """Whether each item's i-th nearest other item (cosine) is of its digit (N, k), best first."""
    _, nearest = cosine_top_k(z, z, k=k, exclude_self=True)  # (N, k)
    return y[nearest] == y[:, None]  # (N, k)


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
    z = F.normalize(_flat(embeddings), dim=1)  # (N, dim)
    y = _labels(labels)
    generator = torch.Generator().manual_seed(seed)
    pairs = draw_pairs(y, generator=generator, num_pairs=num_pairs)
    similarity = (z[pairs.anchor] * z[pairs.partner]).sum(dim=1)  # (num_pairs,)
    same = pairs.target.bool()
    return similarity[same].numpy(), similarity[~same].numpy()


def same_digit_auc(positive: np.ndarray, negative: np.ndarray) -> float:
    """ROC AUC of answering "same digit?" by thresholding the cosine similarity (1.0 is perfect)."""
    from sklearn.metrics import roc_auc_score

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
    from sklearn.metrics import silhouette_score

    array = _flat(embeddings).numpy()
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


def _embed_splits(model: nn.Module, digits: Digits) -> tuple[torch.Tensor, torch.Tensor]:
    """Training and validation embeddings of `digits`, in eval mode."""
    return embed(model, digits.train_images), embed(model, digits.val_images)


def evaluate_model(model: nn.Module, digits: Digits) -> dict[str, float]:
    """`evaluate_embeddings` for a model: embeds training and validation digits (eval mode)."""
    train, val = _embed_splits(model, digits)
    return evaluate_embeddings(train, digits.train_labels, val, digits.val_labels)


def validation_1nn(model: nn.Module, digits: Digits) -> float:
    """Validation 1-NN accuracy (cosine) with the training digits as gallery: `fit`'s metric."""
    train, val = _embed_splits(model, digits)
    return knn_accuracy(train, digits.train_labels, val, digits.val_labels)


def reference_table(
    digits: Digits, *, untrained_model: nn.Module, trained_model: nn.Module | None = None
) -> pd.DataFrame:
    """The same metrics for raw pixels, an untrained network and (optionally) a trained one.

    Taught in 05_embedding_space: how much did training buy over doing nothing at all?
    """
    import pandas as pd

    rows = {
        "raw pixels": evaluate_embeddings(
            digits.train_images, digits.train_labels, digits.val_images, digits.val_labels
        ),
        "untrained network": evaluate_model(untrained_model, digits),
    }
    if trained_model is not None:
        rows["trained network"] = evaluate_model(trained_model, digits)
    return pd.DataFrame.from_dict(rows, orient="index")


# --- how sure is a number? 95% intervals for the scores a conclusion rests on -------------------


def auc_interval(positive: np.ndarray, negative: np.ndarray) -> Estimate:
    """`same_digit_auc` with the 95% interval of Hanley and McNeil (1982), a normal approximation."""
    auc, n_pos, n_neg = same_digit_auc(positive, negative), len(positive), len(negative)
    q1, q2 = auc / (2 - auc), 2 * auc**2 / (1 + auc)
    variance = auc * (1 - auc) + (n_pos - 1) * (q1 - auc**2) + (n_neg - 1) * (q2 - auc**2)
    half = 1.96 * float(np.sqrt(max(variance, 0.0) / (n_pos * n_neg)))
    return Estimate(auc, max(auc - half, 0.0), min(auc + half, 1.0))


def silhouette_interval(
    embeddings: torch.Tensor | np.ndarray, labels: torch.Tensor | np.ndarray, *, seed: int = 0
) -> Estimate:
    """Silhouette (cosine) with a t-interval over the digits' own silhouette values.

    The values of different digits are not independent (each one's depends on the others), so the
    interval is approximate. Above 2,000 digits a seeded sample of 2,000 is scored.
    """
    from sklearn.metrics import silhouette_samples

    array, y = _flat(embeddings).numpy(), _numpy(labels).reshape(-1)
    if len(array) > 2000:
        rows = np.random.default_rng(seed).choice(len(array), 2000, replace=False)
        array, y = array[rows], y[rows]
    values = silhouette_samples(array, y, metric="cosine")  # (N,)
    interval = seed_interval(values)  # the same t-interval, over digits instead of seeds
    return Estimate(float(values.mean()), interval.low, interval.high)


Values = torch.Tensor | np.ndarray  # embeddings (N, dim), images or labels (N,)


def final_scores(
    embeddings: Values, labels: Values, *, gallery: Values, gallery_labels: Values
) -> dict[str, Estimate]:
    """The metrics of `evaluate_embeddings`, each with its 95% interval, on one held-out split.

    Taught in 05_embedding_space: the closing table, on the test digits, reported once. k-NN
    searches the `gallery` (the training embeddings); recall, AUC and silhouette stay within the
    held-out set.
    """
    gallery, gallery_y = _flat(gallery), _labels(gallery_labels)
    z, y = _flat(embeddings), _labels(labels)
    recall = _recall_hits(z, y, k=5)  # (N, 5)
    positive, negative = pair_similarities(z, y)
    return {
        **{
            f"{k}-NN": proportion_interval(_knn_predictions(gallery, gallery_y, z, k=k) == y)
            for k in (1, 5)
        },
        **{f"recall@{k}": proportion_interval(recall[:, :k].any(dim=1)) for k in (1, 5)},
        "same_digit_auc": auc_interval(positive, negative),
        "silhouette": silhouette_interval(z, y),
    }
