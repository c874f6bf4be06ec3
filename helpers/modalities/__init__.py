"""Seven modalities as real tensors, made offline: nothing here downloads anything.

- text: digits written many ways, held-out spellings, the one tokeniser (characters to ids)
- audio: telephone keypad tones at 8 kHz, the one synthesiser and the one spectrogram
- scenes: a digit sliding through a video clip; depth and thermal maps of one ray-cast scene
- imu: an accelerometer and a gyroscope on someone who stands, then walks
- concepts: hand-built encoders that map text, tones and images onto ten digit axes
- toy: an anchor, positives and negatives in 2-D, moved by a contrastive loss

The learned encoders for these inputs live with the model code (`helpers.model`).

Taught in 01_modalities (all seven) and 06_any_to_any_search (text and audio).
"""

from __future__ import annotations

import torch

from helpers.modalities import audio, concepts, imu, scenes, text, toy

MODALITIES = ("text", "audio", "video", "image", "depth", "thermal", "imu")

__all__ = ["MODALITIES", "audio", "concepts", "describe", "imu", "scenes", "text", "toy"]


def describe(name: str, tensor: torch.Tensor, *, unit: str = "") -> str:
    """One line: name, shape, dtype and value range (3 decimals), for a notebook's printouts.

    Taught in 01_modalities.
    """
    low, high = tensor.min().item(), tensor.max().item()
    span = f"{low:.3f} to {high:.3f}" if tensor.dtype.is_floating_point else f"{low} to {high}"
    unit = f" {unit}" if unit else ""
    return f"{name:<22} shape {str(tuple(tensor.shape)):<15} {str(tensor.dtype):<14} {span}{unit}"
