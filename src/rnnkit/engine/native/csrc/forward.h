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

namespace rnnkit {

// Calls of fewer steps run rows·W_hhᵀ as dot products on W_hh (products.h, rows_dot_matrix):
// its transposed copy would cost more than it saves.
constexpr int64_t kTransposeSteps = 4;


template <typename T>
struct Fwd {
  Kind kind;
  int64_t H, P, G, K;  // K: per-row statistics (layer-norm cells)
  T* gx;           // (N, G) input projection in; post-activation gates out (saved)
  Weight<T> W_hh;  // (G, P); for IndRNN .w is the (H,) diagonal
  const T* b_hh;   // (G) GRU only (other cells have it folded into gx), or null
  Weight<T> W_hr;  // (P, H); .w null without projection
  CellParams<T> prm;  // the cell's own parameters (params_of)
  T *y, *h;        // (N, P) outputs; (B, P) running state
  T *c, *S, *raw;  // (B, H) running c; (N, H) saved c (LSTM family) or gh_n (GRU); (N, H) h_raw
  T *aux, *stats;  // (N, G) LN(h_{t-1}·W_hhᵀ), (N, K) moments: layer-norm cells
  T* scratch;      // (B, G) h_{t-1}·W_hhᵀ where the cell takes it apart (split_hidden)
};

template <typename T>
void step_row(const Fwd<T>& f, int64_t i, int64_t off, T* g, T* h_out) {
  const int64_t H = f.H, P = f.P, G = f.G, row = off + i;
  switch (f.kind) {
    case RNN_TANH:
    case RNN_RELU:
      return rnn_fwd_row(H, relu(f.kind), g, h_out);
    case INDRNN_TANH:
    case INDRNN_RELU:
      return indrnn_fwd_row(H, relu(f.kind), g, f.h + i * P, f.W_hh.w, h_out);
    case LSTM:
      return lstm_fwd_row(H, g, f.c + i * H, f.S + row * H, h_out);
    case PEEPHOLE_LSTM:
      return peephole_fwd_row(H, g, f.prm.p[0], f.c + i * H, f.S + row * H, h_out);
    case LN_LSTM:
      return ln_lstm_fwd_row(H, g, f.scratch + i * G, f.prm, f.c + i * H, f.aux + row * G,
                             f.stats + row * f.K, f.S + row * H, h_out);
    case GRU:
      return gru_fwd_row(H, g, f.scratch + i * G, f.b_hh, f.h + i * P, f.S + row * H, h_out);
    case LN_GRU:
      return ln_gru_fwd_row(H, g, f.scratch + i * G, f.prm, f.h + i * P, f.aux + row * G,
                            f.stats + row * f.K, h_out);
  }
}

template <typename T>
void forward_step(const Fwd<T>& f, int64_t n, int64_t off) {
  const int64_t H = f.H, P = f.P, G = f.G;
  T* g = f.gx + off * G;
  if (split_hidden(f.kind)) {
    times_wt(n, f.h, P, f.W_hh, false, f.scratch, G);  // gh = h_{t-1}·W_hhᵀ (n, G)
  } else if (!diagonal(f.kind)) {
    times_wt(n, f.h, P, f.W_hh, true, g, G);  // pre-activations: gx += h_{t-1}·W_hhᵀ (n, G)
  }  // IndRNN: the row kernel adds w ⊙ h_{t-1}
  T* h_out = f.W_hr.w ? f.raw + off * H : f.y + off * P;  // h_raw (n, H)
  for_rows(n, G, [&](int64_t i) { step_row(f, i, off, g + i * G, h_out + i * H); });
  if (f.W_hr.w) times_wt(n, h_out, H, f.W_hr, false, f.y + off * P, P);  // h = h_raw·W_hrᵀ
  std::memcpy(f.h, f.y + off * P, n * P * sizeof(T));  // the running state's rows < n
  if (has_c(f.kind)) std::memcpy(f.c, f.S + off * H, n * H * sizeof(T));
}


// W (rows, cols) row-major into Wt (cols, rows) row-major, in cache-sized tiles.
template <typename T>
void transpose_into(int64_t rows, int64_t cols, const T* W, T* Wt) {
  constexpr int64_t kTile = 32;
  for (int64_t r0 = 0; r0 < rows; r0 += kTile) {
    for (int64_t c0 = 0; c0 < cols; c0 += kTile) {
      const int64_t r1 = std::min(rows, r0 + kTile), c1 = std::min(cols, c0 + kTile);
      for (int64_t r = r0; r < r1; ++r) {
        for (int64_t c = c0; c < c1; ++c) Wt[c * rows + r] = W[r * cols + c];
      }
    }
  }
}

}  // namespace rnnkit
