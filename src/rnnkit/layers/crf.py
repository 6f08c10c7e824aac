"""``CRF``: a linear-chain conditional random field over K tags, batched, with masks for lengths.

The score of a tag sequence y_0..y_{n-1} of one sentence with emissions e (n, K) is

    s(y) = start[y_0] + sum_t e[t, y_t] + sum_{t>=1} trans[y_{t-1}, y_t] + end[y_{n-1}]

and p(y) = exp(s(y)) / Z with Z = sum over all K^n sequences. ``log_partition`` computes log Z
with the forward algorithm in log space (O(n K^2)), ``decode`` the best sequence with Viterbi,
``marginals`` p(y_t = k) as the gradient of log Z with respect to the emissions (the
forward-backward algorithm, run by autograd). Every method takes a batch: emissions (B, T, K)
post-padded, ``lengths`` (B,) in [1, T]; steps past a sentence's length never count.

Constraints: ``allowed_transitions(labels, scheme)`` gives the start, transition and end masks
that forbid invalid BIO / BIOES / BMES sequences (an ``I-PER`` after ``O``, an ``E-LOC`` first,
a sentence ending in ``B-ORG`` under BIOES). Forbidden scores are ``FORBIDDEN`` (-10,000,
finite, so that gradients stay finite), never learned: decoding never yields them while any
allowed sequence exists, and the likelihood of a gold sequence is computed over the allowed
sequences only (up to exp(-10,000)).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

__all__ = ["CRF", "FORBIDDEN", "SCHEMES", "allowed_transitions"]

FORBIDDEN = -1e4  # the score of a forbidden start, transition or end
SCHEMES = ("bio", "bioes", "bmes", "none")  # the tag schemes allowed_transitions knows


def _split(label: str) -> tuple[str, str]:
    """("B", "PER") of "B-PER", ("O", "") of "O", ("S", "") of a bare BMES tag "S"."""
    prefix, _, kind = label.partition("-")
    return prefix, kind


def _may_follow(prev: str, nxt: str, scheme: str) -> bool:
    """Whether tag ``nxt`` may come right after tag ``prev`` under ``scheme``."""
    (p, pk), (n, nk) = _split(prev), _split(nxt)
    if scheme == "bio":
        return n != "I" or (p in ("B", "I") and pk == nk)
    inside = p in ("B", "I", "M")  # an unfinished chunk: only its continuation may follow
    if inside:
        return n in ("I", "E", "M") and pk == nk
    return n in ("O", "B", "S")


def allowed_transitions(labels: Sequence[str], scheme: str) -> tuple[Tensor, Tensor, Tensor]:
    """(start (K,), trans (K, K), end (K,)) bool masks: which tag may begin a sentence, follow
    another (``trans[i, j]``: tag j right after tag i), end a sentence under ``scheme``.

    ``bio`` (IOB2): ``I-x`` only after ``B-x`` or ``I-x``. ``bioes``: ``B-x`` (then ``I-x``*)
    ends in ``E-x``; ``S-x`` a one-token chunk; ``O`` outside. ``bmes``: word segmentation,
    bare tags B, M, E, S, the same rules without types. ``none``: everything allowed.
    """
    if scheme not in SCHEMES:
        raise ValueError(f"scheme must be one of {', '.join(SCHEMES)}; got {scheme!r}")
    K = len(labels)
    if scheme == "none":
        ones = torch.ones(K, dtype=torch.bool)
        return ones, torch.ones(K, K, dtype=torch.bool), ones.clone()
    prefixes = [_split(label)[0] for label in labels]
    start = torch.tensor([p in ("O", "B", "S") for p in prefixes])
    end = torch.tensor([p in ("O", "I", "B") if scheme == "bio" else p in ("O", "E", "S")
                        for p in prefixes])  # fmt: skip
    trans = torch.tensor([[_may_follow(a, b, scheme) for b in labels] for a in labels])
    return start, trans, end


class CRF(nn.Module):
    """Linear-chain CRF over ``num_tags`` tags (see the module docstring).

    Parameters ``start`` (K,), ``transitions`` (K, K) (row: previous tag, column: next) and
    ``end`` (K,), initialized to zero. ``constraints`` is (start, trans, end) bool masks as
    ``allowed_transitions`` returns, or None for none. ``forward`` is the negative log
    likelihood of gold tags, the training loss.
    """

    def __init__(
        self, num_tags: int, constraints: tuple[Tensor, Tensor, Tensor] | None = None
    ) -> None:
        super().__init__()
        K = self.num_tags = num_tags
        self.start = nn.Parameter(torch.zeros(K))
        self.transitions = nn.Parameter(torch.zeros(K, K))
        self.end = nn.Parameter(torch.zeros(K))
        if constraints is None:
            ones = torch.ones(K, dtype=torch.bool)
            constraints = (ones, torch.ones(K, K, dtype=torch.bool), ones)
        start, trans, end = (c.to(torch.bool) for c in constraints)
        if start.shape != (K,) or trans.shape != (K, K) or end.shape != (K,):
            raise ValueError(
                f"CRF expected constraints of shapes ({K},), ({K}, {K}), ({K},); got "
                f"{tuple(start.shape)}, {tuple(trans.shape)}, {tuple(end.shape)}"
            )
        self.register_buffer("allowed_start", start)
        self.register_buffer("allowed_trans", trans)
        self.register_buffer("allowed_end", end)

    def extra_repr(self) -> str:
        forbidden = int((~self.allowed_trans).sum())
        return f"num_tags={self.num_tags}, forbidden_transitions={forbidden}"

    def scores(self) -> tuple[Tensor, Tensor, Tensor]:
        """(start (K,), trans (K, K), end (K,)) with the forbidden entries at ``FORBIDDEN``."""

        def fill(values: Tensor, allowed: Tensor) -> Tensor:
            return values.masked_fill(~allowed, FORBIDDEN)

        return (
            fill(self.start, self.allowed_start),
            fill(self.transitions, self.allowed_trans),
            fill(self.end, self.allowed_end),
        )

    def _check(self, emissions: Tensor, lengths: Tensor) -> Tensor:
        """The (B, T) bool mask of valid steps; ValueError for shapes or lengths that do not fit."""
        if emissions.dim() != 3 or emissions.shape[2] != self.num_tags:
            raise ValueError(
                f"CRF expected emissions of shape (B, T, {self.num_tags}); "
                f"got {tuple(emissions.shape)}"
            )
        B, T, _ = emissions.shape
        lengths = torch.as_tensor(lengths, device=emissions.device)
        if lengths.shape != (B,):
            raise ValueError(f"CRF expected lengths of shape ({B},); got {tuple(lengths.shape)}")
        if B and (int(lengths.min()) < 1 or int(lengths.max()) > T):
            raise ValueError(f"CRF expected lengths in [1, {T}]; got {lengths.tolist()}")
        return torch.arange(T, device=emissions.device) < lengths[:, None]

    def log_partition(self, emissions: Tensor, lengths: Tensor) -> Tensor:
        """log Z (B,) of each sentence by the forward algorithm in log space."""
        mask = self._check(emissions, lengths)
        start, trans, end = self.scores()
        alpha = start + emissions[:, 0]  # (B, K): log-sum of the scores of prefixes ending in k
        for t in range(1, emissions.shape[1]):
            # alpha'[b, j] = logsumexp_i(alpha[b, i] + trans[i, j]) + e[b, t, j]
            step = torch.logsumexp(alpha[:, :, None] + trans, dim=1) + emissions[:, t]
            alpha = torch.where(mask[:, t, None], step, alpha)  # finished sentences keep theirs
        return torch.logsumexp(alpha + end, dim=1)

    def score(self, emissions: Tensor, tags: Tensor, lengths: Tensor) -> Tensor:
        """s(y) (B,) of the tag sequences ``tags`` (B, T) (entries past a length are ignored)."""
        mask = self._check(emissions, lengths)
        start, trans, end = self.scores()
        lengths = mask.sum(dim=1)
        tags = tags.masked_fill(~mask, 0)  # any valid index; its terms are masked out
        emit = emissions.gather(2, tags[:, :, None])[:, :, 0]  # (B, T)
        total = start[tags[:, 0]] + (emit * mask).sum(dim=1)
        total = total + (trans[tags[:, :-1], tags[:, 1:]] * mask[:, 1:]).sum(dim=1)
        last = tags.gather(1, (lengths - 1)[:, None])[:, 0]  # (B,) each sentence's last tag
        return total + end[last]

    def forward(
        self, emissions: Tensor, tags: Tensor, lengths: Tensor, reduction: str = "mean"
    ) -> Tensor:
        """Negative log likelihood -log p(tags): (B,) with reduction "none", else its "sum" or
        "mean" over sentences (the mean per token is the caller's: divide the sum)."""
        nll = self.log_partition(emissions, lengths) - self.score(emissions, tags, lengths)
        if reduction == "none":
            return nll
        if reduction == "sum":
            return nll.sum()
        if reduction == "mean":
            return nll.mean()
        raise ValueError(f"reduction must be 'none', 'sum' or 'mean'; got {reduction!r}")

    def marginals(self, emissions: Tensor, lengths: Tensor) -> Tensor:
        """p(y_t = k) (B, T, K) = d log Z / d e[t, k]; zero past each length."""
        with torch.enable_grad():
            e = emissions.detach().requires_grad_(True)
            (grad,) = torch.autograd.grad(self.log_partition(e, lengths).sum(), e)
        return grad

    @torch.no_grad()
    def decode(self, emissions: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        """Viterbi: (best tags (B, T) int64, 0 past each length; their scores s(y) (B,))."""
        mask = self._check(emissions, lengths)
        start, trans, end = self.scores()
        B, T, K = emissions.shape
        delta = start + emissions[:, 0]  # (B, K): best score of a prefix ending in k
        keep = torch.arange(K, device=emissions.device).expand(B, K)  # backpointer of a pad step
        pointers = []
        for t in range(1, T):
            best, arg = (delta[:, :, None] + trans).max(dim=1)  # (B, K) over the previous tag
            on = mask[:, t, None]
            delta = torch.where(on, best + emissions[:, t], delta)
            pointers.append(torch.where(on, arg, keep))  # (B, K): the best previous tag
        best_score, tag = (delta + end).max(dim=1)  # (B,)
        path = [tag]
        for arg in reversed(pointers):
            tag = arg.gather(1, tag[:, None])[:, 0]
            path.append(tag)
        tags = torch.stack(path[::-1], dim=1)  # (B, T); past a length: the last tag repeated
        return tags.masked_fill(~mask, 0), best_score
