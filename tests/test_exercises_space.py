"""The checks of 05_embedding_space's exercises: right answers pass, typical mistakes get their hint."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torchvision.transforms.functional import rotate

from helpers.evaluation import cosine_top_k, embed
from helpers.exercises import space as checks
from helpers.model import EmbeddingNet
from helpers.projection import SeededMaps


def verdict(capsys) -> str:
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 1, lines  # one line per check, so nbval compares one line
    return lines[0]


# --- exercise 1: length or direction ------------------------------------------------------------


def seeded(metric: str, silhouettes: list[float], seeds=(0, 1, 2)) -> SeededMaps:
    scores = {"5-NN": [0.9] * len(seeds), "silhouette": silhouettes, "kept neighbours": [0.5] * 3}
    return SeededMaps(metric=metric, seeds=tuple(seeds), maps=[], scores=scores)


MAPS = {
    "cosine": seeded("cosine", [0.85, 0.82, 0.88]),
    "euclidean": seeded("euclidean", [0.74] * 3),
}
EMBEDDINGS = torch.randn(20, 8, generator=torch.Generator().manual_seed(0)) * 5


def test_length_check_accepts_unit_rows_their_euclidean_maps_and_the_closer_map(capsys):
    unit_maps = seeded("euclidean", [0.86, 0.85, 0.87])
    unit = F.normalize(EMBEDDINGS, dim=1)
    checks.check_length_or_direction(EMBEDDINGS, unit, unit_maps, maps=MAPS, answer="cosine")
    line = verdict(capsys)
    assert line.startswith("Exercise 1: right.") and "2 - 2 cos" in line


def test_length_check_follows_the_measured_scores_not_a_fixed_answer(capsys):
    unit_maps = seeded("euclidean", [0.75, 0.73, 0.74])  # as if length were not the difference
    unit = F.normalize(EMBEDDINGS, dim=1).numpy()  # NumPy works too
    checks.check_length_or_direction(EMBEDDINGS, unit, unit_maps, maps=MAPS, answer="euclidean")
    assert verdict(capsys).startswith("Exercise 1: right.")
    checks.check_length_or_direction(EMBEDDINGS, unit, unit_maps, maps=MAPS, answer="cosine")
    assert "mean silhouette" in verdict(capsys)


@pytest.mark.parametrize(
    ("unit", "unit_maps", "answer", "hint"),
    [
        (None, None, None, "F.normalize"),
        (EMBEDDINGS[:5], None, None, "shaped (20, 8)"),
        (EMBEDDINGS, None, None, "not of length 1"),
        (F.normalize(EMBEDDINGS.flip(0), dim=1), None, None, "point elsewhere"),
        (F.normalize(EMBEDDINGS, dim=1), None, None, "umap_over_seeds"),
        (F.normalize(EMBEDDINGS, dim=1), seeded("cosine", [0.8] * 3), None, 'metric="euclidean"'),
        (F.normalize(EMBEDDINGS, dim=1), seeded("euclidean", [0.8] * 3, (3, 4, 5)), None, "seeds"),
        (F.normalize(EMBEDDINGS, dim=1), seeded("euclidean", [0.86] * 3), "both", '"cosine"'),
        (F.normalize(EMBEDDINGS, dim=1), seeded("euclidean", [0.86] * 3), "euclidean", "closer"),
    ],
)
def test_length_check_names_the_mistake(unit, unit_maps, answer, hint, capsys):
    checks.check_length_or_direction(EMBEDDINGS, unit, unit_maps, maps=MAPS, answer=answer)
    line = verdict(capsys)
    assert line.startswith("Exercise 1: not yet. Hint:") and hint in line


def test_length_check_refuses_maps_that_are_not_section_3s():
    with pytest.raises(ValueError, match="SeededMaps of section 3"):
        checks.check_length_or_direction(
            EMBEDDINGS, None, None, maps={"cosine": MAPS["cosine"]}, answer=None
        )


# --- exercise 2: recall@k -----------------------------------------------------------------------


def right_recall(embeddings, labels, k):
    unit = F.normalize(embeddings, dim=1)
    similarity = unit @ unit.T  # (N, N)
    similarity.fill_diagonal_(float("-inf"))
    nearest = similarity.topk(k, dim=1).indices  # (N, k)
    return (labels[nearest] == labels[:, None]).any(dim=1).float().mean().item()


def with_itself(embeddings, labels, k):
    unit = F.normalize(embeddings, dim=1)
    nearest = (unit @ unit.T).topk(k, dim=1).indices
    return (labels[nearest] == labels[:, None]).any(dim=1).float().mean().item()


def by_dot_product(embeddings, labels, k):
    similarity = embeddings @ embeddings.T
    similarity.fill_diagonal_(float("-inf"))
    nearest = similarity.topk(k, dim=1).indices
    return (labels[nearest] == labels[:, None]).any(dim=1).float().mean().item()


def as_a_share(embeddings, labels, k):
    _, nearest = cosine_top_k(embeddings, embeddings, k=k, exclude_self=True)
    return (labels[nearest] == labels[:, None]).float().mean()  # a tensor is accepted too


def test_recall_check_accepts_a_written_out_recall(capsys):
    checks.check_recall_at_k(right_recall)
    assert verdict(capsys).startswith("Exercise 2: right.")


def test_the_fixed_inputs_tell_every_mistake_apart():
    embeddings, labels = checks.recall_inputs()
    for k in (3,):
        variants = checks._recall_variants(embeddings, labels, k)
        values = [right_recall(embeddings, labels, k), *variants.values()]
        assert len({round(v, 6) for v in values}) == len(values), values
    assert right_recall(embeddings, labels, 1) < 1.0  # the clusters overlap


@pytest.mark.parametrize(
    ("answer", "hint"),
    [
        (lambda z, y, k: None, "return one number"),
        (with_itself, "found itself"),
        (by_dot_product, "dot product"),
        (as_a_share, "ANY"),
        (lambda z, y, k: 0.5, "for k=1"),
        (lambda z, y, k: 1 / 0, "ZeroDivisionError"),
    ],
)
def test_recall_check_names_the_mistake(answer, hint, capsys):
    checks.check_recall_at_k(answer)
    line = verdict(capsys)
    assert line.startswith("Exercise 2: not yet. Hint:") and hint in line


# --- exercise 3: a drifting query ---------------------------------------------------------------


@pytest.fixture(scope="module")
def drift_setup():
    torch.manual_seed(0)
    model = EmbeddingNet().eval()
    generator = torch.Generator().manual_seed(1)
    images = torch.randint(0, 256, (40, 28, 28), generator=generator).to(torch.uint8)
    labels = torch.arange(4).repeat(10)
    database = embed(model, images)  # (40, 64)
    return {"model": model, "image": images[3], "database": database, "labels": labels}


def drift_function(setup, *, turn=True, count_others=False):
    def share(angle):
        image = setup["image"][None]
        if turn:
            image = rotate(image, float(angle))
        _, found = cosine_top_k(embed(setup["model"], image)[0], setup["database"], k=10)
        same = (setup["labels"][found] == 3).float().mean().item()
        return 1 - same if count_others else same

    return share


def run_drift_check(setup, function):
    checks.check_drift(
        function,
        model=setup["model"],
        image=setup["image"],
        database=setup["database"],
        database_labels=setup["labels"],
        digit=3,
    )


def test_drift_check_accepts_a_rotate_embed_search_loop(drift_setup, capsys):
    run_drift_check(drift_setup, drift_function(drift_setup))
    assert verdict(capsys).startswith("Exercise 3: right.")


def test_drift_shares_change_with_the_angle_on_the_test_setup(drift_setup):
    shares = checks.drift_shares(
        drift_setup["model"],
        drift_setup["image"],
        drift_setup["database"],
        drift_setup["labels"],
        digit=3,
    )
    assert list(shares) == list(checks.DRIFT_ANGLES)
    assert len(set(shares.values())) > 1  # so an unrotated query is caught
    assert shares[0] != 0.5  # so counting the other digits gives another share


@pytest.mark.parametrize(
    ("make", "hint"),
    [
        (lambda s: lambda angle: None, "return a number"),
        (lambda s: drift_function(s, turn=False), "does not change with the angle"),
        (lambda s: drift_function(s, count_others=True), "other digits"),
        (lambda s: lambda angle: 2.0, "between 0 and 1"),
        (lambda s: lambda angle: [0.1, 0.2], "one number"),
        (lambda s: lambda angle: 1 / 0, "ZeroDivisionError"),
    ],
)
def test_drift_check_names_the_mistake(drift_setup, make, hint, capsys):
    run_drift_check(drift_setup, make(drift_setup))
    line = verdict(capsys)
    assert line.startswith("Exercise 3: not yet. Hint:") and hint in line
