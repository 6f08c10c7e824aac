// Python bindings of the native sweeps (kept apart so the heavy pybind/torch headers compile
// in their own translation unit, in parallel with the kernels). The sweeps release the GIL.
#include <torch/csrc/utils/pybind.h>

#include "sweeps.h"

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  namespace py = pybind11;
  m.doc() = "rnnkit native scan: C++ forward and backward sweeps of the fused BPTT engine";
  py::class_<rnnkit::Cell>(m, "Cell", "a cell's traits and the row kernel that runs it")
      .def(py::init(&rnnkit::make_cell), py::arg("kernel"), py::arg("gates"), py::arg("has_c"),
           py::arg("split"), py::arg("diagonal"), py::arg("relu"), py::arg("param_units"),
           py::arg("param_optional"));
  m.def("forward_sweep", &rnnkit::forward_sweep, "time loop of the forward pass",
        py::call_guard<py::gil_scoped_release>());
  m.def("backward_sweep", &rnnkit::backward_sweep, "reverse time loop of the backward pass",
        py::call_guard<py::gil_scoped_release>());
  m.def("infer_stack", &rnnkit::infer_stack, "no-grad forward of a whole stack of layers",
        py::call_guard<py::gil_scoped_release>());
  m.def("release_workspace", &rnnkit::release_workspace,
        "free the scratch infer_stack keeps between calls on this thread");
  m.def("custom_forward_sweep", &rnnkit::custom_forward_sweep,
        "time loop of the forward pass of a compiled cell", py::call_guard<py::gil_scoped_release>());
  m.def("custom_backward_sweep", &rnnkit::custom_backward_sweep,
        "reverse time loop of the backward pass of a compiled cell",
        py::call_guard<py::gil_scoped_release>());
  m.def("use_team", &rnnkit::use_team, "a team of threads for every sweep it can run (tests)");
  m.def("set_team_split", &rnnkit::set_team_split, "0 auto, 1 units team, 2 row team (tests)");
  m.def("set_stream_team_macs", &rnnkit::set_stream_team_macs, "streaming team size (tuning)");
  m.def("set_team_limits", &rnnkit::set_team_limits, "when a sweep gets a team (tuning)");
  m.def("set_team_cap", &rnnkit::set_team_cap,
        "most threads of a sweep's team on this thread (0: no cap); returns the previous cap");
  m.def("set_bf16_products", &rnnkit::set_bf16_products,
        "per-step products in bfloat16 on this thread (autocast); whether the CPU runs them");
  m.def("use_aten_gemm", &rnnkit::use_aten_gemm, "route per-step products through ATen (tests)");
}
