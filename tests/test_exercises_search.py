"""The checks of 06_any_to_any_search's exercises: right answers pass, typical mistakes get their hint."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from helpers import vectordb
from helpers.evaluation import cosine_top_k
from helpers.exercises import search as checks


def verdict(capsys) -> str:
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 1, lines  # one line per check, so nbval compares one line
    return lines[0]


# --- exercise 1: the cross-modal InfoNCE --------------------------------------------------------


def right_loss(z_a, z_b, labels, temperature):
    logits = F.normalize(z_a, dim=1) @ F.normalize(z_b, dim=1).T / temperature  # (B, B)
    if labels is None:
        labels = torch.arange(len(z_a))
    positive = labels[:, None] == labels[None, :]

    def one_way(scores, mask):
        log_p = scores.log_softmax(dim=1)
        return -((log_p * mask).sum(1) / mask.sum(1)).mean()

    return (one_way(logits, positive) + one_way(logits.T, positive.T)) / 2


def with_cross_entropy(z_a, z_b, labels, temperature):
    """CLIP's form through F.cross_entropy, the supervised form by hand: also right."""
    logits = F.normalize(z_a, dim=1) @ F.normalize(z_b, dim=1).T / temperature
    if labels is None:
        target = torch.arange(len(z_a))
        return (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target)) / 2
    return right_loss(z_a, z_b, labels, temperature)


@pytest.mark.parametrize("answer", [right_loss, with_cross_entropy])
def test_info_nce_check_accepts_right_answers(answer, capsys):
    checks.check_info_nce(answer)
    assert verdict(capsys).startswith("Exercise 1: right.")


def one_direction(z_a, z_b, labels, temperature):
    logits = F.normalize(z_a, dim=1) @ F.normalize(z_b, dim=1).T / temperature
    labels = torch.arange(len(z_a)) if labels is None else labels
    positive = (labels[:, None] == labels[None, :]).float()
    return -((logits.log_softmax(1) * positive).sum(1) / positive.sum(1)).mean()


def unnormalised(z_a, z_b, labels, temperature):
    return right_loss(z_a * 1e6, z_b * 1e6, labels, temperature) * 0 + _raw(
        z_a, z_b, labels, temperature
    )


def _raw(z_a, z_b, labels, temperature):
    logits = z_a @ z_b.T / temperature
    labels = torch.arange(len(z_a)) if labels is None else labels
    positive = (labels[:, None] == labels[None, :]).float()

    def one_way(scores, mask):
        return -((scores.log_softmax(1) * mask).sum(1) / mask.sum(1)).mean()

    return (one_way(logits, positive) + one_way(logits.T, positive.T)) / 2


def no_temperature(z_a, z_b, labels, temperature):
    return right_loss(z_a, z_b, labels, 1.0)


def diagonal_only(z_a, z_b, labels, temperature):
    return right_loss(z_a, z_b, None, temperature)


def labels_required(z_a, z_b, labels, temperature):
    positive = labels[:, None] == labels[None, :]  # fails on None
    return right_loss(z_a, z_b, labels, temperature) + 0 * positive.sum()


@pytest.mark.parametrize(
    ("answer", "hint"),
    [
        (lambda *args: None, "one-number tensor"),
        (one_direction, "only one direction"),
        (_raw, "length 1"),
        (no_temperature, "temperature"),
        (diagonal_only, "not only the diagonal"),
        (labels_required, "its own partner"),
        (lambda z_a, *rest: z_a.sum() * 0 + 1.0, "log_softmax"),
    ],
)
def test_info_nce_check_names_the_mistake(answer, hint, capsys):
    checks.check_info_nce(answer)
    line = verdict(capsys)
    assert line.startswith("Exercise 1: not yet. Hint:") and hint in line


def test_the_loss_mistakes_are_far_from_the_right_value():
    z_a, z_b, labels = checks.loss_inputs()
    for given in (labels, None):
        right = float(right_loss(z_a, z_b, given, checks.LOSS_TEMPERATURE))
        for name, wrong in checks._loss_mistakes(z_a, z_b, given, 0.2).items():
            if given is None and "not only the diagonal" in name:
                continue  # without labels the diagonal is the right answer
            assert abs(wrong - right) > 100 * checks.LOSS_TOLERANCE, name


# --- exercise 2: recall@1 -----------------------------------------------------------------------


def right_recall(queries, query_labels, targets, target_labels, exclude_self=False):
    _, nearest = cosine_top_k(queries, targets, k=1, exclude_self=exclude_self)
    return (target_labels[nearest[:, 0]] == query_labels).float().mean()


def by_matrix(queries, query_labels, targets, target_labels, exclude_self=False):
    cosine = F.normalize(queries, dim=1) @ F.normalize(targets, dim=1).T
    if exclude_self:
        cosine.fill_diagonal_(float("-inf"))
    return (target_labels[cosine.argmax(1)] == query_labels).float().mean().item()


@pytest.mark.parametrize("answer", [right_recall, by_matrix])
def test_recall_check_accepts_right_answers(answer, capsys):
    checks.check_recall(answer)
    assert verdict(capsys).startswith("Exercise 2: right.")


def keeps_itself(queries, query_labels, targets, target_labels, exclude_self=False):
    return right_recall(queries, query_labels, targets, target_labels)


def by_dot_product(queries, query_labels, targets, target_labels, exclude_self=False):
    scores = queries @ targets.T
    if exclude_self:
        scores.fill_diagonal_(float("-inf"))
    return (target_labels[scores.argmax(1)] == query_labels).float().mean()


def counts_hits(queries, query_labels, targets, target_labels, exclude_self=False):
    return right_recall(queries, query_labels, targets, target_labels, exclude_self) * len(queries)


@pytest.mark.parametrize(
    ("answer", "hint"),
    [
        (lambda *args, **kwargs: None, "one number"),
        (keeps_itself, "finds itself first"),
        (by_dot_product, "rank targets by cosine"),
        (counts_hits, "divide the number of hits"),
        (lambda *args, **kwargs: 1 / 0, "ZeroDivisionError"),
    ],
)
def test_recall_check_names_the_mistake(answer, hint, capsys):
    checks.check_recall(answer)
    line = verdict(capsys)
    assert line.startswith("Exercise 2: not yet. Hint:") and hint in line


def test_the_recall_inputs_tell_cosine_from_dot_product():
    made = checks.recall_inputs()
    (a, a_labels), (b, b_labels) = made["a"], made["b"]
    right = float(right_recall(a, a_labels, b, b_labels))
    assert abs(float(by_dot_product(a, a_labels, b, b_labels)) - right) > 0.2  # the first case
    for (q, qy), (t, ty), within in [(made["b"], made["a"], False), (made["a"], made["a"], True)]:
        assert (
            0.3 < float(right_recall(q, qy, t, ty, within)) < 0.95
        )  # neither trivial nor hopeless


# --- exercise 3: a filtered search in LanceDB ---------------------------------------------------


@pytest.fixture(scope="module")
def table(tmp_path_factory):
    generator = torch.Generator().manual_seed(0)
    centres = torch.randn(10, 16, generator=generator)
    items = {}
    for modality, offset in (("image", 0.0), ("text", 0.4), ("audio", -0.4)):
        labels = torch.arange(60) % 10
        lengths = torch.logspace(-1, 1, 60)[torch.randperm(60, generator=generator)]
        vectors = (centres[labels] + offset + 0.5 * torch.randn(60, 16, generator=generator)) * (
            lengths[:, None]
        )
        payloads = {
            "image": torch.zeros(60, 28, 28, dtype=torch.uint8),
            "text": [f"text {i}" for i in range(60)],
            "audio": [torch.zeros(400) for _ in range(60)],
        }[modality]
        items[modality] = vectordb.ModalityItems(vectors, labels, payloads)
    return vectordb.create_table(tmp_path_factory.mktemp("db"), items)


def right_filter(table, vector, *, digit, modality):
    return (
        table.search(vector)
        .distance_type("cosine")
        .where(f"modality = '{modality}' AND label != {digit}")
        .limit(1)
        .to_pandas()
    )


def test_filtered_search_check_accepts_the_right_query(table, capsys):
    checks.check_filtered_search(right_filter, table)
    assert verdict(capsys).startswith("Exercise 3: right.")


def no_label_filter(table, vector, *, digit, modality):
    search = table.search(vector).distance_type("cosine").where(f"modality = '{modality}'")
    return search.limit(1).to_pandas()


def no_modality_filter(table, vector, *, digit, modality):
    return (
        table.search(vector).distance_type("cosine").where(f"label != {digit}").limit(1).to_pandas()
    )


def euclidean(table, vector, *, digit, modality):
    search = table.search(vector).where(f"modality = '{modality}' AND label != {digit}")
    return search.limit(1).to_pandas()


@pytest.mark.parametrize(
    ("answer", "hint"),
    [
        (lambda table, vector, **kwargs: None, ".to_pandas()"),
        (no_label_filter, "add label != "),
        (no_modality_filter, "filter on the modality too"),
        (euclidean, "distance_type('cosine')"),
        (lambda *args, **kwargs: 1 / 0, "ZeroDivisionError"),
    ],
)
def test_filtered_search_check_names_the_mistake(table, answer, hint, capsys):
    checks.check_filtered_search(answer, table)
    line = verdict(capsys)
    assert line.startswith("Exercise 3: not yet. Hint:") and hint in line


def test_a_table_without_the_asked_rows_is_refused(tmp_path):
    items = {
        "text": vectordb.ModalityItems(torch.randn(10, 4), torch.arange(10), ["a"] * 10),
    }
    small = vectordb.create_table(tmp_path, items)
    with pytest.raises(ValueError, match="no image row of digit 7"):
        checks.check_filtered_search(right_filter, small)
