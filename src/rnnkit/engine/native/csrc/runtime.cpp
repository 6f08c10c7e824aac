// rnnkit's operators for a process without Python: rnnkit::infer_stack (the no-grad stack,
// engine/native/infer_op.py) and the forward sweeps rnnkit::forward_sweep and
// rnnkit::projected_sweep (engine/native/ops.py: what a graph with lengths or a PackedSequence
// holds), each with the schema of its Python operator and a C++ kernel doing what the Python
// one does, for AOTInductor packages run by a C++ program
// (torch::inductor::AOTIModelPackageLoader) or by a Python one that never imports rnnkit. The
// backward sweep is not here: a package runs inference. engine/native/runtime.py builds it into
// a library of its own with the sweeps, never into the Python extension. Loaded into a process
// that imported rnnkit (whose Python package defines the operators) it registers nothing.
//
// cells.inc, written by runtime.py from the Python specs, names each built-in cell with the
// traits the extension's Cell is made from (native/__init__.py: native_cell), the schemas and
// the layer norm's eps; own_cells.inc the cells of one's own compiled in (rnnkit::cell_sweep,
// engine/native/cell_ops.py), whose generated row kernels are linked into the library.
#include <ATen/ATen.h>
#include <torch/library.h>

#include <string_view>
#include <tuple>
#include <vector>

#include "bf16.h"
#include "sweeps.h"

namespace rnnkit {
namespace {

struct BuiltinCell {
  const char* name;
  int64_t kernel, gates;
  bool has_c, split, diagonal, relu;
  std::vector<int64_t> units;   // per step parameter: its size in units of H
  std::vector<bool> optional;   // per step parameter: whether it may be absent (a bias)
  bool fold_b_hh, input_norm;   // b_hh folded into gx; an input layer norm (infer_args)
  bool gates_saved;             // the sweep's act output holds the gates (else it is empty)
};

#include "cells.inc"  // kCells, kInferSchema, kForwardSchema, kProjectedSchema, kCellSchema, kEps

// A cell of one's own compiled in (engine/native/cell_ops.py names it by key): its traits and
// the addresses of its row kernels (fwd f32, fwd f64, bwd f32, bwd f64: custom.cpp's order).
struct OwnCell {
  const char* key;
  int64_t gates, extras;
  bool split;
  std::vector<int64_t> units;  // per cell parameter: its size in units of H, 0 where absent
  std::vector<int64_t> fns;
};

template <typename F>
int64_t address(F* fn) {
  return reinterpret_cast<int64_t>(fn);
}

#include "own_cells.inc"  // the kernels' declarations, kOwnCells

const BuiltinCell& find_cell(std::string_view name) {
  for (const BuiltinCell& c : kCells) {
    if (name == c.name) return c;
  }
  TORCH_CHECK(false, "rnnkit: no built-in cell named '", name, "'");
}

Cell native_cell(const BuiltinCell& b) {
  return make_cell(b.kernel, b.gates, b.has_c, b.split, b.diagonal, b.relu, b.units, b.optional);
}

// The Python operator's kernel (infer_op.py) in C++: weights hold one layer-direction after the
// other, 7 + (step parameters) tensors each, an absent one empty.
std::tuple<at::Tensor, at::Tensor, at::Tensor> infer_stack_op(
    c10::string_view cell_name, const at::Tensor& x, at::TensorList weights,
    c10::SymInt num_directions, const std::optional<at::Tensor>& h0,
    const std::optional<at::Tensor>& c0, bool bf16) {
  const BuiltinCell& b = find_cell(std::string_view(cell_name.data(), cell_name.size()));
  const Cell cell = native_cell(b);
  const size_t per = 7 + b.units.size();
  TORCH_CHECK(!weights.empty() && weights.size() % per == 0, "rnnkit::infer_stack: ",
              weights.size(), " weights for ", b.name, ", expected a multiple of ", per);
  std::vector<LayerArgs> layers;
  for (size_t k = 0; k < weights.size(); k += per) {
    LayerArgs args;
    for (size_t j = k; j < k + per; ++j) {
      args.push_back(weights[j].numel() ? std::optional<at::Tensor>(weights[j]) : std::nullopt);
    }
    layers.push_back(std::move(args));
  }
  const at::Tensor input = x.contiguous();
  const bool at_once = false;  // the directions one after the other, as the Python operator
  std::vector<at::Tensor> out =
      infer_stack(cell, input, std::move(layers), num_directions.expect_int(), h0, c0,
                  input.size(0), b.fold_b_hh, b.input_norm, kEps, at_once, bf16);
  at::Tensor c_n = out.size() > 2 && out[2].defined() ? out[2] : out[0].new_empty({0});
  return {out[0], out[1], c_n};
}

using SweepOutputs = std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor, at::Tensor,
                                at::Tensor, at::Tensor>;

// The steps that have rows (batch_sizes' trailing zeros dropped) and their row count n.
std::vector<int64_t> row_steps(const at::Tensor& batch_sizes, int64_t B, int64_t& n) {
  const at::Tensor sizes = batch_sizes.to(at::kLong).contiguous();
  std::vector<int64_t> steps;
  n = 0;
  for (int64_t t = 0; t < sizes.numel(); ++t) {
    const int64_t rows = sizes.data_ptr<int64_t>()[t];
    if (rows > 0) steps.push_back(rows), n += rows;
  }
  TORCH_CHECK(!steps.empty() && steps[0] == B, "rnnkit sweep: expected ", B,
              " rows at the first step (one per sequence: lengths must be at least 1)");
  return steps;
}

// A per-row output of the n packed rows with zero rows up to N (the padding's rows); an absent
// one empty.
at::Tensor padded_rows(const at::Tensor& t, int64_t N, const at::Tensor& like) {
  if (!t.defined()) return like.new_empty({0});
  if (t.size(0) == N) return t;
  return at::cat({t, at::zeros({N - t.size(0), t.size(1)}, t.options())});
}

// x·W_ihᵀ (+ b_in), (N, G); `bf16`: as precision.py under autocast, a bfloat16 product widened,
// then the bias (ops.py's _project, cell_ops.py's cell_sweep).
at::Tensor projection(const at::Tensor& x, const at::Tensor& W_ih,
                      const std::optional<at::Tensor>& b_in, bool bf16) {
  if (!bf16) return b_in ? at::addmm(*b_in, x, W_ih.t()) : at::mm(x, W_ih.t());
  at::Tensor gx = at::mm(x.to(at::kBFloat16), W_ih.to(at::kBFloat16).t()).to(x.scalar_type());
  return b_in ? gx.add_(*b_in) : gx;
}

// ops.py's _sweep: the forward sweep on act (N, G), a gx of its own that becomes the gates.
SweepOutputs sweep(c10::string_view cell_name, at::Tensor act, const at::Tensor& W_hh,
                   const std::optional<at::Tensor>& b_hh, const std::optional<at::Tensor>& W_hr,
                   const at::Tensor& h0, const std::optional<at::Tensor>& c0,
                   at::TensorList params, const at::Tensor& batch_sizes, bool reverse,
                   bool bf16) {
  const BuiltinCell& b = find_cell(std::string_view(cell_name.data(), cell_name.size()));
  int64_t n = 0;
  const std::vector<int64_t> steps = row_steps(batch_sizes, h0.size(0), n);
  const int64_t N = act.size(0);
  if (n < N) act.narrow(0, n, N - n).zero_();  // the padding's rows
  TensorList taken;  // the step parameters; an absent optional one (passed empty) as None
  for (size_t k = 0; k < b.units.size(); ++k) {
    taken.push_back(params[k].numel() ? std::optional<at::Tensor>(params[k]) : std::nullopt);
  }
  const Bf16ProductsScope products(bf16 && cpu_has_bf16());  // autocast's per-step products
  std::vector<at::Tensor> out = forward_sweep(native_cell(b), act.narrow(0, 0, n), W_hh, b_hh,
                                              W_hr, h0, c0, taken, steps, reverse);
  const at::Tensor& y = out[0];
  const at::Tensor aux_stats = out[5].defined() ? at::cat({out[5], out[6]}, 1) : at::Tensor();
  const at::Tensor c_n = out[2].defined() ? out[2] : y.new_empty({0});
  return {padded_rows(y, N, y), out[1], c_n, b.gates_saved ? act : act.new_empty({0}),
          padded_rows(out[3], N, y), padded_rows(out[4], N, y), padded_rows(aux_stats, N, y)};
}

SweepOutputs forward_sweep_op(c10::string_view cell, const at::Tensor& gx, const at::Tensor& W_hh,
                              const std::optional<at::Tensor>& b_hh,
                              const std::optional<at::Tensor>& W_hr, const at::Tensor& h0,
                              const std::optional<at::Tensor>& c0, at::TensorList params,
                              const at::Tensor& batch_sizes, bool reverse, bool bf16) {
  // an operator may not write its input: the sweep turns a copy into the gates
  return sweep(cell, gx.contiguous().clone(), W_hh, b_hh, W_hr, h0, c0, params, batch_sizes,
               reverse, bf16);
}

SweepOutputs projected_sweep_op(c10::string_view cell, const at::Tensor& x,
                                const at::Tensor& W_ih, const std::optional<at::Tensor>& b_in,
                                const at::Tensor& W_hh, const std::optional<at::Tensor>& b_hh,
                                const std::optional<at::Tensor>& W_hr, const at::Tensor& h0,
                                const std::optional<at::Tensor>& c0, at::TensorList params,
                                const at::Tensor& batch_sizes, bool reverse, bool bf16) {
  return sweep(cell, projection(x, W_ih, b_in, bf16), W_hh, b_hh, W_hr, h0, c0, params,
               batch_sizes, reverse, bf16);
}

using CellOutputs = std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor, at::Tensor,
                               at::Tensor>;

// cell_ops.py's rnnkit::cell_sweep: a cell of one's own over packed rows x (N, I), the input
// projection made here; (y, h_n, the extra states' final values, the pre-activations, the extra
// states per row, gh), an absent one empty.
CellOutputs cell_sweep_op(c10::string_view key, const at::Tensor& x, const at::Tensor& W_ih,
                          const std::optional<at::Tensor>& b_in, const at::Tensor& W_hh,
                          const std::optional<at::Tensor>& b_hh, const at::Tensor& h0,
                          const at::Tensor& xs0, at::TensorList params,
                          const at::Tensor& batch_sizes, bool reverse, bool bf16) {
  const std::string_view name(key.data(), key.size());
  const OwnCell* found = nullptr;
  for (const OwnCell& c : kOwnCells) {
    if (name == c.key) {
      found = &c;
      break;
    }
  }
  TORCH_CHECK(found, "rnnkit::cell_sweep: this library has no cell '", name,
              "': build it with the cell (rnnkit.engine.runtime_library([cell]), or rnnkit "
              "build --runtime --cell MODULE:NAME)");
  int64_t n = 0;
  const std::vector<int64_t> steps = row_steps(batch_sizes, h0.size(0), n);
  const int64_t N = x.size(0);
  const at::Tensor rows = x.narrow(0, 0, n);
  at::Tensor gx = projection(rows, W_ih, b_in, bf16).contiguous();  // becomes the pre-activations
  TensorList taken;  // the cell parameters (an absent one empty: its units are 0)
  for (size_t k = 0; k < found->units.size(); ++k) taken.emplace_back(params[k]);
  std::vector<at::Tensor> out = custom_forward_sweep(
      found->fns, found->gates, found->extras, found->split, gx, W_hh,
      found->split ? b_hh : std::nullopt, h0,
      found->extras ? std::optional<at::Tensor>(xs0) : std::nullopt, taken, found->units, steps,
      reverse);
  const at::Tensor& y = out[0];
  const at::Tensor xs_n = out[2].defined() ? out[2] : h0.new_empty({0});
  return {padded_rows(y, N, y), out[1], xs_n, padded_rows(gx, N, y), padded_rows(out[3], N, y),
          padded_rows(out[4], N, y)};
}

}  // namespace
}  // namespace rnnkit

namespace rnnkit {
namespace {

// The operators' registration, made only where no rnnkit::infer_stack is defined yet: in a
// process that imported rnnkit (whose Python package defines them, with the same C++ loops
// behind) loading this library changes nothing instead of failing to register twice.
const bool kRegistered = [] {
  if (c10::Dispatcher::singleton().findSchema({"rnnkit::infer_stack", ""}).has_value()) {
    return false;
  }
  static torch::Library defs(torch::Library::FRAGMENT, "rnnkit", std::nullopt, __FILE__, __LINE__);
  defs.def(kInferSchema);
  defs.def(kForwardSchema);
  defs.def(kProjectedSchema);
  defs.def(kCellSchema);
  static torch::Library kernels(torch::Library::IMPL, "rnnkit", c10::DispatchKey::CPU, __FILE__,
                                __LINE__);
  kernels.impl("infer_stack", TORCH_FN(infer_stack_op));
  kernels.impl("forward_sweep", TORCH_FN(forward_sweep_op));
  kernels.impl("projected_sweep", TORCH_FN(projected_sweep_op));
  kernels.impl("cell_sweep", TORCH_FN(cell_sweep_op));
  return true;
}();

}  // namespace
}  // namespace rnnkit
