"""The sequence tagger: token embedding (+ character features of each word, + character
bigrams) -> bidirectional rnnkit recurrent stack with true lengths -> per-token tag scores ->
linear-chain CRF (or softmax per token).

``SequenceTagger(batch)`` returns emissions (B, T, K); ``loss(batch)`` the training loss
(CRF: negative log likelihood of the gold sequences; softmax: cross-entropy), both summed over
sentences and divided by the tokens of the batch; ``decode(batch)`` the best tag ids (B, T).

Character features of a word (its first ``MAX_WORD_CHARS`` characters), for words never seen
in training: ``lstm`` the final states of a bidirectional LSTM over the characters (Lample et
al. 2016), ``cnn`` max-pooled convolutions of width 3 (Ma & Hovy 2016).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ...layers import CRF, allowed_transitions
from ...layers.registry import recurrent_stack
from .data import TagBatch

__all__ = ["CharCNN", "CharLSTM", "FastDropout", "SequenceTagger"]


class FastDropout(nn.Dropout):
    """``nn.Dropout`` with its mask drawn by ``torch.rand`` (on the CPU torch's bernoulli_,
    which nn.Dropout uses, took 12% of a training step of the default tagger)."""

    def forward(self, x: Tensor) -> Tensor:
        if not self.training or self.p == 0:
            return x
        keep = torch.rand(x.shape, device=x.device, dtype=x.dtype) >= self.p
        return x * keep * (1.0 / (1.0 - self.p))


class CharLSTM(nn.Module):
    """chars (B, T, C) ids, 0 = padding -> (B, T, 2 * hidden) final states of a BiLSTM."""

    def __init__(self, num_chars: int, embed: int, hidden: int) -> None:
        super().__init__()
        self.embed = nn.Embedding(num_chars, embed, padding_idx=0)
        self.rnn = recurrent_stack("lstm", embed, hidden, 1, 0.0, bidirectional=True)
        self.out_size = 2 * hidden

    def forward(self, chars: Tensor) -> Tensor:
        B, T, C = chars.shape
        flat = chars.reshape(B * T, C)
        lengths = (flat != 0).sum(dim=1)
        used = lengths > 0  # padding tokens have no characters
        out = chars.new_zeros(B * T, self.out_size, dtype=self.embed.weight.dtype)
        _, (h_n, _) = self.rnn(self.embed(flat[used]), lengths=lengths[used].cpu())
        out[used] = torch.cat([h_n[0], h_n[1]], dim=1)  # forward end, backward start
        return out.reshape(B, T, self.out_size)


class CharCNN(nn.Module):
    """chars (B, T, C) ids -> (B, T, filters): width-3 convolution, max over the characters."""

    def __init__(self, num_chars: int, embed: int, filters: int) -> None:
        super().__init__()
        self.embed = nn.Embedding(num_chars, embed, padding_idx=0)
        self.conv = nn.Conv1d(embed, filters, kernel_size=3, padding=1)
        self.out_size = filters

    def forward(self, chars: Tensor) -> Tensor:
        B, T, C = chars.shape
        x = self.embed(chars.reshape(B * T, C)).transpose(1, 2)  # (BT, E, C)
        h = self.conv(x).masked_fill((chars.reshape(B * T, 1, C) == 0), float("-inf"))
        h = h.amax(dim=2)  # (BT, F)
        return h.masked_fill(torch.isinf(h), 0.0).reshape(B, T, -1)


class SequenceTagger(nn.Module):
    """Tags of ``len(tags)`` kinds (see the module docstring); ``scheme`` ("bio", "bioes",
    "bmes" or "none") sets the CRF's transition constraints."""

    def __init__(
        self,
        num_words: int,
        tags: list[str],
        *,
        num_chars: int = 0,
        num_bigrams: int = 0,
        embed: int = 100,
        hidden: int = 128,
        layers: int = 1,
        cell: str = "lstm",
        char_features: str = "none",
        char_embed: int = 32,
        char_hidden: int = 50,
        crf: bool = True,
        scheme: str = "none",
        dropout: float = 0.5,
    ) -> None:
        super().__init__()
        K = len(tags)
        self.embed = nn.Embedding(num_words, embed, padding_idx=0)
        size = embed
        self.chars: nn.Module | None = None
        if char_features != "none":
            cls = CharLSTM if char_features == "lstm" else CharCNN
            self.chars = cls(num_chars, char_embed, char_hidden)
            size += self.chars.out_size
        pair = max(1, embed // 2)  # a bigram's embedding: half a token's
        self.bigrams = nn.Embedding(num_bigrams, pair, padding_idx=0) if num_bigrams else None
        size += 2 * pair if num_bigrams else 0
        self.drop = FastDropout(dropout)
        self.rnn = recurrent_stack(cell, size, hidden, layers, dropout, bidirectional=True)
        self.head = nn.Linear(2 * hidden, K)
        self.crf = CRF(K, allowed_transitions(tags, scheme)) if crf else None

    def forward(self, batch: TagBatch) -> Tensor:
        """Emissions (B, T, K) of the tags at every step (zero rows past a length)."""
        parts = [self.embed(batch.words)]  # (B, T, E)
        if self.chars is not None:
            parts.append(self.chars(batch.chars))
        if self.bigrams is not None:
            pairs = self.bigrams(batch.bigrams)  # (B, T + 1, E): bigram t is left of token t
            parts += [pairs[:, :-1], pairs[:, 1:]]
        x = self.drop(torch.cat(parts, dim=2))
        out, _ = self.rnn(x, lengths=batch.lengths.cpu())  # (B, T, 2H)
        return self.head(self.drop(out))

    def loss(
        self, batch: TagBatch, reduction: str = "mean", emissions: Tensor | None = None
    ) -> Tensor:
        """Loss per token of the batch ("mean") or summed over its tokens ("sum");
        ``emissions`` (B, T, K) when they are computed already."""
        emissions = self(batch) if emissions is None else emissions
        lengths = batch.lengths.to(emissions.device)
        if self.crf is not None:
            total = self.crf(emissions, batch.tags, lengths, reduction="sum")
        else:
            mask = torch.arange(emissions.shape[1], device=emissions.device) < lengths[:, None]
            total = F.cross_entropy(emissions[mask], batch.tags[mask], reduction="sum")
        return total / lengths.sum() if reduction == "mean" else total

    @torch.no_grad()
    def decode(self, batch: TagBatch, emissions: Tensor | None = None) -> Tensor:
        """Best tag ids (B, T): Viterbi under the constraints, or the argmax of each token."""
        emissions = self(batch) if emissions is None else emissions
        if self.crf is not None:
            return self.crf.decode(emissions, batch.lengths.to(emissions.device))[0]
        return emissions.argmax(dim=2)
