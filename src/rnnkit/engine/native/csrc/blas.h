// Raw-pointer GEMM for the per-step products too large for the kernels in products.h.
//
// Going through at::addmm would cost a dispatcher round trip and a tensor per step; here we call
// the Fortran BLAS that libtorch_cpu links (MKL's sgemm_/dgemm_) directly. The symbols are
// declared weak: where the torch build exports none, they resolve to null and we fall back to
// ATen's mm on tensor views of the same memory (slower, same result).
//
// Convention: column-major BLAS. A row-major (r, c) matrix with leading dimension ld is the
// column-major (c, r) matrix with the same ld, so row-major C = A·Bᵀ becomes gemm(T, N, ...).
#pragma once

#include <ATen/core/Tensor.h>
#include <ATen/ops/from_blob.h>
#include <ATen/ops/mm.h>

#include <cstdint>
#include <type_traits>

extern "C" {
void sgemm_(const char* transa, const char* transb, const int* m, const int* n, const int* k,
            const float* alpha, const float* a, const int* lda, const float* b, const int* ldb,
            const float* beta, float* c, const int* ldc) __attribute__((weak));
void dgemm_(const char* transa, const char* transb, const int* m, const int* n, const int* k,
            const double* alpha, const double* a, const int* lda, const double* b,
            const int* ldb, const double* beta, double* c, const int* ldc)
    __attribute__((weak));
}

namespace rnnkit {

// ThreadSanitizer builds (RNNKIT_NATIVE_SANITIZE=thread): libgomp is not instrumented, so TSan
// cannot see an OpenMP region's fork and join and would report every hand-off across one. There
// a team runs on std::threads (team.h) and nothing else of ours forks (may_use_threads,
// for_rows): what TSan checks is the teams' partition of the work and their barrier.
#if defined(__SANITIZE_THREAD__)
constexpr bool kThreadSanitizer = true;
#else
constexpr bool kThreadSanitizer = false;
#endif

// Set by use_aten_gemm(): route every product through ATen (tests exercise the fallback).
inline bool& force_aten_gemm() {
  static bool force = false;
  return force;
}

// op(X)ᵀ as a row-major tensor view: X is column-major rows x cols (ld) before op.
template <typename T>
at::Tensor op_t_view(const T* p, bool trans, int64_t rows, int64_t cols, int64_t ld) {
  auto opts = at::TensorOptions().dtype(c10::CppTypeToScalarType<T>::value);
  auto* q = const_cast<T*>(p);
  // column-major (rows, cols) ld  ==  row-major (cols, rows) with strides (ld, 1) == Xᵀ
  auto xt = at::from_blob(q, {cols, rows}, {ld, 1}, opts);
  return trans ? xt.t() : xt;  // op(X)ᵀ = Xᵀ, or X when op transposes
}

// C (m, n) = op(A) (m, k) · op(B) (k, n) + beta·C, all column-major, through ATen.
template <typename T>
void gemm_aten(bool ta, bool tb, int64_t m, int64_t n, int64_t k, const T* a, int64_t lda,
               const T* b, int64_t ldb, T beta, T* c, int64_t ldc) {
  at::Tensor a_t = op_t_view(a, ta, ta ? k : m, ta ? m : k, lda);  // op(A)ᵀ (k, m)
  at::Tensor b_t = op_t_view(b, tb, tb ? n : k, tb ? k : n, ldb);  // op(B)ᵀ (n, k)
  auto opts = at::TensorOptions().dtype(c10::CppTypeToScalarType<T>::value);
  at::Tensor c_t = at::from_blob(c, {n, m}, {ldc, 1}, opts);  // Cᵀ (n, m)
  at::Tensor prod = at::mm(b_t, a_t);  // Cᵀ = op(B)ᵀ·op(A)ᵀ
  if (beta == T(0)) {
    c_t.copy_(prod);
  } else {
    c_t.mul_(beta).add_(prod);
  }
}

inline void blas_call(const char* ta, const char* tb, const int* m, const int* n, const int* k,
                      const float* al, const float* a, const int* lda, const float* b,
                      const int* ldb, const float* be, float* c, const int* ldc) {
  sgemm_(ta, tb, m, n, k, al, a, lda, b, ldb, be, c, ldc);
}
inline void blas_call(const char* ta, const char* tb, const int* m, const int* n, const int* k,
                      const double* al, const double* a, const int* lda, const double* b,
                      const int* ldb, const double* be, double* c, const int* ldc) {
  dgemm_(ta, tb, m, n, k, al, a, lda, b, ldb, be, c, ldc);
}

template <typename T>
bool have_blas() {
  if (force_aten_gemm()) return false;
  if constexpr (std::is_same_v<T, float>) {
    return sgemm_ != nullptr;
  } else {
    return dgemm_ != nullptr;
  }
}

// C = op(A)·op(B) + beta·C, column-major, alpha = 1. Dimensions fit in int (checked by caller).
template <typename T>
void gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, const T* a, int64_t lda,
          const T* b, int64_t ldb, T beta, T* c, int64_t ldc) {
  if (!have_blas<T>()) {
    gemm_aten(ta, tb, m, n, k, a, lda, b, ldb, beta, c, ldc);
    return;
  }
  const char tra = ta ? 'T' : 'N', trb = tb ? 'T' : 'N';
  const int im = m, in = n, ik = k, ilda = lda, ildb = ldb, ildc = ldc;
  const T one = 1;
  blas_call(&tra, &trb, &im, &in, &ik, &one, a, &ilda, b, &ildb, &beta, c, &ildc);
}

}  // namespace rnnkit
