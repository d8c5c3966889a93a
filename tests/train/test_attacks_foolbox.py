"""actlab's FGSM and PGD against foolbox's (a maintained attack library) on the same trained models.

FGSM is one step in both, so the adversarial accuracy must be equal. PGD is the same iteration (no random start,
the same steps and step size), but actlab keeps each example's first fooling iterate while foolbox returns the last
one, so actlab is at least as strong and within a few examples of it.
"""

from __future__ import annotations

import pytest
import torch

from actlab.train import NORMS, get_attack

fb = pytest.importorskip("foolbox", reason="foolbox is not installed (pip install 'actlab[dev]')")

EPS = {"linf": 0.1, "l2": 1.0}
FGSM = {"linf": "LinfFastGradientAttack", "l2": "L2FastGradientAttack"}
PGD = {"linf": "LinfProjectedGradientDescentAttack", "l2": "L2ProjectedGradientDescentAttack"}


def _foolbox_correct(model: torch.nn.Module, attack: object, x: torch.Tensor, y: torch.Tensor, eps: float) -> int:
    """How many examples foolbox's attack leaves correctly classified (counts: no float32 rounding)."""
    # The datasets are standardised features with no pixel box: bounds wide enough never to clip.
    bound = float(x.abs().max()) + 10 * eps
    fmodel = fb.PyTorchModel(model.eval(), bounds=(-bound, bound))
    _, _, success = attack(fmodel, x, y, epsilons=eps)
    return len(y) - int(success.sum())


def _correct(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> int:
    with torch.no_grad():
        return int((model(x).argmax(1) == y).sum())


@pytest.mark.parametrize("act", ["relu", "swish"])
@pytest.mark.parametrize("norm", NORMS)
def test_fgsm_matches_foolbox(act: str, norm: str, trained, data) -> None:
    x, y = data
    model, eps = trained[act], EPS[norm]
    ours = _correct(model, get_attack("fgsm")(model, x, y, eps, norm), y)
    theirs = _foolbox_correct(model, getattr(fb.attacks, FGSM[norm])(random_start=False), x, y, eps)
    assert ours == theirs and ours < _correct(model, x, y)


@pytest.mark.parametrize("act", ["relu", "swish"])
@pytest.mark.parametrize("norm", NORMS)
def test_pgd_matches_foolbox_within_a_few_examples(act: str, norm: str, trained, data) -> None:
    x, y = data
    model, eps = trained[act], EPS[norm]
    ours = _correct(model, get_attack("pgd")(model, x, y, eps, norm), y)
    # actlab's PGD: 20 steps of 2.5·ε/20 from x itself
    attack = getattr(fb.attacks, PGD[norm])(steps=20, rel_stepsize=2.5 / 20, random_start=False)
    theirs = _foolbox_correct(model, attack, x, y, eps)
    assert ours <= theirs <= ours + 0.02 * len(y), (ours, theirs)
