"""LanceDB table, exact search against torch, the any-modality search helper, and binding metrics."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from helpers import binding, encoders, vectordb
from helpers.model import EmbeddingNet


def _items(seed: int = 0, per_modality: int = 30, dim: int = 16):
    generator = torch.Generator().manual_seed(seed)
    labels = torch.arange(per_modality) % 10
    images = torch.randint(0, 256, (per_modality, 28, 28), generator=generator, dtype=torch.uint8)
    texts, text_labels = encoders.make_texts(per_modality, seed=seed)
    tones, tone_labels = encoders.make_tones(per_modality, seed=seed)
    return {
        "image": vectordb.ModalityItems(
            torch.randn(per_modality, dim, generator=generator), labels, images
        ),
        "text": vectordb.ModalityItems(
            torch.randn(per_modality, dim, generator=generator), text_labels, texts
        ),
        "audio": vectordb.ModalityItems(
            torch.randn(per_modality, dim, generator=generator), tone_labels, tones
        ),
    }


@pytest.fixture
def table(tmp_path):
    items = _items()
    return vectordb.create_table(tmp_path / "db", items), items


@pytest.mark.parametrize("modality", [None, "image", "text", "audio"])
def test_top_k_equals_exact_cosine_top_k_from_torch(table, modality):
    table, items = table
    gallery = torch.cat([part.embeddings for part in items.values()])  # (90, 16)
    first_id = {"image": 0, "text": 30, "audio": 60}
    if modality is not None:
        gallery = items[modality].embeddings
    for query in torch.randn(5, 16, generator=torch.Generator().manual_seed(1)):
        found = vectordb.search_table(table, query, k=7, modality=modality)
        similarity, index = vectordb.exact_top_k(query, gallery, k=7)
        offset = 0 if modality is None else first_id[modality]
        assert found["id"].tolist() == (index + offset).tolist()
        assert np.allclose(found["similarity"].to_numpy(), similarity.numpy(), atol=1e-5)
        assert np.allclose(found["distance"].to_numpy(), 1 - similarity.numpy(), atol=1e-5)
        if modality is not None:
            assert set(found["modality"]) == {modality}


def test_rows_keep_their_items(table):
    table, items = table
    assert table.count_rows() == 90
    assert vectordb.modality_counts(table) == {"image": 30, "text": 30, "audio": 30}
    rows = table.to_pandas().set_index("id")
    assert np.array_equal(vectordb.payload(rows.loc[3]), items["image"].payloads[3].numpy())
    assert vectordb.payload(rows.loc[31]) == items["text"].payloads[1]
    assert np.array_equal(vectordb.payload(rows.loc[62]), items["audio"].payloads[2].numpy())
    assert rows.loc[62, "label"] == items["audio"].labels[2]


def test_create_table_overwrites_and_rejects_bad_items(tmp_path):
    items = _items()
    vectordb.create_table(tmp_path / "db", items)
    again = vectordb.create_table(tmp_path / "db", {"text": items["text"]})
    assert again.count_rows() == 30
    with pytest.raises(ValueError, match="Unknown modality"):
        vectordb.create_table(tmp_path / "db", {"video": items["text"]})
    with pytest.raises(ValueError, match="one embedding size"):
        short = vectordb.ModalityItems(
            torch.randn(30, 8), items["text"].labels, items["text"].payloads
        )
        vectordb.create_table(tmp_path / "db", {"image": items["image"], "text": short})
    with pytest.raises(ValueError, match="30 labels"):
        vectordb.create_table(
            tmp_path / "db",
            {
                "text": vectordb.ModalityItems(
                    items["text"].embeddings, torch.arange(3), items["text"].payloads
                )
            },
        )
    with pytest.raises(ValueError, match="at least one"):
        vectordb.create_table(tmp_path / "db", {})


def test_search_table_rejects_bad_queries(table):
    table, _ = table
    with pytest.raises(ValueError, match="no direction"):
        vectordb.search_table(table, torch.zeros(16))
    with pytest.raises(ValueError, match="k must be"):
        vectordb.search_table(table, torch.ones(16), k=0)
    with pytest.raises(ValueError, match="Unknown modality"):
        vectordb.search_table(table, torch.ones(16), modality="video")
    with pytest.raises(ValueError, match="one query vector"):
        vectordb.search_table(table, torch.ones(2, 16))


def test_query_modality_tells_the_kinds_apart():
    assert vectordb.query_modality("seven") == "text"
    assert vectordb.query_modality(np.zeros((28, 28), dtype=np.uint8)) == "image"
    assert vectordb.query_modality(torch.zeros(800)) == "audio"
    for bad in ["   ", torch.zeros(3, 3), torch.zeros(10), 7]:
        with pytest.raises(ValueError):
            vectordb.query_modality(bad)


def test_search_any_with_each_query_modality(tmp_path):
    torch.manual_seed(0)
    image_encoder = EmbeddingNet(embedding_dim=16).eval()
    text_encoder = encoders.CharTextEncoder(embedding_dim=16)
    audio_encoder = encoders.SpectrogramAudioEncoder(embedding_dim=16)
    table = vectordb.create_table(tmp_path / "db", _items())
    found_encoders = dict(
        image_encoder=image_encoder, text_encoder=text_encoder, audio_encoder=audio_encoder
    )
    tone = encoders.make_tones(10, seed=9)[0][0]
    image = torch.randint(0, 256, (28, 28), dtype=torch.uint8)
    for query, kind in [(image, "image"), ("sieben", "text"), (tone, "audio")]:
        modality, vector = vectordb.embed_query(query, **found_encoders)
        assert modality == kind and vector.shape == (16,)
        for target in (None, "audio"):
            modality, results = vectordb.search_any(
                query, table, **found_encoders, k=4, target=target
            )
            expected = vectordb.search_table(table, vector, k=4, modality=target)
            assert results["id"].tolist() == expected["id"].tolist()
        figure = vectordb.show_results(query, results, query_label=7, play_audio=True)
        assert len(figure.axes) == 5
    with pytest.raises(ValueError, match="uint8"):
        vectordb.embed_query(torch.zeros(28, 28), **found_encoders)


def test_show_results_rejects_empty_results(table):
    table, _ = table
    results = vectordb.search_table(table, torch.ones(16), k=3).iloc[:0]
    with pytest.raises(ValueError, match="no results"):
        vectordb.show_results("seven", results)


# --- binding metrics ----------------------------------------------------------------------------


def test_cross_modal_recall_on_a_perfect_and_a_shuffled_space():
    labels = torch.arange(40) % 10
    centres = torch.eye(10)
    perfect = {"image": centres[labels], "text": centres[labels] + 0.01 * torch.randn(40, 10)}
    tables = binding.cross_modal_recall(perfect, {"image": labels, "text": labels}, ks=(1, 5))
    assert (tables[1].to_numpy() == 1).all() and (tables[5].to_numpy() == 1).all()
    shuffled = {"image": centres[labels], "text": centres[labels.roll(1)]}
    tables = binding.cross_modal_recall(shuffled, {"image": labels, "text": labels}, ks=(1,))
    assert tables[1].loc["text", "image"] == 0 and tables[1].loc["image", "image"] == 1
    with pytest.raises(ValueError, match="same modalities"):
        binding.cross_modal_recall(perfect, {"image": labels})


def test_chance_recall_matches_simulation():
    labels = torch.arange(1000) % 10
    assert binding.chance_recall(labels, k=1) == pytest.approx(0.1)
    generator = torch.Generator().manual_seed(0)
    draws = torch.stack([torch.randperm(1000, generator=generator)[:5] for _ in range(4000)])
    simulated = (labels[draws] == 0).any(dim=1).float().mean().item()
    assert binding.chance_recall(labels, k=5) == pytest.approx(simulated, abs=0.02)


def test_centring_closes_the_gap_between_centroids():
    generator = torch.Generator().manual_seed(0)
    space = {
        "image": torch.randn(200, 8, generator=generator) + 3 * torch.eye(8)[0],
        "text": torch.randn(200, 8, generator=generator) + 3 * torch.eye(8)[1],
    }
    gap = binding.centroid_distances(space)
    assert gap.loc["image", "text"] > 0.5 and gap.loc["image", "image"] == 0
    centred = binding.centre(space, binding.modality_centroids(space))
    assert binding.centroid_distances(centred).loc["image", "text"] < 0.2
    with pytest.raises(ValueError, match="No centroid"):
        binding.centre(space, {"image": torch.zeros(8)})


def test_binding_plots_draw():
    table = binding.cross_modal_recall(
        {"a": torch.eye(10), "b": torch.eye(10)}, {"a": torch.arange(10), "b": torch.arange(10)}
    )[1]
    figure = binding.plot_recall_heatmaps({"one": table, "two": table}, note="chance 0.1")
    assert len(figure.axes) == 2
    points = np.random.default_rng(0).normal(size=(6, 2))
    figure = binding.plot_modality_maps(points, ["image", "text", "audio"] * 2, np.arange(6) % 3)
    assert len(figure.axes) == 2
    with pytest.raises(ValueError, match="points"):
        binding.plot_modality_maps(points, ["image"], np.arange(6))
