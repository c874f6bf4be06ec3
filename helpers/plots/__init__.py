"""Every figure of the series, grouped by what it shows, in one visual language (`style`).

- style: tab10 per digit, green/red only for positive/negative, modalities by marker shape
- digits: digit grids, anchor/partner grids, pictures side by side, class counts (02)
- training: curves, per-epoch history, scores against references, similarity histograms (03-05)
- losses: the similarity matrix a batch loss reads, positives marked (03)
- maps: 2-D maps with digit labels at cluster centres, modality maps, animation stills (05, 06)
- space3d: plotly 3-D scatter and animation, renderer choice, static pictures for GitHub (05)
- search: neighbour galleries, confusions, any-to-any results, recall heatmaps (05, 06)
- modalities: the seven made-offline modalities, spectrograms, the 2-D toy (01, 06)
- scaling: accuracy against negatives per anchor, recall against search latency (07)

Every public figure is also reachable here: `from helpers import plots; plots.show_digits(...)`.
Each function returns its figure, so a notebook can adjust it.
"""

from helpers.plots.digits import plot_class_counts, show_digits, show_pairs, show_side_by_side
from helpers.plots.losses import plot_similarity_matrices
from helpers.plots.maps import plot_modality_maps, scatter_2d, scatter_maps, static_frames
from helpers.plots.modalities import plot_modalities, plot_toy_trajectory, show_spectrograms
from helpers.plots.scaling import plot_negatives, plot_recall_latency
from helpers.plots.search import (
    audio_players,
    plot_recall_heatmaps,
    show_confusions,
    show_neighbours,
    show_results,
)
from helpers.plots.space3d import (
    animate_3d,
    configure_plotly,
    scatter_3d,
    show_static,
    static_figure,
)
from helpers.plots.style import digit_colour
from helpers.plots.training import (
    plot_history,
    plot_lines,
    plot_runs,
    plot_scores,
    plot_similarity_histograms,
    plot_waterfall,
)

__all__ = [
    "animate_3d",
    "audio_players",
    "configure_plotly",
    "digit_colour",
    "plot_class_counts",
    "plot_history",
    "plot_lines",
    "plot_modalities",
    "plot_modality_maps",
    "plot_negatives",
    "plot_recall_heatmaps",
    "plot_recall_latency",
    "plot_runs",
    "plot_scores",
    "plot_similarity_histograms",
    "plot_similarity_matrices",
    "plot_toy_trajectory",
    "plot_waterfall",
    "scatter_2d",
    "scatter_3d",
    "scatter_maps",
    "show_confusions",
    "show_digits",
    "show_neighbours",
    "show_pairs",
    "show_results",
    "show_side_by_side",
    "show_spectrograms",
    "show_static",
    "static_figure",
    "static_frames",
]
