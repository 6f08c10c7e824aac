"""ONNX export of models with rnnkit layers (the standard ONNX RNN / LSTM / GRU operators, or a
``Loop`` over time of the cell's step), and their int8 copies for CPU inference.

    rnnkit.export.to_onnx(model, (tokens,), "model.onnx")
    quantized = rnnkit.export.quantize_dynamic(model)

``to_onnx`` exports a copy of the model in which each ``rnnkit.RNN / LSTM / GRU`` is replaced
by its torch.nn twin with the same weights (the same math: tested equal), which torch's
exporter writes as ONNX's own ``RNN`` / ``LSTM`` / ``GRU`` operators (the GRU with
``linear_before_reset=1``, both directions, stacked); every input dimension but a float
input's last (the features) stays dynamic, so batch and time length are free. Where
``onnxruntime`` is installed it runs the file on the example and compares with the model
(1e-4): an export that could not be right fails loudly, and nothing is left at ``path``.

A layer called with ``lengths=`` runs its twin on ``pack_padded_sequence`` (unsorted
lengths allowed) and pads the output back: torch's exporter writes that as the same operator
with its ``sequence_lens`` input (each sequence stops at its own length; the reverse direction
starts at its last true step; the lengths are sorted by a TopK in the graph), so the lengths
are one more input of the ONNX model.

The layers ONNX has no operator for (LayerNormLSTM, LayerNormGRU, PeepholeLSTM, IndRNN,
MinGRU, MinLSTM, ``rnnkit.Recurrent`` of a cell of your own), LSTM ``proj_size`` and zoneout
(its eval-mode mix) become a ``LoopStack`` (rnnkit/export_loop.py): an ONNX ``Loop`` over time
per layer-direction whose body is the cell's own step, lengths as a mask, batch and time
dynamic. Refused by name with the module's path: a layer that overrides ``forward``, a step
that reads a tensor's value in Python (a trace would freeze the branch); an operator ONNX has
no form for is refused in one line (torch's exporter's message).

``quantize_dynamic`` swaps in the same twins and hands them to torch's dynamic int8
quantization (docs/deploy.md has its measured speed and accuracy).
"""

from __future__ import annotations

import copy
import os
import tempfile
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from .errors import RnnkitError
from .export_loop import LoopStack, exportable_layer_norm
from .layers import GRU, LSTM, RNN, RNNBase

__all__ = ["flat_tensors", "onnx_copy", "quantize_dynamic", "to_onnx"]

_TWINS = {RNN: nn.RNN, LSTM: nn.LSTM, GRU: nn.GRU}
_OPSET = 20  # ONNX opset of the files written (torch's exporter's default in torch 2.13)


def _twin(name: str, layer: RNNBase) -> nn.Module:
    """torch.nn's layer with ``layer``'s options and weights, or where it has none (the other
    cells, LSTM ``proj_size``, zoneout) a LoopStack; RnnkitError where neither can be made."""
    kind = type(layer)
    if kind not in _TWINS or layer.proj_size or layer.zoneout != (0.0, 0.0):
        return LoopStack(name, layer)  # a Loop over time of the cell's step
    options = {
        "num_layers": layer.num_layers, "bias": layer.bias, "batch_first": layer.batch_first,
        "dropout": layer.dropout, "bidirectional": layer.bidirectional,
    }  # fmt: skip
    if kind is RNN:
        options["nonlinearity"] = "relu" if layer.torch_mode == "RNN_RELU" else "tanh"
    weight = layer.weight_ih_l0
    twin = _TWINS[kind](layer.input_size, layer.hidden_size, **options)
    twin = twin.to(dtype=weight.dtype, device=weight.device)
    twin.load_state_dict(layer.state_dict())
    return _Twin(twin)


class _Twin(nn.Module):
    """torch.nn's layer called as an rnnkit layer is: ``lengths=`` packs the padded batch."""

    def __init__(self, rnn: nn.RNNBase):
        super().__init__()
        self.rnn = rnn

    def forward(self, input: Tensor, hx=None, lengths: Tensor | None = None) -> tuple:
        if lengths is None:
            return self.rnn(input, hx)
        first = self.rnn.batch_first
        packed = pack_padded_sequence(input, lengths.cpu(), first, enforce_sorted=False)
        output, state = self.rnn(packed, hx)
        T = input.shape[1 if first else 0]
        output, _ = pad_packed_sequence(output, first, total_length=T)  # zeros past a length
        if isinstance(state, tuple):
            return output, (self._last_h(output, state[0], lengths), *state[1:])
        return output, self._last_h(output, state, lengths)

    def _last_h(self, output: Tensor, h_n: Tensor, lengths: Tensor) -> Tensor:
        """h_n (L·D, B, P) with its last layer's rows read from the output: the forward
        direction's at each sequence's last step, the reverse direction's at step 0 (the same
        numbers). Torch's exporter fails with an internal error ("vector::_M_range_check") on
        a packed layer whose output nothing reads, as a classifier reading only h_n would."""
        y = output.transpose(0, 1) if self.rnn.batch_first else output  # (T, B, D·P)
        B, P = y.shape[1], h_n.shape[2]
        last = (lengths.to(y.device) - 1).view(1, B, 1).expand(1, B, P)
        rows = [y[:, :, :P].gather(0, last)]  # (1, B, P)
        if self.rnn.bidirectional:
            rows.append(y[:1, :, P:])
        return torch.cat([h_n[: h_n.shape[0] - len(rows)], *rows])


def onnx_copy(model: nn.Module) -> nn.Module:
    """A copy of ``model`` in eval mode with every rnnkit recurrent layer replaced by its
    torch.nn twin or a LoopStack (RnnkitError naming the first one that can be neither)."""
    if isinstance(model, RNNBase):
        return _twin("", model).eval()
    twin = copy.deepcopy(model).eval()
    for name, module in list(twin.named_modules()):
        if isinstance(module, RNNBase):
            parent_name, _, attr = name.rpartition(".")
            parent = twin.get_submodule(parent_name) if parent_name else twin
            setattr(parent, attr, _twin(name, module).eval())
    return twin


def _dynamic_axes(names: Sequence[str], inputs: Sequence[Tensor]) -> dict[str, dict[int, str]]:
    """Every dimension of each input dynamic, but a float input's last (its features)."""
    axes = {}
    for name, x in zip(names, inputs):
        last = x.dim() - 1 if x.is_floating_point() else x.dim()
        axes[name] = {d: f"{name}_dim{d}" for d in range(last)}
    return axes


def to_onnx(
    model: nn.Module,
    example: tuple,
    path: str | os.PathLike,
    *,
    input_names: Sequence[str] | None = None,
    output_names: Sequence[str] | None = None,
    check: bool = True,
) -> Path:
    """Write ``model`` (called as ``model(*example)``) to ``path`` as an ONNX file with dynamic
    batch and time axes; returns the path. ``check``: run the file with onnxruntime (where it is
    installed) on ``example`` and compare with the model. The file is written atomically."""
    path = Path(path)
    if not path.parent.is_dir():
        raise RnnkitError(f"cannot write {path}: the directory {path.parent} does not exist")
    example = tuple(example) if isinstance(example, (tuple, list)) else (example,)
    try:
        flat_inputs = flat_tensors(example)  # (a state tuple such as (h_0, c_0) is one argument)
    except TypeError:
        raise RnnkitError("to_onnx expected tensors or tuples of tensors as inputs") from None
    names = list(input_names or [f"input{k}" for k in range(len(flat_inputs))])
    twin = onnx_copy(model)
    with torch.no_grad():
        try:
            twin(*example)
            expected = _eval_outputs(model, example)  # what the file must give back
        except TypeError as exc:
            raise RnnkitError(f"cannot export the model to ONNX: {exc}") from exc
    outputs = flat_tensors(expected)
    out_names = list(output_names or [f"output{k}" for k in range(len(outputs))])
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        _export(twin, example, tmp, names, out_names, _dynamic_axes(names, flat_inputs))
        if check:
            _check(tmp, names, flat_inputs, outputs)
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return path


def _export(twin: nn.Module, example: tuple, file: str, names, out_names, axes) -> None:
    """torch's TorchScript-based exporter on ``twin``; its failure (an operator ONNX has no
    form for, say in a cell of one's own) as an RnnkitError of one line."""
    with warnings.catch_warnings(), exportable_layer_norm(_OPSET):
        warnings.simplefilter("ignore")  # the exporter's notes on its own internals
        try:
            torch.onnx.export(
                twin, example, file, dynamo=False, input_names=names, output_names=out_names,
                dynamic_axes=axes, opset_version=_OPSET,
            )  # fmt: skip
        except torch.onnx.OnnxExporterError as exc:
            why = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
            raise RnnkitError(f"cannot export the model to ONNX: {why}") from None


def _eval_outputs(model: nn.Module, example: tuple):
    """``model(*example)`` in eval mode, each module's mode put back after."""
    modes = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        return model(*example)
    finally:
        for m, training in modes:
            m.training = training


def flat_tensors(out) -> list[Tensor]:
    """The tensors of a tensor or a (nested) tuple / list of them, in order; None skipped."""
    if isinstance(out, Tensor):
        return [out]
    if out is None:
        return []
    if not isinstance(out, (tuple, list)):
        raise TypeError(f"not a tensor: {type(out).__name__}")
    return [t for item in out for t in flat_tensors(item)]


def _check(file: str, names: list[str], example: list[Tensor], expected: list[Tensor]) -> None:
    """onnxruntime's outputs for the (flat) ``example`` against the model's (where installed)."""
    try:
        import onnxruntime
    except ImportError:
        return
    session = onnxruntime.InferenceSession(file, providers=["CPUExecutionProvider"])
    feed = {n: x.detach().cpu().numpy() for n, x in zip(names, example)}
    got = session.run(None, feed)
    for k, (a, b) in enumerate(zip(got, expected)):
        err = _relative_error(a, b.detach().cpu().numpy())
        if not err <= 1e-4:  # NaN too
            raise RnnkitError(f"the exported ONNX model's output {k} differs from the model's "
                              f"by {err:.2g} (relative): not written")  # fmt: skip


def _relative_error(a, b) -> float:
    """max |a - b| over max |b| (its finite entries): equal entries count 0 (infinities too, as
    -inf log-probabilities of masked ids), a NaN or an infinity where the other differs
    counts NaN or inf; booleans and integers as numbers."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        diff = np.where((a == b) | (np.isnan(a) & np.isnan(b)), 0.0, np.abs(a - b))
    finite = np.abs(b[np.isfinite(b)])
    return float(diff.max(initial=0.0)) / max(float(finite.max(initial=0.0)), 1e-6)


def quantize_dynamic(model: nn.Module, linear: bool = True) -> nn.Module:
    """A copy of ``model`` for CPU inference with int8 weights: each rnnkit LSTM / GRU becomes
    its torch.nn twin (as for ONNX), which ``torch.ao.quantization.quantize_dynamic`` turns
    into torch's dynamically quantized layer (weights int8 per tensor, each step's activations
    quantized on the fly), as are the ``nn.Linear`` layers where ``linear``. The copy takes the
    same inputs (``lengths=`` too) in eval mode; RnnkitError names a recurrent layer that has
    no quantized form (RNN, the extra cells, LSTM ``proj_size``, zoneout)."""
    for name, module in model.named_modules():
        if isinstance(module, RNNBase) and (
            type(module) not in (LSTM, GRU) or module.proj_size or module.zoneout != (0.0, 0.0)
        ):
            raise RnnkitError(
                f"cannot quantize {name or 'the model'} ({type(module).__name__}): torch's "
                "dynamic int8 quantization has LSTM (without proj_size) and GRU layers only"
            )
    kinds = {nn.LSTM, nn.GRU} | ({nn.Linear} if linear else set())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.ao.quantization's note on its move to torchao
        return torch.ao.quantization.quantize_dynamic(onnx_copy(model), kinds, dtype=torch.qint8)
