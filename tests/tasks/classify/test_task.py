"""The Trainer's view of classification: word dropout touches real tokens only, and
validation reports loss and error = 1 - accuracy."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from rnnkit.tasks.classify import ClassifyTask, EncodedTexts, ShuffledBatches

IDS = torch.tensor([[5, 6, 7, 8, 0, 0], [9, 5, 0, 0, 0, 0], [4, 4, 4, 4, 4, 4], [6, 0, 0, 0, 0, 0]])
DATA = EncodedTexts(IDS, torch.tensor([4, 2, 6, 1]), torch.tensor([1, 0, 1, 0]))


class _Recorder(nn.Module):
    """Logits from the first token (class 1 when its id is even); keeps the inputs it saw."""

    def __init__(self) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.ones(()))
        self.seen: list[torch.Tensor] = []

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        self.seen.append(x)
        even = (x[:, :1] % 2 == 0).float()  # (B, 1)
        return self.scale * (4 * even - 2)  # one logit: +2 for even, -2 for odd


def test_word_dropout_replaces_real_tokens_only_by_unk():
    batches = ShuffledBatches(DATA.lengths, 4, seed=0, bucket=False)
    task = ClassifyTask(DATA, batches, DATA, torch.device("cpu"), word_dropout=0.5, unk=1)
    model = _Recorder()
    torch.manual_seed(0)
    task.train_step(model, 0, None)
    x = model.seen[-1]
    order = batches.indices(0)
    original = DATA.ids[order, : x.shape[1]]
    dropped = x != original
    assert dropped.any() and (x[dropped] == 1).all()  # some tokens, and only into <unk>
    assert (x[original == 0] == 0).all()  # padding stays padding


def test_validation_reports_loss_and_error():
    batches = ShuffledBatches(DATA.lengths, 2, seed=0)
    task = ClassifyTask(DATA, batches, DATA, torch.device("cpu"))
    metrics = task.evaluate(_Recorder())
    # first tokens 5, 9, 4, 6 -> predicted 0, 0, 1, 1 against labels 1, 0, 1, 0: half right
    assert metrics["error"] == pytest.approx(0.5)
    p = torch.sigmoid(torch.tensor(2.0))  # probability given to the predicted class
    assert metrics["loss"] == pytest.approx(-(2 * p.log() + 2 * (1 - p).log()).item() / 4)
