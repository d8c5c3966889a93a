"""The zoo activations that stand in for no PyTorch op (squared ReLU and the searched functions): the module, on its
fused kernel, against its composite reference under plain autograd (``fused=False``, what these modules ran before
they had kernels) and through the one-tensor recompute path, float32, 1 thread, median of 9 rotated rounds.

    PYTHONPATH=. .venv/bin/python benchmarks/zoo_without_native.py

Each cell is the composite's (or recompute's) time over the module's: above 1, the kernel is faster.
"""

from __future__ import annotations

import torch

import actlab
from actlab import kernels
from actlab.bench.speed import median_ms

SIZES = (1 << 12, 1 << 16, 1 << 20)


def main() -> None:
    torch.set_num_threads(1)
    names = [n for n in actlab.names("unary") if (k := kernels.get_kernel(actlab.spec(n).kernel)) is not None
             and k.native_op is None]
    print(f"torch {torch.__version__}, 1 thread, float32; composite / module and recompute / module time")
    print(f"{'activation':>16} " + " ".join(f"{n:>22}" for n in SIZES))
    for name in names:
        s = actlab.spec(name)
        fused, composite = actlab.get(name), actlab.get(name, fused=False)
        cells = []
        for n in SIZES:
            x = torch.randn(n, requires_grad=True)
            g = torch.randn(n)
            ms = median_ms({"fused": lambda m=fused, x=x, g=g: m(x).backward(g),
                            "composite": lambda m=composite, x=x, g=g: m(x).backward(g),
                            "recompute": lambda r=s.reference, x=x, g=g: kernels.recompute(r, x).backward(g)}, 9)
            cells.append(f"{ms['composite'] / ms['fused']:.2f}x / {ms['recompute'] / ms['fused']:.2f}x")
        print(f"{name:>16} " + " ".join(f"{c:>22}" for c in cells), flush=True)


if __name__ == "__main__":
    main()
