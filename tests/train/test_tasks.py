"""User-defined tasks: every dataset and model form, custom evaluators, the spec resolver, devices."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from actlab.train import (TASKS, Task, compare, evaluate, get_task, resolve_device, task_data, task_spec,
                          train_one)
from tests.train import _usertasks as ut

SPEC = "tests.train._usertasks"


def _strip(r) -> dict:
    return {k: v for k, v in r.to_dict().items() if k not in ("wall_time", "steps_per_s", "task")}


@pytest.mark.parametrize("form", ["name", "dataset", "callable"])
def test_every_dataset_form_trains_the_same(form: str) -> None:
    ds = task_data(TASKS["digits-mlp"])
    data = {"name": "digits", "dataset": ds, "callable": lambda: ds}
    task = dataclasses.replace(ut.DIGITS, dataset=data[form], source=None)
    ref = train_one("tanh", ut.DIGITS, seed=1, steps=40)
    assert _strip(train_one("tanh", task, seed=1, steps=40)) == _strip(ref)
    assert not ref.diverged and ref.curve["loss"][-1] < ref.curve["loss"][0]


def test_dataset_function_runs_once_per_process(monkeypatch) -> None:
    # as in a fresh process, whatever other tests of this one built before
    monkeypatch.setattr("actlab.train._setup._built", {})
    ut.builds.clear()
    for seed in range(3):
        train_one("relu", f"{SPEC}:BLOBS", seed=seed, steps=5)
    assert len(ut.builds) == 1


def test_common_random_numbers_on_a_user_model() -> None:
    """Same seed: the same data order and initial weights whatever the activation (even one drawing random
    numbers when it is built), so that runs pair up as they do on presets."""
    seen: dict[str, list[torch.Tensor]] = {}

    class Noisy(torch.nn.Module):  # consumes the global RNG when built
        def __init__(self) -> None:
            super().__init__()
            self.a = torch.nn.Parameter(torch.rand(1))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.tanh(x) * self.a

    def model(act_layer):
        net = ut.blob_net(act_layer)
        seen.setdefault(type(net[1]).__name__, [p.detach().clone() for p in net[::2].parameters()])
        return net

    task = dataclasses.replace(ut.BLOBS, model=model, source=None)
    train_one("relu", task, seed=4, steps=3)
    train_one(Noisy, task, seed=4, steps=3)
    a, b = seen["ReLU"], seen["Noisy"]
    assert all(torch.equal(x, y) for x, y in zip(a, b, strict=True))
    seen.clear()
    train_one("relu", task, seed=5, steps=3)
    assert not torch.equal(seen["ReLU"][0], a[0])
    r1, r2 = train_one("relu", task, seed=4, steps=20), train_one("relu", task, seed=4, steps=20)
    assert _strip(r1) == _strip(r2)


def test_custom_evaluator_and_its_pruning() -> None:
    r = train_one("relu", f"{SPEC}:relu_likeness", seed=0)
    assert r.val_acc == pytest.approx(1.0) and r.test_acc == r.val_acc and r.val_curve["step"] == [1, 2, 3]
    worse = train_one("tanh", f"{SPEC}:relu_likeness", seed=0)
    assert worse.val_acc < r.val_acc
    p = train_one("relu", f"{SPEC}:relu_likeness", seed=0, report=lambda step, v: step >= 2)
    assert p.pruned and p.steps_done == 2 and p.test_acc is None


@pytest.mark.parametrize("spec", [f"{SPEC}:BLOBS", f"{SPEC}:make_blobs_task", f"{SPEC}:relu_likeness"])
def test_evaluate_and_compare_on_workers(spec: str) -> None:
    """Specs travel to worker processes as strings and give the numbers of the in-process run."""
    steps = 20
    serial = evaluate("relu", spec, seeds=2, steps=steps, metric="val_acc")
    parallel = compare(["tanh"], spec, seeds=2, steps=steps, workers=2, baseline="relu", metric="val_acc")
    assert parallel.task == spec and get_task(parallel.task) is get_task(spec)
    assert list(parallel.evaluations["relu"].values) == list(serial.values)
    assert parallel.paired["tanh"].n == 2


def test_task_objects_work_on_workers() -> None:
    """A module-level Task object is found by its module and sent as a spec; the numbers match."""
    assert task_spec(ut.BLOBS) == f"{SPEC}:BLOBS"
    a = evaluate("relu", ut.BLOBS, seeds=2, steps=10, workers=2, metric="val_acc")
    b = evaluate("relu", f"{SPEC}:BLOBS", seeds=2, steps=10, metric="val_acc")
    assert list(a.values) == list(b.values)


@pytest.mark.parametrize("spec, message", [
    ("nope", "unknown task 'nope'"),
    ("mnist1d-cn", "did you mean mnist1d-cnn"),
    ("no_such_pkg.mod:T", "cannot import module 'no_such_pkg.mod'"),
    (f"{SPEC}:BLOB", "has no attribute 'BLOB'; did you mean BLOBS"),
    (f"{SPEC}:NOT_A_TASK", "is a int; expected a Task"),
])
def test_bad_task_specs_are_one_line_errors(spec: str, message: str) -> None:
    with pytest.raises(KeyError) as e:
        get_task(spec)
    assert message in str(e.value.args[0]) and "\n" not in str(e.value.args[0])


def test_task_validation() -> None:
    with pytest.raises(ValueError, match="dataset and a model, or an objective"):
        Task("x", dataset="digits")
    with pytest.raises(TypeError, match="model must be"):
        Task("x", dataset="digits", model=3)
    with pytest.raises(ValueError, match="cannot be sent to workers"):
        task_spec(Task("local", dataset="digits", model=lambda a: torch.nn.Sequential(a())))
    bad = Task("bad", dataset=lambda: 3, model="mlp")
    with pytest.raises(TypeError, match="returned a int"):
        train_one("relu", bad, seed=0, steps=1)


def test_devices() -> None:
    assert resolve_device("cpu") == resolve_device(None) == torch.device("cpu")
    assert resolve_device("auto").type in ("cpu", "cuda", "mps")
    with pytest.raises(ValueError, match="unknown device 'gpu'"):
        resolve_device("gpu")
    if not torch.cuda.is_available():
        for spec in ("cuda", "cuda:1"):
            with pytest.raises(ValueError, match="CUDA is not available"):
                resolve_device(spec)
        with pytest.raises(ValueError, match="CUDA is not available"):  # at the start, before any training
            evaluate("relu", "digits-mlp", seeds=1, steps=1, device="cuda")
    else:  # the CUDA path: same code, the numbers of a CPU run up to float summation order
        a = train_one("relu", "digits-mlp", seed=0, steps=30, device="cuda")
        b = train_one("relu", "digits-mlp", seed=0, steps=30)
        assert abs(a.val_acc - b.val_acc) < 0.05
    r = train_one("relu", dataclasses.replace(TASKS["digits-mlp"], device="auto"), seed=0, steps=5)
    assert r.steps_done == 5
