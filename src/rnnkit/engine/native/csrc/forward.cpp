// The forward time loop: per step one product h_{t-1}·W_hhᵀ (products.h; IndRNN's diagonal
// W_hh is applied in its row kernel), then the cell's vectorized row math (cells.h,
// cells_norm.h), then the projection where there is one.
//
// The input projection gx = X·W_ihᵀ + b over all N rows (and its layer norm, for those cells)
// is done by the caller in one GEMM. Where the cell does not take h_{t-1}·W_hhᵀ apart, gx
// already holds b_hh too and the step's product is added into it.
#include "forward.h"

namespace rnnkit {

std::vector<at::Tensor> forward_sweep(const Cell& cell, at::Tensor gx, at::Tensor W_hh,
                                      std::optional<at::Tensor> b_hh,
                                      std::optional<at::Tensor> W_hr, at::Tensor h0,
                                      std::optional<at::Tensor> c0, TensorList params,
                                      std::vector<int64_t> batch_sizes, bool reverse) {
  TORCH_CHECK(cell.kernel != CUSTOM, "native scan: a compiled cell runs custom_forward_sweep");
  const Steps steps(batch_sizes, reverse);
  const bool proj = W_hr.has_value(), lstm = cell.has_c, gru = cell.kernel == GRU;
  const bool diag = cell.diagonal, split = cell.split, norm = cell.layer_norm();
  TORCH_CHECK(!proj || cell.kernel == LSTM, "native scan: only the LSTM has a projection");
  const int64_t N = steps.N(), B = steps.B(), P = W_hh.size(-1);
  const int64_t H = proj ? W_hr->size(-1) : P, G = cell.gates * H, K = cell.stats();
  TORCH_CHECK(gx.is_contiguous(), "native scan: gx must be contiguous");
  gx = checked(gx, "gx", {N, G}, gx);
  W_hh = diag ? checked(W_hh, "W_hh", {G}, gx) : checked(W_hh, "W_hh", {G, P}, gx);
  at::Tensor W_hr_c = proj ? checked(W_hr, "W_hr", {P, H}, gx) : at::Tensor();
  at::Tensor b_hh_c = gru && b_hh ? checked(b_hh, "b_hh", {G}, gx) : at::Tensor();
  const std::vector<at::Tensor> prm = checked_params(cell, params, H, gx);
  at::Tensor h = checked(h0, "h0", {B, P}, gx).clone();  // running state, becomes h_n
  at::Tensor c = lstm ? checked(c0, "c0", {B, H}, gx).clone() : at::Tensor();
  at::Tensor y = at::empty({N, P}, gx.options());
  at::Tensor S = (lstm || gru) ? at::empty({N, H}, gx.options()) : at::Tensor();
  at::Tensor raw = proj ? at::empty({N, H}, gx.options()) : at::Tensor();
  at::Tensor aux = norm ? at::empty({N, G}, gx.options()) : at::Tensor();
  at::Tensor stats = norm ? at::empty({N, K}, gx.options()) : at::Tensor();
  at::Tensor scratch = split ? at::empty({B, G}, gx.options()) : at::Tensor();
  // the blocked kernel reads W_hhᵀ from panels packed here (its gate blocks apart, for a
  // units team); a call of few steps (streaming) runs dot products on W_hh instead
  const Team team = plan_team(cell.unit_local() && !proj, B, steps.T(), G, P, H, lanes_of(gx));
  const bool pack = packs_w_hh(diag, steps.T());
  at::Tensor W_hh_p, W_hr_p;
  AT_DISPATCH_FLOATING_TYPES(gx.scalar_type(), "rnnkit_forward_sweep", [&] {
    using T = scalar_t;
    const Fwd<T> f{cell, H, P, G, K, ptr<T>(gx),
                   packed_weight<T>(W_hh, true, H, pack, W_hh_p), ptr<T>(b_hh_c),
                   packed_weight<T>(W_hr_c, true, P, pack, W_hr_p), param_ptrs<T>(prm),
                   ptr<T>(y), ptr<T>(h), ptr<T>(c), ptr<T>(S), ptr<T>(raw), ptr<T>(aux),
                   ptr<T>(stats), ptr<T>(scratch)};
    forward_steps(f, steps, team);
  });
  return {y, h, c, S, raw, aux, stats};
}

}  // namespace rnnkit
