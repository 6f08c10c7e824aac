// The per-step products in bfloat16 with float32 accumulation (AVX512-BF16's vdpbf16ps), for
// training under torch.autocast("cpu", dtype=torch.bfloat16): h·W_hhᵀ (forward) and dG·W_hh
// (backward). Each vdpbf16ps multiplies 16 pairs of bfloat16 and adds both products of a pair
// to a float32 lane: twice the multiply-adds of a float32 FMA per instruction, and half the
// bytes of W_hh to read each step. The weight is rounded to bfloat16 once per sweep, the rows
// (h_{t-1} or dG_t) once per step; the sums and everything else stay float32.
//
// Built into every x86-64 variant with a function-level target, and used only where the CPU
// reports avx512_bf16 (cpu_has_bf16): the sweep then packs W_hh's bfloat16 panels (Weight::pb),
// and the products go here instead of products.h.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

// GCC 10 and clang 12 know avx512bf16 (its intrinsics and __builtin_cpu_supports name); with
// an older compiler the float32 kernels run the products (cpu_has_bf16() is false)
#if defined(__x86_64__) && \
    (defined(__clang__) ? __clang_major__ >= 12 : (defined(__GNUC__) && __GNUC__ >= 10))
#include <immintrin.h>
#define RNNKIT_HAVE_BF16_KERNEL 1
#define RNNKIT_BF16 __attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16")))
#else
#define RNNKIT_HAVE_BF16_KERNEL 0
#endif

namespace rnnkit {

constexpr int64_t kBf16Lanes = 16;  // float32 accumulator lanes of one zmm

// Whether this process's products run in bfloat16 (set around a sweep by the autocast path;
// thread-local: a sweep reads it on the thread that calls it).
inline bool& bf16_products() {
  thread_local bool on = false;
  return on;
}

// Sets this thread's bf16_products() for a scope, then restores it (a sweep run on a team
// member's thread, where the caller's thread-local setting is not seen).
struct Bf16ProductsScope {
  bool was;
  explicit Bf16ProductsScope(bool on) : was(bf16_products()) { bf16_products() = on; }
  ~Bf16ProductsScope() { bf16_products() = was; }
  Bf16ProductsScope(const Bf16ProductsScope&) = delete;
  Bf16ProductsScope& operator=(const Bf16ProductsScope&) = delete;
};

inline bool cpu_has_bf16() {
#if RNNKIT_HAVE_BF16_KERNEL
  static const bool has = __builtin_cpu_supports("avx512bf16") && __builtin_cpu_supports("avx512bw");
  return has;
#else
  return false;
#endif
}

// float to bfloat16, round to nearest even (NaN kept quiet): the rounding vcvtneps2bf16 does.
inline uint16_t to_bf16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((u >> 16) | 0x40);
  u += 0x7fffu + ((u >> 16) & 1u);
  return static_cast<uint16_t>(u >> 16);
}

// Size in bfloat16 entries of the panels of A (K, M), columns in blocks of `block`: each
// vector of 16 columns of a block a (ceil(K / 2), 16, 2) panel, k in pairs, zero-padded.
inline int64_t bf16_packed_size(int64_t K, int64_t M, int64_t block) {
  const int64_t vectors = (block + kBf16Lanes - 1) / kBf16Lanes;
  return (K + 1) / 2 * (M / block) * vectors * kBf16Lanes * 2;
}

// Packs A (K, M), element (k, m) at src[k·sk + m·sm], into bfloat16 panels as above.
inline void bf16_pack_panels(int64_t K, int64_t M, int64_t block, const float* src, int64_t sk,
                             int64_t sm, uint16_t* out) {
  const int64_t K2 = (K + 1) / 2;
  for (int64_t b0 = 0; b0 < M; b0 += block) {
    for (int64_t c0 = 0; c0 < block; c0 += kBf16Lanes, out += K2 * kBf16Lanes * 2) {
      const int64_t lanes = std::min(kBf16Lanes, block - c0);
      const float* s = src + (b0 + c0) * sm;
      for (int64_t k = 0; k < 2 * K2; ++k) {
        for (int64_t l = 0; l < kBf16Lanes; ++l) {
          const bool real = k < K && l < lanes;
          out[(k / 2 * kBf16Lanes + l) * 2 + k % 2] = real ? to_bf16(s[k * sk + l * sm]) : 0;
        }
      }
    }
  }
}

// The bfloat16 panels of one weight: columns in blocks of `block` as the float32 panels'.
struct Bf16Panels {
  const uint16_t* p = nullptr;
  int64_t K = 0, block = 0;
  // the panel of the 16 columns starting at col (col a multiple of 16 within its block)
  const uint16_t* from(int64_t col) const {
    const int64_t vectors = (block + kBf16Lanes - 1) / kBf16Lanes;
    const int64_t panel = (col / block) * vectors + (col % block) / kBf16Lanes;
    return p + panel * ((K + 1) / 2) * kBf16Lanes * 2;
  }
};

#if RNNKIT_HAVE_BF16_KERNEL
// out[r] (+)= Σ_k v[r][k]·A[k, col : col + C·16] for R rows, `last` lanes in the last vector;
// v's rows as bfloat16 pairs (uint32), A's C panels `stride` entries apart.
template <int R, int C>
RNNKIT_BF16 void bf16_micro(int64_t K2, const uint16_t* a, int64_t stride, const uint32_t* v,
                            int64_t ld_v, bool accumulate, float* out, int64_t ld_out,
                            int64_t last) {
  const __mmask16 tail = static_cast<__mmask16>((1u << last) - 1u);
  auto mask = [&](int c) { return c == C - 1 ? tail : static_cast<__mmask16>(0xffff); };
  __m512 acc[R][C];
  for (int r = 0; r < R; ++r) {
    for (int c = 0; c < C; ++c) {
      acc[r][c] = accumulate ? _mm512_maskz_loadu_ps(mask(c), out + r * ld_out + c * kBf16Lanes)
                             : _mm512_setzero_ps();
    }
  }
  for (int64_t p = 0; p < K2; ++p) {
    __m512bh w[C];
    for (int c = 0; c < C; ++c) {
      w[c] = (__m512bh)_mm512_loadu_si512(a + c * stride + p * kBf16Lanes * 2);
    }
    for (int r = 0; r < R; ++r) {
      const __m512bh s = (__m512bh)_mm512_set1_epi32(static_cast<int>(v[r * ld_v + p]));
      for (int c = 0; c < C; ++c) acc[r][c] = _mm512_dpbf16_ps(acc[r][c], s, w[c]);
    }
  }
  for (int r = 0; r < R; ++r) {
    for (int c = 0; c < C; ++c) {
      _mm512_mask_storeu_ps(out + r * ld_out + c * kBf16Lanes, mask(c), acc[r][c]);
    }
  }
}

// All n rows at the C vectors of panels from `a` on: blocks of 6 rows, then the remainder.
template <int C>
RNNKIT_BF16 void bf16_column(int64_t n, int64_t K2, const uint16_t* a, const uint32_t* v,
                             bool accumulate, float* out, int64_t ld_out, int64_t last) {
  const int64_t panel = K2 * kBf16Lanes * 2;
  int64_t i = 0;
  for (; n - i >= 6; i += 6) {
    bf16_micro<6, C>(K2, a, panel, v + i * K2, K2, accumulate, out + i * ld_out, ld_out, last);
  }
  const uint32_t* vi = v + i * K2;
  float* oi = out + i * ld_out;
  switch (n - i) {
    case 5: return bf16_micro<5, C>(K2, a, panel, vi, K2, accumulate, oi, ld_out, last);
    case 4: return bf16_micro<4, C>(K2, a, panel, vi, K2, accumulate, oi, ld_out, last);
    case 3: return bf16_micro<3, C>(K2, a, panel, vi, K2, accumulate, oi, ld_out, last);
    case 2: return bf16_micro<2, C>(K2, a, panel, vi, K2, accumulate, oi, ld_out, last);
    case 1: return bf16_micro<1, C>(K2, a, panel, vi, K2, accumulate, oi, ld_out, last);
    default: return;
  }
}

// The rows of v (n, K) as bfloat16, each padded to an even length (K2 pairs).
RNNKIT_BF16 inline void bf16_rows_of(int64_t n, int64_t K, const float* v, int64_t ld_v,
                                     uint16_t* out) {
  const int64_t ld = (K + 1) / 2 * 2;
  for (int64_t r = 0; r < n; ++r) {
    const float* s = v + r * ld_v;
    uint16_t* d = out + r * ld;
    int64_t k = 0;
    for (; k + 32 <= K; k += 32) {
      const __m512bh b = _mm512_cvtne2ps_pbh(_mm512_loadu_ps(s + k + 16), _mm512_loadu_ps(s + k));
      _mm512_storeu_si512(d + k, (__m512i)b);
    }
    for (; k < K; ++k) d[k] = to_bf16(s[k]);
    if (K % 2) d[K] = 0;
  }
}

// Columns [lo, hi) of a float row: rounded to bfloat16 into dst (as the per-step rows are) and
// added into sum (float): a backward sweep's dG row, kept for the weight-gradient GEMMs.
RNNKIT_BF16 inline void bf16_round_add(int64_t lo, int64_t hi, const float* src, uint16_t* dst,
                                       float* sum) {
  int64_t k = lo;
  for (; k + kBf16Lanes <= hi; k += kBf16Lanes) {
    const __m512 v = _mm512_loadu_ps(src + k);
    _mm512_storeu_ps(sum + k, _mm512_add_ps(_mm512_loadu_ps(sum + k), v));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + k), (__m256i)_mm512_cvtneps_pbh(v));
  }
  for (; k < hi; ++k) {
    sum[k] += src[k];
    dst[k] = to_bf16(src[k]);
  }
}

// The rows of v (n, K) as bfloat16 pairs, in this thread's buffer (valid until its next call).
RNNKIT_BF16 inline const uint32_t* bf16_rows(int64_t n, int64_t K, const float* v, int64_t ld_v) {
  thread_local std::vector<uint16_t> rows;
  rows.resize(n * ((K + 1) / 2) * 2);
  bf16_rows_of(n, K, v, ld_v, rows.data());
  return reinterpret_cast<const uint32_t*>(rows.data());
}

// out (n, m) [+]= rows (n, K2 pairs) · A[:, col : col + m] from A's bfloat16 panels (col and,
// unless it reaches the block's end, m multiples of 16 within one block).
RNNKIT_BF16 inline void bf16_rows_times_panels(int64_t n, int64_t K2, int64_t m,
                                               const uint32_t* r32, const Bf16Panels& A,
                                               int64_t col, bool accumulate, float* out,
                                               int64_t ld_out) {
  const uint16_t* a = A.from(col);
  const int64_t panel = K2 * kBf16Lanes * 2;
  int64_t c = 0;  // columns in blocks of 4 vectors (each panel block in cache for all rows)
  for (; c + 4 * kBf16Lanes <= m; c += 4 * kBf16Lanes) {
    bf16_column<4>(n, K2, a + c / kBf16Lanes * panel, r32, accumulate, out + c, ld_out, kBf16Lanes);
  }
  for (; c < m; c += kBf16Lanes) {
    bf16_column<1>(n, K2, a + c / kBf16Lanes * panel, r32, accumulate, out + c, ld_out,
                   std::min(kBf16Lanes, m - c));
  }
}

// out (n, m) [+]= v (n, K) · A[:, col : col + m]: the rows rounded, then the product above
RNNKIT_BF16 inline void bf16_times_panels(int64_t n, int64_t K, int64_t m, const float* v,
                                          int64_t ld_v, const Bf16Panels& A, int64_t col,
                                          bool accumulate, float* out, int64_t ld_out) {
  const uint32_t* r32 = bf16_rows(n, K, v, ld_v);
  bf16_rows_times_panels(n, (K + 1) / 2, m, r32, A, col, accumulate, out, ld_out);
}

// out (n, M) [+]= rows (n, K2 pairs) · A (K, M) over all of A's column blocks
RNNKIT_BF16 inline void bf16_rounded_times_blocks(int64_t n, int64_t K2, int64_t M,
                                                  const uint32_t* r32, const Bf16Panels& A,
                                                  bool accumulate, float* out, int64_t ld_out) {
  for (int64_t b0 = 0; b0 < M; b0 += A.block) {
    bf16_rows_times_panels(n, K2, A.block, r32, A, b0, accumulate, out + b0, ld_out);
  }
}

// out (n, M) [+]= v (n, K) · A (K, M) over all of A's column blocks (the rows rounded once)
RNNKIT_BF16 inline void bf16_times_blocks(int64_t n, int64_t K, int64_t M, const float* v,
                                          int64_t ld_v, const Bf16Panels& A, bool accumulate,
                                          float* out, int64_t ld_out) {
  const uint32_t* r32 = bf16_rows(n, K, v, ld_v);
  bf16_rounded_times_blocks(n, (K + 1) / 2, M, r32, A, accumulate, out, ld_out);
}
#else
inline void bf16_round_add(int64_t, int64_t, const float*, uint16_t*, float*) {}
inline void bf16_rounded_times_blocks(int64_t, int64_t, int64_t, const uint32_t*,
                                      const Bf16Panels&, bool, float*, int64_t) {}
inline void bf16_rows_times_panels(int64_t, int64_t, int64_t, const uint32_t*, const Bf16Panels&,
                                   int64_t, bool, float*, int64_t) {}
inline void bf16_times_blocks(int64_t, int64_t, int64_t, const float*, int64_t,
                              const Bf16Panels&, bool, float*, int64_t) {}
inline void bf16_times_panels(int64_t, int64_t, int64_t, const float*, int64_t,
                              const Bf16Panels&, int64_t, bool, float*, int64_t) {}
#endif

}  // namespace rnnkit
