"""How sure is a number? 95% intervals for the scores a conclusion rests on.

Statistics only (numpy and scipy): an accuracy on N digits (Wilson), a mean over seeds or over
paired differences (Student's t). `evaluation` re-exports every name here, so notebooks call
`evaluation.accuracy_interval` beside the metric it qualifies.

Taught in 04_training (seeds, test accuracy) and 05_embedding_space (the closing table).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch


@dataclass(frozen=True)
class Estimate:
    """A measured score and its 95% interval, printed as `0.991 [0.983, 0.995]`."""

    value: float
    low: float
    high: float

    def __str__(self) -> str:
        return f"{self.value:.3f} [{self.low:.3f}, {self.high:.3f}]"


def mean_interval(values: float | list[float] | np.ndarray) -> tuple[float, float]:
    """The mean of one score or of several runs, and the half-width of its 95% t-interval.

    Taught in 04_training: three seeds of a run give a mean and an interval (Student's t); one
    score gives a half-width of 0. Every value must be a finite number.
    """
    array = np.atleast_1d(np.asarray(values, dtype=float))
    if array.size == 0 or not np.all(np.isfinite(array)):
        raise ValueError(
            f"Every score must be a finite number (or a list of them), got {values!r}."
        )
    if array.size == 1:
        return float(array[0]), 0.0
    from scipy import stats

    spread = stats.t.ppf(0.975, df=array.size - 1) * array.std(ddof=1) / np.sqrt(array.size)
    return float(array.mean()), float(spread)


def accuracy_interval(accuracy: float, count: int) -> tuple[float, float]:
    """The 95% interval (Wilson's) of an accuracy measured on `count` items, from scipy.

    Taught in 04_training: one accuracy near 0.95 on 1,000 test digits is uncertain by about
    +-0.014, so a difference of 0.005 between two models says nothing.
    """
    from scipy.stats import binomtest

    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise ValueError(f"count must be a whole number of items, at least 1; got {count!r}.")
    if not 0.0 <= accuracy <= 1.0:
        raise ValueError(f"accuracy must lie in [0, 1], got {accuracy}.")
    interval = binomtest(round(accuracy * count), count).proportion_ci(method="wilson")
    return float(interval.low), float(interval.high)


def seed_interval(values: list[float] | np.ndarray) -> Estimate:
    """Mean of one score over several seeds (or of per-seed differences) with a Student-t interval.

    Taught in 05_embedding_space. It measures how much the score moves between runs, not between
    samples of digits: a difference whose interval holds 0 is within the seeds' noise.
    """
    from scipy import stats

    array = np.asarray(values, dtype=float).reshape(-1)
    if len(array) < 2 or not np.isfinite(array).all():
        raise ValueError(f"seed_interval needs finite scores of at least 2 seeds, got {values!r}.")
    spread = float(array.std(ddof=1) / np.sqrt(len(array)))  # standard error of the mean
    half = float(stats.t.ppf(0.975, df=len(array) - 1)) * spread
    return Estimate(float(array.mean()), float(array.mean()) - half, float(array.mean()) + half)


def proportion_interval(hits: torch.Tensor | np.ndarray) -> Estimate:
    """Share of True values (e.g. right answers) with its Wilson 95% interval (scipy's binomtest)."""
    from scipy import stats

    flags = (
        np.asarray(hits.cpu() if isinstance(hits, torch.Tensor) else hits).reshape(-1).astype(bool)
    )
    if len(flags) == 0:
        raise ValueError("proportion_interval needs at least one right-or-wrong value.")
    low, high = stats.binomtest(int(flags.sum()), len(flags)).proportion_ci(method="wilson")
    return Estimate(float(flags.mean()), float(low), float(high))
