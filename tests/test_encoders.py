"""Text and audio items made offline, their encoders, and the cross-modal InfoNCE (06)."""

from __future__ import annotations

import random

import pytest
import torch
import torch.nn.functional as F

from helpers import encoders, losses, modalities


def test_texts_are_deterministic_balanced_and_labelled():
    texts, labels = encoders.make_texts(200, seed=3)
    again, labels_again = encoders.make_texts(200, seed=3)
    assert texts == again and torch.equal(labels, labels_again)
    assert torch.bincount(labels).tolist() == [20] * 10
    assert encoders.make_texts(200, seed=4)[0] != texts


def test_texts_without_typos_are_a_known_spelling_of_their_digit():
    texts, labels = encoders.make_texts(300, seed=0, typo_rate=0.0)
    for text, label in zip(texts, labels.tolist(), strict=True):
        word = text.strip()
        if " " in word:  # spaced out: "s e v e n"
            word = word.replace(" ", "")
        spellings = {w[label].lower() for w in encoders.NUMERALS.values()}
        assert word.lower() in spellings, (text, label)


def test_random_digit_text_styles_and_bad_input():
    rng = random.Random(0)
    assert encoders.random_digit_text(7, rng, styles=["digit"]).strip().replace(" ", "") == "7"
    with pytest.raises(ValueError, match="0 to 9"):
        encoders.random_digit_text(10, rng)
    with pytest.raises(ValueError, match="unknown styles"):
        encoders.random_digit_text(1, rng, styles=["klingon"])
    with pytest.raises(ValueError, match="at least 10"):
        encoders.make_texts(5, seed=0)


def test_character_ids_pad_and_mark_unknown_characters():
    ids = encoders.character_ids(["  ab ", "a☃"], max_length=6)
    assert ids.shape == (2, 6) and ids.dtype == torch.int64
    assert ids[0, 2:].eq(encoders.PAD_ID).all()  # "ab" after stripping, then padding
    assert ids[1, 1] == encoders.UNKNOWN_ID
    with pytest.raises(ValueError, match="list of texts"):
        encoders.character_ids("seven")
    with pytest.raises(ValueError, match="at least one character"):
        encoders.character_ids(["seven", "   "])


def test_text_encoder_shape_and_padding_does_not_matter():
    torch.manual_seed(0)
    encoder = encoders.CharTextEncoder(embedding_dim=16).eval()
    short = encoders.character_ids(["sieben"], max_length=8)
    long = encoders.character_ids(["sieben"], max_length=20)
    assert encoder(short).shape == (1, 16)
    assert torch.allclose(encoder(short), encoder(long), atol=1e-6)
    with pytest.raises(ValueError, match="character ids"):
        encoder(torch.zeros(2, 5))


def test_tones_are_deterministic_and_carry_their_digits_frequencies():
    waves, labels = encoders.make_tones(20, seed=5)
    again, labels_again = encoders.make_tones(20, seed=5)
    assert torch.equal(labels, labels_again)
    assert all(torch.equal(a, b) for a, b in zip(waves, again, strict=True))
    assert torch.bincount(labels).tolist() == [2] * 10
    quiet = encoders.ToneVariation(max_noise_std=0.0)
    waves, labels = encoders.make_tones(10, seed=1, variation=quiet)
    for wave, label in zip(waves, labels.tolist(), strict=True):
        variation = encoders.ToneVariation()
        seconds = len(wave) / encoders.AUDIO_SAMPLE_RATE
        assert variation.min_duration_s - 1e-3 <= seconds <= variation.max_duration_s + 1e-3
        # The loudest row tone and column tone of the spectrogram are nearest to the digit's own.
        power = encoders.spectrogram_batch([wave])[0].mean(dim=1)  # (65,) mean dB per row
        hz = torch.arange(len(power)) * encoders.AUDIO_SAMPLE_RATE / encoders.AUDIO_N_FFT
        found = []
        bands = [(modalities.DTMF_ROWS, 600, 1000), (modalities.DTMF_COLUMNS, 1150, 1550)]
        for tones, low, high in bands:
            inside = (hz > low) & (hz < high)
            peak = hz[inside][power[inside].argmax()].item()
            found.append(min(tones, key=lambda tone, peak=peak: abs(tone - peak)))
        assert tuple(found) == modalities.dtmf_frequencies(label)


def test_spectrogram_batch_shape_and_errors():
    waves, _ = encoders.make_tones(10, seed=0)
    batch = encoders.spectrogram_batch(waves[:3])
    assert batch.shape == (3, 65, 51) and batch.min() >= encoders.SILENCE_DB
    with pytest.raises(ValueError, match="list of waveforms"):
        encoders.spectrogram_batch(waves[0])
    with pytest.raises(ValueError, match="at least 256 samples"):
        encoders.spectrogram_batch([torch.zeros(100)])
    with pytest.raises(ValueError, match="at least one"):
        encoders.spectrogram_batch([])


def test_audio_encoder_shape_and_bad_input():
    waves, _ = encoders.make_tones(10, seed=0)
    encoder = encoders.SpectrogramAudioEncoder(embedding_dim=32)
    assert encoder(encoders.spectrogram_batch(waves)).shape == (10, 32)
    with pytest.raises(ValueError, match="spectrograms"):
        encoder(torch.zeros(2, 64, 51))


def test_encode_runs_in_eval_mode_and_restores_the_mode():
    encoder = encoders.CharTextEncoder()
    encoder.train()
    ids = encoders.character_ids(["seven", "VII"])
    out = encoders.encode(encoder, ids, batch_size=1)
    assert out.shape == (2, 64) and not out.requires_grad and encoder.training


def naive_cross_modal_info_nce(z_a, z_b, labels, temperature):
    """Loop over rows and columns, one anchor at a time."""
    z_a, z_b = F.normalize(z_a, dim=1), F.normalize(z_b, dim=1)
    n = len(z_a)
    directions = []
    for queries, keys in ((z_a, z_b), (z_b, z_a)):
        total = 0.0
        for i in range(n):
            scores = torch.stack([queries[i] @ keys[j] / temperature for j in range(n)])
            log_prob = scores - torch.logsumexp(scores, dim=0)
            positives = [
                j
                for j in range(n)
                if (labels is None and j == i) or (labels is not None and labels[j] == labels[i])
            ]
            total = total - sum(log_prob[j] for j in positives) / len(positives)
        directions.append(total / n)
    return (directions[0] + directions[1]) / 2


@pytest.mark.parametrize("supervised", [True, False])
def test_cross_modal_info_nce_matches_a_naive_loop(supervised):
    generator = torch.Generator().manual_seed(0)
    z_a = torch.randn(12, 8, generator=generator, dtype=torch.float64)
    z_b = torch.randn(12, 8, generator=generator, dtype=torch.float64)
    labels = torch.randint(0, 4, (12,), generator=generator) if supervised else None
    loss = losses.CrossModalInfoNCELoss(temperature=0.2)(z_a, z_b, labels)
    expected = naive_cross_modal_info_nce(z_a, z_b, labels, 0.2)
    assert torch.allclose(loss, expected, atol=1e-10)


def test_cross_modal_info_nce_is_small_for_matched_pairs_and_checks_input():
    z = torch.eye(4)
    loss_fn = losses.CrossModalInfoNCELoss(temperature=0.05)
    assert loss_fn(z, z) < 1e-6
    assert loss_fn(z, z.roll(1, dims=0)) > 10
    with pytest.raises(ValueError, match="alike"):
        loss_fn(torch.zeros(4, 3), torch.zeros(5, 3))
    with pytest.raises(ValueError, match="integer digits"):
        loss_fn(z, z, torch.ones(4))
    with pytest.raises(ValueError, match="positive"):
        losses.CrossModalInfoNCELoss(temperature=0)
