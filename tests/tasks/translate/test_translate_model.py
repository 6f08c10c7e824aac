"""The encoder-decoder: attention masked by the source lengths, outputs independent of padding,
every attention and cell, tied embeddings, teacher forcing."""

from __future__ import annotations

import pytest
import torch

from rnnkit.layers.registry import LAYERS
from rnnkit.tasks.translate import Seq2Seq, beam_search
from rnnkit.tasks.translate.vocab import BOS, PAD


def _batch(seed=0, B=4, S=6, T=5, V=12):
    g = torch.Generator().manual_seed(seed)
    lengths = torch.tensor([S, 3, 1, 4][:B])
    src = torch.randint(4, V, (B, S), generator=g)
    src[torch.arange(S) >= lengths[:, None]] = PAD
    tgt = torch.randint(4, V, (B, T), generator=g)
    tgt[:, 0] = BOS
    return src, lengths, tgt


def _model(attention="luong-general", cell="lstm", **kw):
    torch.manual_seed(0)
    return Seq2Seq(12, 12, 8, 16, 2, cell, attention=attention, **kw).eval()


@pytest.mark.parametrize("attention", ["bahdanau", "luong-dot", "luong-general"])
def test_attention_weights_sum_to_one_and_are_zero_on_padding(attention):
    model = _model(attention)
    src, lengths, tgt = _batch()
    memory, state = model.start(src, lengths)
    y = tgt[:, 0]
    for t in range(tgt.shape[1]):
        _, state, weights = model.decoder.step(y, state, memory)
        assert torch.allclose(weights.sum(1), torch.ones(len(src)))
        pad = torch.arange(src.shape[1]) >= lengths[:, None]
        assert torch.all(weights[pad] == 0) and torch.all(weights[~pad] > 0)
        y = tgt[:, t]


@pytest.mark.parametrize("attention", ["bahdanau", "luong-dot", "luong-general", "none"])
@pytest.mark.parametrize("cell", ["lstm", "gru", "mingru"])
def test_outputs_do_not_depend_on_padding_or_batch_mates(attention, cell):
    model = _model(attention, cell)
    src, lengths, tgt = _batch()
    logits = model(src, lengths, tgt)
    wider = torch.cat([src, torch.full((len(src), 3), PAD)], dim=1)  # more padding columns
    assert torch.allclose(model(wider, lengths, tgt), logits, atol=1e-6)
    for b in range(len(src)):  # alone, cut to its own length
        alone = model(src[b : b + 1, : lengths[b]], lengths[b : b + 1], tgt[b : b + 1])
        assert torch.allclose(alone, logits[b : b + 1], atol=1e-5), b


def test_padding_symbols_themselves_change_nothing():
    model = _model()
    src, lengths, tgt = _batch()
    noisy = src.clone()
    noisy[torch.arange(src.shape[1]) >= lengths[:, None]] = 7  # garbage past each length
    assert torch.allclose(model(noisy, lengths, tgt), model(src, lengths, tgt), atol=1e-6)


def test_decoder_may_run_another_cell_than_the_encoder():
    torch.manual_seed(0)
    model = Seq2Seq(12, 12, 8, 16, 1, "gru", decoder_cell="lstm").eval()
    src, lengths, tgt = _batch()
    _, state = model.start(src, lengths)
    assert len(state.hx) == 2 and torch.all(state.hx[1] == 0)  # the LSTM's c starts at zero
    assert model(src, lengths, tgt).shape == (4, 5, 12)


def test_tied_embeddings_share_one_matrix():
    torch.manual_seed(0)
    model = Seq2Seq(12, 12, 16, 16, 1, "lstm", tie_embeddings=True)
    assert model.decoder.out.weight is model.decoder.embed.weight
    names = [n for n, _ in model.named_parameters()]
    assert "decoder.out.weight" not in names  # counted once


def test_teacher_forcing_below_one_feeds_guesses_and_draws_from_torch_rng():
    model = _model()
    model.train()
    src, lengths, tgt = _batch()
    torch.manual_seed(5)
    a = model(src, lengths, tgt, teacher_forcing=0.0)
    torch.manual_seed(5)
    b = model(src, lengths, tgt, teacher_forcing=0.0)
    assert torch.equal(a, b)  # reproducible from the seed (resume stays exact)
    model.eval()
    forced = model(src, lengths, tgt, teacher_forcing=1.0)
    own = model(src, lengths, tgt, teacher_forcing=0.0)
    assert torch.allclose(forced[:, 0], own[:, 0]) and not torch.allclose(forced, own)


@pytest.mark.parametrize("attention", ["luong-dot", "luong-general", "none"])
@pytest.mark.parametrize("cell", ["lstm", "gru", "mingru"])
def test_teacher_forcing_in_one_call_equals_stepping_float64(attention, cell):
    model = _model(attention, cell, input_feeding=False).double()
    src, lengths, tgt = _batch()
    assert model.decoder.steps_at_once()
    memory, state = model.start(src, lengths)
    stepped = []
    for t in range(tgt.shape[1]):
        logits, state, _ = model.decoder.step(tgt[:, t], state, memory)
        stepped.append(logits)
    at_once = model(src, lengths, tgt)  # one call of the decoder's stack
    torch.testing.assert_close(at_once, torch.stack(stepped, 1), rtol=1e-10, atol=1e-12)
    grads = torch.autograd.grad(at_once.square().sum(), list(model.decoder.parameters()))
    steps = torch.autograd.grad(torch.stack(stepped, 1).square().sum(),
                                list(model.decoder.parameters()))  # fmt: skip
    for a, b in zip(grads, steps, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


def test_only_steps_without_a_dependence_on_the_last_one_run_at_once():
    assert not _model("luong-general", input_feeding=True).decoder.steps_at_once()
    assert not _model("bahdanau", input_feeding=False).decoder.steps_at_once()
    assert _model("none", input_feeding=True).decoder.steps_at_once()  # feeding needs luong


@pytest.mark.parametrize("cell", sorted(LAYERS))
def test_every_registered_cell_encodes_decodes_and_learns_a_step(cell):
    torch.manual_seed(0)
    model = Seq2Seq(12, 12, 8, 8, 2, cell, decoder_cell=cell, attention="bahdanau")
    src, lengths, tgt = _batch()
    loss = model(src, lengths, tgt).logsumexp(-1).mean()
    loss.backward()
    assert all(p.grad is not None for p in model.parameters())
    model.eval()
    hyps = beam_search(model, src, lengths, beam_size=2, max_length=4)
    assert len(hyps) == 4 and all(len(h[0].tokens) <= 4 for h in hyps)
