"""16-bit floats in the numba loops: bf16 and fp16 loaded as float32 and rounded once on store.

numba has no 16-bit float type on the CPU, so the engine hands a bfloat16 tensor to the loops as its ``uint16`` bits
and a float16 tensor as its ``int16`` bits (:func:`bits_view`; a view, no copy). Inside the loops, :func:`load`
turns an element into float32 and :func:`store` rounds a float32 result into the output array's format, both
dispatched on the element type at compile time; for float32/float64 arrays they are the identity, so the same loop
template (``_drivers.make_loops``, ``_gated.make_gated_loops``) serves every dtype and the float32 machine code is
unchanged. The element functions then always compute in float32 (:func:`~actlab.kernels.cast_like` gives float32
constants for the 16-bit arrays), which is what the Triton kernels do too.

The conversions are branch-free integer code, so the loops still vectorise:

* bf16 → float32 is exact: the bits shifted up by 16;
* float32 → bf16 rounds to nearest, ties to even, and NaN becomes the quiet NaN 0x7FC0, as ``Tensor.to`` does;
* fp16 → float32 is exact, subnormals included (the exponent is rebased by one multiplication by 2¹¹²);
* float32 → fp16 rounds to nearest, ties to even, including into fp16 subnormals (an addition of a magic number
  that aligns the 10 mantissa bits, which relies on the FPU's own round-to-nearest-even) and into ±inf from 65520 up.

Where the CPU converts fp16 itself (x86 with F16C, every AArch64: :data:`HARDWARE_HALF`), the fp16 conversions are
LLVM's ``fpext``/``fptrunc`` of ``half`` instead, one instruction per vector (``vcvtph2ps``/``vcvtps2ph``): the
integer forms above took fp16 σ to 0.71× PyTorch's op from 64K elements, where bf16 was at 1.07×. Without that
hardware LLVM would call a runtime helper that numba's JIT may not link, so the integer forms stay.

Both forms are checked against ``Tensor.to`` for every 16-bit pattern and a float32 sweep in
``tests/kernels/test_half.py``.
"""

from __future__ import annotations

import platform

import numpy as np
import torch
from llvmlite import binding as llvm
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic, overload

from ._math import bits_to_f32, f32_to_bits, select

__all__ = ["load", "store", "work_empty", "bits_view", "BITS_DTYPE", "NUMBA_BITS", "HARDWARE_HALF"]

# The integer dtype each 16-bit float travels as (the element type then tells the loops which format it is).
BITS_DTYPE = {torch.bfloat16: torch.uint16, torch.float16: torch.int16}
_BF16, _FP16 = types.uint16, types.int16
# The same, as the numba element type a loop compiled for that dtype takes (the C++ node's cfunc wrappers).
NUMBA_BITS = {torch.bfloat16: _BF16, torch.float16: _FP16}

_F16_MAGIC = np.float32(2.0 ** 112)  # 2^(127 − 15): rebases an fp16 exponent in float32 bits
_F16_INFNAN = np.float32(65536.0)  # 2^16: the smallest rebased value whose fp16 exponent was all ones
_F16_MAX_BITS = np.int32((127 + 16) << 23)  # |x| ≥ 65536 is ±inf in fp16 (or NaN)
_F16_SUBNORMAL_BITS = np.int32(113 << 23)  # |x| < 2^-14: an fp16 subnormal (or zero)
_F16_DENORM_MAGIC = np.float32(0.5)  # 2^-1 = ((127 − 15) + (23 − 10) + 1) << 23: aligns the mantissa for rounding
_F32_INF_BITS = np.int32(255 << 23)


def bits_view(t: torch.Tensor) -> torch.Tensor:
    """A bf16/fp16 tensor as the integer view the loops read (``uint16`` / ``int16``); other dtypes as they are."""
    bits = BITS_DTYPE.get(t.dtype)
    return t if bits is None else t.view(bits)


def _host_converts_half() -> bool:
    if platform.machine().lower() in ("aarch64", "arm64"):
        return True  # fcvt between half and single is part of AArch64's base FP
    try:
        return bool(llvm.get_host_cpu_features().get("f16c", False))
    except RuntimeError:  # llvmlite cannot read this host's features
        return False


HARDWARE_HALF = _host_converts_half()


@intrinsic
def _fp16_load_hw(typingctx, v):
    """fp16 bits (int16) → float32 by LLVM's fpext of half (exact)."""
    if v != _FP16:
        return None

    def codegen(context, builder, sig, args):
        return builder.fpext(builder.bitcast(args[0], ir.HalfType()), ir.FloatType())
    return types.float32(v), codegen


@intrinsic
def _fp16_store_hw(typingctx, y):
    """float32 → fp16 bits (int16) by LLVM's fptrunc to half (round to nearest even)."""
    if y != types.float32:
        return None

    def codegen(context, builder, sig, args):
        return builder.bitcast(builder.fptrunc(args[0], ir.HalfType()), ir.IntType(16))
    return _FP16(y), codegen


@njit(inline="always")
def _fp16_load_soft(v):
    h = np.int32(v) & np.int32(0xFFFF)
    o = bits_to_f32((h & np.int32(0x7FFF)) << np.int32(13)) * _F16_MAGIC  # exponent and mantissa, rebased
    ob = f32_to_bits(o)
    ob = select(o >= _F16_INFNAN, np.int32(ob | _F32_INF_BITS), ob)  # inf and NaN keep an all-ones exponent
    return bits_to_f32(ob | ((h & np.int32(0x8000)) << np.int32(16)))


@njit(inline="always")
def _fp16_store_soft(f):
    u = f32_to_bits(f)
    sign = np.int32(u & np.int32(-0x80000000))
    a = np.int32(u ^ sign)  # |y|'s bits
    big = select(a > _F32_INF_BITS, np.int32(0x7E00), np.int32(0x7C00))  # NaN → quiet NaN, else ±inf
    sub = np.int32(f32_to_bits(bits_to_f32(a) + _F16_DENORM_MAGIC) - f32_to_bits(_F16_DENORM_MAGIC))
    odd = (a >> np.int32(13)) & np.int32(1)
    norm = np.int32((a + (np.int32((15 - 127) << 23) + np.int32(0xFFF)) + odd) >> np.int32(13))
    o = select(a >= _F16_MAX_BITS, big, select(a < _F16_SUBNORMAL_BITS, sub, norm))
    return np.int16((o | ((sign >> np.int32(16)) & np.int32(0x8000))) & np.int32(0xFFFF))


def load(v):  # pragma: no cover - numba only (see _load_ol)
    """An array element as the number the element functions compute with (float32 for bf16/fp16)."""
    return v


@overload(load, inline="always")
def _load_ol(v):
    if v == _BF16:
        return lambda v: bits_to_f32(np.int32(v) << np.int32(16))
    if v == _FP16:
        if HARDWARE_HALF:
            return lambda v: _fp16_load_hw(v)
        return lambda v: _fp16_load_soft(v)
    if isinstance(v, types.Float):
        return lambda v: v
    return None


def store(y, arr):  # pragma: no cover - numba only (see _store_ol)
    """``y`` (a computed float) as the element type of ``arr``: rounded once to bf16/fp16 bits, else unchanged."""
    return y


@overload(store, inline="always")
def _store_ol(y, arr):
    if arr.dtype == _BF16:
        def bf16(y, arr):
            u = f32_to_bits(np.float32(y))
            r = (u + (np.int32(0x7FFF) + ((u >> np.int32(16)) & np.int32(1)))) >> np.int32(16)
            return np.uint16(select(y != y, np.int32(0x7FC0), np.int32(r & np.int32(0xFFFF))))
        return bf16
    if arr.dtype == _FP16:
        if HARDWARE_HALF:
            return lambda y, arr: _fp16_store_hw(np.float32(y))
        return lambda y, arr: _fp16_store_soft(np.float32(y))
    if isinstance(arr.dtype, types.Float):
        return lambda y, arr: y
    return None


def work_empty(shape, arr):  # pragma: no cover - numba only (see _work_empty_ol)
    """An uninitialised scratch array in the dtype the loops compute ``arr``'s elements in."""
    return np.empty(shape, arr.dtype)


@overload(work_empty, inline="always")
def _work_empty_ol(shape, arr):
    if arr.dtype in (_BF16, _FP16, types.float32):
        return lambda shape, arr: np.empty(shape, np.float32)
    return lambda shape, arr: np.empty(shape, arr.dtype)
