"""rnnkit.MinGRU / MinLSTM: the scan and sequential modes agree (outputs, h_n and every
gradient) over the option grid; lengths, packing, streaming and bad input behave as rnnkit.GRU."""

from __future__ import annotations

import itertools

import pytest
import torch
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence

from helpers import assert_close, weighted_sum
from rnnkit.layers.minimal import MinGRU, MinLSTM

T, B, I, H = 6, 4, 3, 5
LENGTHS = [3, 6, 1, 4]  # unsorted, with a length-1 and a full-length sequence
CLASSES = {"min_gru": MinGRU, "min_lstm": MinLSTM}
INPUTS = ["plain", "lengths", "packed", "unbatched"]


def make(cls, dtype=torch.float64, seed=0, **kwargs):
    torch.manual_seed(seed)
    return CLASSES[cls](I, H, dtype=dtype, **kwargs)


def data(module, kind, with_h0, dtype, seed=1):
    """(input, hx, lengths) for ``kind``; the tensors that take gradients come back too."""
    g = torch.Generator().manual_seed(seed)
    LD = module.num_layers * module.num_directions
    batched = kind != "unbatched"
    shape = ((B, T, I) if module.batch_first else (T, B, I)) if batched else (T, I)
    x = torch.randn(shape, generator=g, dtype=torch.float64).to(dtype).requires_grad_()
    h0 = None
    if with_h0:
        h0 = torch.randn((LD, B, H) if batched else (LD, H), generator=g, dtype=torch.float64)
        h0 = h0.to(dtype).requires_grad_()
    if kind == "packed":
        lens = torch.tensor(LENGTHS)
        inp = pack_padded_sequence(x, lens, batch_first=module.batch_first, enforce_sorted=False)
        return (inp, h0, None), [x] + ([h0] if with_h0 else [])
    lengths = torch.tensor(LENGTHS) if kind == "lengths" else None
    return (x, h0, lengths), [x] + ([h0] if with_h0 else [])


def run(module, args, leaves, mode):
    """Outputs, h_n and the gradients of inputs and every parameter, in one list."""
    out, h_n = module(*args, mode=mode)
    out = out.data if isinstance(out, PackedSequence) else out
    wrt = leaves + list(module.parameters())
    grads = torch.autograd.grad(weighted_sum([out, h_n]), wrt, retain_graph=True)  # packing
    return [out, h_n, *grads]


GRID = list(itertools.product(CLASSES, [1, 2], [False, True], [False, True], INPUTS, [0, 1]))


@pytest.mark.parametrize("cls, num_layers, bidirectional, batch_first, kind, with_h0", GRID)
def test_scan_matches_sequential_float64(
    cls, num_layers, bidirectional, batch_first, kind, with_h0
):
    m = make(cls, num_layers=num_layers, bidirectional=bidirectional, batch_first=batch_first)
    args, leaves = data(m, kind, with_h0, torch.float64)
    scan, seq = run(m, args, leaves, "scan"), run(m, args, leaves, "sequential")
    for k, (a, b) in enumerate(zip(scan, seq)):
        assert_close(a, b, f"result {k}")


@pytest.mark.parametrize("cls, kind", list(itertools.product(CLASSES, INPUTS)))
def test_scan_matches_sequential_float32(cls, kind):
    m = make(cls, dtype=torch.float32, num_layers=2, bidirectional=True)
    args, leaves = data(m, kind, True, torch.float32)
    scan, seq = run(m, args, leaves, "scan"), run(m, args, leaves, "sequential")
    for k, (a, b) in enumerate(zip(scan, seq)):
        assert_close(a, b, f"result {k}")


@pytest.mark.parametrize("cls", CLASSES)
@pytest.mark.parametrize("chunk", [None, 1, 4])
def test_chunked_scan_matches_sequential_with_lengths(cls, chunk):
    """Chunks that start inside a sequence's padding (lengths 1 and 3, chunk 1 or 4) included."""
    m = make(cls, num_layers=2, bidirectional=True, scan_chunk=chunk)
    args, leaves = data(m, "lengths", True, torch.float64)
    scan, seq = run(m, args, leaves, "scan"), run(m, args, leaves, "sequential")
    for k, (a, b) in enumerate(zip(scan, seq)):
        assert torch.isfinite(a).all(), f"result {k}"
        assert_close(a, b, f"result {k}")


@pytest.mark.parametrize("cls", CLASSES)
def test_scan_matches_sequential_long_sequences_with_lengths(cls):
    m = make(cls, bidirectional=True)
    g = torch.Generator().manual_seed(2)
    x = torch.randn(512, 3, I, generator=g, dtype=torch.float64).requires_grad_()
    args = (x, None, torch.tensor([300, 512, 7]))
    for k, (a, b) in enumerate(zip(run(m, args, [x], "scan"), run(m, args, [x], "sequential"))):
        # parameter grads sum ~1500 rows to O(40): 1e-10 relative to max(1, |expected|)
        scale = max(1.0, b.abs().max().item())
        assert (a - b).abs().max().item() <= 1e-10 * scale, f"result {k}"


@pytest.mark.parametrize("cls", CLASSES)
@pytest.mark.parametrize("mode", ["scan", "sequential"])
def test_gradcheck(cls, mode):
    m = CLASSES[cls](2, 3, num_layers=2, bidirectional=True, dtype=torch.float64)
    g = torch.Generator().manual_seed(3)
    x = torch.randn(4, 2, 2, generator=g, dtype=torch.float64).requires_grad_()
    h0 = torch.randn(4, 2, 3, generator=g, dtype=torch.float64).requires_grad_()
    names = [name for name, _ in m.named_parameters()]
    params = tuple(p.detach().clone().requires_grad_() for p in m.parameters())

    def fn(x, h0, *params):
        args = (x, h0, torch.tensor([4, 2]))
        return torch.func.functional_call(m, dict(zip(names, params)), args, {"mode": mode})

    assert torch.autograd.gradcheck(fn, (x, h0, *params), fast_mode=True)


@pytest.mark.parametrize("cls", CLASSES)
def test_hand_computed_two_steps(cls):
    """h_1, h_2 of one unbatched sequence written out from the parameters, against the layer."""
    m = make(cls)
    g = torch.Generator().manual_seed(4)
    x = torch.randn(2, I, generator=g, dtype=torch.float64)
    h0 = torch.randn(1, H, generator=g, dtype=torch.float64)
    W, b = m.weight_ih_l0.detach(), m.bias_ih_l0.detach()
    sig = torch.sigmoid

    def cand(v):  # g(v) = v + 0.5 for v >= 0, σ(v) below
        return torch.where(v >= 0, v + 0.5, sig(v))

    h, expected = h0[0], []
    for t in range(2):
        pre = W @ x[t] + b
        if cls == "min_gru":
            z = sig(pre[:H])
            h = (1 - z) * h + z * cand(pre[H:])
        else:
            f, i = sig(pre[:H]), sig(pre[H : 2 * H])
            h = f / (f + i) * h + i / (f + i) * cand(pre[2 * H :])
        expected.append(h)
    for mode in ("scan", "sequential"):
        out, h_n = m(x, h0, mode=mode)
        assert_close(out, torch.stack(expected), mode)
        assert_close(h_n, expected[1].unsqueeze(0), mode)


@pytest.mark.parametrize("cls", CLASSES)
@pytest.mark.parametrize("mode", ["scan", "sequential"])
def test_lengths_equal_running_each_sequence_alone(cls, mode):
    """Zero past each length, h_n at the last valid step, reverse from each sequence's end."""
    m = make(cls, num_layers=2, bidirectional=True)
    x = torch.randn(T, B, I, dtype=torch.float64)
    h0 = torch.randn(4, B, H, dtype=torch.float64)
    out, h_n = m(x, h0, lengths=torch.tensor(LENGTHS), mode=mode)
    for j, n in enumerate(LENGTHS):
        alone, h_alone = m(x[:n, j], h0[:, j], mode=mode)  # unbatched, exactly n steps
        assert_close(out[:n, j], alone, f"sequence {j}")
        assert (out[n:, j] == 0).all()
        assert_close(h_n[:, j], h_alone, f"h_n of sequence {j}")


@pytest.mark.parametrize("cls", CLASSES)
def test_packed_input_gives_packed_output_equal_to_lengths(cls):
    m = make(cls, bidirectional=True, batch_first=True)
    x = torch.randn(B, T, I, dtype=torch.float64)
    lens = torch.tensor(LENGTHS)
    out_p, h_p = m(pack_padded_sequence(x, lens, batch_first=True, enforce_sorted=False))
    out_l, h_l = m(x, lengths=lens)
    assert isinstance(out_p, PackedSequence)
    padded, _ = torch.nn.utils.rnn.pad_packed_sequence(out_p, batch_first=True, total_length=T)
    assert_close(padded, out_l, "output")
    assert_close(h_p, h_l, "h_n")


@pytest.mark.parametrize("cls", CLASSES)
@pytest.mark.parametrize("mode", ["auto", "scan", "sequential"])
def test_streaming_one_step_at_a_time_equals_one_call(cls, mode):
    m = make(cls, num_layers=2)
    x = torch.randn(T, B, I, dtype=torch.float64)
    h0 = torch.randn(2, B, H, dtype=torch.float64)
    full, h_full = m(x, h0)
    h, steps = h0, []
    for t in range(T):
        y, h = m(x[t : t + 1], h, mode=mode)
        steps.append(y)
    assert_close(torch.cat(steps), full, "outputs")
    assert_close(h, h_full, "h_n")


def test_mode_attribute_and_keyword():
    m = make("min_gru", mode="sequential")
    assert m.mode == "sequential" and "mode='sequential'" in repr(m)
    x = torch.randn(T, B, I, dtype=torch.float64)
    a, _ = m(x)
    m.mode = "scan"
    b, _ = m(x)
    c, _ = m(x, mode="sequential")
    assert_close(a, b, "attribute")
    assert_close(a, c, "keyword")


def test_dropout_between_layers_only_in_training():
    m = make("min_lstm", num_layers=2, dropout=0.5)
    x = torch.randn(T, B, I, dtype=torch.float64)
    m.eval()
    a, _ = m(x)
    b, _ = m(x, mode="sequential")
    assert_close(a, b, "eval")
    m.train()
    torch.manual_seed(0)
    c, _ = m(x)
    assert (c - a).abs().max() > 1e-3  # a different (dropped) input reached layer 2
    torch.manual_seed(0)
    d, _ = m(x, mode="sequential")
    assert_close(c, d, "same dropout mask, both modes")


def test_parameters_names_shapes_and_init():
    m = MinLSTM(I, H, num_layers=2, bidirectional=True, bias=True)
    shapes = {name: tuple(p.shape) for name, p in m.named_parameters()}
    assert shapes == {
        "weight_ih_l0": (3 * H, I),
        "bias_ih_l0": (3 * H,),
        "weight_ih_l0_reverse": (3 * H, I),
        "bias_ih_l0_reverse": (3 * H,),
        "weight_ih_l1": (3 * H, 2 * H),
        "bias_ih_l1": (3 * H,),
        "weight_ih_l1_reverse": (3 * H, 2 * H),
        "bias_ih_l1_reverse": (3 * H,),
    }
    assert m.weight_ih_l1.abs().max() <= (2 * H) ** -0.5  # nn.Linear's bound, 1/sqrt(fan_in)
    assert [n for n, _ in MinGRU(I, H, bias=False).named_parameters()] == ["weight_ih_l0"]
    assert MinGRU(I, H).weight_ih_l0.shape == (2 * H, I)


# ---------------------------------------------------------------- bad input


@pytest.fixture
def gru():
    return MinGRU(I, H, num_layers=2)


def test_wrong_feature_size_names_both(gru):
    with pytest.raises(ValueError, match=f"expected input feature size {I}, got 7"):
        gru(torch.randn(T, B, 7))


def test_wrong_state_shape_names_expected(gru):
    with pytest.raises(ValueError, match=r"h_0 of shape .* = \(2, 4, 5\), got \(2, 3, 5\)"):
        gru(torch.randn(T, B, I), torch.randn(2, 3, H))


def test_lstm_state_is_a_tensor_not_a_tuple():
    m = MinLSTM(I, H)
    h0 = torch.zeros(1, B, H)
    with pytest.raises(TypeError, match="expects hx = h_0, a tensor; got tuple"):
        m(torch.randn(T, B, I), (h0, h0))


def test_unknown_mode_is_named(gru):
    with pytest.raises(ValueError, match=r"MinGRU expected mode in .*, got 'fast'"):
        gru(torch.randn(T, B, I), mode="fast")
    with pytest.raises(ValueError, match=r"MinLSTM expected mode in .*, got 'loop'"):
        MinLSTM(I, H, mode="loop")


def test_dtype_lengths_and_constructor_errors(gru):
    with pytest.raises(TypeError, match="MinGRU expected input of dtype torch.float32"):
        gru(torch.randn(T, B, I, dtype=torch.float64))
    with pytest.raises(ValueError, match=r"lengths in \[1, T\] = \[1, 6\]"):
        gru(torch.randn(T, B, I), lengths=torch.tensor([7, 1, 1, 1]))
    with pytest.raises(ValueError, match="MinGRU expected hidden_size >= 1, got 0"):
        MinGRU(I, 0)
    with pytest.raises(ValueError, match="expected dropout to be a number in"):
        MinGRU(I, H, dropout=1.5)
    with pytest.warns(UserWarning, match="no effect with num_layers=1"):
        MinGRU(I, H, dropout=0.2)


@pytest.mark.parametrize("option", [{"zoneout": 0.1}, {"proj_size": 2}, {"forget_bias": 1.0}])
def test_options_of_cells_with_hidden_weights_are_refused(option):
    with pytest.raises(TypeError, match="MinGRU takes no"):
        MinGRU(3, 4, **option)
