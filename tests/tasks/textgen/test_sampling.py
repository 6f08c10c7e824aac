"""Sampling: filters, determinism by seed, and carrying state equals re-running the prefix."""

from __future__ import annotations

import pytest
import torch

from rnnkit.tasks.textgen import CELLS, LanguageModel, Vocab, filter_logits, generate

TEXT = "to be, or not to be: that is the question.\n"


def _model_and_vocab():
    vocab = Vocab.build(TEXT, "char")
    torch.manual_seed(0)
    return LanguageModel(len(vocab), 8, 16, layers=2, cell="gru"), vocab


def test_top_k_keeps_only_the_k_likeliest():
    probs = filter_logits(torch.tensor([0.0, 3.0, 1.0, 2.0]), 1.0, top_k=2)
    assert (probs > 0).tolist() == [False, True, False, True]


def test_top_p_keeps_the_smallest_set_reaching_the_mass():
    probs = filter_logits(torch.log(torch.tensor([0.5, 0.3, 0.15, 0.05])), 1.0, top_p=0.7)
    assert torch.allclose(probs, torch.tensor([0.625, 0.375, 0.0, 0.0], dtype=probs.dtype))


def test_low_temperature_sharpens():
    logits = torch.tensor([1.0, 2.0])
    assert filter_logits(logits, 0.1)[1] > filter_logits(logits, 1.0)[1]


def test_same_seed_same_text():
    model, vocab = _model_and_vocab()
    a = "".join(generate(model, vocab, "to ", 40, seed=3))
    b = "".join(generate(model, vocab, "to ", 40, seed=3))
    assert a == b and len(a) == 40


def test_streaming_state_equals_rerunning_the_whole_prefix():
    model, vocab = _model_and_vocab()
    text = "".join(generate(model, vocab, "to be", 12, temperature=0))
    ids = vocab.encode("to be").tolist()
    with torch.no_grad():
        for _ in range(12):
            logits, _ = model(torch.tensor([ids]))  # the whole prefix each time
            ids.append(int(logits[0, -1].argmax()))
    assert text == vocab.decode(ids[5:])


@pytest.mark.parametrize("kwargs", [{"temperature": -1}, {"top_p": 0}, {"top_k": -2}])
def test_bad_sampling_options_are_errors(kwargs):
    from rnnkit.train import RnnkitError

    model, vocab = _model_and_vocab()
    with pytest.raises(RnnkitError):
        list(generate(model, vocab, "to", 5, **kwargs))


@pytest.mark.parametrize("cell", sorted(CELLS))
def test_every_cell_trains_a_step_and_carries_state(cell):
    torch.manual_seed(0)
    model = LanguageModel(10, 4, 8, layers=2, cell=cell)
    x = torch.randint(0, 10, (3, 5))
    logits, state = model(x)
    logits2, _ = model(x, state)  # the carried state is accepted back
    (logits.sum() + logits2.sum()).backward()
    assert logits.shape == (3, 5, 10) and model.embed.weight.grad is not None
