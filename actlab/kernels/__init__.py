"""Fused CPU kernels (placeholder until the kernel table lands)."""

from ._fused import FusedKernel, apply, supports, sync_threads

KERNELS: dict[str, FusedKernel] = {}


def get_kernel(name: str, **static) -> FusedKernel | None:
    return KERNELS.get(name)


__all__ = ["FusedKernel", "apply", "supports", "sync_threads", "KERNELS", "get_kernel"]
