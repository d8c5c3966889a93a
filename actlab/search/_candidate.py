"""The real evaluator: a candidate trained as a child network (:mod:`actlab.train`), and described
(:mod:`actlab.expr`): its canonical form, properties and fused-kernel cost.

The search engine names an evaluator by ``"module:function"`` (``Job.evaluator``) and imports it in the worker, so
the engine's mechanics are tested with synthetic evaluators and never import torch. An evaluator trains one
candidate on one seed; it may carry a ``population`` attribute, a function that trains several candidates on one
seed together with the same results (:func:`train_candidates`, which :func:`actlab.train.train_population` serves),
and the workers then train a batch of jobs as one population.
"""

from __future__ import annotations

from typing import Any, Callable

from ._records import AttackSpec

__all__ = ["train_candidate", "train_candidates", "describe_candidate", "first_report_step", "stacks"]


def train_candidate(expression: str, task: str, seed: int, steps: int | None,
                    report: Callable[[int, float], bool] | None, attack: AttackSpec | None = None,
                    gated: bool = False, metric: str = "val_acc") -> dict[str, Any]:
    """Train one child network with ``expression`` (or a registry name) as its activation; the default evaluator.

    Candidates train through :func:`actlab.models.candidate_act`, the one path shared with the tabular benchmarks
    and :func:`actlab.evaluate` (composite torch ops: no kernel compilation per candidate, and a result reproduces
    only when every caller trains the same way). The fused kernel is compiled only where its speed is the point
    (the speed objective, the cost column). With ``attack``, the trained network is also attacked on the whole
    validation split (``adv_acc``); a run that diverged or was pruned has none. With ``gated`` the expression is the
    gate of a gated activation, ``glu(expression)`` (the task's model must take one: a FeedForward block, the MLP).
    """
    from actlab.train import train_one

    got: dict[str, float] = {}
    run = train_one(_act(expression, gated), task, seed, steps=steps, report=report, threads=1,
                    on_model=_attacker(task, attack, got), report_metric=metric)
    return _row(run.to_dict(), got)


def train_candidates(expressions: list[str], task: str, seed: int, steps: int | None,
                     reports: list[Callable[[int, float], bool] | None],
                     attacks: list[AttackSpec | None] | None = None, gated: list[bool] | None = None,
                     metric: str = "val_acc") -> list[dict[str, Any]]:
    """:func:`train_candidate` for several candidates on one seed, trained together as one population
    (:func:`actlab.train.train_population`): the same dict for each as alone, in less time.

    Members run the composite path as they do alone: that path is what the tables, ``evaluate`` and the search
    share, so a population's numbers are the solo numbers (the fused kernels would change the last bits).
    """
    from actlab.train import train_population

    n = len(expressions)
    attacks = attacks if attacks is not None else [None] * n
    gated = gated if gated is not None else [False] * n
    got: list[dict[str, float]] = [{} for _ in range(n)]
    runs = train_population([_act(e, g) for e, g in zip(expressions, gated, strict=True)], task, seed, steps=steps,
                            reports=reports, threads=1, report_metric=metric,
                            on_models=[_attacker(task, a, g) for a, g in zip(attacks, got, strict=True)])
    # Members trained together share their wall time; each row's is its share, so a study's total stays its cost.
    return [_row(dict(r.to_dict(), wall_time=r.wall_time / n), g) for r, g in zip(runs, got, strict=True)]


# The workers train a batch of jobs as one population through this (see actlab.search._objective.run_batch).
train_candidate.population = train_candidates  # type: ignore[attr-defined]


def stacks(task: Any) -> bool:
    """Whether ``task``'s candidates can train together: it has a dataset and a model, not its own objective."""
    from actlab.train import get_task

    return get_task(task).objective is None


def _act(expression: str, gated: bool) -> Any:
    from actlab.models import candidate_act

    return candidate_act(f"glu({expression})" if gated else expression)


def _attacker(task: str, attack: AttackSpec | None, got: dict[str, float]) -> Callable[[Any], None] | None:
    """The ``on_model`` hook that attacks the trained network on the validation split into ``got["adv_acc"]``."""
    if attack is None:
        return None
    from actlab.train import adversarial_accuracy, get_task, task_data

    ds = task_data(get_task(task))

    def on_model(model: Any) -> None:
        got["adv_acc"] = adversarial_accuracy(model, ds.x_val, ds.y_val, attack.name, attack.eps, attack.norm)

    return on_model


_KEEP = ("val_acc", "test_acc", "val_loss", "test_loss", "train_loss", "wall_time", "steps_done", "diverged", "pruned")


def _row(d: dict[str, Any], got: dict[str, float]) -> dict[str, Any]:
    return {**{k: d.get(k) for k in _KEEP}, **got}


def first_report_step(task: str) -> int | None:
    """The first step at which the task reports validation accuracy (the pruner's smallest rung), if known."""
    try:
        from actlab.train import get_task

        t = get_task(task)
    except (ImportError, KeyError):  # not an actlab task (a synthetic evaluator's)
        return None
    return int(t.eval_every) if t.objective is None else None


def _registry_name(text: str) -> tuple[str, dict[str, Any]] | None:
    """``(name, hparams)`` if ``text`` names a zoo activation (``"isrlu"``, ``"isrlu:alpha=3"``), else None."""
    from actlab.activations import names
    from actlab.models import parse_act_string

    named = parse_act_string(text)
    if named is None or named[0].lower() not in {n.lower() for n in names()}:
        return None
    return named[0], dict(named[1])


def describe_candidate(expression: str, measure: bool = False) -> dict[str, Any]:
    """The sympy canonical form, properties and (``measure``) the fused forward+backward cost in ns/element.

    Registry names (the baselines) are timed through the zoo's hand-written fused kernel with the same protocol
    (:func:`actlab.expr.kernel_ns_per_element`), or as an expression when the zoo has none (relu = ``max(x, 0)``).
    """
    from actlab import expr

    named = _registry_name(expression)
    if named is not None:  # the zoo's declared properties, in the same vocabulary as analyse()
        from actlab.activations import spec

        sp = spec(named[0])
        props = {k: getattr(sp, k) for k in ("monotonic", "bounded_below", "bounded_above", "smoothness")}
        return {"properties": props, **({"cost": _zoo_cost(named[0])} if measure else {})}
    info = expr.analyse(expression, measure=measure, canonical=True).as_dict()
    out: dict[str, Any] = {"canonical": info.pop("canonical", None)}
    cost = info.pop("ns_per_element", None)
    if cost is not None:
        out["cost"] = cost
    info["cost_estimate"] = info.pop("cost", None)
    info.pop("expr", None)
    out["properties"] = {k: v for k, v in info.items() if _plain(v)}
    return out


# Zoo activations without a hand-written kernel, timed as the expression of the same function.
_ZOO_AS_EXPR = {"relu": "max(x, 0)", "identity": "x"}


def _zoo_cost(name: str) -> float | None:
    from actlab.expr import kernel_ns_per_element
    from actlab.kernels import get_kernel

    k = get_kernel(name.lower())
    if k is None:
        alias = _ZOO_AS_EXPR.get(name.lower())
        return kernel_ns_per_element(alias) if alias else None
    return kernel_ns_per_element(k)


def _plain(v: Any) -> bool:
    return v is None or isinstance(v, (bool, int, float, str)) or (
        isinstance(v, (list, tuple)) and all(isinstance(x, (bool, int, float, str)) for x in v))
