// The forward time loop: per step one product h_{t-1}·W_hhᵀ (products.h; IndRNN's diagonal
// W_hh is applied in its row kernel), then the cell's vectorized row math (cells.h,
// cells_norm.h), then the projection where there is one.
//
// The input projection gx = X·W_ihᵀ + b over all N rows (and its layer norm, for those cells)
// is done by the caller in one GEMM. Where the cell does not take h_{t-1}·W_hhᵀ apart, gx
// already holds b_hh too and the step's product is added into it.
#include <cstring>

#include "cells.h"
#include "cells_norm.h"
#include "products.h"
#include "sweeps.h"

namespace rnnkit {
namespace {

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

}  // namespace

std::vector<at::Tensor> forward_sweep(int64_t kind, at::Tensor gx, at::Tensor W_hh,
                                      std::optional<at::Tensor> b_hh,
                                      std::optional<at::Tensor> W_hr, at::Tensor h0,
                                      std::optional<at::Tensor> c0, TensorList params,
                                      std::vector<int64_t> batch_sizes, bool reverse) {
  TORCH_CHECK(kind >= RNN_TANH && kind <= INDRNN_RELU, "native scan: unknown cell kind ", kind);
  const Steps steps(batch_sizes, reverse);
  const bool proj = W_hr.has_value(), lstm = has_c(kind), gru = kind == GRU;
  const bool diag = diagonal(kind), split = split_hidden(kind), norm = layer_norm(kind);
  TORCH_CHECK(!proj || kind == LSTM, "native scan: only the LSTM has a projection");
  const int64_t N = steps.N(), B = steps.B(), P = W_hh.size(-1);
  const int64_t H = proj ? W_hr->size(-1) : P, G = gates_of(kind) * H, K = stats_of(kind);
  TORCH_CHECK(gx.is_contiguous(), "native scan: gx must be contiguous");
  gx = checked(gx, "gx", {N, G}, gx);
  W_hh = diag ? checked(W_hh, "W_hh", {G}, gx) : checked(W_hh, "W_hh", {G, P}, gx);
  at::Tensor W_hr_c = proj ? checked(W_hr, "W_hr", {P, H}, gx) : at::Tensor();
  at::Tensor b_hh_c = gru && b_hh ? checked(b_hh, "b_hh", {G}, gx) : at::Tensor();
  const std::vector<at::Tensor> prm = checked_params(kind, params, H, gx);
  at::Tensor h = checked(h0, "h0", {B, P}, gx).clone();  // running state, becomes h_n
  at::Tensor c = lstm ? checked(c0, "c0", {B, H}, gx).clone() : at::Tensor();
  at::Tensor y = at::empty({N, P}, gx.options());
  at::Tensor S = (lstm || gru) ? at::empty({N, H}, gx.options()) : at::Tensor();
  at::Tensor raw = proj ? at::empty({N, H}, gx.options()) : at::Tensor();
  at::Tensor aux = norm ? at::empty({N, G}, gx.options()) : at::Tensor();
  at::Tensor stats = norm ? at::empty({N, K}, gx.options()) : at::Tensor();
  at::Tensor scratch = split ? at::empty({B, G}, gx.options()) : at::Tensor();
  // the products.h kernels compute rows·Wᵀ from a transposed copy (BLAS takes W as it is)
  const bool own = !diag && batch_sizes.back() * G * P < kBlasMacs;
  at::Tensor W_hh_t = own ? W_hh.t().contiguous() : at::Tensor();
  at::Tensor W_hr_t = own && proj ? W_hr_c.t().contiguous() : at::Tensor();
  AT_DISPATCH_FLOATING_TYPES(gx.scalar_type(), "rnnkit_forward_sweep", [&] {
    using T = scalar_t;
    const Fwd<T> f{static_cast<Kind>(kind), H, P, G, K, ptr<T>(gx),
                   {ptr<T>(W_hh), G, P, ptr<T>(W_hh_t)}, ptr<T>(b_hh_c),
                   {ptr<T>(W_hr_c), P, H, ptr<T>(W_hr_t)}, param_ptrs<T>(prm), ptr<T>(y),
                   ptr<T>(h), ptr<T>(c), ptr<T>(S), ptr<T>(raw), ptr<T>(aux), ptr<T>(stats),
                   ptr<T>(scratch)};
    for (int64_t k = 0; k < steps.T(); ++k) {
      const int64_t t = steps.at(k);
      forward_step(f, steps.sizes[t], steps.offsets[t]);
    }
  });
  return {y, h, c, S, raw, aux, stats};
}

}  // namespace rnnkit
