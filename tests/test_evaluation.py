"""Embeddings made the right way, and metrics that agree with hand-made cases."""

import numpy as np
import pytest
import torch

from helpers import evaluation
from helpers.data import Digits, to_network_input
from helpers.evaluation import (
    cosine_top_k,
    embed,
    evaluate_embeddings,
    knn_accuracy,
    pair_similarities,
    recall_at_k,
    reference_table,
    same_digit_auc,
    silhouette,
    validation_1nn,
)
from helpers.model import EmbeddingNet


def tiny_digits(per_class: int = 12) -> Digits:
    """Ten 'digits' that are bright blocks in different places, plus a little noise."""
    generator = torch.Generator().manual_seed(0)

    def make(count: int) -> tuple[torch.Tensor, torch.Tensor]:
        labels = torch.arange(10).repeat(count)
        images = torch.randint(0, 40, (len(labels), 28, 28), generator=generator)
        for digit in range(10):
            row, col = 2 + 2 * digit, 3 + (digit % 3) * 7
            images[labels == digit, row : row + 6, col : col + 8] = 255
        return images.to(torch.uint8), labels

    train_images, train_labels = make(per_class)
    val_images, val_labels = make(4)
    return Digits(train_images, train_labels, val_images, val_labels, "tiny", "blocks")


def test_embed_matches_eval_mode_forward_and_restores_train_mode():
    torch.manual_seed(0)
    net = EmbeddingNet(embedding_dim=8)
    images = tiny_digits().train_images[:50]
    out = embed(net, images, batch_size=7)
    assert out.shape == (50, 8) and not out.requires_grad
    assert net.training  # the caller's mode comes back
    with torch.no_grad():
        expected = net.eval()(to_network_input(images))
    assert torch.allclose(out, expected, atol=1e-5)


def test_embed_leaves_batchnorm_statistics_alone_unlike_a_train_mode_loop():
    torch.manual_seed(0)
    net = EmbeddingNet(embedding_dim=8)
    images = tiny_digits().train_images
    before = {k: v.clone() for k, v in net.state_dict().items()}
    embed(net, images)
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())
    # The source's loop: train mode under no_grad still updates BatchNorm's running statistics.
    with torch.no_grad():
        net.train()(to_network_input(images))
    assert not torch.equal(before["conv1.1.running_mean"], net.state_dict()["conv1.1.running_mean"])


def test_knn_accuracy_on_a_hand_made_case():
    gallery = torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]])
    gallery_labels = torch.tensor([0, 1, 2])
    queries = torch.tensor([[2.0, 0.1], [0.1, 3.0], [0.0, -1.0]])  # cosine ignores length
    assert knn_accuracy(gallery, gallery_labels, queries, torch.tensor([0, 1, 1])) == pytest.approx(
        2 / 3
    )


def test_recall_at_k_never_counts_an_item_as_its_own_neighbour():
    embeddings = torch.tensor([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9], [-1.0, 0.0]])
    labels = torch.tensor([0, 0, 1, 1, 2])
    recall = recall_at_k(embeddings, labels, ks=(1, 4))
    assert recall == {"recall@1": pytest.approx(0.8), "recall@4": pytest.approx(0.8)}


def test_similarities_auc_and_silhouette_on_separated_clusters():
    labels = torch.arange(4).repeat(25)
    centres = torch.eye(4) * 5
    embeddings = centres[labels] + 0.1 * torch.randn(
        100, 4, generator=torch.Generator().manual_seed(0)
    )
    positive, negative = pair_similarities(embeddings, labels, num_pairs=400)
    assert len(positive) == len(negative) == 200
    assert positive.min() > 0.9 and abs(negative).max() < 0.2
    assert same_digit_auc(positive, negative) == 1.0
    assert same_digit_auc(negative, positive) == 0.0
    assert silhouette(embeddings, labels) > 0.9
    mixed = torch.randn(100, 4, generator=torch.Generator().manual_seed(1))
    assert abs(silhouette(mixed, labels)) < 0.1


def test_pixels_and_networks_go_through_the_same_metrics():
    digits = tiny_digits()
    pixels = evaluate_embeddings(
        digits.train_images, digits.train_labels, digits.val_images, digits.val_labels
    )
    assert pixels["val_1nn"] == 1.0  # the blocks are easy
    assert set(pixels) == {
        "val_1nn",
        "val_5nn",
        "recall@1",
        "recall@5",
        "same_digit_auc",
        "silhouette",
    }
    torch.manual_seed(0)
    table = reference_table(digits, untrained_model=EmbeddingNet())
    assert list(table.index) == ["raw pixels", "untrained network"]
    assert table.loc["raw pixels", "val_1nn"] == 1.0
    assert 0.0 <= validation_1nn(EmbeddingNet(), digits) <= 1.0
    assert np.isfinite(table.to_numpy()).all()


def test_embed_refuses_zero_to_one_floats_and_takes_real_network_input():
    torch.manual_seed(0)
    net = EmbeddingNet(embedding_dim=8)
    images = tiny_digits().train_images[:20]
    x = to_network_input(images)  # (20, 1, 28, 28) in [-1, 1], background -1
    assert torch.allclose(embed(net, x), embed(net, images), atol=1e-6)
    assert torch.allclose(embed(net, x[:, 0]), embed(net, images), atol=1e-6)  # (N, 28, 28)
    with pytest.raises(ValueError, match=r"no negative value.*ToTensor\(\)"):
        embed(net, images.float() / 255)  # what ToTensor() gives
    with pytest.raises(ValueError, match="values up to 255"):
        embed(net, images.float())


def test_embed_takes_flat_rows_and_names_the_callers_own_shape():
    torch.manual_seed(0)
    net = EmbeddingNet(embedding_dim=8)
    images = tiny_digits().train_images[:5]
    flat = images.reshape(5, 784).numpy()  # rows of a CSV
    assert torch.allclose(embed(net, flat), embed(net, images), atol=1e-6)
    assert embed(net, images[0]).shape == (1, 8)  # one (28, 28) digit is a batch of one
    with pytest.raises(ValueError, match=r"got shape \(5, 783\)"):
        embed(net, flat[:, :783])
    with pytest.raises(ValueError, match=r"got shape \(5, 1, 784\)"):
        embed(net, flat[:, None])


@pytest.mark.parametrize("k", [1, 5])
def test_knn_accuracy_agrees_with_scikit_learn(k):
    from sklearn.neighbors import KNeighborsClassifier

    generator = torch.Generator().manual_seed(0)
    gallery, queries = (
        torch.randn(300, 8, generator=generator),
        torch.randn(200, 8, generator=generator),
    )
    gallery_labels = torch.randint(0, 10, (300,), generator=generator)
    query_labels = torch.randint(0, 10, (200,), generator=generator)
    classifier = KNeighborsClassifier(n_neighbors=k, metric="cosine", algorithm="brute")
    expected = classifier.fit(gallery.numpy(), gallery_labels.numpy()).score(
        queries.numpy(), query_labels.numpy()
    )
    assert knn_accuracy(gallery, gallery_labels, queries, query_labels, k=k) == pytest.approx(
        expected
    )


def test_a_tied_vote_goes_to_the_smallest_digit():
    gallery = torch.tensor([[1.0, 0.0], [0.9, 0.1], [0.8, 0.2], [0.7, 0.3]])
    query = torch.tensor([[1.0, 0.05]])
    labels = torch.tensor([7, 3, 3, 7])  # two votes each
    assert knn_accuracy(gallery, labels, query, torch.tensor([3]), k=4) == 1.0


def test_search_in_chunks_gives_the_same_neighbours(monkeypatch):
    generator = torch.Generator().manual_seed(0)
    points = torch.randn(50, 4, generator=generator)
    whole = cosine_top_k(points, points, k=3, exclude_self=True)
    monkeypatch.setattr(evaluation, "QUERY_CHUNK", 7)
    chunked = cosine_top_k(points, points, k=3, exclude_self=True)
    assert torch.equal(whole[1], chunked[1]) and torch.allclose(whole[0], chunked[0], atol=1e-6)
    assert not (chunked[1] == torch.arange(50)[:, None]).any()  # never itself


def test_accuracy_interval_is_wilsons_and_refuses_nonsense():
    low, high = evaluation.accuracy_interval(0.95, 1000)
    assert (low, high) == pytest.approx((0.9347, 0.9619), abs=1e-4)  # Wilson, 950 of 1,000
    low_small, high_small = evaluation.accuracy_interval(0.95, 500)
    assert high_small - low_small > high - low  # fewer digits, wider interval
    assert evaluation.accuracy_interval(1.0, 10)[1] == 1.0
    with pytest.raises(ValueError, match="count"):
        evaluation.accuracy_interval(0.9, 0)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        evaluation.accuracy_interval(1.2, 10)


def test_mean_interval_uses_students_t_over_runs():
    assert evaluation.mean_interval(0.9) == (0.9, 0.0)
    mean, half = evaluation.mean_interval([0.97, 0.98, 0.99])
    assert mean == pytest.approx(0.98) and half == pytest.approx(4.303 * 0.01 / 3**0.5, abs=1e-4)
    with pytest.raises(ValueError, match="finite"):
        evaluation.mean_interval([0.9, float("nan")])
