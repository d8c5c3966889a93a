// A C++ autograd node for actlab's fused kernels (see _native.py for why it exists and how it is built).
//
// The kernels themselves stay in numba: Python hands over the addresses of numba cfuncs that run the forward and
// backward loops over flat contiguous arrays. This file only does what a Python autograd.Function would do, without
// the Python interpreter on the forward and backward paths.
#include <ATen/Parallel.h>
#include <torch/csrc/autograd/function.h>
#include <torch/csrc/autograd/functions/utils.h>
#include <torch/csrc/autograd/saved_variable.h>
#include <torch/csrc/jit/frontend/tracer.h>
#include <torch/csrc/utils/pybind.h>

#include <vector>

namespace {

using torch::autograd::variable_list;

// forward(x, out, n, params) and backward(saved, grad_out, grad_in, n, params), as compiled by numba.
using ForwardFn = void (*)(const void*, void*, int64_t, const double*);
using BackwardFn = void (*)(const void*, const void*, void*, int64_t, const double*);

// Python's differentiable formula, for create_graph=True: (key, saved, grad_out, params) -> grad_in. The numba
// loops have no graph, so higher derivatives must come from torch ops. Leaked on purpose: it must outlive every
// graph, and destroying a Python object during interpreter shutdown is unsafe.
py::object* double_backward = nullptr;

// Forward loops over at most this many elements keep the GIL (a release and re-take costs about a tenth of a
// microsecond, a few percent of a 1K-element module call).
constexpr int64_t kHoldGil = 16384;

// The loops are numba's serial ones over [b, e); larger tensors are split over PyTorch's own intra-op thread pool
// (at::parallel_for; this file is compiled with -fopenmp, so the split runs on torch's OpenMP threads) with aten's
// grain, as aten's elementwise ops are, so both wake the same threads and split alike. grain <= 0: do not split
// (a kernel whose loops are not the serial template, e.g. already parallel).
void run_forward(ForwardFn f, const at::Tensor& x, const at::Tensor& out, const double* p, int64_t grain) {
  const int64_t n = x.numel(), es = x.element_size();
  const char* xp = static_cast<const char*>(x.data_ptr());
  char* op = static_cast<char*>(out.data_ptr());
  if (grain <= 0 || n <= grain) {
    f(xp, op, n, p);
    return;
  }
  at::parallel_for(0, n, grain, [&](int64_t b, int64_t e) { f(xp + b * es, op + b * es, e - b, p); });
}

void run_backward(BackwardFn f, const at::Tensor& s, const at::Tensor& go, const at::Tensor& gi, const double* p,
                  int64_t grain) {
  const int64_t n = s.numel(), es = s.element_size();
  const char* sp = static_cast<const char*>(s.data_ptr());
  const char* gp = static_cast<const char*>(go.data_ptr());
  char* ip = static_cast<char*>(gi.data_ptr());
  if (grain <= 0 || n <= grain) {
    f(sp, gp, ip, n, p);
    return;
  }
  at::parallel_for(0, n, grain, [&](int64_t b, int64_t e) { f(sp + b * es, gp + b * es, ip + b * es, e - b, p); });
}

// The backward node, written as PyTorch's generated nodes are (a Node subclass with plain fields) rather than through
// torch::autograd::Function, whose per-call IValue map (three string-keyed entries set in forward and read back in
// backward) and generic input handling were a measurable share of a 1K-element forward+backward.
struct FusedNodeBackward : public torch::autograd::Node {
  torch::autograd::SavedVariable saved;
  BackwardFn bwd = nullptr;
  int64_t key = 0;
  int64_t grain = 0;
  std::vector<double> params;

  std::string name() const override { return "FusedNodeBackward"; }

  void release_variables() override { saved.reset_data(); }

  variable_list apply(variable_list&& grads) override {
    at::Tensor s = saved.unpack(getptr());
    at::Tensor grad_in;
    if (!grads[0].defined()) {
      return {at::Tensor()};
    }
    if (at::GradMode::is_enabled()) {
      // create_graph=True: the numba loops have no graph, so Python's differentiable formula builds it.
      py::gil_scoped_acquire gil;
      grad_in = (*double_backward)(key, s, grads[0], params).cast<at::Tensor>();
    } else {
      at::Tensor sc = s.contiguous();
      at::Tensor go = grads[0].to(sc.scalar_type()).contiguous();
      grad_in = at::empty_like(sc, at::MemoryFormat::Contiguous);
      run_backward(bwd, sc, go, grad_in, params.data(), grain);
    }
    return {grad_in};
  }
};

// f(x) by the numba forward loop, with the backward node attached when x needs a gradient.
at::Tensor run_node(const at::Tensor& x, int64_t fwd, int64_t bwd, std::vector<double> params, bool save_output,
                    int64_t key, int64_t grain) {
  at::Tensor xc = x.contiguous();
  at::Tensor out = at::empty_like(xc, at::MemoryFormat::Contiguous);
  if (xc.numel() > kHoldGil) {
    // The loop may run for a while; other Python threads (data loaders) can go on.
    py::gil_scoped_release no_gil;
    run_forward(reinterpret_cast<ForwardFn>(fwd), xc, out, params.data(), grain);
  } else {  // a few microseconds: releasing and taking the GIL back would be a visible share of the call
    run_forward(reinterpret_cast<ForwardFn>(fwd), xc, out, params.data(), grain);
  }
  if (torch::autograd::compute_requires_grad(x)) {
    auto node = c10::make_intrusive<FusedNodeBackward>();
    node->set_next_edges(torch::autograd::collect_next_edges(x));
    node->bwd = reinterpret_cast<BackwardFn>(bwd);
    node->key = key;
    node->grain = grain;
    node->params = std::move(params);
    torch::autograd::set_history(out, node);
    // The output when the derivative is a function of it (see FusedKernel.output_grad): the next layer saves that
    // same tensor, so the activation keeps nothing extra alive, as with torch's rectifier. Saved after set_history,
    // as an output, so that the saved variable does not hold its own node.
    node->saved = save_output ? torch::autograd::SavedVariable(out, true) : torch::autograd::SavedVariable(x, false);
  }
  return out;
}

at::Tensor fused(const at::Tensor& x, int64_t fwd, int64_t bwd, std::vector<double> params, bool save_output,
                 int64_t key, int64_t grain) {
  return run_node(x, fwd, bwd, std::move(params), save_output, key, grain);
}

void set_double_backward(py::object fn) { double_backward = new py::object(std::move(fn)); }

// The same split for the Python autograd.Function's path (outputs it allocates itself, e.g. with huge pages): the
// loops over preallocated contiguous tensors, without the GIL, on torch's threads.
void forward_loop(const at::Tensor& x, const at::Tensor& out, int64_t fwd, std::vector<double> params,
                  int64_t grain) {
  py::gil_scoped_release no_gil;
  run_forward(reinterpret_cast<ForwardFn>(fwd), x, out, params.data(), grain);
}

void backward_loop(const at::Tensor& s, const at::Tensor& go, const at::Tensor& gi, int64_t bwd,
                   std::vector<double> params, int64_t grain) {
  py::gil_scoped_release no_gil;
  run_backward(reinterpret_cast<BackwardFn>(bwd), s, go, gi, params.data(), grain);
}

// One kernel's serial loops, per dtype (slot(): the order of _native._FAST_DTYPES; an address of 0 is not compiled
// yet), for tensors under max_bytes (larger outputs take the Python path and its huge pages), called with every
// check the eager path needs in C++: at 1K elements each Python call layer around the node costs about as much as
// the kernel. Calls it cannot serve return None and go through kernels.apply, which fills the table.
struct Fast {
  static constexpr int kSlots = 4;
  int64_t fwd[kSlots] = {0, 0, 0, 0};
  int64_t bwd[kSlots] = {0, 0, 0, 0};
  bool save_output;
  int64_t key;
  int64_t max_bytes;
  int64_t grain;

  Fast(bool save_output, int64_t key, int64_t max_bytes, int64_t grain)
      : save_output(save_output), key(key), max_bytes(max_bytes), grain(grain) {}

  // bf16/fp16 loops read and write the 16-bit patterns themselves (_half.py): their data pointers go as they are.
  static int slot(at::ScalarType st) {
    switch (st) {
      case at::kFloat: return 0;
      case at::kDouble: return 1;
      case at::kBFloat16: return 2;
      case at::kHalf: return 3;
      default: return -1;
    }
  }

  void set(int64_t dtype, int64_t f, int64_t b) {
    TORCH_CHECK(dtype >= 0 && dtype < kSlots, "Fast.set: dtype slot ", dtype, " out of range");
    fwd[dtype] = f;
    bwd[dtype] = b;
  }

  py::object call(const at::Tensor& x, const py::tuple& values) const {
    const int d = slot(x.scalar_type());
    if (d < 0 || fwd[d] == 0 || !x.is_cpu() || x.layout() != at::kStrided ||
        x.numel() * x.element_size() >= max_bytes ||
        torch::jit::tracer::isTracing()) {
      return py::none();
    }
    std::vector<double> params;
    params.reserve(values.size());
    for (const auto& v : values) {
      if (!PyFloat_CheckExact(v.ptr())) return py::none();  // a tensor parameter may need its gradient
      params.push_back(PyFloat_AS_DOUBLE(v.ptr()));
    }
    return py::cast(run_node(x, fwd[d], bwd[d], std::move(params), save_output, key, grain));
  }
};

}  // namespace

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  m.def("fused", &fused, "Apply a fused kernel (numba cfunc addresses) with a C++ autograd node.");
  py::class_<Fast>(m, "Fast")
      .def(py::init<bool, int64_t, int64_t, int64_t>())
      .def("set", &Fast::set)
      .def("__call__", &Fast::call);
  m.def("set_double_backward", &set_double_backward, "Register the Python formula used under create_graph=True.");
  m.def("forward_loop", &forward_loop, "A kernel's serial forward loop over torch's threads, into a given output.");
  m.def("backward_loop", &backward_loop, "A kernel's serial input-gradient loop over torch's threads.");
}
