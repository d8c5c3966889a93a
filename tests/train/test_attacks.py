from __future__ import annotations


import pytest
import torch
from torch import nn

from actlab.train import ATTACKS, NORMS, get_attack, robustness

EPS = {"linf": 0.1, "l2": 1.0}  # the fixtures `trained` and `data` are in conftest.py (shared with the foolbox test)


def _acc(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    with torch.no_grad():
        return float((model(x).argmax(1) == y).float().mean())


@pytest.mark.parametrize("norm", NORMS)
@pytest.mark.parametrize("name", list(ATTACKS))
def test_attack_stays_in_budget_is_deterministic_and_hurts(name: str, norm: str, trained, data) -> None:
    x, y = data
    model, eps = trained["relu"], EPS[norm]
    xa = get_attack(name)(model, x, y, eps, norm)
    d = (xa - x).flatten(1)
    size = d.abs().amax(1) if norm == "linf" else d.norm(dim=1)
    assert xa.shape == x.shape and bool((size <= eps * (1 + 1e-5)).all())
    assert torch.equal(xa, get_attack(name)(model, x, y, eps, norm))
    assert _acc(model, xa, y) < _acc(model, x, y) - 0.05


@pytest.mark.parametrize("name", list(ATTACKS))
def test_bad_input_one_line(name: str, trained, data) -> None:
    x, y = data
    for bad in (0.0, -0.1):
        with pytest.raises(ValueError, match="eps must be > 0"):
            get_attack(name)(trained["relu"], x, y, bad)
    with pytest.raises(ValueError, match="norm"):
        get_attack(name)(trained["relu"], x, y, 0.1, "l1")
    with pytest.raises(KeyError, match="trust-region"):
        get_attack("trust_region")


@pytest.mark.parametrize("norm", NORMS)
def test_trust_region_at_least_as_strong_as_fgsm(norm: str, trained, data) -> None:
    x, y = data
    for model in trained.values():
        for eps in (EPS[norm] / 2, EPS[norm]):
            tr = _acc(model, get_attack("trust-region")(model, x, y, eps, norm), y)
            assert tr <= _acc(model, get_attack("fgsm")(model, x, y, eps, norm), y)


def test_robustness_rows_and_pairs() -> None:
    rob = robustness(["swish"], "digits-mlp", ["fgsm", "trust-region"], [0.1], seeds=2, steps=100, n_eval=200)
    d = rob.to_dict()
    assert d["task"] == "digits-mlp" and len(d["rows"]) == 4     # relu baseline added, 2 attacks
    for row in d["rows"]:
        assert {"activation", "attack", "eps", "clean_acc", "adv_acc", "seeds"} <= set(row)
        assert row["seeds"] == [0, 1] and 0 <= row["adv_acc"] <= row["clean_acc"] <= 1
    swish = [r for r in rob.rows if r.activation == "swish"]
    assert all(r.diff is not None and r.p is not None for r in swish)
    with pytest.raises(ValueError, match="eps must be > 0"):
        robustness(["swish"], "digits-mlp", ["fgsm"], [0.0])
    with pytest.raises(KeyError, match="unknown attack"):
        robustness(["swish"], "digits-mlp", ["cw"], [0.1])
