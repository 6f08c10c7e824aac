// Vectorized pointwise math of one row of one step, per cell: the C++ twin of
// rnnkit/cells/*.py (step / step_backward). Each function handles one batch row of H units;
// the sweeps (forward.cpp, backward.cpp) call it for every row of a step after that step's GEMM.
// The layer-norm cells, whose rows also need reductions, are in cells_norm.h.
//
// Layouts per row: gates (G) in torch.nn order, LSTM (i, f, g, o), GRU (r, z, n). The forward
// overwrites the gate pre-activations with the post-activation gates, which the backward reads.
#pragma once

#include <algorithm>
#include <cstdint>

#include "activations.h"

namespace rnnkit {

// A range [lo, hi) of a row's H units (hi < 0: up to H). A team of threads splits a step's
// rows this way (forward.h), at multiples of the vector width.
struct Units {
  int64_t lo = 0, hi = -1;
};

// f(j, count) over the units u of [0, H) in vector-wide chunks; the last chunk may be partial.
template <typename T, typename F>
inline void vec_loop(int64_t H, Units u, const F& f) {
  constexpr int64_t W = Vec<T>::size();
  const int64_t hi = u.hi < 0 ? H : u.hi;
  int64_t j = u.lo;
  for (; j + W <= hi; j += W) f(j, W);
  if (j < hi) f(j, hi - j);
}

template <typename T, typename F>
inline void vec_loop(int64_t H, const F& f) {
  vec_loop<T>(H, Units{}, f);
}

template <typename T>
inline Vec<T> ld(const T* p, int64_t c) {
  return Vec<T>::loadu(p, c);
}

// dst[0, count) += v: a row's share of a parameter gradient, summed into its batch slot.
template <typename T>
inline void accumulate(T* dst, const Vec<T>& v, int64_t count) {
  (ld(dst, count) + v).store(dst, count);
}

// A cell's own parameters (layer-norm gains, peephole weights) as raw pointers, in the order of
// params_of (sweeps.h); null where absent.
template <typename T>
struct CellParams {
  const T* p[3] = {nullptr, nullptr, nullptr};
};

// ---- Elman RNN: h = act(pre) -------------------------------------------------------------

template <typename T>
void rnn_fwd_row(int64_t H, bool relu, const T* pre, T* h, Units u = {}) {
  vec_loop<T>(H, u, [&](int64_t j, int64_t c) {
    Vec<T> v = ld(pre + j, c);
    v = relu ? at::vec::maximum(v, Vec<T>(T(0))) : tanh<T>(v);
    v.store(h + j, c);
  });
}

// dpre from dL/dh = dh_next + dy and the saved output h.
template <typename T>
void rnn_bwd_row(int64_t H, bool relu, const T* dh_next, const T* dy, const T* h, T* dpre, Units u = {}) {
  const Vec<T> zero(T(0)), one(T(1));
  vec_loop<T>(H, u, [&](int64_t j, int64_t c) {
    Vec<T> dh = ld(dh_next + j, c) + ld(dy + j, c);  // dL/dh_t: next step + output
    Vec<T> hv = ld(h + j, c);
    Vec<T> d = relu ? Vec<T>::blendv(zero, dh, hv > zero)  // relu' = [h > 0]
                    : dh * (one - hv * hv);                 // tanh' = 1 - h²
    d.store(dpre + j, c);
  });
}

// ---- IndRNN: h = act(pre + w ⊙ h_{t-1}), w the (H,) diagonal of W_hh --------------------

template <typename T>
void indrnn_fwd_row(int64_t H, bool relu, const T* pre, const T* h_prev, const T* w, T* h) {
  vec_loop<T>(H, [&](int64_t j, int64_t c) {
    Vec<T> v = at::vec::fmadd(ld(h_prev + j, c), ld(w + j, c), ld(pre + j, c));
    v = relu ? at::vec::maximum(v, Vec<T>(T(0))) : tanh<T>(v);
    v.store(h + j, c);
  });
}

// dpre as rnn_bwd_row; dh (dL/dh_t from the next step in) becomes dL/dh_{t-1} = dpre ⊙ w.
template <typename T>
void indrnn_bwd_row(int64_t H, bool relu, T* dh, const T* dy, const T* h, const T* w, T* dpre) {
  rnn_bwd_row(H, relu, dh, dy, h, dpre);
  vec_loop<T>(H, [&](int64_t j, int64_t c) { (ld(dpre + j, c) * ld(w + j, c)).store(dh + j, c); });
}

// ---- LSTM ----------------------------------------------------------------------------------

// g (4H): pre-activations in, post-activation gates out; c_out = f·c_prev + i·g,
// h_out = o·tanh(c_out).
template <typename T>
void lstm_fwd_row(int64_t H, T* g, const T* c_prev, T* c_out, T* h_out, Units u = {}) {
  vec_loop<T>(H, u, [&](int64_t j, int64_t c) {
    Vec<T> i = sigmoid(ld(g + j, c));
    Vec<T> f = sigmoid(ld(g + H + j, c));
    Vec<T> gg = tanh<T>(ld(g + 2 * H + j, c));
    Vec<T> o = sigmoid(ld(g + 3 * H + j, c));
    Vec<T> cv = f * ld(c_prev + j, c) + i * gg;
    Vec<T> h = o * tanh<T>(cv);
    i.store(g + j, c);
    f.store(g + H + j, c);
    gg.store(g + 2 * H + j, c);
    o.store(g + 3 * H + j, c);
    cv.store(c_out + j, c);
    h.store(h_out + j, c);
  });
}

// dgates (4H) from dL/dh (dh_in [+ dy]), dL/dc_t (dc, replaced by dL/dc_{t-1}), the saved gates
// act and cell state c_t, and c_{t-1}.
template <typename T>
void lstm_bwd_row(int64_t H, const T* dh_in, const T* dy, T* dc, const T* act, const T* c_t,
                  const T* c_prev, T* dgates, Units u = {}) {
  const Vec<T> one(T(1));
  vec_loop<T>(H, u, [&](int64_t j, int64_t c) {
    Vec<T> dh = dy ? ld(dh_in + j, c) + ld(dy + j, c) : ld(dh_in + j, c);  // dL/dh_t
    Vec<T> i = ld(act + j, c), f = ld(act + H + j, c);
    Vec<T> gg = ld(act + 2 * H + j, c), o = ld(act + 3 * H + j, c);
    Vec<T> tc = tanh<T>(ld(c_t + j, c));
    Vec<T> dct = ld(dc + j, c) + dh * o * (one - tc * tc);  // dL/dc_t: c_{t+1} and h_t
    (dct * gg * i * (one - i)).store(dgates + j, c);                  // dL/d(pre_i)
    (dct * ld(c_prev + j, c) * f * (one - f)).store(dgates + H + j, c);  // dL/d(pre_f)
    (dct * i * (one - gg * gg)).store(dgates + 2 * H + j, c);           // dL/d(pre_g)
    (dh * tc * o * (one - o)).store(dgates + 3 * H + j, c);             // dL/d(pre_o)
    (dct * f).store(dc + j, c);                                         // dL/dc_{t-1}
  });
}

// ---- Peephole LSTM: i, f see c_{t-1}, o sees c_t, through p = (p_i, p_f, p_o) (3H) ------

template <typename T>
void peephole_fwd_row(int64_t H, T* g, const T* p, const T* c_prev, T* c_out, T* h_out, Units u = {}) {
  using at::vec::fmadd;
  vec_loop<T>(H, u, [&](int64_t j, int64_t c) {
    Vec<T> cp = ld(c_prev + j, c);
    Vec<T> i = sigmoid(fmadd(ld(p + j, c), cp, ld(g + j, c)));          // σ(pre_i + p_i·c_{t-1})
    Vec<T> f = sigmoid(fmadd(ld(p + H + j, c), cp, ld(g + H + j, c)));  // σ(pre_f + p_f·c_{t-1})
    Vec<T> gg = tanh<T>(ld(g + 2 * H + j, c));
    Vec<T> cv = f * cp + i * gg;
    Vec<T> o = sigmoid(fmadd(ld(p + 2 * H + j, c), cv, ld(g + 3 * H + j, c)));  // sees c_t
    Vec<T> h = o * tanh<T>(cv);
    i.store(g + j, c);
    f.store(g + H + j, c);
    gg.store(g + 2 * H + j, c);
    o.store(g + 3 * H + j, c);
    cv.store(c_out + j, c);
    h.store(h_out + j, c);
  });
}

// As lstm_bwd_row, plus the peephole paths into dL/dc; this row's dL/dp is added to dp (3H).
template <typename T>
void peephole_bwd_row(int64_t H, const T* dh_in, const T* dy, T* dc, const T* act, const T* c_t,
                      const T* c_prev, const T* p, T* dgates, T* dp, Units u = {}) {
  const Vec<T> one(T(1));
  vec_loop<T>(H, u, [&](int64_t j, int64_t c) {
    Vec<T> dh = ld(dh_in + j, c) + ld(dy + j, c);  // dL/dh_t
    Vec<T> i = ld(act + j, c), f = ld(act + H + j, c);
    Vec<T> gg = ld(act + 2 * H + j, c), o = ld(act + 3 * H + j, c);
    Vec<T> cv = ld(c_t + j, c), cp = ld(c_prev + j, c), tc = tanh<T>(cv);
    Vec<T> dpo = dh * tc * o * (one - o);                                   // dL/d(pre_o)
    Vec<T> dct = ld(dc + j, c) + dh * o * (one - tc * tc) + dpo * ld(p + 2 * H + j, c);
    Vec<T> dpi = dct * gg * i * (one - i);                                  // dL/d(pre_i)
    Vec<T> dpf = dct * cp * f * (one - f);                                  // dL/d(pre_f)
    dpi.store(dgates + j, c);
    dpf.store(dgates + H + j, c);
    (dct * i * (one - gg * gg)).store(dgates + 2 * H + j, c);               // dL/d(pre_g)
    dpo.store(dgates + 3 * H + j, c);
    // dL/dc_{t-1}: through f, and through the peepholes of i and f
    (dct * f + dpi * ld(p + j, c) + dpf * ld(p + H + j, c)).store(dc + j, c);
    accumulate(dp + j, dpi * cp, c);          // dL/dp_i
    accumulate(dp + H + j, dpf * cp, c);      // dL/dp_f
    accumulate(dp + 2 * H + j, dpo * cv, c);  // dL/dp_o
  });
}

// ---- GRU -----------------------------------------------------------------------------------

// g (3H): gx in, (r, z, n) out; a (3H) = h_prev·W_hhᵀ (b_hh added here when given);
// ghn_out = W_hn·h + b_hn (saved); h_out = n + z·(h_prev - n).
template <typename T>
void gru_fwd_row(int64_t H, T* g, const T* a, const T* b_hh, const T* h_prev, T* ghn_out,
                 T* h_out, Units u = {}) {
  vec_loop<T>(H, u, [&](int64_t j, int64_t c) {
    Vec<T> ar = ld(a + j, c), az = ld(a + H + j, c), an = ld(a + 2 * H + j, c);
    if (b_hh) {
      ar = ar + ld(b_hh + j, c);
      az = az + ld(b_hh + H + j, c);
      an = an + ld(b_hh + 2 * H + j, c);
    }
    Vec<T> r = sigmoid(ld(g + j, c) + ar);
    Vec<T> z = sigmoid(ld(g + H + j, c) + az);
    Vec<T> n = tanh<T>(ld(g + 2 * H + j, c) + r * an);
    Vec<T> h = n + z * (ld(h_prev + j, c) - n);
    r.store(g + j, c);
    z.store(g + H + j, c);
    n.store(g + 2 * H + j, c);
    an.store(ghn_out + j, c);
    h.store(h_out + j, c);
  });
}

// dgx (3H), dgh (3H) from dL/dh = dh (+ dy); dh is replaced by the direct part z·dL/dh.
template <typename T>
void gru_bwd_row(int64_t H, T* dh, const T* dy, const T* act, const T* ghn, const T* h_prev,
                 T* dgx, T* dgh, Units u = {}) {
  const Vec<T> one(T(1));
  vec_loop<T>(H, u, [&](int64_t j, int64_t c) {
    Vec<T> d = ld(dh + j, c) + ld(dy + j, c);  // dL/dh_t: next step + output
    Vec<T> r = ld(act + j, c), z = ld(act + H + j, c), n = ld(act + 2 * H + j, c);
    Vec<T> dn = d * (one - z) * (one - n * n);                   // dL/d(pre_n) = dL/dn·tanh'
    Vec<T> dz = d * (ld(h_prev + j, c) - n) * z * (one - z);     // dL/d(pre_z)
    Vec<T> dr = dn * ld(ghn + j, c) * r * (one - r);             // dL/d(pre_r)
    dr.store(dgx + j, c);
    dz.store(dgx + H + j, c);
    dn.store(dgx + 2 * H + j, c);
    dr.store(dgh + j, c);
    dz.store(dgh + H + j, c);
    (dn * r).store(dgh + 2 * H + j, c);  // dL/d(gh_n): it enters as r·gh_n
    (d * z).store(dh + j, c);            // dL/dh_{t-1} through h_t = ... + z·h_{t-1}
  });
}

}  // namespace rnnkit
