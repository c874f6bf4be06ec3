"""From 64 numbers per digit to 2 or 3 you can look at: UMAP and PCA, plus scores for a map.

A picture of an embedding space is a projection, and a projection can flatter or hide. Each map
here comes with `layout_scores`, which measures how well the digits stay apart in the picture
itself (the same distances the eye uses), so a map can be compared with the space it came from.

UMAP is imported only when `umap_2d` is first called: the import compiles numba code the very
first time. numba caches what it compiled, next to umap's own files or in the folder that the
environment variable NUMBA_CACHE_DIR names (the Makefile sets `.cache/numba`), so later imports
are quick; the first fit in each new process still compiles a few functions. scikit-learn and
SciPy are imported inside the functions that use them, so PCA needs only NumPy.

Taught in 05_embedding_space (and 06_any_to_any_search's map of three modalities).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

UMAP_METRICS = ("cosine", "euclidean")


def _matrix(values: torch.Tensor | np.ndarray, *, name: str = "embeddings") -> np.ndarray:
    """A float64 NumPy matrix (N, dim) from a tensor or array, with a readable error otherwise."""
    if isinstance(values, torch.Tensor):
        values = values.detach().cpu().numpy()
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 2 or len(array) == 0:
        raise ValueError(
            f"{name} must be a matrix shaped (N, dim) with at least one row, got shape "
            f"{array.shape}; embed images first with helpers.evaluation.embed."
        )
    if not np.isfinite(array).all():
        raise ValueError(f"{name} holds NaN or infinite values; check the model that made them.")
    return array


def _labels(values: torch.Tensor | np.ndarray, count: int) -> np.ndarray:
    if isinstance(values, torch.Tensor):
        values = values.detach().cpu().numpy()
    labels = np.asarray(values).reshape(-1)
    if len(labels) != count:
        raise ValueError(f"Give one label per point: {count} points, {len(labels)} labels.")
    return labels


def unit_length(embeddings: torch.Tensor | np.ndarray) -> np.ndarray:
    """Each row scaled to length 1 (N, dim): only its direction is left, which is what cosine reads."""
    array = _matrix(embeddings)
    norms = np.linalg.norm(array, axis=1, keepdims=True)  # (N, 1)
    return array / np.maximum(norms, 1e-12)


def umap_2d(
    embeddings: torch.Tensor | np.ndarray,
    *,
    metric: str = "cosine",
    seed: int | None = 0,
    n_neighbors: int = 15,
    min_dist: float = 0.1,
    n_epochs: int | None = 200,
) -> np.ndarray:
    """A 2-D UMAP map (N, 2) of the embeddings, with the distance `metric` UMAP should trust.

    Taught in 05_embedding_space. With a `seed` the map is the same on every run, and UMAP then
    runs its layout on one thread (we ask for that, so it does not warn); `seed=None` lets it use
    every core. `n_epochs` sets the layout's optimisation steps: 200 is plenty for a few thousand
    points (UMAP's own default is 500 below 10,000 points).
    """
    array = _matrix(embeddings).astype(np.float32)
    if metric not in UMAP_METRICS:
        raise ValueError(f"metric={metric!r}: this series compares {UMAP_METRICS}; pick one.")
    if not 2 <= n_neighbors < len(array):
        raise ValueError(
            f"n_neighbors={n_neighbors} needs 2 <= n_neighbors < the number of points "
            f"({len(array)}); embed more digits or lower n_neighbors."
        )
    if n_epochs is not None and n_epochs < 1:
        raise ValueError(
            f"n_epochs must be at least 1 (or None for UMAP's default), got {n_epochs}."
        )
    import umap  # slow the first time: numba compiles (see the module docstring)

    mapper = umap.UMAP(
        n_components=2,
        metric=metric,
        n_neighbors=n_neighbors,
        min_dist=min_dist,
        n_epochs=n_epochs,
        random_state=seed,
        n_jobs=1 if seed is not None else -1,
    )
    return np.asarray(mapper.fit_transform(array), dtype=np.float64)  # (N, 2)


@dataclass(frozen=True)
class PCAProjection:
    """Points projected on the top principal axes, and the share of variance each axis keeps."""

    points: np.ndarray  # (N, n_components)
    explained_variance_ratio: np.ndarray  # (n_components,)
    axes: np.ndarray  # (n_components, dim): the principal directions
    mean: np.ndarray  # (dim,): what was subtracted before projecting

    def project(
        self, embeddings: torch.Tensor | np.ndarray, *, normalize: bool = True
    ) -> np.ndarray:
        """Put other embeddings (N, dim) on the same axes, e.g. another epoch's (N, n_components)."""
        array = unit_length(embeddings) if normalize else _matrix(embeddings)
        if array.shape[1] != self.axes.shape[1]:
            raise ValueError(
                f"These embeddings have {array.shape[1]} dimensions; the axes were fitted on "
                f"{self.axes.shape[1]}."
            )
        return (array - self.mean) @ self.axes.T


def pca(
    embeddings: torch.Tensor | np.ndarray, *, n_components: int = 3, normalize: bool = True
) -> PCAProjection:
    """PCA of the embeddings (after scaling each to length 1 when `normalize`), by SVD.

    Taught in 05_embedding_space. The signs of the axes are fixed (the largest coordinate of each
    axis is positive), so the same data always gives the same picture.
    """
    array = unit_length(embeddings) if normalize else _matrix(embeddings)
    if not 1 <= n_components <= min(array.shape):
        raise ValueError(
            f"n_components={n_components} must lie between 1 and min(N, dim) = {min(array.shape)}."
        )
    mean = array.mean(axis=0)  # (dim,)
    centred = array - mean  # (N, dim)
    _, singular, vt = np.linalg.svd(centred, full_matrices=False)  # vt: (min(N, dim), dim)
    axes = vt[:n_components]  # (n_components, dim)
    signs = np.sign(axes[np.arange(n_components), np.abs(axes).argmax(axis=1)])
    axes = axes * np.where(signs == 0, 1.0, signs)[:, None]
    variance = singular**2
    total = variance.sum()
    ratio = variance[:n_components] / total if total > 0 else np.zeros(n_components)
    return PCAProjection(
        points=centred @ axes.T, explained_variance_ratio=ratio, axes=axes, mean=mean
    )


def pca_3d(embeddings: torch.Tensor | np.ndarray, *, normalize: bool = True) -> PCAProjection:
    """PCA onto three axes, for an interactive 3-D view (taught in 05_embedding_space)."""
    return pca(embeddings, n_components=3, normalize=normalize)


def aligned_pca_frames(
    frames: list[torch.Tensor | np.ndarray],
    *,
    n_components: int = 2,
    normalize: bool = True,
    reference: int = -1,
) -> list[np.ndarray]:
    """One PCA map per frame (e.g. per training epoch), each turned to match the reference frame.

    Taught in 05_embedding_space (the embedding space over training). Every frame must hold the
    same digits in the same order. Each frame gets its own PCA, so an early epoch is not judged on
    the final epoch's axes; then an orthogonal Procrustes fit rotates (or mirrors) it onto the
    reference frame, and each frame is scaled to the same spread, so that an animation shows the
    clusters forming rather than the axes spinning.
    """
    if not frames:
        raise ValueError("aligned_pca_frames needs at least one frame of embeddings.")
    maps = [pca(frame, n_components=n_components, normalize=normalize).points for frame in frames]
    sizes = {len(points) for points in maps}
    if len(sizes) != 1:
        raise ValueError(
            f"Every frame must hold the same digits; got frames of sizes {sorted(sizes)}."
        )
    if not -len(maps) <= reference < len(maps):
        raise ValueError(f"reference={reference} is not a frame index (there are {len(maps)}).")
    from scipy.linalg import orthogonal_procrustes

    def spread(points: np.ndarray) -> np.ndarray:
        size = np.sqrt((points**2).sum(axis=1).mean())  # root mean square distance to the centre
        return points / size if size > 0 else points

    target = spread(maps[reference])
    aligned = []
    for points in maps:
        points = spread(points)
        rotation, _ = orthogonal_procrustes(points, target)  # (k, k), orthogonal
        aligned.append(points @ rotation)  # (N, k)
    return aligned


def layout_scores(
    points: torch.Tensor | np.ndarray,
    labels: torch.Tensor | np.ndarray,
    *,
    k: int = 5,
    metric: str = "euclidean",
) -> dict[str, float]:
    """How well the digits stay apart in a set of points: leave-one-out k-NN accuracy, silhouette.

    Taught in 05_embedding_space. For a 2-D or 3-D map keep `metric="euclidean"`: it is the
    distance the eye reads off the picture. k-NN: each point is classified by the majority digit
    of its k nearest other points. Silhouette: near 1 for tight, well separated digit clusters,
    near 0 for mixed ones.
    """
    array = _matrix(points, name="points")
    y = _labels(labels, len(array))
    if not 1 <= k < len(array):
        raise ValueError(f"k={k} needs 1 <= k < the number of points ({len(array)}).")
    if len(np.unique(y)) < 2:
        raise ValueError("layout_scores needs points of at least two different digits.")
    from sklearn.metrics import silhouette_score
    from sklearn.neighbors import KNeighborsClassifier

    classifier = KNeighborsClassifier(n_neighbors=k + 1, metric=metric, algorithm="brute")
    classifier.fit(array, y)
    neighbours = classifier.kneighbors(array, return_distance=False)  # (N, k + 1)
    # Drop each point itself; when duplicates tie, drop the row's own index wherever it landed.
    others = np.array(
        [[j for j in row if j != i][:k] for i, row in enumerate(neighbours)]
    )  # (N, k)
    classes, codes = np.unique(y, return_inverse=True)  # digits as 0..C-1
    votes = codes[others]  # (N, k)
    counts = np.stack([(votes == c).sum(axis=1) for c in range(len(classes))], axis=1)  # (N, C)
    predicted = counts.argmax(axis=1)  # a tie goes to the smaller digit
    return {
        "knn": float((predicted == codes).mean()),
        "silhouette": float(silhouette_score(array, y, metric=metric)),
    }


def _nearest_on(points: torch.Tensor, k: int) -> torch.Tensor:
    """Each point's k nearest other points by Euclidean distance (N, k), nearest first."""
    distances = torch.cdist(points, points)  # (N, N)
    distances.fill_diagonal_(float("inf"))  # a point is not its own neighbour
    return distances.topk(k, dim=1, largest=False).indices  # (N, k)


def kept_neighbours(
    embeddings: torch.Tensor | np.ndarray,
    points: torch.Tensor | np.ndarray,
    *,
    k: int = 10,
    metric: str = "cosine",
) -> float:
    """Share of each item's k nearest others in the space that are among its k nearest on the map.

    Taught in 05_embedding_space. 1.0: the map keeps every neighbourhood; a random map keeps about
    k / N. Neighbours in the space are found with `metric` ("cosine", what the series' losses and
    searches use, through `evaluation.cosine_top_k`; or "euclidean"), on the map by Euclidean
    distance, the distance the eye reads.
    """
    space = torch.as_tensor(_matrix(embeddings))  # (N, dim)
    flat = torch.as_tensor(_matrix(points, name="points"))  # (N, 2)
    if len(space) != len(flat):
        raise ValueError(f"{len(space)} embeddings but {len(flat)} map points; pass one each.")
    if not 1 <= k < len(space):
        raise ValueError(f"k={k} needs 1 <= k < the number of points ({len(space)}).")
    if metric not in UMAP_METRICS:
        raise ValueError(f"metric={metric!r}: use one of {UMAP_METRICS}.")
    if metric == "cosine":
        from helpers.evaluation import cosine_top_k

        _, in_space = cosine_top_k(space, space, k=k, exclude_self=True)  # (N, k)
    else:
        in_space = _nearest_on(space, k)  # (N, k)
    on_map = _nearest_on(flat, k)  # (N, k)
    kept = (in_space[:, :, None] == on_map[:, None, :]).any(dim=2)  # (N, k)
    return float(kept.double().mean())


@dataclass(frozen=True)
class SeededMaps:
    """UMAP maps of one space drawn with several seeds, and the scores of each map."""

    metric: str
    seeds: tuple[int, ...]
    maps: list[np.ndarray]  # one (N, 2) map per seed
    scores: dict[str, list[float]]  # score name -> one value per seed, in the order of `seeds`


def umap_over_seeds(
    embeddings: torch.Tensor | np.ndarray,
    labels: torch.Tensor | np.ndarray,
    *,
    metric: str = "cosine",
    seeds: tuple[int, ...] = (0, 1, 2),
    k: int = 5,
    neighbours: int = 10,
    **umap_options: object,
) -> SeededMaps:
    """One UMAP map per seed, each scored on the map: k-NN, silhouette and kept neighbours.

    Taught in 05_embedding_space. One map is one draw: a difference between two kinds of map
    counts only when it stands out of their spread over seeds. The scores are `layout_scores`
    (k-NN and silhouette read off the map) and `kept_neighbours` (against the space's cosine
    neighbours, whichever distance drew the map). `umap_options` go to `umap_2d`.
    """
    if len(seeds) < 1 or len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds={seeds!r}: give one or more different seeds.")
    maps, scores = [], {f"{k}-NN": [], "silhouette": [], "kept neighbours": []}
    for seed in seeds:
        points = umap_2d(embeddings, metric=metric, seed=seed, **umap_options)  # (N, 2)
        layout = layout_scores(points, labels, k=k)
        scores[f"{k}-NN"].append(layout["knn"])
        scores["silhouette"].append(layout["silhouette"])
        scores["kept neighbours"].append(kept_neighbours(embeddings, points, k=neighbours))
        maps.append(points)
    return SeededMaps(metric=metric, seeds=tuple(seeds), maps=maps, scores=scores)


def round_points(points: np.ndarray, *, decimals: int = 3) -> np.ndarray:
    """Coordinates rounded for a plotly figure: a small notebook, the same picture to the eye."""
    return np.round(np.asarray(points, dtype=np.float64), decimals)
