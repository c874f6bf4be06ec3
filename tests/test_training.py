"""fit: the best weights are a real copy, resuming is exact, Ctrl-C is clean, training works."""

import copy
import re
from dataclasses import replace

import pytest
import torch

from helpers import bookkeeping, training
from helpers.checkpoints import load_checkpoint, rebuild_model
from helpers.data import Digits, load_digits, to_network_input
from helpers.evaluation import knn_accuracy, validation_1nn
from helpers.losses import CosineMSELoss, InBatchCosineMSELoss, InfoNCELoss
from helpers.model import EmbeddingNet
from helpers.pairs import epoch_batches
from helpers.runtime import amp_policy
from helpers.training import TrainConfig, fit, train_epoch, train_step


@pytest.fixture(scope="module")
def digits() -> Digits:
    return load_digits()


@pytest.fixture(scope="module")
def small(digits) -> Digits:
    """400 training and 200 validation digits: enough to run a few quick epochs."""
    return replace(
        digits,
        train_images=digits.train_images[:400],
        train_labels=digits.train_labels[:400],
        val_images=digits.val_images[:200],
        val_labels=digits.val_labels[:200],
    )


QUICK = TrainConfig(epochs=3, batch_size=50, seed=0)


# Three epochs beat raw pixels by 0.022 to 0.044 (mean 0.032, sd 0.005) in 20 runs: seeds 0-4,
# torch threads 1 and 2, validation sets of 1,000 and 500 digits. The threshold sits 0.017 (three
# standard deviations) below the lowest of them.
PIXEL_MARGIN = 0.005


@pytest.fixture(scope="module")
def trained(digits) -> training.FitResult:
    """Three epochs of the notebooks' recipe: supervised InfoNCE on two views of 64 digits."""
    torch.manual_seed(0)
    config = TrainConfig(epochs=3, batch_size=64, batches="labelled_views", seed=0)
    return fit(EmbeddingNet(), InfoNCELoss(temperature=0.1), digits, config=config, progress=False)


def test_short_training_beats_raw_pixels(digits, trained):
    """The promise of the series: a trained embedding beats 1-NN on raw pixels.

    PIXEL_MARGIN says how its threshold was measured.
    """
    pixels = knn_accuracy(
        digits.train_images, digits.train_labels, digits.val_images, digits.val_labels
    )
    assert trained.best_value == max(row["val_1nn"] for row in trained.history)
    assert validation_1nn(trained.model, digits) == pytest.approx(trained.best_value)
    assert trained.best_value > pixels + PIXEL_MARGIN


def test_embedding_in_train_mode_costs_accuracy(digits, trained):
    """The source's embedding loop (train mode under no_grad, batches of 16) scores below the same
    weights in eval mode: dropout stays on, so every embedding gets a random mask.

    The accuracy is averaged over four dropout draws. Measured with one draw each in the 20 runs
    of PIXEL_MARGIN, eval minus train mode was 0.011 to 0.040 (mean 0.021, sd 0.009), so the
    threshold 0 is more than two standard deviations below the mean; six draws on one model
    spread over 0.011, which the average of four narrows.
    """
    model = copy.deepcopy(trained.model)  # train mode moves BatchNorm's running statistics

    def train_mode_embed(images: torch.Tensor) -> torch.Tensor:
        model.train()
        with torch.no_grad():
            return torch.cat([model(to_network_input(b)) for b in images.split(16)])

    scores = []
    for draw in range(4):
        torch.manual_seed(draw)  # the same dropout masks on every run of this machine
        gallery, queries = (
            train_mode_embed(digits.train_images),
            train_mode_embed(digits.val_images),
        )
        scores.append(knn_accuracy(gallery, digits.train_labels, queries, digits.val_labels))
    assert sum(scores) / len(scores) < trained.best_value


def test_history_has_one_row_per_epoch_with_the_schedule(small, capsys):
    torch.manual_seed(0)
    config = replace(QUICK, epochs=3, lr_step_size=2, lr_gamma=0.1)
    result = fit(EmbeddingNet(), CosineMSELoss(), small, config=config, progress=True)
    printed = capsys.readouterr()
    lines = printed.out.splitlines()  # one plain line per epoch, no widget, nothing on stderr
    assert len(lines) == 3 and printed.err == ""
    for epoch, line in enumerate(lines, start=1):
        assert re.fullmatch(
            rf"epoch {epoch}/3  train loss \d+\.\d{{4}}  val loss \d+\.\d{{4}}  "
            r"val 1-NN [01]\.\d{3}  \d+\.\d s",
            line,
        ), line
    frame = result.history.to_frame()
    assert list(frame.index) == [1, 2, 3]
    assert {"train_loss", "val_loss", "val_1nn", "lr", "seconds"} <= set(frame.columns)
    assert frame["lr"].tolist() == pytest.approx([1e-3, 1e-3, 1e-4])
    assert not result.interrupted and not result.model.training


def test_saved_best_equals_the_best_epoch_when_a_later_epoch_is_worse(small, tmp_path, monkeypatch):
    # Script the validation metric so that epoch 2 is the best and epochs 3 and 4 are worse.
    scores = iter([0.50, 0.90, 0.70, 0.60])
    monkeypatch.setattr(training, "validation_1nn", lambda model, digits: next(scores))
    weights_after = {}

    def remember(epoch, model):
        weights_after[epoch] = {k: v.clone() for k, v in model.state_dict().items()}

    torch.manual_seed(0)
    config = replace(QUICK, epochs=4, best_metric="val_1nn")
    result = fit(
        EmbeddingNet(),
        CosineMSELoss(),
        small,
        config=config,
        checkpoint_dir=tmp_path,
        progress=False,
        on_epoch_end=remember,
    )
    assert result.best_epoch == 2 and result.best_value == 0.90
    best_file, last_file = (
        load_checkpoint(tmp_path / "best.pt"),
        load_checkpoint(tmp_path / "last.pt"),
    )
    assert best_file["epoch"] == 2 and last_file["epoch"] == 4
    assert best_file["metrics"]["val_1nn"] == 0.90
    # The best file holds the weights of epoch 2, not the last ones (the source's bug).
    for name, tensor in weights_after[2].items():
        assert torch.equal(best_file["model_state"][name], tensor), name
        assert torch.equal(result.model.state_dict()[name], tensor), name
        assert torch.equal(last_file["model_state"][name], weights_after[4][name]), name
    assert not torch.equal(weights_after[2]["head.3.weight"], weights_after[4]["head.3.weight"])
    rebuilt = rebuild_model(tmp_path / "best.pt")
    assert all(torch.equal(v, weights_after[2][k]) for k, v in rebuilt.state_dict().items())


def test_resumed_run_ends_with_the_same_weights_as_an_uninterrupted_one(small, tmp_path):
    config = replace(QUICK, epochs=3, lr_step_size=1, checkpoint_every=1)
    torch.manual_seed(0)
    straight = fit(EmbeddingNet(), CosineMSELoss(), small, config=config, progress=False)

    torch.manual_seed(0)
    first = fit(
        EmbeddingNet(),
        CosineMSELoss(),
        small,
        config=replace(config, epochs=2),
        checkpoint_dir=tmp_path,
        progress=False,
    )
    assert [p.name for p in first.checkpoints["every"]] == ["epoch_001.pt", "epoch_002.pt"]
    torch.manual_seed(123)  # resuming restores the random state itself
    resumed = fit(
        EmbeddingNet(),
        CosineMSELoss(),
        small,
        config=config,
        resume_from=tmp_path / "last.pt",
        checkpoint_dir=tmp_path,
        progress=False,
    )
    assert len(resumed.history) == 3
    for name, tensor in straight.final_state.items():
        assert torch.equal(tensor, resumed.final_state[name]), name
    assert (
        resumed.history.to_frame()["val_1nn"].tolist()
        == straight.history.to_frame()["val_1nn"].tolist()
    )


def test_ctrl_c_keeps_the_last_good_checkpoint_and_the_history(small, tmp_path):
    class InterruptInEpochTwo(CosineMSELoss):
        calls = 0

        def forward(self, z_1, z_2, target):
            if torch.is_grad_enabled():  # count training steps, not validation batches
                type(self).calls += 1
            if type(self).calls == 8 + 3:  # 8 batches an epoch: the third of epoch 2
                raise KeyboardInterrupt
            return super().forward(z_1, z_2, target)

    torch.manual_seed(0)
    result = fit(
        EmbeddingNet(),
        InterruptInEpochTwo(),
        small,
        config=replace(QUICK, epochs=5),
        checkpoint_dir=tmp_path,
        progress=False,
    )
    assert result.interrupted
    assert [row["epoch"] for row in result.history] == [1]
    assert load_checkpoint(tmp_path / "last.pt")["epoch"] == 1
    assert result.best_epoch == 1
    assert not any(p.name.endswith(".partial") for p in tmp_path.iterdir())


def test_time_budget_stops_training(small, monkeypatch):
    class TickingClock:
        """Every reading is 0.1 s later: the budget's logic, without a busy machine's wall time."""

        now = 0.0

        def perf_counter(self) -> float:
            self.now += 0.1
            return self.now

    monkeypatch.setattr(bookkeeping, "time", TickingClock())
    torch.manual_seed(0)
    config = replace(QUICK, epochs=50, time_budget_s=0.5)
    result = fit(EmbeddingNet(), CosineMSELoss(), small, config=config, progress=False)
    assert result.budget_reached and len(result.history) < 50
    # The budget is checked before every step, so only the last epoch crosses it, by one reading.
    seconds = [row["seconds"] for row in result.history]
    assert sum(seconds[:-1]) < 0.5 <= sum(seconds) <= 0.5 + 0.1 + 1e-9


def test_a_loss_and_batches_that_do_not_fit_are_refused(small):
    with pytest.raises(ValueError, match="batches='views'"):
        fit(EmbeddingNet(), InfoNCELoss(), small, config=QUICK, progress=False)
    with pytest.raises(ValueError, match="batches='pairs'"):
        fit(
            EmbeddingNet(),
            CosineMSELoss(),
            small,
            config=replace(QUICK, batches="views"),
            progress=False,
        )


def test_config_is_frozen_and_checked():
    with pytest.raises(ValueError, match="batches"):
        TrainConfig(batches="triplets")
    with pytest.raises(AttributeError):
        TrainConfig().epochs = 3  # frozen: change it with dataclasses.replace
    assert TrainConfig.from_dict(TrainConfig(epochs=2).to_dict()) == TrainConfig(epochs=2)


def test_train_step_is_the_hand_written_step(small):
    """zero_grad, one forward pass for both halves of the batch, the loss, backward, step."""
    torch.manual_seed(0)
    model = EmbeddingNet(embedding_dim=8)
    twin = EmbeddingNet(embedding_dim=8)
    twin.load_state_dict(model.state_dict())
    generator = torch.Generator().manual_seed(0)
    anchor, partner, target = next(
        epoch_batches("pairs", small.train_images, small.train_labels, batch_size=16,
                      generator=generator)
    )  # fmt: skip
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    torch.manual_seed(1)  # the same dropout masks for both
    loss = train_step(model, CosineMSELoss(), (anchor, partner, target), optimizer)

    by_hand = torch.optim.SGD(twin.parameters(), lr=0.1)
    torch.manual_seed(1)
    by_hand.zero_grad()
    z_1, z_2 = twin(torch.cat([anchor, partner])).chunk(2)
    expected = CosineMSELoss()(z_1, z_2, target)
    expected.backward()
    by_hand.step()
    assert loss.item() == expected.item() and not loss.requires_grad
    for name, value in model.state_dict().items():
        assert torch.equal(value, twin.state_dict()[name]), name


def test_train_epoch_reports_its_steps_and_mixed_precision_changes_little(small):
    batches = list(
        epoch_batches("in_batch", small.train_images, small.train_labels, batch_size=50,
                      generator=torch.Generator().manual_seed(0))
    )  # fmt: skip
    rows = {}
    for precision in ("fp32", "bf16"):
        torch.manual_seed(0)
        model = EmbeddingNet()
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
        policy = amp_policy(torch.device("cpu"), precision=precision)
        rows[precision] = train_epoch(
            model, InBatchCosineMSELoss(), batches, optimizer, precision=policy
        )
    assert rows["fp32"]["steps"] == 8 and rows["fp32"]["images"] == rows["fp32"]["examples"] == 400
    # bf16 keeps 8 bits of mantissa: the same epoch's mean loss moves by far less than it falls
    assert abs(rows["bf16"]["train_loss"] - rows["fp32"]["train_loss"]) < 0.02


def test_in_batch_pairs_train_with_the_sources_loss(small):
    torch.manual_seed(0)
    config = replace(QUICK, batches="in_batch", epochs=2)
    result = fit(EmbeddingNet(), InBatchCosineMSELoss(), small, config=config, progress=False)
    first, last = result.history
    assert last["train_loss"] < first["train_loss"] and last["images"] == 400
    with pytest.raises(ValueError, match="batches='in_batch'"):
        fit(EmbeddingNet(), InBatchCosineMSELoss(), small, config=QUICK, progress=False)


def test_speed_options_are_saved_and_checked(small):
    config = replace(QUICK, precision="fp32", channels_last=False, compile=False)
    assert TrainConfig.from_dict(config.to_dict()) == config
    with pytest.raises(ValueError, match="precision"):
        TrainConfig(precision="fp8")
    torch.manual_seed(0)
    model = EmbeddingNet()
    fit(model, CosineMSELoss(), small, config=replace(QUICK, epochs=1), progress=False)
    assert model.conv1[0].weight.is_contiguous(memory_format=torch.channels_last)


def test_a_failing_compiler_falls_back_and_training_goes_on(small):
    import torch._inductor.config as inductor

    broken_compiler = inductor.patch({"cpp.cxx": ("/nonexistent/c++",), "fx_graph_cache": False})
    torch._dynamo.reset()
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 8), torch.nn.Tanh())
    config = replace(QUICK, epochs=1, compile=True)
    with broken_compiler, pytest.warns(UserWarning, match="torch.compile failed"):
        result = fit(model, CosineMSELoss(), small, config=config, progress=False)
    assert len(result.history) == 1 and result.history[0]["steps"] == 8


def test_the_progress_line_layout():
    row = {
        "epoch": 3,
        "train_loss": 0.21843,
        "val_loss": 0.24114,
        "val_1nn": 0.9621,
        "seconds": 2.44,
    }
    assert bookkeeping.epoch_line(row, epochs=10) == (
        "epoch  3/10  train loss 0.2184  val loss 0.2411  val 1-NN 0.962  2.4 s"
    )
    cut = bookkeeping.epoch_line({**row, "stopped_early": True}, epochs=3)
    assert cut.startswith("epoch 3/3  ") and cut.endswith("  (time budget reached)")
