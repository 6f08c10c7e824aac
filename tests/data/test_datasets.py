"""Tests for the shipped datasets in rnnkit.data: each loads offline with the stated shape.

Run: PYTHONPATH=src python -m pytest tests/data -q
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from rnnkit.data import (
    list_datasets,
    load_airline_passengers,
    load_dataset,
    load_movie_reviews,
    load_peoples_daily,
    load_shakespeare,
    load_sunspots,
)

# The counts the corpora README and the build script report.
N_POSITIVE, N_NEGATIVE = 7368, 5384
SHAKESPEARE_CHARS = 4_846_380


@pytest.fixture(scope="module")
def shakespeare() -> str:
    return load_shakespeare()


@pytest.fixture(scope="module")
def reviews() -> tuple[list[str], list[str]]:
    return load_movie_reviews()


def test_shakespeare_is_37_plays_of_plain_ascii(shakespeare: str) -> None:
    assert len(shakespeare) == SHAKESPEARE_CHARS
    assert shakespeare.isascii()
    assert shakespeare.count("by William Shakespeare") == 37
    assert shakespeare.startswith("ALL'S WELL THAT ENDS WELL\n")
    for title in ("HAMLET, PRINCE OF DENMARK", "ROMEO AND JULIET", "THE TEMPEST"):
        assert f"\n{title}\n" in shakespeare
    assert "But soft! what light through yonder window breaks?" in shakespeare


def test_shakespeare_has_no_license_text_or_odd_characters(shakespeare: str) -> None:
    lower = shakespeare.lower()
    assert re.search(r"\betext", lower) is None  # ("pretext" is Shakespeare's)
    for marker in ("gutenberg", "ebook", "copyright", "http", "www.", "***"):
        assert marker not in lower
    assert "PROJECT" not in shakespeare
    assert shakespeare.isascii() and shakespeare.replace("\n", "").isprintable()  # no \r, \t
    assert " \n" not in shakespeare  # no trailing spaces
    assert "\n\n\n\n" not in shakespeare  # at most two blank lines in a row


def test_movie_reviews_have_both_labels_in_reported_counts(
    reviews: tuple[list[str], list[str]],
) -> None:
    texts, labels = reviews
    assert len(texts) == len(labels) == N_POSITIVE + N_NEGATIVE
    assert labels.count("positive") == N_POSITIVE
    assert labels.count("negative") == N_NEGATIVE
    assert set(labels) == {"positive", "negative"}


def test_movie_reviews_are_clean_single_lines_without_repeats(
    reviews: tuple[list[str], list[str]],
) -> None:
    texts, labels = reviews
    assert all(t and t == t.strip() and "\n" not in t and "  " not in t for t in texts)
    assert len(set(zip(texts, labels, strict=True))) == len(texts)
    assert sum(len(t) for t in texts) / len(texts) > 50  # sentences, not single words
    assert any("é" in t for t in texts)  # UTF-8 read back as written


def test_airline_passengers_is_box_jenkins_series_g() -> None:
    months, values = load_airline_passengers()
    assert values.shape == (144,) and values.dtype == np.float64
    assert (months[0], months[-1]) == ("1949-01", "1960-12")
    assert (values[0], values[-1], values.max()) == (112.0, 432.0, 622.0)
    assert values.sum() == 40363.0
    assert np.all(values > 0)


def test_sunspots_is_monthly_1749_to_2008() -> None:
    months, values = load_sunspots()
    assert values.shape == (3120,) and len(months) == 3120
    assert (months[0], months[-1]) == ("1749-01", "2008-12")
    assert months[13] == "1750-02"
    assert np.all(values >= 0) and values.max() == 253.8
    assert values[:12].mean() == pytest.approx(80.9, abs=0.05)  # NGDC's yearly mean for 1749


def test_peoples_daily_is_the_whole_month_in_word_tag_pairs() -> None:
    sentences = load_peoples_daily()
    assert len(sentences) == 19484 and sum(map(len, sentences)) == 1121447
    assert sentences[1][-2:] == [("江", "nr"), ("泽民", "nr")]  # family and given name
    tags = {tag for sentence in sentences for _, tag in sentence}
    assert {"nr", "ns", "nt", "n", "v", "w"} <= tags and len(tags) == 44
    assert all(word and "/" not in tag for s in sentences[:500] for word, tag in s)


def test_list_datasets_names_every_loader_with_a_description() -> None:
    datasets = list_datasets()
    assert set(datasets) == {
        "airline_passengers", "movie_reviews", "peoples_daily", "shakespeare", "sunspots"
    }  # fmt: skip
    assert all(isinstance(d, str) and d and "\n" not in d for d in datasets.values())


@pytest.mark.parametrize("name", ["airline_passengers", "sunspots"])
def test_load_dataset_dispatches_to_the_named_loader(name: str) -> None:
    months, values = load_dataset(name)
    expected_months, expected_values = {
        "airline_passengers": load_airline_passengers,
        "sunspots": load_sunspots,
    }[name]()
    assert months == expected_months
    np.testing.assert_array_equal(values, expected_values)


def test_load_dataset_unknown_name_lists_known_names() -> None:
    with pytest.raises(ValueError, match="unknown dataset 'imdb'") as info:
        load_dataset("imdb")
    for name in list_datasets():
        assert name in str(info.value)
