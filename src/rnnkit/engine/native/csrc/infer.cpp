// Inference of a whole stack in one call: every layer and direction, input projections
// included, nothing saved for a backward, no ATen operator on the way for the plain cells. The
// layers' no-grad fast path (rnnkit/engine/native/__init__.py: native_infer) calls it once per
// forward, so a streaming call (T = 1, B = 1) costs one crossing from Python and a few
// allocations, instead of several operator dispatches per layer-direction.
//
// Under torch.autocast("cpu", dtype=torch.bfloat16) on a CPU with native bfloat16 (`bf16`, as
// the training scan's: rnnkit/engine/precision.py) the input projections run as ATen's
// bfloat16 GEMM, their result rounded to bfloat16 and widened, the biases added in float32,
// exactly as the training path computes them; where the CPU has AVX512-BF16 the per-step
// products read W_hh's (and W_hr's) bfloat16 panels with float32 sums (bf16.h); the state and
// the cell math stay float32.
#include <ATen/core/grad_mode.h>
#include <ATen/ops/add.h>
#include <ATen/ops/mm.h>
#include <ATen/ops/native_layer_norm.h>

#include "forward.h"

namespace rnnkit {
namespace {

// One layer-direction's tensors, checked: W_ih (G, I), W_hh (G, P) or (G,), biases (G), W_hr
// (P, H), the input layer norm's γ, β (G), the step's cell parameters.
struct LayerTensors {
  at::Tensor W_ih, W_hh, b_ih, b_hh, W_hr, gamma, beta;
  std::vector<at::Tensor> step_params;
};

LayerTensors checked_layer(const Cell& cell, const LayerArgs& w, int64_t I, int64_t P, int64_t H,
                           bool input_norm, const at::Tensor& like) {
  TORCH_CHECK(w.size() >= 7, "native infer: each layer takes (W_ih, W_hh, b_ih, b_hh, W_hr, ",
              "γ, β, *step params), got ", w.size(), " tensors");
  const int64_t G = cell.gates * H;
  auto opt = [&](const std::optional<at::Tensor>& t, const char* name, at::IntArrayRef shape) {
    return t.has_value() ? checked(*t, name, shape, like) : at::Tensor();
  };
  LayerTensors l;
  l.W_ih = checked(w[0], "W_ih", {G, I}, like);
  l.W_hh = cell.diagonal ? checked(w[1], "W_hh", {G}, like) : checked(w[1], "W_hh", {G, P}, like);
  l.b_ih = opt(w[2], "b_ih", {G});
  l.b_hh = opt(w[3], "b_hh", {G});
  l.W_hr = opt(w[4], "W_hr", {P, H});
  TORCH_CHECK(!l.W_hr.defined() || cell.kernel == LSTM, "native infer: only the LSTM has a projection");
  if (input_norm) {
    l.gamma = checked(w[5], "input layer-norm gain", {G}, like);
    l.beta = opt(w[6], "input layer-norm bias", {G});
  }
  l.step_params = checked_params(cell, TensorList(w.begin() + 7, w.end()), H, like);
  return l;
}

// Rows of x from which the input projection packs W_ih into panels (a copy of G·I entries,
// about what one row's product costs) instead of running dot products on it: at B = 1, T = 200,
// I = 32, H = 64 the dot products were 30-39% of a GRU's no-grad time (AVX2 / AVX-512).
constexpr int64_t kPackProjectRows = 16;

// gx (N, G) = x·W_ihᵀ + b_ih [+ b_hh where folded]: biases broadcast into the rows, then the
// product added (BLAS for large products; the blocked kernel on W_ih's panels from
// kPackProjectRows rows; dot products on W_ih otherwise, shared among the threads for a
// streaming call's big W_ih).
template <typename T>
void project(int64_t N, int64_t I, int64_t G, const T* x, const LayerTensors& l, bool fold_b_hh,
             T* gx) {
  const T* b1 = ptr<T>(l.b_ih);
  const T* b2 = fold_b_hh ? ptr<T>(l.b_hh) : nullptr;
  if (b1 || b2) {  // the bias row once, then copied into every row
    for (int64_t j = 0; j < G; ++j) gx[j] = (b1 ? b1[j] : T(0)) + (b2 ? b2[j] : T(0));
    for (int64_t r = 1; r < N; ++r) std::memcpy(gx + r * G, gx, G * sizeof(T));
  }
  at::Tensor panels;
  const bool pack = N >= kPackProjectRows && N * G * I < kBlasMacs;  // BLAS's products stay so
  const Weight<T> W = packed_weight<T>(l.W_ih, true, G, pack, panels);
  times_wt(N, x, I, W, b1 || b2, gx, G);
}

// The stack's scratch (gx, S, the projection's raw h, the layer norm's products and moments,
// a direction's y before it joins the layer's output), kept between calls on the calling
// thread: a fresh buffer above glibc's mmap threshold (32 MB: gx of GRU B64 T100 H512 is 39 MB)
// comes from the kernel zeroed page by page on every call. Buffers above kKeepBytes are not
// kept; release_workspace() frees this thread's.
constexpr int64_t kKeepBytes = int64_t(512) << 20;

std::vector<at::Tensor>& kept_buffers() {
  thread_local std::vector<at::Tensor> kept;
  return kept;
}

at::Tensor workspace(size_t slot, int64_t rows, int64_t cols, const at::TensorOptions& opts) {
  const int64_t need = rows * cols;
  if (need * static_cast<int64_t>(opts.dtype().itemsize()) > kKeepBytes) {
    return at::empty({rows, cols}, opts);
  }
  std::vector<at::Tensor>& kept = kept_buffers();
  if (kept.size() <= slot) kept.resize(slot + 1);
  at::Tensor& t = kept[slot];
  if (!t.defined() || t.scalar_type() != opts.dtype().toScalarType() || t.numel() < need) {
    t = at::Tensor();  // the old one freed first
    t = at::empty({need}, opts);
  }
  return t.narrow(0, 0, need).view({rows, cols});
}

// x·W_ihᵀ (N, G) in bfloat16 (operands rounded, float32 sums, the result rounded to bfloat16),
// widened to float32 into `out`, plus `bias` where it is defined: the training path's
// precision.addmm / precision.mm under autocast, operation for operation. The bfloat16 product
// goes to `product` (N, G).
void bf16_projection(const at::Tensor& x, const at::Tensor& W_ih, const at::Tensor& bias,
                     at::Tensor& out, at::Tensor& product) {
  at::mm_out(product, x.to(at::kBFloat16), W_ih.to(at::kBFloat16).t());
  out.copy_(product);
  if (bias.defined()) out.add_(bias);
}

}  // namespace

void release_workspace() { kept_buffers().clear(); }

std::vector<at::Tensor> infer_stack(const Cell& cell, at::Tensor x, std::vector<LayerArgs> layers,
                                    int64_t num_directions, std::optional<at::Tensor> h0,
                                    std::optional<at::Tensor> c0, int64_t steps, bool fold_b_hh,
                                    bool input_norm, double eps, bool both_directions, bool bf16) {
  TORCH_CHECK(cell.kernel != CUSTOM, "native infer: a compiled cell has no no-grad stack");
  TORCH_CHECK(!bf16 || x.scalar_type() == at::kFloat,
              "native infer: bfloat16 GEMMs take float32 tensors, got ", x.scalar_type());
  // each run below sets it on its own thread (a direction's member of a team too)
  const bool bf16_steps = bf16 && cpu_has_bf16();
  const int64_t D = num_directions, LD = static_cast<int64_t>(layers.size());
  TORCH_CHECK(D == 1 || D == 2, "native infer: expected 1 or 2 directions, got ", D);
  TORCH_CHECK(LD > 0 && LD % D == 0, "native infer: expected num_layers * ", D,
              " layer weights, got ", LD);
  TORCH_CHECK(steps > 0 && x.dim() == 3 && x.size(0) == steps && x.size(1) > 0,
              "native infer: x must be (T, B, I) with T = ", steps, ", got ", x.sizes());
  x = x.reshape({steps * x.size(1), x.size(2)});  // time-major rows (copies a batch-first view)
  TORCH_CHECK(layers[0].size() >= 7 && layers[0][1].has_value(),
              "native infer: each layer takes (W_ih, W_hh, b_ih, b_hh, W_hr, γ, β, *step params)");
  const int64_t N = x.size(0), B = N / steps;
  const std::optional<at::Tensor> W_hr0 = layers[0][4];
  const int64_t P = cell.diagonal ? layers[0][1]->size(0) : layers[0][1]->size(-1);
  const int64_t H = W_hr0 ? W_hr0->size(-1) : P, G = cell.gates * H, K = cell.stats();
  const bool lstm = cell.has_c, split = cell.split;
  const bool norm = cell.layer_norm(), proj = W_hr0.has_value();
  x = x.contiguous();
  std::vector<LayerTensors> ls;
  for (int64_t k = 0; k < LD; ++k) {
    const int64_t I = k < D ? x.size(1) : D * P;
    ls.push_back(checked_layer(cell, layers[k], I, P, H, input_norm, x));
  }
  auto opts = x.options();
  at::Tensor h_n = at::empty({LD, B, P}, opts);
  at::Tensor c_n = lstm ? at::empty({LD, B, H}, opts) : at::Tensor();
  at::Tensor h0_c = h0 ? checked(*h0, "h0", {LD, B, P}, x) : at::Tensor();
  at::Tensor c0_c = lstm && c0 ? checked(*c0, "c0", {LD, B, H}, x) : at::Tensor();
  // buffers every layer-direction reuses; y per direction, joined into the layer's output
  struct Buffers {
    at::Tensor S, raw, aux, stats, scratch, gx, product, W_hh_p, W_hr_p;  // W_*_p: panels
  };
  const bool at_once = both_directions && D == 2 && team_threads_available() >= 2;
  std::vector<Buffers> bufs(at_once ? 2 : 1);
  size_t slot = 0;
  for (Buffers& b : bufs) {
    b.S = (lstm || cell.direct_dh()) ? workspace(slot, N, H, opts) : at::Tensor();
    b.raw = proj ? workspace(slot + 1, N, H, opts) : at::Tensor();
    b.aux = norm ? workspace(slot + 2, N, G, opts) : at::Tensor();
    b.stats = norm ? workspace(slot + 3, N, K, opts) : at::Tensor();
    b.scratch = split ? at::empty({B, G}, opts) : at::Tensor();
    b.gx = workspace(slot + 4, N, G, opts);  // (the layer norm's input, where it has one)
    // (taken here, on the calling thread: a team thread's would outlive release_workspace)
    b.product = bf16 ? workspace(slot + 5, N, G, opts.dtype(at::kBFloat16)) : at::Tensor();
    slot += 6;
  }
  // at once, each direction runs alone on its thread; else the threads share each sweep
  const Team team = at_once ? Team{}
                            : plan_team(cell.unit_local() && !proj, B, steps, G, P, H, lanes_of(x));
  const bool pack = packs_w_hh(cell.diagonal, steps);
  const Steps forward(std::vector<int64_t>(steps, B), false), reverse(forward.sizes, true);
  std::vector<at::Tensor> ys;
  // a bidirectional layer's y per direction is scratch (copied into the output); a single
  // direction's is the output itself
  for (int64_t d = 0; d < D; ++d) {
    ys.push_back(D == 2 ? workspace(slot + d, N, P, opts) : at::empty({N, P}, opts));
  }
  at::Tensor input = x, output;
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "rnnkit_infer_stack", [&] {
    using T = scalar_t;
    for (int64_t layer = 0; layer < LD / D; ++layer) {
      output = D == 1 ? ys[0] : at::empty({N, D * P}, opts);
      const int64_t I = input.size(1);
      auto run = [&](int64_t d, Buffers& b) {
        const int64_t k = layer * D + d;
        const LayerTensors& l = ls[k];
        // no autograd on a team's thread either (grad mode is per thread; the out= products
        // refuse weights that require grad while it is on)
        const at::NoGradGuard no_grad;
        const Bf16ProductsScope products(bf16_steps);  // W_hh's panels in bfloat16 where on
        at::Tensor gx = b.gx;
        if (norm) {  // LN(x·W_ihᵀ; γ, β) over all rows: ATen's layer norm
          if (bf16) {
            bf16_projection(input, l.W_ih, {}, b.gx, b.product);
          } else {
            at::mm_out(b.gx, input, l.W_ih.t());
          }
          gx = std::get<0>(at::native_layer_norm(b.gx, {G}, l.gamma,
                                                 l.beta.defined() ? std::optional(l.beta)
                                                                  : std::nullopt, eps));
        } else if (bf16) {  // the training path's in_bias: b_ih [+ b_hh where folded]
          const at::Tensor& b_hh = fold_b_hh ? l.b_hh : at::Tensor();
          const at::Tensor bias =
              l.b_ih.defined() && b_hh.defined() ? at::add(l.b_ih, b_hh) : l.b_ih;
          bf16_projection(input, l.W_ih, bias, gx, b.product);
        } else {
          project<T>(N, I, G, ptr<T>(input), l, fold_b_hh, ptr<T>(gx));
        }
        T* h = ptr<T>(h_n) + k * B * P;
        T* c = lstm ? ptr<T>(c_n) + k * B * H : nullptr;
        if (h0_c.defined()) {
          std::memcpy(h, ptr<T>(h0_c) + k * B * P, B * P * sizeof(T));
        } else {
          std::fill(h, h + B * P, T(0));
        }
        if (lstm && c0_c.defined()) {
          std::memcpy(c, ptr<T>(c0_c) + k * B * H, B * H * sizeof(T));
        } else if (lstm) {
          std::fill(c, c + B * H, T(0));
        }
        T* y = ptr<T>(ys[d]);
        const Fwd<T> f{cell, H, P, G, K, ptr<T>(gx),
                       packed_weight<T>(l.W_hh, true, H, pack, b.W_hh_p),
                       fold_b_hh ? nullptr : ptr<T>(l.b_hh),
                       packed_weight<T>(l.W_hr, true, P, pack, b.W_hr_p),
                       param_ptrs<T>(l.step_params), y, h, c, ptr<T>(b.S), ptr<T>(b.raw),
                       ptr<T>(b.aux), ptr<T>(b.stats), ptr<T>(b.scratch)};
        forward_steps(f, d == 1 ? reverse : forward, team);
        if (D == 2) {  // the layer's output row: [forward y | backward y]
          T* out = ptr<T>(output);
          for (int64_t r = 0; r < N; ++r) std::memcpy(out + r * D * P + d * P, y + r * P, P * sizeof(T));
        }
      };
      auto in_turn = [&] {
        for (int64_t d = 0; d < D; ++d) run(d, bufs[0]);
      };
      if (at_once) {  // a thread per direction (one after the other where fewer came)
        run_team(2, [&](int m, SpinBarrier&) { run(m, bufs[m]); }, in_turn);
      } else {
        in_turn();
      }
      if (D == 1 && layer + 1 < LD / D) {  // the next layer reads this y: give it its own buffer
        input = output;
        ys[0] = at::empty({N, P}, opts);
      } else {
        input = output;
      }
    }
  });
  return {output.view({steps, B, output.size(1)}), h_n, c_n};
}

}  // namespace rnnkit
