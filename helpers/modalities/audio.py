"""A digit you can hear: telephone keypad tones (DTMF), one synthesiser and one spectrogram.

Each key of a phone sounds two sine tones at once, one per keypad row and one per column (ITU-T
Q.23). Everything here runs at 8 kHz, the rate of a telephone line: the highest keypad tone is
1,477 Hz, well under the 4 kHz that 8,000 samples a second can carry. The spectrogram is a
short-time Fourier transform with a 256-sample window (32 ms, rows 31.25 Hz apart, so the two
closest keypad tones, 697 and 770 Hz, land two rows apart), cut at 2 kHz where the tones end.

Taught in 01_modalities (one tone and its spectrogram) and 06_any_to_any_search (thousands of
random tones bound to images).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch

SAMPLE_RATE = 8_000  # samples per second: a telephone line's rate
N_FFT = 256  # spectrogram window: 32 ms, rows 31.25 Hz apart
HOP_LENGTH = 64  # 8 ms between spectrogram frames
MAX_HZ = 2_000.0  # spectrogram rows above this hold no keypad tone and are dropped
SILENCE_DB = -100.0  # the floor of the spectrogram; padding with silence reads this
CLIP_SECONDS = 0.4  # `spectrogram_batch` pads or cuts every tone to this length
SPECTROGRAM_ROWS = int(MAX_HZ / (SAMPLE_RATE / N_FFT)) + 1  # 65 rows from 0 to 2 kHz
# Telephone keypad (ITU-T Q.23): each key sounds one row tone plus one column tone, in Hz.
DTMF_ROWS = (697.0, 770.0, 852.0, 941.0)
DTMF_COLUMNS = (1209.0, 1336.0, 1477.0)
DTMF_KEYS = {
    1: (0, 0), 2: (0, 1), 3: (0, 2),
    4: (1, 0), 5: (1, 1), 6: (1, 2),
    7: (2, 0), 8: (2, 1), 9: (2, 2),
    0: (3, 1),
}  # fmt: skip


def dtmf_frequencies(digit: int) -> tuple[float, float]:
    """The (row, column) tone pair in Hz that a telephone keypad plays for `digit`.

    Taught in 01_modalities.
    """
    if digit not in DTMF_KEYS:
        raise ValueError(f"digit must be an integer from 0 to 9, got {digit!r}.")
    row, column = DTMF_KEYS[digit]
    return DTMF_ROWS[row], DTMF_COLUMNS[column]


# --- the synthesiser ----------------------------------------------------------------------------


def _render(
    tones_hz: torch.Tensor,
    *,
    lengths: torch.Tensor,
    amplitude: torch.Tensor,
    phase: torch.Tensor,
    noise_std: torch.Tensor,
    sample_rate: int,
    generator: torch.Generator | None,
) -> list[torch.Tensor]:
    """The one synthesiser: waveform i is the mean of the sines in row i of `tones_hz` (N, tones).

    Each gets its `amplitude` (N, 1), starting `phase` (N, tones), 5 ms raised-cosine fades at both
    ends and white noise of `noise_std` (N, 1); waveform i lasts `lengths[i]` samples. Returns a
    list of N (samples,) float32 tensors.
    """
    if (tones_hz <= 0).any() or (tones_hz >= sample_rate / 2).any():
        raise ValueError(
            f"Every tone must lie between 0 and the Nyquist frequency {sample_rate / 2:g} Hz; got "
            f"{sorted(set(tones_hz.flatten().tolist()))}. Raise sample_rate or lower the tone."
        )
    count, longest = len(tones_hz), int(lengths.max())
    time_s = torch.arange(longest, dtype=torch.float64) / sample_rate  # (samples,)
    angle = 2 * math.pi * tones_hz[:, :, None] * time_s + phase[:, :, None]  # (N, tones, samples)
    wave = torch.sin(angle).mean(dim=1)  # (N, samples)
    fade_samples = 0.005 * sample_rate
    from_start = torch.arange(longest)[None, :]  # (1, samples)
    to_end = lengths[:, None] - 1 - from_start  # (N, samples)
    edge = torch.minimum(from_start, to_end).clamp(min=0, max=fade_samples) / fade_samples
    inside = to_end >= 0  # (N, samples): nothing after a tone's end
    envelope = (0.5 - 0.5 * torch.cos(math.pi * edge)) * inside  # (N, samples)
    wave = amplitude * wave * envelope  # (N, samples)
    if (noise_std > 0).any():
        noise = torch.randn(count, longest, generator=generator, dtype=torch.float64)
        wave = wave + noise_std * noise * inside
    wave = wave.to(torch.float32)
    return [wave[row, :length] for row, length in enumerate(lengths.tolist())]


def synth_waveform(
    frequencies: float | Sequence[float],
    *,
    duration_s: float = 0.25,
    sample_rate: int = SAMPLE_RATE,
    noise_std: float = 0.0,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """A sum of sine tones (peak 0.9 before noise) with 5 ms fades, shape (samples,) float32.

    Taught in 01_modalities.
    """
    freqs = [float(frequencies)] if isinstance(frequencies, int | float) else list(frequencies)
    if not freqs:
        raise ValueError("Pass at least one frequency in Hz.")
    if duration_s <= 0.01:
        raise ValueError(f"duration_s={duration_s} is too short; use at least 0.01 s.")
    (wave,) = _render(
        torch.tensor([freqs], dtype=torch.float64),  # (1, tones)
        lengths=torch.tensor([round(duration_s * sample_rate)]),
        amplitude=torch.tensor([[0.9]], dtype=torch.float64),
        phase=torch.zeros(1, len(freqs), dtype=torch.float64),
        noise_std=torch.tensor([[noise_std]], dtype=torch.float64),
        sample_rate=sample_rate,
        generator=generator,
    )
    return wave  # (samples,)


def dtmf_waveform(
    digit: int,
    *,
    duration_s: float = 0.25,
    noise_std: float = 0.0,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """The keypad tone of `digit` (two sines) at 8 kHz, shape (samples,) float32.

    Taught in 01_modalities: a digit you can hear. `synth_waveform` makes tones at other rates.
    """
    frequencies = dtmf_frequencies(digit)
    return synth_waveform(
        frequencies, duration_s=duration_s, noise_std=noise_std, generator=generator
    )


@dataclass(frozen=True)
class ToneVariation:
    """How much each random keypad tone may differ from the clean one.

    Taught in 06_any_to_any_search.
    """

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
    sample_rate: int = SAMPLE_RATE,
) -> list[torch.Tensor]:
    """One keypad tone per label with random duration, loudness, phases, noise and detuning.

    Taught in 06_any_to_any_search. Returns a list of (samples,) float32 waveforms, one per label
    (their lengths differ); each of a digit's two tones gets its own detuning and starting phase.
    """
    if labels.ndim != 1 or labels.dtype.is_floating_point:
        raise ValueError(f"labels must be integer digits (N,), got {labels.dtype} {labels.shape}.")
    if not 0.05 <= variation.min_duration_s <= variation.max_duration_s:
        raise ValueError("Durations must satisfy 0.05 s <= min_duration_s <= max_duration_s.")
    tones_hz = torch.tensor([dtmf_frequencies(int(y)) for y in labels], dtype=torch.float64)
    count = len(labels)

    def uniform(*shape: int, low: float, high: float) -> torch.Tensor:
        return low + (high - low) * torch.rand(*shape, generator=generator, dtype=torch.float64)

    duration_s = uniform(count, low=variation.min_duration_s, high=variation.max_duration_s)
    amplitude = uniform(count, 1, low=variation.min_amplitude, high=variation.max_amplitude)
    noise_std = amplitude * uniform(count, 1, low=0.0, high=variation.max_noise_std)
    detune = uniform(count, 2, low=-variation.max_detune, high=variation.max_detune)
    phase = uniform(count, 2, low=0.0, high=2 * math.pi)
    return _render(
        tones_hz * (1 + detune),  # (N, 2)
        lengths=(duration_s * sample_rate).round().long(),  # (N,)
        amplitude=amplitude,
        phase=phase,
        noise_std=noise_std,
        sample_rate=sample_rate,
        generator=generator,
    )


def make_tones(
    count: int, *, seed: int, variation: ToneVariation = ToneVariation()
) -> tuple[list[torch.Tensor], torch.Tensor]:
    """`count` random keypad tones (each (samples,), lengths differ) and labels (count,).

    Taught in 06_any_to_any_search. An equal share of each digit in shuffled order; the same seed
    gives the same waveforms.
    """
    if count < 10:
        raise ValueError(f"count={count} is too small: ask for at least 10 (one per digit).")
    generator = torch.Generator().manual_seed(seed)
    labels = (torch.arange(count) % 10)[torch.randperm(count, generator=generator)]  # (count,)
    return random_dtmf_waveforms(labels, generator, variation=variation), labels


# --- the spectrogram ----------------------------------------------------------------------------


def _power_db(
    batch: torch.Tensor, *, sample_rate: int, max_hz: float | None
) -> tuple[torch.Tensor, torch.Tensor]:
    """The one spectrogram: power in dB of waveforms (N, samples) -> (N, rows, frames), and Hz."""
    window = torch.hann_window(N_FFT, dtype=batch.dtype, device=batch.device)
    stft = torch.stft(
        batch, n_fft=N_FFT, hop_length=HOP_LENGTH, window=window, return_complex=True
    )  # (N, N_FFT // 2 + 1, frames)
    hz = torch.fft.rfftfreq(N_FFT, d=1 / sample_rate).to(torch.float32)  # (N_FFT // 2 + 1,)
    rows = len(hz) if max_hz is None else int((hz <= max_hz).sum())
    power_db = 10 * torch.log10(stft[:, :rows].abs().pow(2).clamp_min(1e-10))
    return power_db.clamp_min(SILENCE_DB).to(torch.float32), hz[:rows]


def _as_waveform(wave: torch.Tensor, *, name: str, sample_rate: int) -> torch.Tensor:
    wave = torch.as_tensor(wave, dtype=torch.float32)
    if wave.ndim != 1 or wave.numel() < N_FFT:
        raise ValueError(
            f"{name} has shape {tuple(wave.shape)}; a waveform must be (samples,) with at least "
            f"{N_FFT} samples ({N_FFT / sample_rate * 1000:.0f} ms at {sample_rate} Hz)."
        )
    return wave


def spectrogram(
    waveform: torch.Tensor, *, sample_rate: int = SAMPLE_RATE, max_hz: float | None = MAX_HZ
) -> tuple[torch.Tensor, torch.Tensor]:
    """One waveform's power in dB (rows, frames) and each row's frequency in Hz (rows,).

    Taught in 01_modalities: a short-time Fourier transform (Hann window), the picture audio
    encoders read. Rows stop at `max_hz` (None keeps them all, up to half the sample rate).
    """
    wave = _as_waveform(waveform, name="The waveform", sample_rate=sample_rate)
    power_db, hz = _power_db(wave[None], sample_rate=sample_rate, max_hz=max_hz)
    return power_db[0], hz  # (rows, frames), (rows,)


def spectrogram_batch(
    waveforms: Sequence[torch.Tensor], *, duration_s: float = CLIP_SECONDS
) -> torch.Tensor:
    """Spectrograms of 8 kHz tones of any length, (N, 65, 51) float32 at the defaults.

    Taught in 06_any_to_any_search. The same transform as `spectrogram`; each waveform is padded
    with silence (or cut) to `duration_s` first, so every spectrogram has the same frames.
    """
    if isinstance(waveforms, torch.Tensor) and waveforms.ndim == 1:
        raise ValueError("Pass a list of waveforms, e.g. [waveform], not a single waveform.")
    if len(waveforms) == 0:
        raise ValueError("Pass at least one waveform.")
    samples = int(round(duration_s * SAMPLE_RATE))
    batch = torch.zeros(len(waveforms), samples)  # (N, samples)
    for row, wave in enumerate(waveforms):
        wave = _as_waveform(wave, name=f"Waveform {row}", sample_rate=SAMPLE_RATE)
        kept = min(samples, wave.numel())
        batch[row, :kept] = wave[:kept]
    return _power_db(batch, sample_rate=SAMPLE_RATE, max_hz=MAX_HZ)[0]  # (N, rows, frames)


def tone_energies(
    waveform: torch.Tensor, frequencies: Sequence[float], *, sample_rate: int = SAMPLE_RATE
) -> torch.Tensor:
    """Energy of `waveform` (samples,) at each of `frequencies`, shape (len(frequencies),).

    Taught in 01_modalities.
    """
    time_s = torch.arange(waveform.numel(), dtype=torch.float64) / sample_rate
    freqs = torch.tensor(list(frequencies), dtype=torch.float64)
    phase = 2 * math.pi * freqs[:, None] * time_s[None, :]  # (tones, samples)
    signal = waveform.to(torch.float64)
    real = (torch.cos(phase) * signal).sum(dim=1)
    imaginary = (torch.sin(phase) * signal).sum(dim=1)
    return (real**2 + imaginary**2).to(torch.float32)  # (tones,)
