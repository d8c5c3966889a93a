"""Opt-in allocator tuning (placeholder until measured)."""

from __future__ import annotations


def tune_allocator() -> dict[str, object]:
    """Not implemented yet."""
    raise NotImplementedError("tune_allocator is not measured yet")
