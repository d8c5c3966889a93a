"""The fidelity stage after the search: re-train the top-k and the baselines on fresh seeds, and on a check task.

Fresh seeds (``FRESH_SEED_BASE``, +1, …) are disjoint from every seed the search trained (its search and racing
seeds), so a row's fresh score is free of the selection that picked it; the board shows it beside the search score
(the winner's-curse gap). Found functions and baselines train on the same fresh seeds, which makes them pairs
(common random numbers) for the paired tests of the leaderboard.

Each (role, activation, task, seed) evaluation is one trial of a companion study ``<study>:final`` in the same
storage, so this stage resumes after a kill exactly like the search (finished evaluations are never redone). The
first fresh seed of every row on the main task also measures its fused-kernel cost and properties; with the
robustness objective every main-task evaluation is also attacked, so the board shows fresh adversarial accuracy.
"""

from __future__ import annotations

import math
import time
import warnings
from typing import Any, Callable

import optuna
from optuna.trial import FrozenTrial, TrialState

from ._config import FRESH_SEED_BASE, SearchConfig
from ._executors import Executor, make_executor
from ._objective import Job, batches, seeds_median
from ._records import Attr
from ._shared import Heartbeat, SharedStudy
from ._study import _alive, direction_sign, driver_id, evaluated, open_study, scalar

__all__ = ["final_name", "top_trials", "plan", "run_final", "fresh_seeds", "has_final"]


def fresh_seeds(n: int) -> list[int]:
    """The final stage's seeds: never trained by the search (see ``SearchConfig`` validation)."""
    return list(range(FRESH_SEED_BASE, FRESH_SEED_BASE + n))


def final_name(study: str) -> str:
    return f"{study}:final"


def top_trials(study: optuna.Study, k: int) -> list[FrozenTrial]:
    """The best ``k`` distinct evaluated candidates: by accuracy, or the Pareto front (by accuracy) when
    the study has two objectives."""
    done = [t for t in evaluated(study) if scalar(t) is not None]
    sign = direction_sign(study)  # best first: the highest accuracy, the lowest loss
    if len(study.directions) > 1:
        front_ids = {t.number for t in study.best_trials}
        front = [t for t in done if t.number in front_ids]
        rest = [t for t in done if t.number not in front_ids]
        ranked = sorted(front, key=lambda t: -sign * t.values[0]) + sorted(rest, key=lambda t: -sign * t.values[0])
    else:
        ranked = sorted(done, key=lambda t: -sign * float(t.values[0]))
    out, seen = [], set()
    for t in ranked:
        c = t.user_attrs.get(Attr.IDENTITY)
        if c in seen:
            continue
        seen.add(c)
        out.append(t)
        if len(out) >= k:
            break
    return out


def plan(cfg: SearchConfig, top: list[FrozenTrial]) -> list[tuple[str, str, str, int]]:
    """Every evaluation the leaderboard needs, as (role, activation, task, seed), all on fresh seeds."""
    keys: list[tuple[str, str, str, int]] = []
    found = [t.user_attrs[Attr.EXPRESSION] for t in top]
    for act in found:
        keys += [("top", act, cfg.task, s) for s in fresh_seeds(cfg.reeval_seeds)]
    for b in cfg.baselines:
        keys += [("baseline", b, cfg.task, s) for s in fresh_seeds(cfg.reeval_seeds)]
    if cfg.check_task:
        for act in found + list(cfg.baselines):
            keys += [("check", act, cfg.check_task, s) for s in fresh_seeds(cfg.check_seeds)]
    return keys


def _key(k: tuple[str, str, str, int]) -> str:
    return "|".join(map(str, k))


def has_final(study: optuna.Study) -> bool:
    """Whether the study's companion final-stage study exists."""
    try:
        study._storage.get_study_id_from_name(final_name(study.study_name))
    except KeyError:
        return False
    return True


def _status(final: optuna.Study, me: str) -> tuple[set[str], set[str]]:
    """(keys evaluated, keys another live driver is evaluating now) of the final study."""
    now, attrs = time.time(), final.user_attrs
    done, claimed = set(), set()
    for t in final.get_trials(deepcopy=False):
        key, owner = t.user_attrs.get(Attr.KEY), t.user_attrs.get(Attr.DRIVER)
        if t.user_attrs.get(Attr.REQUEUED) or key is None:
            continue
        if t.state in (TrialState.COMPLETE, TrialState.FAIL):
            done.add(key)
        elif t.state == TrialState.RUNNING and owner not in (None, me) and _alive(owner, attrs, now):
            claimed.add(key)
    return done, claimed


def run_final(cfg: SearchConfig, study: optuna.Study, url: str, executor: Executor | None = None,
              on_event: Callable[[str, dict[str, Any]], None] | None = None) -> optuna.Study:
    """Run the missing evaluations of :func:`plan` and return the companion study.

    Drivers sharing a study share this stage: an evaluation another live driver is running is left to it (and
    waited for), and two drivers that pick the same one at once keep the lower trial (:func:`claim` on its key),
    so N drivers never train an evaluation twice. An evaluation whose driver died is requeued and run here.
    """
    on_event = on_event or (lambda kind, info: None)
    final = open_study(final_name(study.study_name), url, cfg.directions[:1])
    if final.metric_names is None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            final.set_metric_names([cfg.metric])
    me = driver_id()
    shared = SharedStudy(final, me)
    keys = [(_key(k), k) for k in plan(cfg, top_trials(study, cfg.top_k))]
    own = executor is None
    announced = False
    shared.heartbeat()
    beat = Heartbeat(shared)
    try:
        while True:
            beat.check()
            shared.recover_stale()
            done, claimed = _status(final, me)
            todo = [k for key, k in keys if key not in done and key not in claimed]
            if not announced:
                on_event("final", {"total": len(todo)})
                announced = True
            if todo:
                executor = executor or make_executor(cfg.workers, cfg.ray_address, cfg.device, cfg.members)
                _evaluate_all(cfg, shared, todo, executor, beat, on_event)
            elif all(key in done for key, _ in keys):
                return final
            else:  # the rest is another driver's, running now: wait for it (or for its death, then take it over)
                time.sleep(_WAIT)
    finally:
        beat.stop()
        if own and executor is not None:
            executor.close()


_WAIT = 1.0  # seconds between looks at evaluations another driver is running


def _evaluate_all(cfg: SearchConfig, shared: SharedStudy, todo: list[tuple[str, str, str, int]],
                  executor: Executor, beat: Heartbeat, on_event: Callable[[str, dict[str, Any]], None]) -> None:
    final, me = shared.study, shared.me
    trials: dict[int, Any] = {}
    jobs: list[Job] = []
    first_seed = FRESH_SEED_BASE
    try:
        for role, act, task, seed in todo:
            trial = final.ask()
            key = _key((role, act, task, seed))
            trial.set_user_attr(Attr.DRIVER, me)
            trial.set_user_attr(Attr.KEY, key)
            twin = shared.claim(trial.number, key, attr=Attr.KEY)
            if twin is not None:  # another driver took this evaluation in the same moment: it is theirs
                trial.set_user_attr(Attr.FAILURE, f"claimed by trial {twin}")
                trial.set_user_attr(Attr.REQUEUED, True)  # not an evaluation: the board and the plan skip it
                final.tell(trial, state=TrialState.FAIL)
                continue
            for name, v in ((Attr.ROLE, role), (Attr.ACT, act), (Attr.TASK, task), (Attr.SEED, seed),
                            (Attr.EXPRESSION, act)):
                trial.set_user_attr(name, v)
            cost = cfg.analyse and role != "check" and seed == first_seed  # one cost measurement per row
            # Robustness studies attack the main task's fresh-seed networks too (the check task's are not judged on it).
            attack = cfg.attack_spec if role != "check" else None
            # --steps is the main task's fidelity; the check task is another protocol and trains at its own budget
            # (digits-mlp's 600 steps whether the search ran 100 or 5000).
            steps = cfg.child_steps if role != "check" else None
            # a found gate trains gated (glu(f)); the baselines are zoo names, gated or not by themselves
            gated = cfg.gated and role != "baseline" and act not in cfg.baselines
            jobs.append(Job(key=trial.number, expression=act, task=task, seeds=(seed,), steps=steps,
                            timeout=cfg.timeout, evaluator=cfg.evaluator, analyse=cost, measure=cost, attack=attack,
                            gated=gated))
            trials[trial.number] = trial
        # The evaluations of one task and seed train together, cfg.population at a time (the same numbers).
        for batch in batches(jobs, cfg.members):
            executor.submit(batch)
        while trials:
            beat.check()
            for out in executor.poll(timeout=1.0):
                trial = trials.pop(out.job.key)
                r = out.result
                val = seeds_median(r.per_seed[:1], cfg.metric) if r is not None and r.per_seed else None
                if r is not None and r.per_seed:
                    trial.set_user_attr(Attr.RESULT, r.per_seed[0].to_attr())
                    extra: dict[str, Any] = {Attr.COST: r.cost, Attr.PROPERTIES: r.properties, Attr.WALL: r.wall}
                    for name, v in extra.items():
                        if v is not None:
                            trial.set_user_attr(name, v)
                # Two drivers can still both train one evaluation when one chose it before the other's claim was
                # visible; the same check at the end keeps one record of it, the lower trial's.
                twin = shared.claim(trial.number, trial.user_attrs.get(Attr.KEY, ""), attr=Attr.KEY)
                if twin is not None:
                    trial.set_user_attr(Attr.FAILURE, f"trained twice; trial {twin} holds the record")
                    trial.set_user_attr(Attr.REQUEUED, True)
                    final.tell(trial, state=TrialState.FAIL)
                elif r is not None and r.ok and val is not None and math.isfinite(val):
                    final.tell(trial, float(val))
                else:
                    trial.set_user_attr(Attr.FAILURE, (out.error if r is None else r.reason) or "no result")
                    final.tell(trial, state=TrialState.FAIL)
                on_event("final-trial", {"act": out.job.expression, "task": out.job.task, "value": val,
                                         "left": len(trials)})
    except KeyboardInterrupt:
        # As in the search loop: in-flight evaluations are failed as requeued (not counted as done), so a resume in
        # this same process redoes them and no trial stays RUNNING; another driver's stale check would only see them
        # once this one is dead.
        shared.requeue_all(trials.values())
        raise
