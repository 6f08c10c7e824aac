// The backward time loop: per step (in reverse processing order) the cell's row backward
// (cells.h), which turns dL/dh_t into dL/d(gates), then dL/dh_{t-1} = dG_h·W_hh (products.h).
//
// It returns dG (and dG_h) for all N rows; the caller turns them into weight gradients with
// one GEMM each (dW_ih = dGᵀ·X, dW_hh = dG_hᵀ·H_prev, dX = dG·W_ih).
#include <cstring>

#include "cells.h"
#include "products.h"
#include "sweeps.h"

namespace rnnkit {
namespace {

template <typename T>
struct Bwd {
  Kind kind;
  int64_t H, P, G;
  const T *act, *S, *y;  // saved: gates (N, G); c (LSTM) or gh_n (GRU) (N, H); outputs (N, P)
  const T *c0, *dy;      // (B, H) c_0; (N, P) dL/dy
  Weight<T> W_hh, W_hr;  // (G, P); (P, H), .w null without projection
  const T* H_prev;       // (N, P) h_{t-1} of every row
  T *dG, *dG_h;          // (N, G) dL/dgx; dL/dgh (GRU; else the same buffer as dG)
  T *dH_out, *dh, *dc;   // (N, P) dL/dh before projection; (B, P) dh state; (B, H) dc state
  T* scratch;            // (B, H) dL/dh_raw through the projection
};

template <typename T>
void backward_step(const Bwd<T>& b, const Steps& steps, int64_t t) {
  const int64_t H = b.H, P = b.P, G = b.G, n = steps.sizes[t], off = steps.offsets[t];
  const int64_t p = steps.prev(t), n_p = p < 0 ? 0 : steps.sizes[p];
  const T* dy = b.dy + off * P;
  const T* dh_in = b.dh;  // dL/dh_t = dh (from step t+1) + dy, summed in the row kernels
  if (b.W_hr.w) {
    T* dho = b.dH_out + off * P;
    for (int64_t k = 0; k < n * P; ++k) dho[k] = b.dh[k] + dy[k];  // dL/dh_t (n, P)
    times_w(n, dho, P, b.W_hr, false, b.scratch, H);  // dL/dh_raw = dL/dh_t·W_hr (n, H)
    dh_in = b.scratch, dy = nullptr;
  }
  const int64_t ld_in = b.W_hr.w ? H : P;
  for_rows(n, G, [&](int64_t i) {
    const int64_t row = off + i;
    switch (b.kind) {
      case RNN_TANH:
      case RNN_RELU:
        rnn_bwd_row(H, b.kind == RNN_RELU, b.dh + i * P, dy + i * P, b.y + row * P,
                    b.dG + row * G);
        break;
      case LSTM: {  // c_{t-1}: the previous step's c, or c_0 for rows that start here
        const T* c_prev = i < n_p ? b.S + (steps.offsets[p] + i) * H : b.c0 + i * H;
        lstm_bwd_row(H, dh_in + i * ld_in, dy ? dy + i * P : nullptr, b.dc + i * H,
                     b.act + row * G, b.S + row * H, c_prev, b.dG + row * G);
        break;
      }
      case GRU:
        gru_bwd_row(H, b.dh + i * P, dy + i * P, b.act + row * G, b.S + row * H,
                    b.H_prev + row * P, b.dG + row * G, b.dG_h + row * G);
        break;
    }
  });
  // dL/dh_{t-1} (n, P) = dG_h·W_hh, added to the GRU's direct part z·dL/dh_t already in dh
  times_w(n, b.dG_h + off * G, G, b.W_hh, b.kind == GRU, b.dh, P);
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

}  // namespace

std::vector<at::Tensor> backward_sweep(
    int64_t kind, std::optional<at::Tensor> act, std::optional<at::Tensor> S,
    at::Tensor y, at::Tensor h0, std::optional<at::Tensor> c0, at::Tensor W_hh,
    std::optional<at::Tensor> W_hr, at::Tensor dy, at::Tensor dh_n,
    std::optional<at::Tensor> dc_n, std::vector<int64_t> batch_sizes, bool reverse) {
  const Steps steps(batch_sizes, reverse);
  const bool proj = W_hr.has_value(), lstm = kind == LSTM, gru = kind == GRU;
  const int64_t N = steps.N(), B = steps.B(), P = W_hh.size(-1);
  const int64_t H = proj ? W_hr->size(-1) : P, G = gates_of(kind) * H;
  y = checked(y, "y", {N, P}, y), h0 = checked(h0, "h0", {B, P}, y);  // RNN: y is all it needs
  at::Tensor act_c = (lstm || gru) ? checked(act, "saved gates", {N, G}, y) : at::Tensor();
  at::Tensor S_c = (lstm || gru) ? checked(S, "saved c / gh_n", {N, H}, y) : at::Tensor();
  at::Tensor c0_c = lstm ? checked(c0, "c0", {B, H}, y) : at::Tensor();
  W_hh = checked(W_hh, "W_hh", {G, P}, y);
  at::Tensor W_hr_c = proj ? checked(W_hr, "W_hr", {P, H}, y) : at::Tensor();
  dy = checked(dy, "dy", {N, P}, y);
  at::Tensor dh = checked(dh_n, "dh_n", {B, P}, y).clone();  // state, becomes dh_0
  at::Tensor dc = lstm ? checked(dc_n, "dc_n", {B, H}, y).clone() : at::Tensor();
  at::Tensor dG = at::empty({N, G}, y.options());
  at::Tensor dG_h = gru ? at::empty({N, G}, y.options()) : dG;
  at::Tensor H_prev = at::empty({N, P}, y.options());
  at::Tensor dH_out = proj ? at::empty({N, P}, y.options()) : at::Tensor();
  at::Tensor scratch = proj ? at::empty({B, H}, y.options()) : at::Tensor();
  AT_DISPATCH_FLOATING_TYPES(y.scalar_type(), "rnnkit_backward_sweep", [&] {
    using T = scalar_t;
    gather_h_prev<T>(steps, P, ptr<T>(y), ptr<T>(h0), ptr<T>(H_prev));
    const Bwd<T> b{static_cast<Kind>(kind), H, P, G, ptr<T>(act_c), ptr<T>(S_c), ptr<T>(y),
                   ptr<T>(c0_c), ptr<T>(dy), {ptr<T>(W_hh), G, P}, {ptr<T>(W_hr_c), P, H},
                   ptr<T>(H_prev), ptr<T>(dG), ptr<T>(dG_h), ptr<T>(dH_out), ptr<T>(dh),
                   ptr<T>(dc), ptr<T>(scratch)};
    for (int64_t k = steps.T() - 1; k >= 0; --k) backward_step(b, steps, steps.at(k));
  });
  return {dG, dG_h, H_prev, dH_out, dh, dc};
}

void use_aten_gemm(bool on) { force_aten_gemm() = on; }

}  // namespace rnnkit
