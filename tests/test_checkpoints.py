"""Checkpoints: round trip, weights_only loading, atomic writes, and errors that say what to do."""

import pytest
import torch

from helpers.checkpoints import (
    copy_state,
    load_checkpoint,
    load_weights,
    make_checkpoint,
    rebuild_model,
    save_checkpoint,
)
from helpers.model import EmbeddingNet
from helpers.training import TrainConfig


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
