"""Devices: parse ``cpu|cuda|cuda:N|mps|auto``, place a worker on one, and move each dataset there once per process.

Workers get a slot number from their executor (:func:`place_worker`); a bare ``cuda`` then means GPU
``slot % device_count``, so N workers spread over the visible GPUs, several per GPU when there are more workers than
GPUs. Under Ray, which gives each GPU task its own ``CUDA_VISIBLE_DEVICES``, the slot is 0. The CPU and CUDA take
the same code path: the model is built and initialised on the CPU (so the random numbers do not depend on the
device) and then moved, and batches are indexed on the device the data lives on.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from typing import Any

import torch

__all__ = ["resolve_device", "place_worker", "worker_device", "on_device", "DEVICES", "cpu_signature"]

#: The accepted forms, for help texts and error messages.
DEVICES = "cpu, cuda, cuda:N, mps or auto"

_worker: dict[str, Any] = {"slot": 0, "device": None}
_moved: OrderedDict[tuple[int, str], tuple[Any, Any]] = OrderedDict()
_lock = threading.Lock()
_KEEP = 4  # datasets kept on a device per process (a worker sees one or two: the task's, the check task's)


def _cuda_count() -> int:
    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def _mps() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return bool(mps is not None and mps.is_available())


def resolve_device(spec: str | torch.device | None = "cpu", slot: int = 0) -> torch.device:
    """The ``torch.device`` for ``spec``; raises ``ValueError`` (one line) when it is malformed or not present.

    ``auto`` picks CUDA, else MPS, else the CPU; ``cuda`` without an index uses GPU ``slot % count``.
    """
    if isinstance(spec, torch.device):
        spec = str(spec)
    text = (spec or "cpu").strip().lower()
    if text == "auto":
        text = "cuda" if _cuda_count() else "mps" if _mps() else "cpu"
    if text == "cpu":
        return torch.device("cpu")
    if text == "mps":
        if not _mps():
            raise ValueError("device 'mps' requested but this PyTorch has no usable MPS backend "
                             "(torch.backends.mps.is_available() is False); use --device cpu or auto")
        return torch.device("mps")
    m = re.fullmatch(r"cuda(?::(\d+))?", text)
    if not m:
        raise ValueError(f"unknown device {spec!r}: use {DEVICES}")
    n = _cuda_count()
    if n == 0:
        raise ValueError(f"device {spec!r} requested but CUDA is not available (torch {torch.__version__}, "
                         f"torch.cuda.is_available() is False); use --device cpu or auto")
    index = int(m.group(1)) if m.group(1) is not None else int(slot) % n
    if index >= n:
        raise ValueError(f"device {spec!r} requested but only {n} CUDA device(s) are visible (0..{n - 1})")
    return torch.device("cuda", index)


def place_worker(slot: int, device: str | None = None) -> None:
    """Called once in a worker process: its slot number and the device override (None: each task's own)."""
    _worker["slot"], _worker["device"] = int(slot), device


def worker_device(task_device: str | None, override: str | None = None) -> torch.device:
    """Where this process trains a task whose field says ``task_device``: ``override``, else the worker's placement,
    else the task's own; a bare ``cuda`` picks the GPU of this worker's slot."""
    return resolve_device(override or _worker["device"] or task_device, _worker["slot"])


def on_device(ds: Any, device: torch.device) -> Any:
    """``ds`` (an :class:`actlab.data.Dataset`) with its tensors on ``device``; moved once per process and cached."""
    if device.type == "cpu" and ds.x_train.device.type == "cpu":
        return ds
    import dataclasses

    key = (id(ds), str(device))
    with _lock:
        hit = _moved.get(key)
        if hit is not None and hit[0] is ds:
            _moved.move_to_end(key)
            return hit[1]
    tensors = {f.name: getattr(ds, f.name).to(device) for f in dataclasses.fields(ds)
               if isinstance(getattr(ds, f.name), torch.Tensor)}
    moved = dataclasses.replace(ds, **tensors)
    with _lock:
        _moved[key] = (ds, moved)  # keeps ds alive, so its id cannot be reused by another dataset
        while len(_moved) > _KEEP:
            _moved.popitem(last=False)
    return moved


def cpu_signature() -> dict[str, str]:
    """The CPU a training ran on, as far as it decides the floating-point result.

    Training is deterministic per seed on one kind of CPU, but torch, oneDNN and MKL pick kernels by instruction
    set and vendor, and their different summation orders grow, over a thousand steps, into different accuracies.
    So a recorded result reproduces exactly only where this signature is equal (benchmarks/RESULTS.md measures it).
    """
    import hashlib
    import platform

    model, flags = platform.processor() or platform.machine(), ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key.strip() == "model name" and model in ("", platform.machine(), platform.processor()):
                    model = value.strip()
                elif key.strip() in ("flags", "Features") and not flags:
                    flags = " ".join(sorted(value.split()))
    except OSError:  # not Linux: the model and torch's capability are what there is
        pass
    return {"machine": platform.machine(), "model": model, "capability": torch.backends.cpu.get_cpu_capability(),
            "flags_sha1": hashlib.sha1(flags.encode()).hexdigest()[:12] if flags else ""}
