"""05's measuring tools: intervals for the final numbers, kept neighbours, maps over seeds."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import stats
from sklearn.metrics import silhouette_score

from helpers import evaluation, projection


def blobs(per_class: int = 30, classes: int = 4, dim: int = 8, spread: float = 0.3, seed: int = 0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(classes, dim))
    labels = np.repeat(np.arange(classes), per_class)
    points = centres[labels] + spread * rng.normal(size=(len(labels), dim))
    return torch.as_tensor(points, dtype=torch.float32), torch.as_tensor(labels)


# --- intervals ----------------------------------------------------------------------------------


def test_seed_interval_is_the_student_t_interval_of_the_mean():
    values = [0.82, 0.87, 0.86]
    estimate = evaluation.seed_interval(values)
    low, high = stats.t.interval(0.95, 2, loc=np.mean(values), scale=stats.sem(values))
    assert estimate.value == pytest.approx(np.mean(values))
    assert (estimate.low, estimate.high) == pytest.approx((low, high))
    assert str(estimate) == f"{np.mean(values):.3f} [{low:.3f}, {high:.3f}]"
    with pytest.raises(ValueError, match="at least 2 seeds"):
        evaluation.seed_interval([0.9])


def test_proportion_interval_is_wilsons_and_holds_the_share():
    hits = torch.tensor([True] * 95 + [False] * 5)
    estimate = evaluation.proportion_interval(hits)
    assert estimate.value == pytest.approx(0.95)
    # Wilson's interval for 95 of 100, from its formula
    z = stats.norm.ppf(0.975)
    centre = (0.95 + z**2 / 200) / (1 + z**2 / 100)
    half = z / (1 + z**2 / 100) * np.sqrt(0.95 * 0.05 / 100 + z**2 / 40000)
    assert (estimate.low, estimate.high) == pytest.approx((centre - half, centre + half), abs=1e-6)
    assert evaluation.proportion_interval(np.ones(10, dtype=bool)).high == pytest.approx(1.0)
    with pytest.raises(ValueError, match="at least one"):
        evaluation.proportion_interval(torch.tensor([], dtype=torch.bool))


def test_auc_interval_holds_the_auc_and_narrows_with_more_pairs():
    rng = np.random.default_rng(0)
    small = evaluation.auc_interval(rng.normal(1, 1, 50), rng.normal(0, 1, 50))
    large = evaluation.auc_interval(rng.normal(1, 1, 5000), rng.normal(0, 1, 5000))
    for estimate in (small, large):
        assert estimate.low < estimate.value < estimate.high
    assert large.high - large.low < (small.high - small.low) / 5
    assert large.low < stats.norm.cdf(1 / np.sqrt(2)) < large.high  # the true AUC, 0.760


def test_silhouette_interval_is_centred_on_sklearns_silhouette():
    points, labels = blobs()
    estimate = evaluation.silhouette_interval(points, labels)
    expected = silhouette_score(points.numpy(), labels.numpy(), metric="cosine")
    assert estimate.value == pytest.approx(expected, abs=1e-6)
    assert estimate.low < estimate.value < estimate.high


def test_final_scores_agree_with_the_metrics_of_validation():
    train, train_labels = blobs(seed=0)
    test, test_labels = blobs(per_class=20, seed=1)
    scores = evaluation.final_scores(test, test_labels, gallery=train, gallery_labels=train_labels)
    assert list(scores) == ["1-NN", "5-NN", "recall@1", "recall@5", "same_digit_auc", "silhouette"]
    for k in (1, 5):
        expected = evaluation.knn_accuracy(train, train_labels, test, test_labels, k=k)
        assert scores[f"{k}-NN"].value == pytest.approx(expected)
    recall = evaluation.recall_at_k(test, test_labels, ks=(1, 5))
    assert scores["recall@1"].value == pytest.approx(recall["recall@1"])
    assert scores["recall@5"].value == pytest.approx(recall["recall@5"])
    positive, negative = evaluation.pair_similarities(test, test_labels)
    assert scores["same_digit_auc"].value == pytest.approx(
        evaluation.same_digit_auc(positive, negative)
    )
    assert all(e.low <= e.value <= e.high for e in scores.values())


# --- kept neighbours and maps over seeds --------------------------------------------------------


def test_kept_neighbours_is_one_for_the_space_itself_and_low_for_a_shuffled_map():
    points, _ = blobs(dim=2, spread=1.0)
    assert projection.kept_neighbours(points, points, k=5, metric="euclidean") == 1.0
    shuffled = points[torch.randperm(len(points), generator=torch.Generator().manual_seed(0))]
    assert projection.kept_neighbours(points, shuffled, k=5, metric="euclidean") < 0.2


def test_kept_neighbours_reads_cosine_neighbours_in_the_space():
    directions, _ = blobs(dim=2, spread=1.0)
    lengths = torch.linspace(0.1, 10, len(directions))[:, None]
    # On the unit circle Euclidean neighbours are cosine neighbours; lengths change only Euclid.
    on_circle = directions / directions.norm(dim=1, keepdim=True)
    assert projection.kept_neighbours(directions * lengths, on_circle, k=5) == 1.0
    assert projection.kept_neighbours(directions * lengths, on_circle, k=5, metric="euclidean") < 1


def test_kept_neighbours_checks_its_arguments():
    points, _ = blobs()
    with pytest.raises(ValueError, match="map points"):
        projection.kept_neighbours(points, points[:10, :2])
    with pytest.raises(ValueError, match="k=0"):
        projection.kept_neighbours(points, points[:, :2], k=0)
    with pytest.raises(ValueError, match="metric"):
        projection.kept_neighbours(points, points[:, :2], metric="manhattan")


def test_umap_over_seeds_draws_one_scored_map_per_seed():
    points, labels = blobs(per_class=25, dim=16, spread=0.2)
    seeded = projection.umap_over_seeds(points, labels, seeds=(0, 1), n_epochs=30, n_neighbors=10)
    assert seeded.metric == "cosine" and seeded.seeds == (0, 1) and len(seeded.maps) == 2
    assert set(seeded.scores) == {"5-NN", "silhouette", "kept neighbours"}
    assert all(len(values) == 2 for values in seeded.scores.values())
    assert not np.array_equal(seeded.maps[0], seeded.maps[1])
    assert min(seeded.scores["5-NN"]) > 0.95  # well separated blobs stay apart on every map
    with pytest.raises(ValueError, match="different seeds"):
        projection.umap_over_seeds(points, labels, seeds=(1, 1))
