"""Projections of an embedding: PCA against sklearn, aligned frames, map scores, and UMAP."""

import numpy as np
import pytest
import torch
from sklearn.decomposition import PCA

from helpers import projection


def blobs(per_class: int = 30, classes: int = 4, dim: int = 8, spread: float = 0.05, seed: int = 0):
    """Tight clusters around random directions: an embedding whose digits are easy to tell apart."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(classes, dim))
    labels = np.repeat(np.arange(classes), per_class)
    points = centres[labels] + spread * rng.normal(size=(len(labels), dim))
    return points, labels


def test_unit_length_keeps_directions_only():
    points = np.array([[3.0, 4.0], [0.0, -2.0]])
    assert np.allclose(projection.unit_length(points), [[0.6, 0.8], [0.0, -1.0]])
    assert np.allclose(np.linalg.norm(projection.unit_length(torch.randn(5, 7)), axis=1), 1.0)


def test_pca_matches_sklearn_up_to_the_signs_of_the_axes():
    points, _ = blobs()
    ours = projection.pca(points, n_components=3, normalize=False)
    theirs = PCA(n_components=3).fit(points)
    assert np.allclose(ours.explained_variance_ratio, theirs.explained_variance_ratio_)
    reference = theirs.transform(points)  # (N, 3)
    assert np.allclose(np.abs(ours.points), np.abs(reference), atol=1e-8)
    assert ours.points.shape == (len(points), 3)
    # The axes' signs are fixed, so the picture never flips between runs.
    largest = np.abs(ours.axes).argmax(axis=1)
    assert (ours.axes[np.arange(3), largest] > 0).all()


def test_pca_of_normalized_embeddings_ignores_their_lengths():
    points, _ = blobs()
    lengths = np.random.default_rng(1).uniform(0.5, 5.0, size=(len(points), 1))
    plain = projection.pca_3d(points)
    stretched = projection.pca_3d(points * lengths)
    assert np.allclose(plain.points, stretched.points)
    assert np.allclose(plain.project(points * lengths), plain.points)


def test_pca_rejects_bad_input_with_a_readable_message():
    with pytest.raises(ValueError, match=r"shaped \(N, dim\)"):
        projection.pca(np.zeros(5))
    with pytest.raises(ValueError, match="NaN"):
        projection.pca(np.array([[0.0, np.nan], [1.0, 2.0]]))
    with pytest.raises(ValueError, match="n_components"):
        projection.pca(np.ones((4, 2)), n_components=3)
    fitted = projection.pca(np.random.default_rng(0).normal(size=(10, 4)), n_components=2)
    with pytest.raises(ValueError, match="4"):
        fitted.project(np.ones((3, 5)))


def test_aligned_frames_undo_a_rotation_a_flip_and_a_scale():
    points, _ = blobs(dim=5)
    rng = np.random.default_rng(2)
    rotation, _ = np.linalg.qr(rng.normal(size=(5, 5)))  # a random orthogonal matrix (dim, dim)
    frames = [3.0 * points @ rotation, points * np.array([-1, 1, 1, 1, 1])]
    first, last = projection.aligned_pca_frames(frames, normalize=False)
    assert np.allclose(first, last, atol=1e-8)
    assert first.shape == (len(points), 2)
    assert np.sqrt((last**2).sum(axis=1).mean()) == pytest.approx(1.0)


def test_aligned_frames_need_the_same_points_in_every_frame():
    with pytest.raises(ValueError, match="same digits"):
        projection.aligned_pca_frames([np.ones((5, 3)) + np.eye(5, 3), np.eye(4, 3)])
    with pytest.raises(ValueError, match="at least one"):
        projection.aligned_pca_frames([])


def test_layout_scores_are_perfect_for_separate_clusters_and_low_for_mixed_ones():
    points, labels = blobs(dim=2)
    scores = projection.layout_scores(points, labels, k=5)
    assert scores["knn"] == 1.0
    assert scores["silhouette"] > 0.8
    shuffled = np.random.default_rng(0).permutation(labels)
    mixed = projection.layout_scores(points, shuffled, k=5)
    assert mixed["knn"] < 0.6
    assert mixed["silhouette"] < 0.1


def test_layout_scores_never_count_a_point_as_its_own_neighbour():
    # Each point's nearest other point has the other label, so 1-NN gets every point wrong;
    # counting a point as its own neighbour would score 1.0 instead.
    points = np.array([[0.0, 0.0], [1.0, 0.0], [10.0, 0.0], [11.0, 0.0]])
    labels = np.array([0, 1, 0, 1])
    assert projection.layout_scores(points, labels, k=1)["knn"] == 0.0
    # Duplicated points: the copy is a neighbour, the point itself is not.
    twins = np.array([[0.0, 0.0], [0.0, 0.0], [5.0, 5.0], [5.0, 5.0]])
    assert projection.layout_scores(twins, [3, 3, 7, 7], k=1)["knn"] == 1.0


def test_layout_scores_check_their_arguments():
    with pytest.raises(ValueError, match="one label per point"):
        projection.layout_scores(np.zeros((4, 2)), [0, 1, 0])
    with pytest.raises(ValueError, match="two different"):
        projection.layout_scores(np.random.default_rng(0).normal(size=(4, 2)), [1, 1, 1, 1], k=1)
    with pytest.raises(ValueError, match="k=4"):
        projection.layout_scores(np.random.default_rng(0).normal(size=(4, 2)), [0, 1, 0, 1], k=4)


def test_round_points_keeps_three_decimals():
    assert projection.round_points(np.array([[0.123456, -1.98765]])).tolist() == [[0.123, -1.988]]


def test_umap_arguments_are_checked_before_umap_is_imported():
    points, _ = blobs()
    with pytest.raises(ValueError, match="metric"):
        projection.umap_2d(points, metric="manhattan")
    with pytest.raises(ValueError, match="n_neighbors"):
        projection.umap_2d(points[:10], n_neighbors=10)
    with pytest.raises(ValueError, match="n_epochs"):
        projection.umap_2d(points, n_epochs=0)


def test_umap_with_a_seed_gives_the_same_map_and_keeps_clusters_apart():
    points, labels = blobs(per_class=25, dim=16, spread=0.2)
    first = projection.umap_2d(points, metric="cosine", seed=0, n_epochs=50)
    second = projection.umap_2d(points, metric="cosine", seed=0, n_epochs=50)
    assert first.shape == (len(points), 2) and np.isfinite(first).all()
    assert np.array_equal(first, second)
    assert projection.layout_scores(first, labels)["knn"] > 0.95
    euclidean = projection.umap_2d(torch.as_tensor(points), metric="euclidean", n_epochs=50)
    assert projection.layout_scores(euclidean, labels)["knn"] > 0.95
