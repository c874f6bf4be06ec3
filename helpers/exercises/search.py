"""Checks for the exercises of 06_any_to_any_search: the cross-modal loss, recall@1, a filtered search.

Each check runs the reader's function on fixed inputs, compares the result with the series' own
code (`losses.CrossModalInfoNCELoss`, `binding.recall_matrices`, an exact `evaluation.cosine_top_k`
over the table's rows) and prints one verdict line through `report`: "right", or a hint aimed at
the mistake it found. A check returns None, so a cell that ends with it shows only the verdict.

Taught in 06_any_to_any_search.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F

from helpers.binding import recall_matrices
from helpers.evaluation import cosine_top_k
from helpers.exercises import attempt, close, report
from helpers.losses import CrossModalInfoNCELoss, masked_info_nce

if TYPE_CHECKING:
    from lancedb.table import Table

LOSS_TEMPERATURE = 0.2  # not the series' 0.1, so an answer that ignores the temperature shows
LOSS_TOLERANCE = 1e-4
FILTERED_QUERIES = (("image", 7, "audio"), ("audio", 3, "text"), ("text", 5, "image"))


def _fixed(count: int, dim: int, *, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Two sets of embeddings (count, dim) whose rows differ in length up to tenfold."""
    generator = torch.Generator().manual_seed(seed)
    lengths = torch.logspace(-0.5, 0.5, count)[torch.randperm(count, generator=generator)]
    z_a = torch.randn(count, dim, generator=generator) * lengths[:, None]  # (count, dim)
    z_b = torch.randn(count, dim, generator=generator) + 0.8 * F.normalize(z_a, dim=1)
    return z_a, z_b * lengths.flip(0)[:, None]


# --- exercise 1: the symmetric cross-modal InfoNCE ----------------------------------------------


def loss_inputs() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Fixed z_a (12, 6), z_b (12, 6) and labels (12,) with three items of each of four digits."""
    z_a, z_b = _fixed(12, 6, seed=1)
    labels = torch.tensor([0, 1, 2, 3] * 3)
    return z_a, z_b, labels


def _loss_mistakes(
    z_a: torch.Tensor, z_b: torch.Tensor, labels: torch.Tensor | None, temperature: float
) -> dict[str, float]:
    """The values that typical wrong answers give, each named by its hint."""
    diagonal = torch.eye(len(z_a), dtype=torch.bool)  # (batch, batch)
    positive = diagonal if labels is None else labels[:, None] == labels[None, :]
    unit_a, unit_b = F.normalize(z_a, dim=1), F.normalize(z_b, dim=1)
    logits = unit_a @ unit_b.T / temperature  # (batch, batch)

    def both(scores: torch.Tensor, mask: torch.Tensor) -> float:
        return float((masked_info_nce(scores, mask) + masked_info_nce(scores.T, mask.T)) / 2)

    return {
        "only one direction: also let each item of z_b look for its partners among z_a "
        "(the same matrix transposed), and average the two losses.": float(
            masked_info_nce(logits, positive)
        ),
        "scale both sets of embeddings to length 1 (F.normalize(z, dim=1)) before the matrix "
        "product, so the scores are cosines.": both(z_a @ z_b.T / temperature, positive),
        "divide the cosine matrix by the temperature before the softmax.": both(
            unit_a @ unit_b.T, positive
        ),
        "with labels, every item of the other modality with the same digit is a positive, not "
        "only the diagonal: positive = labels[:, None] == labels[None, :].": both(logits, diagonal),
    }


def check_info_nce(cross_modal_info_nce: Callable[..., Any]) -> None:
    """Exercise 1: `cross_modal_info_nce(z_a, z_b, labels, temperature)` equals the series' loss.

    Taught in 06_any_to_any_search. Compared with `losses.CrossModalInfoNCELoss` on fixed
    embeddings of unequal lengths, with digit labels (three items per digit) and without (None).
    """
    z_a, z_b, labels = loss_inputs()
    hint = None
    for given in (labels, None):
        expected = float(CrossModalInfoNCELoss(LOSS_TEMPERATURE)(z_a, z_b, given))
        value, error = attempt(
            cross_modal_info_nce, z_a.clone(), z_b.clone(), given, LOSS_TEMPERATURE
        )
        if error is not None:
            hint = (
                f"with labels={'None' if given is None else 'digits'} your function raised {error}."
            )
            if given is None:
                hint += " Without labels, each item's only positive is its own partner (i = j)."
        elif not isinstance(value, torch.Tensor) or value.numel() != 1:
            hint = "return the loss as a one-number tensor (the mean of both directions)."
        elif not close(value, expected, tolerance=LOSS_TOLERANCE):
            hint = _named_mistake(float(value), _loss_mistakes(z_a, z_b, given, LOSS_TEMPERATURE))
        if hint:
            break
    right = "The same loss as losses.CrossModalInfoNCELoss, with digit labels and without."
    report(1, hint is None, right=right, hint=hint or "")


def _named_mistake(value: float, mistakes: dict[str, float]) -> str:
    for hint, wrong in mistakes.items():
        if close(value, wrong, tolerance=LOSS_TOLERANCE):
            return hint
    return (
        "build logits = unit(z_a) @ unit(z_b).T / temperature, take log_softmax over each row, "
        "average it over each row's positives, negate, and average the rows; do the same for "
        "logits.T and return the mean of the two."
    )


# --- exercise 2: recall@1 across modalities -----------------------------------------------------


def recall_inputs() -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """Two fixed modalities, {name: (embeddings (40, 5), labels (40,))}, in loose digit clusters."""
    generator = torch.Generator().manual_seed(5)
    centres = torch.randn(4, 5, generator=generator)  # (digits, 5)
    made = {}
    for name, seed in (("a", 3), ("b", 4)):
        labels = torch.arange(40) % 4  # (40,)
        noise = torch.randn(40, 5, generator=torch.Generator().manual_seed(seed))
        lengths = torch.logspace(-1.5, 1.5, 40)[torch.randperm(40, generator=generator)]
        made[name] = ((centres[labels] + 0.9 * noise) * lengths[:, None], labels)
    return made


def _number(answer: Any) -> float | None:
    """The answer as a finite float, or None when it is not one number."""
    if isinstance(answer, torch.Tensor) and answer.numel() != 1:
        return None
    return float(answer) if close(answer, 0.0, tolerance=float("inf")) else None


def _recall_hint(answer: Any, expected: float, *, within: bool) -> str | None:
    """None when `answer` is right, else a hint aimed at the mistake."""
    value = _number(answer)
    if value is None:
        return "return recall@1 as one number between 0 and 1 (a float, or a one-number tensor)."
    if close(value, expected, tolerance=1e-6):
        return None
    if within and close(value, 1.0, tolerance=1e-6):
        return (
            "inside one modality every query finds itself first (cosine 1): with "
            "exclude_self=True, pass it on to evaluation.cosine_top_k, or set the diagonal of "
            "the cosine matrix to -inf before taking the best."
        )
    if value > 1:
        return "divide the number of hits by the number of queries: recall is a share."
    return (
        "rank targets by cosine (scale rows to length 1, or use evaluation.cosine_top_k with "
        "k=1), then count a hit when the nearest target's label equals the query's label."
    )


def check_recall(recall_at_1: Callable[..., Any]) -> None:
    """Exercise 2: `recall_at_1(queries, query_labels, targets, target_labels, exclude_self=...)`.

    Taught in 06_any_to_any_search. Compared with `binding.recall_matrices` on two fixed
    modalities with rows of very different lengths: across modalities, and inside one modality
    where a query must not find itself.
    """
    made = recall_inputs()
    embeddings = {name: z for name, (z, _) in made.items()}
    table = recall_matrices(embeddings, {name: y for name, (_, y) in made.items()}, ks=(1,))[1]
    cases = [(("a", "b"), False, float(table[0, 1])), (("b", "a"), False, float(table[1, 0]))]
    cases.append((("a", "a"), True, float(table[0, 0])))
    hint = None
    for (query, target), within, expected in cases:
        (q, q_labels), (t, t_labels) = made[query], made[target]
        answer, error = attempt(
            recall_at_1, q.clone(), q_labels.clone(), t.clone(), t_labels.clone(),
            exclude_self=within,
        )  # fmt: skip
        hint = (
            f"your function raised {error}."
            if error is not None
            else _recall_hint(answer, expected, within=within)
        )
        if hint:
            break
    right = "The same recall@1 as binding.recall_matrices, across modalities and inside one."
    report(2, hint is None, right=right, hint=hint or "")


# --- exercise 3: a filtered search in LanceDB ---------------------------------------------------


def _table_rows(table: Table) -> tuple[torch.Tensor, list[str], torch.Tensor]:
    """The table's vectors (rows, dim), modalities and labels (rows,), read back from Arrow."""
    arrow = table.to_arrow()
    flat = arrow.column("vector").combine_chunks().flatten().to_numpy()
    vectors = torch.tensor(flat, dtype=torch.float32).reshape(arrow.num_rows, -1)
    labels = torch.tensor(arrow.column("label").to_pylist())
    return vectors, arrow.column("modality").to_pylist(), labels


def _filtered_hint(
    found: Any, vectors: torch.Tensor, modalities: list[str], labels: torch.Tensor, ask: tuple
) -> str | None:
    """None when `found` holds the nearest row of another digit in the target modality."""
    query_row, digit, target = ask
    if not hasattr(found, "columns") or len(found) == 0 or "label" not in found.columns:
        return "return the search's result as a table: end the query with .limit(1).to_pandas()."
    row = found.iloc[0]
    if row["modality"] != target:
        return f"the result is a {row['modality']}: filter on the modality too (modality = '...')."
    if int(row["label"]) == digit:
        return (
            f"the result shows the query's own digit {digit}: add label != {digit} to the filter."
        )
    allowed = torch.tensor([m == target for m in modalities]) & (labels != digit)  # (rows,)
    best, _ = cosine_top_k(vectors[query_row], vectors[allowed], k=1)  # (1,)
    mine = F.cosine_similarity(vectors[query_row], vectors[int(row["id"])], dim=0)
    if not close(mine, float(best[0]), tolerance=1e-5):
        return (
            "that row is not the most cosine-similar one: LanceDB ranks by Euclidean (L2) "
            "distance unless the query says .distance_type('cosine')."
        )
    return None


def check_filtered_search(nearest_of_another_digit: Callable[..., Any], table: Table) -> None:
    """Exercise 3: `nearest_of_another_digit(table, vector, digit=..., modality=...)` in LanceDB.

    Taught in 06_any_to_any_search. Asks for three queries taken from the table itself (an image
    of 7 looking for tones, a tone of 3 for texts, a text of 5 for images) and compares the first
    row returned with an exact cosine search over the table's rows of that modality and another
    digit. Rows with equal cosines (texts that differ only in spaces) count as the same answer.
    """
    vectors, modalities, labels = _table_rows(table)
    hint = None
    for source, digit, target in FILTERED_QUERIES:
        rows = [i for i, m in enumerate(modalities) if m == source and int(labels[i]) == digit]
        if not rows:
            raise ValueError(f"The table has no {source} row of digit {digit} to ask with.")
        found, error = attempt(
            nearest_of_another_digit, table, vectors[rows[0]].numpy(), digit=digit, modality=target
        )
        ask = (rows[0], digit, target)
        hint = (
            f"your function raised {error}."
            if error is not None
            else _filtered_hint(found, vectors, modalities, labels, ask)
        )
        if hint:
            break
    right = "Your filtered search finds the nearest row of another digit, as an exact search does."
    report(3, hint is None, right=right, hint=hint or "")
