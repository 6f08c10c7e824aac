// The inference operator for a process without Python: rnnkit::infer_stack, with the schema the
// Python operator has (engine/native/infer_op.py) and this C++ kernel, for AOTInductor packages
// run by a C++ program (torch::inductor::AOTIModelPackageLoader) or by a Python one that never
// imports rnnkit. engine/native/runtime.py builds it into a library of its own with the sweeps,
// never into the Python extension: a process loads one definition of the operator, so this
// library and rnnkit's Python package are never loaded together.
//
// cells.inc, written by runtime.py from the Python specs, names each built-in cell with the
// traits the extension's Cell is made from (native/__init__.py: native_cell), the schema and
// the layer norm's eps.
#include <ATen/core/Tensor.h>
#include <torch/library.h>

#include <string_view>
#include <tuple>
#include <vector>

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
};

#include "cells.inc"  // kCells, kSchema, kEps

const BuiltinCell& find_cell(std::string_view name) {
  for (const BuiltinCell& c : kCells) {
    if (name == c.name) return c;
  }
  TORCH_CHECK(false, "rnnkit::infer_stack: no built-in cell named '", name, "'");
}

// The Python operator's kernel (infer_op.py) in C++: weights hold one layer-direction after the
// other, 7 + (step parameters) tensors each, an absent one empty.
std::tuple<at::Tensor, at::Tensor, at::Tensor> infer_stack_op(
    c10::string_view cell_name, const at::Tensor& x, at::TensorList weights,
    c10::SymInt num_directions, const std::optional<at::Tensor>& h0,
    const std::optional<at::Tensor>& c0, bool bf16) {
  const BuiltinCell& b = find_cell(std::string_view(cell_name.data(), cell_name.size()));
  const Cell cell = make_cell(b.kernel, b.gates, b.has_c, b.split, b.diagonal, b.relu, b.units,
                              b.optional);
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

}  // namespace
}  // namespace rnnkit

TORCH_LIBRARY_FRAGMENT(rnnkit, m) { m.def(rnnkit::kSchema); }

TORCH_LIBRARY_IMPL(rnnkit, CPU, m) { m.impl("infer_stack", TORCH_FN(rnnkit::infer_stack_op)); }
