"""The source's network: its layers, its output size, and a clear error for wrong input."""

import pytest
import torch

from helpers.model import EmbeddingNet, count_parameters


def test_output_shape_follows_embedding_dim():
    for dim in (2, 64):
        net = EmbeddingNet(embedding_dim=dim).eval()
        assert net(torch.zeros(3, 1, 28, 28)).shape == (3, dim)


def test_layers_are_the_source_materials():
    net = EmbeddingNet()
    conv1, conv2 = net.conv1[0], net.conv2[0]
    assert (conv1.in_channels, conv1.out_channels, conv1.kernel_size) == (1, 32, (5, 5))
    assert (conv2.in_channels, conv2.out_channels, conv2.kernel_size) == (32, 64, (5, 5))
    linears = [m for m in net.head if isinstance(m, torch.nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(1024, 512), (512, 64)]
    dropouts = [m.p for m in net.modules() if isinstance(m, torch.nn.Dropout)]
    assert dropouts == [0.3, 0.3, 0.3]
    assert count_parameters(net) == 832 + 64 + 51264 + 128 + 524800 + 32832


def test_config_rebuilds_the_same_architecture():
    net = EmbeddingNet(embedding_dim=16, dropout=0.1)
    twin = EmbeddingNet(**net.config())
    twin.load_state_dict(net.state_dict())
    x = torch.randn(4, 1, 28, 28)
    assert torch.equal(net.eval()(x), twin.eval()(x))


def test_wrong_input_shape_says_what_to_do():
    with pytest.raises(ValueError, match="to_network_input"):
        EmbeddingNet()(torch.zeros(3, 28, 28))
    with pytest.raises(ValueError, match="embedding_dim"):
        EmbeddingNet(embedding_dim=0)
