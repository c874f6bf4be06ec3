"""Each loss against a naive loop over its equation, plus the behaviour a learner relies on."""

import math

import pytest
import torch

from helpers import losses
from helpers.losses import (
    BATCH_KINDS,
    CosineMSELoss,
    CrossModalInfoNCELoss,
    InBatchCosineMSELoss,
    InfoNCELoss,
    MarginContrastiveLoss,
    check_loss_reads,
)


def batch(seed: int = 0, size: int = 8, dim: int = 5):
    generator = torch.Generator().manual_seed(seed)
    z_1 = torch.randn(size, dim, generator=generator, dtype=torch.float64)
    z_2 = torch.randn(size, dim, generator=generator, dtype=torch.float64)
    target = (torch.arange(size) % 2).double()
    labels = torch.tensor([0, 1, 2, 0, 1, 3, 3, 0])[:size]
    return z_1, z_2, target, labels


def naive_cosine_mse(z_1, z_2, target):
    total = 0.0
    for a, b, y in zip(z_1.tolist(), z_2.tolist(), target.tolist(), strict=True):
        dot = sum(x * w for x, w in zip(a, b, strict=True))
        cosine = dot / (math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(w * w for w in b)))
        total += (cosine - y) ** 2
    return total / len(target)


def naive_margin(z_1, z_2, target, margin, normalize=False):
    total = 0.0
    for a, b, y in zip(z_1.tolist(), z_2.tolist(), target.tolist(), strict=True):
        if normalize:
            na, nb = math.sqrt(sum(x * x for x in a)), math.sqrt(sum(x * x for x in b))
            a, b = [x / na for x in a], [x / nb for x in b]
        d = math.sqrt(sum((x - w) ** 2 for x, w in zip(a, b, strict=True)))
        total += y * d**2 / 2 + (1 - y) * max(0.0, margin - d) ** 2 / 2
    return total / len(target)


def naive_info_nce(z_1, z_2, labels, temperature):
    z = [[x / math.sqrt(sum(w * w for w in v)) for x in v] for v in z_1.tolist() + z_2.tolist()]
    n = len(z_1)
    ids = list(range(n)) * 2 if labels is None else labels.tolist() * 2
    losses = []
    for i in range(2 * n):
        sims = {
            j: sum(x * w for x, w in zip(z[i], z[j], strict=True)) / temperature
            for j in range(2 * n)
        }
        denominator = sum(math.exp(sims[a]) for a in range(2 * n) if a != i)
        positives = [p for p in range(2 * n) if p != i and ids[p] == ids[i]]
        losses.append(
            -sum(math.log(math.exp(sims[p]) / denominator) for p in positives) / len(positives)
        )
    return sum(losses) / len(losses)


def test_cosine_mse_matches_the_naive_loop():
    z_1, z_2, target, _ = batch()
    assert CosineMSELoss()(z_1, z_2, target).item() == pytest.approx(
        naive_cosine_mse(z_1, z_2, target)
    )


@pytest.mark.parametrize("normalize", [False, True])
def test_margin_loss_matches_the_naive_loop(normalize):
    z_1, z_2, target, _ = batch(1)
    loss = MarginContrastiveLoss(margin=2.5, normalize=normalize)(z_1, z_2, target).item()
    assert loss == pytest.approx(naive_margin(z_1, z_2, target, 2.5, normalize), rel=1e-9)


@pytest.mark.parametrize("supervised", [False, True])
def test_info_nce_matches_the_naive_loop(supervised):
    z_1, z_2, _, labels = batch(2)
    y = labels if supervised else None
    loss = InfoNCELoss(temperature=0.5)(z_1, z_2, y).item()
    assert loss == pytest.approx(naive_info_nce(z_1, z_2, y, 0.5), rel=1e-9)


def test_identical_embeddings_are_perfect_positives():
    z, _, _, _ = batch()
    ones = torch.ones(len(z), dtype=z.dtype)
    assert CosineMSELoss()(z, z, ones).item() == pytest.approx(0.0, abs=1e-12)
    assert MarginContrastiveLoss()(z, z, ones).item() == pytest.approx(0.0, abs=1e-9)
    # Different-digit pairs far beyond the margin cost nothing.
    assert MarginContrastiveLoss(margin=1.0)(z, z + 10, torch.zeros(len(z))).item() == 0.0


def test_self_supervised_info_nce_needs_no_labels_and_rewards_matching_views():
    z_1, z_2, _, _ = batch(3)
    matched = InfoNCELoss(temperature=0.1)(z_1, z_1 + 1e-3 * z_2)
    unmatched = InfoNCELoss(temperature=0.1)(z_1, z_2)
    assert matched < unmatched
    # With every label different, the supervised loss is the self-supervised one.
    assert InfoNCELoss()(z_1, z_2, torch.arange(len(z_1))).item() == pytest.approx(
        InfoNCELoss()(z_1, z_2).item()
    )


def test_losses_have_gradients_and_clear_errors():
    z_1, z_2, target, labels = batch()
    z_1.requires_grad_(True)
    for loss in (CosineMSELoss()(z_1, z_2, target), InfoNCELoss()(z_1, z_2, labels)):
        (grad,) = torch.autograd.grad(loss, z_1)
        assert torch.isfinite(grad).all() and grad.abs().sum() > 0
    with pytest.raises(ValueError, match="pair loss"):
        CosineMSELoss()(z_1, z_2, None)
    with pytest.raises(ValueError, match="pair loss"):
        InfoNCELoss()(z_1, z_2, target)
    with pytest.raises(ValueError, match="temperature"):
        InfoNCELoss(temperature=0)


def test_half_precision_embeddings_are_compared_in_float32():
    """Under mixed precision on a GPU the network hands over fp16; the losses work in fp32."""
    z_1, z_2, target, labels = batch()
    full = [
        CosineMSELoss()(z_1, z_2, target),
        InfoNCELoss()(z_1, z_2, labels),
        InBatchCosineMSELoss()(z_1, labels),
    ]
    half = [
        CosineMSELoss()(z_1.half(), z_2.half(), target),
        InfoNCELoss()(z_1.half(), z_2.half(), labels),
        InBatchCosineMSELoss()(z_1.bfloat16(), labels),
    ]
    for exact, rounded in zip(full, half, strict=True):
        assert rounded.dtype == torch.float32
        assert rounded.item() == pytest.approx(exact.item(), rel=1e-2)


def naive_in_batch(z, labels):
    """The source's error on every pair i < j of the batch, positives and negatives half each."""
    errors = {True: [], False: []}
    for i in range(len(z)):
        for j in range(i + 1, len(z)):
            same = bool(labels[i] == labels[j])
            cosine = float(torch.nn.functional.cosine_similarity(z[i], z[j], dim=0))
            errors[same].append((cosine - float(same)) ** 2)
    return 0.5 * (sum(errors[True]) / len(errors[True]) + sum(errors[False]) / len(errors[False]))


def test_in_batch_loss_is_the_source_loss_over_every_pair_halves_weighted():
    generator = torch.Generator().manual_seed(1)
    z = torch.randn(12, 5, generator=generator, dtype=torch.float64)
    labels = torch.tensor([0, 1, 2, 0, 1, 2, 0, 3, 3, 1, 2, 0])
    loss = InBatchCosineMSELoss()(z, labels)
    assert loss.item() == pytest.approx(naive_in_batch(z, labels), rel=1e-9)
    # the same as CosineMSELoss on the explicit pairs, each half weighted alike
    first, second = torch.triu_indices(12, 12, offset=1)
    target = (labels[first] == labels[second]).double()
    halves = [
        CosineMSELoss()(z[first][target == side], z[second][target == side], target[target == side])
        for side in (1, 0)
    ]
    assert loss.item() == pytest.approx(0.5 * float(sum(halves)), rel=1e-6)


def test_in_batch_loss_rewards_same_digit_alignment_and_checks_its_input():
    labels = torch.tensor([0, 0, 1, 1])
    aligned = torch.tensor([[1.0, 0.0], [2.0, 0.0], [0.0, 1.0], [0.0, 3.0]])  # same: cos 1; not: 0
    assert InBatchCosineMSELoss()(aligned, labels).item() == pytest.approx(0.0, abs=1e-7)
    swapped = torch.tensor([0, 1, 0, 1])  # positives orthogonal (error 1), half the negatives 1
    assert InBatchCosineMSELoss()(aligned, swapped).item() == pytest.approx(0.5 * 1 + 0.5 * 0.5)
    with pytest.raises(ValueError, match="in_batch"):
        InBatchCosineMSELoss()(aligned[:1], labels[:1])
    with pytest.raises(ValueError, match="integer digits"):
        InBatchCosineMSELoss()(aligned, labels.float())


def test_every_loss_names_the_batch_kinds_it_reads_and_fit_checks_them():
    for loss in (CosineMSELoss(), MarginContrastiveLoss(), InBatchCosineMSELoss(), InfoNCELoss()):
        assert set(loss.batch_kinds) <= set(BATCH_KINDS), type(loss).__name__
    assert CrossModalInfoNCELoss.batch_kinds == (losses.CROSS_MODAL,)
    check_loss_reads(InfoNCELoss(), "labelled_views")
    check_loss_reads(torch.nn.MSELoss(), "pairs")  # a loss that names no kinds is trusted
    with pytest.raises(ValueError, match="batches='views'"):
        check_loss_reads(InfoNCELoss(), "pairs")
    with pytest.raises(ValueError, match="batches='in_batch'"):
        check_loss_reads(InBatchCosineMSELoss(), "pairs")


def test_both_info_nce_losses_share_one_masked_core():
    """Cross-modal InfoNCE with a and b the two views equals the core on the a-to-b block."""
    z_a, z_b, _, labels = batch(4)
    a, b = torch.nn.functional.normalize(z_a, dim=1), torch.nn.functional.normalize(z_b, dim=1)
    logits = a @ b.T / 0.2
    positive = labels[:, None] == labels[None, :]
    expected = (
        losses.masked_info_nce(logits, positive) + losses.masked_info_nce(logits.T, positive.T)
    ) / 2
    assert CrossModalInfoNCELoss(temperature=0.2)(z_a, z_b, labels).item() == pytest.approx(
        expected.item(), rel=1e-12
    )
