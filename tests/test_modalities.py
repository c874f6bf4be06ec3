"""The seven synthetic modalities have the shapes, units and physics they claim; the toys behave."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from helpers import modalities as M


def seeded(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def margin_loss(anchor, positives, negatives, margin=2.0):
    pull = (positives - anchor).pow(2).sum(dim=1).mean()
    push = F.relu(margin - (negatives - anchor).norm(dim=1)).pow(2).mean()
    return pull + push


# --- text ---


def test_tokenise_gives_int64_ids_and_maps_unknown_words_to_unk():
    vocabulary = M.build_vocabulary()
    ids, tokens = M.tokenise("A handwritten seven on a grey page.", vocabulary=vocabulary)
    assert tokens == ["a", "handwritten", "seven", "on", "a", "grey", "page", "."]
    assert ids.dtype == torch.int64 and ids.shape == (8,)
    assert ids[0] == ids[4] == vocabulary["a"]
    assert ids[5] == vocabulary["<unk>"]
    assert all(word in vocabulary for word in M.NUMBER_WORDS)


def test_vocabulary_is_deterministic_and_starts_with_special_tokens():
    first, second = M.build_vocabulary(), M.build_vocabulary(reversed(M.CORPUS))
    assert first == second
    assert [first[t] for t in M.SPECIAL_TOKENS] == [0, 1]
    assert sorted(first.values()) == list(range(len(first)))


def test_tokenise_rejects_an_empty_sentence():
    with pytest.raises(ValueError, match="no words"):
        M.tokenise("   ")


# --- audio ---


def test_waveform_shape_dtype_and_determinism():
    one = M.dtmf_waveform(5, duration_s=0.25, noise_std=0.1, generator=seeded(3))
    two = M.dtmf_waveform(5, duration_s=0.25, noise_std=0.1, generator=seeded(3))
    other = M.dtmf_waveform(5, duration_s=0.25, noise_std=0.1, generator=seeded(4))
    assert one.shape == (4000,) and one.dtype == torch.float32
    assert torch.equal(one, two) and not torch.equal(one, other)
    assert M.dtmf_waveform(5).abs().max() <= 0.9 + 1e-6


@pytest.mark.parametrize("frequency", [440.0, 1000.0, 3150.0])
def test_spectrogram_peaks_at_the_synthesised_frequency(frequency):
    power_db, hz = M.spectrogram(M.synth_waveform(frequency))
    assert power_db.shape == (257, 32) and hz.shape == (257,)
    peak = hz[power_db.mean(dim=1).argmax()].item()
    assert abs(peak - frequency) <= (hz[1] - hz[0]).item() / 2


def test_dtmf_spectrogram_shows_both_keypad_tones():
    for digit in range(10):
        power_db, hz = M.spectrogram(M.dtmf_waveform(digit))
        loudest = sorted(hz[power_db.mean(dim=1).topk(2).indices].tolist())
        for found, played in zip(loudest, M.dtmf_frequencies(digit), strict=True):
            assert abs(found - played) <= 15.625


def test_audio_inputs_are_checked():
    with pytest.raises(ValueError):
        M.dtmf_frequencies(10)
    with pytest.raises(ValueError, match="Nyquist"):
        M.synth_waveform(9000.0)
    with pytest.raises(ValueError):
        M.spectrogram(torch.zeros(100))


# --- video ---


def test_moving_digit_clip_keeps_the_ink_and_moves_right():
    image = torch.zeros(28, 28, dtype=torch.uint8)
    image[10:18, 12:16] = 200
    clip = M.moving_digit_clip(image, frames=8, width=56)
    assert clip.shape == (8, 28, 56) and clip.dtype == torch.uint8
    assert (clip.sum(dim=(1, 2)) == image.sum()).all()
    assert torch.equal(clip[0, :, :28], image) and torch.equal(clip[-1, :, 28:], image)
    columns = torch.arange(56, dtype=torch.float32)
    centre = (clip.float().sum(dim=1) * columns).sum(dim=1) / clip.float().sum(dim=(1, 2))
    assert (centre.diff() > 0).all()


def test_moving_digit_clip_rejects_a_float_image():
    with pytest.raises(ValueError, match="uint8"):
        M.moving_digit_clip(torch.zeros(28, 28))


# --- depth and thermal ---


def test_depth_and_thermal_scene_is_physical_and_deterministic():
    depth, thermal = M.depth_and_thermal_scene(generator=seeded(2))
    again = M.depth_and_thermal_scene(generator=seeded(2))
    assert depth.shape == thermal.shape == (48, 64)
    assert depth.dtype == thermal.dtype == torch.float32
    assert torch.isfinite(depth).all() and (depth > 0).all()
    assert torch.equal(depth, again[0]) and torch.equal(thermal, again[1])
    # the camera looks down at the floor: the bottom row is nearer than the top row (the wall)
    assert depth[-1].mean() < depth[0].mean()
    assert depth[0].max() <= 6.0 + 1e-4
    # the warm ball: the hottest pixel is near its temperature, nearer than the wall
    hottest = thermal.argmax()
    assert 35.0 < thermal.flatten()[hottest] < 36.5
    assert depth.flatten()[hottest] < 3.0
    assert abs(thermal[-1].mean().item() - 18.0) < 0.1  # the floor


def test_scene_without_noise_has_exact_surface_temperatures():
    _, thermal = M.depth_and_thermal_scene(noise_std_c=0.0)
    assert thermal[0, 0].item() == pytest.approx(21.0)
    assert thermal[-1, 0].item() == pytest.approx(18.0)


# --- inertial measurement unit ---


def test_imu_reads_gravity_at_rest_and_nothing_on_the_gyroscope():
    time_s, accelerometer, gyroscope = M.imu_trace(generator=seeded(3))
    assert time_s.shape == (600,) and accelerometer.shape == gyroscope.shape == (600, 3)
    assert accelerometer.dtype == torch.float32
    at_rest = time_s < 1.0
    assert accelerometer[at_rest].norm(dim=1).mean().item() == pytest.approx(9.81, abs=0.02)
    assert accelerometer[at_rest, 2].mean().item() == pytest.approx(M.GRAVITY, abs=0.02)
    assert gyroscope[at_rest].mean(dim=0).abs().max() < 0.01
    assert accelerometer[~at_rest, 2].std() > 1.0  # walking bounces


def test_imu_is_deterministic_with_a_seed():
    one, two = M.imu_trace(generator=seeded(1)), M.imu_trace(generator=seeded(1))
    assert all(torch.equal(a, b) for a, b in zip(one, two, strict=True))


def test_exercise_3_finds_the_walking_pace_with_an_fft():
    for step_hz in (1.6, 1.8, 2.0):
        time_s, accelerometer, _ = M.imu_trace(step_hz=step_hz, generator=seeded(3))
        walking = accelerometer[time_s >= 1.0, 2]
        walking = walking - walking.mean()
        frequencies = torch.fft.rfftfreq(len(walking), d=0.01)
        pace = frequencies[torch.fft.rfft(walking).abs().argmax()].item()
        assert pace == pytest.approx(step_hz, abs=1e-4)


# --- encoders and search ---


def test_toy_encoders_map_every_modality_to_the_shared_size():
    shapes = {"text": (5,), "audio": (257, 32), "video": (8, 28, 56), "image": (28, 28)}
    shapes |= {"depth": (48, 64), "thermal": (48, 64), "imu": (600, 6)}
    encoders = M.toy_encoders(shapes, vocabulary_size=40, shared_dim=8, seed=0)
    again = M.toy_encoders(shapes, vocabulary_size=40, shared_dim=8, seed=0)
    assert list(encoders) == list(M.MODALITIES)
    with torch.no_grad():
        for name, shape in shapes.items():
            batch = (
                torch.randint(40, (3, *shape), generator=seeded())
                if name == "text"
                else torch.randn(3, *shape, generator=seeded())
            )
            out = encoders[name](batch)
            assert out.shape == (3, 8)
            assert torch.equal(out, again[name](batch))
    with pytest.raises(ValueError, match="Unknown modalities"):
        M.toy_encoders({"smell": (3,)}, vocabulary_size=5)


def test_hand_built_text_and_audio_encoders_point_at_the_right_digit():
    vocabulary = M.build_vocabulary()
    for digit, word in enumerate(M.NUMBER_WORDS):
        ids, _ = M.tokenise(f"show me a {word}", vocabulary=vocabulary)
        text = M.number_word_vector(ids, vocabulary=vocabulary)
        assert text.argmax() == digit and text.norm().item() == pytest.approx(1.0)
        ids, _ = M.tokenise(f"digit {digit}", vocabulary=vocabulary)
        assert M.number_word_vector(ids, vocabulary=vocabulary).argmax() == digit


def test_exercise_1_keypad_tone_survives_moderate_noise():
    generator = seeded(6)
    for digit in range(10):
        for noise_std in (0.3, 3.0):
            tone = M.dtmf_waveform(digit, noise_std=noise_std, generator=generator)
            assert M.dtmf_vector(tone).argmax() == digit


def test_prototype_encoder_reads_its_own_prototypes():
    generator = seeded(0)
    images = torch.randint(0, 256, (50, 28, 28), generator=generator, dtype=torch.uint8)
    labels = torch.arange(50) % 10
    prototypes = M.digit_prototypes(images, labels)
    assert prototypes.shape == (10, 784)
    means = torch.stack([images[labels == d].float().mean(dim=0) for d in range(10)])
    scores = M.prototype_vector(means.round().to(torch.uint8), prototypes=prototypes)
    assert scores.shape == (10, 10)
    assert torch.equal(scores.argmax(dim=1), torch.arange(10))
    with pytest.raises(ValueError, match="all ten digits"):
        M.digit_prototypes(images[:5], labels[:5])


def test_cosine_search_ranks_best_first_and_finds_an_exact_match():
    database = torch.randn(20, 6, generator=seeded(1))
    scores, rows = M.cosine_search(3 * database[7], database, k=4)
    assert rows[0] == 7 and scores[0].item() == pytest.approx(1.0)
    assert (scores.diff() <= 0).all()
    with pytest.raises(ValueError):
        M.cosine_search(torch.zeros(5), database)


def test_neighbour_agreement_against_a_naive_loop():
    embeddings = torch.randn(30, 4, generator=seeded(2))
    groups = torch.arange(30) % 3
    agreement, chance = M.neighbour_agreement(embeddings, groups)
    hits = 0
    for i in range(30):
        best = max(
            (j for j in range(30) if j != i),
            key=lambda j: F.cosine_similarity(embeddings[i], embeddings[j], dim=0).item(),
        )
        hits += int(groups[best] == groups[i])
    assert agreement == pytest.approx(hits / 30)
    assert chance == pytest.approx(9 / 29)


def test_neighbour_agreement_across_modalities_only_searches_the_others():
    # two modalities, three digits; each modality sits in its own corner, so a plain search finds
    # the own modality, while a search into the other modality finds the same digit
    text = torch.cat([torch.eye(3), torch.full((3, 1), 5.0)], dim=1)  # a shared text direction
    image = torch.cat([torch.eye(3), torch.full((3, 1), -5.0)], dim=1)  # the opposite one
    embeddings = torch.cat([text, image])  # (6, 4)
    modality = torch.tensor([0, 0, 0, 1, 1, 1])
    digit = torch.tensor([0, 1, 2, 0, 1, 2])
    assert M.neighbour_agreement(embeddings, modality) == (1.0, pytest.approx(2 / 5))
    agreement, chance = M.neighbour_agreement(embeddings, digit, across=modality)
    assert agreement == 1.0 and chance == pytest.approx(1 / 3)
    with pytest.raises(ValueError, match="no candidate"):
        M.neighbour_agreement(embeddings, digit, across=torch.zeros(6, dtype=torch.int64))


# --- anchors, positives and negatives ---


def test_toy_contrastive_steps_pull_positives_in_and_push_negatives_out():
    anchor, positives, negatives = M.toy_points(generator=seeded(0))
    assert anchor.shape == (2,) and positives.shape == (4, 2) and negatives.shape == (6, 2)
    trajectory, losses = M.run_toy_contrastive(anchor, positives, negatives, margin_loss, steps=20)
    assert trajectory.shape == (21, 11, 2) and losses.shape == (20,)
    assert torch.equal(trajectory[0], torch.cat([anchor[None], positives, negatives]))
    before = M.toy_distances(trajectory[0, 0], trajectory[0, 1:5], trajectory[0, 5:])
    after = M.toy_distances(trajectory[-1, 0], trajectory[-1, 1:5], trajectory[-1, 5:])
    assert after[0] < 0.5 * before[0]
    assert after[1] > before[1]
    assert (losses.diff() < 0).all()


def test_toy_run_matches_a_hand_written_loop_and_is_deterministic():
    anchor, positives, negatives = M.toy_points(generator=seeded(5))
    points = torch.nn.Parameter(torch.cat([anchor[None], positives, negatives]))
    optimizer = torch.optim.SGD([points], lr=0.1)
    for _ in range(5):
        loss = margin_loss(points[0], points[1:5], points[5:])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    trajectory, _ = M.run_toy_contrastive(anchor, positives, negatives, margin_loss, steps=5)
    assert torch.equal(trajectory[-1], points.detach())
    again, _ = M.run_toy_contrastive(anchor, positives, negatives, margin_loss, steps=5)
    assert torch.equal(trajectory, again)
    assert torch.equal(anchor, M.toy_points(generator=seeded(5))[0])  # inputs left untouched


def test_exercise_2_pull_only_loss_collapses_a_shared_encoder():
    anchor, positives, negatives = M.toy_points(generator=seeded(0))

    def pull_only(a, p, n):
        return (p - a).pow(2).sum(dim=1).mean()

    torch.manual_seed(0)
    trajectory, _ = M.run_toy_contrastive(
        anchor, positives, negatives, pull_only, steps=100, encoder=torch.nn.Linear(2, 2)
    )
    start = M.toy_distances(trajectory[0, 0], trajectory[0, 1:5], trajectory[0, 5:])
    end = M.toy_distances(trajectory[-1, 0], trajectory[-1, 1:5], trajectory[-1, 5:])
    assert end[1] < 0.1 * start[1]  # the negatives collapse with everything else

    torch.manual_seed(0)
    kept, _ = M.run_toy_contrastive(
        anchor, positives, negatives, margin_loss, steps=100, encoder=torch.nn.Linear(2, 2)
    )
    kept_end = M.toy_distances(kept[-1, 0], kept[-1, 1:5], kept[-1, 5:])
    assert kept_end[1] > 0.5 * start[1]  # with negatives in the loss they stay apart


def test_describe_prints_shape_dtype_and_range():
    line = M.describe("x", torch.tensor([[0.5, -1.25]]), unit="m")
    assert "(1, 2)" in line and "torch.float32" in line and "-1.250 to 0.500 m" in line
    assert math.isclose(M.GRAVITY, 9.80665)
