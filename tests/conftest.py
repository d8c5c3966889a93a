import os

# Keep each test worker on one thread: pytest-xdist runs two workers on this 2-core machine.
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("NUMBA_NUM_THREADS", "2")

# Triton kernels run on CPU tensors through Triton's interpreter (tests/kernels/test_triton.py); it is chosen when
# a kernel is decorated, so it must be set before any Triton element function is imported. On a GPU machine run
# with TRITON_INTERPRET=0 to test the compiled kernels instead.
os.environ.setdefault("TRITON_INTERPRET", "1")

import torch  # noqa: E402

torch.set_num_threads(1)

# The C++ autograd node (actlab.kernels._native) is built by `make install`; build it here too (it waits for a
# concurrent build) so that every test sees the same path instead of whatever a background build has reached.
# tests/kernels/test_native.py checks the node against the Python Function bit for bit.
if os.environ.get("ACTLAB_NATIVE", "1") != "0":
    from actlab.kernels import build_native  # noqa: E402

    try:
        build_native()
    except Exception as e:  # noqa: BLE001 - no toolchain: the Python Function serves, test_native skips
        import warnings

        warnings.warn(f"native autograd node not built: {e}", RuntimeWarning, stacklevel=1)
