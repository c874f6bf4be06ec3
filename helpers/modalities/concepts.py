"""Hand-built encoders: text, tones and images onto the same ten "which digit?" axes.

Before learning anything, 01 shows what one shared space means with encoders a person wrote: each
maps its modality to ten numbers, one per digit, scaled to unit length, so a cosine between any two
items of any modalities says how much they agree on the digit. Learned encoders (06) find such a
space from examples instead of rules.

Taught in 01_modalities.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import torch
import torch.nn.functional as F

from helpers.modalities import audio, text

# Written forms the text rule recognises: digits and number words. Roman numerals are left out,
# since "I" and "V" are also ordinary letters and words.
_WORD_STYLES = ("digit", "english", "german", "french", "spanish")
_NUMBER_WORDS = {
    word.lower(): digit for digit, words in text.spellings(_WORD_STYLES).items() for word in words
}
_WORD = re.compile(r"\d|[^\W\d_]+")


def words_to_digits(ids: torch.Tensor) -> torch.Tensor:
    """Text rule: how often each digit is written (as "7" or as a number word), unit length.

    `ids` (N, length) int64 from `text.tokenise` -> (N, 10) float32; a text with no number in it
    gives a row of zeros. Taught in 01_modalities.
    """
    rows = []
    for sentence in text.decode(ids):
        counts = torch.zeros(10)
        for word in _WORD.findall(sentence.lower()):
            if word in _NUMBER_WORDS:
                counts[_NUMBER_WORDS[word]] += 1
        rows.append(counts)
    return F.normalize(torch.stack(rows), dim=1)  # (N, 10)


def tones_to_digits(
    waveforms: Sequence[torch.Tensor], *, sample_rate: int = audio.SAMPLE_RATE
) -> torch.Tensor:
    """Audio rule: how much each tone sounds like each keypad digit, unit length.

    Measures the energy at the four row and three column tones, turns each group into shares and
    scores digit d as row share x column share. A list of N waveforms (samples,) -> (N, 10).
    Taught in 01_modalities.
    """
    if isinstance(waveforms, torch.Tensor) and waveforms.ndim == 1:
        raise ValueError("Pass a list of waveforms, e.g. [waveform], not a single waveform.")
    rows = []
    for wave in waveforms:
        row_energy = audio.tone_energies(wave, audio.DTMF_ROWS, sample_rate=sample_rate)  # (4,)
        column_energy = audio.tone_energies(wave, audio.DTMF_COLUMNS, sample_rate=sample_rate)
        row_share = row_energy / row_energy.sum()  # (4,)
        column_share = column_energy / column_energy.sum()  # (3,)
        keys = [audio.DTMF_KEYS[digit] for digit in range(10)]
        rows.append(torch.stack([row_share[r] * column_share[c] for r, c in keys]))  # (10,)
    return F.normalize(torch.stack(rows), dim=1)  # (N, 10)


def digit_prototypes(images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """The mean image of each digit, centred and scaled to unit length: (10, 784) float32.

    Uses the labels: the image rule below is a template matcher, not a learned encoder.
    Taught in 01_modalities.
    """
    if images.ndim != 3 or images.shape[0] != labels.shape[0]:
        raise ValueError("Pass images (N, 28, 28) and labels (N,) of the same length.")
    flat = images.reshape(len(images), -1).to(torch.float32) / 255  # (N, 784)
    missing = [d for d in range(10) if not (labels == d).any()]
    if missing:
        raise ValueError(f"No images of digits {missing}; pass images of all ten digits.")
    means = torch.stack([flat[labels == d].mean(dim=0) for d in range(10)])  # (10, 784)
    return F.normalize(means - means.mean(dim=1, keepdim=True), dim=1)


def images_to_digits(
    images: torch.Tensor, *, prototypes: torch.Tensor, temperature: float = 0.05
) -> torch.Tensor:
    """Image rule: softmax of the cosine similarity to each digit's mean image, unit length.

    `images` (N, 28, 28) uint8 -> (N, 10) float32. Taught in 01_modalities.
    """
    flat = images.reshape(len(images), -1).to(torch.float32) / 255  # (N, 784)
    flat = F.normalize(flat - flat.mean(dim=1, keepdim=True), dim=1)
    similarity = flat @ prototypes.T  # (N, 10)
    return F.normalize(torch.softmax(similarity / temperature, dim=1), dim=1)
