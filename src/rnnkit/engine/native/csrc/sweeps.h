// What the forward and backward sweeps share: the cell kinds, the packed layout, row
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

namespace rnnkit {

enum Kind : int64_t {
  RNN_TANH = 0,
  RNN_RELU = 1,
  LSTM = 2,
  GRU = 3,
  LN_LSTM = 4,  // LayerNormLSTM (rnnkit/cells/layernorm.py)
  LN_GRU = 5,   // LayerNormGRU
  PEEPHOLE_LSTM = 6,
  INDRNN_TANH = 7,  // the Elman step with a diagonal (H,) W_hh
  INDRNN_RELU = 8,
  CUSTOM = 9,  // a cell compiled from its Python step (custom.cpp); never passed from Python
};

inline int64_t gates_of(int64_t kind) {
  switch (kind) {
    case LSTM:
    case LN_LSTM:
    case PEEPHOLE_LSTM:
      return 4;
    case GRU:
    case LN_GRU:
      return 3;
    default:
      return 1;
  }
}
inline bool has_c(int64_t kind) { return kind == LSTM || kind == LN_LSTM || kind == PEEPHOLE_LSTM; }
// h_{t-1}·W_hhᵀ goes to a scratch buffer (the step needs it apart) instead of into gx
inline bool split_hidden(int64_t kind) { return kind == GRU || kind == LN_GRU || kind == LN_LSTM; }
inline bool gru_like(int64_t kind) { return kind == GRU || kind == LN_GRU; }
inline bool diagonal(int64_t kind) { return kind == INDRNN_TANH || kind == INDRNN_RELU; }
inline bool relu(int64_t kind) { return kind == RNN_RELU || kind == INDRNN_RELU; }
inline bool layer_norm(int64_t kind) { return kind == LN_LSTM || kind == LN_GRU; }

// The cell parameters the recurrent step takes (the Python side passes them in this order), as
// (size in units of H, may be None):  LN_LSTM (γ_hh 4H, γ_c H, β_c H?), LN_GRU (γ_hh 3H,
// β_hh 3H?), PEEPHOLE_LSTM (p 3H). Their gradients fill one (B, Σ sizes·H) buffer dP in the
// same order, each row summed over the steps of its batch slot; the caller sums the rows.
struct ParamShape {
  int64_t units;
  bool optional;
};
inline std::vector<ParamShape> params_of(int64_t kind) {
  switch (kind) {
    case LN_LSTM: return {{4, false}, {1, false}, {1, true}};
    case LN_GRU: return {{3, false}, {3, true}};
    case PEEPHOLE_LSTM: return {{3, false}};
    default: return {};
  }
}
// Per-row statistics saved by the layer-norm cells: LN_LSTM (rstd of gh, mean and rstd of c),
// LN_GRU (rstd of gh).
inline int64_t stats_of(int64_t kind) { return kind == LN_LSTM ? 3 : kind == LN_GRU ? 1 : 0; }

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
  if (n < 2 || n * work_per_row < kMinParallelWork) {
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

// The cell parameters of `kind`, checked against params_of (contiguous; undefined where None).
inline std::vector<at::Tensor> checked_params(int64_t kind, const TensorList& params, int64_t H,
                                              const at::Tensor& like) {
  const std::vector<ParamShape> specs = params_of(kind);
  TORCH_CHECK(params.size() == specs.size(), "native scan: expected ", specs.size(),
              " cell parameters, got ", params.size());
  std::vector<at::Tensor> out;
  for (size_t k = 0; k < specs.size(); ++k) {
    if (!params[k].has_value() && specs[k].optional) {
      out.emplace_back();
      continue;
    }
    out.push_back(checked(params[k], "cell parameter", {specs[k].units * H}, like));
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
// W_hh is (G, P), or (H,) for IndRNN; `params` as params_of(kind).
std::vector<at::Tensor> forward_sweep(int64_t kind, at::Tensor gx, at::Tensor W_hh,
                                      std::optional<at::Tensor> b_hh,
                                      std::optional<at::Tensor> W_hr, at::Tensor h0,
                                      std::optional<at::Tensor> c0, TensorList params,
                                      std::vector<int64_t> batch_sizes, bool reverse);

// act, S, aux and stats are what forward_sweep saved (act None for RNN / IndRNN, whose
// backward needs only y). Returns [dG (N, G), dG_h (N, G) (the same tensor unless the cell
// splits the hidden projection), H_prev (N, P), dH_out (N, P) | None, dh_0 (B, P),
// dc_0 (B, H) | None, dP (B, Σ sizes·H) | None: cell-parameter gradients per batch slot].
std::vector<at::Tensor> backward_sweep(
    int64_t kind, std::optional<at::Tensor> act, std::optional<at::Tensor> S,
    std::optional<at::Tensor> aux, std::optional<at::Tensor> stats, at::Tensor y,
    at::Tensor h0, std::optional<at::Tensor> c0, at::Tensor W_hh,
    std::optional<at::Tensor> W_hr, TensorList params, at::Tensor dy, at::Tensor dh_n,
    std::optional<at::Tensor> dc_n, std::vector<int64_t> batch_sizes, bool reverse);

// One layer-direction's arguments for infer_stack: W_ih, W_hh, b_ih, b_hh, W_hr, the input layer
// norm's γ and β (layer-norm cells), then the cell parameters the step takes (params_of).
using LayerArgs = TensorList;

// The no-grad forward of a stack of layers on a uniform batch (T steps of B rows): x (T, B, I);
// layers[layer·D + direction]; h0 (L·D, B, P) and c0 (L·D, B, H), zeros where None. Returns
// [output (T, B, D·P), h_n (L·D, B, P), c_n (L·D, B, H) | None].
std::vector<at::Tensor> infer_stack(int64_t kind, at::Tensor x, std::vector<LayerArgs> layers,
                                    int64_t num_directions, std::optional<at::Tensor> h0,
                                    std::optional<at::Tensor> c0, int64_t T, bool fold_b_hh,
                                    bool input_norm, double eps);

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

// Tests: share every sweep the team can run among the torch threads, whatever its size.
void use_team(bool on);
// Tests and benchmarks: which team every sweep takes: 0 plan_team's choice, 1 a units team,
// 2 a row team (each where the sweep allows one).
void set_team_split(int64_t split);
// Benchmarks: a streaming call (fewer than 4 steps) gets a units team from this size of W_hh.
void set_stream_team_macs(int64_t macs);
// A team for sweeps whose step product B·G·P >= min_step and T·B·G·P >= min_sweep.
void set_team_limits(int64_t min_step, int64_t min_sweep);

}  // namespace rnnkit
