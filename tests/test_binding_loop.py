"""binding_loop.bind: the loop notebook 06 writes by hand, as a helper that 08 imports."""

from __future__ import annotations

import re

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from helpers import losses
from helpers.binding_loop import bind


def toy_problem(count: int = 200, *, anchors_per_digit=(30,) * 10, seed: int = 0):
    """Inputs that are digit ids, and frozen anchors clustered by digit (column 0 holds the digit)."""
    generator = torch.Generator().manual_seed(seed)
    labels = torch.arange(count) % 10  # (count,)
    anchor_labels = torch.cat([torch.full((n,), d) for d, n in enumerate(anchors_per_digit)])
    centres = F.normalize(torch.randn(10, 8, generator=generator), dim=1)  # (10, 8)
    anchors = centres[anchor_labels] + 0.1 * torch.randn(len(anchor_labels), 8, generator=generator)
    anchors[:, 0] = anchor_labels.float()  # lets a test read each partner's digit back
    return labels.clone(), labels, anchors, anchor_labels


def encoder(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Embedding(10, 8)


def by_hand(net, loss_fn, inputs, labels, anchors, anchor_labels, *, epochs, batch_size, seed):
    """The loop as notebook 06 writes it, line for line."""
    by_digit = torch.argsort(anchor_labels, stable=True)
    count = torch.bincount(anchor_labels)
    first = count.cumsum(0) - count
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(net.parameters(), lr=3e-3)
    net.train()
    for _ in range(epochs):
        order = torch.randperm(len(inputs), generator=generator)
        for start in range(0, len(order) - batch_size + 1, batch_size):
            batch = order[start : start + batch_size]
            y = labels[batch]
            draw = torch.rand(len(y), generator=generator, dtype=torch.float64)
            partners = anchors[by_digit[first[y] + (draw * count[y]).long()]]
            loss = loss_fn(net(inputs[batch]), partners, y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    return net.eval()


def test_bind_gives_the_weights_of_the_hand_written_loop():
    inputs, labels, anchors, anchor_labels = toy_problem()
    loss_fn = losses.CrossModalInfoNCELoss(temperature=0.1)
    helper, manual = encoder(), encoder()
    bind(helper, loss_fn, inputs, labels, anchors=anchors, anchor_labels=anchor_labels,
         epochs=3, batch_size=64, seed=5)  # fmt: skip
    by_hand(manual, loss_fn, inputs, labels, anchors, anchor_labels, epochs=3, batch_size=64,
            seed=5)  # fmt: skip
    assert torch.equal(helper.weight, manual.weight)
    assert not helper.training


def test_the_seed_decides_the_weights():
    inputs, labels, anchors, anchor_labels = toy_problem()
    loss_fn = losses.CrossModalInfoNCELoss(temperature=0.1)
    runs = []
    for seed in (0, 0, 1):
        net = encoder()
        bind(net, loss_fn, inputs, labels, anchors=anchors, anchor_labels=anchor_labels,
             epochs=2, batch_size=50, seed=seed)  # fmt: skip
        runs.append(net.weight.detach().clone())
    assert torch.equal(runs[0], runs[1]) and not torch.equal(runs[0], runs[2])


class Spy(nn.Module):
    """A loss that records what each step hands it and returns a loss the encoder can follow."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]] = []

    def forward(self, z, partners, labels):
        self.calls.append((z.detach().clone(), partners.clone(), labels))
        return z.pow(2).mean()


class Rows(nn.Module):
    """An encoder whose output row i carries the input id, so a test can see which items trained."""

    def __init__(self) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.ones(1))

    def forward(self, ids):
        return ids[:, None].float() * self.scale.detach() + 0 * self.scale  # (batch, 1)


def test_full_batches_only_and_each_epoch_reshuffles():
    _, labels, anchors, anchor_labels = toy_problem(count=100)
    inputs = torch.arange(100)  # item ids
    spy = Spy()
    history = bind(Rows(), spy, inputs, labels, anchors=anchors, anchor_labels=anchor_labels,
                   epochs=4, batch_size=30)  # fmt: skip
    assert len(history) == len(spy.calls) == 4 * 3  # 100 // 30 full batches an epoch
    assert all(len(z) == 30 for z, _, _ in spy.calls)
    epochs = [torch.cat([z[:, 0] for z, _, _ in spy.calls[3 * e : 3 * e + 3]]) for e in range(4)]
    sat_out = [set(range(100)) - set(seen.long().tolist()) for seen in epochs]
    assert all(len(out) == 10 for out in sat_out)  # 100 % 30 items wait each epoch
    assert len(set.union(*sat_out)) > 10  # and not the same ones: the next epoch reshuffles


def test_partners_share_the_digit_even_when_digits_have_different_counts():
    counts = (3, 40, 7, 12, 25, 1, 9, 30, 18, 5)
    inputs, labels, anchors, anchor_labels = toy_problem(count=300, anchors_per_digit=counts)
    spy = Spy()
    bind(encoder(), spy, inputs, labels, anchors=anchors, anchor_labels=anchor_labels,
         epochs=3, batch_size=100)  # fmt: skip
    partners = torch.cat([p for _, p, _ in spy.calls])  # (900, 8)
    digits = torch.cat([y for _, _, y in spy.calls])  # (900,)
    assert torch.equal(partners[:, 0].long(), digits)
    used = {tuple(row.tolist()) for row in partners[digits == 1]}
    assert len(used) > 20  # draws spread over digit 1's 40 anchors, not one favourite


def test_supervised_false_hands_the_loss_no_labels():
    inputs, labels, anchors, anchor_labels = toy_problem()
    spy = Spy()
    bind(encoder(), spy, inputs, labels, anchors=anchors, anchor_labels=anchor_labels,
         epochs=1, batch_size=100, supervised=False)  # fmt: skip
    assert spy.calls and all(y is None for _, _, y in spy.calls)


def test_binding_puts_each_digit_next_to_its_anchors():
    inputs, labels, anchors, anchor_labels = toy_problem()
    net = encoder()
    loss_fn = losses.CrossModalInfoNCELoss(temperature=0.1)
    history = bind(net, loss_fn, inputs, labels, anchors=anchors, anchor_labels=anchor_labels,
                   epochs=30, batch_size=50, learning_rate=0.05)  # fmt: skip
    centres = torch.stack([anchors[anchor_labels == d].mean(0) for d in range(10)])  # (10, 8)
    with torch.no_grad():
        nearest = (F.normalize(net.weight, dim=1) @ F.normalize(centres, dim=1).T).argmax(1)
    assert torch.equal(nearest, torch.arange(10))
    assert sum(history[-4:]) / 4 < sum(history[:4]) / 4 - 0.5


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"labels": torch.arange(5)}, "one integer digit label per input"),
        ({"anchor_labels": torch.zeros(3, dtype=torch.int64)}, "anchor_labels"),
        ({"anchor_labels": torch.arange(300) % 9}, "No anchor image of digit(s) [9]"),
        ({"batch_size": 500}, "full batches"),
        ({"epochs": 0}, "epochs must be at least 1"),
    ],
)
def test_bad_arguments_are_refused_with_a_sentence(change, message):
    inputs, labels, anchors, anchor_labels = toy_problem()
    arguments = {"labels": labels, "anchor_labels": anchor_labels, "batch_size": 50, "epochs": 1}
    arguments |= change
    with pytest.raises(ValueError, match=re.escape(message)):
        bind(encoder(), losses.CrossModalInfoNCELoss(), inputs, arguments.pop("labels"),
             anchors=anchors, **arguments)  # fmt: skip


def test_a_frozen_encoder_is_refused():
    inputs, labels, anchors, anchor_labels = toy_problem()
    net = encoder().requires_grad_(False)
    with pytest.raises(ValueError, match="no trainable weights"):
        bind(net, losses.CrossModalInfoNCELoss(), inputs, labels, anchors=anchors,
             anchor_labels=anchor_labels, batch_size=50)  # fmt: skip
