"""``actlab export``: a found function as a standalone Python module (an ``nn.Module`` in pure torch).

The torch source is generated from the expression tree by filling each operator's ``syntax`` template from the one
operator table (:data:`actlab.expr.OPERATORS`), so no second list of operators exists here; an operator whose
readable syntax is not numerically safe evaluated literally gives its safe form in the table's ``export`` field
(softplus: ``softplus(a)``, since ``log(1 + exp(a))`` overflows above a ≈ 88 in float32). The generated file
defines the template vocabulary (``sigmoid``, ``max``, ``softplus``…) once in torch. β parameters are numbered
exactly as :meth:`actlab.expr.Expr.torch_fn` numbers them (children first), so the fused kernel, which the module
uses when actlab is importable, receives them in the same order.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

__all__ = ["torch_source", "export_expression", "export_study"]

_BETA = re.compile(r"\bbeta\b")

_TEMPLATE = '''"""{title}

{meta}
Standalone: needs only torch. When actlab is installed, the module runs through actlab's kernels.apply, which saves
only x (or the output) and the betas for backward on every device and dtype: the generated fused kernel on CPU
float32/float64, a recomputing backward elsewhere, and a registered operator under jit.trace, torch.compile and
torch.export. Without actlab, or with fused=False, the pure-torch composite below runs. All compute the same
function.
"""

import math

import torch
from torch import nn

__all__ = ["{cls}", "{fn}", "EXPRESSION"]

EXPRESSION = {expr!r}
EPS = {eps!r}


# The expression syntax's vocabulary, in torch.
def _t(a, like):
    return a if isinstance(a, torch.Tensor) else torch.as_tensor(a, dtype=like.dtype, device=like.device)


def max(a, b):  # noqa: A001 - the expression syntax's name
    return torch.maximum(_t(a, b), _t(b, a))


def min(a, b):  # noqa: A001
    return torch.minimum(_t(a, b), _t(b, a))


def sinc(a):
    return torch.sinc(a / math.pi)  # unnormalised sin(a)/a, 1 at 0


abs, sqrt, log, exp = torch.abs, torch.sqrt, torch.log, torch.exp  # noqa: A001
sin, cos, sinh, cosh, tanh = torch.sin, torch.cos, torch.sinh, torch.cosh, torch.tanh
asinh, atan, erf, sigmoid = torch.asinh, torch.atan, torch.erf, torch.sigmoid
softplus = torch.nn.functional.softplus  # log(1 + exp(a)) without overflow


def {fn}(x, {beta_args}):
    """f(x) = {expr} (pure torch)."""
    return {code}


_KERNEL = []  # [kernel or None] once tried: compiled on first use, only if actlab is installed


def _kernel():
    if not _KERNEL:
        try:
            from actlab.expr import parse

            _KERNEL.append(parse(EXPRESSION).kernel())
        except Exception:  # noqa: BLE001 - any failure means: use the composite
            _KERNEL.append(None)
    return _KERNEL[0]


class {cls}(nn.Module):
    """f(x) = {expr}

    Args:
        beta: initial value of every trainable β. Default: 1.0.
        fused: use actlab's fused kernel when it is available. Default: True.

    Shape:
        - Input: (*), any shape. Output: (*), same shape.

    Example:
        >>> act = {cls}()
        >>> y = act(torch.randn(4, 8))
    """

    def __init__(self, beta: float = 1.0, fused: bool = True) -> None:
        super().__init__()
        self.betas = nn.ParameterList([nn.Parameter(torch.tensor(float(beta))) for _ in range({n_betas})])
        self.fused = fused

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        betas = [b.to(x.dtype) for b in self.betas]
        if self.fused and _kernel() is not None:
            from actlab.kernels import apply

            return apply(_kernel(), x, *betas, reference={fn})
        return {fn}(x, *betas)

    def extra_repr(self) -> str:
        vals = ", ".join(f"{{float(b.detach()):.4g}}" for b in self.betas)
        return f"{{EXPRESSION!r}}, betas=[{{vals}}], fused={{self.fused}}"
'''


_GATED = '''

class {gcls}(nn.Module):
    """GLU(f): the last dimension 2H is split into a value half and a gate half; the output is value · f(gate),
    with f = {expr} ({cls}). As in F.glu and timm's GluMlp the gate is the second half (gate_last=False: the
    first). A feed-forward block using it needs a Linear to 2H before it (2/3 of a plain FFN's hidden width
    keeps the parameter count).

    Shape:
        - Input: (*, 2H). Output: (*, H).
    """

    def __init__(self, beta: float = 1.0, fused: bool = True, gate_last: bool = True) -> None:
        super().__init__()
        self.gate = {cls}(beta, fused)
        self.gate_last = gate_last

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] % 2:
            raise ValueError(f"{gcls} needs an even last dimension (value and gate), got shape {{tuple(x.shape)}}")
        a, g = x.chunk(2, dim=-1)
        if not self.gate_last:
            a, g = g, a
        return a * self.gate(g)

    def extra_repr(self) -> str:
        return f"gate_last={{self.gate_last}}"
'''


def torch_source(text: str) -> tuple[str, int]:
    """Python/torch source of ``text`` over ``x`` and ``b0, b1, …``, and the number of βs."""
    from actlab.expr import parse

    e = parse(text)
    counter = [0]

    def emit(node: Any) -> str:
        if node.op is None:
            return "x" if node.value is None else repr(float(node.value))
        kids = [emit(a) for a in node.args]  # children first: the numbering torch_fn uses
        tpl = node.op.export or node.op.syntax
        if node.op.uses_beta:
            tpl = _BETA.sub(f"b{counter[0]}", tpl)
            counter[0] += 1
        tpl = re.sub(r"\beps\b", "EPS", tpl).replace("^", "**")
        return "(" + tpl.format(**{h: f"({k})" for h, k in zip(node.op.holes, kids, strict=False)}) + ")"

    return emit(e), counter[0]


def export_expression(text: str, out: str | Path, meta: str = "", cls: str = "FoundActivation",
                      gated: bool = False) -> Path:
    """Write a standalone module implementing ``text`` as ``cls`` (an ``nn.Module``) to ``out``; ``gated`` (a
    function found as a gate, ``--space gated``) adds ``Gated<cls>``, the GLU with that gate, which a gated search
    trained."""
    from actlab.expr import EPS

    code, n = torch_source(text)
    if not re.fullmatch(r"[A-Za-z_]\w*", cls):
        raise ValueError(f"class name {cls!r} is not a Python identifier")
    fn = re.sub(r"(?<!^)(?=[A-Z])", "_", cls).lower()
    args = ", ".join(f"b{i}" for i in range(n)) or "*_"
    src = _TEMPLATE.format(title=f"{cls}: f(x) = {text}", meta=meta, cls=cls, fn=fn, expr=text, eps=EPS,
                           beta_args=args, code=code, n_betas=n)
    if gated:
        gcls = f"Gated{cls}"
        src = src.replace(f'__all__ = ["{cls}",', f'__all__ = ["{gcls}", "{cls}",', 1)
        src += _GATED.format(gcls=gcls, cls=cls, expr=text)
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(src)
    return path


def export_study(study: str, storage: str | None = None, top: int = 1, out: str | Path | None = None,
                 runs_dir: str = "runs") -> Path:
    """Export the ``top``-th best found function of a study (1 = best on the leaderboard)."""
    from ._leaderboard import leaderboard, open_stored

    board = leaderboard(open_stored(study, storage, runs_dir))
    found = [r for r in board.rows if r.kind == "found"]
    if not found:
        raise ValueError(f"study {study!r} has no completed candidate to export yet")
    if not 1 <= top <= len(found):
        raise ValueError(f"--top must be between 1 and {len(found)} for study {study!r}, got {top}")
    row = found[top - 1]
    mean, ci = row.test_ci
    meta = (f"Found by `actlab search`: study {study!r}, trial {row.trial}, leaderboard rank {row.rank}; "
            f"val accuracy (median) {row.val_median:.4f}, test {mean:.4f} ± {ci:.4f} over {len(row.test)} seeds"
            f" on {board.config.get('task')}.\n")
    gated = board.config.get("space") == "gated"
    if gated:
        meta += "Found as the gate f of a gated FFN activation, value · f(gate): use GatedFoundActivation.\n"
    return export_expression(row.name, out or f"{study}_top{top}.py", meta, gated=gated)
