"""The benchmark's recipes: `helpers.training.TrainConfig` values, each trained by `fit` itself.

`SERIES` is the notebooks' own recipe (helpers.recipes), the headline of `make bench`; `SERIES_GPU`
the same with batches sized for a GPU. The lever recipes change one thing each, so the benchmark can say
what each speed lever buys. The loss of a recipe follows from its batch kind (`loss_for`).
"""

from __future__ import annotations

from dataclasses import replace

from torch import nn

from helpers.losses import (
    IN_BATCH,
    LABELLED_VIEWS,
    PAIRS,
    VIEWS,
    CosineMSELoss,
    InBatchCosineMSELoss,
    InfoNCELoss,
)
from helpers.recipes import SERIES, SERIES_GPU, TEMPERATURE  # noqa: F401 (bench's names for them)
from helpers.training import TrainConfig

# The notebooks' own recipe lives in helpers (Colab has no bench/ folder): see helpers/recipes.py.

# The source's own choices, on the series' data path: pairs of batch 16, fp32, no channels-last.
SOURCE_LIKE = TrainConfig(
    batch_size=16, batches=PAIRS, channels_last=False, precision="fp32", epochs=30, seed=0
)

# Throughput levers, each adding one change to the row above it.
THROUGHPUT_LEVERS = {
    "pairs, batch 16, fp32 (the source's batch)": SOURCE_LIKE,
    "pairs, batch 128": replace(SOURCE_LIKE, batch_size=128),
    "in-batch pairs, batch 128": replace(SOURCE_LIKE, batch_size=128, batches=IN_BATCH),
    "+ channels-last": replace(SOURCE_LIKE, batch_size=128, batches=IN_BATCH, channels_last=True),
    "+ mixed precision (auto)": replace(
        SOURCE_LIKE, batch_size=128, batches=IN_BATCH, channels_last=True, precision="auto"
    ),
    "series: InfoNCE, two views of 64 digits": SERIES,
}

# Quality levers at equal training time: what reaches a good validation 1-NN soonest.
QUALITY_LEVERS = {
    "pairs, batch 128 (cosine MSE, two images a pair)": replace(
        SERIES, batches=PAIRS, batch_size=128
    ),
    "in-batch pairs, batch 128 (cosine MSE on every pair)": replace(
        SERIES, batches=IN_BATCH, batch_size=128
    ),
    "series in fp32 (no mixed precision)": replace(SERIES, precision="fp32"),
    "series: InfoNCE, two views of 64 digits": SERIES,
}


def loss_for(config: TrainConfig) -> nn.Module:
    """The series' loss for a recipe's batch kind."""
    if config.batches == PAIRS:
        return CosineMSELoss()
    if config.batches == IN_BATCH:
        return InBatchCosineMSELoss()
    if config.batches in (VIEWS, LABELLED_VIEWS):
        return InfoNCELoss(temperature=TEMPERATURE)
    raise ValueError(f"No series loss for batches={config.batches!r}.")
