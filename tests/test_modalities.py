"""The made-offline modalities have the shapes, units and physics they claim; the toys behave."""

from __future__ import annotations

import math
import random

import pytest
import torch
import torch.nn.functional as F

from helpers import modalities
from helpers.modalities import audio, concepts, imu, scenes, text, toy


def seeded(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def margin_loss(anchor, positives, negatives, margin=2.0):
    pull = (positives - anchor).pow(2).sum(dim=1).mean()
    push = F.relu(margin - (negatives - anchor).norm(dim=1)).pow(2).mean()
    return pull + push


# --- text: spellings, held-out words, the tokeniser ---


def test_texts_are_deterministic_balanced_and_labelled():
    texts, labels = text.make_texts(200, seed=3)
    again, labels_again = text.make_texts(200, seed=3)
    assert texts == again and torch.equal(labels, labels_again)
    assert torch.bincount(labels).tolist() == [20] * 10
    assert text.make_texts(200, seed=4)[0] != texts


def test_texts_without_typos_are_a_known_spelling_of_their_digit():
    texts, labels = text.make_texts(300, seed=0, typo_rate=0.0)
    for item, label in zip(texts, labels.tolist(), strict=True):
        word = item.strip()
        if " " in word:  # spaced out: "s e v e n"
            word = word.replace(" ", "")
        assert word.lower() in {w.lower() for w in text.spellings()[label]}, (item, label)


def test_spellings_count_words_that_differ_only_in_case_once():
    table = text.spellings()
    assert len(table[6]) == 5  # "six" is both English and French
    assert all(len(words) == 6 for digit, words in table.items() if digit != 6)
    assert text.spellings(["digit"]) == {d: (str(d),) for d in range(10)}
    with pytest.raises(ValueError, match="unknown styles"):
        text.spellings(["klingon"])


def test_a_held_out_style_shares_no_word_with_training():
    train, held_out = text.split_spellings(held_out_styles=["french"])
    assert sorted(held_out) == [0, 1, 2, 3, 4, 5, 7, 8, 9]  # French "six" is trained as English
    assert held_out[7] == ("sept",) and "sept" not in train[7]
    for digit, words in held_out.items():
        assert not {w.lower() for w in words} & {w.lower() for w in train[digit]}
    texts, labels = text.make_texts(90, seed=0, spellings=held_out, typo_rate=0.0)
    assert sorted(set(labels.tolist())) == sorted(held_out)  # only the digits it spells
    assert torch.bincount(labels, minlength=10)[6] == 0


def test_random_held_out_spellings_are_seeded_and_keep_the_digit_for_training():
    train, held_out = text.split_spellings(held_out_per_digit=2, seed=5)
    again = text.split_spellings(held_out_per_digit=2, seed=5)
    assert (train, held_out) == again
    assert text.split_spellings(held_out_per_digit=2, seed=6) != again
    for digit in range(10):
        assert len(held_out[digit]) == 2 and str(digit) in train[digit]
        assert set(held_out[digit]).isdisjoint(train[digit])
        assert sorted(held_out[digit] + train[digit]) == sorted(text.spellings()[digit])
    with pytest.raises(ValueError, match="one way"):
        text.split_spellings()
    with pytest.raises(ValueError, match="one way"):
        text.split_spellings(held_out_styles=["roman"], held_out_per_digit=1)
    with pytest.raises(ValueError, match="at least one left"):
        text.split_spellings(held_out_per_digit=5)


def test_random_digit_text_and_make_texts_reject_bad_input():
    rng = random.Random(0)
    only_digits = text.spellings(["digit"])
    assert text.random_digit_text(7, rng, spellings=only_digits).strip().replace(" ", "") == "7"
    with pytest.raises(ValueError, match="0 to 9"):
        text.random_digit_text(10, rng)
    with pytest.raises(ValueError, match="no word for digit 3"):
        text.random_digit_text(3, rng, spellings={1: ("one",)})
    with pytest.raises(ValueError, match="at least 10"):
        text.make_texts(5, seed=0)
    with pytest.raises(ValueError, match="spellings must map"):
        text.make_texts(20, seed=0, spellings={12: ("twelve",)})


def test_tokenise_pads_marks_unknown_characters_and_decodes_back():
    ids = text.tokenise(["  ab ", "a☃"], length=6)
    assert ids.shape == (2, 6) and ids.dtype == torch.int64
    assert ids[0, 2:].eq(text.PAD_ID).all()  # "ab" after stripping, then padding
    assert ids[1, 1] == text.UNKNOWN_ID
    assert int(ids.max()) < text.VOCABULARY_SIZE
    assert text.decode(ids) == ["ab", "a?"]
    sentence = "A handwritten seven on a grey page."
    assert text.decode(text.tokenise([sentence])) == [sentence]  # pads to the longest by default


def test_tokenise_rejects_bad_input_instead_of_cutting_text():
    with pytest.raises(ValueError, match="list of texts"):
        text.tokenise("seven")
    with pytest.raises(ValueError, match="at least one character"):
        text.tokenise(["seven", "   "])
    with pytest.raises(ValueError, match="raise length"):
        text.tokenise(["seventeen"], length=4)


# --- audio: one synthesiser, one spectrogram ---


def test_waveform_shape_dtype_and_determinism():
    one = audio.dtmf_waveform(5, duration_s=0.25, noise_std=0.1, generator=seeded(3))
    two = audio.dtmf_waveform(5, duration_s=0.25, noise_std=0.1, generator=seeded(3))
    other = audio.dtmf_waveform(5, duration_s=0.25, noise_std=0.1, generator=seeded(4))
    assert one.shape == (2000,) and one.dtype == torch.float32  # 0.25 s at 8 kHz
    assert torch.equal(one, two) and not torch.equal(one, other)
    assert audio.dtmf_waveform(5).abs().max() <= 0.9 + 1e-6


def test_a_keypad_tone_has_its_energy_at_its_two_frequencies():
    for digit in range(10):
        wave = audio.dtmf_waveform(digit)
        played = audio.dtmf_frequencies(digit)
        every = audio.DTMF_ROWS + audio.DTMF_COLUMNS
        energies = audio.tone_energies(wave, every)  # (7,)
        loudest = sorted(every[i] for i in energies.topk(2).indices.tolist())
        assert tuple(loudest) == played
        assert energies.topk(2).values.min() > 100 * energies.topk(3).values[-1]


@pytest.mark.parametrize("frequency", [440.0, 1000.0, 3150.0])
def test_spectrogram_peaks_at_the_synthesised_frequency(frequency):
    power_db, hz = audio.spectrogram(audio.synth_waveform(frequency), max_hz=None)
    assert power_db.shape == (129, 32) and hz.shape == (129,)
    peak = hz[power_db.mean(dim=1).argmax()].item()
    assert abs(peak - frequency) <= (hz[1] - hz[0]).item() / 2


def test_dtmf_spectrogram_shows_both_keypad_tones_below_2_khz():
    for digit in range(10):
        power_db, hz = audio.spectrogram(audio.dtmf_waveform(digit))
        assert power_db.shape[0] == audio.SPECTROGRAM_ROWS == 65 and hz[-1] == audio.MAX_HZ
        loudest = sorted(hz[power_db.mean(dim=1).topk(2).indices].tolist())
        for found, played in zip(loudest, audio.dtmf_frequencies(digit), strict=True):
            assert abs(found - played) <= (hz[1] - hz[0]).item() / 2


def test_tones_are_deterministic_and_carry_their_digits_frequencies():
    waves, labels = audio.make_tones(20, seed=5)
    again, labels_again = audio.make_tones(20, seed=5)
    assert torch.equal(labels, labels_again)
    assert all(torch.equal(a, b) for a, b in zip(waves, again, strict=True))
    assert torch.bincount(labels).tolist() == [2] * 10
    variation = audio.ToneVariation(max_noise_std=0.0)
    waves, labels = audio.make_tones(10, seed=1, variation=variation)
    for wave, label in zip(waves, labels.tolist(), strict=True):
        seconds = len(wave) / audio.SAMPLE_RATE
        assert variation.min_duration_s - 1e-3 <= seconds <= variation.max_duration_s + 1e-3
        # The spectrogram's loudest row in each band is nearest the digit's own tone, detuned.
        power_db, hz = audio.spectrogram(wave)
        power = power_db.mean(dim=1)  # (65,) mean dB per row
        found = []
        for tones, low, high in [(audio.DTMF_ROWS, 600, 1000), (audio.DTMF_COLUMNS, 1150, 1550)]:
            inside = (hz > low) & (hz < high)
            peak = hz[inside][power[inside].argmax()].item()
            found.append(min(tones, key=lambda tone, peak=peak: abs(tone - peak)))
        assert tuple(found) == audio.dtmf_frequencies(label)


def test_the_batch_spectrogram_is_the_single_one_padded_with_silence():
    waves, _ = audio.make_tones(10, seed=0)
    batch = audio.spectrogram_batch(waves[:3])
    assert batch.shape == (3, 65, 51) and batch.min() >= audio.SILENCE_DB
    single, _ = audio.spectrogram(waves[0])
    frames = single.shape[1] - 2  # the last frames of the single one see its reflected edge
    assert torch.allclose(batch[0, :, :frames], single[:, :frames], atol=1e-3)
    with pytest.raises(ValueError, match="list of waveforms"):
        audio.spectrogram_batch(waves[0])
    with pytest.raises(ValueError, match="at least 256 samples"):
        audio.spectrogram_batch([torch.zeros(100)])
    with pytest.raises(ValueError, match="at least one"):
        audio.spectrogram_batch([])


def test_audio_inputs_are_checked():
    with pytest.raises(ValueError):
        audio.dtmf_frequencies(10)
    with pytest.raises(ValueError, match="Nyquist"):
        audio.synth_waveform(4500.0)
    with pytest.raises(ValueError):
        audio.spectrogram(torch.zeros(100))
    with pytest.raises(ValueError, match="Durations"):
        audio.make_tones(10, seed=0, variation=audio.ToneVariation(min_duration_s=0.01))


# --- video, depth and thermal, IMU ---


def test_moving_digit_clip_keeps_the_ink_and_moves_right():
    image = torch.zeros(28, 28, dtype=torch.uint8)
    image[10:18, 12:16] = 200
    clip = scenes.moving_digit_clip(image, frames=8, width=56)
    assert clip.shape == (8, 28, 56) and clip.dtype == torch.uint8
    assert (clip.sum(dim=(1, 2)) == image.sum()).all()
    assert torch.equal(clip[0, :, :28], image) and torch.equal(clip[-1, :, 28:], image)
    columns = torch.arange(56, dtype=torch.float32)
    centre = (clip.float().sum(dim=1) * columns).sum(dim=1) / clip.float().sum(dim=(1, 2))
    assert (centre.diff() > 0).all()
    with pytest.raises(ValueError, match="uint8"):
        scenes.moving_digit_clip(torch.zeros(28, 28))


def test_depth_and_thermal_scene_is_physical_and_deterministic():
    depth, thermal = scenes.depth_and_thermal_scene(generator=seeded(2))
    again = scenes.depth_and_thermal_scene(generator=seeded(2))
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


def test_scene_without_noise_has_exact_surface_temperatures_and_follows_the_scene():
    _, thermal = scenes.depth_and_thermal_scene(noise_std_c=0.0)
    assert thermal[0, 0].item() == pytest.approx(21.0)
    assert thermal[-1, 0].item() == pytest.approx(18.0)
    hot = scenes.Scene(ball_c=40.0)
    _, warmer = scenes.depth_and_thermal_scene(hot, noise_std_c=0.0)
    assert warmer.max().item() == pytest.approx(40.0, abs=0.5)


def test_imu_reads_gravity_at_rest_and_nothing_on_the_gyroscope():
    time_s, accelerometer, gyroscope = imu.imu_trace(generator=seeded(3))
    assert time_s.shape == (600,) and accelerometer.shape == gyroscope.shape == (600, 3)
    assert accelerometer.dtype == torch.float32
    at_rest = time_s < 1.0
    assert accelerometer[at_rest].norm(dim=1).mean().item() == pytest.approx(9.81, abs=0.02)
    assert accelerometer[at_rest, 2].mean().item() == pytest.approx(imu.GRAVITY, abs=0.02)
    assert gyroscope[at_rest].mean(dim=0).abs().max() < 0.01
    assert accelerometer[~at_rest, 2].std() > 1.0  # walking bounces
    one, two = imu.imu_trace(generator=seeded(1)), imu.imu_trace(generator=seeded(1))
    assert all(torch.equal(a, b) for a, b in zip(one, two, strict=True))


def test_the_walking_pace_is_found_with_an_fft():
    for step_hz in (1.6, 1.8, 2.0):
        time_s, accelerometer, _ = imu.imu_trace(step_hz=step_hz, generator=seeded(3))
        walking = accelerometer[time_s >= 1.0, 2]
        walking = walking - walking.mean()
        frequencies = torch.fft.rfftfreq(len(walking), d=0.01)
        pace = frequencies[torch.fft.rfft(walking).abs().argmax()].item()
        assert pace == pytest.approx(step_hz, abs=1e-4)


# --- hand-built encoders onto ten digit axes ---


def test_text_rule_reads_digits_and_number_words_in_five_styles():
    sentences = [f"show me a {text.NUMERALS['english'][d]}" for d in range(10)]
    sentences += ["digit 7", "SIEBEN", "  cinco ", "a handwritten page"]
    vectors = concepts.words_to_digits(text.tokenise(sentences))  # (14, 10)
    assert vectors.shape == (14, 10)
    assert vectors[:10].argmax(dim=1).tolist() == list(range(10))
    assert vectors[10:13].argmax(dim=1).tolist() == [7, 7, 5]
    assert torch.allclose(vectors[:13].norm(dim=1), torch.ones(13))
    assert vectors[13].abs().sum() == 0  # no number in it


def test_a_keypad_tone_survives_moderate_noise():
    generator = seeded(6)
    tones = [
        audio.dtmf_waveform(digit, noise_std=noise_std, generator=generator)
        for digit in range(10)
        for noise_std in (0.3, 3.0)
    ]
    assert concepts.tones_to_digits(tones).argmax(dim=1).tolist() == [
        d for d in range(10) for _ in range(2)
    ]
    with pytest.raises(ValueError, match="list of waveforms"):
        concepts.tones_to_digits(tones[0])


def test_prototype_encoder_reads_its_own_prototypes():
    images = torch.randint(0, 256, (50, 28, 28), generator=seeded(0), dtype=torch.uint8)
    labels = torch.arange(50) % 10
    prototypes = concepts.digit_prototypes(images, labels)
    assert prototypes.shape == (10, 784)
    means = torch.stack([images[labels == d].float().mean(dim=0) for d in range(10)])
    scores = concepts.images_to_digits(means.round().to(torch.uint8), prototypes=prototypes)
    assert scores.shape == (10, 10)
    assert torch.equal(scores.argmax(dim=1), torch.arange(10))
    with pytest.raises(ValueError, match="all ten digits"):
        concepts.digit_prototypes(images[:5], labels[:5])


# --- anchors, positives and negatives in 2-D ---


def test_toy_contrastive_steps_pull_positives_in_and_push_negatives_out():
    anchor, positives, negatives = toy.toy_points(generator=seeded(0))
    assert anchor.shape == (2,) and positives.shape == (4, 2) and negatives.shape == (6, 2)
    trajectory, losses = toy.run_toy_contrastive(
        anchor, positives, negatives, margin_loss, steps=20
    )
    assert trajectory.shape == (21, 11, 2) and losses.shape == (20,)
    assert torch.equal(trajectory[0], torch.cat([anchor[None], positives, negatives]))
    before = toy.toy_distances(trajectory[0, 0], trajectory[0, 1:5], trajectory[0, 5:])
    after = toy.toy_distances(trajectory[-1, 0], trajectory[-1, 1:5], trajectory[-1, 5:])
    assert after[0] < 0.5 * before[0]
    assert after[1] > before[1]
    assert (losses.diff() < 0).all()


def test_toy_run_matches_a_hand_written_loop_and_is_deterministic():
    anchor, positives, negatives = toy.toy_points(generator=seeded(5))
    points = torch.nn.Parameter(torch.cat([anchor[None], positives, negatives]))
    optimizer = torch.optim.SGD([points], lr=0.1)
    for _ in range(5):
        loss = margin_loss(points[0], points[1:5], points[5:])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    trajectory, _ = toy.run_toy_contrastive(anchor, positives, negatives, margin_loss, steps=5)
    assert torch.equal(trajectory[-1], points.detach())
    again, _ = toy.run_toy_contrastive(anchor, positives, negatives, margin_loss, steps=5)
    assert torch.equal(trajectory, again)
    assert torch.equal(anchor, toy.toy_points(generator=seeded(5))[0])  # inputs left untouched


def test_a_pull_only_loss_collapses_a_shared_encoder():
    anchor, positives, negatives = toy.toy_points(generator=seeded(0))

    def pull_only(a, p, n):
        return (p - a).pow(2).sum(dim=1).mean()

    torch.manual_seed(0)
    trajectory, _ = toy.run_toy_contrastive(
        anchor, positives, negatives, pull_only, steps=100, encoder=torch.nn.Linear(2, 2)
    )
    start = toy.toy_distances(trajectory[0, 0], trajectory[0, 1:5], trajectory[0, 5:])
    end = toy.toy_distances(trajectory[-1, 0], trajectory[-1, 1:5], trajectory[-1, 5:])
    assert end[1] < 0.1 * start[1]  # the negatives collapse with everything else

    torch.manual_seed(0)
    kept, _ = toy.run_toy_contrastive(
        anchor, positives, negatives, margin_loss, steps=100, encoder=torch.nn.Linear(2, 2)
    )
    kept_end = toy.toy_distances(kept[-1, 0], kept[-1, 1:5], kept[-1, 5:])
    assert kept_end[1] > 0.5 * start[1]  # with negatives in the loss they stay apart


def test_describe_prints_shape_dtype_and_range():
    line = modalities.describe("x", torch.tensor([[0.5, -1.25]]), unit="m")
    assert "(1, 2)" in line and "torch.float32" in line and "-1.250 to 0.500 m" in line
    assert math.isclose(imu.GRAVITY, 9.80665)
    assert modalities.MODALITIES == ("text", "audio", "video", "image", "depth", "thermal", "imu")
