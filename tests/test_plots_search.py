"""Figures of 06's search: results of any modality, audio players, recall heatmaps with boxes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from matplotlib.colors import to_hex
from matplotlib.patches import Rectangle

from helpers import binding, plots, vectordb
from helpers.modalities import audio, text
from helpers.plots import style


@pytest.fixture(scope="module")
def table(tmp_path_factory):
    generator = torch.Generator().manual_seed(0)
    texts, text_labels = text.make_texts(10, seed=0)
    tones, tone_labels = audio.make_tones(10, seed=0)
    images = torch.randint(0, 256, (10, 28, 28), generator=generator, dtype=torch.uint8)
    items = {
        "image": vectordb.ModalityItems(
            torch.randn(10, 8, generator=generator), torch.arange(10), images
        ),
        "text": vectordb.ModalityItems(torch.randn(10, 8, generator=generator), text_labels, texts),
        "audio": vectordb.ModalityItems(
            torch.randn(10, 8, generator=generator), tone_labels, tones
        ),
    }
    return vectordb.create_table(tmp_path_factory.mktemp("db"), items), tones


def test_show_results_draws_every_modality_and_frames_right_and_wrong(table):
    table, tones = table
    results = vectordb.search_table(table, torch.ones(8), k=12)
    assert set(results["modality"]) == {"image", "text", "audio"}
    for query in ["seven", tones[0], np.zeros((28, 28), dtype=np.uint8)]:
        figure = plots.show_results(query, results, query_label=7)
        axes = figure.axes
        assert len(axes) == 13
        for axis, (_, row) in zip(axes[1:], results.iterrows(), strict=True):
            expected = style.POSITIVE if row["label"] == 7 else style.NEGATIVE
            assert to_hex(axis.spines["left"].get_edgecolor()) == to_hex(expected)
            assert axis.get_title().startswith(f"{row.name + 1}. {row['modality']} {row['label']}")
        kinds = [bool(a.images) for a in axes[1:]], [bool(a.texts) for a in axes[1:]]
        assert kinds[0] == [m != "text" for m in results["modality"]]
        assert kinds[1] == [m == "text" for m in results["modality"]]


def test_show_results_prints_nothing_and_rejects_empty_results(table, capsys):
    table, _ = table
    results = vectordb.search_table(table, torch.ones(8), k=3)
    plots.show_results("seven", results)
    assert capsys.readouterr().out == ""
    with pytest.raises(ValueError, match="no results"):
        plots.show_results("seven", results.iloc[:0])


def test_audio_players_cover_the_query_and_every_tone_result(table):
    table, tones = table
    results = vectordb.search_table(table, torch.ones(8), k=12)
    players = plots.audio_players(tones[0], results)
    assert [title for title, _ in players][0] == "query"
    assert len(players) == 1 + (results["modality"] == "audio").sum()
    header = players[0][1].data  # a WAV file: its sample rate sits at bytes 24-27
    assert header[:4] == b"RIFF" and int.from_bytes(header[24:28], "little") == audio.SAMPLE_RATE
    assert plots.audio_players("seven", results.iloc[:0]) == []


def test_recall_heatmaps_annotate_each_cell_and_box_the_given_ones():
    labels = torch.arange(30) % 10
    space = {
        m: torch.randn(30, 6, generator=torch.Generator().manual_seed(i))
        for i, m in enumerate(["image", "text", "audio"])
    }
    tables = binding.cross_modal_recall(space, {m: labels for m in space})
    boxes = [("text", "audio"), ("audio", "text")]
    figure = plots.plot_recall_heatmaps(
        {"recall@1": tables[1], "recall@5": tables[5]}, note="chance 0.10", boxes=boxes
    )
    left, right = figure.axes
    assert [t.get_text() for t in left.get_xticklabels()] == ["image", "text", "audio"]
    written = sorted(t.get_text() for t in left.texts)
    assert written == sorted(f"{v:.2f}" for v in tables[1].to_numpy().ravel())
    for axis in (left, right):
        corners = {r.get_xy() for r in axis.patches if isinstance(r, Rectangle)}
        assert corners == {(1.5, 0.5), (0.5, 1.5)}  # (target column, query row) - 0.5
    assert any(t.get_text() == "chance 0.10" for t in figure.texts)
    with pytest.raises(ValueError, match="to box"):
        plots.plot_recall_heatmaps({"a": tables[1]}, boxes=[("text", "video")])
    with pytest.raises(ValueError, match="at least one"):
        plots.plot_recall_heatmaps({})


def test_recall_heatmaps_accept_any_table_with_index_and_columns():
    table = pd.DataFrame([[1.0, 0.2], [0.3, 0.9]], index=["a", "b"], columns=["a", "b"])
    figure = plots.plot_recall_heatmaps({"t": table})
    assert figure.axes[0].images[0].get_array().shape == (2, 2)
