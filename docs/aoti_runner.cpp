// Runs an AOTInductor package of a model with rnnkit layers from C++, without Python
// (docs/deploy.md). Build against the libtorch of the torch that compiled the package:
//
//   TORCH=$(python -c "import torch, os; print(os.path.dirname(torch.__file__))")
//   g++ -std=c++20 -O2 aoti_runner.cpp -o aoti_runner -I$TORCH/include \
//       -I$TORCH/include/torch/csrc/api/include -L$TORCH/lib -ltorch -ltorch_cpu -lc10 \
//       -Wl,-rpath,$TORCH/lib -ldl
//   ./aoti_runner $(rnnkit build --runtime) model.pt2 B T I out.bin
//
// It loads rnnkit's runtime library (the inference operator's C++ kernel), then the package,
// runs it on a (B, T, I) input of evenly spaced values from -1 to 1, and writes the first
// output's float32 values to out.bin.
#include <dlfcn.h>
#include <torch/csrc/inductor/aoti_package/model_package_loader.h>
#include <torch/torch.h>

#include <fstream>
#include <iostream>
#include <string>
#include <vector>

int main(int argc, char** argv) {
  if (argc != 7) {
    std::cerr << "usage: aoti_runner RUNTIME_LIBRARY PACKAGE B T I OUT\n";
    return 2;
  }
  // the operator's kernel registers itself with PyTorch's dispatcher when the library loads
  if (dlopen(argv[1], RTLD_NOW | RTLD_GLOBAL) == nullptr) {
    std::cerr << "cannot load " << argv[1] << ": " << dlerror() << "\n";
    return 1;
  }
  torch::inductor::AOTIModelPackageLoader loader(argv[2]);
  const int64_t B = std::stoll(argv[3]), T = std::stoll(argv[4]), I = std::stoll(argv[5]);
  torch::NoGradGuard no_grad;
  const torch::Tensor x = torch::linspace(-1, 1, B * T * I).reshape({B, T, I});
  const std::vector<torch::Tensor> outputs = loader.run({x});
  const torch::Tensor y = outputs.at(0).contiguous();
  std::ofstream(argv[6], std::ios::binary)
      .write(reinterpret_cast<const char*>(y.data_ptr<float>()), y.numel() * sizeof(float));
  std::cout << "output " << y.sizes() << "\n";
  return 0;
}
