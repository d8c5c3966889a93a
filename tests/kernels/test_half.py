"""The 16-bit conversions of the numba loops (``kernels/_half.py``) against ``Tensor.to``, bit for bit: every bf16 and
fp16 pattern loaded, and a float32 sweep stored (random bits, every 16-bit value, the ties between neighbours and the
edges: fp16 subnormals, 65504 to 65536, ±inf, NaN, ±0)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from numba import njit

from actlab.kernels import _half as H
from actlab.kernels._half import BITS_DTYPE, load, store


@njit(cache=False)
def _load_all(a, out):
    for i in range(a.size):
        out[i] = load(a[i])


@njit(cache=False)
def _store_all(a, out):
    for i in range(a.size):
        out[i] = store(a[i], out)


# The fp16 form load/store do not take on this host (the integer one where the CPU converts half itself, and the
# reverse), held to the same tests; the hardware form only where the CPU has it (elsewhere it would not link).
@njit(cache=False)
def _load_all_other(a, out):
    for i in range(a.size):
        out[i] = H._fp16_load_soft(a[i]) if H.HARDWARE_HALF else H._fp16_load_hw(a[i])


@njit(cache=False)
def _store_all_other(a, out):
    for i in range(a.size):
        out[i] = H._fp16_store_soft(a[i]) if H.HARDWARE_HALF else H._fp16_store_hw(a[i])


_FORMS = [("bf16", torch.bfloat16, _load_all, _store_all), ("fp16", torch.float16, _load_all, _store_all),
          pytest.param("fp16-other-form", torch.float16, _load_all_other, _store_all_other,
                       marks=pytest.mark.skipif(not H.HARDWARE_HALF, reason="this CPU has no half conversions"))]


def _patterns(dtype: torch.dtype) -> torch.Tensor:
    """All 65,536 bit patterns, in the integer dtype the loops read ``dtype`` as."""
    if dtype == torch.bfloat16:
        return torch.arange(0, 1 << 16, dtype=torch.int32).to(torch.uint16)
    return torch.arange(-(1 << 15), 1 << 15, dtype=torch.int32).to(torch.int16)


@pytest.mark.parametrize(("form", "dtype", "load_all", "store_all"), _FORMS)
def test_every_16_bit_pattern_loads_exactly(form: str, dtype: torch.dtype, load_all, store_all) -> None:
    bits = _patterns(dtype)
    out = np.empty(bits.numel(), np.float32)
    load_all(bits.numpy(), out)
    got, want = torch.from_numpy(out), bits.view(dtype).float()
    same = (got.view(torch.int32) == want.view(torch.int32)) | (got.isnan() & want.isnan())  # subnormals, ±0 too
    assert bool(same.all()), f"{int((~same).sum())} patterns differ"


@pytest.mark.parametrize(("form", "dtype", "load_all", "store_all"), _FORMS)
def test_float32_stores_round_like_tensor_to(form: str, dtype: torch.dtype, load_all, store_all) -> None:
    g = torch.Generator().manual_seed(0)
    values = _patterns(dtype).view(dtype).float()
    ties = ((values[:-1].double() + values[1:].double()) / 2).float()  # halfway: round to even
    random_bits = torch.randint(-2 ** 31, 2 ** 31 - 1, (1 << 20,), generator=g, dtype=torch.int64) \
        .to(torch.int32).view(torch.float32)
    scaled = torch.randn(1 << 20, generator=g) * torch.exp2(torch.randint(-30, 18, (1 << 20,), generator=g).float())
    edges = torch.tensor([65503.9, 65504.0, 65519.996, 65520.0, 65536.0, 1e30, -1e-30, 5.96e-8, 2.98e-8, 0.0, -0.0,
                          float("inf"), -float("inf"), float("nan")])
    x = torch.cat([values, ties, random_bits, scaled, edges])
    out = np.empty(x.numel(), np.uint16 if dtype == torch.bfloat16 else np.int16)
    store_all(x.numpy(), out)
    got = torch.from_numpy(out).view(dtype)
    want = x.to(dtype)
    bad = (got.view(BITS_DTYPE[dtype]) != want.view(BITS_DTYPE[dtype])) & ~(got.isnan() & want.isnan())
    assert not bad.any(), f"{int(bad.sum())} values differ, e.g. {x[bad][:4].tolist()}"
