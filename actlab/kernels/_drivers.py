"""The one loop template: element functions in, the numba loops of a :class:`~actlab.kernels.FusedKernel` out.

Every fused kernel, hand-written (an activation's :class:`~actlab.kernels.KernelDef`) or generated from an
expression (:mod:`actlab.expr`), is three element functions turned into loops here:

* ``prep(x, p, k) -> c``: per-call constants (cast to ``x``'s dtype) from the parameter tuple ``p`` and the static
  ``k`` (an int, e.g. Newton steps; −1 when unused);
* ``f(v, c, k) -> y``;
* ``grad(v, c, k) -> (f′(v), ∂f/∂p₀(v), …)``: a tuple of ``x``'s dtype with at least one entry (kernels that read
  the saved output take y as ``v`` here).

They must be plain Python functions that numba can compile (``numba.extending.register_jitable``; the hand-written
ones with ``inline="always"`` so that LLVM vectorises the loop). :func:`make_loops` closes over them and returns
plain ``@njit(cache=True)`` functions. The closure cells hold plain functions and ints, which pickle by reference,
so numba's disk-cache keys stay stable across processes (a closure over a numba dispatcher would not: its pickle
carries a per-process id). Each kernel's loops get their own qualified name (``tag``), hence their own cache index
and machine-code symbols, and :data:`SOURCE_FINGERPRINT`-style constants put the source of the element functions'
files into the key, so editing them recompiles instead of loading stale code.

Design choices, measured (benchmarks/RESULTS.md):

* below :data:`SERIAL_MAX` elements a serial loop runs; waking the thread pool costs more than the work. Serial and
  parallel loops are separate functions, so the parallel one (slow to compile) compiles only when a large input
  first arrives; ``forward``/``backward``/``backward_input`` choose by size;
* the parameter gradients are reduced per chunk of :data:`CHUNK` elements through a scratch buffer of the input's
  dtype (per-element products gy·∂f/∂p; the sum itself runs in float64), so that the main loop stays vectorised
  (an in-loop float reduction cannot be vectorised without ``reassoc``, which would break the exp range
  reduction); only the small chunk sum is compiled with ``reassoc``. The chunks are grouped into a fixed number of
  blocks, summed in order, so that the result does not depend on the thread count;
* ``backward_input`` skips the parameter gradient entirely; :func:`~actlab.kernels.apply` uses it whenever no
  parameter needs a gradient (the common, fixed-α case).
"""

from __future__ import annotations

import functools
import hashlib
import inspect
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numba
import numpy as np
from numba import njit, prange

from ._half import load, store, work_empty
from ._math import SAFE_FASTMATH

__all__ = ["Loops", "make_loops", "SERIAL_MAX", "CHUNK", "SOURCE_FINGERPRINT", "fingerprint"]

_ENGINE = ("_math.py", "_special.py", "_drivers.py", "_half.py", "_trig.py")


@functools.lru_cache(maxsize=None)
def _file_fingerprint(files: tuple[str, ...]) -> str:
    h = hashlib.sha256(numba.__version__.encode())
    for f in files:
        h.update(Path(f).read_bytes())
    return h.hexdigest()[:16]


def fingerprint(*fns: Callable) -> str:
    """A hash of numba's version, the engine's math and template files and the files defining ``fns``.

    numba's disk cache only watches the file that defines the jitted function (this one). The element functions
    and math blocks live in other files, so their source goes into the cache key through a closure constant:
    editing them (or upgrading actlab) then recompiles instead of loading stale machine code.
    """
    here = Path(__file__).parent
    files = [str(here / n) for n in _ENGINE]
    for fn in fns:
        src = inspect.getsourcefile(fn)
        if src is not None and src not in files:
            files.append(src)
    return _file_fingerprint(tuple(files))


# The engine's own fingerprint, for code outside the template that inlines the math blocks (tests, benchmarks).
SOURCE_FINGERPRINT = fingerprint()

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
# serial loop scalar (prange bodies already use numpy's model); measured 5× on a forward with a division
# at 16K elements.
_OPTS: dict[str, Any] = dict(cache=True, fastmath=SAFE_FASTMATH, nogil=True, error_model="numpy")


def _jit(fn: Callable, tag: str, parallel: bool) -> Callable:
    # Every kernel's loops get their own qualified name. numba names a function's machine code and its cache files
    # after it; the closures below share one source, so without a per-kernel name, code cached by different
    # processes for different kernels could carry the same symbol (name plus a per-process counter), and linking two
    # such libraries into one module (as the C++ node's cfunc wrappers do) may keep the wrong body.
    fn.__qualname__ = f"{fn.__qualname__}_{tag}"
    return njit(parallel=parallel, **_OPTS)(fn)


@dataclass(frozen=True)
class Loops:
    """The numba loops of one kernel and the size-choosing entry points over them.

    ``forward(x, out, *p)``, ``backward_input(x, gy, gx, *p) -> ()`` and ``backward(x, gy, gx, *p)`` (one float64
    sum Σ gy·∂f/∂pᵢ per parameter) are Python functions that run ``serial`` (≤ :data:`SERIAL_MAX` elements) or
    ``parallel``: each a ``(forward, backward_input, backward)`` triple of numba dispatchers.
    """

    forward: Callable[..., Any]
    backward: Callable[..., Any]
    backward_input: Callable[..., Any]
    serial: tuple[Callable[..., Any], Callable[..., Any], Callable[..., Any]]
    parallel: tuple[Callable[..., Any], Callable[..., Any], Callable[..., Any]]


def make_loops(prep: Callable, f: Callable, grad: Callable, nparams: int, tag: str, k: int = -1) -> Loops:
    """The loops of the kernel given by element functions ``prep``, ``f``, ``grad`` (see the module docstring).

    Args:
        nparams: number of scalar parameters (the loops take them as trailing float arguments).
        tag: a name unique to this kernel (and ``k``), used in the loops' qualified names and cache files.
        k: a static int baked in as a compile-time constant (−1: none).
    """
    if not tag.isidentifier():
        raise ValueError(f"kernel tag must be an identifier, got {tag!r}")
    K = k
    NP = nparams
    FP = fingerprint(prep, f, grad)

    # The loops are written out in each function (no helper dispatchers) so that the closures hold only plain
    # functions and ints, which keeps the disk cache valid across processes. `range` and `prange` differ only in
    # name; numba needs the loop kind at parse time, hence the two spellings.
    def forward_serial(x, out, *p):
        FP  # noqa: B018  (a closure constant: part of the cache key, see fingerprint)
        c = prep(x, p, K)
        for i in range(x.size):
            out[i] = store(f(load(x[i]), c, K), out)

    def forward_parallel(x, out, *p):
        FP  # noqa: B018
        c = prep(x, p, K)
        for i in prange(x.size):
            out[i] = store(f(load(x[i]), c, K), out)

    def backward_input_serial(x, gy, gx, *p):
        FP  # noqa: B018
        c = prep(x, p, K)
        for i in range(x.size):
            gx[i] = store(load(gy[i]) * grad(load(x[i]), c, K)[0], gx)
        return ()

    def backward_input_parallel(x, gy, gx, *p):
        FP  # noqa: B018
        c = prep(x, p, K)
        for i in prange(x.size):
            gx[i] = store(load(gy[i]) * grad(load(x[i]), c, K)[0], gx)
        return ()

    def backward_serial(x, gy, gx, *p):
        FP  # noqa: B018
        c = prep(x, p, K)
        n = x.size
        nchunks = (n + CHUNK - 1) // CHUNK
        nblocks = min(nchunks, _BLOCKS)
        per = (nchunks + nblocks - 1) // max(nblocks, 1)
        partial = np.zeros((max(nblocks, 1), NP), np.float64)
        for b in range(nblocks):
            tmp = work_empty((NP, CHUNK), x)
            for ci in range(b * per, min(nchunks, (b + 1) * per)):
                lo = ci * CHUNK
                hi = min(n, lo + CHUNK)
                for i in range(lo, hi):
                    g = grad(load(x[i]), c, K)
                    gyi = load(gy[i])
                    gx[i] = store(gyi * g[0], gx)
                    for j in range(NP):
                        tmp[j, i - lo] = gyi * g[1 + j]
                for j in range(NP):
                    partial[b, j] += _chunk_sum(tmp[j], hi - lo)
        sums = np.zeros(NP, np.float64)
        for b in range(nblocks):  # in block order: the result does not depend on the thread count
            for j in range(NP):
                sums[j] += partial[b, j]
        return sums

    def backward_parallel(x, gy, gx, *p):
        FP  # noqa: B018
        c = prep(x, p, K)
        n = x.size
        nchunks = (n + CHUNK - 1) // CHUNK
        nblocks = min(nchunks, _BLOCKS)
        per = (nchunks + nblocks - 1) // max(nblocks, 1)
        partial = np.zeros((max(nblocks, 1), NP), np.float64)
        for b in prange(nblocks):
            tmp = work_empty((NP, CHUNK), x)
            for ci in range(b * per, min(nchunks, (b + 1) * per)):
                lo = ci * CHUNK
                hi = min(n, lo + CHUNK)
                for i in range(lo, hi):
                    g = grad(load(x[i]), c, K)
                    gyi = load(gy[i])
                    gx[i] = store(gyi * g[0], gx)
                    for j in range(NP):
                        tmp[j, i - lo] = gyi * g[1 + j]
                for j in range(NP):
                    partial[b, j] += _chunk_sum(tmp[j], hi - lo)
        sums = np.zeros(NP, np.float64)
        for b in range(nblocks):
            for j in range(NP):
                sums[j] += partial[b, j]
        return sums

    t = tag if k < 0 else f"{tag}_k{k}"
    fs, bis = _jit(forward_serial, t, False), _jit(backward_input_serial, t, False)
    fp, bip = _jit(forward_parallel, t, True), _jit(backward_input_parallel, t, True)
    if NP:
        bs, bp = _jit(backward_serial, t, False), _jit(backward_parallel, t, True)
    else:  # nothing to reduce
        bs, bp = bis, bip

    def forward(x: Any, out: Any, *p: float) -> None:
        (fs if x.size <= SERIAL_MAX else fp)(x, out, *p)

    def backward_input(x: Any, gy: Any, gx: Any, *p: float) -> tuple:
        return (bis if x.size <= SERIAL_MAX else bip)(x, gy, gx, *p)

    def backward(x: Any, gy: Any, gx: Any, *p: float) -> Any:
        return (bs if x.size <= SERIAL_MAX else bp)(x, gy, gx, *p)

    return Loops(forward, backward, backward_input, (fs, bis, bs), (fp, bip, bp))
