"""The one registry of activations: every other part of actlab reads names, properties and kernels from here."""

from __future__ import annotations

import difflib
import math
from dataclasses import dataclass, field
from typing import Any, Callable, Literal

import torch
from torch import nn

from .. import kernels

__all__ = ["ActivationSpec", "Activation", "register", "get", "names", "spec", "check_input", "check_hparam", "run"]

Smoothness = Literal["C0", "C1", "C2", "Cinf"]


@dataclass(frozen=True)
class ActivationSpec:
    """Everything actlab knows about one activation.

    ``reference(x, *hparams)`` is the composite PyTorch form: it runs on every device and dtype, is correct on the
    whole float range and is differentiable to any order; the fused kernel (``kernel``) must agree with it.
    Properties are declared for the default hyperparameters and checked numerically by the tests.
    """

    name: str
    cls: type["Activation"]
    reference: Callable[..., torch.Tensor]
    latex: str
    citation: str
    monotonic: bool
    bounded_below: bool
    bounded_above: bool
    smoothness: Smoothness
    defaults: dict[str, float] = field(default_factory=dict)
    trainable: tuple[str, ...] = ()
    kernel: str | None = None  # the name of its fused kernel in the engine (``kernels.get_kernel``), if it has one
    native: Callable[..., torch.Tensor] | None = None
    aliases: tuple[str, ...] = ()
    # Points where the function or a low derivative has a kink, for tests and plots (default hparams).
    kinks: tuple[float, ...] = ()
    # A gated activation (GLU family): the last dimension 2H in, H out; ``reference(x, *hparams, gate_last=True)``
    # and the fused kernel is ``kernels.get_gated(name)``. The properties above are those of its gate.
    gated: bool = False
    # The module is PyTorch's own op (``native``) on every device (KernelDef.module_native); the kernel serves
    # kernels.apply and the registered operator.
    native_module: bool = False


_SPECS: dict[str, ActivationSpec] = {}
_ALIASES: dict[str, str] = {}


def register(*, latex: str, citation: str, monotonic: bool, bounded: tuple[bool, bool], smoothness: Smoothness,
             kernel: kernels.KernelDef | None = None, native: Callable[..., torch.Tensor] | None = None,
             aliases: tuple[str, ...] = (), kinks: tuple[float, ...] = (), gated: bool = False
             ) -> Callable[[type], type]:
    """Class decorator that enters an :class:`Activation` subclass into the registry under ``cls.name``.

    ``kernel`` is the activation's fused-kernel description; it is entered into the kernel engine under the same
    name, with the hyperparameters (``cls.defaults``) as its parameters, and ``spec.kernel`` then names it. For a
    ``gated`` activation (a :class:`GatedActivation`) it describes the *gate*, and the engine derives the gated
    kernel from it (``kernels.get_gated(name)``); ``spec.kernel`` stays ``None``.
    """

    def wrap(cls: type[Activation]) -> type[Activation]:
        key = cls.name.lower()
        if key in _SPECS or key in _ALIASES:
            raise ValueError(f"activation {key!r} is registered twice")
        if kernel is not None and gated:
            kernels.add_gated(key, kernel, tuple(cls.defaults), cls.gate)  # type: ignore[attr-defined]
        elif kernel is not None:
            kernels.add_kernel(key, kernel, tuple(cls.defaults))
        s = ActivationSpec(name=key, cls=cls, reference=cls.reference, latex=latex, citation=citation,
                           monotonic=monotonic, bounded_below=bounded[0], bounded_above=bounded[1],
                           smoothness=smoothness, defaults=dict(cls.defaults), trainable=tuple(cls.trainable),
                           kernel=None if kernel is None or gated else key, native=native, aliases=aliases,
                           kinks=kinks, gated=gated,
                           native_module=kernel is not None and kernel.module_native and not gated)
        if s.native_module and kernel is not None and kernel.native is not None:  # add_kernel checked native is set
            cls.forward = _native_forward(kernel.native, tuple(cls.defaults))  # type: ignore[method-assign]
        _SPECS[key] = s
        for a in aliases:
            _ALIASES[a.lower()] = key
        cls.spec = s
        return cls

    return wrap


def _native_forward(op: kernels.NativeOp, names: tuple[str, ...]) -> Callable[..., torch.Tensor]:
    # A module that is PyTorch's own op, with nothing in front of it but the float check (run() names a wrong input);
    # its reference is the same function, so fused=False changes nothing. Every step is the cheapest found: one set
    # lookup on x.dtype (isinstance + is_floating_point() cost twice its 45 ns), the C op rather than F's wrapper
    # (op.direct), and the hyperparameters read directly (self.params() costs 250 ns, 2 % of a 1K step).
    fn = op.direct or op.functional
    if len(names) == 1:
        (name,) = names

        def forward(self: Activation, x: torch.Tensor) -> torch.Tensor:
            if getattr(x, "dtype", None) not in _FLOATING:
                return run(self.spec, x, self.params(), self.fused, self.static)
            return fn(x, getattr(self, name))
    elif names:
        def forward(self: Activation, x: torch.Tensor) -> torch.Tensor:
            if getattr(x, "dtype", None) not in _FLOATING:
                return run(self.spec, x, self.params(), self.fused, self.static)
            return fn(x, *[getattr(self, n) for n in names])
    else:
        def forward(self: Activation, x: torch.Tensor) -> torch.Tensor:
            if getattr(x, "dtype", None) not in _FLOATING:
                return run(self.spec, x, (), self.fused, self.static)
            return fn(x)

    forward.__doc__ = (f"``{op.functional.__module__}.{op.functional.__name__}`` on every device and dtype (one pass "
                       "each way, as the kernel).")
    return forward


def _resolve(name: str) -> str:
    key = name.lower().replace("-", "_")
    key = _ALIASES.get(key, key)
    if key not in _SPECS:
        known = sorted([*_SPECS, *_ALIASES])
        close = difflib.get_close_matches(key, known, n=4, cutoff=0.5)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise KeyError(f"unknown activation {name!r}{hint} (actlab.names() lists all {len(_SPECS)})")
    return key


def names(kind: Literal["all", "unary", "gated"] = "all") -> list[str]:
    """Canonical names of every registered activation, in registration order: all of them, the ``"unary"`` ones
    (same shape in and out) or the ``"gated"`` ones (the GLU family: last dimension 2H in, H out)."""
    if kind not in ("all", "unary", "gated"):
        raise ValueError(f"kind must be 'all', 'unary' or 'gated', got {kind!r}")
    return [n for n, s in _SPECS.items() if kind == "all" or s.gated == (kind == "gated")]


def spec(name: str) -> ActivationSpec:
    """The :class:`ActivationSpec` of ``name`` (case-insensitive; aliases allowed)."""
    return _SPECS[_resolve(name)]


def get(name: str, **hparams: Any) -> nn.Module:
    """Build the activation module called ``name``, e.g. ``actlab.get("isrlu", alpha=3.0)``."""
    return spec(name).cls(**hparams)


def check_input(x: torch.Tensor, name: str) -> None:
    """Reject tensors an activation cannot be applied to, naming the dtype."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name}: expected a torch.Tensor, got {type(x).__name__}")
    if not x.is_floating_point():
        raise TypeError(f"{name}: expected a floating-point tensor, got dtype {x.dtype}; "
                        f"convert with x.float() first")


def run(s: ActivationSpec, x: torch.Tensor, params: tuple[Any, ...], fused: bool = True,
        static: dict[str, Any] | None = None) -> torch.Tensor:
    """Apply activation ``s`` with hyperparameters ``params`` (registry order), saving one tensor for backward.

    With a kernel, :func:`actlab.kernels.apply` picks the path: the fused numba kernel (CPU float32/float64, scalar
    hyperparameters), the registered operator under graph capture, or the one-tensor recompute path elsewhere.
    Without one, the composite reference runs on CPU float32/float64 (these are native-like ops such as ReLU) and
    through :func:`actlab.kernels.recompute` on other devices and dtypes. ``fused=False`` runs the plain composite
    reference under autograd (every intermediate saved), e.g. to check the kernels against it.
    """
    check_input(x, s.name)
    if s.gated:
        gate_last = bool((static or {}).get("gate_last", True))
        if not fused:
            return s.reference(x, *params, gate_last=gate_last)
        gk = kernels.get_gated(s.name)
        if gk is not None:
            return kernels.apply_gated(gk, x, *params, gate_last=gate_last)
        return kernels.recompute(lambda t, *p: s.reference(t, *p, gate_last=gate_last), x, *params)
    if not fused:
        return s.reference(x, *params)
    if s.kernel is not None:
        k = kernels.get_kernel(s.kernel, **static) if static else kernels.KERNELS.get(s.kernel)
        if k is not None:
            return kernels.apply(k, x, *params, reference=s.reference)
    if kernels.capturing(x) or kernels.supports(x, *params, lowp=False):
        return s.reference(x, *params)
    return kernels.recompute(s.reference, x, *params)


def check_hparam(name: str, key: str, value: Any, positive: bool = True) -> float:
    """Validate a scalar hyperparameter: a finite number, and > 0 when ``positive``."""
    v = float(value.detach()) if isinstance(value, torch.Tensor) else value
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise TypeError(f"{name}: {key} must be a number, got {type(value).__name__}")
    if not math.isfinite(v) or (positive and v <= 0):
        raise ValueError(f"{name}: {key} must be a finite number{' > 0' if positive else ''}, got {v}")
    return float(v)


# Bound once: the module's hottest path pays each attribute lookup on every call.
_is_compiling = torch.compiler.is_compiling
_Tensor = torch.Tensor
# Every floating dtype this torch has (float8 formats included), derived so that a new one needs no edit here.
_FLOATING = frozenset(v for v in vars(torch).values() if isinstance(v, torch.dtype) and v.is_floating_point)

# The attributes that decide whether an Activation's eager fast entry may serve (see Activation.forward).
_FAST_INPUTS = frozenset({"fused", "is_trainable", "static"})


class Activation(nn.Module):
    """Base of every zoo module: hyperparameters from ``defaults``, optionally trainable, and a fused forward.

    Subclasses set ``name``, ``defaults`` (ordered: the order is the kernel's and the reference's parameter order,
    and the constructor's positional order), ``trainable`` (which hyperparameters may be learned) and a static
    ``reference``.

    The constructor follows torch.nn: hyperparameters positionally in ``defaults`` order or by keyword
    (``ISRLU(3.0)``, ``ISRLU(alpha=3.0)``); ``trainable``, ``fused``, ``inplace`` and kernel options (``newton``)
    are keyword-only. ``inplace`` is accepted so that the module drops into ``act_layer(inplace=True)`` slots
    (torchvision, timm) and is ignored, as timm's GELU ignores it: the fused kernels save one tensor (the output
    where f′ is a function of it) and write a fresh output, so writing over the input would save no memory and
    would break the layers that saved that input.
    """

    name: str = ""
    defaults: dict[str, float] = {}
    trainable: tuple[str, ...] = ()
    positive: tuple[str, ...] = ()  # hyperparameters that must be > 0
    static_options: tuple[str, ...] = ()  # kernel options that are not hyperparameters (e.g. ``newton``)
    spec: ActivationSpec
    # The eager fast entry (kernels.eager_entry) and what it is called with; kept up to date by __setattr__.
    _fast: Any
    _fast_ok: bool
    _fast_values: tuple[Any, ...]

    def __init__(self, *args: Any, trainable: bool = False, fused: bool = True, inplace: bool = False,
                 **hparams: Any) -> None:
        super().__init__()
        if len(args) > len(self.defaults):
            takes = f"{len(self.defaults)} ({', '.join(self.defaults)})" if self.defaults else "none"
            raise TypeError(f"{self.name}: takes {takes} positional hyperparameter(s), got {len(args)}; "
                            "trainable, fused and inplace are keyword-only")
        for key, value in zip(self.defaults, args, strict=False):
            if key in hparams:
                raise TypeError(f"{self.name}: {key} given both positionally and by keyword")
            hparams[key] = value
        self.static = {k: hparams.pop(k) for k in self.static_options if hparams.get(k) is not None}
        for k in self.static_options:
            hparams.pop(k, None)
        unknown = set(hparams) - set(self.defaults)
        if unknown:
            allowed = ", ".join([*self.defaults, *self.static_options, "trainable", "fused", "inplace"])
            raise TypeError(f"{self.name}: unknown keyword(s) {sorted(unknown)}; allowed: {allowed}")
        if trainable and not self.trainable:
            raise ValueError(f"{self.name} has no trainable hyperparameter")
        self.is_trainable = bool(trainable)
        self.fused = fused
        self.inplace = bool(inplace)  # accepted for act_layer(inplace=True) slots; see the class docstring
        for key, default in self.defaults.items():
            v = check_hparam(self.name, key, hparams.get(key, default), positive=key in self.positive)
            if trainable and key in self.trainable:
                setattr(self, key, nn.Parameter(torch.tensor(v)))
            else:
                setattr(self, key, v)

    @staticmethod
    def reference(x: torch.Tensor, *params: Any) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def __prepare_scriptable__(self) -> nn.Module:
        # torch.jit.script calls this on every submodule first: fail here, clearly, rather than deep in the compiler.
        raise TypeError(kernels.SCRIPT_ERROR.format(name=type(self).__name__))

    def params(self) -> tuple[Any, ...]:
        return tuple([getattr(self, k) for k in self.defaults])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not _is_compiling() and type(x) is _Tensor:
            # The eager small-tensor path: one C++ call that checks and runs the fused node (kernels.eager_entry).
            # At 1K elements every Python layer of run() costs about what the kernel does.
            fast = self._fast
            if fast is None and self._fast_ok:
                fast = self._resolve_fast()
            if fast is not None:
                y = fast(x, self._fast_values)
                if y is not None:
                    return y
        return run(self.spec, x, self.params(), self.fused, self.static)

    def _resolve_fast(self) -> Any:
        s = self.spec
        k = kernels.get_kernel(s.kernel, **self.static) if s.kernel is not None else None
        self.__dict__["_fast_values"] = self.params()
        fast = self.__dict__["_fast"] = None if k is None else kernels.eager_entry(k, s.reference)
        return fast  # None while the extension is not loaded yet: the next call tries again

    def __setattr__(self, name: str, value: Any) -> None:
        super().__setattr__(name, value)
        if name in _FAST_INPUTS or name in self.defaults:  # what the fast entry depends on: resolve it again
            d = self.__dict__
            d["_fast"] = None
            d.pop("_fast_values", None)  # recomputed with the entry
            spec = getattr(self, "spec", None)
            d["_fast_ok"] = bool(d.get("fused", True)) and not d.get("is_trainable", False) \
                and spec is not None and spec.kernel is not None

    def __getstate__(self) -> dict[str, Any]:
        # The fast entry is a handle into this process's C++ extension: pickles and copies resolve their own.
        return {**super().__getstate__(), "_fast": None}

    def extra_repr(self) -> str:
        parts = []
        for k in self.defaults:
            v = getattr(self, k)
            parts.append(f"{k}={float(v.detach()) if isinstance(v, torch.Tensor) else v:g}")
        if self.trainable:
            parts.append(f"trainable={self.is_trainable}")
        parts += [f"{k}={v}" for k, v in self.static.items()]
        if not self.fused:
            parts.append("fused=False")
        if self.inplace:
            parts.append("inplace=True")
        return ", ".join(parts)
