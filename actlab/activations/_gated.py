"""Gated activations (the GLU family): f(g)·a over the two halves of the last dimension, and squared ReLU.

Shazeer 2020 ("GLU Variants Improve Transformer") compared the feed-forward activations of a transformer; the gated
ones won, and SwiGLU is the FFN of most open LLMs. A gated activation takes a last dimension of 2H and returns H:

* the *gate* g is the **second** half by default (``gate_last=True``), so ``glu`` equals
  ``torch.nn.functional.glu`` exactly and the order matches timm's ``GluMlp``; ``gate_last=False`` gates with the
  first half;
* the gate function f is a zoo activation, and the fused kernel is derived from that activation's kernel description
  (``kernels.add_gated``): the gate's math has one home;
* the backward writes both halves of the input gradient in one pass and saves only the packed input.

Our own entries follow the seed paper: ISRU can replace σ, so ``isruglu`` gates with ISRU-σ (σ's range, an inverse
square root instead of an exponential), and ``isrluglu`` gates with ISRLU, as SwiGLU gates with Swish.
"""

from __future__ import annotations

from typing import Any, Callable

import torch

from .. import kernels
from . import _kernels as KD
from ._doc import doc
from ._registry import Activation, register
from ._zoo import GELU, ISRLU, ISRUSigmoid, ReLU, Sigmoid, Swish

__all__ = ["GatedActivation", "GLU", "Bilinear", "ReGLU", "GEGLU", "SwiGLU", "ISRUGLU", "ISRLUGLU", "ReLU2"]

_SHAZEER = "Shazeer 2020, GLU Variants Improve Transformer (arXiv:2002.05202)"
_GATE_LAST = ("gate_last: gate with the second half of the last dimension, as torch.nn.functional.glu and timm's "
              "GluMlp (keyword-only; ``False`` gates with the first half). Default: ``True``")


def _identity(t: torch.Tensor) -> torch.Tensor:
    return t


class GatedActivation(Activation):
    """Base of the gated zoo modules: ``f(g)·a`` with ``f`` = :attr:`gate` (a unary reference) and the gate's
    hyperparameters. ``gate_last`` (keyword-only) says which half is the gate.

    An odd last dimension raises ``ValueError`` naming the shape. Hyperparameters are fixed (not trainable).
    """

    gated = True  # read by actlab.models: a gated activation halves the last dimension
    static_options = ("gate_last",)
    gate: Callable[..., torch.Tensor] = staticmethod(_identity)
    gate_name: str = "identity"  # the zoo activation used as the gate (its kernel description is the gated kernel's)

    @property
    def gate_last(self) -> bool:
        return bool(self.static.get("gate_last", True))

    @classmethod
    def reference(cls, x: torch.Tensor, *params: Any, gate_last: bool = True) -> torch.Tensor:  # type: ignore[override]
        a, g = kernels.split_gate(x, gate_last)
        return a * cls.gate(g, *params)


def _gated(name: str, gate: type[Activation], cls_name: str, summary: str, math: str, args: str = "",
           citation: str = _SHAZEER, kernel: kernels.KernelDef | None = None) -> type[GatedActivation]:
    """One gated zoo class: the gate's hyperparameters, reference and smoothness, and its kernel description."""
    gate_spec = gate.spec
    ns: dict[str, Any] = dict(
        __doc__=doc(summary, math, "\n        ".join(a for a in (args, _GATE_LAST) if a),
                    example=f"m = actlab.{cls_name}()", gated=True),
        name=name, defaults=dict(gate.defaults), positive=tuple(gate.positive), gate=staticmethod(gate.reference),
        gate_name=gate.name,
        __module__=__name__)
    cls = type(cls_name, (GatedActivation,), ns)
    return register(latex=math, citation=citation, monotonic=False, bounded=(False, False),
                    smoothness=gate_spec.smoothness, kernel=kernel if kernel is not None else _KERNEL_OF[gate],
                    gated=True)(cls)


_KERNEL_OF: dict[type[Activation], kernels.KernelDef] = {
    Sigmoid: KD.SIGMOID, Swish: KD.SWISH, GELU: KD.GELU, ISRUSigmoid: KD.ISRU_SIGMOID, ISRLU: KD.ISRLU,
    ReLU: KD.RELU,
}

GLU = _gated("glu", Sigmoid, "GLU", "Gated linear unit (Dauphin et al. 2017): a sigmoid gate; equals "
             "torch.nn.functional.glu.", r"\text{GLU}(a, g) = a \cdot \sigma(g)",
             citation="Dauphin et al. 2017, Language Modeling with Gated Convolutional Networks")


def _bilinear() -> type[GatedActivation]:
    ns: dict[str, Any] = dict(
        __doc__=doc("Bilinear layer: the GLU without its sigmoid (Shazeer 2020).", r"\text{Bilinear}(a, g) = a g",
                    _GATE_LAST, example="m = actlab.Bilinear()", gated=True),
        name="bilinear", gate=staticmethod(_identity), __module__=__name__)
    cls = type("Bilinear", (GatedActivation,), ns)
    return register(latex=r"f(a, g) = a \cdot g", citation=_SHAZEER, monotonic=False, bounded=(False, False),
                    smoothness="Cinf", kernel=KD.IDENTITY_GATE, gated=True)(cls)


Bilinear = _bilinear()
ReGLU = _gated("reglu", ReLU, "ReGLU", "GLU variant with a ReLU gate.", r"\text{ReGLU}(a, g) = a \cdot \max(g, 0)")
GEGLU = _gated("geglu", GELU, "GEGLU", "GLU variant with a GELU gate (exact, erf).",
               r"\text{GEGLU}(a, g) = a \cdot \text{GELU}(g)")
SwiGLU = _gated("swiglu", Swish, "SwiGLU", "GLU variant with a Swish gate (SiLU for β = 1): LLaMA's FFN.",
                r"\text{SwiGLU}(a, g) = a \cdot g\,\sigma(\beta g)", "beta: the gate's Swish β. Default: ``1.0``")
ISRUGLU = _gated("isruglu", ISRUSigmoid, "ISRUGLU", "GLU with an ISRU-sigmoid gate: σ's range through an inverse "
                 "square root instead of an exponential (from Carlile et al. 2017).",
                 r"\text{ISRUGLU}(a, g) = a \cdot \tfrac12\left(1 + \tfrac{g/2}{\sqrt{1 + \alpha g^2/4}}\right)",
                 "alpha: the gate's ISRU α. Default: ``1.0``",
                 citation="actlab, after Carlile et al. 2017 and Shazeer 2020")
ISRLUGLU = _gated("isrluglu", ISRLU, "ISRLUGLU", "GLU with an ISRLU gate, as SwiGLU gates with Swish.",
                  r"\text{ISRLUGLU}(a, g) = a \cdot \text{ISRLU}_\alpha(g)",
                  "alpha: the gate's ISRLU α. Default: ``1.0``",
                  citation="actlab, after Carlile et al. 2017 and Shazeer 2020")


@register(latex=r"f(x) = \max(x, 0)^2", citation="So et al. 2021, Primer (arXiv:2109.08668)", monotonic=True,
          bounded=(True, False), smoothness="C1", kernel=KD.RELU2, kinks=(0.0,), aliases=("squared_relu",))
class ReLU2(Activation):
    __doc__ = doc("Squared ReLU, found by Primer's search over transformer programs.", r"\max(x, 0)^2",
                  example="m = actlab.ReLU2()")
    name = "relu2"

    @staticmethod
    def reference(x: torch.Tensor) -> torch.Tensor:
        return torch.relu(x).square()
