from __future__ import annotations

import math

import pytest

from actlab.train import SCHEDULES, make_schedule

T = 200


@pytest.mark.parametrize("name", list(SCHEDULES))
def test_every_schedule_is_documented_and_sane(name: str) -> None:
    cls = SCHEDULES[name]
    assert cls.__doc__ and (":math:" in cls.__doc__ or "eta" in cls.__doc__), "document the formula"
    s = make_schedule(name, 0.1, T, batch_size=100, steps_per_epoch=10)
    lrs = [s.lr(t) for t in range(T)]
    assert all(math.isfinite(v) and 0 <= v <= 0.1 * 2 for v in lrs)
    assert max(lrs) > 0
    with pytest.raises(TypeError, match="unknown option"):
        make_schedule(name, 0.1, T, not_an_option=1)


def test_unknown_schedule_suggests() -> None:
    with pytest.raises(KeyError, match="one-cycle"):
        make_schedule("onecycle", 0.1, T)


def test_constant() -> None:
    s = make_schedule("constant", 0.1, T)
    assert {s.lr(t) for t in range(T)} == {0.1}
    assert s.momentum(0) is None


def test_cosine_formula() -> None:
    s = make_schedule("cosine", 0.1, T)
    assert s.lr(0) == pytest.approx(0.1)
    assert s.lr(T // 2) == pytest.approx(0.05)
    assert s.lr(T) == pytest.approx(0.0, abs=1e-12)
    assert all(s.lr(t + 1) <= s.lr(t) for t in range(T - 1))
    w = make_schedule("cosine", 0.1, T, warmup=10, lr_min=0.01)
    assert w.lr(0) == pytest.approx(0.01) and w.lr(9) == pytest.approx(0.1)
    assert w.lr(10 + (T - 10) // 2) == pytest.approx(0.055)


def test_one_cycle_formula() -> None:
    s = make_schedule("one-cycle", 0.1, T)  # pct_start 0.3, d 25, f 1e4
    peak = int(0.3 * T) - 1
    assert s.lr(0) == pytest.approx(0.1 / 25)
    assert s.lr(peak) == pytest.approx(0.1)
    u = 20 / peak
    assert s.lr(20) == pytest.approx(0.1 + (0.1 / 25 - 0.1) * (1 + math.cos(math.pi * u)) / 2)
    assert s.lr(T - 1) == pytest.approx(0.1 / 25 / 1e4)
    assert max(range(T), key=s.lr) == peak
    assert s.momentum(0) == pytest.approx(0.95) and s.momentum(peak) == pytest.approx(0.85)
    assert s.momentum(T - 1) == pytest.approx(0.95)
    assert make_schedule("one-cycle", 0.1, T, cycle_momentum=False).momentum(5) is None


def test_one_cycle_matches_torch() -> None:
    import torch

    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1, momentum=0.9)
    ref = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.1, total_steps=T)
    s = make_schedule("one-cycle", 0.1, T)
    for t in range(T):
        assert opt.param_groups[0]["lr"] == pytest.approx(s.lr(t), rel=1e-6), t
        assert opt.param_groups[0]["momentum"] == pytest.approx(s.momentum(t), rel=1e-6), t
        opt.step()
        ref.step()


@pytest.mark.parametrize("batch", [50, 100, 400])
def test_legw_scales_warmup_epochs_linearly_and_lr_by_sqrt(batch: int) -> None:
    n_train = 4000
    s = make_schedule("legw", 0.1, 1000, batch_size=batch, steps_per_epoch=n_train // batch,
                      base_batch=100, warmup_epochs=2)
    k = batch / 100
    assert s.peak == pytest.approx(0.1 * math.sqrt(k))
    # warmup lasts 2k epochs of n_train/batch steps
    assert s.warmup_steps == math.ceil(2 * k * (n_train // batch))
    w = s.warmup_steps
    assert s.lr(0) == pytest.approx(s.peak / w)
    assert s.lr(w - 1) == pytest.approx(s.peak)
    assert max(s.lr(t) for t in range(1000)) == pytest.approx(s.peak)
    mid = w + (1000 - w) // 2
    assert s.lr(mid) == pytest.approx(s.peak * (1 - (mid - w) / (1000 - w)) ** 2)
    assert s.lr(999) < s.peak * 1e-3 + 1e-12
