"""The aten-op counter: views and no-op conversions are not counted, copies and compute are."""

from __future__ import annotations

import torch

from actlab.bench.ops import top_level_aten_ops


def test_views_and_noop_conversions_are_free_and_copies_count() -> None:
    def x() -> torch.Tensor:  # a fresh leaf per count: a second backward into .grad would add an add_
        return torch.randn(4, 6, requires_grad=True)

    assert top_level_aten_ops(lambda t: t.reshape(6, 4).to(t.dtype) * 2.0, x(), torch.ones(6, 4)) \
        == ["aten::mul", "aten::mul"]
    # a reshape of a transposed tensor must copy: counted once forward (and its backward's view is free)
    ops = top_level_aten_ops(lambda t: t.t().reshape(24), x(), torch.ones(24))
    assert ops.count("aten::reshape") == 1, ops
    assert top_level_aten_ops(lambda t: t.to(torch.float64), x(), torch.ones(4, 6, dtype=torch.float64)) \
        == ["aten::to", "aten::to"]
