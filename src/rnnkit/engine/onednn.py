"""torch's oneDNN LSTM layer as ``torch.library`` operators: what a compiled graph runs where the
plan hands an LSTM to torch.

Eager "auto" runs a float32 LSTM stack with torch's own kernel where it measured faster on this
machine (paths.TorchKernel, ``torch._VF.lstm``). A graph cannot hold that call: dynamo refuses
torch.nn's recurrent layers, and ``aten.mkldnn_rnn_layer`` inside an inductor graph fails the
size check of its workspace (inductor's meta kernel gives it 0 bytes). So the same kernel is
registered here as an operator of our own: ``rnnkit::onednn_lstm`` runs one layer-direction
(``aten.mkldnn_rnn_layer``, what torch.nn.LSTM runs on CPU) and returns the kernel's workspace,
a byte tensor of a size only the kernel knows (an unbacked size in its fake kernel);
``rnnkit::onednn_lstm_backward`` (``aten.mkldnn_rnn_layer_backward``) is its registered
autograd. The results are torch.nn.LSTM's bit for bit.

Two things the kernel does that the registration must respect: it keeps a workspace only where
grad mode is on (an autograd Function's forward runs with it off), and autograd would otherwise
fill a zero gradient for every output the loss does not reach, the workspace included (about
1.2 ms a call at B16 T100 H128): the operator turns grad mode on around the kernel and leaves
missing gradients missing.

``compiled_hands_to_torch`` is the plan's choice under torch.compile, where B and T are
symbolic: the path that won most of the plan's buckets of the stack at any B and T (measured by
eager calls, this process or an earlier one), read once at trace time; ours where none is kept.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ..cells import LSTM
from . import autotune
from .backends import get_backend, native_enabled
from .stack import StackCall, StackSpec, bucket_key

__all__ = ["compiled_hands_to_torch", "onednn_lstm", "onednn_lstm_backward"]

_LSTM_MODE = 2  # ideep's rnn_kind::LSTM, the mode torch passes for an LSTM


@torch.library.custom_op("rnnkit::onednn_lstm", mutates_args=())
def onednn_lstm(
    x: Tensor,
    W_ih: Tensor,
    W_hh: Tensor,
    b_ih: Tensor,
    b_hh: Tensor,
    h0: Tensor,
    c0: Tensor,
    reverse: bool,
    train: bool,
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """One LSTM layer-direction on torch's oneDNN kernel. x: (T, B, I) float32; W_ih (4H, I),
    W_hh (4H, H), b_ih / b_hh (4H,); h0, c0: (B, H). Returns y (T, B, H), h_n, c_n (B, H) and
    the kernel's workspace (bytes; empty unless ``train``: what the backward reads)."""
    H = W_hh.shape[1]
    with torch.enable_grad() if train else torch.no_grad():  # the kernel keeps a workspace
        y, h_n, c_n, work = torch.ops.aten.mkldnn_rnn_layer(  # only in grad mode
            x.contiguous(), W_ih.contiguous(), W_hh.contiguous(), b_ih, b_hh, h0.contiguous(),
            c0.contiguous(), reverse, [], _LSTM_MODE, H, 1, True, False, False, train,
        )  # fmt: skip
    if work is None or not train:
        work = x.new_empty(0, dtype=torch.uint8)
    return y, h_n, c_n, work


@onednn_lstm.register_fake
def _(x, W_ih, W_hh, b_ih, b_hh, h0, c0, reverse, train):
    T, B, H = x.shape[0], x.shape[1], W_hh.shape[1]
    n = torch.library.get_ctx().new_dynamic_size()  # the kernel sizes its workspace itself
    return (
        x.new_empty(T, B, H),
        h0.new_empty(B, H),
        c0.new_empty(B, H),
        x.new_empty(n, dtype=torch.uint8),
    )


@torch.library.custom_op("rnnkit::onednn_lstm_backward", mutates_args=())
def onednn_lstm_backward(
    x: Tensor,
    W_ih: Tensor,
    W_hh: Tensor,
    b_ih: Tensor,
    b_hh: Tensor,
    h0: Tensor,
    c0: Tensor,
    y: Tensor,
    h_n: Tensor,
    c_n: Tensor,
    dy: Tensor | None,
    dh_n: Tensor | None,
    dc_n: Tensor | None,
    work: Tensor,
    reverse: bool,
) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor, Tensor]:
    """The gradients of ``onednn_lstm`` (train=True) from its inputs, outputs and workspace:
    dx, dW_ih, dW_hh, db (the one bias gradient: b_ih's and b_hh's), dh0, dc0. dy, dh_n, dc_n:
    None where the loss does not reach that output. The kernel writes scratch into bytes of
    ``work`` that it does not read first (a second backward from the same workspace gives the
    same gradients, tested): not declared a mutation, as aten's own schema does not, since a
    declared one makes inductor copy the workspace before every backward (1.1 ms a step at B16
    T100 H128)."""
    H = W_hh.shape[1]
    dx, dW_ih, dW_hh, db, _, dh0, dc0 = torch.ops.aten.mkldnn_rnn_layer_backward(
        x.contiguous(), W_ih.contiguous(), W_hh.contiguous(), b_ih, b_hh, h0.contiguous(),
        c0.contiguous(), y, h_n, c_n, _contiguous(dy), _contiguous(dh_n), _contiguous(dc_n),
        reverse, _LSTM_MODE, H, 1, True, True, False, [], False, work,
    )  # fmt: skip
    return dx, dW_ih, dW_hh, db, dh0, dc0


def _contiguous(t: Tensor | None) -> Tensor | None:
    return None if t is None else t.contiguous()


@onednn_lstm_backward.register_fake
def _(x, W_ih, W_hh, b_ih, b_hh, h0, c0, y, h_n, c_n, dy, dh_n, dc_n, work, reverse):
    return (torch.empty_like(x), torch.empty_like(W_ih), torch.empty_like(W_hh),
            torch.empty_like(b_ih), torch.empty_like(h0), torch.empty_like(c0))  # fmt: skip


def _setup(ctx, inputs, output) -> None:
    x, W_ih, W_hh, b_ih, b_hh, h0, c0, reverse, train = inputs
    if not train:
        raise RuntimeError("rnnkit::onednn_lstm: a backward needs train=True (a workspace)")
    ctx.save_for_backward(x, W_ih, W_hh, b_ih, b_hh, h0, c0, *output)
    ctx.reverse = reverse
    ctx.set_materialize_grads(False)  # (no zero gradient for the workspace: see above)


def _backward(ctx, dy, dh_n, dc_n, _dwork):
    x, W_ih, W_hh, b_ih, b_hh, h0, c0, y, h_n, c_n, work = ctx.saved_tensors
    if dy is None and dh_n is None and dc_n is None:
        return (None,) * 9
    dx, dW_ih, dW_hh, db, dh0, dc0 = onednn_lstm_backward(
        x, W_ih, W_hh, b_ih, b_hh, h0, c0, y, h_n, c_n, dy, dh_n, dc_n, work, ctx.reverse
    )
    # (b_hh's its own tensor: two parameters' .grad must not share storage)
    return dx, dW_ih, dW_hh, db, db.clone(), dh0, dc0, None, None


onednn_lstm.register_autograd(_backward, setup_context=_setup)


def compiled_hands_to_torch(call: StackCall) -> bool:
    """Whether a traced (torch.compile) call runs on ``onednn_lstm``: a float32 LSTM on CPU
    with biases and no projection, a padded batch without lengths, no autocast lowering, not
    under torch.export (its programs keep rnnkit's own operators), and the plan's choice."""
    spec, c = call.spec, call.checked
    if spec.cell is not LSTM or spec.proj_size or not spec.bias or call.gemm is not None:
        return False
    if c.x is None or c.lengths is not None or torch.compiler.is_exporting():
        return False
    if c.x.dtype != torch.float32 or not c.x.is_cpu:
        return False
    L, D, I, H = spec.num_layers, spec.num_directions, spec.input_size, spec.hidden_size
    return _plan_hands_to_torch(L, D, I, H, call.grad)


@torch._dynamo.assume_constant_result  # read once while tracing: no guard, no graph break
def _plan_hands_to_torch(layers: int, directions: int, I: int, H: int, grad: bool) -> bool:
    if get_backend() != "auto" or not native_enabled():
        return False
    if not (torch.backends.mkldnn.is_available() and torch.backends.mkldnn.enabled):
        return False
    spec = StackSpec.make("LSTM", LSTM, I, H, num_layers=layers, num_directions=directions)
    key = bucket_key(spec, torch.float32, grad, None, None)
    return autotune.prevailing(key, "rnnkit") == "torch"
