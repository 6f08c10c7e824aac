"""Datasets shipped with rnnkit (text for language models, reviews, monthly series), and the
text pipeline that turns text into token ids.

See :mod:`rnnkit.data.datasets` for the loaders and ``corpora/README.md`` for sources;
:mod:`rnnkit.data.text` for the tokenizer, vocabulary and padding.
"""

from rnnkit.data.datasets import (
    list_datasets,
    load_airline_passengers,
    load_dataset,
    load_movie_reviews,
    load_peoples_daily,
    load_shakespeare,
    load_sunspots,
)
from rnnkit.data.text import PAD, UNK, Vocab, pad_sequences, tokenize

__all__ = [
    "PAD",
    "UNK",
    "Vocab",
    "list_datasets",
    "load_airline_passengers",
    "load_dataset",
    "load_movie_reviews",
    "load_peoples_daily",
    "load_shakespeare",
    "load_sunspots",
    "pad_sequences",
    "tokenize",
]
