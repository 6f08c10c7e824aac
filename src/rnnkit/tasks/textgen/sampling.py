"""Sampling text from a ``LanguageModel``, streaming, with temperature, top-k and top-p.

The prompt runs through the model once; after that each new token is one recurrent step from
the carried state (the prefix is never re-run).
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch import Tensor

from ...errors import RnnkitError
from .model import LanguageModel
from .vocab import Vocab

__all__ = ["filter_logits", "generate"]


def filter_logits(logits: Tensor, temperature: float, top_k: int = 0, top_p: float = 1.0) -> Tensor:
    """Next-token probabilities (V,) from logits (V,): scale by 1/temperature, keep the
    ``top_k`` most likely (0 = all), then the smallest set whose mass reaches ``top_p``."""
    logits = logits.double() / temperature
    if 0 < top_k < logits.numel():
        kth = torch.topk(logits, top_k).values[-1]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    probs = torch.softmax(logits, dim=-1)
    if top_p < 1.0:
        sorted_p, order = torch.sort(probs, descending=True)
        before = torch.cumsum(sorted_p, 0) - sorted_p  # mass of the more likely tokens
        sorted_p[before >= top_p] = 0.0  # the most likely token always stays
        probs = torch.zeros_like(probs).scatter_(0, order, sorted_p)
    return probs / probs.sum()


def _check(length: int, temperature: float, top_k: int, top_p: float) -> None:
    if length < 0:
        raise RnnkitError(f"--length must be >= 0; got {length}")
    if temperature < 0:
        raise RnnkitError(
            f"--temperature must be >= 0 (0 = always the likeliest); got {temperature}"
        )
    if top_k < 0:
        raise RnnkitError(f"--top-k must be >= 0 (0 = no limit); got {top_k}")
    if not 0 < top_p <= 1:
        raise RnnkitError(f"--top-p must be in (0, 1]; got {top_p}")


@torch.no_grad()
def generate(
    model: LanguageModel,
    vocab: Vocab,
    prompt: str = "",
    length: int = 500,
    temperature: float = 0.8,
    top_k: int = 0,
    top_p: float = 1.0,
    seed: int | None = None,
) -> Iterator[str]:
    """Yield the text of ``length`` new tokens after ``prompt``, one piece per token."""
    _check(length, temperature, top_k, top_p)
    model.eval()
    gen = torch.Generator().manual_seed(seed if seed is not None else torch.seed())
    ids = vocab.encode(prompt).tolist() if prompt else []
    if not ids:  # start as a play's line starts: after a newline
        ids = [vocab.index.get("\n", 0)]
    device = next(model.parameters()).device
    logits, state = model(torch.tensor([ids], device=device))  # the prompt, once
    previous = ids[-1]
    for _ in range(length):
        last = logits[0, -1].cpu()
        if temperature == 0:
            token = int(last.argmax())
        else:
            token = int(
                torch.multinomial(filter_logits(last, temperature, top_k, top_p), 1, generator=gen)
            )
        yield vocab.piece(token, previous)
        previous = token
        logits, state = model(torch.tensor([[token]], device=device), state)  # one step
