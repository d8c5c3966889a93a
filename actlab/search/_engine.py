"""The driver: the one process that owns the study (ask/tell) while executors evaluate candidates.

Loop: recover trials left RUNNING by a dead driver, then keep every executor slot busy with fresh candidates until
the budget is spent, recording each outcome the moment it arrives (so a SIGKILL loses only running trials, which
the next run re-queues). Every candidate is checked against the study before training: a function (identity)
already evaluated is never trained again (its trial copies the result and says ``duplicate_of``), and a candidate the
prefilter rejects is recorded as ``skipped`` with the reason. Neither is COMPLETE (see :mod:`._records`), so
Optuna's tools show only trainings as results.

Racing: a candidate whose search-seed score enters the running top-k is trained on ``race_seeds`` more seeds before
its trial is told, and its value becomes the median over all of them, so the top-k handed to the final stage is less
of a lucky single draw.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field, replace
from typing import Any, Callable

import optuna
from optuna.trial import Trial, TrialState

from ._config import OBJECTIVES, SearchConfig, parse_budget
from ._executors import Executor, Outcome, make_executor
from ._candidate import first_report_step
from ._objective import Job, PruneSpec, batches, seeds_median
from ._records import Attr, JobResult, Outcomes
from ._space import SearchSpace
from ._strategies import Strategy, distributions, get_strategy
from ._shared import Heartbeat, SharedStudy
from ._study import driver_id, mask_url, open_study, seen_identities, storage_url

__all__ = ["Driver", "SearchResult", "make_pruner", "metric_names"]

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
    raced: int = 0                       # candidates given racing seeds by this run
    board: Any = None                    # the leaderboard (filled by run_search)


def metric_names(objectives: list[str], metric: str = "val_acc") -> list[str]:
    """The objective names shown by Optuna's tools (``study.set_metric_names``); the first objective shows the
    search metric (``--metric``)."""
    return [metric if i == 0 else OBJECTIVES[o].metric for i, o in enumerate(objectives)]


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
        if cfg.population == "auto":  # probed once, here; the final stage then uses the same size
            from actlab.train import probe_population

            cfg.population = probe_population(cfg.task, cfg.device)
        self.name = cfg.study_name()
        self.url = storage_url(self.name, cfg.storage, cfg.runs_dir)
        self.pruner = make_pruner(cfg.pruner, cfg.multi, first_report_step(cfg.task))
        self.study = open_study(self.name, self.url, cfg.directions, sampler=self.strategy.sampler(),
                                pruner=self.pruner, config=cfg.protocol())
        if self.study.metric_names is None:
            with warnings.catch_warnings():  # experimental in Optuna 5, and exactly what its dashboard reads
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                self.study.set_metric_names(metric_names(cfg.objectives, cfg.metric))
        self.me = driver_id()
        self.shared = SharedStudy(self.study, self.me)  # storage operations, and the view of finished trials
        self.on_event = on_event or (lambda kind, info: None)
        self.dists = distributions(space)
        self.inflight: dict[int, Trial] = {}
        self.racing: dict[int, JobResult] = {}  # trial -> its search-seed result, while its racing seeds train
        self.to_race: list[Job] = []  # racing jobs of this round, not yet submitted
        self.started = 0
        self.raced = 0

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

    def _start(self, trial: Trial, seen: dict[str, int]) -> Job | None:
        """Check one asked trial: its job to train, or None if it was recorded without training."""
        trial.set_user_attr(Attr.DRIVER, self.me)
        try:
            tokens = self.space.validate(trial.params)
            text = self.space.render(tokens)
            canon = self.space.identity(text)
        except Exception as e:  # a malformed candidate is the candidate's failure, not the search's
            self._untrained(trial, Outcomes.SKIPPED, Attr.SKIPPED, f"{type(e).__name__}: {e}"[:300])
            return None
        trial.set_user_attr(Attr.EXPRESSION, text)
        trial.set_user_attr(Attr.IDENTITY, canon)
        if canon in seen and seen[canon] != trial.number:
            self._untrained(trial, Outcomes.DUPLICATE, Attr.DUPLICATE_OF, seen[canon])
            return None
        reason = self.space.check(text)
        if reason is not None:
            self._untrained(trial, Outcomes.SKIPPED, Attr.SKIPPED, reason)
            return None
        first = self.shared.claim(trial.number, canon)  # another driver chose it at the same moment
        if first is not None:
            self._untrained(trial, Outcomes.DUPLICATE, Attr.DUPLICATE_OF, first)
            return None
        seen[canon] = trial.number
        trial.set_user_attr(Attr.OUTCOME, Outcomes.TRAINED)
        job = Job(key=trial.number, expression=text, task=self.cfg.task, seeds=tuple(range(self.cfg.seeds)),
                  metric=self.cfg.metric,
                  steps=self.cfg.child_steps, timeout=self.cfg.timeout, evaluator=self.cfg.evaluator,
                  analyse=self.cfg.analyse, measure="speed" in self.cfg.objectives, attack=self.cfg.attack_spec,
                  gated=self.cfg.gated, prune=self._prune_spec())
        self.inflight[trial.number] = trial
        self.started += 1
        return job

    def _untrained(self, trial: Trial, outcome: str, key: str, why: Any) -> None:
        """Record a proposal that is not trained: FAIL (never COMPLETE or PRUNED) with ``outcome`` saying which."""
        trial.set_user_attr(Attr.OUTCOME, outcome)
        trial.set_user_attr(key, why)
        self.shared.tell(trial, state=TrialState.FAIL)

    def _prune_spec(self) -> PruneSpec | None:
        if isinstance(self.pruner, optuna.pruners.NopPruner):
            return None
        return PruneSpec(pruner=self.pruner, history=self.shared.curves(), direction=self.cfg.directions[0])

    # ---- outcomes

    def _record(self, out: Outcome, executor: Executor | None = None) -> dict[str, Any] | None:
        """Store one finished job on its trial; None while the trial still waits for its racing seeds."""
        trial = self.inflight[out.job.key]
        first = self.racing.pop(trial.number, None)
        r = out.result
        if first is not None:  # the racing seeds came back: merge them into the search-seed result
            r = _merge_race(first, r, out.error, self.cfg.metric)
        elif (r is not None and r.ok and executor is not None and self.cfg.race_seeds > 0 and not self.cfg.multi
              and r.value is not None and self.shared.in_top_k(r.value, self.cfg.top_k)):
            self.racing[trial.number] = r
            seeds = tuple(range(self.cfg.seeds, self.cfg.seeds + self.cfg.race_seeds))
            # sent by the loop once this round's results are in, so the racers of one round train together
            self.to_race.append(Job(key=trial.number, expression=out.job.expression, task=self.cfg.task, seeds=seeds,
                                    steps=self.cfg.child_steps, timeout=self.cfg.timeout,
                                    evaluator=self.cfg.evaluator, analyse=False, measure=False, gated=out.job.gated,
                                    metric=out.job.metric))
            self.raced += 1
            return None
        del self.inflight[out.job.key]
        info: dict[str, Any] = {"number": trial.number, "expression": out.job.expression}
        trial.set_user_attr(Attr.ATTEMPTS, out.job.attempt)
        trial.set_user_attr(Attr.NODE, out.node)
        # Two drivers can still both train one function when one chose it before the other's claim was visible
        # (claim() only sees claims already written). The same check now, at the end, keeps one record of it: the
        # lower-numbered trial, which never defers, while this one becomes its duplicate.
        twin = self.shared.claim(trial.number, trial.user_attrs.get(Attr.IDENTITY, ""))
        if twin is not None:
            self._untrained(trial, Outcomes.DUPLICATE, Attr.DUPLICATE_OF, twin)
            return dict(info, state="DUPLICATE", duplicate_of=twin)
        if r is None:
            trial.set_user_attr(Attr.FAILURE, out.error)
            self.shared.tell(trial, state=TrialState.FAIL)
            return dict(info, state="FAIL", reason=out.error)
        for k, v in r.to_attrs().items():
            trial.set_user_attr(k, v)
        if not self.cfg.multi:
            for step, val in r.intermediate:
                trial.report(val, step)
            for k, v in r.pruner_attrs.items():
                self.study._storage.set_trial_system_attr(trial._trial_id, k, v)
        status, reason = r.status, r.reason
        values = [getattr(r, OBJECTIVES[o].result) for o in self.cfg.objectives]
        missing = [o for o, v in zip(self.cfg.objectives, values, strict=True) if v is None]
        if status == "ok" and missing and r.value is not None:
            status, reason = "fail", f"no value measured for the {', '.join(missing)} objective"
        if status == "ok" and r.value is not None:
            self.shared.tell(trial, [float(v) for v in values])
            return dict(info, state="COMPLETE", value=r.value, cost=r.cost)
        if status == "pruned":
            self.shared.tell(trial, state=TrialState.PRUNED)
            return dict(info, state="PRUNED")
        trial.set_user_attr(Attr.FAILURE, reason)
        if r.traceback:
            trial.set_user_attr(Attr.TRACEBACK, r.traceback)
        self.shared.tell(trial, state=TrialState.FAIL)
        return dict(info, state="FAIL", reason=reason)

    # ---- the loop

    def run(self, executor: Executor | None = None) -> SearchResult:
        cfg = self.cfg
        max_trials, max_seconds = parse_budget(cfg.budget)
        self.shared.heartbeat()
        requeued = self.shared.recover_stale()
        own = executor is None
        executor = executor or make_executor(cfg.workers, cfg.ray_address, cfg.device, cfg.members)
        t0 = time.monotonic()
        self.shared.sync()
        n_done, sign = self.shared.evaluated, self.shared.sign
        best = self.shared.best  # a resumed study's best so far is the progress line's start
        self.on_event("start", {"study": self.name, "storage": mask_url(self.url), "done": n_done,
                                "requeued": requeued, "max_trials": max_trials, "max_seconds": max_seconds,
                                "slots": executor.slots, "population": cfg.population, "sign": sign,
                                "best": None if best is None else best.values[0],
                                "best_expression": None if best is None else best.user_attrs.get(Attr.EXPRESSION)})
        barren, stop = 0, ""
        beat = Heartbeat(self.shared)  # also while a strategy thinks (DNAS trains its supernet)
        try:
            while True:
                beat.check()
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
                    # each slot trains a population of up to cfg.population candidates
                    room = executor.slots * self.cfg.members - len(self.inflight)
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
                    info = self._record(out, None if stop else executor)
                    if info is None:
                        continue
                    n_done += info["state"] != "DUPLICATE"  # a twin another driver trained is not a trial done
                    self.on_event("trial", dict(info, done=n_done, elapsed=time.monotonic() - t0))
                for batch in batches(self.to_race, cfg.members):
                    executor.submit(batch)
                self.to_race.clear()
        except KeyboardInterrupt:
            # Ctrl-C or SIGTERM (the CLI turns it into this): what is in flight goes back to the queue now, so a
            # resume in this same process (a notebook) finds it too, not only a new driver's stale-trial check.
            self.shared.requeue_all(self.inflight.values())
            self.inflight.clear()
            raise
        finally:
            beat.stop()
            if own:
                executor.close()
        self.on_event("stop", {"reason": stop, "done": n_done})
        return SearchResult(self.name, self.url, n_done, self.started, requeued, stop, raced=self.raced)

    def _fill(self, room: int, executor: Executor) -> int:
        """Ask up to ``room`` trials (re-queued ones first) and submit the trainable ones, in populations of up to
        ``cfg.population``; the number submitted, or -1 when nothing is left to propose."""
        trials = self.shared.sync()
        seen = seen_identities(trials)
        waiting = sum(t.state == TrialState.WAITING for t in trials)
        if waiting:
            asked = [self._ask(None) for _ in range(min(room, waiting))]
        else:
            proposals = self.strategy.propose(self.study, room)
            if not proposals:
                return -1
            asked = [self._ask(p) for p in proposals]
        jobs = [job for job in (self._start(trial, seen) for trial in asked) if job is not None]
        for batch in batches(jobs, self.cfg.members):
            executor.submit(batch)
        return len(jobs)


def _merge_race(first: JobResult, race: JobResult | None, error: str | None, metric: str = "val_acc") -> JobResult:
    """The search-seed result with the racing seeds added: value = median of the search metric over all seeds.

    A racing job that failed (worker lost, or a seed diverged) leaves the search-seed value and says why, so that a
    candidate is never ranked on seeds it did not finish.
    """
    merged = replace(first, per_seed=list(first.per_seed))
    if race is None or not race.ok:
        merged.race_failure = (error if race is None else race.reason) or "no result"
        return merged
    merged.per_seed += race.per_seed
    merged.raced = len(race.per_seed)
    merged.value = seeds_median(merged.per_seed, metric)
    merged.wall, merged.cpu = first.wall + race.wall, first.cpu + race.cpu
    return merged
