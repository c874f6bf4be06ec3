"""Seven modalities as real tensors, made offline, and toy encoders that map them into one space.

Nothing here downloads anything. Text goes through a word tokenizer written here over a tiny
vocabulary; audio is a telephone keypad tone (DTMF, the two-tone code a phone plays for each digit)
at 16 kHz and its spectrogram; video is a real MNIST digit sliding across a wider frame; depth and
thermal maps come from ray-casting a small scene (floor, back wall, a warm ball); the inertial
measurement unit (IMU) is a simulated accelerometer and gyroscope on someone who stands, then walks.

Taught in 01_modalities.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import nn

MODALITIES = ("text", "audio", "video", "image", "depth", "thermal", "imu")
SAMPLE_RATE = 16_000  # audio samples per second
GRAVITY = 9.80665  # standard gravity, m/s^2
NUMBER_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
SPECIAL_TOKENS = ("<pad>", "<unk>")
CORPUS = (
    "a handwritten seven on a white page.",
    "the phone plays a tone for every key.",
    "a warm ball rests on the cold floor.",
    "she walks with the phone in her pocket.",
    "the digit slides from left to right.",
    "zero one two three four five six seven eight nine",
)
# Telephone keypad (ITU-T Q.23): each key sounds one row tone plus one column tone, in Hz.
DTMF_ROWS = (697.0, 770.0, 852.0, 941.0)
DTMF_COLUMNS = (1209.0, 1336.0, 1477.0)
_DTMF_KEYS = {
    1: (0, 0), 2: (0, 1), 3: (0, 2),
    4: (1, 0), 5: (1, 1), 6: (1, 2),
    7: (2, 0), 8: (2, 1), 9: (2, 2),
    0: (3, 1),
}  # fmt: skip
_TOKEN = re.compile(r"[a-z]+|\d|[^\sa-z\d]")


# --- text ---------------------------------------------------------------------------------------


def split_words(sentence: str) -> list[str]:
    """Lower-case a sentence and cut it into words, single digits and punctuation marks."""
    return _TOKEN.findall(sentence.lower())


def build_vocabulary(sentences: Iterable[str] = CORPUS) -> dict[str, int]:
    """A word -> id table: special tokens, then the words, number words and digits, sorted."""
    words = {word for sentence in sentences for word in split_words(sentence)}
    words |= set(NUMBER_WORDS) | set("0123456789")
    ordered = list(SPECIAL_TOKENS) + sorted(words - set(SPECIAL_TOKENS))
    return {word: index for index, word in enumerate(ordered)}


def tokenise(
    sentence: str, *, vocabulary: Mapping[str, int] | None = None
) -> tuple[torch.Tensor, list[str]]:
    """Turn a sentence into token ids (n_tokens,) int64 and its tokens; unknown words map to <unk>.

    A word-level tokenizer over a vocabulary built here from `CORPUS` (no download). Real text
    encoders such as CLIP's use a learned subword vocabulary instead.
    """
    vocabulary = build_vocabulary() if vocabulary is None else vocabulary
    tokens = split_words(sentence)
    if not tokens:
        raise ValueError(f"{sentence!r} holds no words to tokenise; pass a non-empty sentence.")
    unknown = vocabulary["<unk>"]
    ids = torch.tensor([vocabulary.get(token, unknown) for token in tokens], dtype=torch.int64)
    return ids, tokens  # (n_tokens,)


# --- audio --------------------------------------------------------------------------------------


def dtmf_frequencies(digit: int) -> tuple[float, float]:
    """The (row, column) tone pair in Hz that a telephone keypad plays for `digit`."""
    if digit not in _DTMF_KEYS:
        raise ValueError(f"digit must be an integer from 0 to 9, got {digit!r}.")
    row, column = _DTMF_KEYS[digit]
    return DTMF_ROWS[row], DTMF_COLUMNS[column]


def synth_waveform(
    frequencies: float | Sequence[float],
    *,
    duration_s: float = 0.25,
    sample_rate: int = SAMPLE_RATE,
    noise_std: float = 0.0,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """A sum of sine tones (peak 0.9 before noise) with 5 ms fades, shape (samples,) float32."""
    freqs = [float(frequencies)] if isinstance(frequencies, int | float) else list(frequencies)
    if not freqs or any(not 0 < f < sample_rate / 2 for f in freqs):
        raise ValueError(
            f"frequencies {freqs} must be non-empty and each between 0 and the Nyquist "
            f"frequency {sample_rate / 2:g} Hz; raise sample_rate or lower the tone."
        )
    if duration_s <= 0.01:
        raise ValueError(f"duration_s={duration_s} is too short; use at least 0.01 s.")
    count = int(round(duration_s * sample_rate))
    time_s = torch.arange(count, dtype=torch.float64) / sample_rate  # (samples,)
    tones = torch.stack([torch.sin(2 * math.pi * f * time_s) for f in freqs])  # (tones, samples)
    wave = 0.9 * tones.mean(dim=0)
    fade = min(count // 2, int(0.005 * sample_rate))
    ramp = 0.5 - 0.5 * torch.cos(torch.linspace(0, math.pi, fade, dtype=torch.float64))
    wave[:fade] *= ramp
    wave[count - fade :] *= ramp.flip(0)
    if noise_std > 0:
        noise = torch.randn(count, generator=generator, dtype=torch.float64)
        wave = wave + noise_std * noise
    return wave.to(torch.float32)  # (samples,)


def dtmf_waveform(
    digit: int,
    *,
    duration_s: float = 0.25,
    sample_rate: int = SAMPLE_RATE,
    noise_std: float = 0.0,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """The keypad tone of `digit` (two sines), shape (samples,) float32: a digit you can hear."""
    return synth_waveform(
        dtmf_frequencies(digit),
        duration_s=duration_s,
        sample_rate=sample_rate,
        noise_std=noise_std,
        generator=generator,
    )


def spectrogram(
    waveform: torch.Tensor,
    *,
    sample_rate: int = SAMPLE_RATE,
    n_fft: int = 512,
    hop_length: int = 128,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Power in decibels, (n_fft // 2 + 1, frames) float32, and each row's frequency in Hz.

    A short-time Fourier transform (torch.stft, Hann window): the picture audio encoders read.
    """
    if waveform.ndim != 1 or waveform.numel() < n_fft:
        raise ValueError(
            f"spectrogram expects one waveform (samples,) with at least n_fft={n_fft} samples, "
            f"got shape {tuple(waveform.shape)}."
        )
    window = torch.hann_window(n_fft, dtype=waveform.dtype, device=waveform.device)
    stft = torch.stft(
        waveform, n_fft=n_fft, hop_length=hop_length, window=window, return_complex=True
    )  # (n_fft // 2 + 1, frames)
    power_db = 10 * torch.log10(stft.abs().pow(2).clamp_min(1e-10))
    frequencies = torch.fft.rfftfreq(n_fft, d=1 / sample_rate)  # (n_fft // 2 + 1,)
    return power_db.to(torch.float32), frequencies.to(torch.float32)


def tone_energies(
    waveform: torch.Tensor, frequencies: Sequence[float], *, sample_rate: int = SAMPLE_RATE
) -> torch.Tensor:
    """Energy of `waveform` (samples,) at each of `frequencies`, shape (len(frequencies),)."""
    time_s = torch.arange(waveform.numel(), dtype=torch.float64) / sample_rate
    freqs = torch.tensor(list(frequencies), dtype=torch.float64)
    phase = 2 * math.pi * freqs[:, None] * time_s[None, :]  # (tones, samples)
    signal = waveform.to(torch.float64)
    real = (torch.cos(phase) * signal).sum(dim=1)
    imaginary = (torch.sin(phase) * signal).sum(dim=1)
    return (real**2 + imaginary**2).to(torch.float32)  # (tones,)


# --- video --------------------------------------------------------------------------------------


def moving_digit_clip(image: torch.Tensor, *, frames: int = 8, width: int = 56) -> torch.Tensor:
    """A clip of `image` (28, 28) uint8 sliding left to right at a steady speed.

    Returns (frames, 28, width) uint8; the digit is never cropped, so each frame holds the same ink.
    """
    if image.shape != (28, 28) or image.dtype != torch.uint8:
        raise ValueError(
            f"moving_digit_clip expects one MNIST digit shaped (28, 28) uint8, got "
            f"{tuple(image.shape)} {image.dtype}."
        )
    if frames < 2 or width < 28:
        raise ValueError(f"Use frames >= 2 and width >= 28, got frames={frames}, width={width}.")
    clip = torch.zeros(frames, 28, width, dtype=torch.uint8)  # (frames, 28, width)
    for t in range(frames):
        left = round(t * (width - 28) / (frames - 1))
        clip[t, :, left : left + 28] = image
    return clip


# --- depth and thermal --------------------------------------------------------------------------


def depth_and_thermal_scene(
    *,
    height: int = 48,
    width: int = 64,
    camera_height_m: float = 1.2,
    tilt_deg: float = 12.0,
    field_of_view_deg: float = 60.0,
    ball_centre_m: tuple[float, float, float] = (0.3, 0.45, 3.0),
    ball_radius_m: float = 0.45,
    wall_distance_m: float = 6.0,
    floor_c: float = 18.0,
    wall_c: float = 21.0,
    ball_c: float = 36.0,
    noise_std_c: float = 0.05,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Ray-cast a floor, a back wall and a warm ball seen by one camera tilted down.

    Returns depth (height, width) float32 in metres (distance along the camera's axis, as depth
    cameras report it) and temperature (height, width) float32 in degrees Celsius, with sensor
    noise of `noise_std_c`. The ball looks cooler towards its rim, where it is seen at a grazing
    angle (its emissivity falls there).
    """
    if height < 2 or width < 2 or camera_height_m <= 0 or ball_radius_m <= 0:
        raise ValueError("Use a picture of at least 2 x 2 pixels, a positive height and radius.")
    focal = (width / 2) / math.tan(math.radians(field_of_view_deg) / 2)  # pixels
    tilt = math.radians(tilt_deg)
    right = torch.tensor([1.0, 0.0, 0.0], dtype=torch.float64)
    up = torch.tensor([0.0, math.cos(tilt), math.sin(tilt)], dtype=torch.float64)
    forward = torch.tensor([0.0, -math.sin(tilt), math.cos(tilt)], dtype=torch.float64)
    rows = (torch.arange(height, dtype=torch.float64) + 0.5 - height / 2) / focal
    cols = (torch.arange(width, dtype=torch.float64) + 0.5 - width / 2) / focal
    v, u = torch.meshgrid(-rows, cols, indexing="ij")  # (height, width) each
    # A ray's step t along `direction` moves exactly t metres along the camera axis: t is depth.
    direction = u[..., None] * right + v[..., None] * up + forward  # (height, width, 3)
    camera = torch.tensor([0.0, camera_height_m, 0.0], dtype=torch.float64)
    far = torch.full((height, width), math.inf, dtype=torch.float64)

    floor_t = torch.where(direction[..., 1] < 0, -camera_height_m / direction[..., 1], far)
    wall_t = torch.where(direction[..., 2] > 0, wall_distance_m / direction[..., 2], far)
    centre = torch.tensor(ball_centre_m, dtype=torch.float64)
    offset = camera - centre
    a = (direction**2).sum(-1)
    b = 2 * (direction * offset).sum(-1)
    c = (offset**2).sum() - ball_radius_m**2
    discriminant = b**2 - 4 * a * c
    ball_t = (-b - discriminant.clamp_min(0).sqrt()) / (2 * a)
    ball_t = torch.where((discriminant >= 0) & (ball_t > 0), ball_t, far)

    depth = torch.minimum(torch.minimum(floor_t, wall_t), ball_t)  # (height, width)
    if not torch.isfinite(depth).all():
        raise ValueError("Some rays hit nothing; tilt the camera less or narrow the field of view.")
    temperature = torch.where(floor_t <= wall_t, floor_c, wall_c) * torch.ones_like(depth)
    hit = camera + depth[..., None] * direction  # (height, width, 3)
    normal = (hit - centre) / ball_radius_m
    facing = -(normal * direction).sum(-1) / direction.norm(dim=-1)  # cosine to the viewer
    ball_temperature = wall_c + (ball_c - wall_c) * facing.clamp(0, 1) ** 0.25
    temperature = torch.where(ball_t <= depth, ball_temperature, temperature)
    if noise_std_c > 0:
        temperature = temperature + noise_std_c * torch.randn(
            height, width, generator=generator, dtype=torch.float64
        )
    return depth.to(torch.float32), temperature.to(torch.float32)


# --- inertial measurement unit ------------------------------------------------------------------


def imu_trace(
    *,
    seconds: float = 6.0,
    rate_hz: float = 100.0,
    rest_s: float = 1.0,
    step_hz: float = 1.8,
    accel_noise_std: float = 0.05,
    gyro_noise_std: float = 0.01,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """A phone held upright by someone who stands still for `rest_s`, then walks.

    Returns time (samples,) in s, accelerometer (samples, 3) in m/s^2 and gyroscope (samples, 3)
    in rad/s, axes x forward, y left, z up. At rest the accelerometer reads +g on z: it measures
    specific force (everything but gravity's free fall), so standing still it feels the floor
    pushing up. Walking adds a vertical bounce at `step_hz`, a forward surge, and a sideways sway
    and body rotation at half that rate (one stride is two steps).
    """
    if seconds <= rest_s or rate_hz <= 4 * step_hz:
        raise ValueError(
            f"Use seconds > rest_s and rate_hz > 4 * step_hz, got seconds={seconds}, "
            f"rest_s={rest_s}, rate_hz={rate_hz}, step_hz={step_hz}."
        )
    count = int(round(seconds * rate_hz))
    time_s = torch.arange(count, dtype=torch.float64) / rate_hz  # (samples,)
    walking = (time_s - rest_s).clamp_min(0)
    onset = (walking / 0.5).clamp(max=1.0)  # ramps from still to full stride within 0.5 s
    step = 2 * math.pi * step_hz * walking
    stride = step / 2
    accelerometer = torch.stack(
        [
            onset * 1.2 * torch.sin(step + 0.6),  # forward surge
            onset * 0.6 * torch.sin(stride),  # sideways sway
            GRAVITY + onset * 2.5 * torch.sin(step),  # gravity plus the vertical bounce
        ],
        dim=1,
    )  # (samples, 3)
    gyroscope = torch.stack(
        [
            onset * 0.25 * torch.sin(stride + 0.3),  # roll
            onset * 0.15 * torch.sin(step),  # pitch
            onset * 0.35 * torch.sin(stride),  # yaw
        ],
        dim=1,
    )  # (samples, 3)
    if accel_noise_std > 0 or gyro_noise_std > 0:
        noise = torch.randn(count, 6, generator=generator, dtype=torch.float64)
        accelerometer = accelerometer + accel_noise_std * noise[:, :3]
        gyroscope = gyroscope + gyro_noise_std * noise[:, 3:]
    return time_s.to(torch.float32), accelerometer.to(torch.float32), gyroscope.to(torch.float32)


# --- describing tensors -------------------------------------------------------------------------


def describe(name: str, tensor: torch.Tensor, *, unit: str = "") -> str:
    """One line: name, shape, dtype and value range (3 decimals), for the notebook's printouts."""
    low, high = tensor.min().item(), tensor.max().item()
    span = f"{low:.3f} to {high:.3f}" if tensor.dtype.is_floating_point else f"{low} to {high}"
    unit = f" {unit}" if unit else ""
    return f"{name:<22} shape {str(tuple(tensor.shape)):<15} {str(tensor.dtype):<14} {span}{unit}"


# --- separate encoders, one space ---------------------------------------------------------------


def toy_encoders(
    input_shapes: Mapping[str, Sequence[int]],
    *,
    vocabulary_size: int,
    shared_dim: int = 8,
    seed: int = 0,
) -> nn.ModuleDict:
    """One untrained encoder per modality, each ending in the same `shared_dim` numbers.

    "text" is a bag of token embeddings (input (batch, n_tokens) int64); every other modality is
    flattened and projected by one linear layer (input (batch, *shape) float32). All weights are
    drawn from a generator seeded with `seed`. Output: (batch, shared_dim) for every modality.
    """
    unknown = set(input_shapes) - set(MODALITIES)
    if unknown:
        raise ValueError(f"Unknown modalities {sorted(unknown)}; use names from {MODALITIES}.")
    generator = torch.Generator().manual_seed(seed)
    encoders = nn.ModuleDict()
    for name in MODALITIES:
        if name not in input_shapes:
            continue
        if name == "text":
            encoder: nn.Module = nn.EmbeddingBag(vocabulary_size, shared_dim, mode="mean")
            weight = encoder.weight
        else:
            size = math.prod(input_shapes[name])
            linear = nn.Linear(size, shared_dim)
            encoder = nn.Sequential(nn.Flatten(), linear)
            weight = linear.weight
            with torch.no_grad():
                linear.bias.zero_()
        with torch.no_grad():
            weight.copy_(
                torch.randn(weight.shape, generator=generator) / math.sqrt(weight.shape[1])
            )
        encoders[name] = encoder
    return encoders


def number_word_vector(token_ids: torch.Tensor, *, vocabulary: Mapping[str, int]) -> torch.Tensor:
    """Hand-built text encoder: counts of each number word or digit in the tokens, unit length.

    `token_ids` (n_tokens,) int64 -> (10,) float32; a sentence with no number in it gives zeros.
    """
    counts = torch.zeros(10)
    names = {index: word for word, index in vocabulary.items()}
    for token_id in token_ids.tolist():
        word = names.get(token_id, "")
        if word in NUMBER_WORDS:
            counts[NUMBER_WORDS.index(word)] += 1
        elif word.isdigit():
            counts[int(word)] += 1
    return F.normalize(counts, dim=0)  # (10,)


def dtmf_vector(waveform: torch.Tensor, *, sample_rate: int = SAMPLE_RATE) -> torch.Tensor:
    """Hand-built audio encoder: how much the tone sounds like each keypad digit, unit length.

    Measures the energy at the four row and three column tones, turns each group into shares,
    and scores digit d as row share x column share. (samples,) float32 -> (10,) float32.
    """
    rows = tone_energies(waveform, DTMF_ROWS, sample_rate=sample_rate)  # (4,)
    columns = tone_energies(waveform, DTMF_COLUMNS, sample_rate=sample_rate)  # (3,)
    rows, columns = rows / rows.sum(), columns / columns.sum()
    scores = torch.stack([rows[_DTMF_KEYS[d][0]] * columns[_DTMF_KEYS[d][1]] for d in range(10)])
    return F.normalize(scores, dim=0)  # (10,)


def digit_prototypes(images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """The mean image of each digit, centred and scaled to unit length: (10, 784) float32.

    Uses the labels: the hand-built image encoder below is a template matcher, not a learned one.
    """
    if images.ndim != 3 or images.shape[0] != labels.shape[0]:
        raise ValueError("Pass images (N, 28, 28) and labels (N,) of the same length.")
    flat = images.reshape(len(images), -1).to(torch.float32) / 255  # (N, 784)
    missing = [d for d in range(10) if not (labels == d).any()]
    if missing:
        raise ValueError(f"No images of digits {missing}; pass images of all ten digits.")
    means = torch.stack([flat[labels == d].mean(dim=0) for d in range(10)])  # (10, 784)
    return F.normalize(means - means.mean(dim=1, keepdim=True), dim=1)


def prototype_vector(
    images: torch.Tensor, *, prototypes: torch.Tensor, temperature: float = 0.05
) -> torch.Tensor:
    """Hand-built image encoder: softmax of cosine similarity to each digit's mean image.

    `images` (N, 28, 28) uint8 -> (N, 10) float32, each row of unit length.
    """
    flat = images.reshape(len(images), -1).to(torch.float32) / 255  # (N, 784)
    flat = F.normalize(flat - flat.mean(dim=1, keepdim=True), dim=1)
    similarity = flat @ prototypes.T  # (N, 10)
    return F.normalize(torch.softmax(similarity / temperature, dim=1), dim=1)


def cosine_search(
    query: torch.Tensor, database: torch.Tensor, *, k: int = 5
) -> tuple[torch.Tensor, torch.Tensor]:
    """The `k` rows of `database` (N, dim) most similar in cosine to `query` (dim,), best first.

    Returns scores (k,) and row indices (k,).
    """
    if query.ndim != 1 or database.ndim != 2 or database.shape[1] != query.shape[0]:
        raise ValueError(
            f"Pass one query (dim,) and a database (N, dim) of the same dim; got "
            f"{tuple(query.shape)} and {tuple(database.shape)}."
        )
    similarity = F.normalize(database, dim=1) @ F.normalize(query, dim=0)  # (N,)
    scores, indices = similarity.topk(min(k, len(database)))
    return scores, indices


def neighbour_agreement(
    embeddings: torch.Tensor, groups: torch.Tensor, *, across: torch.Tensor | None = None
) -> tuple[float, float]:
    """Share of items whose nearest other item (cosine) shares their group, and the chance level.

    `embeddings` (N, dim), `groups` (N,) int64 (a modality number or a digit). With `across` (N,),
    say each item's modality, only items of a different `across` value count as neighbours: "does
    a search from this item into the other modalities find its group first?". Chance is the share
    of the candidate neighbours that sit in an item's own group, averaged over items.
    """
    if embeddings.ndim != 2 or groups.shape != (len(embeddings),) or len(embeddings) < 2:
        raise ValueError("Pass embeddings (N, dim) and groups (N,) for at least two items.")
    candidate = ~torch.eye(len(groups), dtype=torch.bool)  # (N, N) an item is not its own neighbour
    if across is not None:
        if across.shape != groups.shape:
            raise ValueError("`across` needs one value per item, shaped like `groups`.")
        candidate &= across[:, None] != across[None, :]
    if not candidate.any(dim=1).all():
        raise ValueError("Some item has no candidate neighbour; check `across`.")
    unit = F.normalize(embeddings, dim=1)
    similarity = (unit @ unit.T).masked_fill(~candidate, -math.inf)  # (N, N)
    nearest = similarity.argmax(dim=1)  # (N,)
    agreement = (groups[nearest] == groups).float().mean().item()
    same = (groups[:, None] == groups[None, :]) & candidate  # (N, N)
    chance = (same.sum(dim=1) / candidate.sum(dim=1)).mean().item()
    return agreement, chance


# --- anchors, positives and negatives on a 2-D toy ----------------------------------------------


def toy_points(
    *,
    n_positives: int = 4,
    n_negatives: int = 6,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """An anchor (2,), positives (n_positives, 2) and negatives (n_negatives, 2), all mixed up.

    The anchor sits near the middle; positives and negatives are drawn from the same spread, so
    before any learning a positive is no closer to the anchor than a negative.
    """
    if n_positives < 1 or n_negatives < 1:
        raise ValueError("Use at least one positive and one negative.")
    anchor = 0.3 * torch.randn(2, generator=generator)  # (2,)
    others = torch.randn(n_positives + n_negatives, 2, generator=generator)  # (P + N, 2)
    return anchor, others[:n_positives], others[n_positives:]


def toy_distances(
    anchor: torch.Tensor, positives: torch.Tensor, negatives: torch.Tensor
) -> tuple[float, float]:
    """Mean anchor-positive and mean anchor-negative Euclidean distance."""
    positive = (positives - anchor).norm(dim=-1).mean().item()
    negative = (negatives - anchor).norm(dim=-1).mean().item()
    return positive, negative


ToyLoss = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


def run_toy_contrastive(
    anchor: torch.Tensor,
    positives: torch.Tensor,
    negatives: torch.Tensor,
    loss_fn: ToyLoss,
    *,
    steps: int = 15,
    lr: float = 0.1,
    encoder: nn.Module | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Take `steps` SGD steps on `loss_fn(anchor, positives, negatives)` and record every position.

    Without `encoder` the points themselves are the parameters (each point is its own embedding).
    With `encoder` the inputs stay fixed and the encoder's weights learn; the record holds its
    outputs. Returns the trajectory (steps + 1, 1 + P + N, 2), row 0 the anchor then positives
    then negatives, and the loss before each step (steps,). Taught in 01_modalities, where the
    same loop is written out by hand.
    """
    inputs = torch.cat([anchor[None], positives, negatives]).detach().clone()  # (1 + P + N, 2)
    if encoder is None:
        points = nn.Parameter(inputs)
        parameters: list[torch.Tensor] = [points]

        def embed() -> torch.Tensor:
            return points

    else:
        parameters = list(encoder.parameters())

        def embed() -> torch.Tensor:
            return encoder(inputs)

    optimizer = torch.optim.SGD(parameters, lr=lr)
    n_pos = len(positives)
    trajectory = [embed().detach().clone()]
    losses = []
    for _ in range(steps):
        z = embed()  # (1 + P + N, 2)
        loss = loss_fn(z[0], z[1 : 1 + n_pos], z[1 + n_pos :])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.detach())
        trajectory.append(embed().detach().clone())
    return torch.stack(trajectory), torch.stack(losses)


# --- figures ------------------------------------------------------------------------------------


def plot_modalities(
    *,
    tokens: Sequence[str],
    token_ids: torch.Tensor,
    vocabulary_size: int,
    waveform: torch.Tensor,
    sample_rate: int,
    spectrogram_db: torch.Tensor,
    spectrogram_hz: torch.Tensor,
    clip: torch.Tensor,
    image: torch.Tensor,
    depth: torch.Tensor,
    thermal: torch.Tensor,
    imu_time: torch.Tensor,
    accelerometer: torch.Tensor,
    gyroscope: torch.Tensor,
    dpi: int = 80,
):
    """One figure, one panel per modality (audio gets two: waveform and spectrogram)."""
    import matplotlib.pyplot as plt

    figure = plt.figure(figsize=(17, 7.5), dpi=dpi)
    grid = figure.add_gridspec(2, 4, hspace=0.45, wspace=0.5)

    ax = figure.add_subplot(grid[0, 0])
    one_hot = F.one_hot(token_ids, vocabulary_size)  # (n_tokens, vocabulary_size)
    ax.imshow(one_hot, cmap="Greys", aspect="auto", interpolation="nearest")
    ax.set_yticks(
        range(len(tokens)), [f"{t} ({i})" for t, i in zip(tokens, token_ids.tolist(), strict=True)]
    )
    ax.set_xlabel("vocabulary id")
    ax.set_title(f"text: {len(tokens)} token ids, one-hot")

    ax = figure.add_subplot(grid[0, 1])
    shown = int(0.02 * sample_rate)
    ax.plot(1000 * torch.arange(shown) / sample_rate, waveform[:shown], lw=1)
    ax.set_xlabel("time (ms)")
    ax.set_ylabel("amplitude")
    ax.set_title(f"audio: waveform ({waveform.numel()} samples)")

    ax = figure.add_subplot(grid[0, 2])
    frames = spectrogram_db.shape[1]
    limit = int((spectrogram_hz <= 2000).sum())
    ax.imshow(
        spectrogram_db[:limit],
        origin="lower",
        aspect="auto",
        cmap="magma",
        extent=(0, frames, 0, float(spectrogram_hz[limit - 1])),
    )
    ax.set_xlabel("frame")
    ax.set_ylabel("frequency (Hz)")
    ax.set_title("audio: spectrogram, 0-2 kHz (dB)")

    ax = figure.add_subplot(grid[0, 3])
    strip = torch.cat(list(clip[:: max(1, len(clip) // 4)]), dim=0)  # frames stacked vertically
    ax.imshow(strip, cmap="gray")
    ax.set_title(f"video: {len(clip)} frames (every other shown)")
    ax.set_xticks([])
    ax.set_yticks([])

    ax = figure.add_subplot(grid[1, 0])
    ax.imshow(image, cmap="gray")
    ax.set_title("image: one MNIST digit")
    ax.set_xticks([])
    ax.set_yticks([])

    for column, (values, label, cmap, title) in enumerate(
        [
            (depth, "metres", "viridis_r", "depth: floor, wall, ball"),
            (thermal, "°C", "inferno", "thermal: the same scene"),
        ],
        start=1,
    ):
        ax = figure.add_subplot(grid[1, column])
        shown_image = ax.imshow(values, cmap=cmap)
        figure.colorbar(shown_image, ax=ax, label=label, fraction=0.046)
        ax.set_title(title)
        ax.set_xticks([])
        ax.set_yticks([])

    inner = grid[1, 3].subgridspec(2, 1, hspace=0.15)
    for row, (values, label) in enumerate(
        [(accelerometer, "accel. (m/s²)"), (gyroscope, "gyro (rad/s)")]
    ):
        ax = figure.add_subplot(inner[row])
        for axis, name in enumerate("xyz"):
            ax.plot(imu_time, values[:, axis], lw=0.8, label=name)
        ax.set_ylabel(label, fontsize=8)
        if row == 0:
            ax.set_title("IMU: stand, then walk")
            ax.legend(fontsize=7, ncols=3, loc="center left")
            ax.set_xticklabels([])
        else:
            ax.set_xlabel("time (s)")
    return figure


def plot_toy_trajectory(
    trajectory: torch.Tensor, *, n_positives: int, margin: float | None = None, dpi: int = 80
):
    """The anchor, positives and negatives of a toy run: start hollow, end filled, paths drawn.

    `trajectory` is (steps + 1, 1 + P + N, 2) as `run_toy_contrastive` records it; with `margin`
    a dashed circle of that radius is drawn round the anchor's final position.
    """
    import matplotlib.pyplot as plt

    figure, ax = plt.subplots(figsize=(6, 6), dpi=dpi)
    if margin is not None:
        end = trajectory[-1, 0].tolist()
        ax.add_patch(
            plt.Circle(end, margin, fill=False, ls="--", color="grey", label=f"margin {margin:g}")
        )
    groups = [
        ("anchor", slice(0, 1), "black", "*"),
        ("positives", slice(1, 1 + n_positives), "tab:green", "o"),
        ("negatives", slice(1 + n_positives, None), "tab:red", "s"),
    ]
    for name, rows, colour, marker in groups:
        path = trajectory[:, rows]  # (steps + 1, n, 2)
        for i in range(path.shape[1]):
            ax.plot(path[:, i, 0], path[:, i, 1], color=colour, lw=0.8, alpha=0.6)
        ax.scatter(
            path[0, :, 0], path[0, :, 1], facecolors="none", edgecolors=colour, marker=marker
        )
        ax.scatter(path[-1, :, 0], path[-1, :, 1], color=colour, marker=marker, s=60, label=name)
    ax.set_aspect("equal")
    ax.set_title(f"{len(trajectory) - 1} steps: hollow = start, filled = end")
    ax.legend()
    return figure
