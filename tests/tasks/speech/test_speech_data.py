"""Recordings, transcripts and splits; connected utterances; SpecAugment; the model's frame
subsampling; the blank's initial bias."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from speech_helpers import RATE, chirp, write_digits, write_transcripts

from rnnkit.errors import RnnkitError
from rnnkit.tasks.speech import (
    Alphabet,
    SpeechConfig,
    SpeechModel,
    StepUtterances,
    group_utterances,
    join_audio,
    layer_groups,
    read_recordings,
    spec_augment,
    split_recordings,
    write_wav,
)
from rnnkit.tasks.speech.data import FSDD_TEST_TAKES

DIGITS = Alphabet("0123456789")


@pytest.fixture(scope="module")
def recordings(tmp_path_factory):
    folder = write_digits(tmp_path_factory.mktemp("d"), takes=7, digits=2)
    return read_recordings(folder, None, RATE, DIGITS)


def test_fsdd_names_give_digit_speaker_and_take(recordings):
    r = next(r for r in recordings if r.path == "1_bob_6.wav")
    assert (r.text, r.symbols, r.speaker, r.take) == ("1", (2,), "bob", 6)
    assert len(recordings) == 3 * 2 * 7


def test_csv_transcripts_with_a_space_symbol(tmp_path):
    write_wav(tmp_path / "a.wav", chirp(0), RATE)
    (tmp_path / "sub").mkdir()
    write_wav(tmp_path / "sub" / "b.wav", chirp(1), RATE)
    csv = write_transcripts(tmp_path / "t.csv", [("a.wav", "ab  a"), ("sub/b.wav", "b")])
    alphabet = Alphabet("ab ")
    recs = read_recordings(tmp_path, str(csv), RATE, alphabet)
    assert [r.symbols for r in recs] == [(1, 2, 3, 1), (2,)]
    assert alphabet.words(recs[0].symbols) == [(1, 2), (1,)]


def test_fsdd_split_holds_out_takes_0_to_4(recordings):
    train, val, test = split_recordings(recordings, None, 0.1, 0.25, seed=0)
    assert all(recordings[i].take < FSDD_TEST_TAKES for i in test) and len(test) == 30
    assert sorted([*train, *val]) == [i for i, r in enumerate(recordings) if r.take >= 5]
    assert len(val) == 3  # 25% of the 12 others


def test_leave_one_speaker_out(recordings):
    train, val, test = split_recordings(recordings, "cy", 0.1, 0.1, seed=0)
    assert {recordings[i].speaker for i in test} == {"cy"}
    assert "cy" not in {recordings[i].speaker for i in [*train, *val]}
    with pytest.raises(RnnkitError, match="no such speaker; the speakers are ann, bob, cy"):
        split_recordings(recordings, "dan", 0.1, 0.1, seed=0)


def test_join_puts_seeded_silences_around_and_between(recordings):
    rng = np.random.default_rng(0)
    audio, symbols = join_audio(recordings[:3], rng, (40, 80))
    inner = sum(len(r.audio) for r in recordings[:3])
    assert 4 * 40 <= len(audio) - inner <= 4 * 80
    assert symbols == tuple(s for r in recordings[:3] for s in r.symbols)
    assert join_audio(recordings[:2], np.random.default_rng(0), (0, 0), space=11)[1] == (
        *recordings[0].symbols, 11, *recordings[1].symbols
    )  # fmt: skip


def test_evaluation_utterances_use_every_recording_once_within_one_speaker(recordings):
    utts = group_utterances(recordings, range(len(recordings)), 4, (10, 20), seed=3)
    parts = sorted(i for u in utts for i in u.parts)
    assert parts == list(range(len(recordings)))
    for u in utts:
        assert 1 <= len(u.parts) <= 4 and len({recordings[i].speaker for i in u.parts}) == 1
        assert u.symbols == tuple(s for i in u.parts for s in recordings[i].symbols)


def test_training_batches_are_a_pure_function_of_the_step(recordings):
    a = StepUtterances(recordings, range(20), 3, (10, 20), seed=5)
    b = StepUtterances(recordings, range(20), 3, (10, 20), seed=5)
    first, again = a.batch(7, 6), b.batch(7, 6)
    assert all(np.array_equal(x.audio, y.audio) for x, y in zip(first, again))
    assert [u.parts for u in a.batch(8, 6)] != [u.parts for u in first]
    assert all(max(u.parts) < 20 and 1 <= len(u.parts) <= 3 for u in first)


def test_spec_augment_masks_bands_and_spans_inside_the_utterance():
    torch.manual_seed(0)
    x = torch.ones(4, 50, 20)
    lengths = torch.tensor([50, 30, 10, 1])
    out = spec_augment(x, lengths, 2, 5, 8)
    dropped = out == 0
    for b in range(4):
        rows = dropped[b].all(dim=1)  # whole frames masked
        cols = dropped[b].all(dim=0)  # whole features masked (padding frames included)
        assert not rows[lengths[b] :].any()  # spans stay inside the valid frames
        assert rows.sum() <= 16 and cols.sum() <= 10
        assert torch.equal(dropped[b], rows[:, None] | cols[None, :])
    assert torch.equal(spec_augment(x, lengths, 0, 5, 8), x)


@pytest.mark.parametrize(
    ("layers", "sub", "groups"), [(3, 1, [3]), (3, 2, [1, 2]), (3, 4, [1, 1, 1])]
)
def test_subsampling_splits_the_stack_and_shortens_the_output(layers, sub, groups):
    assert layer_groups(layers, sub) == groups
    model = SpeechModel(6, 4, "gru", 5, layers, True, sub).eval()
    lengths = torch.tensor([9, 4, 1])
    lp, out = model(torch.randn(3, 9, 6), lengths)
    assert out.tolist() == [-(-n // sub) for n in (9, 4, 1)] and lp.shape == (3, -(-9 // sub), 4)
    assert torch.allclose(lp.exp().sum(-1), torch.ones(3, lp.shape[1]), atol=1e-5)
    with pytest.raises(ValueError, match="needs at least 3 --layers"):
        layer_groups(2, 4)


@pytest.mark.parametrize(
    ("bidirectional", "given", "bias"), [(False, None, 6.0), (True, None, 0.0), (False, 1.5, 1.5)]
)
def test_the_blank_starts_preferred_in_a_unidirectional_model(bidirectional, given, bias):
    cfg = SpeechConfig(bidirectional=bidirectional, blank_bias=given)
    assert cfg.initial_blank_bias() == bias
    model = SpeechModel(6, 4, "gru", 5, 2, bidirectional, 2, blank_bias=bias)
    assert model.head.bias[0].item() == bias
    assert model.head.bias[1:].abs().max().item() < 1  # the symbols' biases as initialized
