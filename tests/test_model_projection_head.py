"""The projection head of 03_network_and_loss: shapes, its parameter names, and its place."""

import pytest
import torch
from torch import nn

from helpers.model import EmbeddingNet, ProjectionHead


def test_the_head_maps_embeddings_to_projections_and_is_a_plain_sequential():
    head = ProjectionHead(64, hidden_dim=48, projection_dim=16)
    assert head(torch.zeros(5, 64)).shape == (5, 16)
    plain = nn.Sequential(nn.Linear(64, 48), nn.ReLU(), nn.Linear(48, 16))
    plain.load_state_dict(head.state_dict())  # strict: the same names and shapes
    h = torch.randn(3, 64)
    assert torch.equal(plain(h), head(h))


def test_the_loss_gradient_reaches_the_encoder_below_the_head():
    encoder, head = EmbeddingNet(), ProjectionHead()
    z = nn.Sequential(encoder, head)(torch.zeros(4, 1, 28, 28))  # (4, 32)
    z.pow(2).sum().backward()
    assert encoder.conv1[0].weight.grad is not None and head[0].weight.grad is not None


def test_wrong_sizes_and_inputs_say_what_to_do():
    with pytest.raises(ValueError, match="projection_dim"):
        ProjectionHead(projection_dim=0)
    with pytest.raises(ValueError, match=r"nn.Sequential\(encoder, head\)"):
        ProjectionHead(64)(torch.zeros(2, 1, 28, 28))
