"""The classifier: pooling against hand computation, padding never reaching the output, the
head and loss for two and more classes, and the classic Keras SimpleRNN sentiment example
expressed in flags."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from rnnkit.cli import build_parser
from rnnkit.commands.flags import from_args
from rnnkit.layers.registry import LAYERS
from rnnkit.tasks.classify import (
    ClassifyConfig,
    TextClassifier,
    build_model,
    class_probabilities,
    classification_loss,
    pool_last,
    pool_max,
    pool_mean,
)
from rnnkit.train import TrainConfig, build_optimizer

# out (B=2, T=3, F=2); row 0 has length 2, its step 2 is padding holding a large value
OUT = torch.tensor(
    [[[1.0, -4.0], [3.0, -2.0], [100.0, 100.0]], [[2.0, 5.0], [0.0, 1.0], [4.0, 0.0]]]
)
LENGTHS = torch.tensor([2, 3])


def test_mean_pooling_averages_the_valid_steps_only():
    assert pool_mean(OUT, LENGTHS).tolist() == [[2.0, -3.0], [2.0, 2.0]]


def test_max_pooling_ignores_the_padding():
    assert pool_max(OUT, LENGTHS).tolist() == [[3.0, -2.0], [4.0, 5.0]]


def test_last_pooling_puts_both_directions_of_the_top_layer_side_by_side():
    h_n = torch.arange(24.0).view(4, 2, 3)  # (L*D = 2*2, B = 2, H = 3)
    pooled = pool_last(h_n, directions=2)
    assert pooled.tolist() == [[12, 13, 14, 18, 19, 20], [15, 16, 17, 21, 22, 23]]
    assert pool_last(h_n, directions=1).tolist() == h_n[3].tolist()


def _model(cell: str, bidirectional: bool, pooling: str, classes: int = 2) -> TextClassifier:
    torch.manual_seed(0)
    model = TextClassifier(30, classes, 6, 5, 2, cell, bidirectional, pooling, dropout=0.2)
    return model.double().eval()


@pytest.mark.parametrize("cell", sorted(LAYERS))
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("pooling", ["last", "max", "mean"])
def test_more_padding_or_other_batch_mates_leave_the_output_unchanged(cell, bidirectional, pooling):
    model = _model(cell, bidirectional, pooling)
    text = torch.tensor([[4, 9, 2, 17]])
    alone = model(text, torch.tensor([4]))
    # the same text padded to 9 steps, with junk ids (not 0) in the padding, beside a longer text
    junk = torch.tensor([[4, 9, 2, 17, 3, 3, 8, 1, 5], [7, 7, 1, 2, 9, 9, 4, 6, 2]])
    padded = model(junk, torch.tensor([4, 9]))
    torch.testing.assert_close(padded[0], alone[0], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("cell", sorted(LAYERS))
def test_every_cell_trains_on_a_padded_batch(cell):
    torch.manual_seed(0)
    model = TextClassifier(30, 3, 6, 5, layers=2, cell=cell, bidirectional=True, dropout=0.1)
    x, lengths = torch.tensor([[4, 9, 2, 0], [1, 2, 3, 4], [7, 0, 0, 0]]), torch.tensor([3, 4, 1])
    classification_loss(model(x, lengths), torch.tensor([0, 2, 1])).backward()
    assert model.embed.weight.grad is not None and model.rnn.weight_ih_l0.grad is not None
    assert model.embed.weight.grad[0].abs().sum() == 0  # <pad> has no gradient


def test_last_pooling_is_the_output_at_each_texts_own_last_token():
    model = _model("gru", False, "last")
    x, lengths = torch.tensor([[4, 9, 2, 0, 0], [1, 2, 3, 4, 5]]), torch.tensor([3, 5])
    out, _ = model.rnn(model.embed(x), lengths=lengths)  # (B, T, H)
    features = model.features(x, lengths)
    torch.testing.assert_close(features, out[torch.arange(2), lengths - 1])


def test_two_classes_use_one_sigmoid_logit_and_binary_cross_entropy():
    model = _model("gru", False, "last", classes=2)
    logits = model(torch.tensor([[4, 9], [3, 0]]), torch.tensor([2, 1]))
    assert logits.shape == (2, 1) and model.head.out_features == 1
    labels = torch.tensor([1, 0])
    p = torch.sigmoid(logits[:, 0])
    by_hand = -(torch.log(p[0]) + torch.log(1 - p[1])) / 2
    torch.testing.assert_close(classification_loss(logits, labels), by_hand)
    probs = class_probabilities(logits)
    torch.testing.assert_close(probs[:, 1], p)
    torch.testing.assert_close(probs.sum(1), torch.ones(2, dtype=probs.dtype))


def test_more_classes_use_softmax_and_cross_entropy():
    model = _model("lstm", True, "mean", classes=4)
    logits = model(torch.tensor([[4, 9], [3, 0]]), torch.tensor([2, 1]))
    labels = torch.tensor([3, 0])
    assert logits.shape == (2, 4)
    torch.testing.assert_close(classification_loss(logits, labels), F.cross_entropy(logits, labels))
    torch.testing.assert_close(class_probabilities(logits), torch.softmax(logits, 1))


def test_keras_simplernn_sentiment_example_is_expressible():
    """Embedding(10000, 32) + SimpleRNN(32) + Dense(1, sigmoid), rmsprop, maxlen 500, val 0.2."""
    flags = "--cell rnn --embed 32 --hidden 32 --vocab-size 10000 --maxlen 500"
    args = build_parser().parse_args(
        ["classify", "train", *flags.split(), "--optimizer", "rmsprop", "--val-split", "0.2"]
    )
    cfg, tcfg = from_args(ClassifyConfig, args), from_args(TrainConfig, args)
    model = build_model(cfg, cfg.vocab_size, num_classes=2)
    shapes = {name: tuple(p.shape) for name, p in model.named_parameters()}
    assert shapes == {
        "embed.weight": (10000, 32),
        "rnn.weight_ih_l0": (32, 32),
        "rnn.weight_hh_l0": (32, 32),
        "rnn.bias_ih_l0": (32,),  # torch keeps two bias vectors where Keras has one:
        "rnn.bias_hh_l0": (32,),  # 32 parameters more than Keras' 322,113
        "head.weight": (1, 32),
        "head.bias": (1,),
    }
    assert sum(p.numel() for p in model.parameters()) == 320000 + 2112 + 33
    assert model.rnn.mode == "RNN_TANH" and model.rnn.num_layers == 1
    assert not model.rnn.bidirectional and model.pooling == "last"
    assert (cfg.maxlen, cfg.val_split) == (500, 0.2)
    assert isinstance(build_optimizer(model.parameters(), tcfg), torch.optim.RMSprop)
