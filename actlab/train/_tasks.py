"""Tasks: the one registry of training presets, user-defined tasks, and the one resolver for both.

A :class:`Task` trains a child network (dataset + model + optimizer + schedule + budget), or, with ``objective``,
hands the activation to the user's own training loop. :func:`get_task` turns a preset name or an importable
``"package.module:attr"`` spec into a Task; workers (local processes, Ray tasks) resolve the same spec string, so
what travels to them is plain data.
"""

from __future__ import annotations

import dataclasses
import difflib
import importlib
import inspect
import sys
import threading
from dataclasses import dataclass, field
from typing import Any, Callable

__all__ = ["Task", "TASKS", "get_task", "task_spec", "is_spec", "Objective"]

#: ``objective(act_layer, seed, report) -> score``: the user's own training loop. ``act_layer`` is a zero-argument
#: activation factory; ``report(step, value)`` feeds pruning and returns True when the run should stop. The score
#: is a float or a ``(val, test)`` pair, read as accuracies (higher is better), or a dict naming its metrics, e.g.
#: ``{"val_loss": 1.9, "test_loss": 2.0}`` for a loss (lower is better; see ``actlab.train.METRICS``).
Objective = Callable[[Callable[[], Any], int, Callable[[int, float], bool]], Any]


@dataclass(frozen=True)
class Task:
    """A child-network training preset or user task. Override fields with ``dataclasses.replace(task, steps=...)``.

    ``dataset`` is a registry name, an :class:`actlab.data.Dataset` or a zero-argument callable returning one
    (called once per worker process). ``model`` is a registry name or ``model(act_layer) -> nn.Module``, where
    ``act_layer`` is a zero-argument factory called once per place an activation goes (as in timm and
    torchvision). ``objective`` replaces the whole training (see :data:`Objective`); dataset and model are then
    unused.
    """

    name: str
    dataset: Any = None             # key of actlab.data.DATASETS, a Dataset, or a callable returning one
    model: Any = None               # key of actlab.models.MODELS, or model(act_layer) -> nn.Module
    model_kwargs: dict[str, Any] = field(default_factory=dict)  # widths etc.; in_shape/n_classes come from the data
    optimizer: str = "adam"         # "adam" or "sgd" (heavy-ball momentum)
    lr: float = 1e-2                # peak learning rate handed to the schedule
    momentum: float = 0.9           # SGD momentum, or Adam's beta1 (one-cycle cycles it)
    weight_decay: float = 0.0       # L2 penalty through the optimizer (coupled, as in the ResNet paper)
    schedule: str = "constant"      # key of SCHEDULES
    schedule_kwargs: dict[str, Any] = field(default_factory=dict)
    steps: int = 2000               # budget in optimizer steps (the unit of cost everywhere)
    batch_size: int = 100
    batch_schedule: str = "constant"  # key of BATCH_SCHEDULES (batch size per step; batch_size is its base)
    batch_schedule_kwargs: dict[str, Any] = field(default_factory=dict)
    eval_every: int = 500           # validation accuracy (and the report() callback) every k steps, and at the end
    augment: bool = False           # random crop (4-pixel zero pad) + horizontal flip, for CIFAR
    baseline: str = "relu"          # the activation that compare() pits candidates against by default
    description: str = ""
    device: str = "cpu"             # "cpu", "cuda", "cuda:N", "mps" or "auto" (see actlab.train.resolve_device)
    objective: Objective | None = None
    # The "module:attr" this task was imported from (set by get_task); workers re-import it by this spec.
    source: str | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if self.objective is not None:
            if not callable(self.objective):
                raise TypeError(f"task {self.name!r}: objective must be callable, got {type(self.objective).__name__}")
        elif self.dataset is None or self.model is None:
            raise ValueError(f"task {self.name!r}: give a dataset and a model, or an objective")
        if self.model is not None and not isinstance(self.model, str) and not callable(self.model):
            raise TypeError(f"task {self.name!r}: model must be a registry name or model(act_layer) -> nn.Module")
        if self.optimizer not in ("adam", "sgd"):
            raise ValueError(f"task {self.name!r}: optimizer must be 'adam' or 'sgd', got {self.optimizer!r}")
        for key in ("steps", "batch_size", "eval_every"):
            if int(getattr(self, key)) < 1:
                raise ValueError(f"task {self.name!r}: {key} must be >= 1, got {getattr(self, key)}")
        if not self.lr > 0:
            raise ValueError(f"task {self.name!r}: lr must be > 0, got {self.lr}")

    @property
    def is_preset(self) -> bool:
        """Whether dataset and model are registry names (the harness builds and initialises them)."""
        return self.objective is None and isinstance(self.dataset, str) and isinstance(self.model, str)

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly fields; user objects (datasets, model builders, objectives) appear by name."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            out[f.name] = v if v is None or isinstance(v, (str, int, float, bool, dict)) else _label(v)
        return out


def _label(obj: Any) -> str:
    name = getattr(obj, "name", None) if not callable(obj) else None
    return str(name or getattr(obj, "__qualname__", None) or type(obj).__name__)


TASKS: dict[str, Task] = {t.name: t for t in [
    # The anchor proxy: the MNIST-1D paper's CNN, Adam 1e-2, batch 100, 2000 steps, ~4-5 s per run on one thread.
    Task("mnist1d-cnn", "mnist1d", "cnn1d", dict(channels=25), "adam", 1e-2, steps=2000, batch_size=100,
         eval_every=250, description="MNIST-1D, 3x25-channel 1D CNN, Adam 1e-2 constant, 2000 steps of 100"),
    Task("mnist1d-mlp", "mnist1d", "mlp", dict(hidden=(100, 100)), "adam", 1e-2, steps=2000, batch_size=100,
         eval_every=250, description="MNIST-1D, 100-100 MLP, Adam 1e-2 constant, 2000 steps of 100"),
    # The recurrent proxy: act replaces tanh and the gates are derived from it (tanh -> sigmoid, isru -> ISRU-sigmoid).
    # One-cycle because a constant 1e-2 makes small GRUs on MNIST-1D erratic.
    Task("mnist1d-gru", "mnist1d", "rnn", dict(cell="gru", hidden=32), "adam", 1e-2, schedule="one-cycle",
         steps=1000, batch_size=100, eval_every=250, baseline="tanh",
         description="MNIST-1D as a length-40 sequence, 32-unit GRU, Adam one-cycle 1e-2, 1000 steps of 100"),
    # Sized so 8 activations x 5 seeds run in a few minutes on two cores (~10 ms/step on one thread): ~1.2 epochs.
    Task("fashion-cnn", "fashion-mnist", "cnn2d", dict(channels=(8, 16), hidden=64), "adam", 5e-3,
         schedule="one-cycle", steps=1000, batch_size=64, eval_every=250,
         description="Fashion-MNIST, 2-stage 8/16-channel CNN, Adam one-cycle 5e-3, 1000 steps of 64"),
    # Ramachandran et al.'s child network and budget (10K steps); SGD as in He et al., one-cycle as in Smith & Topin.
    Task("cifar10-resnet20", "cifar10", "resnet20", {}, "sgd", 0.2, momentum=0.9, weight_decay=5e-4,
         schedule="one-cycle", steps=10_000, batch_size=128, eval_every=1000, augment=True,
         description="CIFAR-10, ResNet-20 (option A), SGD one-cycle 0.2, wd 5e-4, 10K steps of 128, crop+flip"),
    # The transformer FFN setting of Shazeer 2020, scaled to one CPU thread: a byte-level, pre-norm decoder on Python's
    # own reference docs (ships with Python), 2 blocks of width 64, FFN 256 (gated: 171, parameter-matched).
    Task("text-transformer", "pydoc-text", "transformer", dict(dim=64, depth=2, heads=4, ffn=256), "adam", 3e-3,
         schedule="one-cycle", steps=600, batch_size=32, eval_every=200, baseline="relu",
         description="pydoc text (bytes), 2-block width-64 transformer LM, Adam one-cycle 3e-3, 600 steps of 32x64"),
    # Seconds-long sanity task; it exercises the LEGW schedule and SGD.
    Task("digits-mlp", "digits", "mlp", dict(hidden=(64,)), "sgd", 0.05, momentum=0.9, schedule="legw",
         schedule_kwargs=dict(base_batch=32, warmup_epochs=2), steps=600, batch_size=32, eval_every=100,
         description="scikit-learn digits, 64-unit MLP, SGD 0.05 with LEGW warmup, 600 steps of 32"),
]}

# Specs resolved in this process (each imported and built once per worker), and user tasks seen by name, so that
# a result's task name (e.g. in a report's caption) finds its Task again.
_resolved: dict[str, Task] = {}
_seen: dict[str, Task] = {}
_lock = threading.Lock()


def is_spec(text: str) -> bool:
    """Whether ``text`` has the ``package.module:attr`` form (as opposed to a preset name)."""
    mod, sep, attr = str(text).partition(":")
    return bool(sep and mod and attr) and all(p.isidentifier() for p in mod.split(".") + attr.split("."))


def _n_required(fn: Any) -> int | None:
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return None
    return sum(p.default is p.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
               for p in sig.parameters.values())


def _import(spec: str) -> Task:
    mod, _, attr = spec.partition(":")
    try:
        obj: Any = importlib.import_module(mod)
    except Exception as e:  # ImportError, or the module itself raised while importing
        raise KeyError(f"task {spec!r}: cannot import module {mod!r} ({type(e).__name__}: {e})") from None
    for part in attr.split("."):
        if not hasattr(obj, part):
            public = [n for n in dir(obj) if not n.startswith("_")]
            close = difflib.get_close_matches(part, public, n=3, cutoff=0.5)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise KeyError(f"task {spec!r}: module {mod!r} has no attribute {attr!r}{hint}")
        obj = getattr(obj, part)
    if isinstance(obj, Task):
        task = obj
    elif callable(obj) and _n_required(obj) == 0:  # a factory returning the Task
        task = obj()
        if not isinstance(task, Task):
            raise KeyError(f"task {spec!r}: {attr}() returned a {type(task).__name__}, expected an actlab Task")
    elif callable(obj) and _n_required(obj) == 3:  # a custom evaluator objective(act_layer, seed, report)
        task = Task(attr.rsplit(".", 1)[-1], objective=obj, description=f"custom evaluator {spec}")
    else:
        raise KeyError(f"task {spec!r}: {attr} is a {type(obj).__name__}; expected a Task, a function returning "
                       f"one, or an evaluator objective(act_layer, seed, report)")
    return dataclasses.replace(task, source=spec)


def get_task(task: str | Task) -> Task:
    """A :class:`Task` from a preset name, a ``"package.module:attr"`` spec, or a Task (which passes through).

    The attribute may be a Task, a zero-argument function returning one, or a custom evaluator
    ``objective(act_layer, seed, report)``. Specs are resolved once per process. Unknown names list the closest
    presets; an unimportable module or a wrong attribute raises ``KeyError`` with a one-line reason.
    """
    if isinstance(task, Task):
        if task.name not in TASKS:
            with _lock:
                _seen[task.name] = task
        return task
    name = str(task).strip()
    if name in TASKS:
        return TASKS[name]
    if is_spec(name):
        with _lock:
            hit = _resolved.get(name)
        if hit is None:
            hit = _import(name)
            with _lock:
                hit = _resolved.setdefault(name, hit)
                _seen.setdefault(hit.name, hit)
        return hit
    with _lock:
        if name in _seen:
            return _seen[name]
    close = difflib.get_close_matches(name, list(TASKS), n=3, cutoff=0.4)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    raise KeyError(f"unknown task {name!r}{hint} (presets: {', '.join(TASKS)}; or give package.module:attr)")


def _importable_name(module: Any) -> str:
    """A module's name as another process imports it: a script run as ``python my_search.py`` is ``__main__`` here
    but ``my_search`` to ``actlab search --task my_search:TASK``, so that both name (and resume) the same study."""
    if module.__name__ != "__main__" or not getattr(module, "__file__", None):
        return module.__name__
    import importlib.util
    from pathlib import Path

    path = Path(module.__file__).resolve()
    try:
        found = importlib.util.find_spec(path.stem)
    except (ImportError, ValueError):
        found = None
    if found is not None and found.origin and Path(found.origin).resolve() == path:
        return path.stem
    return module.__name__  # not importable under its file name: workers fall back to the script as __mp_main__


def task_spec(task: str | Task) -> str:
    """The string a worker resolves back to ``task``: a preset name or ``"module:attr"``.

    A Task object without a recorded source is looked up among the attributes of the modules its callables come
    from (a module-level ``MY_TASK = Task(...)`` is found). Raises ``ValueError`` when it cannot be found, since
    workers could not import it.
    """
    if isinstance(task, str):
        return get_task(task).source or task.strip()
    if task.source:
        return task.source
    if task.name in TASKS and TASKS[task.name] == task:
        return task.name
    for obj in (task.objective, task.model, task.dataset):
        module = sys.modules.get(getattr(obj, "__module__", None) or "")
        if module is None:
            continue
        for attr, value in vars(module).items():
            if value is task:
                return f"{_importable_name(module)}:{attr}"
    raise ValueError(f"task {task.name!r} cannot be sent to workers: define it at module level of an importable "
                     f"module and pass 'package.module:attr' (or the Task object found there)")
