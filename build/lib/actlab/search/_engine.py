"""The driver: the one process that owns the study (ask/tell) while executors evaluate candidates.

Loop: recover trials left RUNNING by a dead driver, then keep every executor slot busy with fresh candidates until
the budget is spent, recording each outcome the moment it arrives (so a SIGKILL loses only running trials, which
the next run re-queues). Every candidate is checked against the study before training: a function (identity)
already evaluated is never trained again (its trial copies the result and says ``duplicate_of``), and a candidate the
prefilter rejects is recorded as ``skipped`` with the reason.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable

import optuna
from optuna.trial import Trial, TrialState

from ._config import SearchConfig, parse_budget
from ._executors import Executor, Outcome, make_executor
from ._objective import Job, PruneSpec, first_report_step
from ._space import SearchSpace
from ._strategies import Strategy, distributions, get_strategy
from ._study import (driver_id, evaluated, heartbeat, open_study, recover_stale, seen_identities,
                     storage_url)

__all__ = ["Driver", "SearchResult", "make_pruner"]

HEARTBEAT_SECONDS = 30.0
# Stop when this many proposals in a row were duplicates or rejected: the strategy has run dry.
MAX_BARREN = 200


@dataclass
class SearchResult:
    """What a finished :func:`run_search` returns; the study holds everything else."""

    study: str
    storage: str
    evaluated: int
    started: int                         # trainings started by this run
    requeued: list[int] = field(default_factory=list)
    stop_reason: str = ""
    board: Any = None                    # the leaderboard (filled by run_search)


def make_pruner(kind: str, multi: bool, first_step: int | None = None) -> optuna.pruners.BasePruner:
    """Optuna's pruner for ``kind``; rungs start at the task's first report (else Optuna's "auto").

    Starting at the first report matters: with rungs at steps 1, 3, 9… every rung below the first report would
    judge the same number and prune far more than one halving.
    """
    if multi or kind == "none":
        return optuna.pruners.NopPruner()
    if kind == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=first_step or 1, reduction_factor=3)
    return optuna.pruners.SuccessiveHalvingPruner(min_resource=first_step or "auto", reduction_factor=3)


class Driver:
    """Runs the search phase of one study.

    Args:
        cfg: the configuration.
        space: the token space (the real one from ``actlab.expr`` unless injected).
        on_event: called with ``(kind, info)`` for progress display: ``"start"``, ``"trial"``, ``"stop"``.
    """

    def __init__(self, cfg: SearchConfig, space: SearchSpace,
                 on_event: Callable[[str, dict[str, Any]], None] | None = None) -> None:
        self.cfg, self.space = cfg, space
        opts = dict(cfg.extra)
        if cfg.strategy == "controller":
            opts.setdefault("algo", cfg.controller_algo)
        self.strategy: Strategy = get_strategy(cfg.strategy, space, seed=cfg.seed, **opts)
        self.name = cfg.study_name()
        self.url = storage_url(self.name, cfg.storage, cfg.runs_dir)
        self.pruner = make_pruner(cfg.pruner, cfg.multi, first_report_step(cfg.task))
        self.study = open_study(self.name, self.url, cfg.directions, sampler=self.strategy.sampler(),
                                pruner=self.pruner, config=cfg.protocol())
        self.me = driver_id()
        self.on_event = on_event or (lambda kind, info: None)
        self.dists = distributions(space)
        self.inflight: dict[int, Trial] = {}
        self.started = 0

    # ---- one candidate

    def _ask(self, proposal: Any) -> Trial:
        if proposal is not None and proposal.trial is not None:
            trial = proposal.trial
            for k, v in proposal.attrs.items():
                trial.set_user_attr(k, v)
            return trial
        if proposal is not None:
            self.study.enqueue_trial(proposal.tokens, user_attrs=proposal.attrs or None)
        return self.study.ask(self.dists)

    def _start(self, trial: Trial, seen: dict[str, int], executor: Executor) -> bool:
        """Check and submit one asked trial; False if it was recorded without training."""
        trial.set_user_attr("driver", self.me)
        try:
            tokens = self.space.validate(trial.params)
            text = self.space.render(tokens)
            canon = self.space.identity(text)
        except Exception as e:  # a malformed candidate is the candidate's failure, not the search's
            trial.set_user_attr("skipped", f"{type(e).__name__}: {e}"[:300])
            self.study.tell(trial, state=TrialState.PRUNED)
            return False
        trial.set_user_attr("expression", text)
        trial.set_user_attr("identity", canon)
        if canon in seen and seen[canon] != trial.number:
            self._copy(trial, seen[canon])
            return False
        reason = self.space.check(text)
        if reason is not None:
            trial.set_user_attr("skipped", reason)
            self.study.tell(trial, state=TrialState.PRUNED)
            return False
        seen[canon] = trial.number
        job = Job(key=trial.number, expression=text, task=self.cfg.task, seeds=tuple(range(self.cfg.seeds)),
                  steps=self.cfg.steps, timeout=self.cfg.timeout, evaluator=self.cfg.evaluator,
                  analyse=self.cfg.analyse, measure=self.cfg.multi, prune=self._prune_spec())
        executor.submit(job)
        self.inflight[trial.number] = trial
        self.started += 1
        return True

    def _copy(self, trial: Trial, original: int) -> None:
        trial.set_user_attr("duplicate_of", original)
        src = self.study.get_trials(deepcopy=False)[original]
        if src.number == original and src.state == TrialState.COMPLETE:
            self.study.tell(trial, src.values)
        else:
            self.study.tell(trial, state=TrialState.PRUNED)

    def _prune_spec(self) -> PruneSpec | None:
        if isinstance(self.pruner, optuna.pruners.NopPruner):
            return None
        hist = [(t.number, t.state.name, dict(t.intermediate_values), t.value if t.values else None,
                 {k: v for k, v in t.system_attrs.items() if k.startswith("completed_rung")})
                for t in evaluated(self.study)
                if t.state in (TrialState.COMPLETE, TrialState.PRUNED) and t.intermediate_values]
        return PruneSpec(pruner=self.pruner, history=hist)

    # ---- outcomes

    def _record(self, out: Outcome) -> dict[str, Any]:
        trial = self.inflight.pop(out.job.key)
        r = out.result
        info: dict[str, Any] = {"number": trial.number, "expression": out.job.expression}
        trial.set_user_attr("attempts", out.job.attempt)
        if r is None:
            trial.set_user_attr("failure", out.error)
            self.study.tell(trial, state=TrialState.FAIL)
            return dict(info, state="FAIL", reason=out.error)
        seeds = [{k: v for k, v in s.items() if k != "curve"} for s in r.get("per_seed", [])]
        trial.set_user_attr("per_seed", seeds)
        trial.set_user_attr("wall", r.get("wall"))
        trial.set_user_attr("cpu", r.get("cpu"))
        for key in ("cost", "properties", "canonical"):
            if r.get(key) is not None:
                trial.set_user_attr(key, r[key])
        tests = [s["test_acc"] for s in seeds if s.get("test_acc") is not None]
        if tests:
            trial.set_user_attr("test_acc", sorted(tests)[len(tests) // 2])
        if not self.cfg.multi:
            for step, val in dict(r.get("intermediate", [])).items():
                trial.report(val, step)
            for k, v in (r.get("pruner_attrs") or {}).items():
                self.study._storage.set_trial_system_attr(trial._trial_id, k, v)
            if r.get("pruner_error"):
                trial.set_user_attr("pruner_error", r["pruner_error"])
        status, reason = r["status"], r.get("reason")
        if status == "ok" and self.cfg.multi and r.get("cost") is None:
            status, reason = "fail", "no fused-kernel cost measured for the speed objective"
        if status == "ok":
            values = [r["value"]] + ([r["cost"]] if self.cfg.multi else [])
            self.study.tell(trial, values)
            return dict(info, state="COMPLETE", value=r["value"], cost=r.get("cost"))
        if status == "pruned":
            self.study.tell(trial, state=TrialState.PRUNED)
            return dict(info, state="PRUNED")
        trial.set_user_attr("failure", reason)
        if r.get("traceback"):
            trial.set_user_attr("traceback", r["traceback"])
        self.study.tell(trial, state=TrialState.FAIL)
        return dict(info, state="FAIL", reason=reason)

    # ---- the loop

    def run(self, executor: Executor | None = None) -> SearchResult:
        cfg = self.cfg
        max_trials, max_seconds = parse_budget(cfg.budget)
        heartbeat(self.study, self.me)
        requeued = recover_stale(self.study, self.me)
        own = executor is None
        executor = executor or make_executor(cfg.workers, cfg.ray_address)
        t0 = last_beat = time.monotonic()
        n_done = len(evaluated(self.study))
        self.on_event("start", {"study": self.name, "storage": self.url, "done": n_done, "requeued": requeued,
                                "max_trials": max_trials, "max_seconds": max_seconds,
                                "slots": executor.slots})
        barren, stop = 0, ""
        try:
            while True:
                elapsed = time.monotonic() - t0
                if stop:
                    pass
                elif max_trials is not None and n_done + len(self.inflight) >= max_trials:
                    stop = f"budget of {max_trials} trials"
                elif max_seconds is not None and elapsed >= max_seconds:
                    stop = f"time budget of {max_seconds:g} s"
                elif barren >= MAX_BARREN:
                    stop = "the strategy proposes nothing new (space exhausted?)"
                else:
                    room = executor.slots - len(self.inflight)
                    if max_trials is not None:
                        room = min(room, max_trials - n_done - len(self.inflight))
                    if room > 0:
                        got = self._fill(room, executor)
                        if got < 0:
                            stop = "the strategy has nothing left to propose (space exhausted)"
                        barren = 0 if got > 0 else barren + room
                if not self.inflight and stop:
                    break
                for out in executor.poll(timeout=1.0):
                    info = self._record(out)
                    n_done += 1
                    self.on_event("trial", dict(info, done=n_done, elapsed=time.monotonic() - t0))
                if time.monotonic() - last_beat > HEARTBEAT_SECONDS:
                    heartbeat(self.study, self.me)
                    last_beat = time.monotonic()
        finally:
            if own:
                executor.close()
        self.on_event("stop", {"reason": stop, "done": n_done})
        return SearchResult(self.name, self.url, n_done, self.started, requeued, stop)

    def _fill(self, room: int, executor: Executor) -> int:
        """Ask up to ``room`` trials (re-queued ones first) and submit the trainable ones; -1: nothing left."""
        trials = self.study.get_trials(deepcopy=False)
        seen = seen_identities(trials)
        waiting = sum(t.state == TrialState.WAITING for t in trials)
        submitted = 0
        if waiting:
            for _ in range(min(room, waiting)):
                submitted += self._start(self._ask(None), seen, executor)
            return submitted
        proposals = self.strategy.propose(self.study, room)
        if not proposals:
            return -1
        for p in proposals:
            submitted += self._start(self._ask(p), seen, executor)
        return submitted
