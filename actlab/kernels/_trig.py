"""A vectorisable atan for numba kernels (float32; float64 calls libm, scalar), alongside :mod:`._math` and
:mod:`._special` (same conventions: selects, no branches, dtype-dispatched).

numba has no SVML here, so ``np.arctan`` inside a loop is one libm call per element and the loop stays scalar: the
zoo's atan(x)² − x ran 5× slower than PyTorch's composite (which vectorises with Sleef) at 64K elements and up. The
float32 form is Cephes ``atanf`` (reduction by tan(π/8) and tan(3π/8), degree-4 polynomial), ≤ 2 ulp over the whole
range, as the Triton form (``tmath.atan``); checked in ``tests/kernels/test_math.py``.

sin and cos stay libm's (``np.sin``/``np.cos``): a vectorised Cephes form loses the reduction beyond |x| ≈ 8192, and
the zoo's kernels are exact for every argument.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from ._math import _ERRORS, _F, _FONE, _FZERO, _INLINE, _dispatch, select

__all__ = ["vatan"]

_T3P8, _TP8 = _F(2.414213562373095), _F(0.4142135623730950)
_PIO2, _PIO4 = _F(math.pi / 2), _F(math.pi / 4)
_AT = (_F(8.05374449538e-2), _F(-1.38776856032e-1), _F(1.99777106478e-1), _F(-3.33329491539e-1))


@njit(inline=_INLINE, error_model=_ERRORS)
def _atan_f32(x):
    a = abs(x)
    big = a > _T3P8
    mid = a > _TP8
    y0 = select(big, _PIO2, select(mid, _PIO4, _FZERO))
    w = select(big, -_FONE / a, select(mid, (a - _FONE) / (a + _FONE), a))
    w2 = w * w
    p = ((_AT[0] * w2 + _AT[1]) * w2 + _AT[2]) * w2 + _AT[3]
    r = y0 + (p * w2 * w + w)
    return select(x < _FZERO, -r, select(x == _FZERO, x, r))  # odd; ±0 kept; NaN passes


@njit(inline=_INLINE, error_model=_ERRORS)
def _atan_f64(x):
    return np.arctan(x)


vatan = _dispatch(_atan_f32, _atan_f64, "vatan", "atan; float32 vectorised (Cephes atanf), float64 libm.")
