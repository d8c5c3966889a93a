"""Benchmarks: ``speed`` (fused kernels against copy bandwidth, native ops and references; ``actlab bench speed``)
and ``accuracy`` (activations on a task over seeds; ``actlab bench accuracy``).

Submodules are imported on use (``from actlab.bench import speed``) so that ``import actlab.bench`` stays light.
"""
