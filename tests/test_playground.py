"""The playground's Python side: what a query of each modality is answered with, and the widget."""

from __future__ import annotations

import base64
import io
import json
import wave

import numpy as np
import pytest
import torch
from torch import nn

from helpers import binding, data, drawing, evaluation, live_search, model, playground, vectordb
from helpers.modalities import audio, text

VERTICAL = [[(140.0, 30.0), (140.0, 250.0)]]
SEVEN = [[(60.0, 50.0), (220.0, 50.0), (190.0, 110.0), (130.0, 240.0)]]


class PixelEncoder(nn.Module):
    """Raw pixels as the embedding: network input in [-1, 1] shifted to [0, 2], (N, 784)."""

    embedding_dim = 784

    def __init__(self) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.ones(()), requires_grad=False)  # encoders read its device

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.scale * (images.flatten(1) + 1)  # (N, 784)


def make_space(
    folder, image_encoder: nn.Module, *, images: int = 300, centred: bool = False
) -> live_search.SearchSpace:
    """A small table like notebook 06's: validation digits, texts and tones, all embedded."""
    torch.manual_seed(0)
    dim = image_encoder.embedding_dim
    text_encoder = model.CharTextEncoder(embedding_dim=dim)
    audio_encoder = model.SpectrogramAudioEncoder(embedding_dim=dim)
    digits = data.load_digits("sample")
    pictures, labels = digits.val_images[:images], digits.val_labels[:images]
    texts, text_labels = text.make_texts(40, seed=1)
    tones, tone_labels = audio.make_tones(40, seed=2)
    embeddings = {
        "image": evaluation.embed(image_encoder, pictures),  # (images, dim)
        "text": evaluation.encode(text_encoder, text.tokenise(texts)),  # (40, dim)
        "audio": evaluation.encode(audio_encoder, audio.spectrogram_batch(tones)),  # (40, dim)
    }
    items = {
        "image": vectordb.ModalityItems(embeddings["image"], labels, pictures),
        "text": vectordb.ModalityItems(embeddings["text"], text_labels, texts),
        "audio": vectordb.ModalityItems(embeddings["audio"], tone_labels, tones),
    }
    centroids = binding.modality_centroids(embeddings) if centred else None
    table = vectordb.create_table(folder, items, centroids=centroids)
    return live_search.SearchSpace(table, image_encoder, text_encoder, audio_encoder)


@pytest.fixture(scope="module")
def space(tmp_path_factory) -> live_search.SearchSpace:
    torch.manual_seed(0)
    return make_space(tmp_path_factory.mktemp("db"), model.EmbeddingNet(embedding_dim=64))


@pytest.fixture(scope="module")
def pixel_space(tmp_path_factory) -> live_search.SearchSpace:
    return make_space(tmp_path_factory.mktemp("pixels"), PixelEncoder(), images=1000)


def drawing_query(strokes, seq: int = 1) -> dict:
    return {"kind": "drawing", "strokes": strokes, "canvas_size": [280, 280], "pen_width": 18.0,
            "seq": seq}  # fmt: skip


def decode(url: str, prefix: str) -> bytes:
    assert url.startswith(prefix)
    return base64.b64decode(url[len(prefix) :])


def test_a_drawing_is_searched_as_its_mnist_digit_in_every_modality(space):
    reply = live_search.answer(space, drawing_query(SEVEN, seq=7), k=4)
    assert reply["status"] == "ok" and reply["seq"] == 7 and reply["kind"] == "drawing"
    assert json.loads(json.dumps(reply)) == reply  # plain JSON: it travels to the browser as is
    digit = drawing.drawing_to_digit(SEVEN)
    expected = vectordb.embed_query(
        digit,
        image_encoder=space.image_encoder,
        text_encoder=space.text_encoder,
        audio_encoder=space.audio_encoder,
    )[1]
    assert torch.allclose(torch.tensor(reply["vector"]), expected)
    for modality in live_search.MODALITIES:
        found = vectordb.search_table(space.table, expected, k=4, target=modality)
        rows = reply["results"][modality]
        assert [row["id"] for row in rows] == found["id"].tolist()
        assert [row["label"] for row in rows] == found["label"].tolist()
        assert np.allclose([row["similarity"] for row in rows], found["similarity"], atol=1e-6)
    assert set(reply["timing_ms"]) == {"preprocess", "embed", "search", "render", "total"}


def test_the_query_and_the_results_are_shown_as_what_they_are(space):
    from PIL import Image

    reply = live_search.answer(space, drawing_query(SEVEN), k=2)
    shown = Image.open(io.BytesIO(decode(reply["query"]["picture"], "data:image/png;base64,")))
    assert np.array_equal(np.asarray(shown), drawing.drawing_to_digit(SEVEN).numpy())
    stored = {int(row["id"]): row for _, row in space.table.to_pandas().iterrows()}
    for row in reply["results"]["image"]:
        picture = Image.open(io.BytesIO(decode(row["picture"], "data:image/png;base64,")))
        assert np.array_equal(np.asarray(picture), vectordb.payload(stored[row["id"]]))
    for row in reply["results"]["text"]:
        assert row["text"] == stored[row["id"]]["text"]
    for row in reply["results"]["audio"]:
        with wave.open(io.BytesIO(decode(row["audio"], "data:audio/wav;base64,"))) as file:
            assert file.getframerate() == audio.SAMPLE_RATE
            frames = file.getnframes()
        assert frames == len(vectordb.payload(stored[row["id"]]))


def test_text_and_key_queries(space):
    reply = live_search.answer(space, {"kind": "text", "text": " sieben"}, k=3, targets=["audio"])
    assert reply["status"] == "ok" and list(reply["results"]) == ["audio"]
    assert len(reply["results"]["audio"]) == 3 and reply["query"]["text"] == " sieben"
    generator = torch.Generator().manual_seed(5)
    tone = live_search.answer(space, {"kind": "key", "key": "3"}, generator=generator)
    assert tone["query"]["modality"] == "audio" and tone["query"]["key"] == "3"
    again = live_search.answer(space, {"kind": "key", "key": "3"}, generator=generator)
    assert again["query"]["audio"] != tone["query"]["audio"]  # every press: a new tone


@pytest.mark.parametrize(
    ("query", "message"),
    [
        (drawing_query([]), "canvas is empty"),
        (drawing_query([[]]), "canvas is empty"),
        ({"kind": "text", "text": "   "}, "text box is empty"),
        ({"kind": "key", "key": "#"}, "has no digit"),
        ({"kind": "sing"}, "Unknown query kind"),
    ],
)
def test_a_query_that_cannot_be_searched_gets_a_message_and_no_search(space, query, message):
    reply = live_search.answer(space, query)
    assert reply["status"] == "message" and message in reply["message"]
    assert reply["results"] == {} and "vector" not in reply


@pytest.mark.parametrize(("k", "targets"), [(0, ["image"]), (11, ["image"]), (3, []), (3, ["x"])])
def test_options_are_checked(space, k, targets):
    with pytest.raises(ValueError, match="k must be|targets must"):
        live_search.answer(space, {"kind": "text", "text": "7"}, k=k, targets=targets)


def test_on_raw_pixels_a_drawn_vertical_stroke_finds_ones(pixel_space):
    # No trained network: cosine on raw pixels, so this checks the preprocessing against MNIST.
    reply = live_search.answer(pixel_space, drawing_query(VERTICAL), k=10, targets=["image"])
    labels = [row["label"] for row in reply["results"]["image"]]
    assert labels.count(1) >= 8, labels


def test_tone_wav_is_a_valid_16_bit_wav_at_full_scale():
    waveform = 0.1 * torch.sin(torch.arange(800) / 5.0)
    with wave.open(io.BytesIO(decode(live_search.tone_wav(waveform, sample_rate=8000), "data:audio/wav;base64,"))) as file:  # fmt: skip
        assert (file.getnchannels(), file.getsampwidth(), file.getframerate()) == (1, 2, 8000)
        pcm = np.frombuffer(file.readframes(file.getnframes()), dtype="<i2")
    assert len(pcm) == 800 and np.abs(pcm).max() == 32000
    assert np.corrcoef(pcm, waveform.numpy())[0, 1] > 0.9999


def test_the_3d_view_places_each_row_where_its_own_vector_lands(space):
    view = playground.space_view(space)
    assert view.points.shape == (space.table.count_rows(), 3)
    ids, vectors, _, _ = live_search.table_rows(space)
    for index in (0, 150, len(ids) - 1):
        assert np.allclose(view.place(vectors[index]), view.points[index], atol=1e-5)
    assert view.rows_of([ids[5], ids[2]]).tolist() == [5, 2]


def test_the_widget_answers_from_python_and_marks_the_query_in_the_3d_view(space):
    panel = playground.playground(space, k=3, targets=["image", "text"])
    widget, figure = panel.children
    reply = widget.draw(SEVEN)
    assert reply["status"] == "ok" and widget.answer is reply and reply["seq"] == 1
    assert [len(rows) for rows in reply["results"].values()] == [3, 3]
    neighbours, query = figure.data[-2], figure.data[-1]
    assert len(neighbours.x) == 6 and len(query.x) == 1
    assert widget.type_text("  ")["status"] == "message" and len(query.x) == 0
    widget.k = 2  # changing an option answers the same query again
    assert widget.answer["seq"] == 2 and widget.answer["status"] == "message"
    assert widget.press(7)["kind"] == "key" and len(figure.data[-2].x) == 4
    bundle = panel._repr_mimebundle_()
    assert bundle["text/plain"] == playground.FALLBACK_TEXT  # what nbval and GitHub see
    assert "application/vnd.jupyter.widget-view+json" in bundle


def test_the_widget_refuses_bad_options_and_ships_its_front_end(space):
    with pytest.raises(ValueError, match="k must be"):
        playground.Playground(space, k=0)
    widget = playground.Playground(space)
    assert "export default { render }" in widget._esm and "pointerdown" in widget._esm
    assert ".pg-canvas" in widget._css


def test_the_query_comes_back_from_an_answer_as_its_item(space):
    reply = live_search.answer(space, drawing_query(SEVEN), k=1)
    picture = playground.query_item(reply)
    assert picture.dtype == np.uint8 and np.array_equal(picture, drawing.drawing_to_digit(SEVEN))
    assert playground.query_item(live_search.answer(space, {"kind": "text", "text": "acht"})) == (
        "acht"
    )
    generator = torch.Generator().manual_seed(3)
    tone = live_search.answer(space, {"kind": "key", "key": "5"}, generator=generator)
    samples = playground.query_item(tone)
    original = live_search._key_tone(5, torch.Generator().manual_seed(3))
    assert samples.shape == original.shape
    assert np.corrcoef(samples, original.numpy())[0, 1] > 0.9999  # 16-bit WAV, rescaled
    with pytest.raises(ValueError, match="no query to show"):
        playground.query_item(live_search.answer(space, drawing_query([])))


def test_found_rows_are_the_stored_rows_in_rank_order(space):
    reply = live_search.answer(space, {"kind": "text", "text": "drei"}, k=4)
    stored = {int(row["id"]): row for row in space.table.to_pandas().to_dict("records")}
    for modality, rows in reply["results"].items():
        found = playground.found_rows(space, reply, modality)
        assert found["id"].tolist() == [row["id"] for row in rows]
        assert (found["modality"] == modality).all()
        assert found["similarity"].tolist() == [row["similarity"] for row in rows]
        for record in found.to_dict("records"):
            assert record["label"] == stored[record["id"]]["label"]
            kept, original = vectordb.payload(record), vectordb.payload(stored[record["id"]])
            assert np.array_equal(kept, original) if modality != "text" else kept == original


def test_the_static_answer_draws_each_modality_as_notebook_06_does(space):
    import matplotlib

    from helpers.plots.style import NEGATIVE, POSITIVE

    matplotlib.use("Agg")
    reply = live_search.answer(space, drawing_query(SEVEN), k=3)
    figures = playground.static_answer(space, reply, expected=7)
    assert len(figures) == 3
    red, green = matplotlib.colors.to_rgba(NEGATIVE), matplotlib.colors.to_rgba(POSITIVE)
    for figure, rows in zip(figures, reply["results"].values(), strict=True):
        assert len(figure.axes) == 1 + 3  # the query, then the results
        frames = [axis.spines["top"].get_edgecolor() for axis in figure.axes[1:]]
        assert frames == [green if row["label"] == 7 else red for row in rows]
        matplotlib.pyplot.close(figure)
    with pytest.raises(ValueError, match="no query to show"):
        playground.static_answer(space, live_search.answer(space, drawing_query([])))


def test_the_static_view_marks_the_query_and_its_neighbours(space):
    import matplotlib

    matplotlib.use("Agg")
    view = playground.space_view(space)
    reply = live_search.answer(space, {"kind": "text", "text": "four"}, k=2)
    figure = playground.static_view(view, reply)
    sizes = [len(c.get_offsets()) for c in figure.axes[0].collections]
    counts = [view.modalities.count(m) for m in live_search.MODALITIES]
    assert sizes == [counts[0], 0, counts[1], 0, counts[2], 0, 6, 1]  # each shape, its legend
    labels = [text.get_text() for text in figure.axes[0].texts]
    assert sorted(labels) == [str(d) for d in sorted(set(view.labels.tolist()))]
    legend = [text.get_text() for text in figure.axes[0].get_legend().get_texts()]
    assert legend == ["image", "text", "audio", "neighbours", "query"]
    matplotlib.pyplot.close(figure)


def test_the_3d_view_shows_modalities_by_grey_shape_and_digits_by_colour(space):
    from helpers.plots.style import MODALITY_TONES, digit_colour

    figure = playground.view_figure(playground.space_view(space), widget=False)
    legend = [trace for trace in figure.data if trace.showlegend is not False]
    assert [trace.name for trace in legend] == ["image", "text", "audio", "neighbours", "query"]
    for trace in legend[:3]:
        assert trace.marker.color == MODALITY_TONES[trace.name]  # grey, not a digit's colour
    points = [
        trace for trace in figure.data if trace.showlegend is False and trace.mode == "markers"
    ]
    for trace in points:
        digits = [int(text.split()[1]) for text in trace.text]
        assert list(trace.marker.color) == [digit_colour(d) for d in digits]
        assert trace.marker.symbol == playground.SYMBOLS[trace.name]
    (labels,) = [trace for trace in figure.data if trace.mode == "text"]
    assert list(labels.textfont.color) == [digit_colour(int(d)) for d in labels.text]


def test_a_centred_table_is_searched_and_placed_with_the_centred_query(tmp_path):
    torch.manual_seed(0)
    centred = make_space(tmp_path, model.EmbeddingNet(embedding_dim=64), images=100, centred=True)
    reply = live_search.answer(centred, {"kind": "text", "text": "neun"}, k=3)
    _, raw = vectordb.embed_query(
        "neun",
        image_encoder=centred.image_encoder,
        text_encoder=centred.text_encoder,
        audio_encoder=centred.audio_encoder,
    )
    centroids = vectordb.table_centroids(centred.table)
    stored = binding.centre({"text": raw[None]}, centroids)["text"][0]  # (64,)
    assert torch.allclose(torch.tensor(reply["vector"]), stored, atol=1e-6)
    for modality, rows in reply["results"].items():
        found = vectordb.search_table(
            centred.table, raw, k=3, target=modality, query_modality="text"
        )
        assert [row["id"] for row in rows] == found["id"].tolist()


def test_the_front_end_files_ship_with_the_package():
    # Colab installs helpers with pip, not from a checkout: the widget's JS and CSS must be
    # package data, or the widget renders nothing there.
    import fnmatch
    import tomllib
    from pathlib import Path

    root = Path(playground.__file__).resolve().parent
    config = tomllib.loads((root.parent / "pyproject.toml").read_text())
    patterns = config["tool"]["setuptools"]["package-data"]["helpers"]
    for name in ("playground.js", "playground.css"):
        assert (root / name).is_file()
        assert any(fnmatch.fnmatch(name, pattern) for pattern in patterns), (name, patterns)
