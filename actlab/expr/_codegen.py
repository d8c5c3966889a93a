"""Generate a fused numba kernel for any expression.

The forward is emitted from the expression tree with each operator's ``kernel`` template from the table. The
derivative f'(x) and every ∂f/∂β come from sympy (custom stable functions for σ, softplus, sinc and |·|), share
sub-expressions through ``sympy.cse`` and are printed to numba by :class:`_NumbaPrinter`. Only these element
functions (``_prep``, ``_f``, ``_df``) are generated; :func:`actlab.kernels.make_loops`, the loop template every
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
from pathlib import Path
from typing import Any


from ._expr import Expr, parse
from ._ops import EPS

__all__ = ["compile_kernel", "kernel_source", "cache_dir", "KernelCodegenError"]

_VERSION = "6"  # bump when the emitted source format changes


class KernelCodegenError(ValueError):
    """sympy produced a form the numba printer does not know (reported with the offending sub-expression)."""


def cache_dir() -> Path:
    """Where generated kernel sources (and numba's caches next to them) live."""
    env = os.environ.get("ACTLAB_CACHE_DIR")
    return Path(env) / "kernels" if env else Path.home() / ".cache" / "actlab" / "kernels"


class _NumbaPrinter:
    """sympy → numba source; numeric constants become typed locals so float32 code stays float32."""

    def __init__(self, names: dict[Any, str]) -> None:
        import sympy as sp

        self.sp = sp
        self.names = dict(names)
        self.consts: dict[str, str] = {}
        self.funcs = {sp.exp: "vexp", sp.log: "vlog", sp.sin: "np.sin", sp.cos: "np.cos", sp.sinh: "np.sinh",
                      sp.cosh: "np.cosh", sp.tanh: "vtanh", sp.asinh: "np.arcsinh", sp.atan: "np.arctan",
                      sp.erf: "verf", sp.sign: "_sign", sp.Heaviside: "_heaviside"}

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
                return f"np.sqrt({b})"
            if p == sp.Rational(-1, 2):
                return f"({self.const(1)} / np.sqrt({b}))"
            if p == sp.Rational(3, 2):
                return f"({b} * np.sqrt({b}))"
            if p == sp.Rational(-3, 2):
                return f"({self.const(1)} / ({b} * np.sqrt({b})))"
            return f"({b} ** {self(p)})"
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
        raise KernelCodegenError(f"no numba form for {e.func.__name__}: {e}")


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


def kernel_source(expr: Expr | str) -> str:
    """The numba module source of ``expr``'s fused kernel."""
    import sympy as sp

    from ._sym import EPS_SYM, X_SYM, to_sympy

    e = parse(expr) if isinstance(expr, str) else expr
    n = e.betas
    bsyms = [sp.Symbol(f"b{i}", real=True) for i in range(n)]
    f = to_sympy(e, bsyms)
    derivs = [sp.diff(f, X_SYM)] + [sp.diff(f, b) for b in bsyms]
    repl, reduced = sp.cse(derivs, symbols=sp.numbered_symbols("s"), optimizations="basic")
    names = {X_SYM: "x", EPS_SYM: "EPS", **{b: str(b) for b in bsyms}}
    pr = _NumbaPrinter(names)
    blines = []
    for sym, sub in repl:
        blines.append(f"{sym} = {pr(sub)}")
        pr.names[sym] = str(sym)
    bouts = [pr(r) for r in reduced]
    flines, fout = _forward_lines(e, pr.consts)

    consts = [f"    {name} = like({val}, x)" for val, name in pr.consts.items()]
    head = ["    ONE = like(1.0, x)", "    ZERO = like(0.0, x)", f"    EPS = like({EPS!r}, x)", *consts]
    unpack = [f"    b{i} = c[{i}]" for i in range(n)]
    casts = "".join(f"cast_like(p[{i}], X), " for i in range(n))

    # Only the element functions are emitted; actlab.kernels.make_loops (the template every fused kernel shares)
    # turns them into the serial/parallel loops and the β reduction.
    src = [
        f"# Generated by actlab.expr (format {_VERSION}) from: {e}",
        "# f'(x) and the beta gradients come from sympy; do not edit (the file name is a hash of this text).",
        "import numpy as np", "from numba.extending import register_jitable", "",
        "from actlab.expr._kmath import like, _max, _min, _sign, _heaviside, _sinc, _sincd",
        "from actlab.kernels import SAFE_FASTMATH, cast_like, vexp, vlog",
        "from actlab.kernels import vsigmoid as _sigmoid, vsoftplus as _softplus, vtanh, verf", "",
        "_exp = vexp", "", "",
        "@register_jitable(inline='always')", "def _prep(X, p, k):", f"    return ({casts})", "", "",
        "@register_jitable(fastmath=SAFE_FASTMATH, error_model='numpy')", "def _f(x, c, k):", *unpack, *head,
        *[f"    {ln}" for ln in flines], f"    return {fout}", "", "",
        "@register_jitable(fastmath=SAFE_FASTMATH, error_model='numpy')", "def _df(x, c, k):", *unpack, *head,
        *[f"    {ln}" for ln in blines], f"    return ({', '.join(bouts)},)",
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


def compile_kernel(expr: Expr | str) -> Any:
    """The fused kernel of ``expr`` as a :class:`actlab.kernels.FusedKernel` (parameters ``beta0``, ``beta1``…).

    Generation takes tens of milliseconds; numba compiles each dtype on its first call (cached on disk).
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
                        loops=(loops.serial[:2], loops.parallel[:2]))
        _kernels[key] = k
    return k
