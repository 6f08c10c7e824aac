"""``rnnkit.layers.CRF`` against brute-force enumeration of every tag sequence on tiny cases:
partition function, best path, marginals, likelihood; gradients by gradcheck in float64;
constrained decoding never yields an invalid BIO / BIOES / BMES sequence."""

from __future__ import annotations

import itertools

import pytest
import torch

from rnnkit.layers import CRF, allowed_transitions
from rnnkit.layers.crf import FORBIDDEN

BIO = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]
BIOES = ["O", "B-PER", "I-PER", "E-PER", "S-PER", "B-LOC", "E-LOC", "S-LOC", "I-LOC"]
BMES = ["B", "M", "E", "S"]


def _crf(K: int, seed: int, constraints=None) -> CRF:
    torch.manual_seed(seed)
    crf = CRF(K, constraints).double()
    with torch.no_grad():
        for p in crf.parameters():
            p.normal_()
    return crf


def _brute(crf: CRF, e: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, dict]:
    """(log Z, the best sequence's score, {sequence: score}) of one sentence e (n, K)."""
    start, trans, end = crf.scores()
    n, K = e.shape
    scores = {}
    for y in itertools.product(range(K), repeat=n):
        s = start[y[0]] + end[y[-1]] + sum(e[t, y[t]] for t in range(n))
        scores[y] = s + sum(trans[y[t - 1], y[t]] for t in range(1, n))
    values = torch.stack(list(scores.values()))
    return torch.logsumexp(values, 0), values.max(), scores


def _batch(K: int, lengths: list[int], seed: int) -> torch.Tensor:
    torch.manual_seed(100 + seed)
    return torch.randn(len(lengths), max(lengths), K, dtype=torch.float64)


CASES = [(3, [1, 3, 4, 2]), (4, [3, 1, 3]), (2, [5, 4])]


@pytest.mark.parametrize(("K", "lengths"), CASES)
@pytest.mark.parametrize("constrained", [False, True])
def test_partition_best_path_and_likelihood_match_brute_force(K, lengths, constrained):
    cons = None
    if constrained:  # a random mask, start/end of tag 0 always allowed (some path exists)
        g = torch.Generator().manual_seed(K)
        trans = torch.rand(K, K, generator=g) < 0.6
        trans[:, 0] = True
        start, end = torch.rand(K, generator=g) < 0.6, torch.rand(K, generator=g) < 0.6
        start[0] = end[0] = True
        cons = (start, trans, end)
    crf, e = _crf(K, K, cons), _batch(K, lengths, K)
    L = torch.tensor(lengths)
    log_z = crf.log_partition(e, L)
    tags, best = crf.decode(e, L)
    for b, n in enumerate(lengths):
        z, top, scores = _brute(crf, e[b, :n])
        assert log_z[b].item() == pytest.approx(z.item(), abs=1e-9)
        assert best[b].item() == pytest.approx(top.item(), abs=1e-9)
        path = tuple(tags[b, :n].tolist())
        assert scores[path].item() == pytest.approx(top.item(), abs=1e-9)
        assert tags[b, n:].eq(0).all()
        # the likelihood of any one sequence: score, and nll = log Z - score
        y = torch.tensor(list(scores)[(b * 7) % len(scores)])
        padded = torch.zeros(1, e.shape[1], dtype=torch.long)
        padded[0, :n] = y
        one = crf(e[b : b + 1], padded, L[b : b + 1], reduction="none")
        assert one.item() == pytest.approx((z - scores[tuple(y.tolist())]).item(), abs=1e-9)


@pytest.mark.parametrize(("K", "lengths"), CASES)
def test_marginals_match_brute_force(K, lengths):
    crf, e = _crf(K, 1), _batch(K, lengths, 2)
    marg = crf.marginals(e, torch.tensor(lengths))
    for b, n in enumerate(lengths):
        z, _, scores = _brute(crf, e[b, :n])
        want = torch.zeros(n, K, dtype=torch.float64)
        for y, s in scores.items():
            for t, k in enumerate(y):
                want[t, k] += torch.exp(s - z)
        assert torch.allclose(marg[b, :n], want, atol=1e-10)
        assert marg[b, n:].eq(0).all()
        assert torch.allclose(marg[b, :n].sum(1), torch.ones(n, dtype=torch.float64))


def test_gradients_pass_gradcheck_in_float64():
    crf, e = _crf(3, 5, allowed_transitions(["O", "B-X", "I-X"], "bio")), _batch(3, [4, 2, 3], 5)
    tags = torch.tensor([[1, 2, 0, 1], [0, 1, 0, 0], [1, 2, 2, 0]])
    L = torch.tensor([4, 2, 3])

    def nll(e, start, transitions, end):
        params = {"start": start, "transitions": transitions, "end": end}
        return torch.func.functional_call(crf, params, (e, tags, L), {"reduction": "sum"})

    inputs = [e.requires_grad_(True)]
    params = (crf.start, crf.transitions, crf.end)
    inputs += [p.detach().clone().requires_grad_(True) for p in params]
    assert torch.autograd.gradcheck(nll, inputs)
    assert torch.autograd.gradgradcheck(nll, inputs)


def test_mean_and_sum_reductions():
    crf, e = _crf(3, 0), _batch(3, [3, 2], 0)
    tags, L = torch.zeros(2, 3, dtype=torch.long), torch.tensor([3, 2])
    each = crf(e, tags, L, reduction="none")
    assert crf(e, tags, L, reduction="sum").item() == pytest.approx(each.sum().item())
    assert crf(e, tags, L).item() == pytest.approx(each.mean().item())
    assert (each > 0).all()


def _valid(seq: list[str], scheme: str) -> bool:
    """An independent check of a tag sequence (not via allowed_transitions)."""
    open_kind = None  # the type of the chunk in progress, None outside
    for tag in seq:
        prefix, _, kind = tag.partition("-")
        if scheme == "bio":
            if prefix == "I" and open_kind != kind:
                return False
            open_kind = None if prefix == "O" else kind
            continue
        inner = prefix in ("I", "M", "E")
        if inner != (open_kind is not None) or (inner and kind != open_kind):
            return False
        open_kind = kind if prefix in ("B", "I", "M") else None
    return scheme == "bio" or open_kind is None


@pytest.mark.parametrize(("labels", "scheme"), [(BIO, "bio"), (BIOES, "bioes"), (BMES, "bmes")])
def test_constrained_decoding_never_yields_an_invalid_sequence(labels, scheme):
    K = len(labels)
    crf = CRF(K, allowed_transitions(labels, scheme))
    torch.manual_seed(0)
    with torch.no_grad():  # strong learned scores for the forbidden moves: the masks must win
        crf.transitions.normal_(0, 5)
        crf.start.normal_(0, 5)
        crf.end.normal_(0, 5)
    lengths = torch.randint(1, 12, (300,))
    e = torch.randn(300, 11, K) * 5
    tags, _ = crf.decode(e, lengths)
    for row, n in zip(tags.tolist(), lengths.tolist()):
        assert _valid([labels[i] for i in row[:n]], scheme), [labels[i] for i in row[:n]]


def test_allowed_transitions_of_bio():
    start, trans, end = allowed_transitions(BIO, "bio")
    assert start.tolist() == [True, True, False, True, False]
    assert end.all()
    i_per = BIO.index("I-PER")
    assert [BIO[i] for i in range(5) if trans[i, i_per]] == ["B-PER", "I-PER"]
    assert trans[:, BIO.index("B-LOC")].all() and trans[:, 0].all()


def test_allowed_transitions_of_bioes_end_and_start():
    start, _, end = allowed_transitions(BIOES, "bioes")
    assert [BIOES[i] for i in range(len(BIOES)) if start[i]] == ["O", "B-PER", "S-PER", "B-LOC",
                                                                  "S-LOC"]  # fmt: skip
    assert [BIOES[i] for i in range(len(BIOES)) if end[i]] == ["O", "E-PER", "S-PER", "E-LOC",
                                                                "S-LOC"]  # fmt: skip


def test_forbidden_scores_are_not_learned():
    crf = CRF(3, allowed_transitions(["O", "B-X", "I-X"], "bio"))
    with torch.no_grad():
        crf.transitions.fill_(3.0)
    _, trans, _ = crf.scores()
    assert trans[0, 2].item() == FORBIDDEN and trans[1, 2].item() == 3.0


def test_bad_shapes_name_what_was_expected():
    crf = CRF(3)
    with pytest.raises(ValueError, match=r"emissions of shape \(B, T, 3\); got \(2, 4, 5\)"):
        crf.decode(torch.zeros(2, 4, 5), torch.tensor([4, 4]))
    with pytest.raises(ValueError, match=r"lengths in \[1, 4\]"):
        crf.log_partition(torch.zeros(2, 4, 3), torch.tensor([0, 4]))
    with pytest.raises(ValueError, match="constraints of shapes"):
        CRF(3, (torch.ones(2), torch.ones(3, 3), torch.ones(3)))
    with pytest.raises(ValueError, match="scheme must be one of"):
        allowed_transitions(["O"], "iob1")


def test_state_dict_keeps_parameters_and_masks():
    crf = CRF(5, allowed_transitions(BIO, "bio"))
    again = CRF(5)
    again.load_state_dict(crf.state_dict())
    assert torch.equal(again.allowed_trans, crf.allowed_trans)
