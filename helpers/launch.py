"""Starting worker processes that form one torch.distributed group, from a notebook or a script.

`launch(worker, *args)` starts the processes, joins them in one process group (gloo on the CPU,
NCCL when every process has a GPU) and returns what each returned. The plumbing that makes that
safe lives here: a rendezvous port the operating system picks, a worker's exception raised in the
caller with its message, every process stopped on an error, a timeout or Ctrl-C.

Taught in 07_scaling_out.
"""

from __future__ import annotations

import os
import pickle
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

HOST = "127.0.0.1"


class WorkerFailed(RuntimeError):
    """A worker process raised an exception or died; the message holds its rank and traceback."""


def default_backend(world_size: int = 1) -> str:
    """NCCL when every process can have its own CUDA GPU, gloo (CPU) otherwise."""
    if torch.cuda.is_available() and torch.cuda.device_count() >= world_size:
        return "nccl"
    return "gloo"


def rank_device() -> torch.device:
    """The device of this process: its own GPU under NCCL (LOCAL_RANK), the CPU under gloo."""
    if dist.is_initialized() and dist.get_backend() == "nccl":
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", dist.get_rank())))
    return torch.device("cpu")


def _usable_cpus() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _run_rank(
    rank: int,
    world_size: int,
    backend: str,
    port: int,
    folder: str,
    timeout_s: float,
    worker: Callable[..., Any],
    args: tuple[Any, ...],
) -> None:
    """One spawned process: join the group through the launcher's store, run, save the result."""
    os.environ["LOCAL_RANK"] = str(rank)  # what torchrun sets; rank_device reads it
    if backend == "nccl":
        torch.cuda.set_device(rank)
    else:  # share the CPU cores instead of every process starting one thread per core
        torch.set_num_threads(max(1, _usable_cpus() // world_size))
    timeout = timedelta(seconds=timeout_s)
    store = dist.TCPStore(HOST, port, is_master=False, timeout=timeout)
    dist.init_process_group(backend, store=store, rank=rank, world_size=world_size, timeout=timeout)
    try:
        result = worker(*args)
    except BaseException:  # note when, before the cleanup below makes the others fail too
        (Path(folder) / f"rank_{rank}.failed").write_text(str(time.time_ns()))
        raise
    else:
        partial = Path(folder) / f".rank_{rank}.pt.partial"
        torch.save(result, partial)
        partial.rename(Path(folder) / f"rank_{rank}.pt")  # the parent never reads half a file
    finally:
        dist.destroy_process_group()


def _stop(context: mp.ProcessContext, *, grace_s: float = 5.0) -> None:
    """Terminate every worker still alive, then kill those that ignore it."""
    for process in context.processes:
        if process.is_alive():
            process.terminate()
    deadline = time.monotonic() + grace_s
    for process in context.processes:
        process.join(max(0.0, deadline - time.monotonic()))
        if process.is_alive():
            process.kill()
            process.join()


def _failure(context: mp.ProcessContext, error: Exception, folder: str) -> WorkerFailed:
    """The error of the worker that failed first: the others usually fail because it did.

    Each failing worker notes when it failed (`_run_rank`), and torch's spawn wrapper pickles
    its traceback into an error file; the earliest failure is the root cause (a peer's
    "connection closed" comes after it). torch's error files are removed once read.
    """
    written = []
    for rank, path in enumerate(context.error_files):
        if path and os.path.exists(path):
            noted = Path(folder) / f"rank_{rank}.failed"
            when = int(noted.read_text()) if noted.exists() else os.stat(path).st_mtime_ns
            with open(path, "rb") as handle:
                written.append((when, rank, pickle.load(handle)))
            os.unlink(path)
    if written:
        _, rank, text = min(written)
    else:  # killed by a signal or an exit code: no Python traceback to show
        rank, text = getattr(error, "error_index", "?"), str(error)
    text = str(text).strip()
    last = text.splitlines()[-1] if text else type(error).__name__
    return WorkerFailed(f"worker rank {rank} failed: {last}\n\n{text}")


def launch(
    worker: Callable[..., Any],
    *args: Any,
    world_size: int = 2,
    backend: str | None = None,
    timeout_s: float = 300.0,
) -> list[Any]:
    """Run `worker(*args)` in `world_size` new processes joined in one group; each rank's result.

    Taught in 07_scaling_out. Works from a notebook: the processes are started with "spawn", so
    `worker` must be importable (defined in a module, not in the notebook; `functools.partial`
    of such a function passes keyword arguments). The rendezvous store
    lives in this process on a port the operating system picks, so two launches never collide.
    When a worker raises, its rank and message come back as `WorkerFailed` and the other workers
    are stopped; the same happens to all of them after `timeout_s`, or on Ctrl-C.
    """
    if getattr(getattr(worker, "func", worker), "__module__", "__main__") == "__main__":
        raise ValueError(
            f"{getattr(worker, '__name__', worker)!r} is defined in the notebook or script "
            "itself; spawned processes cannot import it. Put it in a module (a .py file) and "
            "import it from there, like helpers.distributed.fit_worker."
        )
    if isinstance(world_size, bool) or not isinstance(world_size, int) or world_size < 1:
        raise ValueError(f"world_size must be a whole number of at least 1, got {world_size!r}.")
    if timeout_s <= 0:
        raise ValueError(f"timeout_s must be positive, got {timeout_s}.")
    backend = backend or default_backend(world_size)
    timeout = timedelta(seconds=timeout_s)
    store = dist.TCPStore(HOST, 0, is_master=True, wait_for_workers=False, timeout=timeout)
    with tempfile.TemporaryDirectory(prefix="helpers-launch-") as folder:
        context = mp.start_processes(
            _run_rank,
            args=(world_size, backend, store.port, folder, timeout_s, worker, args),
            nprocs=world_size,
            join=False,
            start_method="spawn",
        )
        deadline = time.monotonic() + timeout_s
        try:
            while not context.join(timeout=0.2, grace_period=2.0):
                if time.monotonic() > deadline:
                    raise TimeoutError(
                        f"The {world_size} workers did not finish within {timeout_s:g} s and were "
                        "stopped; raise timeout_s if the work is simply long."
                    )
        except (mp.ProcessRaisedException, mp.ProcessExitedException) as error:
            raise _failure(context, error, folder) from None
        finally:
            _stop(context)
        return [
            torch.load(Path(folder) / f"rank_{rank}.pt", weights_only=True)
            for rank in range(world_size)
        ]
