"""C++ row kernels for a traced step (stepgraph.py): its forward and its derived backward.

``cell_source(graph)`` writes one translation unit with four ``extern "C"`` functions,
``rnnkit_cell_{fwd,bwd}_{f32,f64}``, each one batch row of one step (the calling convention is
csrc/custom.cpp's ``CellFwd`` / ``CellBwd``). The forward evaluates the nodes per vector of
units; the backward recomputes them from the saved step inputs (the pre-activations, gh, the
previous states: what the autograd fallback of ``define_cell`` saves too) and then runs
reverse-mode differentiation over the nodes, one adjoint per node, written out as code. The
derivative of each op is in ``_ADJOINTS``, in the form torch's autograd uses (sigmoid' from
its output, tanh' = 1 - y², relu' = [y > 0], clamp' = [lo <= x <= hi]).
"""

from __future__ import annotations

import math

from .stepgraph import StepGraph

__all__ = ["cell_source"]

_FORWARD = {
    "add": "{0} + {1}",
    "sub": "{0} - {1}",
    "mul": "{0} * {1}",
    "div": "{0} / {1}",
    "neg": "{0}.neg()",
    "sigmoid": "sigmoid<T>({0})",
    "tanh": "tanh<T>({0})",
    "relu": "at::vec::maximum({0}, V(T(0)))",
    "exp": "{0}.exp()",
    "log": "{0}.log()",
    "sqrt": "{0}.sqrt()",
    "rsqrt": "{0}.rsqrt()",
    "reciprocal": "{0}.reciprocal()",
    "abs": "{0}.abs()",
    "log1p": "{0}.log1p()",
    "expm1": "{0}.expm1()",
    "max": "at::vec::maximum({0}, {1})",
    "min": "at::vec::minimum({0}, {1})",
    "gt": "{0} > {1}",
    "lt": "{0} < {1}",
    "ge": "{0} >= {1}",
    "le": "{0} <= {1}",
    "where": "V::blendv({2}, {1}, {0})",
    "detach": "{0}",
}
_MASKS = ("gt", "lt", "ge", "le")  # comparisons: all-ones lanes where true; no gradient

# d(node)/d(input k) times the adjoint g, per op: ({0}, {1}) are the inputs, {y} the node's value
_ADJOINTS = {
    "add": ("{g}", "{g}"),
    "sub": ("{g}", "{g}.neg()"),
    "mul": ("{g} * {1}", "{g} * {0}"),
    "div": ("{g} / {1}", "({g} * {y} / {1}).neg()"),  # d(a/b)/db = -(a/b)/b
    "neg": ("{g}.neg()",),
    "sigmoid": ("{g} * {y} * (V(T(1)) - {y})",),
    "tanh": ("{g} * (V(T(1)) - {y} * {y})",),
    "relu": ("V::blendv(V(T(0)), {g}, {y} > V(T(0)))",),
    "exp": ("{g} * {y}",),
    "log": ("{g} / {0}",),
    "sqrt": ("{g} / (V(T(2)) * {y})",),
    "rsqrt": ("(V(T(0.5)) * {g} * {y} * {y} * {y}).neg()",),
    "reciprocal": ("({g} * {y} * {y}).neg()",),
    "pow": ("{g} * V(T({e})) * {0}.pow(V(T({e1})))",),
    "clamp": ("V::blendv(V(T(0)), {g}, ({0} >= V(T({lo}))) & ({0} <= V(T({hi}))))",),
    "abs": ("V::blendv(V(T(0)), {g}, {0} > V(T(0))) - V::blendv(V(T(0)), {g}, {0} < V(T(0)))",),
    "log1p": ("{g} / (V(T(1)) + {0})",),
    "expm1": ("{g} * ({y} + V(T(1)))",),
    # torch: the larger input takes the gradient, ties split it in halves
    "max": (
        "V::blendv(V::blendv(V(T(0)), {g}, {0} > {1}), {g} * V(T(0.5)), {0} == {1})",
        "V::blendv(V::blendv(V(T(0)), {g}, {1} > {0}), {g} * V(T(0.5)), {0} == {1})",
    ),
    "min": (
        "V::blendv(V::blendv(V(T(0)), {g}, {0} < {1}), {g} * V(T(0.5)), {0} == {1})",
        "V::blendv(V::blendv(V(T(0)), {g}, {1} < {0}), {g} * V(T(0.5)), {0} == {1})",
    ),
    "where": (None, "V::blendv(V(T(0)), {g}, {0})", "V::blendv({g}, V(T(0)), {0})"),
    "leaky_relu": ("V::blendv({g} * V(T({slope})), {g}, {0} > V(T(0)))",),
    "softplus": (  # σ(βx), or 1 above the threshold (where softplus is x)
        "V::blendv({g} * sigmoid<T>(V(T({beta})) * {0}), {g}, V(T({beta})) * {0} > V(T({thr})))",
    ),
}


def _number(value: float) -> str:
    """A C++ literal for value (exact: repr round-trips a double)."""
    if math.isinf(value):
        return ("-" if value < 0 else "") + "std::numeric_limits<double>::infinity()"
    if math.isnan(value):
        return "std::numeric_limits<double>::quiet_NaN()"
    return repr(float(value))


def _leaf(op: str, attrs: tuple[float, ...]) -> str:
    """The load of a leaf node at units [j, j + c)."""
    if op == "const":
        return f"V(T({_number(attrs[0])}))"
    if op == "h":
        return "ld(h_prev + j, c)"
    if op in ("gx", "gh"):
        return f"ld({op} + {int(attrs[0])} * H + j, c)"
    if op == "xs":
        return f"ld(xs_prev + {int(attrs[0])} * H + j, c)"
    k, b = int(attrs[0]), int(attrs[1])
    return f"ld(prm[{k}] + {b} * H + j, c)"  # parameter k, block b


def _value(graph: StepGraph, k: int) -> str:
    op, inputs, attrs = graph.nodes[k]
    if op in ("const", "h", "gx", "gh", "xs", "p"):
        return _leaf(op, attrs)
    args = [f"v{i}" for i in inputs]
    if op == "pow":
        return f"{args[0]}.pow(V(T({_number(attrs[0])})))"
    if op == "clamp":
        lo, hi = (f"V(T({_number(a)}))" for a in attrs)
        return f"at::vec::minimum(at::vec::maximum({args[0]}, {lo}), {hi})"
    if op == "leaky_relu":
        return f"V::blendv({args[0]} * V(T({_number(attrs[0])})), {args[0]}, {args[0]} > V(T(0)))"
    if op == "softplus":  # log(1 + exp(βx)) / β, x itself above the threshold (as torch)
        beta, thr = (f"V(T({_number(a)}))" for a in attrs)
        bx = f"({beta} * {args[0]})"
        return f"V::blendv({bx}.exp().log1p() / {beta}, {args[0]}, {bx} > {thr})"
    return _FORWARD[op].format(*args)


def _forward_lines(graph: StepGraph, needed: set[int]) -> list[str]:
    return [f"const V v{k} = {_value(graph, k)};" for k in range(len(graph.nodes)) if k in needed]


def _ancestors(graph: StepGraph, roots) -> set[int]:
    seen: set[int] = set()
    stack = list(roots)
    while stack:
        k = stack.pop()
        if k not in seen:
            seen.add(k)
            stack.extend(graph.nodes[k][1])
    return seen


def _differentiable(graph: StepGraph) -> set[int]:
    """Nodes whose value depends on an input (not only on constants), through no detach."""
    out: set[int] = set()
    for k, (op, inputs, _) in enumerate(graph.nodes):
        passes = op != "detach" and op not in _MASKS  # masks and detach carry no gradient
        if op in ("h", "gx", "gh", "xs", "p") or (passes and any(i in out for i in inputs)):
            out.add(k)
    return out


def _backward_lines(graph: StepGraph) -> tuple[list[str], dict[int, str]]:
    """The recomputed forward and the adjoint code; returns the lines and each leaf's adjoint."""
    roots = (graph.h, *graph.extra)
    live = _ancestors(graph, roots) & _differentiable(graph)
    lines = _forward_lines(graph, _ancestors(graph, roots))
    seeds = {graph.h: "ld(dh + j, c) + ld(dy + j, c)"}  # dL/dh_t: next step + output
    for k, node in enumerate(graph.extra):
        term = f"ld(dxs + {k} * H + j, c)"  # dL/d(extra state k at t)
        seeds[node] = f"{seeds[node]} + {term}" if node in seeds else term
    adjoint: dict[int, str] = {}

    def add(k: int, term: str) -> None:
        if k not in live:
            return
        if k in adjoint:
            lines.append(f"a{k} = a{k} + {term};")
        else:
            lines.append(f"V a{k} = {term};")
            adjoint[k] = f"a{k}"

    for k, term in seeds.items():
        add(k, term)
    for k in sorted(live, reverse=True):
        op, inputs, attrs = graph.nodes[k]
        if k not in adjoint or op in ("h", "gx", "gh", "xs", "p", "detach"):
            continue
        fmt = dict(g=f"a{k}", y=f"v{k}")
        if op == "pow":
            fmt.update(e=_number(attrs[0]), e1=_number(attrs[0] - 1))
        if op == "clamp":
            fmt.update(lo=_number(attrs[0]), hi=_number(attrs[1]))
        if op == "leaky_relu":
            fmt.update(slope=_number(attrs[0]))
        if op == "softplus":
            fmt.update(beta=_number(attrs[0]), thr=_number(attrs[1]))
        for i, rule in zip(inputs, _ADJOINTS[op], strict=True):
            if rule is not None:  # None: no gradient to that input (where's condition)
                add(i, rule.format(*(f"v{a}" for a in inputs), **fmt))
    leaves = {k: name for k, name in adjoint.items() if graph.nodes[k][0] != "const"}
    return lines, leaves


def _stores(graph: StepGraph, adjoint: dict[int, str]) -> list[str]:
    """The backward's outputs: dgx, dgh, the direct dL/dh_{t-1}, dL/d(extra_{t-1}), dP."""
    zero = "V(T(0))"
    index = {node[:1] + node[2:]: k for k, node in enumerate(graph.nodes) if not node[1]}

    def grad(op: str, *attrs: float) -> str:
        k = index.get((op, tuple(float(a) for a in attrs)))
        return adjoint.get(k, zero) if k is not None else zero

    lines = []
    for b in range(graph.gates):
        lines.append(f"({grad('gx', b)}).store(dgx + {b} * H + j, c);")
        if graph.split:
            lines.append(f"({grad('gh', b)}).store(dgh + {b} * H + j, c);")
    for k in range(len(graph.extra)):
        lines.append(f"({grad('xs', k)}).store(dxs + {k} * H + j, c);")
    lines.append(f"({grad('h')}).store(dh + j, c);")  # after its load above: same units
    column = 0
    for k, units in enumerate(graph.param_units):
        for b in range(units):
            lines.append(f"accumulate(dP + {column + b} * H + j, {grad('p', k, b)}, c);")
        column += units
    return lines


def cell_source(graph: StepGraph, name: str, symbol: str = "rnnkit_cell") -> str:
    """The C++ translation unit of the cell's row kernels (see the module docstring), its four
    functions named ``{symbol}_{fwd,bwd}_{f32,f64}`` (the runtime library links several cells
    into one library, each under a symbol of its own)."""
    fwd = _forward_lines(graph, _ancestors(graph, (graph.h, *graph.extra)))
    fwd.append(f"v{graph.h}.store(h_out + j, c);")
    fwd += [f"v{node}.store(xs_out + {k} * H + j, c);" for k, node in enumerate(graph.extra)]
    bwd, adjoint = _backward_lines(graph)
    bwd += _stores(graph, adjoint)
    indent = "\n" + " " * 4
    return f"""// Generated by rnnkit (engine/native/codegen.py) for the cell {name!r}; do not edit.
#include <limits>

#include "cells.h"

namespace {{
using namespace rnnkit;

template <typename T>
void fwd(int64_t H, const T* gx, const T* gh, const T* h_prev, const T* xs_prev,
         const T* const* prm, T* h_out, T* xs_out) {{
  using V = Vec<T>;
  vec_loop<T>(H, [&](int64_t j, int64_t c) {{
    {indent.join(fwd)}
  }});
}}

template <typename T>
void bwd(int64_t H, T* dh, const T* dy, T* dxs, const T* gx, const T* gh, const T* h_prev,
         const T* xs_prev, const T* const* prm, T* dgx, T* dgh, T* dP) {{
  using V = Vec<T>;
  vec_loop<T>(H, [&](int64_t j, int64_t c) {{
    {indent.join(bwd)}
  }});
}}
}}  // namespace

#define RNNKIT_CELL(T, S)                                                                  \\
  extern "C" void {symbol}_fwd_##S(int64_t H, const T* gx, const T* gh, const T* h,    \\
                                      const T* xs, const T* const* prm, T* h_out,         \\
                                      T* xs_out) {{                                         \\
    fwd<T>(H, gx, gh, h, xs, prm, h_out, xs_out);                                         \\
  }}                                                                                        \\
  extern "C" void {symbol}_bwd_##S(int64_t H, T* dh, const T* dy, T* dxs, const T* gx, \\
                                      const T* gh, const T* h, const T* xs,               \\
                                      const T* const* prm, T* dgx, T* dgh, T* dP) {{        \\
    bwd<T>(H, dh, dy, dxs, gx, gh, h, xs, prm, dgx, dgh, dP);                             \\
  }}
RNNKIT_CELL(float, f32)
RNNKIT_CELL(double, f64)
"""
