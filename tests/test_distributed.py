"""Two processes on the CPU (gloo) compute what one process computes on the whole batch.

The gradient proofs run in float64 with BatchNorm in eval mode and no dropout, so the only
difference between one process and two is the order in which the same numbers are added: about
1e-16 relative. The tolerance (rtol 1e-9, atol 1e-12) sits far above that rounding and far below
the 50% error of a plain gather, so it holds on every CPU. The workers live at module level:
spawned processes import them from here.
"""

from __future__ import annotations

import copy
import multiprocessing
import os
import shutil
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest
import torch
import torch.distributed as dist

from helpers import checkpoints, data, distributed, launch, losses, model, training

ROOT = Path(__file__).resolve().parent.parent

ATOL, RTOL = 1e-12, 1e-9


def _max_relative(left: dict[str, torch.Tensor], right: dict[str, torch.Tensor]) -> float:
    """Largest |left - right| over all weights, relative to the largest |right| of that weight."""
    return max(float((left[k] - right[k]).abs().max() / right[k].abs().max()) for k in right)


def _worker(net, loss_fn, x_1, x_2, labels, digits, config):
    """One rank's share of every check, so the tests pay for starting processes once."""
    trained = copy.deepcopy(net).float().train()
    fit = distributed.fit_worker(trained, loss_fn, digits, config)
    fit["checksum"] = float(sum(p.detach().double().sum() for p in trained.parameters()))
    views, labelled = (x_1, x_2, None), (x_1, x_2, labels)
    return {
        "gathered": distributed.step_worker(copy.deepcopy(net), loss_fn, views),
        "gathered_labels": distributed.step_worker(copy.deepcopy(net), loss_fn, labelled),
        "plain": distributed.step_worker(copy.deepcopy(net), loss_fn, views, with_grad=False),
        "train_mode": distributed.step_worker(copy.deepcopy(net).train(), loss_fn, views),
        "fit": fit,
    }


def _fail_on_rank_1():
    if dist.get_rank() == 1:
        raise ValueError("rank 1 cannot go on")
    dist.barrier()  # rank 0 waits here for a partner that never comes


def _sleep():
    time.sleep(600)


@pytest.fixture(scope="module")
def batch():
    torch.manual_seed(0)
    net = model.EmbeddingNet(embedding_dim=16, dropout=0.0).double().eval()
    x_1 = torch.rand(8, 1, 28, 28, dtype=torch.float64) * 2 - 1  # (8, 1, 28, 28)
    x_2 = torch.rand(8, 1, 28, 28, dtype=torch.float64) * 2 - 1
    labels = torch.tensor([0, 1, 2, 0, 1, 2, 3, 3])
    return net, losses.InfoNCELoss(temperature=0.1), x_1, x_2, labels


@pytest.fixture(scope="module")
def two_processes(batch):
    digits = data.load_digits("sample")
    small = replace(
        digits,
        train_images=digits.train_images[:128],
        train_labels=digits.train_labels[:128],
        val_images=digits.val_images[:64],
        val_labels=digits.val_labels[:64],
    )
    config = training.TrainConfig(epochs=1, batch_size=32, batches="labelled_views")
    return launch.launch(_worker, *batch, small, config, world_size=2, timeout_s=180)


def test_two_processes_equal_one_process_on_the_whole_batch(batch, two_processes):
    net, loss_fn, x_1, x_2, labels = batch
    for key, y in [("gathered", None), ("gathered_labels", labels)]:
        loss, gradients = distributed.loss_and_gradients(net, loss_fn, (x_1, x_2, y))
        for rank_loss, rank_gradients in (result[key] for result in two_processes):
            assert rank_loss == pytest.approx(loss, rel=RTOL)
            for name, gradient in gradients.items():
                torch.testing.assert_close(rank_gradients[name], gradient, atol=ATOL, rtol=RTOL)


def test_loss_and_gradients_is_a_train_step_that_leaves_weights_and_mode_alone(batch):
    net, loss_fn, x_1, x_2, labels = batch
    before = {name: value.clone() for name, value in net.state_dict().items()}
    loss, gradients = distributed.loss_and_gradients(net, loss_fn, (x_1, x_2, labels))
    assert not net.training  # eval mode kept: BatchNorm stays frozen
    assert all(torch.equal(value, before[name]) for name, value in net.state_dict().items())
    by_hand = copy.deepcopy(net)
    by_hand.zero_grad()
    manual = loss_fn(*by_hand(torch.cat([x_1, x_2])).chunk(2), labels)  # one forward pass
    manual.backward()
    assert loss == pytest.approx(float(manual.detach()), rel=1e-12)
    for name, weight in by_hand.named_parameters():
        torch.testing.assert_close(gradients[name], weight.grad, atol=0, rtol=1e-12)


def test_a_plain_gather_loses_the_other_processes_share_of_the_gradient(batch, two_processes):
    net, loss_fn, x_1, x_2, _ = batch
    loss, gradients = distributed.loss_and_gradients(net, loss_fn, (x_1, x_2, None))
    for result in two_processes:
        plain_loss, plain = result["plain"]
        assert plain_loss == pytest.approx(loss, rel=RTOL)  # the forward pass is the same
        # Each embedding gets the gradient of its own process's copy of the loss only, 1/W of the
        # sum that the differentiable gather collects, and DDP's average leaves it at half.
        assert _max_relative(plain, gradients) == pytest.approx(0.5, rel=1e-6)
        for name, gradient in gradients.items():
            torch.testing.assert_close(2 * plain[name], gradient, atol=ATOL, rtol=RTOL)


def test_train_mode_batchnorm_normalises_each_process_on_its_own_half(batch, two_processes):
    net, loss_fn, x_1, x_2, _ = batch
    train_mode = copy.deepcopy(net).train()
    _, gradients = distributed.loss_and_gradients(train_mode, loss_fn, (x_1, x_2, None))
    _, two = two_processes[0]["train_mode"]
    assert _max_relative(two, gradients) > 0.01  # statistics of 4 digits differ from those of 8


def test_distributed_fit_trains_the_same_weights_on_every_process(two_processes):
    fits = [result["fit"] for result in two_processes]
    assert [fit["rank"] for fit in fits] == [0, 1]
    assert fits[0]["checksum"] == fits[1]["checksum"]  # DDP kept the weights in step
    assert [len(fit["history"]) for fit in fits] == [1, 1]
    assert fits[0]["history"][0]["examples"] == 64  # 4 steps of 16 digits on each process
    rebuilt = model.EmbeddingNet(embedding_dim=16)
    rebuilt.load_state_dict(fits[0]["state"])
    assert fits[1]["state"] is None


def test_a_worker_error_reaches_the_caller_with_its_message_and_stops_the_rest():
    with pytest.raises(launch.WorkerFailed, match="rank 1 failed: ValueError: rank 1 cannot go on"):
        launch.launch(_fail_on_rank_1, world_size=2, timeout_s=120)
    assert multiprocessing.active_children() == []


def test_a_hung_worker_is_stopped_after_the_timeout():
    started = time.monotonic()
    with pytest.raises(TimeoutError, match="did not finish within 3 s"):
        launch.launch(_sleep, world_size=2, timeout_s=3)
    assert time.monotonic() - started < 60
    assert multiprocessing.active_children() == []


def test_a_worker_defined_in_main_is_refused_before_any_process_starts():
    def local_worker():
        return 1

    local_worker.__module__ = "__main__"
    with pytest.raises(ValueError, match="cannot import it"):
        launch.launch(local_worker)


@pytest.fixture
def one_process_group():
    """A process group of one, in this process: enough to exercise the checks without spawning."""
    dist.init_process_group("gloo", store=dist.HashStore(), rank=0, world_size=1)
    yield
    dist.destroy_process_group()


def test_fit_worker_refuses_a_time_budget(one_process_group):
    digits = data.load_digits("sample")
    net, loss_fn = model.EmbeddingNet(), losses.InfoNCELoss()
    budget = training.TrainConfig(batches="labelled_views", time_budget_s=5.0)
    with pytest.raises(ValueError, match="time_budget_s would stop each process"):
        distributed.fit_worker(net, loss_fn, digits, budget)


def test_gathered_loss_of_one_process_is_the_loss(one_process_group, batch):
    _, loss_fn, _, _, labels = batch
    z_1, z_2 = torch.randn(8, 16, dtype=torch.float64), torch.randn(8, 16, dtype=torch.float64)
    gathered = distributed.GatheredLoss(loss_fn)
    assert gathered.batch_kinds == loss_fn.batch_kinds  # fit checks it against the batches
    assert float(gathered(z_1, z_2, labels)) == pytest.approx(float(loss_fn(z_1, z_2, labels)))


def test_without_a_process_group_the_gathered_loss_is_the_plain_loss(batch):
    _, loss_fn, _, _, _ = batch
    z_1, z_2 = torch.randn(6, 4), torch.randn(6, 4)
    assert torch.equal(distributed.GatheredLoss(loss_fn)(z_1, z_2), loss_fn(z_1, z_2))


def test_split_batch_loss_averages_the_loss_of_each_group():
    loss_fn = losses.InfoNCELoss(temperature=0.5)
    generator = torch.Generator().manual_seed(0)
    z_1 = torch.randn(12, 5, generator=generator, dtype=torch.float64, requires_grad=True)
    z_2 = torch.randn(12, 5, generator=generator, dtype=torch.float64)
    labels = torch.tensor([0, 1, 0, 2, 1, 1, 0, 2, 2, 0, 1, 2])
    one = distributed.SplitBatchLoss(loss_fn, groups=1)(z_1, z_2)
    torch.testing.assert_close(one, loss_fn(z_1, z_2), atol=0, rtol=1e-12)
    for y in (None, labels):
        parts = [slice(0, 4), slice(4, 8), slice(8, 12)]
        by_hand = sum(loss_fn(z_1[p], z_2[p], None if y is None else y[p]) for p in parts) / 3
        split = distributed.SplitBatchLoss(loss_fn, groups=3)(z_1, z_2, y)
        torch.testing.assert_close(split, by_hand, atol=0, rtol=1e-12)
        (gradient,) = torch.autograd.grad(split, z_1)  # vmap's backward: the loop's gradient
        (expected,) = torch.autograd.grad(by_hand, z_1)
        torch.testing.assert_close(gradient, expected, atol=1e-15, rtol=1e-12)
    with pytest.raises(ValueError, match="does not split into 5 equal groups"):
        distributed.SplitBatchLoss(loss_fn, groups=5)(z_1, z_2)
    with pytest.raises(ValueError, match="groups must be a whole number"):
        distributed.SplitBatchLoss(loss_fn, groups=0)


def test_negatives_per_anchor_counts_every_other_view_of_the_group():
    assert distributed.negatives_per_anchor(256) == 510
    assert distributed.negatives_per_anchor(256, groups=128) == 2  # the other image's two views


def test_shards_are_equal_disjoint_and_keep_validation_whole():
    digits = data.load_digits("sample")
    count = len(digits.train_images)
    tagged = replace(digits, train_labels=torch.arange(count))  # a label that names the image
    parts = [distributed.shard(tagged, rank=r, world_size=3) for r in range(3)]
    ids = torch.cat([p.train_labels for p in parts])
    assert [len(p.train_labels) for p in parts] == [count // 3] * 3
    assert len(ids.unique()) == len(ids) == 3 * (count // 3)
    assert all(torch.equal(p.train_images, digits.train_images[p.train_labels]) for p in parts)
    assert all(torch.equal(p.val_images, digits.val_images) for p in parts)
    with pytest.raises(ValueError, match="rank must lie in"):
        distributed.shard(digits, rank=3, world_size=3)


def test_similarity_bytes_of_a_clip_sized_batch():
    full = distributed.similarity_bytes(32_768, bytes_per_value=2)
    assert full == 32_768**2 * 2  # 2 GiB in fp16 on every process
    assert distributed.similarity_bytes(
        32_768, world_size=256, bytes_per_value=2, sharded=True
    ) == (128 * 32_768 * 2)


@pytest.mark.e2e  # three Python processes import torch one after another: slow for `make test`
def test_torchrun_runs_the_same_training_and_writes_a_checkpoint(tmp_path):
    torchrun = shutil.which("torchrun") or str(Path(sys.executable).with_name("torchrun"))
    command = [
        torchrun,
        "--standalone",
        "--nproc-per-node",
        "2",
        "-m",
        "helpers.distributed",
        *("--epochs", "1", "--batch-size", "32", "--limit", "128", "--out", str(tmp_path)),
    ]
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    environment = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": path}
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, env=environment)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "rank 0: 1 epochs" in done.stdout
    rebuilt = checkpoints.rebuild_model(tmp_path / "best.pt")
    assert isinstance(rebuilt, model.EmbeddingNet)
    digits = data.load_digits("sample")  # the checkpoint records what it trained on
    assert "held out" in checkpoints.check_held_out(tmp_path / "best.pt", digits)
