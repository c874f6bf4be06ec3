"""The million-vector machinery on a few thousand vectors: views, exact truth, LanceDB indexes.

Every check here is deterministic: an index that visits every cell of full vectors (IVF_FLAT)
must return the exact top k, so recall 1.0 is asserted exactly; approximate indexes are only
checked for what they return (ids in range, sizes), never for a recall that could vary by CPU.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from helpers import ann, evaluation, model


@pytest.fixture(scope="module")
def digits_and_net():
    torch.manual_seed(0)
    images = torch.randint(0, 256, (12, 28, 28), dtype=torch.uint8)
    return images, model.EmbeddingNet(embedding_dim=8).eval()


def test_views_repeat_with_the_seed_and_change_with_another(digits_and_net):
    images, net = digits_and_net
    first = ann.embed_views(net, images, count=30, seed=3, batch_size=7)
    again = ann.embed_views(net, images, count=30, seed=3, batch_size=7)
    other = ann.embed_views(net, images, count=30, seed=4, batch_size=7)
    assert first.shape == (30, 8) and first.dtype == torch.float32
    assert torch.equal(first, again) and not torch.equal(first, other)
    assert not net.training  # the model's mode is left as it was


def test_dropout_draws_vary_only_the_last_layer(digits_and_net):
    images, net = digits_and_net
    draws = 6
    plain = ann.embed_views(net, images, count=12, seed=1, batch_size=12)  # (12, 8)
    noisy = ann.embed_views(
        net, images, count=12 * draws, seed=1, dropout_draws=draws, batch_size=12
    )
    noisy = noisy.reshape(12, draws, 8)
    assert all(len(torch.unique(view, dim=0)) == draws for view in noisy)  # a fresh mask each
    no_dropout = model.EmbeddingNet(embedding_dim=8, dropout=0.0).eval()
    no_dropout.load_state_dict(net.state_dict())
    same = ann.embed_views(
        no_dropout, images, count=12 * draws, seed=1, dropout_draws=draws, batch_size=12
    )
    # Without dropout every draw is the plain embedding of the same view (bf16 rounding aside).
    torch.testing.assert_close(
        same.reshape(12, draws, 8), plain[:, None].expand(12, draws, 8), rtol=2e-2, atol=2e-2
    )


def test_embed_views_refuses_what_it_cannot_use(digits_and_net):
    images, net = digits_and_net
    with pytest.raises(ValueError, match="uint8 digits"):
        ann.embed_views(net, images.float(), count=4)
    with pytest.raises(ValueError, match="at least 1"):
        ann.embed_views(net, images, count=0)
    with pytest.raises(ValueError, match="does not end in Dropout then Linear"):
        ann.embed_views(
            nn.Sequential(nn.Flatten(), nn.Linear(784, 4)), images, count=4, dropout_draws=2
        )


def test_exact_neighbours_in_chunks_equal_one_search():
    torch.manual_seed(0)
    gallery, queries = torch.randn(500, 16), torch.randn(23, 16)
    whole = evaluation.cosine_top_k(queries, gallery, k=10)[1]
    assert torch.equal(ann.exact_neighbours(queries, gallery, k=10, chunk=4), whole)


def test_recall_counts_the_true_neighbours_found():
    assert ann.recall_at_k(
        np.array([[1, 2, 3], [4, 5, 6]]), np.array([[3, 2, 9], [4, 5, 6]])
    ) == pytest.approx((2 / 3 + 1) / 2)
    with pytest.raises(ValueError, match="must both be"):
        ann.recall_at_k(np.zeros((2, 3)), np.zeros((2, 4)))


@pytest.fixture(scope="module")
def table(tmp_path_factory):
    torch.manual_seed(0)
    vectors = torch.randn(3000, 16)  # (3000, 16)
    labels = torch.arange(3000) % 10
    folder = tmp_path_factory.mktemp("ann")
    return ann.write_table(folder, vectors, labels=labels), vectors, folder


def test_exact_search_in_lancedb_is_the_torch_truth(table):
    lance, vectors, folder = table
    queries = torch.randn(20, 16)
    truth = ann.exact_neighbours(queries, vectors, k=10)
    found = ann.search(lance, queries, k=10, exact=True)
    assert ann.recall_at_k(found.ids, truth.numpy()) == 1.0
    assert found.seconds.shape == (20,) and 0 < found.median_ms <= found.p95_ms
    assert ann.folder_bytes(folder) > vectors.numel() * 4  # the float32 vectors and more


def test_an_index_that_visits_every_cell_of_full_vectors_is_exact(table):
    lance, vectors, _ = table
    queries = torch.randn(20, 16)
    seconds = ann.build_index(lance, ann.IndexSpec("IVF_FLAT", partitions=8))
    assert seconds > 0 and ann.index_bytes(lance) > 0
    found = ann.search(lance, queries, k=10, nprobes=8)
    assert ann.recall_at_k(found.ids, ann.exact_neighbours(queries, vectors, k=10).numpy()) == 1.0


@pytest.mark.parametrize(
    "spec",
    [
        ann.IndexSpec("IVF_PQ", partitions=4, sub_vectors=4),
        ann.IndexSpec("IVF_HNSW_SQ", partitions=1, m=8),
    ],
    ids=lambda spec: spec.kind,
)
def test_approximate_indexes_build_and_answer(table, spec):
    lance, vectors, _ = table
    ann.build_index(lance, spec)
    assert ann.index_bytes(lance) > 0
    extra = {"refine_factor": 2, "nprobes": 2} if spec.kind == "IVF_PQ" else {"ef": 20}
    found = ann.search(lance, torch.randn(5, 16), k=10, **extra)
    assert found.ids.shape == (5, 10) and found.ids.min() >= 0 and found.ids.max() < len(vectors)
    assert all(len(set(row)) == 10 for row in found.ids.tolist())


def test_bad_index_and_search_arguments_are_refused(table):
    lance, _, _ = table
    with pytest.raises(ValueError, match="unknown"):
        ann.IndexSpec("LSH")
    with pytest.raises(ValueError, match="no index parameters"):
        ann.search(lance, torch.randn(1, 16), exact=True, nprobes=4)
    with pytest.raises(ValueError, match=r"\(N, dim\)"):
        ann.write_table("unused", torch.randn(5))
