"""A cell's step as a graph of per-unit scalar operations, traced from its Python ``step``.

The native engine compiles cells it does not know (``rnnkit.define_cell``) from their forward
step alone: ``trace_step`` records the step with ``make_fx`` on fake tensors and rewrites the
ATen graph in units of H. Every (n, k·H) tensor of the step becomes k blocks of H columns and
every block one node, so an element-wise step is the same scalar function for every unit j of
every row: the function codegen.py turns into a vectorized C++ row kernel (forward) and its
derived adjoint (backward).

What traces: element-wise arithmetic, the activations in ``_UNARY``, ``maximum`` / ``minimum``,
``where`` on comparisons, ``pow`` by a number, ``clamp``, ``lerp``, ``silu``, ``softplus``,
``leaky_relu``, constants, and column slicing / splitting / concatenation at multiples of H.
Anything else (reductions such as a layer norm inside the step, row-mixing ops, in-place ops,
data-dependent Python control flow, a structure that changes with H) raises
``NotImplementedError`` naming it, and the cell runs on the fused engine instead.
"""

from __future__ import annotations

import math
import operator
from dataclasses import dataclass

import torch
from torch import Tensor

from ...cells.base import CellMath

__all__ = ["StepGraph", "trace_step"]

aten = torch.ops.aten

# unary element-wise ops the graph keeps as they are (their derivatives are in codegen.py)
_UNARY = {
    aten.neg.default: "neg",
    aten.sigmoid.default: "sigmoid",
    aten.tanh.default: "tanh",
    aten.relu.default: "relu",
    aten.exp.default: "exp",
    aten.log.default: "log",
    aten.sqrt.default: "sqrt",
    aten.rsqrt.default: "rsqrt",
    aten.reciprocal.default: "reciprocal",
    aten.abs.default: "abs",
    aten.log1p.default: "log1p",
    aten.expm1.default: "expm1",
    aten.detach.default: "detach",
}
# element-wise binary ops kept as they are; the comparisons make masks (no gradient) for where
_BINARY = {
    aten.maximum.default: "max",
    aten.minimum.default: "min",
    **{getattr(aten, c).Scalar: c for c in ("gt", "lt", "ge", "le")},
    **{getattr(aten, c).Tensor: c for c in ("gt", "lt", "ge", "le")},
}
_IDENTITY = (aten.clone.default, aten.alias.default, aten.lift_fresh_copy.default)


@dataclass(frozen=True)
class StepGraph:
    """The step of one cell, per unit j: ``nodes[k] = (op, inputs, attrs)`` in topological order.

    Leaves: ``("gx", (), (b,))`` block b of the pre-activations, ``("gh", (), (b,))`` of
    h_{t-1}·W_hhᵀ + b_hh (split_hidden cells), ``("h", (), ())`` h_{t-1},
    ``("xs", (), (k,))`` extra state k, ``("p", (), (k, b))`` block b of cell parameter k,
    ``("const", (), (value,))``. Other ops take node indices as inputs and numbers as attrs.
    """

    nodes: tuple[tuple[str, tuple[int, ...], tuple[float, ...]], ...]
    h: int  # the node of the new h
    extra: tuple[int, ...]  # the nodes of the new extra states
    gates: int  # G / H
    split: bool  # gh comes apart from gx
    param_units: tuple[int, ...]  # per cell parameter its size in units of H; 0 where absent


class _Builder:
    """Nodes with common subexpressions shared (the same key is one node)."""

    def __init__(self) -> None:
        self.nodes: list[tuple[str, tuple[int, ...], tuple[float, ...]]] = []
        self._index: dict[tuple, int] = {}

    def node(self, op: str, inputs: tuple[int, ...] = (), attrs: tuple[float, ...] = ()) -> int:
        key = (op, inputs, attrs)
        if key not in self._index:
            self._index[key] = len(self.nodes)
            self.nodes.append(key)
        return self._index[key]

    def const(self, value: float) -> int:
        return self.node("const", (), (float(value),))


class _Blocks(tuple):
    """The node of each H-wide column block of one traced tensor."""


def _blocks_of(value, where: str) -> _Blocks:
    if not isinstance(value, _Blocks):
        raise NotImplementedError(f"native cell: {where} expected a tensor, got {value!r}")
    return value


def _operand(g: _Builder, value, width: int, where: str) -> _Blocks:
    """``value`` as ``width`` blocks: a number becomes a constant in every block."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return _Blocks([g.const(value)] * width)
    blocks = _blocks_of(value, where)
    if len(blocks) != width:
        raise NotImplementedError(
            f"native cell: {where} mixes widths of {len(blocks)} and {width} blocks of H"
        )
    return blocks


def _binary(g: _Builder, op: str, a, b, where: str) -> _Blocks:
    width = max(len(v) if isinstance(v, _Blocks) else 1 for v in (a, b))
    a, b = _operand(g, a, width, where), _operand(g, b, width, where)
    return _Blocks(g.node(op, (x, y)) for x, y in zip(a, b, strict=True))


def _scaled(g: _Builder, value, alpha) -> object:
    if alpha == 1:
        return value
    if isinstance(value, (int, float)):
        return value * alpha
    return _binary(g, "mul", value, alpha, "alpha")


def _column_range(t: Tensor, dim: int, H: int, start: int, end: int, where: str) -> range:
    """The blocks of columns [start, end) of t (the last dim), which must be whole blocks."""
    if dim not in (-1, t.dim() - 1):
        raise NotImplementedError(f"native cell: {where} along dim {dim}, not along the units")
    width = t.shape[-1]
    start, end = max(0, min(start, width)), max(0, min(end, width))
    if start % H or end % H:
        raise NotImplementedError(
            f"native cell: {where} cuts columns [{start}, {end}), not at multiples of H = {H}"
        )
    return range(start // H, max(start, end) // H)


class _Tracer:
    """Interprets the ATen graph of one trace, block by block."""

    def __init__(self, H: int) -> None:
        self.g = _Builder()
        self.H = H

    def call(self, target, args, kwargs, metas):
        g, name = self.g, str(target)
        if target in _UNARY:
            (a,) = args
            return _Blocks(g.node(_UNARY[target], (x,)) for x in _blocks_of(a, name))
        if target in _IDENTITY:
            return args[0]
        if target is operator.getitem:
            return args[0][args[1]]
        alpha = kwargs.get("alpha", 1)
        if target in (aten.add.Tensor, aten.add.Scalar):
            return _binary(g, "add", args[0], _scaled(g, args[1], alpha), name)
        if target in (aten.sub.Tensor, aten.sub.Scalar):
            return _binary(g, "sub", args[0], _scaled(g, args[1], alpha), name)
        if target in (aten.rsub.Tensor, aten.rsub.Scalar):
            return _binary(g, "sub", args[1], _scaled(g, args[0], alpha), name)
        if target in (aten.mul.Tensor, aten.mul.Scalar):
            return _binary(g, "mul", args[0], args[1], name)
        if target in (aten.div.Tensor, aten.div.Scalar) and "rounding_mode" not in kwargs:
            return _binary(g, "div", args[0], args[1], name)
        if target is aten.pow.Tensor_Scalar:
            return self.pow(_blocks_of(args[0], name), float(args[1]))
        if target in (aten.clamp.default, aten.clamp_min.default, aten.clamp_max.default):
            return self.clamp(target, args, kwargs, name)
        if target in (aten.lerp.Scalar, aten.lerp.Tensor):  # start + weight·(end - start)
            start, end, weight = args
            step = _binary(g, "mul", _binary(g, "sub", end, start, name), weight, name)
            return _binary(g, "add", start, step, name)
        if target is aten.scalar_tensor.default:  # a number as a 0-d tensor (where(c, x, 0.0))
            return float(args[0])
        if target in _BINARY:
            return _binary(g, _BINARY[target], args[0], args[1], name)
        if target in (aten.where.self, aten.where.ScalarSelf, aten.where.ScalarOther):
            cond, a, b = args
            width = len(_blocks_of(cond, name))
            a, b = _operand(g, a, width, name), _operand(g, b, width, name)
            return _Blocks(g.node("where", abc) for abc in zip(cond, a, b, strict=True))
        if target is aten.leaky_relu.default:
            slope = float(args[1]) if len(args) > 1 else 0.01
            return _Blocks(g.node("leaky_relu", (x,), (slope,)) for x in _blocks_of(args[0], name))
        if target is aten.softplus.default:
            beta, threshold = (float(v) for v in (*args[1:], *(1.0, 20.0)[len(args) - 1 :]))
            blocks = _blocks_of(args[0], name)
            return _Blocks(g.node("softplus", (x,), (beta, threshold)) for x in blocks)
        if target is aten.silu.default:  # x·σ(x)
            (a,) = args
            return _binary(g, "mul", a, self.call(aten.sigmoid.default, (a,), {}, metas), name)
        if target in (aten.ones_like.default, aten.zeros_like.default, aten.full_like.default):
            value = {aten.ones_like.default: 1.0, aten.zeros_like.default: 0.0}.get(target)
            value = args[1] if value is None else value
            return _Blocks([g.const(value)] * len(_blocks_of(args[0], name)))
        return self.structural(target, args, metas, name)

    def pow(self, a: _Blocks, e: float) -> _Blocks:
        if e == 1:
            return a
        if e == 2:
            return _Blocks(self.g.node("mul", (x, x)) for x in a)
        if e == 0.5:
            return _Blocks(self.g.node("sqrt", (x,)) for x in a)
        return _Blocks(self.g.node("pow", (x,), (e,)) for x in a)

    def clamp(self, target, args, kwargs, name) -> _Blocks:
        lo, hi = -math.inf, math.inf
        if target is aten.clamp.default:
            lo = args[1] if len(args) > 1 else kwargs.get("min")
            hi = args[2] if len(args) > 2 else kwargs.get("max")
            lo, hi = (-math.inf if lo is None else lo), (math.inf if hi is None else hi)
        elif target is aten.clamp_min.default:
            lo = args[1]
        else:
            hi = args[1]
        if not all(isinstance(v, (int, float)) for v in (lo, hi)):
            raise NotImplementedError(f"native cell: {name} with tensor bounds")
        bounds = (float(lo), float(hi))
        return _Blocks(self.g.node("clamp", (x,), bounds) for x in _blocks_of(args[0], name))

    def structural(self, target, args, metas, name):
        """Column slicing, splitting and concatenation at block boundaries; reshapes that keep
        the shape. Anything else declines."""
        H = self.H
        src = metas[0] if metas else None
        if target is aten.slice.Tensor:
            t, dim, start, end, step = (*args, *(0, None, None, 1)[len(args) - 1 :])
            if step != 1:
                raise NotImplementedError(f"native cell: {name} with step {step}")
            start = 0 if start is None else start
            end = src.shape[-1] if end is None else end
            blocks = _blocks_of(t, name)
            return _Blocks(blocks[k] for k in _column_range(src, dim, H, start, end, name))
        if target in (aten.split.Tensor, aten.split_with_sizes.default):
            t, sizes, dim = (*args, 0)[:3]
            width = src.shape[-1]
            if isinstance(sizes, int):
                sizes = [min(sizes, width - s) for s in range(0, width, sizes)]
            out, start = [], 0
            for size in sizes:
                cols = _column_range(src, dim, H, start, start + size, name)
                out.append(_Blocks(_blocks_of(t, name)[k] for k in cols))
                start += size
            return tuple(out)
        if target is aten.cat.default:
            tensors, dim = (*args, 0)[:2]
            if dim not in (-1, metas[0].dim() - 1 if metas else 1):
                raise NotImplementedError(f"native cell: {name} along dim {dim}")
            return _Blocks(k for t in tensors for k in _blocks_of(t, name))
        reshapes = (aten.view.default, aten.reshape.default, aten._unsafe_view.default)
        if target in reshapes and src is not None and list(args[1]) == list(src.shape):
            return args[0]
        if target is aten._to_copy.default and src is not None:
            dtype = args[1] if len(args) > 1 else None
            if dtype in (None, src.dtype):
                return args[0]
        raise NotImplementedError(
            f"native cell: the step uses {name}, which the native engine "
            "does not compile (element-wise ops only)"
        )


def _trace_once(cell: CellMath, present: tuple[bool, ...], H: int, n: int) -> StepGraph:
    """Trace ``cell.step`` at width H with n rows into per-unit nodes."""
    G, E = cell.gates * H, cell.extra_states
    units = tuple(spec.size if has else 0 for spec, has in zip(cell.params, present, strict=True))
    tracer = _Tracer(H)
    g = tracer.g
    leaves: list[_Blocks] = [_Blocks(g.node("gx", (), (b,)) for b in range(cell.gates))]
    if cell.split_hidden:
        leaves.append(_Blocks(g.node("gh", (), (b,)) for b in range(cell.gates)))
    leaves.append(_Blocks([g.node("h")]))
    leaves += [_Blocks([g.node("xs", (), (k,))]) for k in range(E)]
    leaves += [_Blocks(g.node("p", (), (k, b)) for b in range(u)) for k, u in enumerate(units) if u]

    def fn(*tensors):
        it = iter(tensors)
        gx = next(it)
        gh = next(it) if cell.split_hidden else None
        h_prev = next(it)
        extra = tuple(next(it) for _ in range(E))
        params = tuple(next(it) if u else None for u in units)
        h, extra_new, _ = cell.step(gx, gh, h_prev, extra, params)
        return (h, *extra_new)

    from torch.fx.experimental.proxy_tensor import make_fx  # on first use: tracing machinery

    example = [torch.zeros(n, G)] + ([torch.zeros(n, G)] if cell.split_hidden else [])
    example += [torch.zeros(n, H) for _ in range(1 + E)]
    example += [torch.ones(u * H) for u in units if u]
    try:
        graph = make_fx(fn, tracing_mode="fake")(*example).graph
    except NotImplementedError:
        raise
    except Exception as exc:  # data-dependent control flow, ops fake tensors cannot run, ...
        raise NotImplementedError(f"native cell: tracing {cell.name}'s step failed: {exc}") from exc
    env: dict = {}
    placeholders = iter(leaves)
    outputs = None
    for node in graph.nodes:
        if node.op == "placeholder":
            env[node] = next(placeholders)
        elif node.op == "call_function":
            args = torch.fx.node.map_arg(node.args, env.__getitem__)
            kwargs = torch.fx.node.map_arg(node.kwargs, env.__getitem__)
            metas = [a.meta.get("val") for a in node.all_input_nodes]
            env[node] = tracer.call(node.target, args, kwargs, metas)
        elif node.op == "output":
            outputs = torch.fx.node.map_arg(node.args[0], env.__getitem__)
        else:
            raise NotImplementedError(f"native cell: the step's graph has a {node.op} node")
    h, *extra_new = outputs
    for value, what in ((h, "h"), *((x, f"extra state {k}") for k, x in enumerate(extra_new))):
        if len(_blocks_of(value, what)) != 1:
            raise NotImplementedError(f"native cell: the step's new {what} is not (n, H)")
    return StepGraph(
        nodes=tuple(g.nodes),
        h=h[0],
        extra=tuple(x[0] for x in extra_new),
        gates=cell.gates,
        split=cell.split_hidden,
        param_units=units,
    )


def trace_step(cell: CellMath, present: tuple[bool, ...]) -> StepGraph:
    """The per-unit graph of ``cell.step``, with the cell parameters where ``present`` says.

    Traced at two widths and row counts: a step whose graph changes with them (sizes written
    as numbers, H-dependent structure) raises ``NotImplementedError``, as does any op outside
    the element-wise set (see the module docstring).
    """
    if cell.prepare_input is not None or cell.diagonal_hidden or cell.supports_projection:
        raise NotImplementedError(
            f"native cell: {cell.name} has prepare_input, a diagonal W_hh or a projection"
        )
    first, second = _trace_once(cell, present, 5, 3), _trace_once(cell, present, 7, 2)
    if first != second:
        raise NotImplementedError(
            f"native cell: {cell.name}'s step changes with H or the batch (traced at H = 5, 7)"
        )
    return first
