"""Jobs and batches: what trains together, its timeout and its retry; a batch's results match its jobs alone."""

from __future__ import annotations

import pytest

from actlab.search._objective import Batch, Job, batches, run_batch, run_job

EV = "tests.search._fakes:fake_eval"


def _job(key: int, expression: str = "add(x(x), relu(x))", **kw) -> Job:
    return Job(key=key, expression=expression, **{"task": "fake", "seeds": (0,), "evaluator": EV, "analyse": False,
                                                  "timeout": 10.0, **kw})


def test_batches_group_jobs_that_can_train_together_in_order() -> None:
    jobs = [_job(0), _job(1, task="other"), _job(2), _job(3, seeds=(1,)), _job(4), _job(5, gated=True)]
    got = [[j.key for j in b.jobs] for b in batches(jobs, 2)]
    # gates, attacks and pruning differ per member; task, seeds, steps, evaluator and metric do not
    assert got == [[0, 2], [4, 5], [1], [3]]
    assert [[j.key for j in b.jobs] for b in batches(jobs, 1)] == [[j.key] for j in (jobs[0], jobs[2], jobs[4],
                                                                                    jobs[5], jobs[1], jobs[3])]
    with pytest.raises(ValueError, match="at least one member"):
        batches(jobs, 0)
    with pytest.raises(ValueError, match="must share task, seeds"):
        Batch((_job(0), _job(1, steps=5)))
    with pytest.raises(ValueError, match="at least one job"):
        Batch(())


def test_a_batch_has_its_jobs_time_and_is_retried_whole() -> None:
    b = Batch((_job(0), _job(1, timeout=5.0)))
    assert b.timeout == 15.0 and b.attempt == 1
    again = b.again()
    assert [j.attempt for j in again.jobs] == [2, 2] and again.attempt == 2
    assert Batch((_job(0), _job(1, timeout=None))).timeout is None


def test_a_batch_gives_each_job_what_it_gives_alone() -> None:
    exprs = ["add(x(x), relu(x))", "boom(x)", "add(relu(x), nan(x))", "mul(tanh(x), x(x))"]
    jobs = [_job(k, e, seeds=(0, 1, 2)) for k, e in enumerate(exprs)]
    together = run_batch(Batch(tuple(jobs)))
    alone = [run_job(j) for j in jobs]
    for t, a in zip(together, alone, strict=True):
        assert (t.status, t.reason, t.value) == (a.status, a.reason, a.value)
        assert [str(s.val_acc) for s in t.per_seed] == [str(s.val_acc) for s in a.per_seed]  # nan too
    assert together[1].reason.startswith("RuntimeError: boom") and together[2].reason.startswith("diverged")
    # fake_population marks each result with how many trained together: on seed 0 the exception made every member
    # train alone; the two that went on trained seeds 1 and 2 together
    assert [[s.wall_time for s in together[k].per_seed] for k in (0, 3)] == [[None, 2.0, 2.0]] * 2


def test_a_population_that_fails_as_a_whole_says_why_on_every_member() -> None:
    jobs = [_job(0), _job(1, "boom(x)")]
    out = run_batch(Batch(tuple(jobs)))
    assert out[0].ok and out[0].population_error.startswith("RuntimeError: boom")
    assert out[0].to_attrs()["population_error"] == out[0].population_error
    ok = run_batch(Batch((jobs[0], _job(2, "mul(tanh(x), x(x))"))))
    assert all(r.population_error is None and "population_error" not in r.to_attrs() for r in ok)
