"""Binding metrics: cross-modal recall against a naive loop, chance, the modality gap, centring."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from helpers import binding


def seeded(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def naive_recall(queries, query_labels, targets, target_labels, k, same_set):
    hits = 0
    for i, query in enumerate(queries):
        scores = [
            (F.cosine_similarity(query, target, dim=0).item(), j)
            for j, target in enumerate(targets)
            if not (same_set and j == i)
        ]
        best = [j for _, j in sorted(scores, key=lambda pair: (-pair[0], pair[1]))[:k]]
        hits += int(any(target_labels[j] == query_labels[i] for j in best))
    return hits / len(queries)


def test_recall_matrices_match_a_naive_loop():
    space = {"image": torch.randn(30, 6, generator=seeded(1)), "text": torch.randn(20, 6)}
    labels = {"image": torch.arange(30) % 5, "text": torch.arange(20) % 5}
    recall = binding.recall_matrices(space, labels, ks=(1, 3))
    names = list(space)
    for k in (1, 3):
        assert recall[k].shape == (2, 2)
        for row, query in enumerate(names):
            for column, target in enumerate(names):
                expected = naive_recall(
                    space[query], labels[query], space[target], labels[target], k, query == target
                )
                assert recall[k][row, column].item() == pytest.approx(expected)


def test_cross_modal_recall_on_a_perfect_and_a_shuffled_space():
    labels = torch.arange(40) % 10
    centres = torch.eye(10)
    noise = 0.01 * torch.randn(40, 10, generator=seeded(0))
    perfect = {"image": centres[labels], "text": centres[labels] + noise}
    tables = binding.cross_modal_recall(perfect, {"image": labels, "text": labels}, ks=(1, 5))
    assert (tables[1].to_numpy() == 1).all() and (tables[5].to_numpy() == 1).all()
    assert tables[1].index.name == "query" and tables[1].columns.name == "target"
    shuffled = {"image": centres[labels], "text": centres[labels.roll(1)]}
    tables = binding.cross_modal_recall(shuffled, {"image": labels, "text": labels}, ks=(1,))
    assert tables[1].loc["text", "image"] == 0 and tables[1].loc["image", "image"] == 1
    with pytest.raises(ValueError, match="same modalities"):
        binding.cross_modal_recall(perfect, {"image": labels})
    with pytest.raises(ValueError, match="positive ranks"):
        binding.recall_matrices(perfect, {"image": labels, "text": labels}, ks=(0,))


def test_chance_recall_matches_simulation():
    labels = torch.arange(1000) % 10
    assert binding.chance_recall(labels, k=1) == pytest.approx(0.1)
    generator = seeded(0)
    draws = torch.stack([torch.randperm(1000, generator=generator)[:5] for _ in range(4000)])
    simulated = (labels[draws] == 0).any(dim=1).float().mean().item()
    assert binding.chance_recall(labels, k=5) == pytest.approx(simulated, abs=0.02)


def test_centring_closes_the_gap_between_centroids():
    generator = seeded(0)
    space = {
        "image": torch.randn(200, 8, generator=generator) + 3 * torch.eye(8)[0],
        "text": torch.randn(200, 8, generator=generator) + 3 * torch.eye(8)[1],
    }
    gap = binding.centroid_distances(space)
    assert gap.loc["image", "text"] > 0.5 and gap.loc["image", "image"] == 0
    assert torch.allclose(binding.gap_matrix(space), torch.tensor(gap.to_numpy()))
    centred = binding.centre(space, binding.modality_centroids(space))
    assert binding.centroid_distances(centred).loc["image", "text"] < 0.2
    assert torch.allclose(centred["text"].norm(dim=1), torch.ones(200))
    with pytest.raises(ValueError, match="No centroid"):
        binding.centre(space, {"image": torch.zeros(8)})


def test_neighbour_agreement_against_a_naive_loop():
    embeddings = torch.randn(30, 4, generator=seeded(2))
    groups = torch.arange(30) % 3
    agreement, chance = binding.neighbour_agreement(embeddings, groups)
    hits = 0
    for i in range(30):
        best = max(
            (j for j in range(30) if j != i),
            key=lambda j: F.cosine_similarity(embeddings[i], embeddings[j], dim=0).item(),
        )
        hits += int(groups[best] == groups[i])
    assert agreement == pytest.approx(hits / 30)
    assert chance == pytest.approx(9 / 29)


def test_neighbour_agreement_across_modalities_only_searches_the_others():
    # two modalities, three digits; each modality sits in its own corner, so a plain search finds
    # the own modality, while a search into the other modality finds the same digit
    text = torch.cat([torch.eye(3), torch.full((3, 1), 5.0)], dim=1)  # a shared text direction
    image = torch.cat([torch.eye(3), torch.full((3, 1), -5.0)], dim=1)  # the opposite one
    embeddings = torch.cat([text, image])  # (6, 4)
    modality = torch.tensor([0, 0, 0, 1, 1, 1])
    digit = torch.tensor([0, 1, 2, 0, 1, 2])
    assert binding.neighbour_agreement(embeddings, modality) == (1.0, pytest.approx(2 / 5))
    agreement, chance = binding.neighbour_agreement(embeddings, digit, across=modality)
    assert agreement == 1.0 and chance == pytest.approx(1 / 3)
    with pytest.raises(ValueError, match="no candidate"):
        binding.neighbour_agreement(embeddings, digit, across=torch.zeros(6, dtype=torch.int64))


def test_nearest_cosines_match_a_naive_loop_and_leave_each_query_out():
    space = {"image": torch.randn(12, 5, generator=seeded(2)), "audio": torch.randn(9, 5)}
    space["image"][1] = 3 * space["image"][0]  # a near copy: the image row's diagonal is 1
    table = binding.nearest_cosines(space)
    assert list(table.index) == list(table.columns) == ["image", "audio"]
    for query, rows in space.items():
        for target, others in space.items():
            best = [
                max(
                    F.cosine_similarity(row, other, dim=0).item()
                    for j, other in enumerate(others)
                    if not (query == target and i == j)
                )
                for i, row in enumerate(rows)
            ]
            assert table.loc[query, target] == pytest.approx(sum(best) / len(best), abs=1e-6)
    assert table.loc["image", "image"] > table.loc["image", "audio"]
