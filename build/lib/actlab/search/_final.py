"""The fidelity stage after the search: re-evaluate the top-k with more seeds, train the baselines under the
identical protocol, and check the top-k on a second task.

Each (role, activation, task, seed) evaluation is one trial of a companion study ``<study>:final`` in the same
storage, so this stage resumes after a kill exactly like the search (finished evaluations are never redone).
Seeds the search already trained are reused, not retrained: the protocol (task, steps, seed) is the same.
"""

from __future__ import annotations

import math
import time
from typing import Any, Callable

import optuna
from optuna.trial import FrozenTrial, TrialState

from ._config import SearchConfig
from ._executors import Executor, make_executor
from ._objective import Job
from ._study import driver_id, evaluated, heartbeat, open_study, recover_stale, scalar

__all__ = ["final_name", "top_trials", "plan", "run_final"]


def final_name(study: str) -> str:
    return f"{study}:final"


def top_trials(study: optuna.Study, k: int) -> list[FrozenTrial]:
    """The best ``k`` distinct evaluated candidates: by accuracy, or the Pareto front (by accuracy) when
    the study has two objectives."""
    done = [t for t in evaluated(study) if scalar(t) is not None]
    if len(study.directions) > 1:
        front_ids = {t.number for t in study.best_trials}
        front = [t for t in done if t.number in front_ids]
        rest = [t for t in done if t.number not in front_ids]
        ranked = sorted(front, key=lambda t: -t.values[0]) + sorted(rest, key=lambda t: -t.values[0])
    else:
        ranked = sorted(done, key=lambda t: -float(t.values[0]))
    out, seen = [], set()
    for t in ranked:
        c = t.user_attrs.get("identity")
        if c in seen:
            continue
        seen.add(c)
        out.append(t)
        if len(out) >= k:
            break
    return out


def plan(cfg: SearchConfig, top: list[FrozenTrial]) -> list[tuple[str, str, str, int]]:
    """Every evaluation the leaderboard needs, as (role, activation, task, seed); role "cost" only measures."""
    keys: list[tuple[str, str, str, int]] = []
    for t in top:
        keys += [("top", t.user_attrs["expression"], cfg.task, s) for s in range(cfg.seeds, cfg.reeval_seeds)]
    for b in cfg.baselines:
        keys += [("baseline", b, cfg.task, s) for s in range(cfg.reeval_seeds)]
    if cfg.analyse:  # fused-kernel cost of every leaderboard row (no training: seed -1)
        keys += [("cost", t.user_attrs["expression"], "-", -1) for t in top if t.user_attrs.get("cost") is None]
        keys += [("cost", b, "-", -1) for b in cfg.baselines]
    if cfg.check_task:
        for act in [t.user_attrs["expression"] for t in top] + list(cfg.baselines):
            keys += [("check", act, cfg.check_task, s) for s in range(cfg.check_seeds)]
    return keys


def _key(k: tuple[str, str, str, int]) -> str:
    return "|".join(map(str, k))


def run_final(cfg: SearchConfig, study: optuna.Study, url: str, executor: Executor | None = None,
              on_event: Callable[[str, dict[str, Any]], None] | None = None) -> optuna.Study:
    """Run the missing evaluations of :func:`plan` and return the companion study."""
    on_event = on_event or (lambda kind, info: None)
    final = open_study(final_name(study.study_name), url, ["maximize"])
    me = driver_id()
    heartbeat(final, me)
    recover_stale(final, me)
    done = {t.user_attrs.get("key") for t in final.get_trials(deepcopy=False)
            if t.state in (TrialState.COMPLETE, TrialState.FAIL) and not t.user_attrs.get("requeued")}
    todo = [k for k in plan(cfg, top_trials(study, cfg.top_k)) if _key(k) not in done]
    on_event("final", {"total": len(todo)})
    if not todo:
        return final
    own = executor is None
    executor = executor or make_executor(cfg.workers, cfg.ray_address)
    trials: dict[int, Any] = {}
    try:
        for role, act, task, seed in todo:
            trial = final.ask()
            for name, v in (("key", _key((role, act, task, seed))), ("role", role), ("act", act), ("task", task),
                            ("seed", seed), ("driver", me)):
                trial.set_user_attr(name, v)
            cost = role == "cost"
            executor.submit(Job(key=trial.number, expression=act, task=task, seeds=() if cost else (seed,),
                                steps=cfg.steps, timeout=cfg.timeout, evaluator=cfg.evaluator,
                                analyse=cost, measure=cost))
            trials[trial.number] = trial
        last = time.monotonic()
        while trials:
            for out in executor.poll(timeout=1.0):
                trial = trials.pop(out.job.key)
                r = out.result
                reason = out.error if r is None else r.get("reason")
                seed_res = (r or {}).get("per_seed") or [{}]
                res = {k: v for k, v in seed_res[0].items() if k != "curve"}
                trial.set_user_attr("result", res)
                for name in ("cost", "properties"):
                    if r and r.get(name) is not None:
                        trial.set_user_attr(name, r[name])
                val = res.get("val_acc") if out.job.seeds else (r or {}).get("cost")
                if r is not None and r.get("status") == "ok" and val is not None and math.isfinite(val):
                    final.tell(trial, float(val))
                else:
                    trial.set_user_attr("failure", reason or "no result")
                    final.tell(trial, state=TrialState.FAIL)
                on_event("final-trial", {"act": out.job.expression, "task": out.job.task, "value": val,
                                         "left": len(trials)})
            if time.monotonic() - last > 30:
                heartbeat(final, me)
                last = time.monotonic()
    finally:
        if own:
            executor.close()
    return final
