"""The C++ autograd node that runs small fused activations without Python on the autograd path.

A Python ``autograd.Function`` costs tens of microseconds per call in forward and again in backward. On a child
network's small activations (10–50K elements) that fixed cost is larger than the kernel: it made a fused step
on the MNIST-1D CNN 1.11–1.18× slower than torch's rectifier's, which costs the same when wrapped in a Python Function
(benchmarks/step_floor.py). ``_native.cpp`` is that Function in C++. The loops stay in numba; the node calls them
through numba ``cfunc`` addresses, so every kernel, hand-written or generated, keeps one implementation.

The extension is compiled with torch's C++ toolchain (g++ and ninja, about 30 s) once per machine and torch
version, into ``$ACTLAB_CACHE_DIR/native`` (default ``~/.cache/actlab/native``). ``make install`` builds it;
otherwise the first fused call starts the build on a background thread and the Python Function serves until it is
ready, so nothing stalls. Both paths run the same machine code and give bit-identical results. Set
``ACTLAB_NATIVE=0`` (or call :func:`use_native` with ``False``) to never build or use it. If the build fails (no
compiler), a warning names the cause and the Python Function serves.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.machinery
import importlib.util
import os
import sys
import threading
import warnings
from pathlib import Path
from types import ModuleType
from typing import Any, Callable

import numba
import torch
from filelock import FileLock  # an flock on POSIX; also imports where fcntl does not exist
from numba import carray, cfunc, types

from ._half import NUMBA_BITS

# Tensors of more elements are split over PyTorch's intra-op thread pool (at::parallel_for) in chunks of at least
# this many, each running the serial loop: aten's own GRAIN_SIZE for elementwise ops, so the node and the op it
# stands in for use the same threads the same way (numba's parallel loops wake a second pool on every call).
PARALLEL_GRAIN = 32768
# The node serves tensors under this size (bytes); larger outputs take the Python Function and its huge pages
# (_fused.HUGEPAGE_MIN_BYTES, the same 32 MB: glibc's mmap ceiling).
MAX_NODE_BYTES = 32 << 20

__all__ = ["use_native", "native_enabled", "build_native", "native_status", "node", "eager_entry", "loops"]

_SOURCE = Path(__file__).with_name("_native.cpp")
# at::parallel_for is a header template: without OpenMP at compile time its pragma is dropped and the split runs
# serially (measured: 0.4-0.7x native at 2 threads from 64K). GCC's libgomp is the runtime torch's Linux wheels carry
# (torch/lib/libgomp.so.1, loaded first, so the extension's threads are torch's). Elsewhere the split is serial.
_OPENMP = ("-fopenmp",) if sys.platform.startswith("linux") else ()
# The element type of each dtype's loops: bf16/fp16 travel as their 16-bit patterns (_half.NUMBA_BITS), which the
# loops read and write themselves (load/store), so the node passes their data pointers as they are.
_NUMBA_DTYPES = {torch.float32: types.float32, torch.float64: types.float64, **NUMBA_BITS}

_state: dict[str, Any] = {"enabled": os.environ.get("ACTLAB_NATIVE", "1") != "0", "module": None, "error": None,
                          "thread": None, "double_backward": None}
_lock = threading.Lock()


@functools.lru_cache(maxsize=1)
def _name() -> str:
    # The source and the torch build it compiles against name the library, so a stale build never loads. Hashed
    # once per process: the source does not change under a running process.
    h = hashlib.sha256(_SOURCE.read_bytes() + torch.__version__.encode() + sys.version.encode() + str(_OPENMP).encode())
    return f"actlab_native_{h.hexdigest()[:12]}"


def _build_dir() -> Path:
    env = os.environ.get("ACTLAB_CACHE_DIR")
    root = Path(env) if env else Path.home() / ".cache" / "actlab"
    return root / "native" / _name()


def _import(path: Path) -> ModuleType:
    loader = importlib.machinery.ExtensionFileLoader(path.stem, str(path))
    spec = importlib.util.spec_from_file_location(path.stem, path, loader=loader)
    assert spec is not None
    mod = importlib.util.module_from_spec(spec)
    loader.exec_module(mod)
    return mod


def build_native(verbose: bool = False) -> ModuleType:
    """Compile the extension if needed (about 30 s, once per machine and torch version) and load it.

    Raises whatever the toolchain raises when it cannot build (e.g. no C++ compiler).
    """
    from torch.utils import cpp_extension

    d = _build_dir()
    so = d / f"{d.name}.so"
    if not so.exists():
        d.mkdir(parents=True, exist_ok=True)
        # torch's own build lock is a file that a killed build leaves behind, after which every later build waits
        # forever. An flock dies with its process; holding it, any leftover torch lock is stale and is removed.
        with FileLock(str(d / "actlab.lock")):
            if not so.exists():
                (d / "lock").unlink(missing_ok=True)
                # ninja from the venv (a dependency) when the venv is not activated.
                bindir = str(Path(sys.executable).parent)
                if bindir not in os.environ.get("PATH", "").split(os.pathsep):
                    os.environ["PATH"] = bindir + os.pathsep + os.environ.get("PATH", "")
                cpp_extension.load(d.name, [str(_SOURCE)], extra_cflags=["-O2", *_OPENMP],
                                   extra_ldflags=list(_OPENMP), build_directory=str(d),
                                   verbose=verbose)
    return _activate(_import(so))


def set_double_backward(fn: Callable[[int, torch.Tensor, torch.Tensor, list[float]], torch.Tensor]) -> None:
    """Register the Python formula the node calls under create_graph=True: ``fn(key, saved, grad_out, params)``.

    ``_fused`` hands it over at import, so this module never imports ``_fused`` (which imports this one).
    """
    _state["double_backward"] = fn


def _activate(mod: ModuleType) -> ModuleType:
    with _lock:
        if _state["module"] is None:
            if _state["double_backward"] is None:
                raise RuntimeError("actlab: the native node was loaded before its double-backward formula was set")
            mod.set_double_backward(_state["double_backward"])
            _state["module"] = mod
    return _state["module"]


def _background_build() -> None:
    try:
        build_native()
    except Exception as e:  # noqa: BLE001 - any toolchain failure means: stay on the Python Function
        _state["error"] = f"{type(e).__name__}: {str(e).strip().splitlines()[-1] if str(e).strip() else ''}"
        warnings.warn(f"actlab: the native autograd node could not be built ({_state['error']}); fused kernels "
                      "keep using the Python autograd.Function (slower on small tensors). Set ACTLAB_NATIVE=0 to "
                      "silence this.", RuntimeWarning, stacklevel=1)


def _extension() -> ModuleType | None:
    """The loaded extension, or None while it is unavailable (starting a background build the first time)."""
    mod = _state["module"]
    if mod is not None or not _state["enabled"] or _state["error"] is not None:
        return mod
    with _lock:
        if _state["thread"] is not None:
            return None
        d = _build_dir()
        so = d / f"{d.name}.so"
        if not so.exists():
            t = threading.Thread(target=_background_build, name="actlab-native-build", daemon=True)
            _state["thread"] = t
            t.start()
            return None
    try:
        return _activate(_import(so))
    except Exception as e:  # noqa: BLE001 - a corrupt library: report once, stay on the Python Function
        _state["error"] = f"{type(e).__name__}: {e}"
        warnings.warn(f"actlab: could not load {so} ({e}); delete it to rebuild", RuntimeWarning, stacklevel=2)
        return None


def _after_fork() -> None:
    # A forked child has no build thread; let it check (or start) the build itself.
    _state["thread"] = None


os.register_at_fork(after_in_child=_after_fork)


def use_native(enable: bool = True) -> None:
    """Turn the C++ autograd node on or off for this process (on by default; ``ACTLAB_NATIVE=0`` starts off)."""
    _state["enabled"] = bool(enable)
    if not enable:
        with _lock:
            _entries.clear()  # node() refills them (and the fast entries) once it is on again
            for f in _fast.values():
                for d in range(len(_FAST_DTYPES)):
                    f.set(d, 0, 0)


def enabled() -> bool:
    """Whether fused calls should try the node: on, and no failed build or load."""
    return _state["enabled"] and _state["error"] is None


def native_enabled() -> bool:
    """Whether fused calls currently go through the C++ node (built, loaded and enabled)."""
    return _state["enabled"] and _state["module"] is not None


def native_status() -> str:
    """One line for diagnostics: on, off, building, or the reason it failed."""
    if not _state["enabled"]:
        return "off (ACTLAB_NATIVE=0 or use_native(False))"
    if _state["module"] is not None:
        return f"on ({_build_dir()})"
    if _state["error"] is not None:
        return f"unavailable: {_state['error']}"
    return "building" if _state["thread"] is not None else "not built yet"


# Kernels known to the C++ node, by key: (kernel, reference) for the double-backward formula in Python. The
# tables hold the objects as well as their ids, so an id is never reused while its entry exists.
KEYS: dict[int, tuple[Any, Any]] = {}
_keys_by_id: dict[tuple[int, int], int] = {}
# Per (kernel, dtype): the cfunc addresses of the kernel's serial loops (the node splits them over torch's threads in
# C++) and the objects that own them; per (kernel, reference, dtype): what a node call needs, found with one lookup.
_wrappers: dict[tuple[int, torch.dtype], tuple[int, int, Any]] = {}
_entries: dict[tuple[int, int, torch.dtype], tuple[int, int, int]] = {}


def _loops(kernel: Any) -> tuple[Any, Any]:
    if kernel.loops is not None:
        return kernel.loops[0]
    return kernel.forward, kernel.backward_input or kernel.backward


def _make_cfuncs(kernel: Any, dtype: torch.dtype) -> tuple[int, int, Any]:
    """Addresses of C-callable wrappers of ``kernel``'s forward and input-only backward for ``dtype`` (and the
    objects that own them)."""
    nparams = len(kernel.param_names)
    args = "".join(f", pp[{i}]" for i in range(nparams)) + "".join(f", S{j}" for j in range(len(kernel.static)))
    src = ("def fwd(xp, op, n, pp):\n"
           f"    F(carray(xp, (n,)), carray(op, (n,)){args})\n"
           "def bwd(sp, gp, ip, n, pp):\n"
           f"    B(carray(sp, (n,)), carray(gp, (n,)), carray(ip, (n,)){args})\n")
    fwd, bwd = _loops(kernel)
    ns: dict[str, Any] = {"F": fwd, "B": bwd, "carray": carray, **{f"S{j}": v for j, v in enumerate(kernel.static)}}
    exec(compile(src, f"<actlab native wrappers of {kernel.name}>", "exec"), ns)  # noqa: S102 - our own template
    t, p = types.CPointer(_NUMBA_DTYPES[dtype]), types.CPointer(types.float64)
    # Not cached on disk: the wrappers close over dispatchers, which numba cannot key stably across processes.
    # Each takes ~0.1 s the first time a kernel meets a dtype; the loops inside come from numba's disk cache.
    # numba's stubs do not list the compiler options cfunc forwards
    f = cfunc(types.void(t, t, types.int64, p), nopython=True)(ns["fwd"])  # type: ignore[call-arg]
    b = cfunc(types.void(t, t, t, types.int64, p), nopython=True)(ns["bwd"])  # type: ignore[call-arg]
    if f.address is None or b.address is None:  # numba returns None only for an uncompiled cfunc
        raise RuntimeError(f"numba did not compile the native wrappers of kernel {kernel.name!r}")
    return f.address, b.address, (kernel, f, b)  # the owners: a cfunc's code lives as long as its object


def supported(kernel: Any) -> bool:
    """Whether ``kernel`` can run on the node: its loops are numba dispatchers (given directly or as ``loops``)."""
    return all(isinstance(f, numba.core.dispatcher.Dispatcher) for pair in
               (kernel.loops or (_loops(kernel),)) for f in pair)


def _key(kernel: Any, reference: Any) -> int:
    key = _keys_by_id.get((id(kernel), id(reference)))
    if key is None:
        key = _keys_by_id[(id(kernel), id(reference))] = len(KEYS)
        KEYS[key] = (kernel, reference)
    return key


def _wrapper(kernel: Any, dtype: torch.dtype) -> tuple[int, int, Any]:
    # The caller holds _lock.
    w = _wrappers.get((id(kernel), dtype))
    if w is None:
        w = _wrappers[(id(kernel), dtype)] = _make_cfuncs(kernel, dtype)
    return w


def _entry(kernel: Any, reference: Any, dtype: torch.dtype) -> tuple[int, int, int]:
    fwd, bwd, _ = _wrapper(kernel, dtype)
    key = _key(kernel, reference)
    f = _fast.get((id(kernel), id(reference)))
    if f is not None:
        f.set(_FAST_DTYPES.index(dtype), fwd, bwd)
    return fwd, bwd, key


def node(kernel: Any, reference: Callable[..., torch.Tensor] | None, x: torch.Tensor,
         values: tuple[float, ...]) -> torch.Tensor | None:
    """``kernel`` on ``x`` through the C++ node, or None when the node is not available (yet).

    The caller guarantees a CPU float32/float64/bfloat16/float16 tensor, a kernel that :func:`supported` accepts,
    and that no parameter needs a gradient (the node computes the input gradient only).
    """
    mod = _state["module"] or _extension()
    if mod is None:
        return None
    ck = (id(kernel), id(reference), x.dtype)
    entry = _entries.get(ck)
    if entry is None:
        with _lock:
            entry = _entries[ck] = _entry(kernel, reference, x.dtype)
    # The template's serial loop, split in C++ over torch's threads; a kernel of its own loops, unsplit.
    return mod.fused(x, entry[0], entry[1], values, kernel.output_grad is not None, entry[2],
                     PARALLEL_GRAIN if kernel.loops is not None else 0)


def loops(kernel: Any, dtype: torch.dtype) -> tuple[Any, int, int] | None:
    """``(extension, forward address, input-gradient address)`` of ``kernel``'s serial loops for ``dtype`` on the
    extension's ``forward_loop``/``backward_loop`` (split over torch's threads), or None where the node cannot run
    them (not loaded, off, another dtype, a kernel of its own loops)."""
    mod = _state["module"]
    if mod is None or not _state["enabled"] or kernel.loops is None or dtype not in _NUMBA_DTYPES \
            or not kernel.native:
        return None
    w = _wrappers.get((id(kernel), dtype))
    if w is None:
        with _lock:
            w = _wrapper(kernel, dtype)
    return mod, w[0], w[1]


# Per (kernel, reference): the C++ fast entry (see eager_entry), which node() fills as it compiles each dtype's loops.
# The order is Fast's dtype index in _native.cpp (Fast::slot).
_FAST_DTYPES = (torch.float32, torch.float64, torch.bfloat16, torch.float16)
_fast: dict[tuple[int, int], Any] = {}


def eager_entry(kernel: Any, reference: Callable[..., torch.Tensor] | None
                ) -> Callable[..., torch.Tensor | None] | None:
    """A callable ``(x, values) -> Tensor | None`` that runs ``kernel``'s serial loops on the node with all the
    eager path's checks in C++, or None while the extension is not loaded (or is off, or cannot run the kernel).

    It returns None for any call it cannot serve (another dtype or device, :data:`MAX_NODE_BYTES` or more, a
    non-float value, jit tracing, a dtype not compiled yet): the caller then goes through ``kernels.apply``, whose
    first call per dtype compiles the loops and fills the entry. The caller checks ``type(x) is torch.Tensor``
    and ``torch.compiler.is_compiling()``, which only Python can see.
    """
    mod = _state["module"]
    if mod is None or not _state["enabled"] or kernel.loops is None or not kernel.native:
        return None
    ck = (id(kernel), id(reference))
    f = _fast.get(ck)
    if f is None:
        with _lock:
            f = _fast[ck] = mod.Fast(kernel.output_grad is not None, _key(kernel, reference), MAX_NODE_BYTES,
                                     PARALLEL_GRAIN)
            for d, dtype in enumerate(_FAST_DTYPES):
                e = _entries.get((id(kernel), id(reference), dtype))
                if e is not None:
                    f.set(d, e[0], e[1])
    return f
