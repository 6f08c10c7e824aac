// Vectorized sigmoid and tanh for the cell kernels.
//
// float: fast forms measured about 3-9x faster than SLEEF's 1-ulp tanh/exp that Vectorized uses,
//   with absolute error below 3e-7 (a few ulp): tanh is a [13/6] rational minimax fit (the one
//   Eigen uses), odd, so it stays accurate relative to x near 0; sigmoid is 1 / (1 + exp(-x))
//   with ATen's exp_u20 polynomial. Both propagate NaN.
// double: SLEEF's 1-ulp functions (the precise path the float64 tests check to 1e-10).
#pragma once

#include <ATen/cpu/vec/functional.h>
#include <ATen/cpu/vec/vec.h>

#include <type_traits>

namespace rnnkit {

template <typename T>
using Vec = at::vec::Vectorized<T>;

template <typename T>
inline Vec<T> sigmoid(const Vec<T>& x) {
  const Vec<T> one(T(1));
  return one / (one + x.neg().exp());
}

template <>
inline Vec<float> sigmoid(const Vec<float>& x) {
  const Vec<float> one(1.f);
  Vec<float> s = one / (one + x.neg().exp_u20());
  return Vec<float>::blendv(s, x, x != x);  // exp_u20 clamps NaN away: put it back
}

template <typename T>
inline Vec<T> tanh(const Vec<T>& x) {
  return x.tanh();
}

template <>
inline Vec<float> tanh(const Vec<float>& a) {
  using V = Vec<float>;
  using at::vec::fmadd;
  const V clamp(7.90531110763549805f);  // the fit's range; tanh is ±1 - 2.4e-7 at its ends
  const V x = at::vec::minimum(at::vec::maximum(a, clamp.neg()), clamp);
  const V x2 = x * x;
  V p = fmadd(x2, V(-2.76076847742355e-16f), V(2.00018790482477e-13f));  // odd numerator
  p = fmadd(x2, p, V(-8.60467152213735e-11f));
  p = fmadd(x2, p, V(5.12229709037114e-08f));
  p = fmadd(x2, p, V(1.48572235717979e-05f));
  p = fmadd(x2, p, V(6.37261928875436e-04f));
  p = fmadd(x2, p, V(4.89352455891786e-03f));
  V q = fmadd(x2, V(1.19825839466702e-06f), V(1.18534705686654e-04f));  // even denominator
  q = fmadd(x2, q, V(2.26843463243900e-03f));
  q = fmadd(x2, q, V(4.89352518554385e-03f));
  const V sat(9.f), one(1.f);  // tanh rounds to ±1 in float beyond about 8.7
  V t = x * p / q;
  t = V::blendv(t, one, a >= sat);
  return V::blendv(t, one.neg(), a <= sat.neg());
}

// The sum of a vector's lanes: float through ATen's shuffle tree on AVX2/AVX-512 (16 scalar
// adds from memory made the 16-lane build's dot products slower than the 8-lane one), else
// lane by lane (ATen's generic reduction is slower than that for double and emulated vectors).
template <typename T>
inline T lane_sum(const Vec<T>& v) {
#if defined(CPU_CAPABILITY_AVX2) || defined(CPU_CAPABILITY_AVX512)
  if constexpr (std::is_same_v<T, float>) {
    return at::vec::vec_reduce_all<float>([](Vec<float>& a, Vec<float>& b) { return a + b; }, v);
  }
#endif
  __at_align__ T lanes[Vec<T>::size()];
  v.store(lanes);
  T s = 0;
  for (int64_t l = 0; l < Vec<T>::size(); ++l) s += lanes[l];
  return s;
}

}  // namespace rnnkit
