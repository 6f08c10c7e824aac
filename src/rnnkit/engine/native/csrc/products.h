// The per-step products with a weight matrix: rows·Wᵀ (forward) and rows·W (backward).
//
// A step's product is small (batch rows times one weight matrix), and calling BLAS for it costs
// a dispatch plus, with several threads, a fork/join per step; on a 2-core machine shared with
// other processes that join can wait out a scheduler slice (measured under load: 60 ms for a
// 3-step sweep of 5x6·6x24 sgemm_ calls with 2 threads, 12 us with 1). So the products run in
// the register-blocked kernels here, on the calling thread (one member of a team), and go to
// BLAS only where nothing is packed for them or where BLAS may use threads a team does not.
//
// The kernels load whole vectors in their inner loop (a load with a lane count there, ATen's
// loadu(ptr, count), held them at about 30 GFLOP/s from 8 rows up), and read the weight from
// panels packed once per sweep: each vector of W lanes of its columns a contiguous (K, W)
// block, so that the K rows of a column block do not fall into a few cache sets, as they do
// read in place from rows a power of two apart (H = 256, 512). Measured single-threaded (AVX2,
// 8 lanes), counted loads / whole loads in place / whole loads from panels / MKL's sgemm_:
// 16x256·256x256 55.6 / 22.3 / 21.9 / 35.5 us; 32x512·512x2048 2733 / 1286 / 1029 / 1278 us;
// 1x512·512x2048 90 / 114 / 58 / 86 us: the packed kernel is at or ahead of MKL (and of MKL's
// own packed sgemm_compute) from 1 to 256 rows at every H measured (64-512).
#pragma once

#ifdef _OPENMP
#include <omp.h>
#endif

#include <algorithm>
#include <cstdint>
#include <type_traits>

#include <ATen/Parallel.h>
#include <ATen/core/Tensor.h>
#include <ATen/ops/empty.h>

#include "activations.h"
#include "bf16.h"
#include "blas.h"

namespace rnnkit {

// The most threads a sweep's team may have on the calling thread (0: no cap, 1: the calling
// thread alone): the measured plan's choice for the call's shape bucket (engine/paths.py), set
// around each sweep (team.h reads it).
inline int& team_cap() {
  thread_local int cap = 0;
  return cap;
}

// Whether work started here (BLAS, at::parallel_for) may use more than one thread: outside any
// parallel region (a team member runs on its own thread), unless the plan capped the sweep to
// its calling thread (team.h: team_cap).
inline bool may_use_threads() {
#ifdef _OPENMP
  return !kThreadSanitizer && !omp_in_parallel() && omp_get_max_threads() > 1 && team_cap() != 1;
#else
  return false;
#endif
}

constexpr int64_t kBlasMacs = int64_t{1} << 21;  // n·K·M at or above this: BLAS may pay

// Calls of fewer steps run rows·W_hhᵀ as dot products on W_hh (rows_dot_matrix): its packed
// copy would cost more than it saves (and no units team runs them: it needs that copy).
constexpr int64_t kPackSteps = 4;

// A streaming call (T < kPackSteps) shares a weight of this many entries among the threads
// (W_hh: a units team, team.h; any other product without panels, such as the no-grad stack's
// input projection: its columns, in times_wt): such a call waits on memory for the weight,
// and two threads draw more bandwidth than one.
// Measured (no-grad, B = 1, one step per call, 2 threads): GRU H1024 1587 -> 1002 us per call,
// LSTM H1024 1967 -> 1431; since the packed-panel change (min / median of 9 alternating runs of
// 100 calls): GRU H512 (3·2^18 weights) 128/153 -> 104/130, LSTM H512 170/177 -> 139/149, RNN
// H1024 140/197 -> 127/184; at 2^18 no difference (RNN H512, LSTM H256).
inline int64_t& stream_team_macs() {
  static int64_t macs = int64_t{1} << 19;
  return macs;
}

// A (K, M) as the blocked kernels read it: element (k, m) at p[k·sk + (m / W)·sc + m % W] for W
// lanes. A row-major matrix with leading dimension lda is {p, lda, W}; packed panels (each
// vector of W columns a contiguous (K, W) panel, the last one zero-padded) are {p, W, K·W}.
template <typename T>
struct Operand {
  const T* p;
  int64_t sk, sc;
  bool padded;  // a partial last vector may be read whole (panels: zero-padded)
  static Operand row_major(const T* p, int64_t lda) { return {p, lda, Vec<T>::size(), false}; }
  static Operand panels(const T* p, int64_t K) {
    return {p, Vec<T>::size(), K * Vec<T>::size(), true};
  }
};

// out[r] (+)= Σ_k v[r][k]·A[k, col : col + C vectors] for R rows; `last` lanes in the last
// vector (partial only when C == 1), which the loop reads whole when `whole` (a full vector, or
// zero-padded panels): a load with a lane count in the inner loop costs 2-3x (measured).
template <typename T, int R, int C, bool whole>
inline void micro(int64_t K, const Operand<T>& A, const T* v, int64_t ld_v, bool accumulate,
                  T* out, int64_t ld_out, int64_t col, int64_t last) {
  using V = Vec<T>;
  constexpr int64_t W = V::size();
  auto width = [&](int c) { return c == C - 1 ? last : W; };
  const T* a0 = A.p + col / W * A.sc;
  const int64_t sk = A.sk, sc = A.sc;
  V acc[R][C];
  for (int r = 0; r < R; ++r) {
    for (int c = 0; c < C; ++c) {
      acc[r][c] = accumulate ? V::loadu(out + r * ld_out + col + c * W, width(c)) : V(T(0));
    }
  }
  for (int64_t k = 0; k < K; ++k) {
    V a[C];
    for (int c = 0; c < C; ++c) {
      a[c] = whole ? V::loadu(a0 + k * sk + c * sc) : V::loadu(a0 + k * sk + c * sc, width(c));
    }
    for (int r = 0; r < R; ++r) {
      const V s(v[r * ld_v + k]);
      for (int c = 0; c < C; ++c) acc[r][c] = at::vec::fmadd(s, a[c], acc[r][c]);
    }
  }
  for (int r = 0; r < R; ++r) {
    for (int c = 0; c < C; ++c) acc[r][c].store(out + r * ld_out + col + c * W, width(c));
  }
}

// micro for a block of C whole vectors, or one last vector of `last` lanes
template <typename T, int R, int C>
inline void micro_at(int64_t K, const Operand<T>& A, const T* v, int64_t ld_v, bool accumulate,
                     T* out, int64_t ld_out, int64_t col, int64_t last) {
  if (last == Vec<T>::size() || A.padded) {
    micro<T, R, C, true>(K, A, v, ld_v, accumulate, out, ld_out, col, last);
  } else {
    micro<T, R, C, false>(K, A, v, ld_v, accumulate, out, ld_out, col, last);
  }
}

// Vector registers the blocked kernels may fill with accumulators: AVX-512 has 32, AVX2 16.
#if defined(CPU_CAPABILITY_AVX512)
constexpr int kVectorRegisters = 32;
#else
constexpr int kVectorRegisters = 16;
#endif
// Row blocks of more than 6 rows: kRowBlock rows times kColumnBlock vectors of accumulators
// (AVX2: 6 x 2 of 16 registers; AVX-512: 6 x 4 of 32), the rest for A's vectors and a broadcast.
constexpr int kRowBlock = 6;
constexpr int kColumnBlock = kVectorRegisters == 32 ? 4 : 2;

// R rows across columns [col, M): blocks of C vectors, then of C / 2, ... down to single vectors
// (the last one partial). Narrower blocks for what is left keep several accumulator chains in
// flight where a block holds fewer vectors than C (AVX-512's 16 lanes: a block of H = 64
// columns is 4 vectors, which a width of 8 alone would run one vector, one chain, at a time).
template <typename T, int R, int C>
void row_block(int64_t K, int64_t M, const Operand<T>& A, const T* v, int64_t ld_v,
               bool accumulate, T* out, int64_t ld_out, int64_t col = 0) {
  constexpr int64_t W = Vec<T>::size();
  for (; col + C * W <= M; col += C * W) {
    micro<T, R, C, true>(K, A, v, ld_v, accumulate, out, ld_out, col, W);
  }
  if constexpr (C > 1) {
    row_block<T, R, C / 2>(K, M, A, v, ld_v, accumulate, out, ld_out, col);
  } else if (col < M) {
    micro_at<T, R, 1>(K, A, v, ld_v, accumulate, out, ld_out, col, M - col);
  }
}

// All n rows at one column block of C vectors: blocks of kRowBlock rows, then the remainder.
template <typename T, int C>
void column_block(int64_t n, int64_t K, const Operand<T>& A, const T* v, int64_t ld_v,
                  bool accumulate, T* out, int64_t ld_out, int64_t col, int64_t last) {
  static_assert(kRowBlock == 6, "the remainder switch below covers 1-5 rows");
  int64_t i = 0;
  for (; n - i >= 6; i += 6) {
    micro_at<T, 6, C>(K, A, v + i * ld_v, ld_v, accumulate, out + i * ld_out, ld_out, col, last);
  }
  const T* vi = v + i * ld_v;
  T* oi = out + i * ld_out;
  switch (n - i) {
    case 5: micro_at<T, 5, C>(K, A, vi, ld_v, accumulate, oi, ld_out, col, last); break;
    case 4: micro_at<T, 4, C>(K, A, vi, ld_v, accumulate, oi, ld_out, col, last); break;
    case 3: micro_at<T, 3, C>(K, A, vi, ld_v, accumulate, oi, ld_out, col, last); break;
    case 2: micro_at<T, 2, C>(K, A, vi, ld_v, accumulate, oi, ld_out, col, last); break;
    case 1: micro_at<T, 1, C>(K, A, vi, ld_v, accumulate, oi, ld_out, col, last); break;
    default: break;
  }
}

// Columns [col, M) for all n rows: column blocks of C vectors outside (each (K, C vectors)
// panel of A stays in cache for all row blocks), then narrower ones, then the last vector.
template <typename T, int C>
void column_blocks(int64_t n, int64_t K, int64_t M, const Operand<T>& A, const T* v, int64_t ld_v,
                   bool accumulate, T* out, int64_t ld_out, int64_t col = 0) {
  constexpr int64_t W = Vec<T>::size();
  for (; col + C * W <= M; col += C * W) {
    column_block<T, C>(n, K, A, v, ld_v, accumulate, out, ld_out, col, W);
  }
  if constexpr (C > 1) {
    column_blocks<T, C / 2>(n, K, M, A, v, ld_v, accumulate, out, ld_out, col);
  } else if (col < M) {
    column_block<T, 1>(n, K, A, v, ld_v, accumulate, out, ld_out, col, M - col);
  }
}

// out (n, M) = [out +] v (n, K) · A (K, M). Up to 6 rows: one row block, its column blocks as
// wide as the accumulator registers allow (AVX2 about 8-12 of 16, AVX-512 up to 24 of 32).
// More rows: column_blocks.
template <typename T>
void rows_times_matrix(int64_t n, int64_t K, int64_t M, const T* v, int64_t ld_v,
                       const Operand<T>& A, bool accumulate, T* out, int64_t ld_out) {
  constexpr bool wide = kVectorRegisters == 32;
  switch (n) {
    case 1: return row_block<T, 1, 8>(K, M, A, v, ld_v, accumulate, out, ld_out);
    case 2: return row_block<T, 2, wide ? 8 : 4>(K, M, A, v, ld_v, accumulate, out, ld_out);
    case 3: return row_block<T, 3, wide ? 4 : 4>(K, M, A, v, ld_v, accumulate, out, ld_out);
    case 4: return row_block<T, 4, wide ? 4 : 3>(K, M, A, v, ld_v, accumulate, out, ld_out);
    case 5: return row_block<T, 5, wide ? 4 : 2>(K, M, A, v, ld_v, accumulate, out, ld_out);
    case 6: return row_block<T, 6, wide ? 4 : 2>(K, M, A, v, ld_v, accumulate, out, ld_out);
    default: break;
  }
  column_blocks<T, kColumnBlock>(n, K, M, A, v, ld_v, accumulate, out, ld_out);
}

// out[r][m] (+)= v[r]·W[m] for R rows and Q consecutive outputs m: dot products along the
// contiguous rows of W (M, K), reduced across lanes at the end.
template <typename T, int R, int Q>
inline void dot_micro(int64_t K, const T* v, int64_t ld_v, const T* W, bool accumulate, T* out,
                      int64_t ld_out) {
  using V = Vec<T>;
  constexpr int64_t L = V::size();
  V acc[R][Q];
  for (int r = 0; r < R; ++r) {
    for (int q = 0; q < Q; ++q) acc[r][q] = V(T(0));
  }
  for (int64_t k = 0; k < K; k += L) {
    const int64_t c = std::min(L, K - k);  // a partial load zero-fills the other lanes
    V w[Q];
    for (int q = 0; q < Q; ++q) w[q] = V::loadu(W + q * K + k, c);
    for (int r = 0; r < R; ++r) {
      const V x = V::loadu(v + r * ld_v + k, c);
      for (int q = 0; q < Q; ++q) acc[r][q] = at::vec::fmadd(x, w[q], acc[r][q]);
    }
  }
  for (int r = 0; r < R; ++r) {
    for (int q = 0; q < Q; ++q) {
      const T s = lane_sum(acc[r][q]);
      out[r * ld_out + q] = accumulate ? out[r * ld_out + q] + s : s;
    }
  }
}

template <typename T, int R>
void dot_rows(int64_t K, int64_t M, const T* v, int64_t ld_v, const T* W, bool accumulate,
              T* out, int64_t ld_out) {
  int64_t m = 0;
  for (; m + 4 <= M; m += 4) dot_micro<T, R, 4>(K, v, ld_v, W + m * K, accumulate, out + m, ld_out);
  for (; m < M; ++m) dot_micro<T, R, 1>(K, v, ld_v, W + m * K, accumulate, out + m, ld_out);
}

// out (n, M) = [out +] v (n, K) · Wᵀ with W (M, K) row-major, as dot products along W's rows:
// no packed copy of W, so the right kernel for a call of very few steps (streaming), where
// packing W would cost more than the products.
template <typename T>
void rows_dot_matrix(int64_t n, int64_t K, int64_t M, const T* v, int64_t ld_v, const T* W,
                     bool accumulate, T* out, int64_t ld_out) {
  int64_t i = 0;
  for (; n - i >= 4; i += 4) {
    dot_rows<T, 4>(K, M, v + i * ld_v, ld_v, W, accumulate, out + i * ld_out, ld_out);
  }
  for (; i < n; ++i) dot_rows<T, 1>(K, M, v + i * ld_v, ld_v, W, accumulate, out + i * ld_out, ld_out);
}

// The panels of a weight used as A (K, M) = Wᵀ (packed from W (M, K): forward) or A = W (K, M)
// (backward), its M columns in blocks of `block` (W_hhᵀ: the gate blocks of H columns, so that
// a team member's units of every gate start a panel; else M), each block's columns in vectors
// of W lanes, the last vector of a block zero-padded. Size: packed_size(K, M, block).
template <typename T>
int64_t packed_size(int64_t K, int64_t M, int64_t block) {
  constexpr int64_t W = Vec<T>::size();
  return K * (M / block) * ((block + W - 1) / W) * W;
}

// Packs A (K, M), element (k, m) at src[k·sk + m·sm] (Wᵀ of a row-major W (M, K): sk 1,
// sm K; a row-major W (K, M): sk M, sm 1), into panels as above.
template <typename T>
void pack_panels(int64_t K, int64_t M, int64_t block, const T* src, int64_t sk, int64_t sm,
                 T* out) {
  constexpr int64_t W = Vec<T>::size();
  for (int64_t b0 = 0; b0 < M; b0 += block) {
    for (int64_t c0 = 0; c0 < block; c0 += W, out += K * W) {
      const int64_t lanes = std::min(W, block - c0);
      const T* s = src + (b0 + c0) * sm;
      for (int64_t k = 0; k < K; ++k) {
        for (int64_t l = 0; l < W; ++l) out[k * W + l] = l < lanes ? s[k * sk + l * sm] : T(0);
      }
    }
  }
}

// A weight W (rows, cols), row-major, and its panels for the product the sweep asks for:
// `pk` the panels of Wᵀ (times_wt) or of W (times_w), `block` their column blocks; null where
// the call has too few steps to pay for packing (rows·Wᵀ then runs as dot products on W).
template <typename T>
struct Weight {
  const T* w = nullptr;
  int64_t rows = 0, cols = 0;
  const T* pk = nullptr;
  int64_t block = 0;
  Bf16Panels pb;  // bfloat16 panels instead of pk (float, under autocast: bf16.h), or none
  // the lanes a team member's columns start at a multiple of (those of the panels it reads)
  int64_t lanes() const { return pb.p ? kBf16Lanes : Vec<T>::size(); }
  // BLAS instead of the blocked kernel: nothing packed and a product big enough to pay for the
  // call, or one so big that BLAS's threads pay (only outside a team: a member's BLAS runs on
  // its own thread, where the packed kernel is faster)
  bool blas(int64_t n) const {
    if (force_aten_gemm()) return true;
    const bool big = n * rows * cols >= kBlasMacs;
    return big && (!pk || may_use_threads());
  }
  // the product over A's columns [col, col + m) of one block (col a multiple of W in it)
  Operand<T> panels_from(int64_t K, int64_t col) const {
    constexpr int64_t W = Vec<T>::size();
    const int64_t vectors = (block + W - 1) / W;
    return Operand<T>::panels(pk + ((col / block) * vectors + (col % block) / W) * K * W, K);
  }
};

// out (n, M) = [out +] v (n, K) · A over the panels of A's blocks
template <typename T>
void times_panels(int64_t n, int64_t K, int64_t M, const T* v, int64_t ld_v, const Weight<T>& A,
                  bool accumulate, T* out, int64_t ld_out) {
  for (int64_t b0 = 0; b0 < M; b0 += A.block) {
    rows_times_matrix(n, K, A.block, v, ld_v, A.panels_from(K, b0), accumulate, out + b0, ld_out);
  }
}

// out (n, W.rows) = [out +] v (n, W.cols) · Wᵀ
template <typename T>
void times_wt(int64_t n, const T* v, int64_t ld_v, const Weight<T>& W, bool accumulate, T* out,
              int64_t ld_out) {
  if constexpr (std::is_same_v<T, float>) {
    if (W.pb.p) return bf16_times_blocks(n, W.cols, W.rows, v, ld_v, W.pb, accumulate, out, ld_out);
  }
  if (W.blas(n)) {
    gemm<T>(true, false, W.rows, n, W.cols, W.w, W.cols, v, ld_v, T(accumulate), out, ld_out);
  } else if (W.pk) {
    times_panels(n, W.cols, W.rows, v, ld_v, W, accumulate, out, ld_out);
  } else if (W.rows * W.cols >= stream_team_macs() && may_use_threads()) {
    at::parallel_for(0, W.rows, 16, [&](int64_t lo, int64_t hi) {  // W's rows: out's columns
      rows_dot_matrix(n, W.cols, hi - lo, v, ld_v, W.w + lo * W.cols, accumulate, out + lo, ld_out);
    });
  } else {
    rows_dot_matrix(n, W.cols, W.rows, v, ld_v, W.w, accumulate, out, ld_out);
  }
}

// out (n, W.cols) = [out +] v (n, W.rows) · W
template <typename T>
void times_w(int64_t n, const T* v, int64_t ld_v, const Weight<T>& W, bool accumulate, T* out,
             int64_t ld_out) {
  if constexpr (std::is_same_v<T, float>) {
    if (W.pb.p) return bf16_times_blocks(n, W.rows, W.cols, v, ld_v, W.pb, accumulate, out, ld_out);
  }
  if (W.blas(n)) {
    gemm<T>(false, false, W.cols, n, W.rows, W.w, W.cols, v, ld_v, T(accumulate), out, ld_out);
  } else if (W.pk) {
    times_panels(n, W.rows, W.cols, v, ld_v, W, accumulate, out, ld_out);
  } else {
    rows_times_matrix(n, W.rows, W.cols, v, ld_v, Operand<T>::row_major(W.w, W.cols), accumulate,
                      out, ld_out);
  }
}

// A row-major weight W (rows, cols) (a diagonal (H,) as H x H, never packed) with, where `pack`,
// the panels of Wᵀ (`transposed`: for
// times_wt, its columns in blocks of `block`) or of W (times_w), written into `buf`.
template <typename T>
Weight<T> packed_weight(const at::Tensor& W, bool transposed, int64_t block, bool pack,
                        at::Tensor& buf) {
  if (!W.defined()) return {};
  if (W.dim() == 1) return {W.data_ptr<T>(), W.size(0), W.size(0)};  // IndRNN's diagonal W_hh
  const int64_t rows = W.size(0), cols = W.size(1);
  Weight<T> w{W.data_ptr<T>(), rows, cols, nullptr, transposed ? block : cols};
  if (!pack) return w;
  const int64_t K = transposed ? cols : rows, M = transposed ? rows : cols;
  if constexpr (std::is_same_v<T, float>) {
    if (bf16_products() && cpu_has_bf16()) {  // under autocast: bfloat16 panels (bf16.h)
      buf = at::empty({bf16_packed_size(K, M, w.block)}, W.options().dtype(at::kShort));
      auto* pb = reinterpret_cast<uint16_t*>(buf.data_ptr<int16_t>());
      bf16_pack_panels(K, M, w.block, w.w, transposed ? 1 : cols, transposed ? cols : 1, pb);
      w.pb = {pb, K, w.block};
      return w;
    }
  }
  buf = at::empty({packed_size<T>(K, M, w.block)}, W.options());
  pack_panels(K, M, w.block, w.w, transposed ? 1 : cols, transposed ? cols : 1, buf.data_ptr<T>());
  w.pk = buf.data_ptr<T>();
  return w;
}

}  // namespace rnnkit
