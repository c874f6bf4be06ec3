"""Figures of 01's modalities and of 06's tones: they draw what they are given."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from matplotlib.colors import to_hex

from helpers import plots
from helpers.modalities import audio, imu, scenes, text, toy
from helpers.plots import style


def test_plot_modalities_draws_one_panel_per_modality_from_the_shared_inputs():
    image = torch.zeros(28, 28, dtype=torch.uint8)
    image[8:20, 12:16] = 255
    depth, thermal = scenes.depth_and_thermal_scene()
    time_s, accelerometer, gyroscope = imu.imu_trace()
    ids = text.tokenise(["A seven."])[0]
    figure = plots.plot_modalities(
        text_ids=ids,
        waveform=audio.dtmf_waveform(7),
        clip=scenes.moving_digit_clip(image),
        image=image,
        depth=depth,
        thermal=thermal,
        imu_time=time_s,
        accelerometer=accelerometer,
        gyroscope=gyroscope,
    )
    titles = [axis.get_title() for axis in figure.axes]
    assert titles[0] == "text: 8 character ids, one-hot"
    assert figure.axes[0].images[0].get_array().shape == (8, text.VOCABULARY_SIZE)
    spectrogram = figure.axes[2].images[0].get_array()
    assert spectrogram.shape == audio.spectrogram(audio.dtmf_waveform(7))[0].shape
    assert "IMU: stand, then walk" in titles
    imu_lines = [line for axis in figure.axes[-2:] for line in axis.lines]
    assert len(imu_lines) == 6 and all(
        to_hex(line.get_color()) != to_hex("tab:green") for line in imu_lines
    )


def test_show_spectrograms_one_per_tone_with_titles():
    waves, labels = audio.make_tones(10, seed=0)
    pictures = audio.spectrogram_batch(waves)
    figure = plots.show_spectrograms(pictures, titles=[f"key {d}" for d in labels.tolist()])
    assert len(figure.axes) == 10 and figure.axes[0].get_ylabel() == "Hz"
    assert figure.axes[0].images[0].get_extent()[3] == audio.MAX_HZ
    with pytest.raises(ValueError, match="N titles"):
        plots.show_spectrograms(pictures, titles=["one"])


def test_toy_trajectory_draws_positives_green_and_negatives_red():
    anchor, positives, negatives = toy.toy_points(generator=torch.Generator().manual_seed(0))
    trajectory, _ = toy.run_toy_contrastive(
        anchor, positives, negatives, lambda a, p, n: (p - a).pow(2).sum(), steps=3
    )
    figure = plots.plot_toy_trajectory(trajectory, n_positives=4, margin=2.0)
    legend = {
        t.get_text(): h
        for t, h in zip(
            figure.axes[0].get_legend().get_texts(),
            figure.axes[0].get_legend().legend_handles,
            strict=True,
        )
    }
    assert set(legend) == {"margin 2", "anchor", "positives", "negatives"}
    assert to_hex(legend["positives"].get_facecolor()[0]) == to_hex(style.POSITIVE)
    assert to_hex(legend["negatives"].get_facecolor()[0]) == to_hex(style.NEGATIVE)
    assert np.allclose(figure.axes[0].patches[0].center, trajectory[-1, 0].numpy())
