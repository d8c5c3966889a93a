"""The one registry of adversarial attacks: FGSM, PGD and the trust-region attack, for L∞ and L2 budgets.

An attack is ``attack(model, x, y, eps, norm) -> x_adv`` with ``‖x_adv − x‖ ≤ eps`` per example in ``norm``
(``"linf"`` or ``"l2"``, over all input features). Inputs are not clipped to a pixel box: the datasets here are
standardised features (MNIST-1D is real-valued), so the ε-ball is the only constraint. Every attack is
deterministic (no random start), so the same trained model gives the same adversarial accuracy.

FGSM and PGD are written here (a few lines each): torchattacks pulls a different torch, and foolbox would add a
runtime dependency (eagerpy, GitPython) for two loops and needs a pixel box these datasets lack; the trust-region
attack exists in no library. ``tests/train/test_attacks_foolbox.py`` cross-checks both against foolbox 3.3.4 (a dev
extra): the same adversarial accuracy for FGSM, and PGD at least as strong as foolbox's (which returns its last
iterate, not the first that fools).
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["Attack", "ATTACKS", "get_attack", "NORMS", "fgsm", "pgd", "trust_region"]

NORMS = ("linf", "l2")
_TINY = 1e-12


def _flat_norm(v: torch.Tensor, norm: str) -> torch.Tensor:
    """Per-example norm, shaped to broadcast against ``v``."""
    f = v.flatten(1)
    n = f.abs().amax(1) if norm == "linf" else f.norm(dim=1)
    return n.view(-1, *([1] * (v.dim() - 1)))


def _dual_norm(g: torch.Tensor, norm: str) -> torch.Tensor:
    """‖g‖ in the dual norm (L1 for L∞, L2 for L2): the gain of the best unit step of the linear model."""
    f = g.flatten(1)
    return f.abs().sum(1) if norm == "linf" else f.norm(dim=1)


def _direction(g: torch.Tensor, norm: str) -> torch.Tensor:
    """The unit-ball step that maximises ⟨g, δ⟩: sign(g) for L∞, g/‖g‖₂ for L2."""
    return g.sign() if norm == "linf" else g / (_flat_norm(g, "l2") + _TINY)


def _project(delta: torch.Tensor, eps: float, norm: str) -> torch.Tensor:
    if norm == "linf":
        return delta.clamp(-eps, eps)
    return delta * (eps / (_flat_norm(delta, "l2") + _TINY)).clamp(max=1.0)


def _loss_grad(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    x = x.detach().requires_grad_(True)
    loss = F.cross_entropy(model(x), y, reduction="sum")
    return torch.autograd.grad(loss, x)[0]


def fgsm(model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float, norm: str = "linf") -> torch.Tensor:
    """Fast gradient (sign) method (Goodfellow et al. 2015): one step of size ε along the loss gradient's
    steepest-ascent direction in ``norm``."""
    return (x + eps * _direction(_loss_grad(model, x, y), norm)).detach()


def pgd(model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float, norm: str = "linf", steps: int = 20,
        step_size: float = 2.5) -> torch.Tensor:
    """Projected gradient descent on the cross-entropy (Madry et al. 2018), from x itself (no random start):
    ``steps`` steps of ``step_size·ε/steps`` projected back on the ε-ball. Each example keeps the first iterate
    that fools the model (or the last one)."""
    alpha = step_size * eps / steps
    x_adv, best = x.clone(), x.clone()
    fooled = torch.zeros(len(y), dtype=torch.bool)
    for _ in range(steps):
        x_adv = x + _project(x_adv + alpha * _direction(_loss_grad(model, x_adv, y), norm) - x, eps, norm)
        with torch.no_grad():
            now = model(x_adv).argmax(1) != y
        new = now & ~fooled
        best[new] = x_adv[new]
        fooled |= now
    best[~fooled] = x_adv[~fooled]
    return best.detach()


def _margin_grads(model: nn.Module, x: torch.Tensor, y: torch.Tensor,
                  classes: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """The ``classes`` highest wrong classes per example, their margins m_j = z_j − z_y (n, k), the margins'
    input gradients (k, n, *x) and whether the example is still classified correctly."""
    x = x.detach().requires_grad_(True)
    z = model(x)
    wrong = z.detach().scatter(1, y[:, None], float("-inf"))
    top = wrong.topk(min(classes, z.shape[1] - 1), dim=1).indices
    m = z.gather(1, top) - z.gather(1, y[:, None])
    grads = torch.stack([torch.autograd.grad(m[:, i].sum(), x, retain_graph=i + 1 < m.shape[1])[0]
                         for i in range(m.shape[1])])
    correct = z.detach().argmax(1) == y
    return top, m.detach(), grads, correct


def trust_region(model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float, norm: str = "linf",
                 steps: int = 20, classes: int = 4, radius0: float = 0.25, grow: float = 2.0, shrink: float = 0.5,
                 good: float = 0.9, bad: float = 0.5) -> torch.Tensor:
    r"""Trust-region attack (Yao, Gholami, Xu, Keutzer & Mahoney 2019, arXiv 1812.06371), first-order form,
    within a budget ε.

    Per example and iteration: linearise the margins :math:`m_j = z_j - z_y` of the ``classes`` highest wrong
    classes (the paper's top-k targets); attack the one the linear model says is closest,
    :math:`j^* = \arg\min_j (-m_j)/\lVert\nabla m_j\rVert_*` (dual norm); step to the boundary of the trust region
    of radius :math:`r` along the best direction (``sign`` for L∞, normalised gradient for L2), projected on the
    ε-ball around x. The ratio of achieved to predicted margin gain :math:`\rho` adapts the radius as in the paper:
    :math:`\rho >` ``good`` → :math:`r \leftarrow \min(\text{grow}\cdot r, \varepsilon)`; :math:`\rho <` ``bad``
    → :math:`r \leftarrow \text{shrink}\cdot r`. A step is kept only if it raised the margin; examples stop once
    misclassified. The radius starts at ``radius0``·ε. The paper's second-order (Hessian) variant is not here.
    """
    n = len(y)
    r = torch.full((n,), radius0 * eps)
    x_adv = x.clone().detach()
    view = (-1, *([1] * (x.dim() - 1)))
    rows = torch.arange(n)
    for _ in range(steps):
        top, m, g, active = _margin_grads(model, x_adv, y, classes)
        if not bool(active.any()):
            break
        dist = (-m) / (torch.stack([_dual_norm(gi, norm) for gi in g], 1) + _TINY)
        i = dist.argmin(1)
        j, gj, m_old = top[rows, i], g[i, rows], m[rows, i]
        cand = x + _project(x_adv + r.view(view) * _direction(gj, norm) - x, eps, norm)
        predicted = (gj * (cand - x_adv)).flatten(1).sum(1)
        with torch.no_grad():
            z = model(cand)
            gain = (z[rows, j] - z[rows, y]) - m_old
        rho = gain / predicted.clamp(min=_TINY)
        x_adv = torch.where((active & (gain > 0)).view(view), cand, x_adv)
        r = torch.where(active & (rho > good), (r * grow).clamp(max=eps),
                        torch.where(active & (rho < bad), r * shrink, r))
    return x_adv.detach()


@dataclass(frozen=True)
class Attack:
    """A registry entry: the attack function and a one-line description for listings."""

    name: str
    fn: Callable[..., torch.Tensor]
    description: str

    def __call__(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float,
                 norm: str = "linf") -> torch.Tensor:
        if not eps > 0:
            raise ValueError(f"attack {self.name!r}: eps must be > 0, got {eps}")
        if norm not in NORMS:
            raise ValueError(f"attack {self.name!r}: norm must be one of {', '.join(NORMS)}, got {norm!r}")
        return self.fn(model, x, y, float(eps), norm)


ATTACKS: dict[str, Attack] = {a.name: a for a in [
    Attack("fgsm", fgsm, "one signed/normalised gradient step of size ε"),
    Attack("pgd", pgd, "20 projected gradient steps on the cross-entropy"),
    Attack("trust-region", trust_region, "margin attack with an adaptive trust radius (arXiv 1812.06371)"),
]}


def get_attack(name: str) -> Attack:
    """``ATTACKS[name]``; unknown names raise a one-line error listing the closest ones."""
    if name not in ATTACKS:
        close = difflib.get_close_matches(name, list(ATTACKS), n=3, cutoff=0.4)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise KeyError(f"unknown attack {name!r}{hint} (known: {', '.join(ATTACKS)})")
    return ATTACKS[name]
