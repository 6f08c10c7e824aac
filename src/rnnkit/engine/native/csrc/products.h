// The per-step products with a weight matrix: rows·Wᵀ (forward) and rows·W (backward).
//
// A step's product is small (batch rows times one weight matrix), and calling BLAS for it costs
// a dispatch plus, with several threads, a fork/join per step; on a 2-core machine shared with
// other processes that join can wait out a scheduler slice (measured under load: 60 ms for a
// 3-step sweep of 5x6·6x24 sgemm_ calls with 2 threads, 12 us with 1). So products below
// kBlasMacs multiply-adds run in the register-blocked kernels here, on the calling thread;
// larger ones go to BLAS, where threads pay off. Measured single-threaded, these kernels match
// or beat MKL's sgemm_ from batch 1 (0.9 vs 1.3 us for 1x64·64x256) to batch 64 at H <= 128.
#pragma once

#include <algorithm>
#include <cstdint>

#include "activations.h"
#include "blas.h"

namespace rnnkit {

constexpr int64_t kBlasMacs = int64_t{1} << 21;  // n·K·M at or above this: BLAS

// Calls of fewer steps run rows·W_hhᵀ as dot products on W_hh (rows_dot_matrix): its transposed
// copy would cost more than it saves (and no team runs them: a team needs that copy).
constexpr int64_t kTransposeSteps = 4;

// out[r] (+)= Σ_k v[r][k]·A[k, col : col + C vectors] for R rows; `last` lanes in the last
// vector (partial only when C == 1). A is (K, ·) row-major with leading dimension lda.
template <typename T, int R, int C>
inline void micro(int64_t K, int64_t lda, const T* v, int64_t ld_v, const T* A, bool accumulate,
                  T* out, int64_t ld_out, int64_t col, int64_t last) {
  using V = Vec<T>;
  constexpr int64_t W = V::size();
  auto width = [&](int c) { return c == C - 1 ? last : W; };
  V acc[R][C];
  for (int r = 0; r < R; ++r) {
    for (int c = 0; c < C; ++c) {
      acc[r][c] = accumulate ? V::loadu(out + r * ld_out + col + c * W, width(c)) : V(T(0));
    }
  }
  for (int64_t k = 0; k < K; ++k) {
    V a[C];
    for (int c = 0; c < C; ++c) a[c] = V::loadu(A + k * lda + col + c * W, width(c));
    for (int r = 0; r < R; ++r) {
      const V s(v[r * ld_v + k]);
      for (int c = 0; c < C; ++c) acc[r][c] = at::vec::fmadd(s, a[c], acc[r][c]);
    }
  }
  for (int r = 0; r < R; ++r) {
    for (int c = 0; c < C; ++c) acc[r][c].store(out + r * ld_out + col + c * W, width(c));
  }
}

// R rows across all M columns: blocks of C vectors, then single (last: partial) vectors.
template <typename T, int R, int C>
void row_block(int64_t K, int64_t M, int64_t lda, const T* v, int64_t ld_v, const T* A,
               bool accumulate, T* out, int64_t ld_out) {
  constexpr int64_t W = Vec<T>::size();
  int64_t col = 0;
  for (; col + C * W <= M; col += C * W) {
    micro<T, R, C>(K, lda, v, ld_v, A, accumulate, out, ld_out, col, W);
  }
  for (; col < M; col += W) {
    micro<T, R, 1>(K, lda, v, ld_v, A, accumulate, out, ld_out, col, std::min(W, M - col));
  }
}

// All n rows at one column block of C vectors: blocks of 6 rows, then the remainder.
template <typename T, int C>
void column_block(int64_t n, int64_t K, int64_t lda, const T* v, int64_t ld_v, const T* A,
                  bool accumulate, T* out, int64_t ld_out, int64_t col, int64_t last) {
  int64_t i = 0;
  for (; n - i >= 6; i += 6) {
    micro<T, 6, C>(K, lda, v + i * ld_v, ld_v, A, accumulate, out + i * ld_out, ld_out, col, last);
  }
  const T* vi = v + i * ld_v;
  T* oi = out + i * ld_out;
  switch (n - i) {
    case 5: micro<T, 5, C>(K, lda, vi, ld_v, A, accumulate, oi, ld_out, col, last); break;
    case 4: micro<T, 4, C>(K, lda, vi, ld_v, A, accumulate, oi, ld_out, col, last); break;
    case 3: micro<T, 3, C>(K, lda, vi, ld_v, A, accumulate, oi, ld_out, col, last); break;
    case 2: micro<T, 2, C>(K, lda, vi, ld_v, A, accumulate, oi, ld_out, col, last); break;
    case 1: micro<T, 1, C>(K, lda, vi, ld_v, A, accumulate, oi, ld_out, col, last); break;
    default: break;
  }
}

// out (n, M) = [out +] v (n, K) · A (K, M); row-major, A with leading dimension lda (>= M: a
// column range of a wider matrix). Up to 6 rows: one row block, its column blocks as wide as
// 12 accumulators allow. More rows: column blocks of 2 vectors outside, so each
// (K, 2 vectors) panel of A stays in cache for all row blocks.
template <typename T>
void rows_times_matrix(int64_t n, int64_t K, int64_t M, const T* v, int64_t ld_v, const T* A,
                       int64_t lda, bool accumulate, T* out, int64_t ld_out) {
  constexpr int64_t W = Vec<T>::size();
  switch (n) {
    case 1: return row_block<T, 1, 8>(K, M, lda, v, ld_v, A, accumulate, out, ld_out);
    case 2: return row_block<T, 2, 4>(K, M, lda, v, ld_v, A, accumulate, out, ld_out);
    case 3: return row_block<T, 3, 4>(K, M, lda, v, ld_v, A, accumulate, out, ld_out);
    case 4: return row_block<T, 4, 3>(K, M, lda, v, ld_v, A, accumulate, out, ld_out);
    case 5: return row_block<T, 5, 2>(K, M, lda, v, ld_v, A, accumulate, out, ld_out);
    case 6: return row_block<T, 6, 2>(K, M, lda, v, ld_v, A, accumulate, out, ld_out);
    default: break;
  }
  int64_t col = 0;
  for (; col + 2 * W <= M; col += 2 * W) {
    column_block<T, 2>(n, K, lda, v, ld_v, A, accumulate, out, ld_out, col, W);
  }
  for (; col < M; col += W) {
    column_block<T, 1>(n, K, lda, v, ld_v, A, accumulate, out, ld_out, col, std::min(W, M - col));
  }
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
      __at_align__ T lanes[L];
      acc[r][q].store(lanes);
      T s = 0;
      for (int64_t l = 0; l < L; ++l) s += lanes[l];
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
// no transposed copy of W, so the right kernel for a call of very few steps (streaming), where
// transposing W would cost more than the products.
template <typename T>
void rows_dot_matrix(int64_t n, int64_t K, int64_t M, const T* v, int64_t ld_v, const T* W,
                     bool accumulate, T* out, int64_t ld_out) {
  int64_t i = 0;
  for (; n - i >= 4; i += 4) {
    dot_rows<T, 4>(K, M, v + i * ld_v, ld_v, W, accumulate, out + i * ld_out, ld_out);
  }
  for (; i < n; ++i) dot_rows<T, 1>(K, M, v + i * ld_v, ld_v, W, accumulate, out + i * ld_out, ld_out);
}

// A weight W (rows, cols), row-major, and its transpose Wᵀ (cols, rows) contiguous, which the
// blocked kernel needs for rows·Wᵀ (null where only rows·W is asked for, or where the call has
// too few steps to pay for the copy: rows·Wᵀ then runs as dot products, rows_dot_matrix).
template <typename T>
struct Weight {
  const T* w = nullptr;
  int64_t rows = 0, cols = 0;
  const T* wt = nullptr;
  bool blas(int64_t n) const { return n * rows * cols >= kBlasMacs || force_aten_gemm(); }
};

// out (n, W.rows) = [out +] v (n, W.cols) · Wᵀ
template <typename T>
void times_wt(int64_t n, const T* v, int64_t ld_v, const Weight<T>& W, bool accumulate, T* out,
              int64_t ld_out) {
  if (W.blas(n)) {
    gemm<T>(true, false, W.rows, n, W.cols, W.w, W.cols, v, ld_v, T(accumulate), out, ld_out);
  } else if (W.wt) {
    rows_times_matrix(n, W.cols, W.rows, v, ld_v, W.wt, W.rows, accumulate, out, ld_out);
  } else {
    rows_dot_matrix(n, W.cols, W.rows, v, ld_v, W.w, accumulate, out, ld_out);
  }
}

// out (n, W.cols) = [out +] v (n, W.rows) · W
template <typename T>
void times_w(int64_t n, const T* v, int64_t ld_v, const Weight<T>& W, bool accumulate, T* out,
             int64_t ld_out) {
  if (!W.blas(n)) {
    rows_times_matrix(n, W.rows, W.cols, v, ld_v, W.w, W.cols, accumulate, out, ld_out);
  } else {
    gemm<T>(false, false, W.cols, n, W.rows, W.w, W.cols, v, ld_v, T(accumulate), out, ld_out);
  }
}

}  // namespace rnnkit
