"""Embeddings made the right way, and metrics that agree with hand-made cases."""

import numpy as np
import pytest
import torch

from helpers.data import Digits, to_network_input
from helpers.evaluation import (
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
