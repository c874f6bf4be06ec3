"""Text and audio for binding: ways to write and to sound a digit, made offline, and their encoders.

Text is a digit written one of six ways ("7", "seven", "VII", "sieben", "sept", "siete") with
random casing, spacing and typos, read character by character. Audio is the digit's telephone
keypad tone (DTMF, from `modalities.dtmf_frequencies`) with a random duration, loudness, phase,
noise and slight detuning, read as a spectrogram. Both are labelled 0-9, so each item can be
matched with images of the same digit, and both encoders end in the same 64-d space as the image
network of notebook 04.

Taught in 06_any_to_any_search.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from helpers.modalities import dtmf_frequencies

# Six ways of writing each digit 0-9. Roman numerals have no zero; medieval scribes wrote N (nulla).
NUMERALS: dict[str, tuple[str, ...]] = {
    "digit": tuple("0123456789"),
    "english": ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"),
    "roman": ("N", "I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX"),
    "german": ("null", "eins", "zwei", "drei", "vier", "fünf", "sechs", "sieben", "acht", "neun"),
    "french": ("zéro", "un", "deux", "trois", "quatre", "cinq", "six", "sept", "huit", "neuf"),
    "spanish": ("cero", "uno", "dos", "tres", "cuatro", "cinco", "seis", "siete", "ocho", "nueve"),
}
# The characters the text encoder knows: id 0 pads, id 1 stands for any other character.
ALPHABET = " 0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZäöüéèçñßÄÖÜÉ.,-'"
PAD_ID, UNKNOWN_ID = 0, 1
AUDIO_SAMPLE_RATE = 8_000  # Hz: DTMF tones stay below 1.5 kHz, so 8 kHz (a phone's rate) is plenty
AUDIO_N_FFT = 256  # 31.25 Hz per spectrogram row at 8 kHz
AUDIO_HOP = 64  # 8 ms between spectrogram frames
AUDIO_MAX_HZ = 2_000.0  # rows above this hold no tone and are dropped
SILENCE_DB = -100.0  # the level a spectrogram frame of padding holds


# --- text ---------------------------------------------------------------------------------------


def _add_typo(word: str, rng: random.Random) -> str:
    """One typo: swap two neighbouring characters, drop one, double one or replace one."""
    if len(word) < 2:
        return word + word if rng.random() < 0.5 else word
    position = rng.randrange(len(word) - 1)
    kind = rng.choice(("swap", "drop", "double", "replace"))
    if kind == "swap":
        return word[:position] + word[position + 1] + word[position] + word[position + 2 :]
    if kind == "drop":
        return word[:position] + word[position + 1 :]
    if kind == "double":
        return word[: position + 1] + word[position] + word[position + 1 :]
    return word[:position] + rng.choice("abcdefghijklmnopqrstuvwxyz") + word[position + 1 :]


def _random_casing(word: str, rng: random.Random) -> str:
    style = rng.choice(("as is", "lower", "upper", "title", "random"))
    if style == "lower":
        return word.lower()
    if style == "upper":
        return word.upper()
    if style == "title":
        return word.title()
    if style == "random":
        return "".join(c.upper() if rng.random() < 0.5 else c.lower() for c in word)
    return word


def random_digit_text(
    digit: int, rng: random.Random, *, typo_rate: float = 0.3, styles: Sequence[str] = ()
) -> str:
    """`digit` written one of six ways, with random casing, spacing and (sometimes) a typo."""
    if digit not in range(10):
        raise ValueError(f"digit must be an integer from 0 to 9, got {digit!r}.")
    unknown = set(styles) - set(NUMERALS)
    if unknown:
        raise ValueError(f"unknown styles {sorted(unknown)}; choose from {list(NUMERALS)}.")
    style = rng.choice(list(styles) or list(NUMERALS))
    word = NUMERALS[style][digit]
    if style != "digit":
        word = _random_casing(word, rng)
        if rng.random() < typo_rate:
            word = _add_typo(word, rng)
    if rng.random() < 0.15:
        word = " ".join(word)  # spaced out: "s e v e n"
    return " " * rng.randrange(3) + word + " " * rng.randrange(3)


def make_texts(
    count: int, *, seed: int, typo_rate: float = 0.3, styles: Sequence[str] = ()
) -> tuple[list[str], torch.Tensor]:
    """`count` digit texts, an equal share of each digit in shuffled order, and labels (count,).

    The same seed gives the same texts on every machine (Python's `random.Random`).
    """
    if count < 10:
        raise ValueError(f"count={count} is too small: ask for at least 10 (one per digit).")
    rng = random.Random(seed)
    labels = [i % 10 for i in range(count)]
    rng.shuffle(labels)
    texts = [random_digit_text(label, rng, typo_rate=typo_rate, styles=styles) for label in labels]
    return texts, torch.tensor(labels, dtype=torch.int64)


def character_ids(texts: Sequence[str], *, max_length: int = 24) -> torch.Tensor:
    """Texts as character ids (N, max_length) int64, padded with 0; unknown characters are 1.

    A character-level tokenizer needs no vocabulary file and never meets an unknown word: a typo
    is just a different sequence of known characters.
    """
    if isinstance(texts, str):
        raise ValueError("Pass a list of texts, e.g. [text], not a single string.")
    if not texts:
        raise ValueError("Pass at least one text.")
    lookup = {character: index + 2 for index, character in enumerate(ALPHABET)}
    ids = torch.full((len(texts), max_length), PAD_ID, dtype=torch.int64)  # (N, max_length)
    for row, text in enumerate(texts):
        if not isinstance(text, str) or not text.strip():
            raise ValueError(f"Text {row} is {text!r}; every text needs at least one character.")
        codes = [lookup.get(character, UNKNOWN_ID) for character in text.strip()[:max_length]]
        ids[row, : len(codes)] = torch.tensor(codes)
    return ids


class CharTextEncoder(nn.Module):
    """Characters -> one unit-free embedding (N, embedding_dim): embed, two 1-D convolutions, max.

    The convolutions read windows of 3 then 5 characters, so a few letters ("sie", "ept") are
    enough to recognise a word; the max over positions ignores padding and where the word starts.
    Taught in 06_any_to_any_search.
    """

    def __init__(self, *, embedding_dim: int = 64, channels: int = 64, char_dim: int = 24) -> None:
        super().__init__()
        self.embedding_dim = embedding_dim
        self.characters = nn.Embedding(len(ALPHABET) + 2, char_dim, padding_idx=PAD_ID)
        self.conv_1 = nn.Conv1d(char_dim, channels, kernel_size=3, padding=1)
        self.conv_2 = nn.Conv1d(channels, channels, kernel_size=5, padding=2)
        self.head = nn.Linear(channels, embedding_dim)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        if ids.ndim != 2 or ids.dtype != torch.int64:
            raise ValueError(
                f"CharTextEncoder reads character ids (N, length) int64 from character_ids, got "
                f"{tuple(ids.shape)} {ids.dtype}."
            )
        mask = (ids != PAD_ID)[:, None, :]  # (N, 1, length)
        x = self.characters(ids).transpose(1, 2)  # (N, char_dim, length)
        x = F.gelu(self.conv_1(x))  # (N, channels, length)
        x = F.gelu(self.conv_2(x))  # (N, channels, length)
        x = x.masked_fill(~mask, float("-inf")).amax(dim=2)  # (N, channels)
        return self.head(x)  # (N, embedding_dim)


# --- audio --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ToneVariation:
    """How much each random keypad tone may differ from the clean one."""

    min_duration_s: float = 0.12
    max_duration_s: float = 0.40
    min_amplitude: float = 0.2
    max_amplitude: float = 1.0
    max_noise_std: float = 0.3  # relative to the amplitude
    max_detune: float = 0.015  # each tone up to 1.5 % off; DTMF neighbours are about 10 % apart


def random_dtmf_waveforms(
    labels: torch.Tensor,
    generator: torch.Generator,
    *,
    variation: ToneVariation = ToneVariation(),
    sample_rate: int = AUDIO_SAMPLE_RATE,
) -> list[torch.Tensor]:
    """One keypad tone per label with random duration, loudness, phases, noise and detuning.

    Returns a list of (samples,) float32 waveforms, one per label (their lengths differ). The two
    tones of each digit come from `modalities.dtmf_frequencies`; each gets its own detuning and
    starting phase, the sum gets 5 ms fades and white noise. All tones are drawn at once.
    """
    if labels.ndim != 1 or labels.dtype.is_floating_point:
        raise ValueError(f"labels must be integer digits (N,), got {labels.dtype} {labels.shape}.")
    tones_hz = torch.tensor([dtmf_frequencies(int(label)) for label in labels])  # (N, 2)
    count = len(labels)

    def uniform(*shape: int, low: float, high: float) -> torch.Tensor:
        return low + (high - low) * torch.rand(*shape, generator=generator, dtype=torch.float64)

    duration_s = uniform(count, low=variation.min_duration_s, high=variation.max_duration_s)
    amplitude = uniform(count, 1, low=variation.min_amplitude, high=variation.max_amplitude)
    noise_std = amplitude * uniform(count, 1, low=0.0, high=variation.max_noise_std)
    detune = uniform(count, 2, low=-variation.max_detune, high=variation.max_detune)
    phase = uniform(count, 2, low=0.0, high=2 * math.pi)
    lengths = (duration_s * sample_rate).round().long()  # (N,)
    longest = int(lengths.max())
    time_s = torch.arange(longest, dtype=torch.float64) / sample_rate  # (samples,)
    angle = 2 * math.pi * (tones_hz * (1 + detune))[:, :, None] * time_s + phase[:, :, None]
    wave = 0.5 * torch.sin(angle).sum(dim=1)  # (N, samples)
    # 5 ms raised-cosine fades at both ends of each tone, and nothing after its end.
    fade_samples = 0.005 * sample_rate
    from_start = torch.arange(longest)[None, :]  # (1, samples)
    to_end = lengths[:, None] - 1 - from_start  # (N, samples)
    edge = torch.minimum(from_start, to_end).clamp(min=0, max=fade_samples) / fade_samples
    envelope = (0.5 - 0.5 * torch.cos(math.pi * edge)) * (to_end >= 0)  # (N, samples)
    noise = torch.randn(count, longest, generator=generator, dtype=torch.float64)
    wave = (amplitude * wave * envelope + noise_std * noise * (to_end >= 0)).to(torch.float32)
    return [wave[row, :length] for row, length in enumerate(lengths.tolist())]


def make_tones(
    count: int, *, seed: int, variation: ToneVariation = ToneVariation()
) -> tuple[list[torch.Tensor], torch.Tensor]:
    """`count` random keypad tones (each (samples,), lengths differ) and labels (count,).

    An equal share of each digit in shuffled order; the same seed gives the same waveforms.
    """
    if count < 10:
        raise ValueError(f"count={count} is too small: ask for at least 10 (one per digit).")
    if not 0.05 <= variation.min_duration_s <= variation.max_duration_s:
        raise ValueError("Durations must satisfy 0.05 s <= min_duration_s <= max_duration_s.")
    generator = torch.Generator().manual_seed(seed)
    labels = (torch.arange(count) % 10)[torch.randperm(count, generator=generator)]  # (count,)
    return random_dtmf_waveforms(labels, generator, variation=variation), labels


def spectrogram_batch(
    waveforms: Sequence[torch.Tensor], *, max_duration_s: float = 0.4
) -> torch.Tensor:
    """Power in dB up to 2 kHz of tones of any length, (N, 65, 51) float32 at the defaults.

    The same short-time Fourier transform as `modalities.spectrogram` (Hann window), cut to the rows
    where keypad tones are. Each waveform is padded with silence (or cut) to `max_duration_s`, so
    every spectrogram has the same number of frames.
    """
    if isinstance(waveforms, torch.Tensor) and waveforms.ndim == 1:
        raise ValueError("Pass a list of waveforms, e.g. [waveform], not a single waveform.")
    if len(waveforms) == 0:
        raise ValueError("Pass at least one waveform.")
    samples = int(round(max_duration_s * AUDIO_SAMPLE_RATE))
    batch = torch.zeros(len(waveforms), samples)  # (N, samples)
    for row, wave in enumerate(waveforms):
        wave = torch.as_tensor(wave, dtype=torch.float32)
        if wave.ndim != 1 or wave.numel() < AUDIO_N_FFT:
            raise ValueError(
                f"Waveform {row} has shape {tuple(wave.shape)}; each must be (samples,) with at "
                f"least {AUDIO_N_FFT} samples ({AUDIO_N_FFT / AUDIO_SAMPLE_RATE * 1000:.0f} ms at "
                f"{AUDIO_SAMPLE_RATE} Hz)."
            )
        kept = min(samples, wave.numel())
        batch[row, :kept] = wave[:kept]
    window = torch.hann_window(AUDIO_N_FFT)
    stft = torch.stft(
        batch, n_fft=AUDIO_N_FFT, hop_length=AUDIO_HOP, window=window, return_complex=True
    )  # (N, n_fft // 2 + 1, frames)
    rows = int(AUDIO_MAX_HZ / (AUDIO_SAMPLE_RATE / AUDIO_N_FFT)) + 1
    power_db = 10 * torch.log10(stft[:, :rows].abs().pow(2).clamp_min(1e-10))
    return power_db.clamp_min(SILENCE_DB)  # (N, rows, frames)


class SpectrogramAudioEncoder(nn.Module):
    """A spectrogram (N, 65, frames) -> an embedding (N, embedding_dim) with 1-D convolutions.

    Each frequency row is a channel and the convolutions slide along time; the max over time makes
    the result independent of how long the tone lasts. The dB values are scaled to about -1..1
    first. Taught in 06_any_to_any_search.
    """

    def __init__(self, *, embedding_dim: int = 64, channels: int = 64, rows: int = 65) -> None:
        super().__init__()
        self.embedding_dim = embedding_dim
        self.rows = rows
        self.conv_1 = nn.Conv1d(rows, channels, kernel_size=3, padding=1)
        self.conv_2 = nn.Conv1d(channels, channels, kernel_size=3, padding=1)
        self.head = nn.Linear(channels, embedding_dim)

    def forward(self, spectrograms: torch.Tensor) -> torch.Tensor:
        if spectrograms.ndim != 3 or spectrograms.shape[1] != self.rows:
            raise ValueError(
                f"SpectrogramAudioEncoder reads spectrograms (N, {self.rows}, frames) from "
                f"spectrogram_batch, got {tuple(spectrograms.shape)}."
            )
        x = (spectrograms - SILENCE_DB / 2) / (-SILENCE_DB / 2)  # (N, rows, frames), about -1..1
        x = F.gelu(self.conv_1(x))  # (N, channels, frames)
        x = F.gelu(self.conv_2(x))  # (N, channels, frames)
        return self.head(x.amax(dim=2))  # (N, embedding_dim)


def encode(encoder: nn.Module, inputs: torch.Tensor, *, batch_size: int = 1000) -> torch.Tensor:
    """Embeddings (N, embedding_dim) of prepared inputs, in eval mode and without gradients."""
    device = next(encoder.parameters()).device
    was_training = encoder.training
    encoder.eval()
    try:
        with torch.no_grad():
            parts = [
                encoder(inputs[start : start + batch_size].to(device)).cpu()
                for start in range(0, len(inputs), batch_size)
            ]
    finally:
        encoder.train(was_training)
    return torch.cat(parts)  # (N, embedding_dim)
