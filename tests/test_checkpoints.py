"""Checkpoints: round trip, weights_only loading, atomic writes, errors that say what to do, and
the record of the training digits that keeps evaluation off them."""

from dataclasses import replace

import numpy as np
import pytest
import torch

from helpers import data
from helpers.checkpoints import (
    EvaluationDataError,
    check_held_out,
    copy_state,
    load_checkpoint,
    load_weights,
    make_checkpoint,
    rebuild_model,
    save_checkpoint,
)
from helpers.data import Digits, load_digits, load_sample
from helpers.model import EmbeddingNet
from helpers.training import TrainConfig
from tests.conftest import fake_digits, write_kaggle_csv, write_mnist_idx


def saved(tmp_path, **kwargs):
    torch.manual_seed(0)
    net = EmbeddingNet(embedding_dim=16, dropout=0.2)
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=10, gamma=0.1)
    net(torch.randn(4, 1, 28, 28)).sum().backward()
    optimizer.step()
    scheduler.step()
    history = [{"epoch": 1, "train_loss": 0.5, "val_1nn": 0.9}]
    checkpoint = make_checkpoint(
        net,
        epoch=1,
        config=TrainConfig(batch_size=64).to_dict(),
        optimizer=optimizer,
        scheduler=scheduler,
        history=history,
        best={"epoch": 1, "metric": "val_1nn", "value": 0.9},
        generator=torch.Generator().manual_seed(5),
        **kwargs,
    )
    return net, save_checkpoint(tmp_path / "last.pt", checkpoint)


def test_round_trip_rebuilds_an_equal_model_without_notebook_code(tmp_path):
    net, path = saved(tmp_path)
    rebuilt = rebuild_model(path)
    assert isinstance(rebuilt, EmbeddingNet) and rebuilt.config() == {
        "embedding_dim": 16,
        "dropout": 0.2,
    }
    x = torch.randn(5, 1, 28, 28)
    assert torch.equal(net.eval()(x), rebuilt(x))


def test_checkpoint_holds_everything_and_loads_with_weights_only(tmp_path):
    _, path = saved(tmp_path)
    checkpoint = torch.load(path, weights_only=True)  # plain values and tensors only
    for key in ("optimizer_state", "scheduler_state", "epoch", "rng_state", "config", "metrics"):
        assert checkpoint[key] is not None
    assert checkpoint["config"]["batch_size"] == 64
    assert TrainConfig.from_dict(checkpoint["config"]) == TrainConfig(batch_size=64)
    assert checkpoint["metrics"] == {"epoch": 1, "train_loss": 0.5, "val_1nn": 0.9}
    assert checkpoint["scheduler_state"]["last_epoch"] == 1
    assert "generator" in checkpoint["rng_state"] and "torch" in checkpoint["rng_state"]


def test_copy_state_is_a_copy_not_a_reference():
    net = EmbeddingNet()
    reference, copy = net.state_dict(), copy_state(net.state_dict())
    with torch.no_grad():
        net.head[-1].bias.add_(1.0)
    assert torch.equal(reference["head.3.bias"], net.head[-1].bias)  # the source's mistake
    assert not torch.equal(copy["head.3.bias"], net.head[-1].bias)


def test_a_failed_write_leaves_the_good_checkpoint_in_place(tmp_path, monkeypatch):
    net, path = saved(tmp_path)
    before = path.read_bytes()

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", crash)
    with pytest.raises(OSError):
        save_checkpoint(path, make_checkpoint(net, epoch=2, config={}))
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["last.pt"]  # no temporary file left behind


def test_missing_corrupt_and_foreign_files_give_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothing.pt"):
        load_checkpoint(tmp_path / "nothing.pt")
    _, path = saved(tmp_path)
    broken = tmp_path / "broken.pt"
    broken.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(ValueError, match="broken.pt.*Delete it"):
        load_checkpoint(broken)
    foreign = tmp_path / "foreign.pt"
    torch.save({"weights": torch.zeros(2)}, foreign)
    with pytest.raises(ValueError, match="not a checkpoint of this series"):
        load_checkpoint(foreign)


def test_weights_of_another_shape_are_refused_with_the_saved_architecture(tmp_path):
    _, path = saved(tmp_path)
    with pytest.raises(ValueError, match="embedding_dim"):
        load_weights(EmbeddingNet(embedding_dim=64), load_checkpoint(path))


# --- the data record and check_held_out: no evaluation on digits the network trained on ----------


@pytest.fixture(scope="module")
def sample() -> Digits:
    return load_digits()


@pytest.fixture(scope="module")
def stand_in_for_full_mnist(sample, tmp_path_factory) -> Digits:
    """Full MNIST as load_digits("mnist") reads it, made offline: its training file holds the whole
    offline sample (the real sample is a subset of MNIST's training set) plus 1,000 other digits."""
    root = tmp_path_factory.mktemp("mnist")
    images, labels = load_sample()
    others, other_labels = fake_digits(1000, seed=7)
    write_mnist_idx(
        root,
        train=(np.concatenate([images, others]), np.concatenate([labels, other_labels])),
        test=fake_digits(500, seed=8),
    )
    return load_digits("mnist", root=root, validation_size=600)


def trained_on(tmp_path, digits, *, name="best.pt", epoch=3):
    torch.manual_seed(0)
    checkpoint = make_checkpoint(EmbeddingNet(embedding_dim=8), epoch=epoch, config={}, data=digits)
    return save_checkpoint(tmp_path / name, checkpoint)


def test_a_checkpoint_records_its_training_digits_and_loads_with_weights_only(tmp_path, sample):
    path = trained_on(tmp_path, sample)
    record = torch.load(path, weights_only=True)["data"]
    assert record["source"] == "sample" and record["loaded_by"] == sample.loaded_by
    assert record["train_fingerprint"] == sample.provenance()["train_fingerprint"]
    assert torch.equal(record["train_hashes"], sample.provenance()["train_hashes"])
    precomputed = make_checkpoint(EmbeddingNet(), epoch=1, config={}, data=sample.provenance())
    assert precomputed["data"]["train_fingerprint"] == record["train_fingerprint"]
    with pytest.raises(ValueError, match="data= needs the training Digits or their provenance"):
        make_checkpoint(EmbeddingNet(), epoch=1, config={}, data={"source": "sample"})


def test_full_mnist_checkpoint_is_refused_for_evaluation_on_the_sample(
    tmp_path, sample, stand_in_for_full_mnist
):
    path = trained_on(tmp_path, stand_in_for_full_mnist)
    evaluation = torch.cat([sample.val_images, sample.test_images])
    trained = set(data.content_hashes(stand_in_for_full_mnist.train_images).tolist())
    expected = sum(value in trained for value in data.content_hashes(evaluation).tolist())
    assert expected > 1000  # most of the sample's held-out digits are MNIST training digits
    with pytest.raises(EvaluationDataError) as refused:
        check_held_out(path, sample)
    message = str(refused.value)
    assert refused.value.overlap == expected and isinstance(refused.value, ValueError)
    assert f"{path} was trained on 5,400 training digits" in message
    assert f"{expected:,} of the 1,500 validation and test digits" in message
    assert "data.load_digits('mnist', validation_size=600, seed=0, download=True)" in message
    assert "retrain a network here on these digits" in message
    # on the digits it held out, the same checkpoint is clean
    report = check_held_out(path, stand_in_for_full_mnist)
    assert report.startswith(f"{path}: none of the 1,100 validation and test digits")


def test_a_checkpoint_trained_on_the_sample_is_clean_for_its_own_split_only(tmp_path, sample):
    path = trained_on(tmp_path, sample)
    report = check_held_out(path, sample)
    assert "none of the 1,500 validation and test digits" in report and "held out" in report
    assert "none of the 1,000 test digits" in check_held_out(path, sample, splits=("test",))
    with pytest.raises(EvaluationDataError, match="load_digits\\('sample', .*seed=0\\)"):
        check_held_out(path, load_digits(seed=1))  # another split seed: another training set


def test_a_kaggle_csv_of_the_same_digits_is_caught_too(tmp_path, sample):
    """Kaggle's train.csv is MNIST: a checkpoint trained on it may have seen the sample's digits."""
    csv = write_kaggle_csv(tmp_path / "train.csv", sample.test_images[:200].numpy(), None)
    text = csv.read_text().splitlines()
    labels = sample.test_labels[:200].tolist()
    rows = [f"{label},{row}" for label, row in zip(labels, text[1:], strict=True)]
    csv.write_text("\n".join(["label," + text[0], *rows]) + "\n")
    kaggle = load_digits("kaggle", path=csv, validation_size=20, test_size=20)
    with pytest.raises(EvaluationDataError) as refused:
        check_held_out(trained_on(tmp_path, kaggle), sample)
    assert refused.value.overlap == 160  # its 160 training digits are all sample test digits


def test_checkpoints_without_a_data_record_get_a_clear_message(tmp_path, sample):
    old = save_checkpoint(tmp_path / "old.pt", make_checkpoint(EmbeddingNet(), epoch=5, config={}))
    with pytest.raises(EvaluationDataError, match="old.pt holds no record of the digits") as error:
        check_held_out(old, sample)
    assert error.value.overlap is None and "Retrain a network here" in str(error.value)
    untrained = make_checkpoint(EmbeddingNet(), epoch=0, config={})
    assert "untrained" in check_held_out(untrained, sample)
    with pytest.raises(FileNotFoundError, match="missing.pt: no such checkpoint"):
        check_held_out(tmp_path / "missing.pt", sample)
    with pytest.raises(ValueError, match="choose from"):
        check_held_out(untrained, sample, splits=("train",))


def test_the_sources_own_duplicates_do_not_refuse_its_own_held_out_digits(tmp_path, sample):
    """A source may hold one image twice, once on each side of its split: evaluating on the very
    digits the checkpoint held out passes; the same image in other evaluation digits does not."""
    doubled = replace(
        sample, test_images=torch.cat([sample.test_images[1:], sample.train_images[:1]])
    )
    path = trained_on(tmp_path, doubled)
    assert "none of the 1,500" in check_held_out(path, doubled)
    other = replace(doubled, test_images=doubled.test_images[1:])
    with pytest.raises(EvaluationDataError) as refused:
        check_held_out(path, other)
    assert refused.value.overlap == 1
