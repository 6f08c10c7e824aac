"""Datasets shipped with rnnkit: text for language models, reviews, monthly series.

See :mod:`rnnkit.data.datasets` for the loaders and ``corpora/README.md`` for sources.
"""

from rnnkit.data.datasets import (
    list_datasets,
    load_airline_passengers,
    load_dataset,
    load_movie_reviews,
    load_shakespeare,
    load_sunspots,
)

__all__ = [
    "list_datasets",
    "load_airline_passengers",
    "load_dataset",
    "load_movie_reviews",
    "load_shakespeare",
    "load_sunspots",
]
