// The backward time loop: per step (in reverse processing order) the cell's row backward
// (cells.h, cells_norm.h), which turns dL/dh_t into dL/d(gates), then dL/dh_{t-1} = dG_h·W_hh
// (products.h; IndRNN: dG ⊙ w, in its row kernel).
//
// It returns dG (and dG_h) for all N rows; the caller turns them into weight gradients with
// one GEMM each (dW_ih = dGᵀ·X, dW_hh = dG_hᵀ·H_prev, dX = dG·W_ih), and the cell-parameter
// gradients dP summed over the steps of each batch slot (the rows of a step are distinct slots,
// so threads never add into the same row), which the caller sums over the B slots.
#include <ATen/ops/zeros.h>

#include <cstring>

#include "cells.h"
#include "cells_norm.h"
#include "products.h"
#include "sweeps.h"
#include "team.h"

namespace rnnkit {
namespace {

template <typename T>
struct Bwd {
  const Cell& cell;
  int64_t H, P, G, K, KP;  // K: saved statistics per row; KP: parameter-gradient columns
  const T *act, *S, *y;  // saved: gates (N, G); c (LSTM family) or gh_n (GRU) (N, H); y (N, P)
  const T *aux, *stats;  // saved by layer-norm cells: LN(h_{t-1}·W_hhᵀ) (N, G); moments (N, K)
  const T *c0, *dy;      // (B, H) c_0; (N, P) dL/dy
  Weight<T> W_hh, W_hr;  // (G, P) (IndRNN: .w the (H,) diagonal); (P, H), .w null without proj
  CellParams<T> prm;     // the cell's own parameters (cell.params)
  const T* H_prev;       // (N, P) h_{t-1} of every row
  T *dG, *dG_h;          // (N, G) dL/dgx; dL/dgh (split_hidden cells; else the dG buffer);
                         // (B, G) a step's rows by batch slot where `slots`
  T *dH_out, *dh, *dc;   // (N, P) dL/dh before projection; (B, P) dh state; (B, H) dc state
  T* dP;                 // (B, KP) cell-parameter gradients, summed per batch slot
  T* scratch;            // (B, H) dL/dh_raw through the projection
  // low_grads (under autocast, bfloat16 products): dG and dG_h rounded to bfloat16 row by row
  // (N, G) for the weight-gradient GEMMs, and their rows summed per batch slot (B, G) for the
  // biases' gradients; null otherwise
  uint16_t *dG16, *dG_h16;
  float *db, *db_h;
  // the bfloat16 copies are kept and every dG_h·W_hh product reads them (W_hh in bfloat16
  // panels): dG / dG_h are one step's scratch, a row written, rounded and summed at once
  bool slots;

  T* dG_row(int64_t i, int64_t row) const { return dG + (slots ? i : row) * G; }
  T* dG_h_row(int64_t i, int64_t row) const { return dG_h + (slots ? i : row) * G; }
};

// Units [lo, hi) of row `row` (batch slot i) of dG and dG_h: rounded into dG16 / dG_h16 and
// added into the slot's sums (low_grads; every gate's columns of those units).
template <typename T>
void keep_low(const Bwd<T>& b, int64_t i, int64_t row, int64_t lo, int64_t hi) {
  if constexpr (std::is_same_v<T, float>) {
    const int64_t H = b.H, G = b.G;
    const bool whole = lo == 0 && hi == H;  // the row at once, else a span per gate
    const int64_t spans = whole ? 1 : b.cell.gates, width = whole ? G : hi - lo;
    for (int64_t g = 0; g < spans; ++g) {
      const int64_t c0 = whole ? 0 : g * H + lo;
      bf16_round_add(c0, c0 + width, b.dG_row(i, row), b.dG16 + row * G, b.db + i * G);
      if (b.dG_h16 != b.dG16) {
        bf16_round_add(c0, c0 + width, b.dG_h_row(i, row), b.dG_h16 + row * G, b.db_h + i * G);
      }
    }
  }
}

// dL/dh_{t-1} (n, P) [+]= dG_h·W_hh for the n rows from `row` on (batch slots from `i`), into
// dh: from the rows' bfloat16 copies where the sweep keeps them and W_hh has bfloat16 panels,
// else times_w.
template <typename T>
void dh_prev(const Bwd<T>& b, int64_t n, int64_t i, int64_t row, T* dh) {
  if constexpr (std::is_same_v<T, float>) {
    if (b.dG16 && b.W_hh.pb.p) {
      const auto* r32 = reinterpret_cast<const uint32_t*>(b.dG_h16 + row * b.G);
      return bf16_rounded_times_blocks(n, b.G / 2, b.P, r32, b.W_hh.pb, b.cell.direct_dh(), dh,
                                       b.P);
    }
  }
  times_w(n, b.dG_h_row(i, row), b.G, b.W_hh, b.cell.direct_dh(), dh, b.P);
}

uint16_t* low_ptr(const at::Tensor& t) {
  return t.defined() ? reinterpret_cast<uint16_t*>(t.data_ptr<at::BFloat16>()) : nullptr;
}

// One row's backward. dh_in (+ dy, where not null) is dL/dh_t; c_prev is c_{t-1} (LSTM family).
template <typename T>
void step_row_backward(const Bwd<T>& b, int64_t i, int64_t row, const T* dh_in, const T* dy,
                       const T* c_prev, Units u = {}) {
  const int64_t H = b.H, P = b.P, G = b.G;
  T* dh = b.dh + i * P;
  switch (b.cell.kernel) {
    case ELMAN:
      if (b.cell.diagonal) {  // IndRNN: also dL/dh_{t-1} = dpre ⊙ w, in place in dh
        return indrnn_bwd_row(H, b.cell.relu, dh, dy, b.y + row * P, b.W_hh.w, b.dG_row(i, row));
      }
      return rnn_bwd_row(H, b.cell.relu, dh, dy, b.y + row * P, b.dG_row(i, row), u);
    case LSTM:
      return lstm_bwd_row(H, dh_in, dy, b.dc + i * H, b.act + row * G, b.S + row * H, c_prev,
                          b.dG_row(i, row), u);
    case PEEPHOLE_LSTM:
      return peephole_bwd_row(H, dh_in, dy, b.dc + i * H, b.act + row * G, b.S + row * H, c_prev,
                              b.prm.p[0], b.dG_row(i, row), b.dP + i * b.KP, u);
    case LN_LSTM:
      return ln_lstm_bwd_row(H, dh_in, dy, b.dc + i * H, b.act + row * G, b.aux + row * G,
                             b.stats + row * b.K, b.S + row * H, c_prev, b.prm, b.dG_row(i, row),
                             b.dG_h_row(i, row), b.dP + i * b.KP);
    case GRU:
      return gru_bwd_row(H, dh, dy, b.act + row * G, b.S + row * H, b.H_prev + row * P,
                         b.dG_row(i, row), b.dG_h_row(i, row), u);
    case LN_GRU:
      return ln_gru_bwd_row(H, dh, dy, b.act + row * G, b.aux + row * G, b.stats + row * b.K,
                            b.prm, b.H_prev + row * P, b.dG_row(i, row), b.dG_h_row(i, row),
                            b.dP + i * b.KP);
    case CUSTOM:
      return;  // custom.cpp runs its own rows
  }
}

// Rows [lo, hi) of step t (all its rows, or a row team member's share).
template <typename T>
void backward_step(const Bwd<T>& b, const Steps& steps, int64_t t, int64_t lo, int64_t hi) {
  const int64_t H = b.H, P = b.P, G = b.G, n = hi - lo, off = steps.offsets[t] + lo;
  const T* dy = b.dy + off * P;
  const T* dh_in = b.dh + lo * P;  // dL/dh_t = dh (from step t+1) + dy, summed in the row kernels
  if (b.W_hr.w) {
    T* dho = b.dH_out + off * P;
    for (int64_t k = 0; k < n * P; ++k) dho[k] = dh_in[k] + dy[k];  // dL/dh_t (n, P)
    times_w(n, dho, P, b.W_hr, false, b.scratch + lo * H, H);  // dL/dh_raw = dL/dh_t·W_hr
    dh_in = b.scratch + lo * H, dy = nullptr;
  }
  const int64_t ld_in = b.W_hr.w ? H : P;
  for_rows(n, G, [&](int64_t i) {
    step_row_backward(b, lo + i, off + i, dh_in + i * ld_in, dy ? dy + i * P : nullptr,
                      c_prev_of(b, steps, t, lo + i));
    if (b.dG16) keep_low(b, lo + i, off + i, 0, H);
  });
  // dL/dh_{t-1} (n, P) = dG_h·W_hh, added to the GRUs' direct part z·dL/dh_t already in dh
  if (!b.cell.diagonal) dh_prev(b, n, lo, off, b.dh + lo * P);
}

// c_{t-1} of row i at step t: the previous step's c, or c_0 for rows that start here (LSTM
// family; null for the others).
template <typename T>
const T* c_prev_of(const Bwd<T>& b, const Steps& steps, int64_t t, int64_t i) {
  const int64_t p = steps.prev(t), n_p = p < 0 ? 0 : steps.sizes[p];
  if (!b.cell.has_c) return nullptr;
  return i < n_p ? b.S + (steps.offsets[p] + i) * b.H : b.c0 + i * b.H;
}

// One step by the team member owning units u: its units of every row's backward, then (after a
// barrier: the product reads every column of dG_h) its units of dL/dh_{t-1} = dG_h·W_hh. The
// next step's rows read only this member's units of dh: no second barrier.
template <typename T>
void backward_step_team(const Bwd<T>& b, const Steps& steps, int64_t t, Units u,
                        SpinBarrier& bar) {
  const int64_t P = b.P, G = b.G, n = steps.sizes[t], off = steps.offsets[t], w = u.hi - u.lo;
  for (int64_t i = 0; w > 0 && i < n; ++i) {
    step_row_backward(b, i, off + i, b.dh + i * P, b.dy + (off + i) * P,
                      c_prev_of(b, steps, t, i), u);
    if (b.dG16) keep_low(b, i, off + i, u.lo, u.hi);
  }
  bar.wait();  // dG_h of this step: every column written
  if (w <= 0) return;
  if constexpr (std::is_same_v<T, float>) {
    if (b.dG16 && b.W_hh.pb.p) {  // the rows' bfloat16 copies, rounded once for the team
      const auto* r32 = reinterpret_cast<const uint32_t*>(b.dG_h16 + off * G);
      return bf16_rows_times_panels(n, G / 2, w, r32, b.W_hh.pb, u.lo, b.cell.direct_dh(),
                                    b.dh + u.lo, P);
    }
  }
  member_times_w(n, b.dG_h_row(0, off), G, b.W_hh, u.lo, w, b.cell.direct_dh(), b.dh + u.lo, P);
}

}  // namespace

std::vector<at::Tensor> backward_sweep(
    const Cell& cell, std::optional<at::Tensor> act, std::optional<at::Tensor> S,
    std::optional<at::Tensor> aux, std::optional<at::Tensor> stats, at::Tensor y,
    at::Tensor h0, std::optional<at::Tensor> c0, at::Tensor W_hh,
    std::optional<at::Tensor> W_hr, TensorList params, at::Tensor dy, at::Tensor dh_n,
    std::optional<at::Tensor> dc_n, std::vector<int64_t> batch_sizes, bool reverse,
    bool low_grads) {
  TORCH_CHECK(cell.kernel != CUSTOM, "native scan: a compiled cell runs custom_backward_sweep");
  const Steps steps(batch_sizes, reverse);
  const bool proj = W_hr.has_value(), lstm = cell.has_c, gru = cell.kernel == GRU;
  const bool diag = cell.diagonal, norm = cell.layer_norm(), gates = cell.gates > 1;
  TORCH_CHECK(!proj || cell.kernel == LSTM, "native scan: only the LSTM has a projection");
  const int64_t N = steps.N(), B = steps.B(), P = W_hh.size(-1);
  const int64_t H = proj ? W_hr->size(-1) : P, G = cell.gates * H, K = cell.stats();
  const int64_t KP = cell.param_columns(H);
  y = checked(y, "y", {N, P}, y), h0 = checked(h0, "h0", {B, P}, y);  // RNN: y is all it needs
  at::Tensor act_c = gates ? checked(act, "saved gates", {N, G}, y) : at::Tensor();
  at::Tensor S_c = (lstm || gru) ? checked(S, "saved c / gh_n", {N, H}, y) : at::Tensor();
  at::Tensor aux_c = norm ? checked(aux, "saved LN(gh)", {N, G}, y) : at::Tensor();
  at::Tensor stats_c = norm ? checked(stats, "saved moments", {N, K}, y) : at::Tensor();
  at::Tensor c0_c = lstm ? checked(c0, "c0", {B, H}, y) : at::Tensor();
  W_hh = diag ? checked(W_hh, "W_hh", {G}, y) : checked(W_hh, "W_hh", {G, P}, y);
  at::Tensor W_hr_c = proj ? checked(W_hr, "W_hr", {P, H}, y) : at::Tensor();
  const std::vector<at::Tensor> prm = checked_params(cell, params, H, y);
  dy = checked(dy, "dy", {N, P}, y);
  at::Tensor dh = checked(dh_n, "dh_n", {B, P}, y).clone();  // state, becomes dh_0
  at::Tensor dc = lstm ? checked(dc_n, "dc_n", {B, H}, y).clone() : at::Tensor();
  at::Tensor H_prev = at::empty({N, P}, y.options());
  at::Tensor dH_out = proj ? at::empty({N, P}, y.options()) : at::Tensor();
  at::Tensor dP = KP ? at::zeros({B, KP}, y.options()) : at::Tensor();
  at::Tensor scratch = proj ? at::empty({B, H}, y.options()) : at::Tensor();
  // bfloat16 copies of dG / dG_h and their per-slot sums (Bwd::dG16): float32 cells with W_hh
  // products in bfloat16 (G even: whole pairs per row); the layer-norm cells' dG goes back
  // through their norm in float32 first
  at::Tensor dG16, dG_h16, db, db_h;
  if (low_grads && y.scalar_type() == at::kFloat && bf16_products() && cpu_has_bf16() &&
      !diag && !norm && G % 2 == 0) {
    dG16 = at::empty({N, G}, y.options().dtype(at::kBFloat16));
    dG_h16 = cell.split ? at::empty({N, G}, dG16.options()) : dG16;
    db = at::zeros({B, G}, y.options());
    db_h = cell.split ? at::zeros({B, G}, y.options()) : db;
  }
  const bool pack = packs_w_hh(diag, steps.T());  // the panels of W_hh and W_hr for rows·W
  const bool slots = dG16.defined() && pack;      // (bfloat16 panels: bf16_products above)
  at::Tensor dG = at::empty({slots ? B : N, G}, y.options());
  at::Tensor dG_h = cell.split ? at::empty({slots ? B : N, G}, y.options()) : dG;
  const Team team = plan_team(cell.unit_local() && !proj, B, steps.T(), G, P, H, lanes_of(y));
  at::Tensor W_hh_p, W_hr_p;
  AT_DISPATCH_FLOATING_TYPES(y.scalar_type(), "rnnkit_backward_sweep", [&] {
    using T = scalar_t;
    gather_h_prev<T>(steps, P, ptr<T>(y), ptr<T>(h0), ptr<T>(H_prev));
    const Bwd<T> b{cell, H, P, G, K, KP, ptr<T>(act_c), ptr<T>(S_c),
                   ptr<T>(y), ptr<T>(aux_c), ptr<T>(stats_c), ptr<T>(c0_c), ptr<T>(dy),
                   packed_weight<T>(W_hh, false, P, pack, W_hh_p),
                   packed_weight<T>(W_hr_c, false, H, pack, W_hr_p), param_ptrs<T>(prm),
                   ptr<T>(H_prev), ptr<T>(dG), ptr<T>(dG_h), ptr<T>(dH_out), ptr<T>(dh),
                   ptr<T>(dc), ptr<T>(dP), ptr<T>(scratch), low_ptr(dG16), low_ptr(dG_h16),
                   ptr<float>(db), ptr<float>(db_h), slots};
    auto rows = [&](int64_t t, int64_t lo, int64_t hi) { backward_step(b, steps, t, lo, hi); };
    if (team.nt <= 1 || team.rows) return sweep_rows(steps, team, true, rows);
    auto member = [&](int m, SpinBarrier& bar) {
      const Units u = team_units(H, team.nt, m, b.W_hh.lanes());
      for (int64_t k = steps.T() - 1; k >= 0; --k) {
        backward_step_team(b, steps, steps.at(k), u, bar);
      }
    };
    run_team(team.nt, member, [&] { sweep_rows(steps, Team{}, true, rows); });
  });
  if (slots) dG = dG_h = at::Tensor();  // (scratch: the kept copies carry the rows)
  return {dG, dG_h, H_prev, dH_out, dh, dc, dP, dG16, dG_h16, db, db_h};
}

Cell make_cell(int64_t kernel, int64_t gates, bool has_c, bool split, bool diagonal, bool relu,
               std::vector<int64_t> param_units, std::vector<bool> param_optional) {
  TORCH_CHECK(kernel >= ELMAN && kernel <= PEEPHOLE_LSTM, "native cell: unknown kernel ", kernel);
  TORCH_CHECK(param_units.size() == param_optional.size(), "native cell: ",
              param_units.size(), " parameter sizes but ", param_optional.size(), " flags");
  Cell c{static_cast<Kernel>(kernel), gates, has_c, split, diagonal, relu, {}};
  for (size_t k = 0; k < param_units.size(); ++k) c.params.push_back({param_units[k], param_optional[k]});
  // what each hand-written kernel assumes of the layout: (gates, c, split, step parameters)
  struct Fits {
    int64_t gates;
    bool has_c, split;
    size_t params;
  };
  static const Fits fits[] = {{1, false, false, 0}, {4, true, false, 0}, {3, false, true, 0},
                              {4, true, true, 3},   {3, false, true, 2}, {4, true, false, 1}};
  const Fits& f = fits[kernel];
  TORCH_CHECK(gates == f.gates && has_c == f.has_c && split == f.split &&
                  c.params.size() == f.params && (!diagonal || kernel == ELMAN),
              "native cell: kernel ", kernel, " runs cells of ", f.gates, " gates, c ", f.has_c,
              ", split ", f.split, ", ", f.params, " step parameters; got ", gates, ", ", has_c,
              ", ", split, ", ", c.params.size(), (diagonal ? ", diagonal" : ""));
  return c;
}

void use_aten_gemm(bool on) { force_aten_gemm() = on; }

bool set_bf16_products(bool on) {
  bf16_products() = on && cpu_has_bf16();
  return bf16_products();
}

void use_team(bool on) { force_team() = on; }

void set_stream_team_macs(int64_t macs) { stream_team_macs() = macs; }

void set_team_split(int64_t split) {
  TORCH_CHECK(split >= kAuto && split <= kRows, "team split: 0 (auto), 1 (units) or 2 (rows)");
  team_split() = split;
}

int64_t set_team_cap(int64_t cap) {
  TORCH_CHECK(cap >= 0, "team cap: 0 (none) or the most threads a team may have; got ", cap);
  const int64_t previous = team_cap();
  team_cap() = static_cast<int>(std::min<int64_t>(cap, kMaxTeam));
  return previous;
}

void set_team_limits(int64_t min_step, int64_t min_sweep) {
  team_limits().min_step = min_step;
  team_limits().min_sweep = min_sweep;
}

}  // namespace rnnkit
