// Row kernels of the layer-norm cells: the C++ twin of rnnkit/cells/layernorm.py.
//
// LN(v; γ, β) = γ ⊙ (v − mean(v)) / sqrt(var(v) + eps) + β over a row: over the whole gate
// vector (G) for h_{t-1}·W_hhᵀ, over H for the LSTM's c_t. The input side LN(x·W_ihᵀ) is done
// by the caller over all rows at once, so `g` arrives normalized. A row is processed in a few
// passes: the moments (or, backward, the two means the layer-norm gradient needs) first, then
// the elementwise math that uses them.
#pragma once

#include <cmath>
#include <cstdint>

#include "cells.h"

namespace rnnkit {

constexpr double kLayerNormEps = 1e-5;  // rnnkit/cells/layernorm.py EPS

// v with the lanes past `count` zeroed (a partial last chunk must not enter a sum).
template <typename T>
inline Vec<T> head(const Vec<T>& v, int64_t count) {
  return count == Vec<T>::size() ? v : Vec<T>::set(Vec<T>(T(0)), v, count);
}

// (mean, 1 / sqrt(var + eps)) of v (K), in two passes as layer_norm_rows: var = mean((v − μ)²).
template <typename T>
inline std::pair<T, T> row_moments(int64_t K, const T* v) {
  Vec<T> acc(T(0));
  vec_loop<T>(K, [&](int64_t j, int64_t c) { acc = acc + ld(v + j, c); });
  const T mu = lane_sum(acc) / T(K);
  Vec<T> sq(T(0));
  vec_loop<T>(K, [&](int64_t j, int64_t c) {
    Vec<T> d = head(ld(v + j, c) - Vec<T>(mu), c);
    sq = at::vec::fmadd(d, d, sq);
  });
  return {mu, T(1) / std::sqrt(lane_sum(sq) / T(K) + T(kLayerNormEps))};
}

// The layer-norm backward over a row (K), given d = dL/dv̂ stashed in `out`:
// dL/dv = rstd·(d − mean(d) − v̂·mean(d ⊙ v̂)), with s1 = Σ d and s2 = Σ d ⊙ v̂ already summed.
template <typename T>
inline void layer_norm_backward_row(int64_t K, const T* v_hat, T rstd, T s1, T s2, T* out) {
  const Vec<T> m1(s1 / T(K)), m2(s2 / T(K)), rs(rstd);
  vec_loop<T>(K, [&](int64_t j, int64_t c) {
    (rs * (ld(out + j, c) - m1 - ld(v_hat + j, c) * m2)).store(out + j, c);
  });
}

// ---- LayerNormLSTM: params γ_hh (4H), γ_c (H), β_c (H, or null) ------------------------------

// g (4H): LN(x·W_ihᵀ) in, post-activation gates out. gh (4H): h_{t-1}·W_hhᵀ. Saves gh_hat (4H) =
// the normalized gh, stats = (rstd of gh, mean of c_t, rstd of c_t); c_out = c_t,
// h_out = o·tanh(γ_c ⊙ LN(c_t) + β_c).
template <typename T>
void ln_lstm_fwd_row(int64_t H, T* g, const T* gh, const CellParams<T>& prm, const T* c_prev,
                     T* gh_hat, T* stats, T* c_out, T* h_out) {
  const T *g_hh = prm.p[0], *g_c = prm.p[1], *b_c = prm.p[2];
  const auto [mu_h, rstd_h] = row_moments(4 * H, gh);
  auto pre = [&](int64_t k, int64_t c) {  // pre-activation: gx + γ_hh ⊙ LN(gh), saving LN(gh)
    Vec<T> hat = (ld(gh + k, c) - Vec<T>(mu_h)) * Vec<T>(rstd_h);
    hat.store(gh_hat + k, c);
    return at::vec::fmadd(hat, ld(g_hh + k, c), ld(g + k, c));
  };
  vec_loop<T>(H, [&](int64_t j, int64_t c) {
    Vec<T> i = sigmoid(pre(j, c)), f = sigmoid(pre(H + j, c));
    Vec<T> gg = tanh<T>(pre(2 * H + j, c)), o = sigmoid(pre(3 * H + j, c));
    i.store(g + j, c);
    f.store(g + H + j, c);
    gg.store(g + 2 * H + j, c);
    o.store(g + 3 * H + j, c);
    (f * ld(c_prev + j, c) + i * gg).store(c_out + j, c);  // c_t
  });
  const auto [mu_c, rstd_c] = row_moments(H, c_out);
  vec_loop<T>(H, [&](int64_t j, int64_t c) {
    Vec<T> c_hat = (ld(c_out + j, c) - Vec<T>(mu_c)) * Vec<T>(rstd_c);
    Vec<T> c_ln = c_hat * ld(g_c + j, c);
    if (b_c) c_ln = c_ln + ld(b_c + j, c);
    (ld(g + 3 * H + j, c) * tanh<T>(c_ln)).store(h_out + j, c);  // h = o·tanh(LN(c_t))
  });
  stats[0] = rstd_h, stats[1] = mu_c, stats[2] = rstd_c;
}

// dgx (4H) = dL/d(pre), dgh (4H) = dL/d(h_{t-1}·W_hhᵀ) through LN_hh, from dL/dh_t
// (dh_next + dy) and dc (dL/dc_t from step t+1, replaced by dL/dc_{t-1}). This row's
// (dL/dγ_hh, dL/dγ_c, dL/dβ_c) is added to dp (6H).
template <typename T>
void ln_lstm_bwd_row(int64_t H, const T* dh_next, const T* dy, T* dc, const T* act,
                     const T* gh_hat, const T* stats, const T* c_t, const T* c_prev,
                     const CellParams<T>& prm, T* dgx, T* dgh, T* dp) {
  const T *g_hh = prm.p[0], *g_c = prm.p[1], *b_c = prm.p[2];
  const Vec<T> one(T(1)), mu_c(stats[1]), rstd_c(stats[2]);
  const int64_t G = 4 * H;
  Vec<T> s1(T(0)), s2(T(0));
  vec_loop<T>(H, [&](int64_t j, int64_t c) {  // o's gradient; dL/dĉ, stashed in dgx's i block
    Vec<T> dh = ld(dh_next + j, c) + ld(dy + j, c);  // dL/dh_t
    Vec<T> c_hat = (ld(c_t + j, c) - mu_c) * rstd_c;
    Vec<T> c_ln = c_hat * ld(g_c + j, c);
    if (b_c) c_ln = c_ln + ld(b_c + j, c);
    Vec<T> o = ld(act + 3 * H + j, c), tc = tanh<T>(c_ln);
    Vec<T> dc_ln = dh * o * (one - tc * tc);                    // dL/d LN(c_t)
    (dh * tc * o * (one - o)).store(dgx + 3 * H + j, c);        // dL/d(pre_o)
    accumulate(dp + G + j, dc_ln * c_hat, c);                   // dL/dγ_c
    accumulate(dp + G + H + j, dc_ln, c);                       // dL/dβ_c
    Vec<T> d_hat = dc_ln * ld(g_c + j, c);                      // dL/dĉ
    d_hat.store(dgx + j, c);
    s1 = s1 + head(d_hat, c);
    s2 = s2 + head(d_hat * c_hat, c);
  });
  const Vec<T> m1(lane_sum(s1) / T(H)), m2(lane_sum(s2) / T(H));
  vec_loop<T>(H, [&](int64_t j, int64_t c) {  // dL/dc_t, then the gates i, f, g
    Vec<T> c_hat = (ld(c_t + j, c) - mu_c) * rstd_c;
    Vec<T> dct = ld(dc + j, c) + rstd_c * (ld(dgx + j, c) - m1 - c_hat * m2);  // + LN backward
    Vec<T> i = ld(act + j, c), f = ld(act + H + j, c), gg = ld(act + 2 * H + j, c);
    (dct * gg * i * (one - i)).store(dgx + j, c);                       // dL/d(pre_i)
    (dct * ld(c_prev + j, c) * f * (one - f)).store(dgx + H + j, c);    // dL/d(pre_f)
    (dct * i * (one - gg * gg)).store(dgx + 2 * H + j, c);              // dL/d(pre_g)
    (dct * f).store(dc + j, c);                                         // dL/dc_{t-1}
  });
  Vec<T> t1(T(0)), t2(T(0));
  vec_loop<T>(G, [&](int64_t k, int64_t c) {  // pre = gx + γ_hh ⊙ ĝh: dL/dγ_hh, dL/dĝh
    Vec<T> dpre = ld(dgx + k, c), hat = ld(gh_hat + k, c);
    accumulate(dp + k, dpre * hat, c);
    Vec<T> d = dpre * ld(g_hh + k, c);
    d.store(dgh + k, c);
    t1 = t1 + head(d, c);
    t2 = t2 + head(d * hat, c);
  });
  layer_norm_backward_row(G, gh_hat, stats[0], lane_sum(t1), lane_sum(t2), dgh);
}

// ---- LayerNormGRU: params γ_hh (3H), β_hh (3H, or null) ------------------------------------

// torch's GRU row with gh := γ_hh ⊙ LN(h_{t-1}·W_hhᵀ) + β_hh. g (3H): LN(x·W_ihᵀ) in, (r, z, n)
// out; gh (3H) the raw product; saves gh_hat (3H) and stats = (rstd of gh).
template <typename T>
void ln_gru_fwd_row(int64_t H, T* g, const T* gh, const CellParams<T>& prm, const T* h_prev,
                    T* gh_hat, T* stats, T* h_out) {
  const T *g_hh = prm.p[0], *b_hh = prm.p[1];
  const auto [mu, rstd] = row_moments(3 * H, gh);
  auto ln = [&](int64_t k, int64_t c) {  // γ_hh ⊙ LN(gh) + β_hh, saving LN(gh)
    Vec<T> hat = (ld(gh + k, c) - Vec<T>(mu)) * Vec<T>(rstd);
    hat.store(gh_hat + k, c);
    Vec<T> v = hat * ld(g_hh + k, c);
    return b_hh ? v + ld(b_hh + k, c) : v;
  };
  vec_loop<T>(H, [&](int64_t j, int64_t c) {
    Vec<T> r = sigmoid(ld(g + j, c) + ln(j, c));
    Vec<T> z = sigmoid(ld(g + H + j, c) + ln(H + j, c));
    Vec<T> n = tanh<T>(ld(g + 2 * H + j, c) + r * ln(2 * H + j, c));
    r.store(g + j, c);
    z.store(g + H + j, c);
    n.store(g + 2 * H + j, c);
    (n + z * (ld(h_prev + j, c) - n)).store(h_out + j, c);  // (1 − z)·n + z·h_{t-1}
  });
  stats[0] = rstd;
}

// dgx (3H), dgh (3H) through LN_hh, from dL/dh = dh (+ dy); dh is replaced by the direct part
// z·dL/dh. This row's (dL/dγ_hh, dL/dβ_hh) is added to dp (6H).
template <typename T>
void ln_gru_bwd_row(int64_t H, T* dh, const T* dy, const T* act, const T* gh_hat,
                    const T* stats, const CellParams<T>& prm, const T* h_prev, T* dgx, T* dgh,
                    T* dp) {
  const T *g_hh = prm.p[0], *b_hh = prm.p[1];
  const Vec<T> one(T(1));
  const int64_t G = 3 * H;
  Vec<T> s1(T(0)), s2(T(0));
  auto through_gain = [&](int64_t k, int64_t c, const Vec<T>& d_ln) {  // d_ln = dL/d LN-out
    Vec<T> hat = ld(gh_hat + k, c);
    accumulate(dp + k, d_ln * hat, c);  // dL/dγ_hh
    accumulate(dp + G + k, d_ln, c);    // dL/dβ_hh
    Vec<T> d = d_ln * ld(g_hh + k, c);  // dL/dĝh, stashed in dgh
    d.store(dgh + k, c);
    s1 = s1 + head(d, c);
    s2 = s2 + head(d * hat, c);
  };
  vec_loop<T>(H, [&](int64_t j, int64_t c) {
    Vec<T> d = ld(dh + j, c) + ld(dy + j, c);  // dL/dh_t: next step + output
    Vec<T> r = ld(act + j, c), z = ld(act + H + j, c), n = ld(act + 2 * H + j, c);
    Vec<T> gh_n = ld(gh_hat + 2 * H + j, c) * ld(g_hh + 2 * H + j, c);
    if (b_hh) gh_n = gh_n + ld(b_hh + 2 * H + j, c);
    Vec<T> dn = d * (one - z) * (one - n * n);                // dL/d(pre_n)
    Vec<T> dz = d * (ld(h_prev + j, c) - n) * z * (one - z);  // dL/d(pre_z)
    Vec<T> dr = dn * gh_n * r * (one - r);                    // dL/d(pre_r)
    dr.store(dgx + j, c);
    dz.store(dgx + H + j, c);
    dn.store(dgx + 2 * H + j, c);
    through_gain(j, c, dr);
    through_gain(H + j, c, dz);
    through_gain(2 * H + j, c, dn * r);  // gh_n enters as r·gh_n
    (d * z).store(dh + j, c);            // dL/dh_{t-1} through h_t = ... + z·h_{t-1}
  });
  layer_norm_backward_row(G, gh_hat, stats[0], lane_sum(s1), lane_sum(s2), dgh);
}

}  // namespace rnnkit
