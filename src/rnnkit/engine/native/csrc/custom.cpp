// The time loops for cells compiled from their Python step (engine/native/codegen.py): the
// same per-step product h_{t-1}·W_hhᵀ as the built-in cells (products.h), and a row kernel
// called through a function pointer from the cell's own shared library.
//
// A compiled cell has G = gates·H pre-activations, E extra states (kept side by side per row,
// (., E·H)), and its own parameters. The forward keeps gx as the pre-activations (the saved
// input of the backward, which recomputes the step) and, for split cells, saves gh =
// h_{t-1}·W_hhᵀ + b_hh per row in aux. Threads: a row team where plan_team gives one (the
// row kernel computes all units of its row, so never a units team), else for_rows.
#include <ATen/ops/zeros.h>

#include <cstring>

#include "forward.h"

namespace rnnkit {
namespace {

// One row's forward: h_out (H) and xs_out (E·H) from gx, gh (G; null unless split), h_{t-1},
// the extra states xs_prev (E·H) and the cell parameters.
template <typename T>
using CellFwd = void (*)(int64_t H, const T* gx, const T* gh, const T* h_prev, const T* xs_prev,
                         const T* const* prm, T* h_out, T* xs_out);
// One row's backward. dh: dL/dh_t from the next step in (dy added inside), the direct part of
// dL/dh_{t-1} out; dxs: dL/d(extra_t) in, dL/d(extra_{t-1}) out; dgx, dgh (G) out; dP (the
// parameters' columns) accumulated.
template <typename T>
using CellBwd = void (*)(int64_t H, T* dh, const T* dy, T* dxs, const T* gx, const T* gh,
                         const T* h_prev, const T* xs_prev, const T* const* prm, T* dgx, T* dgh,
                         T* dP);

struct Shape {
  int64_t H, G, E, KP;  // KP: parameter-gradient columns
};

// The compiled cell's parameters as pointers (null where absent), checked against their units.
template <typename T>
std::vector<const T*> cell_param_ptrs(const TensorList& params, const std::vector<int64_t>& units,
                                 int64_t H, const at::Tensor& like, std::vector<at::Tensor>& keep) {
  TORCH_CHECK(params.size() == units.size(), "native cell: expected ", units.size(),
              " cell parameters, got ", params.size());
  std::vector<const T*> out;
  for (size_t k = 0; k < units.size(); ++k) {
    if (units[k] == 0) {
      out.push_back(nullptr);
      continue;
    }
    keep.push_back(checked(params[k], "cell parameter", {units[k] * H}, like));
    out.push_back(ptr<T>(keep.back()));
  }
  return out;
}

// The states before step t of its row i: the previous step's row, or the initial state for rows
// that start here (a reverse direction's growing batch). Rows have width w.
template <typename T>
const T* prev_row(const Steps& steps, int64_t t, int64_t i, int64_t w, const T* saved,
                  const T* init) {
  const int64_t p = steps.prev(t), n_p = p < 0 ? 0 : steps.sizes[p];
  return i < n_p ? saved + (steps.offsets[p] + i) * w : init + i * w;
}

Shape shape_of(int64_t gates, int64_t extras, const std::vector<int64_t>& units, int64_t H) {
  TORCH_CHECK(gates >= 1 && extras >= 0, "native cell: bad gates ", gates, " or extras ", extras);
  int64_t KP = 0;
  for (int64_t u : units) KP += u * H;
  return {H, gates * H, extras, KP};
}

}  // namespace

std::vector<at::Tensor> custom_forward_sweep(std::vector<int64_t> fns, int64_t gates,
                                             int64_t extras, bool split, at::Tensor gx,
                                             at::Tensor W_hh, std::optional<at::Tensor> b_hh,
                                             at::Tensor h0, std::optional<at::Tensor> xs0,
                                             TensorList params, std::vector<int64_t> units,
                                             std::vector<int64_t> batch_sizes, bool reverse) {
  TORCH_CHECK(fns.size() == 4, "native cell: expected 4 kernel addresses");
  const Steps steps(batch_sizes, reverse);
  const int64_t N = steps.N(), B = steps.B(), H = W_hh.size(-1);
  const Shape s = shape_of(gates, extras, units, H);
  const int64_t G = s.G, EH = s.E * H;
  TORCH_CHECK(gx.is_contiguous(), "native cell: gx must be contiguous");
  gx = checked(gx, "gx", {N, G}, gx);
  W_hh = checked(W_hh, "W_hh", {G, H}, gx);
  at::Tensor b_hh_c = split && b_hh ? checked(b_hh, "b_hh", {G}, gx) : at::Tensor();
  at::Tensor h = checked(h0, "h0", {B, H}, gx).clone();  // running state, becomes h_n
  at::Tensor xs = EH ? checked(xs0, "extra states", {B, EH}, gx).clone() : at::Tensor();
  at::Tensor y = at::empty({N, H}, gx.options());
  at::Tensor S = EH ? at::empty({N, EH}, gx.options()) : at::Tensor();
  at::Tensor aux = split ? at::empty({N, G}, gx.options()) : at::Tensor();
  const Team team = plan_team(false, B, steps.T(), G, H, H, lanes_of(gx));
  const bool pack = packs_w_hh(false, steps.T());
  at::Tensor W_hh_p;
  std::vector<at::Tensor> keep;
  AT_DISPATCH_FLOATING_TYPES(gx.scalar_type(), "rnnkit_custom_forward", [&] {
    using T = scalar_t;
    const auto fwd = reinterpret_cast<CellFwd<T>>(fns[sizeof(T) == 4 ? 0 : 1]);
    const std::vector<const T*> prm = cell_param_ptrs<T>(params, units, H, gx, keep);
    const Weight<T> W = packed_weight<T>(W_hh, true, G, pack, W_hh_p);
    T *hp = ptr<T>(h), *xp = ptr<T>(xs), *yp = ptr<T>(y), *Sp = ptr<T>(S);
    const T* bp = ptr<T>(b_hh_c);
    if (bp) {  // gh = b_hh + h·W_hhᵀ: every row's bias first, once, outside the time loop
      for (int64_t r = 0; r < N; ++r) std::memcpy(ptr<T>(aux) + r * G, bp, G * sizeof(T));
    }
    // rows [lo, hi) of step t: rows·W_hhᵀ, then each row's kernel, then the running state
    auto step = [&](int64_t t, int64_t lo, int64_t hi) {
      const int64_t n = hi - lo, off = steps.offsets[t] + lo;
      T* g = ptr<T>(gx) + off * G;
      T* gh = split ? ptr<T>(aux) + off * G : nullptr;  // gh saved per row
      // gx += h·W_hhᵀ, or gh (+)= h·W_hhᵀ onto the bias
      times_wt(n, hp + lo * H, H, W, !split || bp, split ? gh : g, G);
      for_rows(n, G, [&](int64_t i) {
        fwd(H, g + i * G, split ? gh + i * G : nullptr, hp + (lo + i) * H,
            EH ? xp + (lo + i) * EH : nullptr, prm.data(), yp + (off + i) * H,
            EH ? Sp + (off + i) * EH : nullptr);
      });
      std::memcpy(hp + lo * H, yp + off * H, n * H * sizeof(T));
      if (EH) std::memcpy(xp + lo * EH, Sp + off * EH, n * EH * sizeof(T));
    };
    sweep_rows(steps, team, false, step);
  });
  return {y, h, xs, S, aux};
}

std::vector<at::Tensor> custom_backward_sweep(
    std::vector<int64_t> fns, int64_t gates, int64_t extras, bool split, at::Tensor gx,
    std::optional<at::Tensor> aux, std::optional<at::Tensor> S, at::Tensor y, at::Tensor h0,
    std::optional<at::Tensor> xs0, at::Tensor W_hh, TensorList params,
    std::vector<int64_t> units, at::Tensor dy, at::Tensor dh_n, std::optional<at::Tensor> dxs_n,
    std::vector<int64_t> batch_sizes, bool reverse) {
  TORCH_CHECK(fns.size() == 4, "native cell: expected 4 kernel addresses");
  const Steps steps(batch_sizes, reverse);
  const int64_t N = steps.N(), B = steps.B(), H = W_hh.size(-1);
  const Shape s = shape_of(gates, extras, units, H);
  const int64_t G = s.G, EH = s.E * H, KP = s.KP;
  y = checked(y, "y", {N, H}, y), h0 = checked(h0, "h0", {B, H}, y);
  gx = checked(gx, "saved pre-activations", {N, G}, y);
  at::Tensor aux_c = split ? checked(aux, "saved gh", {N, G}, y) : at::Tensor();
  at::Tensor S_c = EH ? checked(S, "saved extra states", {N, EH}, y) : at::Tensor();
  at::Tensor xs0_c = EH ? checked(xs0, "extra states", {B, EH}, y) : at::Tensor();
  W_hh = checked(W_hh, "W_hh", {G, H}, y);
  dy = checked(dy, "dy", {N, H}, y);
  at::Tensor dh = checked(dh_n, "dh_n", {B, H}, y).clone();  // state, becomes dh_0
  at::Tensor dxs = EH ? checked(dxs_n, "d extra states", {B, EH}, y).clone() : at::Tensor();
  at::Tensor dG = at::empty({N, G}, y.options());
  at::Tensor dG_h = split ? at::empty({N, G}, y.options()) : dG;
  at::Tensor H_prev = at::empty({N, H}, y.options());
  at::Tensor dP = KP ? at::zeros({B, KP}, y.options()) : at::Tensor();
  const Team team = plan_team(false, B, steps.T(), G, H, H, lanes_of(y));
  const bool pack = packs_w_hh(false, steps.T());
  at::Tensor W_hh_p;  // W_hh's panels for dG_h·W_hh
  std::vector<at::Tensor> keep;
  AT_DISPATCH_FLOATING_TYPES(y.scalar_type(), "rnnkit_custom_backward", [&] {
    using T = scalar_t;
    const auto bwd = reinterpret_cast<CellBwd<T>>(fns[sizeof(T) == 4 ? 2 : 3]);
    const std::vector<const T*> prm = cell_param_ptrs<T>(params, units, H, y, keep);
    gather_h_prev<T>(steps, H, ptr<T>(y), ptr<T>(h0), ptr<T>(H_prev));
    const Weight<T> W = packed_weight<T>(W_hh, false, H, pack, W_hh_p);
    const T *g_all = ptr<T>(gx), *gh_all = ptr<T>(aux_c), *dyp = ptr<T>(dy), *Hp = ptr<T>(H_prev);
    T *dhp = ptr<T>(dh), *dxp = ptr<T>(dxs), *dGp = ptr<T>(dG), *dGh = ptr<T>(dG_h);
    // rows [lo, hi) of step t: each row's kernel, then dL/dh_{t-1} = dG_h·W_hh (n, H), added
    // to the direct part the row kernel left in dh
    auto step = [&](int64_t t, int64_t lo, int64_t hi) {
      const int64_t n = hi - lo, off = steps.offsets[t];
      for_rows(n, G, [&](int64_t k) {
        const int64_t i = lo + k, row = off + i;
        const T* xs_prev = EH ? prev_row(steps, t, i, EH, ptr<T>(S_c), ptr<T>(xs0_c)) : nullptr;
        bwd(H, dhp + i * H, dyp + row * H, EH ? dxp + i * EH : nullptr, g_all + row * G,
            split ? gh_all + row * G : nullptr, Hp + row * H, xs_prev, prm.data(),
            dGp + row * G, split ? dGh + row * G : nullptr, KP ? ptr<T>(dP) + i * KP : nullptr);
      });
      times_w(n, dGh + (off + lo) * G, G, W, true, dhp + lo * H, H);
    };
    sweep_rows(steps, team, true, step);
  });
  return {dG, dG_h, H_prev, dh, dxs, dP};
}

}  // namespace rnnkit
