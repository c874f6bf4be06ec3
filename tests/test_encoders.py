"""The encoders of the other modalities (helpers.model) and the cross-modal InfoNCE (01, 06)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from helpers import evaluation, losses
from helpers.modalities import MODALITIES, audio, text
from helpers.model import CharTextEncoder, SpectrogramAudioEncoder, toy_encoders


def seeded(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_toy_encoders_map_every_modality_to_the_shared_size():
    shapes = {"text": (5,), "audio": (65, 32), "video": (8, 28, 56), "image": (28, 28)}
    shapes |= {"depth": (48, 64), "thermal": (48, 64), "imu": (600, 6)}
    encoders = toy_encoders(shapes, shared_dim=8, seed=0)
    again = toy_encoders(shapes, shared_dim=8, seed=0)
    assert list(encoders) == list(MODALITIES)
    with torch.no_grad():
        for name, shape in shapes.items():
            batch = (
                torch.randint(1, text.VOCABULARY_SIZE, (3, *shape), generator=seeded())
                if name == "text"
                else torch.randn(3, *shape, generator=seeded())
            )
            out = encoders[name](batch)
            assert out.shape == (3, 8)
            assert torch.equal(out, again[name](batch))
    with pytest.raises(ValueError, match="Unknown modalities"):
        toy_encoders({"smell": (3,)})


def test_toy_text_encoder_ignores_padding():
    encoder = toy_encoders({"text": (1,)}, seed=0)["text"]
    with torch.no_grad():
        short, long = encoder(text.tokenise(["seven"])), encoder(text.tokenise(["seven"], length=9))
    assert torch.allclose(short, long)


def test_text_encoder_embeds_a_text_the_same_whatever_the_padding():
    torch.manual_seed(0)
    encoder = CharTextEncoder(embedding_dim=16).eval()
    exact = text.tokenise(["sieben"])  # (1, 6): no padding at all
    long = text.tokenise(["sieben"], length=20)
    batch = text.tokenise(["sieben", "a much longer text than that"])
    with torch.no_grad():
        assert encoder(exact).shape == (1, 16)
        assert torch.allclose(encoder(exact), encoder(long), atol=1e-6)
        assert torch.allclose(encoder(exact), encoder(batch)[:1], atol=1e-6)
    with pytest.raises(ValueError, match="character ids"):
        encoder(torch.zeros(2, 5))


def test_audio_encoder_shape_and_bad_input():
    waves, _ = audio.make_tones(10, seed=0)
    encoder = SpectrogramAudioEncoder(embedding_dim=32)
    assert encoder(audio.spectrogram_batch(waves)).shape == (10, 32)
    with pytest.raises(ValueError, match="spectrograms"):
        encoder(torch.zeros(2, 64, 51))


def test_encode_runs_the_text_encoder_in_eval_mode_and_restores_the_mode():
    encoder = CharTextEncoder()
    encoder.train()
    ids = text.tokenise(["seven", "VII"])
    out = evaluation.encode(encoder, ids, batch_size=1)
    assert out.shape == (2, 64) and not out.requires_grad and encoder.training
    with torch.no_grad():
        assert torch.allclose(out, encoder.eval()(ids), atol=1e-6)


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
