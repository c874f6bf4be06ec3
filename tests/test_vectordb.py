"""One LanceDB table: rows keep their items, exact search equals torch's, centred tables mix."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from helpers import binding, vectordb
from helpers.evaluation import cosine_top_k
from helpers.modalities import audio, text
from helpers.model import CharTextEncoder, EmbeddingNet, SpectrogramAudioEncoder

FIRST_ID = {"image": 0, "text": 30, "audio": 60}


def _items(seed: int = 0, per_modality: int = 30, dim: int = 16):
    generator = torch.Generator().manual_seed(seed)
    labels = torch.arange(per_modality) % 10
    images = torch.randint(0, 256, (per_modality, 28, 28), generator=generator, dtype=torch.uint8)
    texts, text_labels = text.make_texts(per_modality, seed=seed)
    tones, tone_labels = audio.make_tones(per_modality, seed=seed)
    vectors = {m: torch.randn(per_modality, dim, generator=generator) for m in FIRST_ID}
    return {
        "image": vectordb.ModalityItems(vectors["image"], labels, images),
        "text": vectordb.ModalityItems(vectors["text"], text_labels, texts),
        "audio": vectordb.ModalityItems(vectors["audio"], tone_labels, tones),
    }


@pytest.fixture
def table(tmp_path):
    items = _items()
    return vectordb.create_table(tmp_path / "db", items), items


@pytest.mark.parametrize("target", [None, "image", "text", "audio"])
def test_top_k_equals_exact_cosine_top_k_from_torch(table, target):
    table, items = table
    gallery = torch.cat([part.embeddings for part in items.values()])  # (90, 16)
    if target is not None:
        gallery = items[target].embeddings
    for query in torch.randn(5, 16, generator=torch.Generator().manual_seed(1)):
        found = vectordb.search_table(table, query, k=7, target=target)
        similarity, index = cosine_top_k(query, gallery, k=7)
        offset = 0 if target is None else FIRST_ID[target]
        assert found["id"].tolist() == (index + offset).tolist()
        assert np.allclose(found["similarity"].to_numpy(), similarity.numpy(), atol=1e-5)
        assert np.allclose(found["distance"].to_numpy(), 1 - similarity.numpy(), atol=1e-5)
        if target is not None:
            assert set(found["modality"]) == {target}


def test_rows_keep_their_items(table):
    table, items = table
    assert table.count_rows() == 90
    assert vectordb.modality_counts(table) == {"image": 30, "text": 30, "audio": 30}
    assert vectordb.table_centroids(table) is None
    rows = table.to_pandas().set_index("id")
    assert np.array_equal(vectordb.payload(rows.loc[3]), items["image"].payloads[3].numpy())
    assert vectordb.payload(rows.loc[31]) == items["text"].payloads[1]
    assert np.array_equal(vectordb.payload(rows.loc[62]), items["audio"].payloads[2].numpy())
    assert rows.loc[62, "label"] == items["audio"].labels[2]


def _gapped_items(seed: int = 0, per_modality: int = 60, dim: int = 16):
    """Each modality: its items' digit directions plus a large modality offset (a modality gap)."""
    items = _items(seed=seed, per_modality=per_modality, dim=dim)
    generator = torch.Generator().manual_seed(seed)
    digit_directions = F.normalize(torch.randn(10, dim, generator=generator), dim=1)
    for modality, part in items.items():
        offset = 2.0 * F.normalize(torch.randn(dim, generator=generator), dim=0)
        noise = 0.1 * torch.randn(per_modality, dim, generator=generator)
        vectors = digit_directions[part.labels] + offset + noise  # (N, dim)
        items[modality] = vectordb.ModalityItems(vectors, part.labels, part.payloads)
    return items


def test_a_centred_table_returns_a_mixed_list_where_a_plain_one_returns_one_modality(tmp_path):
    items = _gapped_items()
    vectors = {modality: part.embeddings for modality, part in items.items()}
    centroids = binding.modality_centroids(vectors)
    plain = vectordb.create_table(tmp_path / "db", items, name="plain")
    centred = vectordb.create_table(tmp_path / "db", items, name="centred", centroids=centroids)
    query = vectors["image"][7]  # an image of a 7
    assert items["image"].labels[7] == 7
    found = vectordb.search_table(plain, query, k=6)
    assert set(found["modality"]) == {"image"}  # the gap: its own modality comes first
    found = vectordb.search_table(centred, query, k=18, query_modality="image")  # 6 sevens each
    counts = found["modality"].value_counts()
    assert set(counts.index) == {"image", "text", "audio"} and counts.min() >= 4  # all answer
    assert (found["label"] == 7).sum() >= 16  # and the answers are sevens
    saved = vectordb.table_centroids(centred)
    assert all(torch.allclose(saved[m], centroids[m]) for m in centroids)
    with pytest.raises(ValueError, match="query_modality"):
        vectordb.search_table(centred, query, k=6)


def test_a_centred_table_searches_exactly_the_centred_vectors(tmp_path):
    items = _gapped_items(seed=1, per_modality=30)
    vectors = {modality: part.embeddings for modality, part in items.items()}
    centroids = binding.modality_centroids(vectors)
    table = vectordb.create_table(tmp_path / "db", items, centroids=centroids)
    centred = binding.centre(vectors, centroids)
    gallery = torch.cat([centred[m] for m in FIRST_ID])  # (90, 16)
    for modality in FIRST_ID:
        query = vectors[modality][3]
        found = vectordb.search_table(table, query, k=8, query_modality=modality)
        centred_query = binding.centre({modality: query[None]}, centroids)[modality][0]
        similarity, index = cosine_top_k(centred_query, gallery, k=8)
        assert found["id"].tolist() == index.tolist()
        assert np.allclose(found["similarity"].to_numpy(), similarity.numpy(), atol=1e-5)


def test_fused_search_interleaves_exact_per_modality_rankings(table):
    table, items = table
    query = torch.randn(16, generator=torch.Generator().manual_seed(3))
    found = vectordb.search_fused(table, query, k=7)
    assert found["modality_rank"].tolist() == [1, 1, 1, 2, 2, 2, 3]  # round by round
    for rank in (1, 2):  # within a round, the higher cosine first
        round_ = found[found["modality_rank"] == rank]["similarity"].to_numpy()
        assert (np.diff(round_) <= 0).all()
    for modality, part in items.items():  # each modality's rows are its exact top k, in order
        mine = found[found["modality"] == modality]
        _, index = cosine_top_k(query, part.embeddings, k=len(mine))
        assert mine["id"].tolist() == (index + FIRST_ID[modality]).tolist()
    assert np.allclose(found["fused_score"], 1 / (60 + found["modality_rank"]))
    with pytest.raises(ValueError, match="rank_constant"):
        vectordb.search_fused(table, query, rank_constant=-1)


def test_fused_search_mixes_a_space_where_each_modality_keeps_near_copies_of_its_items(tmp_path):
    # images come in near-identical pairs; texts and audio sit at the digit's direction
    items = _gapped_items(per_modality=60)
    images = items["image"].embeddings
    images[1::2] = images[0::2] + 0.001  # each image has a near copy
    items["image"] = vectordb.ModalityItems(images, items["image"].labels, items["image"].payloads)
    vectors = {modality: part.embeddings for modality, part in items.items()}
    centroids = binding.modality_centroids(vectors)
    table = vectordb.create_table(tmp_path / "db", items, centroids=centroids)
    query = images[6]  # the copy of image 6 is in the table too
    plain = vectordb.search_table(table, query, k=3, query_modality="image")
    assert plain["modality"].tolist()[0] == "image" and plain["similarity"][0] > 0.99
    fused = vectordb.search_fused(table, query, k=6, query_modality="image")
    assert sorted(fused["modality"].value_counts().tolist()) == [2, 2, 2]


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
        bad = vectordb.ModalityItems(
            items["text"].embeddings, torch.arange(3), items["text"].payloads
        )
        vectordb.create_table(tmp_path / "db", {"text": bad})
    with pytest.raises(ValueError, match="at least one"):
        vectordb.create_table(tmp_path / "db", {})
    with pytest.raises(ValueError, match="centroid must be"):
        vectordb.create_table(tmp_path / "db", items, centroids={"text": torch.zeros(3)})


def test_search_table_rejects_bad_queries(table):
    table, _ = table
    with pytest.raises(ValueError, match="no direction"):
        vectordb.search_table(table, torch.zeros(16))
    with pytest.raises(ValueError, match="k must be"):
        vectordb.search_table(table, torch.ones(16), k=0)
    with pytest.raises(ValueError, match="Unknown modality"):
        vectordb.search_table(table, torch.ones(16), target="video")
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
    search_encoders = {
        "image_encoder": EmbeddingNet(embedding_dim=16).eval(),
        "text_encoder": CharTextEncoder(embedding_dim=16),
        "audio_encoder": SpectrogramAudioEncoder(embedding_dim=16),
    }
    table = vectordb.create_table(tmp_path / "db", _items())
    tone = audio.make_tones(10, seed=9)[0][0]
    image = torch.randint(0, 256, (28, 28), dtype=torch.uint8)
    for query, kind in [(image, "image"), ("sieben", "text"), (tone, "audio")]:
        modality, vector = vectordb.embed_query(query, **search_encoders)
        assert modality == kind and vector.shape == (16,)
        for target in (None, "audio"):
            modality, results = vectordb.search_any(
                query, table, **search_encoders, k=4, target=target
            )
            expected = vectordb.search_table(table, vector, k=4, target=target)
            assert results["id"].tolist() == expected["id"].tolist()
    _, fused = vectordb.search_any("sieben", table, **search_encoders, k=6, fused=True)
    assert sorted(fused["modality"].value_counts().tolist()) == [2, 2, 2]
    with pytest.raises(ValueError, match="leave target=None"):
        vectordb.search_any("sieben", table, **search_encoders, target="audio", fused=True)
    with pytest.raises(ValueError, match="uint8"):
        vectordb.embed_query(torch.zeros(28, 28), **search_encoders)
