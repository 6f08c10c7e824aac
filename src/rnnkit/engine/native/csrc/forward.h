// The forward step shared by the training sweep (forward.cpp) and the no-grad stack
// (infer.cpp): per step one product h_{t-1}·W_hhᵀ (products.h; IndRNN's diagonal W_hh is
// applied in its row kernel), then the cell's vectorized row math (cells.h, cells_norm.h), then
// the projection where there is one.
#pragma once

#include <cstring>

#include "cells.h"
#include "cells_norm.h"
#include "products.h"
#include "sweeps.h"
#include "team.h"

namespace rnnkit {

template <typename T>
struct Fwd {
  const Cell& cell;
  int64_t H, P, G, K;  // K: per-row statistics (layer-norm cells)
  T* gx;           // (N, G) input projection in; post-activation gates out (saved)
  Weight<T> W_hh;  // (G, P); for IndRNN .w is the (H,) diagonal
  const T* b_hh;   // (G) GRU only (other cells have it folded into gx), or null
  Weight<T> W_hr;  // (P, H); .w null without projection
  CellParams<T> prm;  // the cell's own parameters (cell.params)
  T *y, *h;        // (N, P) outputs; (B, P) running state
  T *c, *S, *raw;  // (B, H) running c; (N, H) saved c (LSTM family) or gh_n (GRU); (N, H) h_raw
  T *aux, *stats;  // (N, G) LN(h_{t-1}·W_hhᵀ), (N, K) moments: layer-norm cells
  T* scratch;      // (B, G) h_{t-1}·W_hhᵀ where the cell takes it apart (split_hidden)
};

// Row i of the step at row offset off; u: the units to compute (a team member's slice; all by
// default; the layer-norm cells, never run by a team, always do all).
template <typename T>
void step_row(const Fwd<T>& f, int64_t i, int64_t off, T* g, T* h_out, Units u = {}) {
  const int64_t H = f.H, P = f.P, G = f.G, row = off + i;
  switch (f.cell.kernel) {
    case ELMAN:
      if (f.cell.diagonal) return indrnn_fwd_row(H, f.cell.relu, g, f.h + i * P, f.W_hh.w, h_out);
      return rnn_fwd_row(H, f.cell.relu, g, h_out, u);
    case LSTM:
      return lstm_fwd_row(H, g, f.c + i * H, f.S + row * H, h_out, u);
    case PEEPHOLE_LSTM:
      return peephole_fwd_row(H, g, f.prm.p[0], f.c + i * H, f.S + row * H, h_out, u);
    case LN_LSTM:
      return ln_lstm_fwd_row(H, g, f.scratch + i * G, f.prm, f.c + i * H, f.aux + row * G,
                             f.stats + row * f.K, f.S + row * H, h_out);
    case GRU:
      return gru_fwd_row(H, g, f.scratch + i * G, f.b_hh, f.h + i * P, f.S + row * H, h_out, u);
    case LN_GRU:
      return ln_gru_fwd_row(H, g, f.scratch + i * G, f.prm, f.h + i * P, f.aux + row * G,
                            f.stats + row * f.K, h_out);
    case CUSTOM:
      return;  // custom.cpp runs its own rows
  }
}

// Rows [lo, hi) of the step at row offset off (all its rows, or a row team member's share).
template <typename T>
void forward_step(const Fwd<T>& f, int64_t lo, int64_t hi, int64_t off) {
  const int64_t H = f.H, P = f.P, G = f.G, n = hi - lo;
  T* g = f.gx + (off + lo) * G;
  const T* h = f.h + lo * P;
  if (f.cell.split) {
    times_wt(n, h, P, f.W_hh, false, f.scratch + lo * G, G);  // gh = h_{t-1}·W_hhᵀ (n, G)
  } else if (!f.cell.diagonal) {
    times_wt(n, h, P, f.W_hh, true, g, G);  // pre-activations: gx += h_{t-1}·W_hhᵀ (n, G)
  }  // IndRNN: the row kernel adds w ⊙ h_{t-1}
  T* h_out = f.W_hr.w ? f.raw + (off + lo) * H : f.y + (off + lo) * P;  // h_raw (n, H)
  for_rows(n, G, [&](int64_t i) { step_row(f, lo + i, off, g + i * G, h_out + i * H); });
  T* y = f.y + (off + lo) * P;
  if (f.W_hr.w) times_wt(n, h_out, H, f.W_hr, false, y, P);  // h = h_raw·W_hrᵀ
  std::memcpy(f.h + lo * P, y, n * P * sizeof(T));  // the running state's rows
  if (f.cell.has_c) std::memcpy(f.c + lo * H, f.S + (off + lo) * H, n * H * sizeof(T));
}

// One step by team member owning units u: its columns of every gate block of h_{t-1}·W_hhᵀ
// (which read all of h_{t-1}: a barrier before, and one after, before h is overwritten), then
// its units of every row.
template <typename T>
void forward_step_team(const Fwd<T>& f, int64_t n, int64_t off, Units u, SpinBarrier& bar) {
  const int64_t H = f.H, P = f.P, G = f.G, w = u.hi - u.lo;
  T* g = f.gx + off * G;
  const bool split = f.cell.split;
  T* dst = split ? f.scratch : g;  // the GRU takes h_{t-1}·W_hhᵀ apart; the others add it to gx
  bar.wait();  // every unit of h_{t-1} written
  for (int64_t q = 0; w > 0 && q < G / H; ++q) {
    const int64_t col = q * H + u.lo;  // this gate block's columns of the member's units
    member_times_wt(n, f.h, P, f.W_hh, col, w, !split, dst + col, G);
  }
  bar.wait();  // every member has read h_{t-1}
  T* y = f.y + off * P;
  for (int64_t i = 0; w > 0 && i < n; ++i) {
    step_row(f, i, off, g + i * G, y + i * P, u);
    std::memcpy(f.h + i * P + u.lo, y + i * P + u.lo, w * sizeof(T));
    if (f.cell.has_c) std::memcpy(f.c + i * H + u.lo, f.S + (off + i) * H + u.lo, w * sizeof(T));
  }
}

// All steps in processing order, alone or on a team.
template <typename T>
void forward_steps(const Fwd<T>& f, const Steps& steps, Team team) {
  auto rows = [&](int64_t t, int64_t lo, int64_t hi) { forward_step(f, lo, hi, steps.offsets[t]); };
  if (team.nt <= 1 || team.rows) return sweep_rows(steps, team, false, rows);
  auto member = [&](int k, SpinBarrier& bar) {
    const Units u = team_units(f.H, team.nt, k, f.W_hh.lanes());
    for (int64_t s = 0; s < steps.T(); ++s) {
      const int64_t t = steps.at(s);
      forward_step_team(f, steps.sizes[t], steps.offsets[t], u, bar);
    }
  };
  run_team(team.nt, member, [&] { sweep_rows(steps, Team{}, false, rows); });
}
}  // namespace rnnkit
