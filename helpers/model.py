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


# --- encoders for the other modalities: the toys of 01, text and audio of 06 --------------------
# `helpers.modalities` makes their inputs; it is imported inside the methods, so this file's
# imports stay those of the image network.


def toy_encoders(
    input_shapes: dict[str, tuple[int, ...]],
    *,
    vocabulary_size: int | None = None,
    shared_dim: int = 8,
    seed: int = 0,
) -> nn.ModuleDict:
    """One untrained encoder per modality, each ending in the same `shared_dim` numbers.

    Taught in 01_modalities. "text" is a bag of character embeddings (input (batch, length) int64
    from `modalities.text.tokenise`, padding ignored); every other modality is flattened and
    projected by one linear layer (input (batch, *shape) float32). Weights come from a generator
    seeded with `seed`. Output: (batch, shared_dim) for every modality.
    """
    from helpers.modalities import MODALITIES, text

    unknown = set(input_shapes) - set(MODALITIES)
    if unknown:
        raise ValueError(f"Unknown modalities {sorted(unknown)}; use names from {MODALITIES}.")
    vocabulary_size = text.VOCABULARY_SIZE if vocabulary_size is None else vocabulary_size
    generator = torch.Generator().manual_seed(seed)
    encoders = nn.ModuleDict()
    for name in (m for m in MODALITIES if m in input_shapes):
        if name == "text":
            layer = nn.EmbeddingBag(vocabulary_size, shared_dim, mode="mean", padding_idx=0)
            encoder: nn.Module = layer
        else:
            layer = nn.Linear(int(torch.tensor(input_shapes[name]).prod()), shared_dim)
            encoder = nn.Sequential(nn.Flatten(), layer)
            nn.init.zeros_(layer.bias)
        with torch.no_grad():
            fan_in = layer.weight.shape[1]
            layer.weight.copy_(torch.randn(layer.weight.shape, generator=generator) / fan_in**0.5)
            if name == "text":
                layer.weight[0] = 0.0  # the padding id; EmbeddingBag also leaves it out of the mean
        encoders[name] = encoder
    return encoders


class CharTextEncoder(nn.Module):
    """Characters -> one embedding (N, embedding_dim): embed, two 1-D convolutions, max.

    Taught in 06_any_to_any_search. Reads ids (N, length) int64 from `modalities.text.tokenise`.
    The convolutions read windows of 3 then 5 characters, so a few letters ("sie", "ept") are
    enough to recognise a word; padding is zeroed between the layers and skipped by the max, so a
    text's embedding does not depend on how much padding its batch adds.
    """

    def __init__(self, *, embedding_dim: int = 64, channels: int = 64, char_dim: int = 24) -> None:
        from helpers.modalities import text

        super().__init__()
        self.embedding_dim = embedding_dim
        self.pad_id = text.PAD_ID
        self.characters = nn.Embedding(text.VOCABULARY_SIZE, char_dim, padding_idx=text.PAD_ID)
        self.conv_1 = nn.Conv1d(char_dim, channels, kernel_size=3, padding=1)
        self.conv_2 = nn.Conv1d(channels, channels, kernel_size=5, padding=2)
        self.head = nn.Linear(channels, embedding_dim)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        if ids.ndim != 2 or ids.dtype != torch.int64:
            raise ValueError(
                f"CharTextEncoder reads character ids (N, length) int64 from text.tokenise, got "
                f"{tuple(ids.shape)} {ids.dtype}."
            )
        gelu = torch.nn.functional.gelu
        mask = (ids != self.pad_id)[:, None, :]  # (N, 1, length)
        x = self.characters(ids).transpose(1, 2)  # (N, char_dim, length), padding is zero
        x = gelu(self.conv_1(x)) * mask  # (N, channels, length), padding zeroed again
        x = gelu(self.conv_2(x))  # (N, channels, length)
        x = x.masked_fill(~mask, float("-inf")).amax(dim=2)  # (N, channels)
        return self.head(x)  # (N, embedding_dim)


class SpectrogramAudioEncoder(nn.Module):
    """A spectrogram (N, 65, frames) -> an embedding (N, embedding_dim) with 1-D convolutions.

    Taught in 06_any_to_any_search. Reads `modalities.audio.spectrogram_batch`: each frequency row
    is a channel and the convolutions slide along time; the max over time makes the result
    independent of how long the tone lasts. The dB values are scaled to about -1..1 first.
    """

    def __init__(self, *, embedding_dim: int = 64, channels: int = 64) -> None:
        from helpers.modalities import audio

        super().__init__()
        self.embedding_dim = embedding_dim
        self.rows = audio.SPECTROGRAM_ROWS
        self.silence_db = audio.SILENCE_DB
        self.conv_1 = nn.Conv1d(self.rows, channels, kernel_size=3, padding=1)
        self.conv_2 = nn.Conv1d(channels, channels, kernel_size=3, padding=1)
        self.head = nn.Linear(channels, embedding_dim)

    def forward(self, spectrograms: torch.Tensor) -> torch.Tensor:
        if spectrograms.ndim != 3 or spectrograms.shape[1] != self.rows:
            raise ValueError(
                f"SpectrogramAudioEncoder reads spectrograms (N, {self.rows}, frames) from "
                f"audio.spectrogram_batch, got {tuple(spectrograms.shape)}."
            )
        gelu = torch.nn.functional.gelu
        half = self.silence_db / 2
        x = (spectrograms - half) / -half  # (N, rows, frames), silence -1, 0 dB +1
        x = gelu(self.conv_1(x))  # (N, channels, frames)
        x = gelu(self.conv_2(x))  # (N, channels, frames)
        return self.head(x.amax(dim=2))  # (N, embedding_dim)


# --- a projection head: what SimCLR's loss reads, on top of the embedding that is kept ----------


class ProjectionHead(nn.Sequential):
    """A small MLP on top of an embedding: Linear, ReLU, Linear; the contrastive loss reads its output.

    Taught in 03_network_and_loss. SimCLR (Chen et al. 2020) trains `head(encoder(x))` with the
    loss and keeps `encoder(x)`, the embedding below the head, for search and other tasks; the head
    is thrown away. Input (batch, embedding_dim), output (batch, projection_dim). A plain
    `nn.Sequential` of the same three layers has the same parameter names, so weights move freely.
    """

    def __init__(
        self, embedding_dim: int = 64, *, hidden_dim: int = 64, projection_dim: int = 32
    ) -> None:
        for name, size in (
            ("embedding_dim", embedding_dim),
            ("hidden_dim", hidden_dim),
            ("projection_dim", projection_dim),
        ):
            if size < 1:
                raise ValueError(f"{name} must be at least 1, got {size}.")
        super().__init__(
            nn.Linear(embedding_dim, hidden_dim),  # (batch, hidden_dim)
            nn.ReLU(),
            nn.Linear(hidden_dim, projection_dim),  # (batch, projection_dim)
        )
        self.embedding_dim = embedding_dim

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        if h.ndim != 2 or h.shape[1] != self.embedding_dim:
            raise ValueError(
                f"ProjectionHead reads embeddings shaped (batch, {self.embedding_dim}), got "
                f"{tuple(h.shape)}; put it after the encoder: nn.Sequential(encoder, head)."
            )
        return super().forward(h)  # (batch, projection_dim)
