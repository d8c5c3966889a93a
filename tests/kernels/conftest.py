"""Fixtures of the kernel tests."""

from __future__ import annotations

from typing import Iterator

import pytest

from actlab import kernels


@pytest.fixture
def fused_only() -> Iterator[None]:
    """Every CPU call runs actlab's fused loops, also where a kernel leaves a dtype to PyTorch's own op
    (``KernelDef.cpu_native``): the tests that check the loops themselves use it."""
    kernels.use_native_ops(False)
    try:
        yield
    finally:
        kernels.use_native_ops(True)
