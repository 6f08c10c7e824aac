"""``TranslateConfig``: the registry's cells, the recipe skeleton, values checked when made."""

from __future__ import annotations

import dataclasses
import re

import pytest

from rnnkit.errors import RnnkitError
from rnnkit.layers.registry import LAYERS
from rnnkit.tasks.translate import RECIPE, TRAIN_DEFAULTS, TranslateConfig, build_model
from rnnkit.train.recipe import Recipe


def test_cell_choices_are_the_registry_on_both_sides():
    fields = {f.name: f for f in dataclasses.fields(TranslateConfig)}
    assert fields["cell"].metadata["choices"] == tuple(LAYERS)
    assert fields["decoder_cell"].metadata["choices"] == tuple(LAYERS)


def test_the_recipe_runs_on_the_skeleton_into_a_fresh_folder():
    assert isinstance(RECIPE, Recipe) and RECIPE.name == "translate"
    assert TRAIN_DEFAULTS.out is None and TRAIN_DEFAULTS.monitor == "wer"


@pytest.mark.parametrize(("values", "match"), [
    ({"beam_size": 0}, "--beam-size must be >= 1; got 0"),
    ({"max_length": -1}, "--max-length must be >= 1; got -1"),
    ({"label_smoothing": 1.0}, "--label-smoothing must be in [0, 1); got 1.0"),
    ({"val_split": 0.6, "test_split": 0.5}, "--val-split + --test-split must be < 1"),
    ({"attention": "cosine"}, "--attention must be one of bahdanau, luong-dot"),
    ({"decoder_cell": "xlstm"}, "--decoder-cell must be one of rnn"),
    ({"source_level": "byte"}, "--source-level must be one of char, word, space"),
    ({"stress": "strip"}, "--stress must be one of keep, drop; got strip"),
    ({"stress": "drop", "data": "p.tsv"}, "--stress applies to the bundled CMU dictionary, not"),
])  # fmt: skip
def test_bad_values_are_refused_when_the_config_is_made(values, match):
    with pytest.raises(RnnkitError, match=re.escape(match)):
        TranslateConfig(**values)


def test_the_model_follows_the_config():
    cfg = TranslateConfig(cell="gru", decoder_cell="lstm", layers=2, hidden=32, embed=32,
                          tie_embeddings=True, attention="bahdanau")  # fmt: skip
    model = build_model(cfg, 10, 20)
    assert model.encoder.rnn.hidden_size == 16 and model.encoder.rnn.bidirectional
    assert model.decoder.rnn.mode == "LSTM" and model.decoder.rnn.num_layers == 2
    assert model.decoder.out.weight is model.decoder.embed.weight
