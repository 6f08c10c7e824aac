"""What every recipe shares: the --cell choices of the registry, a fresh run folder by
default, and one skeleton (``train.recipe.Recipe``) under each ``train``."""

from __future__ import annotations

import dataclasses

import pytest

from rnnkit.layers.registry import LAYERS
from rnnkit.tasks import classify, forecast, speech, tag, textgen, translate
from rnnkit.tasks.classify.run import RECIPE as CLASSIFY
from rnnkit.tasks.forecast.run import RECIPE as FORECAST
from rnnkit.tasks.tag.run import RECIPE as TAG
from rnnkit.tasks.textgen.run import RECIPE as TEXTGEN
from rnnkit.train.recipe import Recipe

RECIPES = {
    "textgen": (textgen.TextgenConfig, textgen.TRAIN_DEFAULTS, TEXTGEN),
    "classify": (classify.ClassifyConfig, classify.TRAIN_DEFAULTS, CLASSIFY),
    "forecast": (forecast.ForecastConfig, forecast.TRAIN_DEFAULTS, FORECAST),
    "tag": (tag.TagConfig, tag.TRAIN_DEFAULTS, TAG),
    "translate": (translate.TranslateConfig, translate.TRAIN_DEFAULTS, translate.RECIPE),
    "speech": (speech.SpeechConfig, speech.TRAIN_DEFAULTS, speech.RECIPE),
}


@pytest.mark.parametrize("name", RECIPES)
def test_cell_choices_are_the_registry(name):
    config = RECIPES[name][0]
    field = next(f for f in dataclasses.fields(config) if f.name == "cell")
    assert field.metadata["choices"] == tuple(LAYERS)


@pytest.mark.parametrize("name", RECIPES)
def test_each_recipe_runs_on_the_skeleton_into_a_fresh_folder(name):
    _, defaults, recipe = RECIPES[name]
    assert isinstance(recipe, Recipe) and recipe.name == name
    assert defaults.out is None  # train.runs picks runs/<name>[-N]


@pytest.mark.parametrize(("hidden", "dropout"), [(32, 0.125), (64, 0.25), (128, 0.5), (512, 0.5)])
def test_classify_default_dropout_scales_with_the_model(hidden, dropout):
    cfg = classify.resolve_defaults(classify.ClassifyConfig(hidden=hidden))
    assert cfg.dropout == dropout
    given = classify.ClassifyConfig(hidden=hidden, dropout=0.0)
    assert classify.resolve_defaults(given).dropout == 0.0  # a given value is kept
    assert classify.build_model(classify.ClassifyConfig(hidden=hidden), 20, 2).drop.p == dropout


@pytest.mark.parametrize("name", RECIPES)
def test_help_says_what_the_default_folder_and_dropout_are(name, capsys):
    from rnnkit.cli import main

    with pytest.raises(SystemExit):
        main([name, "train", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    text = text[text.index("options:") :]  # past the usage lines
    out = text[text.index("--out OUT ") : text.index("--resume, --no-resume ")]
    assert "default: a fresh one per run, runs/<recipe>, then runs/<recipe>-2" in out
    assert "(default: None)" not in out
    if name == "classify":
        dropout = text[text.index("--dropout DROPOUT ") : text.index("--word-dropout WORD")]
        assert "default: scaled with the model, 0.5 x min(1, --hidden / 128)" in dropout
        assert "(default: None)" not in dropout
