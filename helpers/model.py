"""The embedding network: the source material's small CNN, with the embedding size a parameter.

Taught in 03_network_and_loss.
"""

from __future__ import annotations

import torch
from torch import nn


def _conv_block(in_channels: int, out_channels: int, dropout: float) -> nn.Sequential:
    """One of the source's two blocks: conv 5x5 (size - 4), BatchNorm, ReLU, 2x2 max-pool (size / 2),
    dropout."""
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel_size=5),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Dropout(dropout),
    )


class EmbeddingNet(nn.Module):
    """Two conv blocks and two linear layers that map a (1, 28, 28) digit to a vector.

    Taught in 03_network_and_loss. Input (batch, 1, 28, 28) in [-1, 1]; output
    (batch, embedding_dim). The layers are the source material's: conv 1->32 (5x5), BatchNorm,
    ReLU, 2x2 max-pool, dropout; conv 32->64 (5x5), the same; linear 1024->512, ReLU, dropout;
    linear 512->embedding_dim.
    """

    def __init__(self, embedding_dim: int = 64, dropout: float = 0.3) -> None:
        super().__init__()
        if embedding_dim < 1:
            raise ValueError(f"embedding_dim must be at least 1, got {embedding_dim}.")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout is a probability in [0, 1), got {dropout}.")
        self.embedding_dim = embedding_dim
        self.dropout = dropout
        self.conv1 = _conv_block(1, 32, dropout)  # (batch, 1, 28, 28) -> (batch, 32, 12, 12)
        self.conv2 = _conv_block(32, 64, dropout)  # (batch, 32, 12, 12) -> (batch, 64, 4, 4)
        self.head = nn.Sequential(
            nn.Linear(64 * 4 * 4, 512),  # (batch, 512)
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(512, embedding_dim),  # (batch, embedding_dim)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 4 or x.shape[1:] != (1, 28, 28):
            raise ValueError(
                f"EmbeddingNet expects a batch shaped (batch, 1, 28, 28), got {tuple(x.shape)}; "
                "turn uint8 digits into input with helpers.data.to_network_input."
            )
        x = self.conv1(x)  # (batch, 32, 12, 12)
        x = self.conv2(x)  # (batch, 64, 4, 4)
        x = x.flatten(1)  # (batch, 1024)
        return self.head(x)  # (batch, embedding_dim)

    def config(self) -> dict[str, int | float]:
        """The arguments that rebuild this network: `EmbeddingNet(**net.config())`."""
        return {"embedding_dim": self.embedding_dim, "dropout": self.dropout}


def count_parameters(model: nn.Module) -> int:
    """How many trainable numbers the model has."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
