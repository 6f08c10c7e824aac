// A team of threads for one sweep: each thread owns a slice of the H units of every row and
// runs all T steps on it, meeting the others at a barrier where a step needs what all of them
// wrote (the product h_{t-1}·W_hhᵀ needs every unit of h_{t-1}). One fork per sweep instead of
// one per step: a per-step parallel_for (and MKL's threading) pays a fork/join every step,
// which at mid sizes (B = 16, H = 128) costs as much as the step's product itself.
//
// The team is torch's own OpenMP thread pool (the extension links the libgomp torch loaded):
// threads of our own would compete for the cores with OpenMP workers still spinning after
// torch's last parallel region (measured: a team of std::threads ran the B16 H128 RNN forward
// 1.6x slower than one thread, because of that). Used for the cells whose row math is
// unit-local (RNN, LSTM, GRU, PeepholeLSTM), without projection, when a step's product is
// large enough to share (team_size). The barrier spins briefly, then yields.
#pragma once

#ifdef _OPENMP
#include <omp.h>
#endif

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <thread>

#include "blas.h"
#include "cells.h"
#include "products.h"
#include "sweeps.h"

namespace rnnkit {

constexpr int kMaxTeam = 4;

// When a sweep gets a team: a step's product B·G·P in [min_step, max_step) (below: too little
// to share; above: BLAS with its own threads per step pays its fork/join less often than it
// gains) and T·B·G·P >= min_sweep (pays for waking the pool). set_team_limits() changes them (benchmarks tune them); force: a team
// wherever the cell and the thread count allow it (tests).
struct TeamLimits {
  int64_t min_step = int64_t{1} << 17;
  int64_t max_step = int64_t{1} << 24;
  int64_t min_sweep = int64_t{1} << 22;
  bool force = false;
};
inline TeamLimits& team_limits() {
  static TeamLimits limits;
  return limits;
}
inline bool& force_team() { return team_limits().force; }

class SpinBarrier {
 public:
  explicit SpinBarrier(int n) : n_(n), waiting_(n) {}
  void wait() {
    const int gen = gen_.load(std::memory_order_acquire);
    if (waiting_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      waiting_.store(n_, std::memory_order_relaxed);
      gen_.fetch_add(1, std::memory_order_release);
      return;
    }
    for (int spins = 0; gen_.load(std::memory_order_acquire) == gen; ++spins) {
      if (spins >= kSpins) std::this_thread::yield();
    }
  }

 private:
  static constexpr int kSpins = 4000;
  const int n_;
  std::atomic<int> waiting_;
  std::atomic<int> gen_{0};
};

// The OpenMP threads a team can have here (1 inside a parallel region, or built without OpenMP).
inline int team_threads_available() {
#ifdef _OPENMP
  return omp_in_parallel() ? 1 : std::min(omp_get_max_threads(), kMaxTeam);
#else
  return 1;
#endif
}

// How many threads share a sweep of `kind` (1: the calling thread alone). B rows per step at
// most, T steps, G gate columns, P state width, H units, `lanes` per vector.
inline int team_size(int64_t kind, bool proj, int64_t B, int64_t T, int64_t G, int64_t P,
                     int64_t H, int64_t lanes) {
  if (proj || layer_norm(kind) || diagonal(kind) || force_aten_gemm()) return 1;
  if (T < kTransposeSteps) return 1;  // streaming: the team's transposed W_hh would cost more
  int64_t nt = team_threads_available();
  nt = std::min(nt, (H + lanes - 1) / lanes);  // a whole vector of units each
  if (nt < 2) return 1;
  if (force_team()) return static_cast<int>(nt);
  const TeamLimits& lim = team_limits();
  const int64_t step = B * G * P;
  if (step < lim.min_step || step >= lim.max_step || T * step < lim.min_sweep) return 1;
  return static_cast<int>(nt);
}

// A member's share of a step product of at least this many multiply-adds goes to BLAS (called
// inside the OpenMP region, it runs on the member's thread alone); smaller ones to our kernels.
constexpr int64_t kTeamBlasMacs = int64_t{1} << 19;

// out (n, m) [+]= v (n, k) · A where A's rows hold the m outputs' weights, each k long with
// leading dimension lda (rows·Wᵀ on a slice of W's rows; transposed: A_t (k, m), lda_t).
template <typename T>
void member_times_wt(int64_t n, int64_t k, int64_t m, const T* v, int64_t ld_v, const T* A,
                     int64_t lda, const T* A_t, int64_t lda_t, bool accumulate, T* out,
                     int64_t ld_out) {
  if (n * k * m >= kTeamBlasMacs && have_blas<T>()) {
    gemm<T>(true, false, m, n, k, A, lda, v, ld_v, T(accumulate), out, ld_out);
  } else {
    rows_times_matrix(n, k, m, v, ld_v, A_t, lda_t, accumulate, out, ld_out);
  }
}

// out (n, m) [+]= v (n, k) · A with A (k, m) row-major, leading dimension lda (a column slice).
template <typename T>
void member_times_w(int64_t n, int64_t k, int64_t m, const T* v, int64_t ld_v, const T* A,
                    int64_t lda, bool accumulate, T* out, int64_t ld_out) {
  if (n * k * m >= kTeamBlasMacs && have_blas<T>()) {
    gemm<T>(false, false, m, n, k, A, lda, v, ld_v, T(accumulate), out, ld_out);
  } else {
    rows_times_matrix(n, k, m, v, ld_v, A, lda, accumulate, out, ld_out);
  }
}

// Vector lanes for the dtype of t (float or double).
inline int64_t lanes_of(const at::Tensor& t) {
  return t.scalar_type() == at::kFloat ? Vec<float>::size() : Vec<double>::size();
}

// The units of member k of a team of nt: consecutive slices, whole vectors but for the last.
inline Units team_units(int64_t H, int nt, int k, int64_t lanes) {
  const int64_t vectors = (H + lanes - 1) / lanes;
  const int64_t chunk = (vectors + nt - 1) / nt * lanes;
  const int64_t lo = std::min(H, k * chunk);
  return Units{lo, std::min(H, lo + chunk)};
}

// body(k, barrier) for k < nt on the threads of an OpenMP parallel region; where the region
// has fewer than nt threads (OpenMP may give fewer), solo() on one thread instead. Every thread
// of the region sees the same count, so no member waits for one that never comes.
template <typename Body, typename Solo>
void run_team(int nt, const Body& body, const Solo& solo) {
#ifdef _OPENMP
  SpinBarrier barrier(nt);
#pragma omp parallel
  {
    const int got = omp_get_num_threads(), k = omp_get_thread_num();
    if (got >= nt) {
      if (k < nt) body(k, barrier);
    } else if (k == 0) {
      solo();
    }
  }
#else
  (void)nt, (void)body;
  solo();
#endif
}

}  // namespace rnnkit
