"""A synthetic space and evaluator for the engine's mechanics (resume, failures, executors).

The end-to-end strategy tests use the real space and real training; these fakes only make the driver's
bookkeeping fast and let a candidate raise, diverge, hang or kill its worker on purpose.
"""

from __future__ import annotations

import math
import os
import sys
import time
from typing import Any, Callable, Mapping

from actlab.search._space import SearchSpace, Slot

_UNARY: dict[str, Callable[[float], float]] = {
    "x": lambda x: x, "neg": lambda x: -x, "sq": lambda x: x * x, "relu": lambda x: max(x, 0.0),
    "tanh": math.tanh, "zero": lambda x: 0.0, "one": lambda x: 1.0,
    # behaviours for the failure tests (numerically distinct so that they are distinct candidates)
    "boom": lambda x: x + 101.0, "nan": lambda x: x + 102.0, "die": lambda x: x + 103.0, "hang": lambda x: x + 104.0,
}
_BINARY: dict[str, Callable[[float, float], float]] = {
    "add": lambda a, b: a + b, "mul": lambda a, b: a * b, "max": max, "sub": lambda a, b: a - b,
}
_GRID = [i / 4 for i in range(-12, 13)]


class FakeSpace(SearchSpace):
    """b(u(x), u(x)) over a few unaries; canonical form = numeric fingerprint on a grid."""

    name = "fake"

    def __init__(self, unaries: tuple[str, ...] = ("x", "neg", "sq", "relu", "tanh", "zero", "one"),
                 binaries: tuple[str, ...] = ("add", "mul", "max", "sub")) -> None:
        self.slots = (Slot("u1a", unaries), Slot("u1b", unaries), Slot("b1", binaries))

    def render(self, tokens: Mapping[str, str]) -> str:
        return f"{tokens['b1']}({tokens['u1a']}(x), {tokens['u1b']}(x))"

    def _f(self, text: str) -> Callable[[float], float]:
        b, rest = text.split("(", 1)
        ua, ub = (p.strip().split("(")[0] for p in rest.rsplit(")", 1)[0].split(", "))
        return lambda x: _BINARY[b](_UNARY[ua](x), _UNARY[ub](x))

    def identity(self, text: str) -> str:
        f = self._f(text)
        return ",".join(f"{f(x):.4g}" for x in _GRID)

    def check(self, text: str) -> str | None:
        ys = [self._f(text)(x) for x in _GRID]
        if max(ys) - min(ys) < 1e-9:
            return "constant"
        d = [(ys[i + 1] - ys[i]) for i in range(len(ys) - 1)]
        if max(d) - min(d) < 1e-9:
            return "linear"
        return None

    def enumerate(self) -> tuple[list[dict[str, str]], dict[str, int]]:
        import itertools

        names = [s.name for s in self.slots]
        raw = [dict(zip(names, combo, strict=False)) for combo in itertools.product(*(s.choices for s in self.slots))]
        seen, out, counts = set(), [], {"raw": len(raw)}
        for t in sorted(raw, key=self.complexity):
            text = self.render(t)
            c = self.identity(text)
            if c in seen:
                counts["duplicate"] = counts.get("duplicate", 0) + 1
                continue
            seen.add(c)
            why = self.check(text)
            if why:
                counts[why] = counts.get(why, 0) + 1
                continue
            out.append(t)
        return out, counts


def _options(task: str) -> dict[str, str]:
    # "fake;delay=0.2;die=once:/tmp/m": options travel in the task name because workers fork from a server
    # started earlier, so environment variables set by a test would not reach them.
    return dict(p.split("=", 1) for p in task.split(";")[1:])


def fake_eval(expression: str, task: str, seed: int, steps: int | None,
              report: Callable[[int, float], bool] | None) -> dict[str, Any]:
    """Accuracy = how much the function looks like relu, minus a little seed noise; reports 4 rungs."""
    opts = _options(task)
    delay = float(opts.get("delay", "0"))
    if "boom" in expression:
        raise RuntimeError("boom candidate raised on purpose")
    if "die" in expression:
        mode = opts.get("die", "always")
        if mode == "always":
            os._exit(7)
        marker = mode.split(":", 1)[1]
        if not os.path.exists(marker):
            open(marker, "w").close()
            os._exit(7)
    if "hang" in expression:
        time.sleep(3600)
    f = FakeSpace()._f(expression)
    err = sum(abs(f(x) - max(x, 0.0)) for x in _GRID) / len(_GRID)
    acc = 1.0 / (1.0 + err) - 0.01 * ((seed * 7919) % 5)
    if "nan" in expression:
        acc = float("nan")
    for i, step in enumerate((25, 50, 75, 100)):
        if delay:
            time.sleep(delay / 4)
        if report is not None and i < 3 and report(step, acc * (0.7 + 0.1 * i)):
            return {"val_acc": acc * (0.7 + 0.1 * i), "pruned": True, "steps_done": step}
    # the budget it was given (None: this fake task's "preset", 100 steps)
    return {"val_acc": acc, "test_acc": acc - 0.005, "diverged": not math.isfinite(acc), "steps_done": steps or 100}


def fake_population(expressions: list[str], task: str, seed: int, steps: int | None,
                    reports: list[Callable[[int, float], bool] | None]) -> list[dict[str, Any]]:
    """fake_eval's members one after another, each result saying (``wall_time``) how many trained together."""
    return [dict(fake_eval(e, task, seed, steps, r), wall_time=float(len(expressions)))
            for e, r in zip(expressions, reports, strict=True)]


fake_eval.population = fake_population  # type: ignore[attr-defined]


def fake_config(**kw: Any) -> Any:
    from actlab.search._config import SearchConfig

    base = dict(task="fake", strategy="random", budget=10, workers=2, evaluator="tests.search._fakes:fake_eval",
                analyse=False, pruner="none", steps=None, baselines=(), check_task=None, race_seeds=0)
    base.update(kw)
    return SearchConfig(**base)


def main(argv: list[str]) -> None:
    """``python -m tests.search._fakes STORAGE STUDY BUDGET TASK [POPULATION]``: a real driver process over the
    fakes."""
    from actlab.search._engine import Driver

    storage, study, budget, task = argv[:4]
    population = int(argv[4]) if len(argv) > 4 else 1
    Driver(fake_config(task=task, budget=budget, storage=storage, study=study, population=population),
           FakeSpace()).run()


if __name__ == "__main__":
    main(sys.argv[1:])
