"""Generate fused kernels for any expression: numba for the CPU, Triton for the GPU, from one element source.

The forward is emitted from the expression tree with each operator's ``kernel`` template from the table. The
derivative f'(x) and every ∂f/∂β come from sympy (custom stable functions for σ, softplus, sinc and |·|), share
sub-expressions through ``sympy.cse`` and are printed once by :class:`_Printer` in backend-neutral helper names
(``_ops.HELPERS``), built once per expression (:func:`_elements`). Each backend then declares constants and binds
the helpers its own way: ``_kmath`` for numba (:func:`kernel_source`), ``_tlmath`` for Triton
(:func:`triton_source`, written and imported on the first GPU call; :mod:`actlab.kernels._triton` wraps it in its
kernels). For numba, only the element functions (``_prep``, ``_f``, ``_df``) are generated;
:func:`actlab.kernels.make_loops`, the loop template every
fused kernel shares, turns them into the serial and parallel loops and the β reduction. The source is written to
``$ACTLAB_CACHE_DIR`` (default ``~/.cache/actlab/kernels``) as ``expr_<hash>.py`` and imported from there under a
name derived from that hash, so the loops' numba cache keys (which name the element functions) are the same in every
process and the machine code is reused.

Guarantees: NaN in → NaN out; every constant is cast to the input's dtype, so float32 runs in float32 with the
vectorisable building blocks of ``actlab.kernels``. The kernels do not resolve ∞·0 limits (x·σ(x) at x = −∞ is NaN, as
in the composite torch form), and f' follows sympy's conventions at kinks (Heaviside(0) = 1/2, sign(0) = 0).
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import os
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any


from ._expr import Expr, parse
from ._ops import EPS, HELPERS

__all__ = ["compile_kernel", "compile_gated", "kernel_source", "triton_source", "cache_dir", "KernelCodegenError"]

_VERSION = "8"  # bump when the emitted source format changes


class KernelCodegenError(ValueError):
    """sympy produced a form the kernel printer does not know (reported with the offending sub-expression)."""


def cache_dir() -> Path:
    """Where generated kernel sources (and numba's caches next to them) live."""
    env = os.environ.get("ACTLAB_CACHE_DIR")
    return Path(env) / "kernels" if env else Path.home() / ".cache" / "actlab" / "kernels"


class _Printer:
    """sympy → element source in the backend-neutral helper names (``actlab.expr._ops.HELPERS``), which each
    backend's helper module binds; numeric constants become named locals (``C0``…) that each backend declares in its
    own way (typed for numba, so float32 code stays float32)."""

    def __init__(self, names: dict[Any, str]) -> None:
        import sympy as sp

        self.sp = sp
        self.names = dict(names)
        self.consts: dict[str, str] = {}
        self.funcs = {sp.exp: "_exp", sp.log: "_log", sp.sin: "_sin", sp.cos: "_cos", sp.sinh: "_sinh",
                      sp.cosh: "_cosh", sp.tanh: "_tanh", sp.asinh: "_asinh", sp.atan: "_atan", sp.erf: "_erf",
                      sp.sign: "_sign", sp.Heaviside: "_heaviside"}

    def const(self, value: Any) -> str:
        v = float(value)
        key = repr(v)
        if key not in self.consts:
            self.consts[key] = f"C{len(self.consts)}"
        return self.consts[key]

    def __call__(self, e: Any) -> str:
        sp = self.sp
        if e in self.names:
            return self.names[e]
        if e.is_Number or e.is_NumberSymbol:
            return self.const(e)
        if e.is_Add:
            return "(" + " + ".join(self(a) for a in e.args) + ")"
        if e.is_Mul:
            num, den = [], []
            for f in e.args:
                if f.is_Pow and f.exp.is_Number and f.exp < 0:
                    den.append(self(sp.Pow(f.base, -f.exp)))
                else:
                    num.append(self(f))
            top = " * ".join(num) if num else self.const(1)
            return f"({top} / ({' * '.join(den)}))" if den else f"({top})"
        if e.is_Pow:
            b, p = self(e.base), e.exp
            if p.is_Integer and 1 <= int(p) <= 4:
                return "(" + " * ".join([b] * int(p)) + ")"
            if p.is_Integer and -4 <= int(p) <= -1:
                return f"({self.const(1)} / ({' * '.join([b] * -int(p))}))"
            if p == sp.Rational(1, 2):
                return f"_sqrt({b})"
            if p == sp.Rational(-1, 2):
                return f"({self.const(1)} / _sqrt({b}))"
            if p == sp.Rational(3, 2):
                return f"({b} * _sqrt({b}))"
            if p == sp.Rational(-3, 2):
                return f"({self.const(1)} / ({b} * _sqrt({b})))"
            return f"_pow({b}, {self(p)})"
        if isinstance(e, (sp.Max, sp.Min)):
            fn = "_max" if isinstance(e, sp.Max) else "_min"
            out = self(e.args[0])
            for a in e.args[1:]:
                out = f"{fn}({out}, {self(a)})"
            return out
        if e.func in self.funcs:
            return f"{self.funcs[e.func]}({self(e.args[0])})"
        kernel = getattr(e.func, "kernel", None)
        if kernel is not None and len(e.args) == 1:
            return f"{kernel}({self(e.args[0])})"
        raise KernelCodegenError(f"no kernel form for {e.func.__name__}: {e}")


def _forward_lines(expr: Expr, consts: dict[str, str]) -> tuple[list[str], str]:
    lines: list[str] = []
    beta_index = iter(range(expr.betas))

    def emit(e: Expr) -> str:
        if e.op is None:
            if e.value is None:
                return "x"
            key = repr(float(e.value))
            consts.setdefault(key, f"C{len(consts)}")
            return consts[key]
        kw = {h: emit(a) for h, a in zip(e.op.holes, e.args, strict=False)}
        if e.op.uses_beta:  # operands first, then the operator's own β: the order Expr.torch_fn uses
            kw["beta"] = f"b{next(beta_index)}"
        name = f"t{len(lines)}"
        lines.append(f"{name} = {e.op.kernel.format(**kw)}")
        return name

    out = emit(expr)
    return lines, out


@dataclass(frozen=True)
class _Elements:
    """An expression's element functions in backend-neutral source: built once (sympy derivatives with CSE),
    printed by each backend's emitter."""

    expr: Expr
    forward: list[str]  # "tN = …" lines
    out: str  # the forward's result
    deriv: list[str]  # "sN = …" lines (the shared sub-expressions)
    derivs: list[str]  # f′, then ∂f/∂β₀…
    consts: dict[str, str]  # repr(value) -> "CN"
    constant: list[bool]  # per output (forward, then derivs): free of x, so a backend may need to broadcast it


@functools.lru_cache(maxsize=512)
def _elements(text: str) -> _Elements:
    import sympy as sp

    from ._sym import EPS_SYM, X_SYM, to_sympy

    e = parse(text)
    bsyms = [sp.Symbol(f"b{i}", real=True) for i in range(e.betas)]
    f = to_sympy(e, bsyms)
    derivs = [sp.diff(f, X_SYM)] + [sp.diff(f, b) for b in bsyms]
    repl, reduced = sp.cse(derivs, symbols=sp.numbered_symbols("s"), optimizations="basic")
    pr = _Printer({X_SYM: "x", EPS_SYM: "EPS", **{b: str(b) for b in bsyms}})
    blines = []
    depends: dict[Any, bool] = {}
    for sym, sub in repl:
        blines.append(f"{sym} = {pr(sub)}")
        pr.names[sym] = str(sym)
        depends[sym] = X_SYM in sub.free_symbols or any(depends.get(s, False) for s in sub.free_symbols)
    outs = [pr(r) for r in reduced]
    free = [X_SYM in r.free_symbols or any(depends.get(s, False) for s in r.free_symbols) for r in reduced]
    flines, fout = _forward_lines(e, pr.consts)
    return _Elements(e, flines, fout, blines, outs, dict(pr.consts), [X_SYM not in f.free_symbols]
                     + [not d for d in free])


def kernel_source(expr: Expr | str) -> str:
    """The numba module source of ``expr``'s fused kernel (its element functions)."""
    el = _elements(str(parse(expr) if isinstance(expr, str) else expr))
    n = el.expr.betas
    consts = [f"    {name} = like({val}, x)" for val, name in el.consts.items()]
    head = ["    ONE = like(1.0, x)", "    ZERO = like(0.0, x)", f"    EPS = like({EPS!r}, x)", *consts]
    unpack = [f"    b{i} = c[{i}]" for i in range(n)]
    casts = "".join(f"cast_like(p[{i}], X), " for i in range(n))

    # Only the element functions are emitted; actlab.kernels.make_loops (the template every fused kernel shares)
    # turns them into the serial/parallel loops and the β reduction.
    src = [
        f"# Generated by actlab.expr (format {_VERSION}) from: {el.expr}",
        "# f'(x) and the beta gradients come from sympy; do not edit (the file name is a hash of this text).",
        "from numba.extending import register_jitable", "",
        f"from actlab.expr._kmath import like, {', '.join(HELPERS)}",
        "from actlab.kernels import SAFE_FASTMATH, cast_like", "", "",
        "@register_jitable(inline='always')", "def _prep(X, p, k):", f"    return ({casts})", "", "",
        "@register_jitable(inline='always')", "def _f(x, c, k):", *unpack, *head,
        *[f"    {ln}" for ln in el.forward], f"    return {el.out}", "", "",
        "@register_jitable(inline='always')", "def _df(x, c, k):", *unpack, *head,
        *[f"    {ln}" for ln in el.deriv], f"    return ({', '.join(el.derivs)},)",
    ]
    return "\n".join(src) + "\n"


def triton_source(expr: Expr | str) -> str:
    """The Triton module source of ``expr``'s element functions ``expr_f``/``expr_grad`` (float32 blocks), which
    :mod:`actlab.kernels._triton` wraps in its forward and backward kernels. Printed from the same element source as
    the numba kernel; constants are plain float32 locals, and outputs free of x are broadcast to x's block."""
    el = _elements(str(parse(expr) if isinstance(expr, str) else expr))
    n = el.expr.betas
    args = "".join(f", b{i}" for i in range(n))
    # Python float locals, not tl.constexpr globals: under the interpreter constexpr * tensor is not a tensor.
    head = ["    ONE = 1.0", "    ZERO = 0.0", f"    EPS = {EPS!r}",
            *[f"    {nm} = {val}" for val, nm in el.consts.items()]]

    def bcast(src: str, constant: bool) -> str:
        return f"(tl.zeros_like(x) + {src})" if constant else src

    outs = [bcast(d, c) for d, c in zip(el.derivs, el.constant[1:], strict=True)]
    src = [
        f"# Generated by actlab.expr (format {_VERSION}) from: {el.expr}",
        "# f'(x) and the beta gradients come from sympy; do not edit (the file name is a hash of this text).",
        "import triton", "import triton.language as tl", "",
        f"from actlab.expr._tlmath import {', '.join(HELPERS)}", "", "",
        "@triton.jit", f"def expr_f(x{args}):", *head, *[f"    {ln}" for ln in el.forward],
        f"    return {bcast(el.out, el.constant[0])}", "", "",
        "@triton.jit", f"def expr_grad(x{args}):", *head, *[f"    {ln}" for ln in el.deriv],
        f"    return {outs[0] if n == 0 else ', '.join(outs)}",
    ]
    return "\n".join(src) + "\n"


_lock = threading.Lock()
_loaded: dict[str, Any] = {}


@functools.lru_cache(maxsize=1)
def _deps_stamp() -> str:
    # numba's cache does not track the helpers a cached function inlined; hashing their source into the file name
    # makes a change to them produce a new kernel file (whose functions the loops' cache key names) instead of stale
    # machine code. The engine's fingerprint covers numba's version, its math blocks and the loop template.
    from actlab.kernels import SOURCE_FINGERPRINT

    from . import _kmath

    return SOURCE_FINGERPRINT + Path(_kmath.__file__).read_text()


def _load(src: str) -> tuple[str, Any]:
    digest = hashlib.blake2b((src + _deps_stamp()).encode(), digest_size=10).hexdigest()
    with _lock:
        mod = _loaded.get(digest)
        if mod is not None:
            return digest, mod
        d = cache_dir()
        d.mkdir(parents=True, exist_ok=True)
        path = d / f"expr_{digest}.py"
        if not path.exists() or path.read_text() != src:
            tmp = path.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(src)
            os.replace(tmp, path)  # atomic: concurrent workers never import a half-written file
        name = f"actlab_expr_kernel_{digest}"
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None
        mod = importlib.util.module_from_spec(spec)
        sys.modules[name] = mod
        spec.loader.exec_module(mod)
        _loaded[digest] = mod
        return digest, mod


_kernels: dict[str, Any] = {}


def _triton_ref(text: str) -> str:
    # Called by the Triton backend on an expression kernel's first GPU call: only then is its Triton module written
    # and imported (importing it imports Triton).
    from actlab.kernels import load_triton_source

    return f"{load_triton_source(triton_source(text))}:expr"


def compile_kernel(expr: Expr | str) -> Any:
    """The fused kernel of ``expr`` as a :class:`actlab.kernels.FusedKernel` (parameters ``beta0``, ``beta1``…).

    Generation takes tens of milliseconds; numba compiles each dtype on its first call (cached on disk). The same
    element source printed for Triton (:func:`triton_source`) serves CUDA tensors, written on the first GPU call.
    """
    from actlab.kernels import FusedKernel, make_loops

    e = parse(expr) if isinstance(expr, str) else expr
    key = str(e)
    k = _kernels.get(key)
    if k is None:
        digest, mod = _load(kernel_source(e))
        loops = make_loops(mod._prep, mod._f, mod._df, e.betas, tag=f"expr_{digest}")
        k = FusedKernel(f"expr:{key}", loops.forward, loops.backward, tuple(f"beta{i}" for i in range(e.betas)),
                        reference=e.torch_fn(), backward_input=loops.backward_input,
                        loops=(loops.serial[:2], loops.parallel[:2]), triton=functools.partial(_triton_ref, key))
        _kernels[key] = k
    return k


_gated: dict[str, Any] = {}


def compile_gated(expr: Expr | str) -> Any:
    """The gated kernel ``f(g)·a`` of ``expr`` (an :class:`actlab.kernels.GatedKernel`; no β): the same generated
    element functions as :func:`compile_kernel`, in the engine's gated loop template (and its Triton form)."""
    from actlab.kernels import GatedKernel, gated_reference, make_gated_loops

    e = parse(expr) if isinstance(expr, str) else expr
    if e.betas:
        raise ValueError(f"compile_gated takes an expression without β (the gated kernel computes no β gradient), "
                         f"got {str(e)!r}")
    key = str(e)
    k = _gated.get(key)
    if k is None:
        digest, mod = _load(kernel_source(e))
        fwd, bwd = make_gated_loops(mod._prep, mod._f, mod._df, False, tag=f"glu_expr_{digest}")
        k = GatedKernel(f"glu:{key}", fwd, bwd, (), gated_reference(e.torch_fn()),
                        triton=functools.partial(_triton_ref, key))
        _gated[key] = k
    return k
