"""Opt-in allocator tuning for large activations (glibc only).

A fresh 64 MB tensor costs more than the arithmetic on it: glibc serves blocks above its mmap threshold (at most
32 MB) with a new ``mmap``, and returns them to the kernel on ``free``, so every out-of-place activation of that
size page-faults its whole output in again. Keeping freed blocks in the process heap lets the next step reuse
pages that are already mapped. This changes process-wide malloc behaviour (memory is returned to the OS later,
if at all), so actlab never does it by itself: call :func:`tune_allocator` explicitly. Narrower, and on by
default: actlab's own large outputs get huge pages (:func:`~actlab.kernels._fused.use_hugepage_outputs`), which
touches no process-wide setting.
Measured effect: "Page faults and the allocator" in the git history of benchmarks/RESULTS.md (2026-11-25).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

from ._fused import HUGEPAGES_DEFAULT, use_hugepage_outputs

__all__ = ["tune_allocator"]

# glibc mallopt parameters (malloc.h) and their defaults.
_M_TRIM_THRESHOLD, _M_MMAP_MAX = -1, -4
_DEFAULTS = {_M_TRIM_THRESHOLD: 128 * 1024, _M_MMAP_MAX: 65536}


def _libc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return libc if hasattr(libc, "mallopt") else None
    except OSError:
        return None


def tune_allocator(enable: bool = True, trim_threshold: int = 1 << 30) -> bool:
    """Keep freed large blocks mapped so that same-size tensors reuse them (opt-in; glibc only).

    Args:
        enable: ``True`` serves large blocks from the heap (``M_MMAP_MAX=0``) and keeps up to ``trim_threshold``
            bytes of free heap top mapped (``M_TRIM_THRESHOLD``); ``False`` restores glibc's defaults.
            Default: ``True``
        trim_threshold: free bytes at the top of the heap kept instead of returned to the OS. Default: 1 GiB

    Returns:
        whether the settings were applied (``False`` on non-glibc platforms).

    Example::

        import actlab
        actlab.kernels.tune_allocator()   # once, at the start of a training script
    """
    if trim_threshold < 0:
        raise ValueError(f"trim_threshold must be ≥ 0 bytes, got {trim_threshold}")
    libc = _libc()
    if libc is None:
        return False
    if enable:
        settings = {_M_MMAP_MAX: 0, _M_TRIM_THRESHOLD: int(trim_threshold)}
    else:
        settings = dict(_DEFAULTS)
    ok = all(libc.mallopt(k, v) == 1 for k, v in settings.items())
    if ok:
        # With heap reuse, torch.empty outputs come back already mapped; a fresh huge-page mapping would fault again.
        use_hugepage_outputs(not enable and HUGEPAGES_DEFAULT)
    return ok
