"""Train one child network: deterministic, with common random numbers across activations and a divergence guard."""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass, field
from types import SimpleNamespace
from pathlib import Path
from typing import Any, Callable

import torch
import torch.nn.functional as F
from torch import nn

from ..data import Dataset
from ..models import ActSpec, act_label, resolve_act
from ._batch import make_batch_schedule
from ._device import on_device, worker_device
from ._metrics import get_metric
from ._schedules import make_schedule
from ._setup import _act_layer, _build, _seeds, apply_schedule, make_optimizer, task_data
from ._tasks import Task, get_task

__all__ = ["RunResult", "train_one", "CURVE_POINTS", "StepHooks", "task_loss"]

CURVE_POINTS = 100  # the training-loss curve keeps about this many points whatever the budget


@dataclass
class StepHooks:
    """Extra work of a trainer built on the one training loop (the DNAS supernet's architecture step), so that it
    inherits the task's data, batches, schedules, augmentation, device and user models instead of a loop of its own.

    Attributes:
        frozen: the parameters the task's optimizer must leave alone (they get their own updates).
        before: called as ``before(t)`` before step ``t``'s forward pass.
        after: called as ``after(t, model, data)`` after step ``t``'s update, with the data on the training device;
            returning False ends the run as diverged.
    """

    frozen: list[nn.Parameter] = field(default_factory=list)
    before: Callable[[int], None] | None = None
    after: Callable[[int, nn.Module, Dataset], bool] | None = None


@dataclass
class RunResult:
    """Everything one training run produced; JSON-serialisable through :meth:`to_dict` / :meth:`from_dict`.

    A diverged run (non-finite loss) has ``val_acc == test_acc ==`` chance level (1 / classes) and
    ``val_loss == test_loss ==`` the chance loss, log(classes) nats (a uniform prediction); a pruned run has
    ``test_acc = test_loss = None``. Sequence models (a language model's ``(N, T, V)`` logits) count every position:
    accuracy per token, loss per token in nats. ``data`` describes the dataset (corpus, size, hash, split) where its
    reader says. ``curve`` holds ``step`` and the mean training ``loss`` over each window of steps;
    ``val_curve`` holds ``step`` and ``acc`` at each evaluation.
    """

    act: str
    task: str
    seed: int
    steps: int                      # budget
    steps_done: int
    val_acc: float
    test_acc: float | None
    val_loss: float | None
    train_loss: float | None        # mean over the last curve window
    test_loss: float | None = None  # mean cross-entropy per prediction on the test split, in nats
    diverged: bool = False
    pruned: bool = False
    wall_time: float = 0.0          # seconds, model build to final evaluation
    steps_per_s: float = 0.0        # optimizer steps per second of training (evaluations excluded)
    n_params: int = 0
    curve: dict[str, list[float]] = field(default_factory=lambda: {"step": [], "loss": []})
    val_curve: dict[str, list[float]] = field(default_factory=lambda: {"step": [], "acc": []})
    data: str = ""

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types; non-finite floats become ``None`` so strict JSON parsers accept it."""
        def clean(v: Any) -> Any:
            if isinstance(v, float) and not math.isfinite(v):
                return None
            if isinstance(v, dict):
                return {k: clean(x) for k, x in v.items()}
            if isinstance(v, (list, tuple)):
                return [clean(x) for x in v]
            return v

        return clean(dataclasses.asdict(self))

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "RunResult":
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})


def task_loss(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The loss every task trains on: mean cross-entropy per prediction (a sequence model's every position)."""
    return F.cross_entropy(*_flat(logits, y))


def _flat(logits: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    # A sequence model's (N, T, V) logits against (N, T) labels: one prediction per position.
    return (logits.reshape(-1, logits.shape[-1]), y.reshape(-1)) if logits.dim() > 2 else (logits, y)


@torch.no_grad()
def _evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor, chunk: int = 1000) -> tuple[float, float]:
    """Accuracy and mean cross-entropy per prediction; non-finite logits count as wrong and make the loss
    non-finite."""
    model.eval()
    correct, loss, count = 0, 0.0, 0
    for i in range(0, len(y), chunk):
        logits, yb = _flat(model(x[i:i + chunk]), y[i:i + chunk])
        finite = torch.isfinite(logits).all(dim=1)
        correct += int(((logits.argmax(dim=1) == yb) & finite).sum())
        loss += float(F.cross_entropy(logits.float(), yb, reduction="sum"))
        count += len(yb)
    model.train()
    return correct / count, loss / count


def _augment(x: torch.Tensor, g: torch.Generator, pad: int = 4) -> torch.Tensor:
    """Random crop after zero padding and random horizontal flip (the standard CIFAR augmentation)."""
    n, _, h, w = x.shape
    padded = F.pad(x, (pad, pad, pad, pad))
    off = torch.randint(0, 2 * pad + 1, (n, 2), generator=g).tolist()
    out = torch.stack([padded[i, :, a:a + h, b:b + w] for i, (a, b) in enumerate(off)])
    flip = (torch.rand(n, generator=g) < 0.5).to(x.device)
    return torch.where(flip[:, None, None, None], out.flip(3), out)


def train_one(act: ActSpec, task: str | Task = "mnist1d-cnn", seed: int = 0, steps: int | None = None,
              report: Callable[[int, float], bool] | None = None, threads: int = 1,
              data_dir: str | Path | None = None, device: str | None = None,
              on_model: Callable[[nn.Module], None] | None = None, report_metric: str = "val_acc",
              hooks: StepHooks | None = None) -> RunResult:
    """Train one child network with activation ``act`` on ``task`` and return its :class:`RunResult`.

    Args:
        act: anything :func:`actlab.models.resolve_act` accepts (``"relu"``, ``"isrlu:alpha=3"``, an expression…).
        task: a :data:`TASKS` name, a ``"package.module:attr"`` spec or a :class:`Task` (see :func:`get_task`).
        seed: fixes the weight initialisation and the data order (independently of the activation).
        steps: overrides the task's budget; the schedule is stretched to it (ignored by a custom objective).
        report: called as ``report(step, value)`` at each evaluation before the last, ``value`` the validation
            ``report_metric`` (``val_acc``, ``val_loss`` or ``val_bpb``); returning True stops the run early with
            ``pruned=True`` (the search's pruner hooks in here, in the search metric's units and direction).
        threads: torch threads for this run (restored afterwards). Results depend on it only through float
            summation order; the protocol always uses 1.
        data_dir: passed to :func:`actlab.data.load`.
        device: overrides the task's device (``cpu``, ``cuda``, ``cuda:N``, ``mps``, ``auto``); a worker placed on
            a device by its executor uses that one.
        on_model: called with the trained model (in eval mode) after the final evaluation of a run that neither
            diverged nor was pruned, e.g. to attack it (``actlab.train.robustness``).
        hooks: extra work around each step (:class:`StepHooks`); a task with its own objective takes none.

    Never raises on a diverging network: a non-finite loss ends the run with ``diverged=True`` and chance accuracy.
    """
    task = get_task(task)
    if hooks is not None and task.objective is not None:
        raise ValueError(f"task {task.name!r} trains through its own objective, which takes no step hooks; this needs "
                         f"a task with a dataset and a model")
    return _run([act], task, seed, steps, [report], threads, data_dir, device, [on_model], report_metric, hooks)[0]


def train_population(acts: list[ActSpec], task: str | Task = "mnist1d-cnn", seed: int = 0,
                     steps: int | None = None, reports: list[Callable[[int, float], bool] | None] | None = None,
                     threads: int = 1, data_dir: str | Path | None = None, device: str | None = None,
                     report_metric: str = "val_acc",
                     on_models: list[Callable[[nn.Module], None] | None] | None = None) -> list[RunResult]:
    """Train one network per activation on ``task`` and ``seed`` together, in one loop; one :class:`RunResult` each.

    **Each member's result equals its own** :func:`train_one` **at the same seed**, bit for bit on the CPU: the
    same initial weights and batches, the member's own draws from the global RNG, its own gradient and the
    optimizer's elementwise update (``tests/train/test_population.py`` checks every preset task). A member that
    diverges or that its ``reports[i]`` prunes stops, and the others go on. The members share one forward pass over
    the batch loop, one backward call and one optimizer step; their layers still run one member at a time (no
    batched matmul or grouped convolution yet), and they share their wall time. The other arguments are
    :func:`train_one`'s.

    Args:
        acts: the members' activations (anything :func:`train_one` takes), each trained once.
        reports: one pruning callback per member (or None), as ``train_one``'s ``report``.
        on_models: one callback per member (or None), as ``train_one``'s ``on_model``.
    """
    task = get_task(task)
    if task.objective is not None:
        raise ValueError(f"task {task.name!r} trains through its own objective; a population needs a dataset and a "
                         f"model (train its members with train_one)")
    if not acts:
        raise ValueError("a population needs at least one activation")
    reports = list(reports) if reports is not None else [None] * len(acts)
    hooks: list[Callable[[nn.Module], None] | None] = list(on_models) if on_models is not None else [None] * len(acts)
    if len(reports) != len(acts) or len(hooks) != len(acts):
        raise ValueError(f"{len(acts)} activations but {len(reports)} report callbacks and {len(hooks)} model "
                         f"callbacks")
    return _run(list(acts), task, seed, steps, reports, threads, data_dir, device, hooks, report_metric)


def _run(acts: list[ActSpec], task: Task, seed: int, steps: int | None,
         reports: list[Callable[[int, float], bool] | None], threads: int, data_dir: str | Path | None,
         device: str | None, on_models: list[Callable[[nn.Module], None] | None],
         report_metric: str, hooks: StepHooks | None = None) -> list[RunResult]:
    """What train_one and train_population share: the budget, the thread count (restored afterwards), the device
    and the data, then the one training loop (or, for one activation, the task's own objective)."""
    total = int(steps) if steps is not None else task.steps
    if total < 1:
        raise ValueError(f"steps must be >= 1, got {total}")
    prev_threads = torch.get_num_threads()
    torch.set_num_threads(max(1, int(threads)))
    try:
        if task.objective is not None:  # train_population refuses these: only train_one's single act gets here
            return [_run_objective(acts[0], task, int(seed), reports[0])]
        dev = worker_device(task.device, device)
        ds = on_device(task_data(task, data_dir), dev)
        return _train_members(acts, task, ds, int(seed), total, reports, dev, on_models, report_metric, hooks)
    finally:
        torch.set_num_threads(prev_threads)


def _run_objective(act: ActSpec, task: Task, seed: int, report: Callable[[int, float], bool] | None) -> RunResult:
    """A custom evaluator: ``task.objective(act_layer, seed, report)`` returns a score or a ``(val, test)`` pair."""
    assert task.objective is not None
    t_start = time.perf_counter()
    _, _, other_seed = _seeds(seed)
    torch.manual_seed(other_seed)
    res = RunResult(act=act_label(act), task=task.name, seed=seed, steps=task.steps, steps_done=0,
                    val_acc=math.nan, test_acc=None, val_loss=None, train_loss=None)

    def rep(step: int, value: float) -> bool:
        res.val_curve["step"].append(int(step))
        res.val_curve["acc"].append(float(value))
        res.steps_done = int(step)
        if report is not None and report(int(step), float(value)):
            res.pruned = True
        return res.pruned

    out = task.objective(_act_layer(resolve_act(act), other_seed), seed, rep)
    if isinstance(out, dict):  # named metrics, e.g. {"val_loss": ..., "test_loss": ...}
        allowed = ("val_acc", "test_acc", "val_loss", "test_loss")
        bad = sorted(set(out) - set(allowed))
        if bad or not out:
            raise ValueError(f"task {task.name!r}: its objective returned the keys {sorted(out)}; a dict names "
                             f"metrics among {', '.join(allowed)}")
        for k, v in out.items():
            setattr(res, k, None if v is None or (k.startswith("test") and res.pruned) else float(v))
        main = res.val_acc if "val_acc" in out else res.val_loss
        res.diverged = main is None or not math.isfinite(main)
    else:
        val, test = (out if isinstance(out, (tuple, list)) else (out, out))
        res.val_acc = float(val)
        res.test_acc = None if res.pruned or test is None else float(test)
        res.diverged = not math.isfinite(res.val_acc)
    res.wall_time = time.perf_counter() - t_start
    return res


@dataclass
class _Member:
    """One network of a training loop: its model, its result so far, and its own global-RNG state (dropout or a
    random activation draws from it), so that members trained together draw what each would draw alone."""

    model: nn.Module
    res: RunResult
    report: Callable[[int, float], bool] | None
    on_model: Callable[[nn.Module], None] | None
    rng: torch.Tensor
    cuda_rng: torch.Tensor | None = None
    live: bool = True
    window: float = 0.0
    window_n: int = 0
    swap: bool = True  # False for a population of one: the global RNG is the member's own, nothing to swap

    def enter(self) -> None:
        if not self.swap:
            return
        torch.set_rng_state(self.rng)
        if self.cuda_rng is not None:
            torch.cuda.set_rng_state(self.cuda_rng)

    def leave(self) -> None:
        if not self.swap:
            return
        self.rng = torch.get_rng_state()
        if self.cuda_rng is not None:
            self.cuda_rng = torch.cuda.get_rng_state()


def _train_members(acts: list[ActSpec], task: Task, ds: Dataset, seed: int, total: int,
                   reports: list[Callable[[int, float], bool] | None], device: torch.device,
                   on_models: list[Callable[[nn.Module], None] | None],
                   report_metric: str = "val_acc", hooks: StepHooks | None = None) -> list[RunResult]:
    """The one training loop: each activation's network trained on ``seed``, all on the same batches in one loop.

    Every member computes exactly what it computes alone (``train_one``): its weights come from the same seed, the
    batches and augmentation are shared, each draws from its own copy of the global RNG, the summed loss gives each
    member's parameters its own gradient, and the optimizer's update is elementwise. A member that diverges or is
    pruned stops; the others go on.
    """
    reported = get_metric(report_metric)
    t_start = time.perf_counter()
    init_seed, data_seed, other_seed = _seeds(seed)
    members: list[_Member] = []
    for act, report, on_model in zip(acts, reports, on_models, strict=True):
        model = _build(act, task, ds, init_seed, other_seed).to(device)
        model.train()
        res = RunResult(act=act_label(act), task=task.name, seed=seed, steps=total, steps_done=0,
                        val_acc=1.0 / ds.n_classes, test_acc=None, val_loss=None, train_loss=None,
                        n_params=sum(p.numel() for p in model.parameters()), data=ds.source)
        members.append(_Member(model, res, report, on_model, torch.get_rng_state(),
                               torch.cuda.get_rng_state() if device.type == "cuda" else None))
    for m in members:
        m.swap = len(members) > 1  # solo training (train_one's hot loop) never copies the RNG state
    g_data = torch.Generator().manual_seed(data_seed)

    n = len(ds.y_train)
    batch = min(task.batch_size, n)
    per_epoch = n // batch
    bsched = make_batch_schedule(task.batch_schedule, batch, total, n, **task.batch_schedule_kwargs)
    sched = make_schedule(task.schedule, task.lr, total, batch_size=batch, steps_per_epoch=per_epoch,
                          **task.schedule_kwargs)
    # One optimizer over every member's parameters: its update is elementwise, and a member without gradients (it
    # stopped) is skipped, so each member moves as it would alone.
    hooks = hooks or StepHooks()
    frozen = {id(p) for p in hooks.frozen}
    opt = make_optimizer(task, [p for m in members for p in m.model.parameters()
                                if p.requires_grad and id(p) not in frozen])
    chance = 1.0 / ds.n_classes
    every = max(1, total // CURVE_POINTS)

    # The order is drawn on the CPU (the same numbers on every device) and moved once per epoch.
    perm = torch.randperm(n, generator=g_data).to(device)
    pos, train_time = 0, 0.0
    t_train = time.perf_counter()
    for t in range(total):
        live = [m for m in members if m.live]
        if not live:
            break
        b = bsched.size(t)
        if pos + b > n:  # new epoch; the last partial batch is dropped so every step has its scheduled size
            perm, pos = torch.randperm(n, generator=g_data).to(device), 0
        idx = perm[pos:pos + b]
        pos += b
        xb, yb = ds.x_train[idx], ds.y_train[idx]
        if task.augment:
            xb = _augment(xb, g_data)
        apply_schedule(opt, sched, t, b)
        if hooks.before is not None:
            hooks.before(t)
        losses, stepping = [], []
        for m in live:
            m.enter()
            loss = task_loss(m.model(xb), yb)
            m.leave()
            lv = float(loss.detach())
            if not math.isfinite(lv):
                m.res.diverged, m.live = True, False
                continue
            losses.append(loss)
            stepping.append((m, lv))
        if not losses:
            break
        opt.zero_grad(set_to_none=True)
        (losses[0] if len(losses) == 1 else torch.stack(losses).sum()).backward()
        opt.step()
        if hooks.after is not None:  # e.g. DNAS's architecture step; False: it diverged
            going = [(m, lv) for m, lv in stepping if hooks.after(t, m.model, ds)]
            for m, _ in stepping:
                m.live = any(m is g for g, _ in going)
                m.res.diverged = m.res.diverged or not m.live
            stepping = going
        for m, lv in stepping:
            m.res.steps_done = t + 1
            m.window += lv
            m.window_n += 1
            if m.window_n == every or t + 1 == total:
                m.res.curve["step"].append(t + 1)
                m.res.curve["loss"].append(m.window / m.window_n)
                m.res.train_loss = m.window / m.window_n
                m.window, m.window_n = 0.0, 0
        if (t + 1) % task.eval_every == 0 and t + 1 < total:
            train_time += time.perf_counter() - t_train
            for m, _ in stepping:
                m.enter()
                acc, vloss = _evaluate(m.model, ds.x_val, ds.y_val)
                m.leave()
                if not math.isfinite(vloss):
                    m.res.diverged, m.live = True, False
                    continue
                m.res.val_curve["step"].append(t + 1)
                m.res.val_curve["acc"].append(acc)
                if m.report is not None and m.report(
                        t + 1, reported.value(SimpleNamespace(val_acc=acc, val_loss=vloss))):
                    m.res.pruned, m.live = True, False
                    m.res.val_acc, m.res.val_loss = acc, vloss
            t_train = time.perf_counter()
    train_time += time.perf_counter() - t_train

    for m in members:
        res = m.res
        res.steps_per_s = res.steps_done / train_time if train_time > 0 else 0.0
        if not res.diverged and not res.pruned:
            m.enter()
            acc, vloss = _evaluate(m.model, ds.x_val, ds.y_val)
            if math.isfinite(vloss):
                res.val_acc, res.val_loss = acc, vloss
                res.val_curve["step"].append(res.steps_done)
                res.val_curve["acc"].append(acc)
                res.test_acc, res.test_loss = _evaluate(m.model, ds.x_test, ds.y_test)
                if m.on_model is not None:
                    m.on_model(m.model.eval())
            else:
                res.diverged = True
            m.leave()
        if res.diverged:
            res.val_acc, res.test_acc = chance, chance
            res.val_loss = res.test_loss = math.log(ds.n_classes)
        res.wall_time = time.perf_counter() - t_start  # members trained together share their wall time
    return [m.res for m in members]
