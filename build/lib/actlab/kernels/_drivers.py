"""Loop drivers: turn three element functions into the numba forward/backward kernels of a :class:`FusedKernel`.

An activation's kernel is described once by element functions (``numba.extending.register_jitable`` with
``inline="always"``, so they are inlined into the loop and LLVM vectorises it):

* ``prep(x, p, k) -> c``: per-call constants (cast to ``x``'s dtype) from the parameter ``p`` and the static ``k``;
* ``f(v, c, k) -> y``;
* ``grad(v, c, k) -> (f′(v), ∂f/∂p(v))``.

:func:`make_kernels` closes over them and returns plain ``@njit(parallel=True, cache=True)`` functions. The closure
cells hold plain Python functions and ints, which pickle by reference, so numba's disk cache keys stay stable across
processes (a closure over a numba dispatcher would not: its pickle carries a per-process id).

Design choices, measured (benchmarks/RESULTS.md):

* below :data:`SERIAL_MAX` elements a serial loop runs; waking the thread pool costs more than the work;
* the parameter gradient is reduced per chunk of :data:`CHUNK` elements through a scratch buffer of the input's
  dtype (per-element products gy·∂f/∂p; the sum itself runs in float64), so that
  the main loop stays vectorised (an in-loop float reduction cannot be vectorised without ``reassoc``, which would
  break the exp range reduction); only the small chunk sum is compiled with ``reassoc``;
* ``backward_input`` skips the parameter gradient entirely; :func:`~actlab.kernels.apply` uses it whenever no
  parameter needs a gradient (the common, fixed-α case).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Callable

import numba
import numpy as np
from numba import njit, prange

from ._math import SAFE_FASTMATH


def _fingerprint() -> str:
    # numba's disk cache only watches the file that defines the jitted function (this one). The element functions
    # and math blocks live in other files, so their source goes into the cache key through a closure constant:
    # editing them (or upgrading actlab) then recompiles instead of loading stale machine code.
    h = hashlib.sha256(numba.__version__.encode())
    for name in ("_math.py", "_special.py", "_elements.py", "_drivers.py"):
        h.update((Path(__file__).parent / name).read_bytes())
    return h.hexdigest()[:16]


SOURCE_FINGERPRINT = _fingerprint()

SERIAL_MAX = 1 << 14
CHUNK = 2048
_BLOCKS = 64


@njit(fastmath={"reassoc", "contract"}, cache=True, nogil=True)
def _chunk_sum(tmp, m):
    # `reassoc` only here: it lets LLVM vectorise this float64 sum (4 lanes), and it cannot reach the element
    # functions, whose range reductions it would break.
    s = 0.0
    for j in range(m):
        s += np.float64(tmp[j])
    return s

# error_model="numpy": with Python's model every float division carries a ZeroDivisionError branch, which keeps the
# serial loop scalar (prange bodies already use numpy's model); measured 5× on ISRLU's forward at 16K elements.
_opts: dict[str, Any] = dict(parallel=True, cache=True, fastmath=SAFE_FASTMATH, nogil=True, error_model="numpy")


def _jit(fn: Callable, tag: str) -> Callable:
    # Every kernel's loops get their own qualified name. numba names a function's machine code and its cache files
    # after it; the closures below share one source, so without a per-kernel name, code cached by different
    # processes for different kernels could carry the same symbol (name plus a per-process counter), and linking two
    # such libraries into one module (as the C++ node's cfunc wrappers do) may keep the wrong body.
    if not fn.__qualname__.endswith(tag):
        fn.__qualname__ = f"{fn.__qualname__}_{tag}"
    return njit(**_opts)(fn)


def make_kernels(prep: Callable, f: Callable, grad: Callable, nparams: int, k: int = -1
                 ) -> tuple[Callable, Callable, Callable]:
    """(forward, backward, backward_input) numba kernels for a 0- or 1-parameter activation.

    Signatures: ``forward(x, out[, p])``, ``backward(x, gy, gx[, p]) -> tuple`` (one float64 sum per parameter),
    ``backward_input(x, gy, gx[, p]) -> ()``. ``k`` is baked in as a compile-time constant.
    """
    if nparams not in (0, 1):
        raise ValueError(f"drivers support 0 or 1 scalar parameters, got {nparams}")
    K = k
    FP = SOURCE_FINGERPRINT
    tag = f"{f.__name__}_k{k}" if k >= 0 else f.__name__

    # The loops are written out in each kernel (no helper dispatchers) so that the closures hold only plain
    # functions and ints, which keeps the disk cache valid across processes.
    def forward(x, out, p=0.0):
        FP  # noqa: B018  (a closure constant: part of the cache key, see _fingerprint)
        c = prep(x, p, K)
        n = x.size
        if n <= SERIAL_MAX:
            for i in range(n):
                out[i] = f(x[i], c, K)
        else:
            for i in prange(n):
                out[i] = f(x[i], c, K)

    def backward_input(x, gy, gx, p=0.0):
        FP  # noqa: B018
        c = prep(x, p, K)
        n = x.size
        if n <= SERIAL_MAX:
            for i in range(n):
                gx[i] = gy[i] * grad(x[i], c, K)[0]
        else:
            for i in prange(n):
                gx[i] = gy[i] * grad(x[i], c, K)[0]
        return ()

    if nparams == 0:
        bi = _jit(backward_input, tag)
        return _jit(forward, tag), bi, bi

    def backward(x, gy, gx, p):
        FP  # noqa: B018
        c = prep(x, p, K)
        n = x.size
        nchunks = (n + CHUNK - 1) // CHUNK
        # A fixed number of blocks (not one per thread): the summation order, hence the result, does not depend on
        # the thread count.
        nblocks = min(nchunks, _BLOCKS)
        per = (nchunks + nblocks - 1) // max(nblocks, 1)
        partial = np.zeros(max(nblocks, 1), np.float64)
        for b in prange(nblocks):
            tmp = np.empty(CHUNK, x.dtype)
            acc = 0.0
            for ci in range(b * per, min(nchunks, (b + 1) * per)):
                lo = ci * CHUNK
                hi = min(n, lo + CHUNK)
                for i in range(lo, hi):
                    g, d = grad(x[i], c, K)
                    gx[i] = gy[i] * g
                    tmp[i - lo] = gy[i] * d
                acc += _chunk_sum(tmp, hi - lo)
            partial[b] = acc
        return (partial.sum(),)

    bi = _jit(backward_input, tag)
    return _jit(forward, tag), _jit(backward, tag), bi
