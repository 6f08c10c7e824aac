// Teams of threads for one sweep, one fork per sweep instead of one per step: a per-step
// parallel_for (and MKL's threading) pays a fork/join every step, which at mid sizes (B = 16,
// H = 128) costs as much as the step's product itself. Two kinds (plan_team picks one):
// - a row team: each thread owns a block of the batch rows and runs the whole sweep on them
//   alone (the sequences of a batch are independent: no barrier at all); any cell;
// - a units team: each thread owns a slice of the H units of every row and runs all T steps on
//   it, meeting the others at a barrier where a step needs what all of them wrote (the product
//   h_{t-1}·W_hhᵀ needs every unit of h_{t-1}); for cells whose row math is unit-local (RNN,
//   LSTM, GRU, PeepholeLSTM) without projection, where the batch is too small to split.
//
// The team is torch's own OpenMP thread pool (the extension links the libgomp torch loaded):
// threads of our own would compete for the cores with OpenMP workers still spinning after
// torch's last parallel region (measured: a team of std::threads ran the B16 H128 RNN forward
// 1.6x slower than one thread, because of that). The barrier spins briefly, then yields.
#pragma once

#ifdef _OPENMP
#include <omp.h>
#endif

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <thread>
#include <vector>

#include "blas.h"
#include "cells.h"
#include "products.h"
#include "sweeps.h"

namespace rnnkit {

constexpr int kMaxTeam = 4;

// When a sweep gets a team: a step's product B·G·P >= min_step (below: too little to share) and
// T·B·G·P >= min_sweep (pays for waking the pool). set_team_limits() changes them (benchmarks
// tune them); force: a team wherever the cell and the thread count allow it (tests). Above
// these a team always runs: per-step BLAS with its own threads, the alternative, was the
// slowest of the three at every size measured once the products read packed panels.
struct TeamLimits {
  int64_t min_step = int64_t{1} << 17;
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

// The OpenMP threads a team can have here (1 inside a parallel region, or built without OpenMP),
// at most team_cap() (products.h).
inline int team_threads_available() {
#ifdef _OPENMP
  const int n = omp_in_parallel() ? 1 : std::min(omp_get_max_threads(), kMaxTeam);
  return team_cap() > 0 ? std::min(n, team_cap()) : n;
#else
  return 1;
#endif
}

// How a sweep is shared: nt threads (1: the calling thread alone), each owning a slice of the
// units of every row (a units team: barriers every step), or a block of the batch rows (a row
// team: each member runs the whole sweep on its own sequences, no barrier at all).
struct Team {
  int nt = 1;
  bool rows = false;
};

// Which team the sweeps take (tests and benchmarks force one; kAuto: plan_team's choice).
enum TeamSplit : int64_t { kAuto = 0, kUnits = 1, kRows = 2 };
inline int64_t& team_split() {
  static int64_t split = kAuto;
  return split;
}

// A row team member gets at least this many rows.
constexpr int64_t kMinTeamRows = 2;
// A cell the units team can run takes a row team first from this many rows per member where
// W_hh's rows are at most kRowTeamWidth wide (each member then reads all of W_hh every step,
// from its own cache; wider, a units team, whose members read their share, stays ahead).
constexpr int64_t kRowTeamRows = 4;
constexpr int64_t kRowTeamWidth = 512;

struct RowRange {
  int64_t lo, hi;
};

// The batch rows of member k of a row team of nt: consecutive blocks.
inline RowRange team_rows(int64_t B, int nt, int k) {
  const int64_t chunk = (B + nt - 1) / nt, lo = std::min(B, k * chunk);
  return RowRange{lo, std::min(B, lo + chunk)};
}

// The team for a sweep: unit_local where a units team may run it (Cell::unit_local, no
// projection), B rows per step at most, T steps, G gate columns, P state width, H units,
// `lanes` per vector.
inline Team plan_team(bool unit_local, int64_t B, int64_t T, int64_t G, int64_t P,
                      int64_t H, int64_t lanes) {
  if (force_aten_gemm()) return {};
  const int64_t threads = team_threads_available();
  const int64_t by_units = unit_local ? std::min(threads, (H + lanes - 1) / lanes) : 1;
  const int64_t by_rows = std::min(threads, B / kMinTeamRows);
  const Team units{static_cast<int>(by_units), false}, rows{static_cast<int>(by_rows), true};
  if (T < kPackSteps) {  // streaming: a units team only where W_hh is big enough that
    // reading half of it per thread pays for waking the team (stream_team_macs)
    const bool big = force_team() || G * P >= stream_team_macs();
    return by_units >= 2 && big ? units : Team{};
  }
  const int64_t split = team_split();
  if (split == kUnits) return by_units >= 2 ? units : Team{};
  if (split == kRows) return by_rows >= 2 ? rows : Team{};
  const TeamLimits& lim = team_limits();
  const int64_t step = B * G * P;
  const bool sized = step >= lim.min_step && T * step >= lim.min_sweep;
  if (!force_team() && !sized) return {};
  // measured (2 threads, forward + backward sweeps, min / median of 7 alternating runs, packed
  // panels): a row team of >= 4 rows per member ahead at P <= 512 (RNN B32 H256 15.4 vs 20.1 ms;
  // GRU B8 H512 22.5 vs 26.1; LSTM B8 H512 28.9 vs 39.2; GRU B64 H512 95 vs 116), a units team
  // at H = 1024 (RNN B16 26.0 vs 30.8; GRU B16 81 vs 95; GRU B128 303 vs 325) and at 2 rows per
  // member (GRU B4 H256 9.3 vs 11.8). The layer-norm, IndRNN, projected and compiled cells: row
  // team only.
  // (a single row, B < kMinTeamRows: no row team, so no share of rows to weigh)
  const bool rows_first =
      by_units < 2 || (by_rows >= 2 && B / by_rows >= kRowTeamRows && P <= kRowTeamWidth);
  if (by_rows >= 2 && rows_first) return rows;
  if (by_units >= 2) return units;
  if (by_rows >= 2) return rows;
  return {};
}

// Whether a sweep of T steps packs W_hh (and W_hr) into panels for the blocked kernel: all but
// a streaming call (fewer than kPackSteps: dot products on W_hh instead) and IndRNN's
// diagonal W_hh.
inline bool packs_w_hh(bool diagonal, int64_t T) {
  return !diagonal && T >= kPackSteps;
}

// Without packed panels (a streaming call), a member's share of a step product of at least
// this many multiply-adds goes to BLAS (called inside the OpenMP region, it runs on the
// member's thread alone); smaller ones to dot products / the row-major kernel.
constexpr int64_t kTeamBlasMacs = int64_t{1} << 19;

// out (n, m) [+]= v (n, W.cols) · Wᵀ[:, col : col + m], a member's columns of one block of
// Wᵀ: from its panels, or without them dot products on W's rows (BLAS for big shares).
template <typename T>
void member_times_wt(int64_t n, const T* v, int64_t ld_v, const Weight<T>& W, int64_t col,
                     int64_t m, bool accumulate, T* out, int64_t ld_out) {
  const int64_t k = W.cols;
  const T* rows = W.w + col * k;  // W's rows for these columns of Wᵀ
  if constexpr (std::is_same_v<T, float>) {
    if (W.pb.p) return bf16_times_panels(n, k, m, v, ld_v, W.pb, col, accumulate, out, ld_out);
  }
  if (W.pk) {
    rows_times_matrix(n, k, m, v, ld_v, W.panels_from(k, col), accumulate, out, ld_out);
  } else if (n * k * m >= kTeamBlasMacs && have_blas<T>()) {
    gemm<T>(true, false, m, n, k, rows, k, v, ld_v, T(accumulate), out, ld_out);
  } else {
    rows_dot_matrix(n, k, m, v, ld_v, rows, accumulate, out, ld_out);
  }
}

// out (n, m) [+]= v (n, W.rows) · W[:, col : col + m], a member's columns of W: from its
// panels, or without them from W itself (BLAS for big shares).
template <typename T>
void member_times_w(int64_t n, const T* v, int64_t ld_v, const Weight<T>& W, int64_t col,
                    int64_t m, bool accumulate, T* out, int64_t ld_out) {
  const int64_t k = W.rows;
  if constexpr (std::is_same_v<T, float>) {
    if (W.pb.p) return bf16_times_panels(n, k, m, v, ld_v, W.pb, col, accumulate, out, ld_out);
  }
  if (W.pk) {
    rows_times_matrix(n, k, m, v, ld_v, W.panels_from(k, col), accumulate, out, ld_out);
  } else if (n * k * m >= kTeamBlasMacs && have_blas<T>()) {
    gemm<T>(false, false, m, n, k, W.w + col, W.cols, v, ld_v, T(accumulate), out, ld_out);
  } else {
    rows_times_matrix(n, k, m, v, ld_v, Operand<T>::row_major(W.w + col, W.cols), accumulate,
                      out, ld_out);
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
  if constexpr (kThreadSanitizer) {  // see blas.h: the same members on threads TSan can see
    SpinBarrier barrier(nt);
    std::vector<std::thread> members;
    for (int k = 1; k < nt; ++k) members.emplace_back([&, k] { body(k, barrier); });
    body(0, barrier);
    for (auto& member : members) member.join();
    return;
  }
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

// step(t, lo, hi) for every step in processing order (backward: the reverse), on the calling
// thread or, for a row team, each member on its own block of rows (a units team is the
// caller's: this runs it solo).
template <typename Step>
void sweep_rows(const Steps& steps, Team team, bool backward, const Step& step) {
  auto order = [&](int64_t k) { return steps.at(backward ? steps.T() - 1 - k : k); };
  auto solo = [&] {
    for (int64_t k = 0; k < steps.T(); ++k) step(order(k), 0, steps.sizes[order(k)]);
  };
  if (team.nt <= 1 || !team.rows) return solo();
  run_team(team.nt, [&](int m, SpinBarrier&) {
    const RowRange r = team_rows(steps.B(), team.nt, m);
    for (int64_t k = 0; k < steps.T(); ++k) {
      const int64_t t = order(k), hi = std::min(r.hi, steps.sizes[t]);
      if (hi > r.lo) step(t, r.lo, hi);
    }
  }, solo);
}

}  // namespace rnnkit
