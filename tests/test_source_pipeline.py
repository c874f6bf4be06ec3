"""The rebuilt source pipeline: the chapter's choices do what 04 says they do, one switch each."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from helpers import source_pipeline as source
from helpers.data import Digits, to_network_input
from helpers.evaluation import embed, knn_accuracy
from helpers.model import EmbeddingNet


@pytest.fixture
def small():
    """60 random 'digits' (6 of each label) as uint8 images and int64 labels."""
    generator = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (60, 28, 28), dtype=torch.uint8, generator=generator)
    return images, torch.arange(60) % 10


def test_the_chapters_transform_wraps_float32_pixels_and_the_fix_is_one_dtype(small):
    values = source.scrambled_values((0, 1, 128, 255))
    assert values[0] == -1.0 and values[1] == 1.0  # a faint edge becomes the brightest stroke
    assert values[255] == pytest.approx(-0.992, abs=1e-3)  # the brightest stroke turns dark
    images, _ = small
    assert torch.equal(source.source_pixels(images, scrambled=False), to_network_input(images))
    assert not torch.equal(source.source_pixels(images, scrambled=True), to_network_input(images))


def test_pairs_from_the_table_equal_pairs_from_the_pixels(small):
    images, labels = small
    frame = source.as_frame(images, labels)
    assert list(frame.columns[:2]) == ["label", "pixel0"] and len(frame.columns) == 785
    by_rows = source.pairs_from_frame(frame, rng=np.random.default_rng(3))
    direct = source.SourcePairs(
        source.source_pixels(images, scrambled=True), labels, rng=np.random.default_rng(3)
    )
    assert torch.equal(by_rows.pixels, direct.pixels) and torch.equal(by_rows.labels, labels)
    assert torch.equal(by_rows.partner, direct.partner)


def test_the_chapters_draw_pairs_every_anchor_and_may_pair_it_with_itself(small):
    images, labels = small
    pairs = source.SourcePairs(to_network_input(images), labels, rng=np.random.default_rng(0))
    same = pairs.labels[pairs.partner] == pairs.labels
    assert torch.equal(pairs.target, same.float())
    self_pairs = []
    for seed in range(40):  # a positive's partner is one of 6 images of its digit, itself included
        pairs.redraw(np.random.default_rng(seed))
        self_pairs.append(pairs.self_pairs())
    assert min(self_pairs) >= 0 and max(self_pairs) > 0
    anchor, partner, target, label = pairs[5]
    assert anchor.shape == partner.shape == (1, 28, 28) and int(label) == 5
    assert float(target) == float(labels[pairs.partner[5]] == 5)


def test_source_pairs_refuse_mismatched_inputs(small):
    images, labels = small
    with pytest.raises(ValueError, match=r"pixels \(N, 1, 28, 28\)"):
        source.SourcePairs(to_network_input(images), labels[:10], rng=np.random.default_rng(0))


def test_recipes_that_differ_only_in_measurement_share_a_run():
    chapter = source.SourceRecipe()
    measured = replace(chapter, eval_mode=True, keep_best=True)
    assert measured.training_choices() == chapter.training_choices()
    assert replace(chapter, fresh_pairs=True).training_choices() != chapter.training_choices()
    with pytest.raises(ValueError, match="batch_size"):
        source.SourceRecipe(batch_size=1)


def run_briefly(small, recipe, *, budget_s=1.0):
    images, labels = small
    torch.manual_seed(0)
    pairs = source.SourcePairs(to_network_input(images), labels, rng=np.random.default_rng(0))
    first_partners = pairs.partner.clone()
    scores = iter(np.linspace(0.9, 0.1, 1000))  # evaluations get worse: the first is the best
    run = source.train_source(
        EmbeddingNet(embedding_dim=8),
        pairs,
        recipe,
        budget_s=budget_s,
        evaluate=lambda model: float(next(scores)),
        eval_every_s=0.05,
    )
    return run, pairs, first_partners


def test_fixed_pairs_stay_fixed_and_fresh_pairs_are_redrawn(small):
    fixed_run, fixed, first = run_briefly(small, source.SourceRecipe())
    assert fixed_run.epochs >= 2 and torch.equal(fixed.partner, first)
    fresh_run, fresh, first = run_briefly(small, source.SourceRecipe(fresh_pairs=True))
    assert fresh_run.epochs >= 2 and not torch.equal(fresh.partner, first)


def test_a_run_counts_its_work_and_keeps_a_real_copy_of_its_best_evaluation(small):
    run, _, _ = run_briefly(small, source.SourceRecipe())
    assert run.steps > 0 and run.images == 2 * run.pairs  # two images per pair
    assert 0 < run.trained_s < 10.0 and len(run.evaluations) >= 2
    assert run.best.epoch == run.evaluations[0]["epoch"]  # the first evaluation scored best
    lowest = min(run.evaluations, key=lambda row: row["train_loss"])
    assert run.lowest_loss.epoch == lowest["epoch"]  # the chapter's rule, kept as a real copy
    kept = run.copy_with(run.lowest_loss)
    assert not kept.training and all(
        torch.equal(tensor, run.lowest_loss.state[name])
        for name, tensor in kept.state_dict().items()
    )
    final = run.chosen_model(source.SourceRecipe())
    best = run.chosen_model(source.SourceRecipe(keep_best=True))
    assert final is run.model and best is not run.model
    for name, tensor in best.state_dict().items():
        assert torch.equal(tensor, run.best.state[name])
    moved = [not torch.equal(run.best.state[n], t) for n, t in run.model.state_dict().items()]
    assert any(moved)  # training went on after the best evaluation; the copy did not follow


def test_in_batch_steps_score_every_pair_of_a_batch(small):
    run, _, _ = run_briefly(small, source.SourceRecipe(in_batch=True, batch_size=20))
    assert run.steps > 0 and run.images * 19 // 2 == run.pairs  # 20 images, 190 pairs a step


def test_train_mode_embeddings_differ_and_leave_the_network_alone(small):
    images, labels = small
    pixels = to_network_input(images)
    torch.manual_seed(0)
    model = EmbeddingNet(embedding_dim=8)
    before = {name: tensor.clone() for name, tensor in model.state_dict().items()}
    right = source.source_embeddings(model, pixels, eval_mode=True)
    assert torch.equal(right, embed(model, pixels))
    chapters = source.source_embeddings(model, pixels, eval_mode=False)
    assert chapters.shape == right.shape and not torch.allclose(chapters, right)
    for name, tensor in model.state_dict().items():
        assert torch.equal(tensor, before[name]), name  # BatchNorm statistics untouched


def test_scores_follow_the_recipes_measurement(small):
    run, pairs, _ = run_briefly(small, source.SourceRecipe())
    gallery = (pairs.pixels, pairs.labels)
    queries = {"val": (pairs.pixels[:20], pairs.labels[:20])}
    eval_final = source.source_scores(run, source.SourceRecipe(eval_mode=True), gallery, queries)
    expected = knn_accuracy(
        embed(run.model, pairs.pixels), pairs.labels, embed(run.model, pairs.pixels[:20]),
        pairs.labels[:20],
    )  # fmt: skip
    assert eval_final["val"] == expected
    chapters = source.source_scores(run, source.SourceRecipe(), gallery, queries)
    assert 0.0 <= chapters["val"] <= 1.0 and set(chapters) == {"val"}


def test_an_epoch_limit_evaluates_after_every_epoch(small):
    images, labels = small
    torch.manual_seed(0)
    pairs = source.SourcePairs(to_network_input(images), labels, rng=np.random.default_rng(0))
    run = source.train_source(
        EmbeddingNet(embedding_dim=8),
        pairs,
        source.SourceRecipe(),
        epochs=3,
        evaluate=lambda model: 0.5,
    )
    assert run.epochs == 3 and run.steps == 3 * 4  # 60 pairs in batches of 16: 4 a epoch
    assert [row["epoch"] for row in run.evaluations] == [1.0, 2.0, 3.0]
    assert all(np.isfinite(row["train_loss"]) for row in run.evaluations)
    with pytest.raises(ValueError, match="budget_s"):
        source.train_source(EmbeddingNet(), pairs, source.SourceRecipe())


def test_source_splits_prepare_every_split_the_chapters_way(small):
    images, labels = small
    digits = Digits(images[:40], labels[:40], images[40:50], labels[40:50], "random", "random",
                    test_images=images[50:], test_labels=labels[50:])  # fmt: skip
    splits = source.source_splits(digits, scrambled=True)
    assert list(splits) == ["train", "val", "test"]
    pixels, split_labels = splits["test"]
    assert torch.equal(pixels, source.source_pixels(images[50:], scrambled=True))
    assert torch.equal(split_labels, labels[50:])
    model = EmbeddingNet(embedding_dim=8)
    expected = knn_accuracy(
        embed(model, splits["train"][0]), labels[:40], embed(model, pixels), labels[50:]
    )
    assert source.one_nn(model, splits["train"], splits["test"]) == expected
