// A C++ autograd node for actlab's fused kernels (see _native.py for why it exists and how it is built).
//
// The kernels themselves stay in numba: Python hands over the addresses of numba cfuncs that run the forward and
// backward loops over flat contiguous arrays. This file only does what a Python autograd.Function would do, without
// the Python interpreter on the forward and backward paths.
#include <torch/csrc/autograd/custom_function.h>
#include <torch/csrc/utils/pybind.h>

#include <vector>

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// forward(x, out, n, params), backward(saved, grad_out, grad_in, n, params) and, for learnable parameters,
// backward_sums(saved, grad_out, grad_in, n, params, sums) that also writes Σ grad_out·∂f/∂p for every parameter;
// all compiled by numba.
using ForwardFn = void (*)(const void*, void*, int64_t, const double*);
using BackwardFn = void (*)(const void*, const void*, void*, int64_t, const double*);
using BackwardSumsFn = void (*)(const void*, const void*, void*, int64_t, const double*, double*);

// Python's differentiable formula, for create_graph=True:
// (key, saved, grad_out, params, learned tensors, their indices) -> [grad_in, grad of each learned tensor].
// The numba loops have no graph, so higher derivatives must come from torch ops. Leaked on purpose: it must
// outlive every graph, and destroying a Python object during interpreter shutdown is unsafe.
py::object* double_backward = nullptr;

struct FusedNode : public torch::autograd::Function<FusedNode> {
  // `learned` are the parameters that need a gradient (as tensors, so autograd links them) and `learned_index`
  // their positions in `params`; `bwd` is a BackwardSumsFn when any are given, else a BackwardFn.
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& x, at::TensorList learned, int64_t fwd,
                            int64_t bwd, std::vector<double> params, std::vector<int64_t> learned_index,
                            bool save_output, int64_t key) {
    at::Tensor xc = x.contiguous();
    at::Tensor out = at::empty_like(xc, at::MemoryFormat::Contiguous);
    {
      // The loop may run on numba's thread pool for a while; other Python threads (data loaders) can go on.
      py::gil_scoped_release no_gil;
      reinterpret_cast<ForwardFn>(fwd)(xc.data_ptr(), out.data_ptr(), xc.numel(), params.data());
    }
    ctx->saved_data["bwd"] = bwd;
    ctx->saved_data["key"] = key;
    ctx->saved_data["params"] = params;
    ctx->saved_data["learned_index"] = learned_index;
    // The output when the derivative is a function of it (ISRLU, ELU, tanh, ...): the next layer saves that same
    // tensor, so the activation keeps nothing extra alive, as with nn.ReLU.
    std::vector<at::Tensor> saved{save_output ? out : x};
    saved.insert(saved.end(), learned.begin(), learned.end());
    ctx->save_for_backward(saved);
    return out;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    variable_list saved = ctx->get_saved_variables();
    at::Tensor s = saved[0];
    variable_list learned(saved.begin() + 1, saved.end());
    std::vector<double> params = ctx->saved_data["params"].toDoubleVector();
    std::vector<int64_t> index = ctx->saved_data["learned_index"].toIntVector();
    variable_list out{at::Tensor()};  // grad_in, then one per learned parameter
    if (at::GradMode::is_enabled()) {
      py::gil_scoped_acquire gil;
      out = (*double_backward)(ctx->saved_data["key"].toInt(), s, grads[0], params, learned, index)
                .cast<variable_list>();
    } else {
      at::Tensor sc = s.contiguous();
      at::Tensor go = grads[0].to(sc.scalar_type()).contiguous();
      at::Tensor grad_in = at::empty_like(sc, at::MemoryFormat::Contiguous);
      int64_t bwd = ctx->saved_data["bwd"].toInt();
      if (learned.empty()) {
        reinterpret_cast<BackwardFn>(bwd)(sc.data_ptr(), go.data_ptr(), grad_in.data_ptr(), sc.numel(),
                                          params.data());
        out[0] = grad_in;
      } else {
        std::vector<double> sums(params.size(), 0.0);
        reinterpret_cast<BackwardSumsFn>(bwd)(sc.data_ptr(), go.data_ptr(), grad_in.data_ptr(), sc.numel(),
                                              params.data(), sums.data());
        out[0] = grad_in;
        for (size_t i = 0; i < learned.size(); ++i) {
          out.push_back(at::full_like(learned[i], sums[index[i]]));
        }
      }
    }
    // One gradient per forward input: x, each learned tensor, then none for the non-tensor arguments.
    out.resize(1 + learned.size() + 6);
    return out;
  }
};

at::Tensor fused(const at::Tensor& x, std::vector<at::Tensor> learned, int64_t fwd, int64_t bwd,
                 std::vector<double> params, std::vector<int64_t> learned_index, bool save_output, int64_t key) {
  return FusedNode::apply(x, at::TensorList(learned), fwd, bwd, std::move(params), std::move(learned_index),
                          save_output, key);
}

void set_double_backward(py::object fn) { double_backward = new py::object(std::move(fn)); }

}  // namespace

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  m.def("fused", &fused, "Apply a fused kernel (numba cfunc addresses) with a C++ autograd node.");
  m.def("set_double_backward", &set_double_backward, "Register the Python formula used under create_graph=True.");
}
