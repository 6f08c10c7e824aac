// What the forward and backward sweeps share: the cell description, the packed layout, row
// parallelism, argument checks, and the entry points bind.cpp exposes to Python.
//
// The sweeps have the semantics of rnnkit/engine/fused.py (_forward_sweep / _backward_sweep) on
// the packed layout: step t holds batch_sizes[t] rows starting at offsets[t]; rows of sequences
// that have finished (or, in a reverse direction, not yet started) keep their state. Both
// sweeps hold the full (B, .) state in one buffer and update its first n rows in place each
// step, which gives exactly those semantics.
#pragma once

#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>
#include <ATen/core/Tensor.h>
#include <ATen/ops/empty.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <optional>
#include <vector>

#include "blas.h"

namespace rnnkit {

// The row kernels written by hand for speed (cells.h, cells_norm.h). Which kernel runs a cell
// is the one thing the native code is told beyond the cell's traits.
enum Kernel : int64_t {
  ELMAN = 0,  // RNN and IndRNN (diagonal W_hh), tanh or ReLU
  LSTM = 1,
  GRU = 2,
  LN_LSTM = 3,  // LayerNormLSTM (rnnkit/cells/layernorm.py)
  LN_GRU = 4,   // LayerNormGRU
  PEEPHOLE_LSTM = 5,
  CUSTOM = 6,  // a cell compiled from its Python step (custom.cpp); never passed from Python
};

// A cell parameter the recurrent step takes: its size in units of H, and whether it may be
// None (a bias of a layer built with bias=False).
struct ParamShape {
  int64_t units;
  bool optional;
};

// A cell as the Python side states it (rnnkit/engine/native/__init__.py, from the cell's
// CellMath): its traits, stated once there, and the kernel that runs its rows. The cell
// parameters' gradients fill one (B, Σ units·H) buffer dP in `params` order, each row summed
// over the steps of its batch slot; the caller sums the rows.
struct Cell {
  Kernel kernel = ELMAN;
  int64_t gates = 1;      // G / H
  bool has_c = false;     // one extra state c (the LSTM family)
  bool split = false;     // h_{t-1}·W_hhᵀ is kept apart from gx (into a scratch buffer)
  bool diagonal = false;  // W_hh is a (G,) vector applied in the row kernel (IndRNN)
  bool relu = false;      // the Elman kernel's activation (else tanh)
  std::vector<ParamShape> params;  // the cell parameters the step takes, in order

  // what the kernel adds: dL/dh_{t-1} has a direct part the row kernel writes first (GRUs)
  bool direct_dh() const { return kernel == GRU || kernel == LN_GRU; }
  bool layer_norm() const { return kernel == LN_LSTM || kernel == LN_GRU; }
  // per-row statistics the layer-norm kernels save: LN_LSTM rstd of gh, mean and rstd of c;
  // LN_GRU rstd of gh
  int64_t stats() const { return kernel == LN_LSTM ? 3 : kernel == LN_GRU ? 1 : 0; }
  // whether a units team may run it (every unit's math local to the unit)
  bool unit_local() const { return !(layer_norm() || diagonal || kernel == CUSTOM); }
  int64_t param_columns(int64_t H) const {
    int64_t k = 0;
    for (const ParamShape& s : params) k += s.units * H;
    return k;
  }
};

// The description checked against what its kernel assumes of the layout (a wrong description
// would read out of bounds). param_units / param_optional: the step's parameters.
Cell make_cell(int64_t kernel, int64_t gates, bool has_c, bool split, bool diagonal, bool relu,
               std::vector<int64_t> param_units, std::vector<bool> param_optional);

using TensorList = std::vector<std::optional<at::Tensor>>;

template <typename T>
struct CellParams;  // cells.h

// The packed layout and the processing order.
struct Steps {
  std::vector<int64_t> sizes, offsets;
  bool reverse;
  Steps(const std::vector<int64_t>& bs, bool rev) : sizes(bs), offsets(bs.size()), reverse(rev) {
    TORCH_CHECK(!bs.empty() && bs[0] > 0, "expected at least one step with rows");
    int64_t o = 0;
    for (size_t t = 0; t < bs.size(); ++t) {
      TORCH_CHECK(bs[t] > 0 && (t == 0 || bs[t] <= bs[t - 1]),
                  "batch_sizes must be positive and non-increasing");
      offsets[t] = o, o += bs[t];
    }
  }
  int64_t T() const { return static_cast<int64_t>(sizes.size()); }
  int64_t N() const { return offsets.back() + sizes.back(); }
  int64_t B() const { return sizes.front(); }
  int64_t at(int64_t k) const { return reverse ? T() - 1 - k : k; }  // k-th step processed
  int64_t prev(int64_t t) const {  // the step processed just before t, or -1
    int64_t p = reverse ? t + 1 : t - 1;
    return (p < 0 || p >= T()) ? -1 : p;
  }
};

// Run f(i) for the n rows of a step; split over threads only when the step is big enough to
// pay for the fork/join.
template <typename F>
void for_rows(int64_t n, int64_t work_per_row, const F& f) {
  constexpr int64_t kMinParallelWork = int64_t{1} << 15;
  if (kThreadSanitizer || n < 2 || n * work_per_row < kMinParallelWork) {
    for (int64_t i = 0; i < n; ++i) f(i);
    return;
  }
  int64_t grain = std::max<int64_t>(1, kMinParallelWork / (2 * work_per_row));
  at::parallel_for(0, n, grain, [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i) f(i);
  });
}

// t must be defined with shape `shape` and the dtype of `like`; returns it contiguous.
inline at::Tensor checked(const at::Tensor& t, const char* name, at::IntArrayRef shape,
                          const at::Tensor& like) {
  TORCH_CHECK(t.defined(), "native scan: ", name, " is missing");
  TORCH_CHECK(t.sizes() == shape, "native scan: ", name, " expected shape ", shape, ", got ",
              t.sizes());
  TORCH_CHECK(t.scalar_type() == like.scalar_type() && t.device().is_cpu(), "native scan: ",
              name, " expected a CPU ", like.scalar_type(), " tensor, got ", t.toString());
  return t.contiguous();
}

inline at::Tensor checked(const std::optional<at::Tensor>& t, const char* name,
                          at::IntArrayRef shape, const at::Tensor& like) {
  return checked(t.value_or(at::Tensor()), name, shape, like);
}

template <typename T>
T* ptr(const at::Tensor& t) {
  return t.defined() ? t.data_ptr<T>() : nullptr;
}

// The cell parameters of `cell`, checked against its description (contiguous; undefined
// where None).
inline std::vector<at::Tensor> checked_params(const Cell& cell, const TensorList& params,
                                              int64_t H, const at::Tensor& like) {
  TORCH_CHECK(params.size() == cell.params.size(), "native scan: expected ", cell.params.size(),
              " cell parameters, got ", params.size());
  std::vector<at::Tensor> out;
  for (size_t k = 0; k < cell.params.size(); ++k) {
    if (!params[k].has_value() && cell.params[k].optional) {
      out.emplace_back();
      continue;
    }
    out.push_back(checked(params[k], "cell parameter", {cell.params[k].units * H}, like));
  }
  return out;
}

template <typename T>
CellParams<T> param_ptrs(const std::vector<at::Tensor>& params) {
  CellParams<T> c;
  for (size_t k = 0; k < params.size() && k < 3; ++k) c.p[k] = ptr<T>(params[k]);
  return c;
}

// H_prev (N, P): each row's state before its step, from the previous step's output or h_0.
template <typename T>
void gather_h_prev(const Steps& steps, int64_t P, const T* y, const T* h0, T* H_prev) {
  for (int64_t t = 0; t < steps.T(); ++t) {
    const int64_t n = steps.sizes[t], p = steps.prev(t);
    const int64_t m = p < 0 ? 0 : std::min(n, steps.sizes[p]);
    T* dst = H_prev + steps.offsets[t] * P;
    if (m > 0) std::memcpy(dst, y + steps.offsets[p] * P, m * P * sizeof(T));
    std::memcpy(dst + m * P, h0 + m * P, (n - m) * P * sizeof(T));
  }
}

// Returns [y (N, P), h_n (B, P), c_n (B, H) | None, S (N, H) | None, raw (N, H) | None,
//          aux (N, G) | None, stats (N, K) | None]; S holds c per row (LSTM family) or gh_n
// (GRU); aux the layer-norm cells' normalized h_{t-1}·W_hhᵀ, stats their per-row moments.
// gx (N, G) is overwritten with the post-activation gates, which backward_sweep reads.
// W_hh is (G, P), or (H,) for IndRNN; `params` as cell.params.
std::vector<at::Tensor> forward_sweep(const Cell& cell, at::Tensor gx, at::Tensor W_hh,
                                      std::optional<at::Tensor> b_hh,
                                      std::optional<at::Tensor> W_hr, at::Tensor h0,
                                      std::optional<at::Tensor> c0, TensorList params,
                                      std::vector<int64_t> batch_sizes, bool reverse);

// act, S, aux and stats are what forward_sweep saved (act None for RNN / IndRNN, whose
// backward needs only y). Returns [dG (N, G), dG_h (N, G) (the same tensor unless the cell
// splits the hidden projection), H_prev (N, P), dH_out (N, P) | None, dh_0 (B, P),
// dc_0 (B, H) | None, dP (B, Σ sizes·H) | None: cell-parameter gradients per batch slot,
// dG16, dG_h16 (N, G) bfloat16 | None, db, db_h (B, G) | None]. low_grads: with the per-step
// products in bfloat16 (set_bf16_products), also dG and dG_h rounded to bfloat16 (dG_h16 is
// dG16 unless split) and their rows summed per batch slot (db_h is db unless split), for the
// caller's bfloat16 weight-gradient GEMMs and float32 bias gradients; None where the sweep
// declines (float64, IndRNN, the layer-norm cells, odd G, products in float32).
std::vector<at::Tensor> backward_sweep(
    const Cell& cell, std::optional<at::Tensor> act, std::optional<at::Tensor> S,
    std::optional<at::Tensor> aux, std::optional<at::Tensor> stats, at::Tensor y,
    at::Tensor h0, std::optional<at::Tensor> c0, at::Tensor W_hh,
    std::optional<at::Tensor> W_hr, TensorList params, at::Tensor dy, at::Tensor dh_n,
    std::optional<at::Tensor> dc_n, std::vector<int64_t> batch_sizes, bool reverse,
    bool low_grads);

// One layer-direction's arguments for infer_stack: W_ih, W_hh, b_ih, b_hh, W_hr, the input layer
// norm's γ and β (layer-norm cells), then the cell parameters the step takes (cell.params).
using LayerArgs = TensorList;

// The no-grad forward of a stack of layers on a uniform batch (T steps of B rows): x (T, B, I);
// layers[layer·D + direction]; h0 (L·D, B, P) and c0 (L·D, B, H), zeros where None. Returns
// [output (T, B, D·P), h_n (L·D, B, P), c_n (L·D, B, H) | None]. both_directions: the two
// directions of a bidirectional layer run at once, a thread each, instead of one after the
// other with the threads sharing each (the engine's measured plan picks it per shape). bf16:
// under autocast on a CPU with native bfloat16, the training scan's bfloat16 GEMMs (infer.cpp).
std::vector<at::Tensor> infer_stack(const Cell& cell, at::Tensor x, std::vector<LayerArgs> layers,
                                    int64_t num_directions, std::optional<at::Tensor> h0,
                                    std::optional<at::Tensor> c0, int64_t T, bool fold_b_hh,
                                    bool input_norm, double eps, bool both_directions, bool bf16);

// Frees the scratch infer_stack keeps between calls on the calling thread (infer.cpp).
void release_workspace();

// The time loops of a cell compiled from its Python step (custom.cpp, codegen.py): fns the
// addresses of its row kernels (fwd f32, fwd f64, bwd f32, bwd f64); E = extras states side by
// side in xs (B, E·H); units: per cell parameter its size in units of H (0: absent).
// Returns [y (N, H), h_n (B, H), xs_n (B, E·H) | None, S (N, E·H) | None, aux (N, G) | None];
// gx (N, G) becomes the pre-activations (h_{t-1}·W_hhᵀ added unless split), aux gh per row.
std::vector<at::Tensor> custom_forward_sweep(std::vector<int64_t> fns, int64_t gates,
                                             int64_t extras, bool split, at::Tensor gx,
                                             at::Tensor W_hh, std::optional<at::Tensor> b_hh,
                                             at::Tensor h0, std::optional<at::Tensor> xs0,
                                             TensorList params, std::vector<int64_t> units,
                                             std::vector<int64_t> batch_sizes, bool reverse);

// Returns [dG (N, G), dG_h (N, G) (dG unless split), H_prev (N, H), dh_0 (B, H),
//          dxs_0 (B, E·H) | None, dP (B, Σ units·H) | None].
std::vector<at::Tensor> custom_backward_sweep(
    std::vector<int64_t> fns, int64_t gates, int64_t extras, bool split, at::Tensor gx,
    std::optional<at::Tensor> aux, std::optional<at::Tensor> S, at::Tensor y, at::Tensor h0,
    std::optional<at::Tensor> xs0, at::Tensor W_hh, TensorList params,
    std::vector<int64_t> units, at::Tensor dy, at::Tensor dh_n, std::optional<at::Tensor> dxs_n,
    std::vector<int64_t> batch_sizes, bool reverse);

void use_aten_gemm(bool on);

// Under autocast to bfloat16 (set around a training sweep, on its calling thread): the per-step
// products in bfloat16 with float32 sums where the CPU has AVX512-BF16 (bf16.h); returns
// whether they will.
bool set_bf16_products(bool on);

// Tests: share every sweep the team can run among the torch threads, whatever its size.
void use_team(bool on);
// Tests and benchmarks: which team every sweep takes: 0 plan_team's choice, 1 a units team,
// 2 a row team (each where the sweep allows one).
void set_team_split(int64_t split);
// Benchmarks: a streaming call (fewer than 4 steps) gets a units team from this size of W_hh.
void set_stream_team_macs(int64_t macs);
// A team for sweeps whose step product B·G·P >= min_step and T·B·G·P >= min_sweep.
void set_team_limits(int64_t min_step, int64_t min_sweep);
// The most threads a sweep's team may have on the calling thread (0: no cap, 1: no team), the
// measured plan's choice; returns the cap it replaces.
int64_t set_team_cap(int64_t cap);

}  // namespace rnnkit
