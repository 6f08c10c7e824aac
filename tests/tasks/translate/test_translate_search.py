"""Greedy and beam search: beam 1 is greedy exactly, a batch decodes as its rows alone, a
beam wide enough to keep every prefix finds what brute-force enumeration finds."""

from __future__ import annotations

import itertools

import pytest
import torch

from rnnkit.tasks.translate import Seq2Seq, beam_search, greedy
from rnnkit.tasks.translate.search import next_log_probs
from rnnkit.tasks.translate.vocab import BOS, EOS, PAD


def _model(attention="luong-general", V=12, seed=0):
    torch.manual_seed(seed)
    return Seq2Seq(12, V, 8, 16, 2, "lstm", attention=attention).eval()


def _sources(B=6, S=5, seed=1):
    g = torch.Generator().manual_seed(seed)
    lengths = torch.randint(1, S + 1, (B,), generator=g)
    src = torch.randint(4, 12, (B, S), generator=g)
    src[torch.arange(S) >= lengths[:, None]] = PAD
    return src, lengths


@pytest.mark.parametrize("attention", ["bahdanau", "luong-dot", "luong-general", "none"])
def test_beam_of_one_is_greedy_exactly(attention):
    model = _model(attention)
    src, lengths = _sources()
    greedy_hyps, _ = greedy(model, src, lengths, max_length=7)
    beam_hyps = beam_search(model, src, lengths, beam_size=1, max_length=7)
    for g, (b,) in zip(greedy_hyps, beam_hyps):
        assert g.tokens == b.tokens and g.log_prob == b.log_prob


def test_batched_beam_search_equals_one_source_at_a_time():
    model = _model()
    src, lengths = _sources(B=8)
    batched = beam_search(model, src, lengths, beam_size=4, n_best=3)
    for b in range(len(src)):
        alone = beam_search(model, src[b : b + 1, : lengths[b]], lengths[b : b + 1], 4, 3)[0]
        assert [h.tokens for h in alone] == [h.tokens for h in batched[b]]
        assert [h.score for h in alone] == pytest.approx([h.score for h in batched[b]], abs=1e-5)


def test_n_best_lists_are_sorted_by_length_normalized_score():
    model = _model()
    src, lengths = _sources()
    for alpha in (0.0, 1.0):
        for hyps in beam_search(model, src, lengths, 5, n_best=5, length_penalty=alpha):
            assert len(hyps) == 5
            scores = [h.score for h in hyps]
            assert scores == sorted(scores, reverse=True)
            for h in hyps:
                length = len(h.tokens) + (len(h.tokens) < 2 * 5 + 10)  # <eos> unless cut
                assert h.score == pytest.approx(h.log_prob / max(1, length) ** alpha, abs=1e-6)


def _log_prob(model, src, lengths, tokens: list[int]) -> float:
    """log p(tokens) of one source under teacher forcing."""
    memory, state = model.start(src, lengths)
    y, total = model.bos(1, src.device), 0.0
    for token in tokens:
        logits, state, _ = model.decoder.step(y, state, memory)
        total += float(next_log_probs(logits)[0, token])
        y = torch.tensor([token])
    return total


def test_a_beam_that_keeps_every_prefix_finds_the_brute_force_best():
    V, n = 7, 3  # ids 0..6 (4 specials, 3 tokens), at most 3 steps
    model = _model(V=V, seed=3)
    src, lengths = _sources(B=1, seed=4)
    other = [i for i in range(V) if i not in (EOS, PAD, BOS)]  # never written: <pad>, <bos>
    candidates = [[*p, EOS] for k in range(n) for p in itertools.product(other, repeat=k)]
    candidates += [list(p) for p in itertools.product(other, repeat=n)]  # cut at the limit
    with torch.no_grad():
        scored = sorted(
            ((_log_prob(model, src, lengths, c) / len(c), c) for c in candidates), reverse=True
        )
    found = beam_search(model, src, lengths, V**n, n_best=5, max_length=n)[0]
    best = [c[:-1] if c[-1] == EOS and len(c) <= n and EOS not in c[:-1] else c
            for _, c in scored[:5]]  # fmt: skip
    assert [h.tokens for h in found] == best
    assert [h.score for h in found] == pytest.approx([s for s, _ in scored[:5]], abs=1e-5)


def test_decoding_never_writes_padding_or_bos():
    model = _model()
    with torch.no_grad():
        model.decoder.out.bias[[PAD, BOS]] = 50.0  # an untrained model's favourites
    src, lengths = _sources()
    for h in greedy(model, src, lengths)[0] + [x for b in beam_search(model, src, lengths, 3, 3)
                                             for x in b]:  # fmt: skip
        assert PAD not in h.tokens and BOS not in h.tokens


def test_greedy_stops_at_the_length_limit_and_keeps_attention():
    model = _model()
    src, lengths = _sources()
    hyps, maps = greedy(model, src, lengths, max_length=3, keep_attention=True)
    for h, weights, n in zip(hyps, maps, lengths.tolist()):
        assert len(h.tokens) <= 3 and weights.shape[1] == n
        assert torch.allclose(weights.sum(1), torch.ones(len(weights)))
