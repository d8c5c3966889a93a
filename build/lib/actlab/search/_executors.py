"""Where jobs run: local worker processes (the default) or Ray.

The driver owns the study; executors only turn :class:`~actlab.search._objective.Job` into result dicts. Both
executors give the same guarantees: a job whose worker dies is retried once (then fails with the reason), and a job
that exceeds its timeout is killed and fails with the reason. Neither stops the search.

The local pool is a handful of processes with one pipe each rather than a ``ProcessPoolExecutor``: a dead
worker breaks a whole ``ProcessPoolExecutor`` and hides which job it was running, whereas here the driver knows each
worker's job, kills exactly the one that timed out and restarts exactly the one that died.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import threading
import time
from abc import ABC, abstractmethod
from collections import deque
from dataclasses import dataclass, replace
from multiprocessing.connection import wait
from typing import Any

from ._objective import Job, run_job

__all__ = ["Outcome", "Executor", "LocalExecutor", "RayExecutor", "make_executor"]

# Extra seconds past a job's own (cooperative) timeout before the executor kills it.
KILL_GRACE = 10.0


@dataclass
class Outcome:
    """A finished job: ``result`` from the worker, or ``result=None`` and ``error`` saying why."""

    job: Job
    result: dict[str, Any] | None
    error: str | None = None


class Executor(ABC):
    """Runs jobs; ``slots`` jobs at a time."""

    slots: int

    @abstractmethod
    def submit(self, job: Job) -> None: ...

    @abstractmethod
    def poll(self, timeout: float) -> list[Outcome]:
        """Finished jobs, waiting up to ``timeout`` seconds for at least one."""

    @abstractmethod
    def busy(self) -> int:
        """Jobs submitted and not yet returned by :meth:`poll`."""

    def close(self) -> None:  # noqa: B027 - optional hook
        pass

    def __enter__(self) -> "Executor":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _orphan_watch(driver: int) -> None:
    # A SIGKILLed driver cannot stop its workers; they stop themselves instead of training for nobody. (The
    # driver is not the parent: workers fork from the forkserver.)
    while True:
        time.sleep(1.0)
        try:
            os.kill(driver, 0)
        except ProcessLookupError:
            os._exit(3)
        except PermissionError:
            pass


def _worker_main(conn: Any, threads: int, parent: int) -> None:
    threading.Thread(target=_orphan_watch, args=(parent,), daemon=True).start()
    import torch

    torch.set_num_threads(threads)
    while True:
        try:
            job = conn.recv()
        except (EOFError, OSError):
            return
        if job is None:
            return
        conn.send(run_job(job))


@dataclass
class _Worker:
    proc: Any
    conn: Any
    job: Job | None = None
    started: float = 0.0


class LocalExecutor(Executor):
    """``workers`` spawned processes with ``threads`` torch threads each."""

    def __init__(self, workers: int | None = None, threads: int = 1) -> None:
        self.slots = max(1, workers or os.cpu_count() or 1)
        self.threads = threads
        # forkserver: a clean single-threaded server imports torch once and forks each worker from it, so a
        # replacement worker starts in milliseconds instead of re-importing torch (spawn) and no parent threads
        # are inherited (fork).
        self._ctx = mp.get_context("forkserver")
        self._ctx.set_forkserver_preload(["torch", "actlab.search._objective", "actlab.train", "actlab.expr"])
        self._workers: list[_Worker] = []
        self._queue: deque[Job] = deque()
        self._done: list[Outcome] = []

    def _spawn(self) -> _Worker:
        parent, child = self._ctx.Pipe()
        proc = self._ctx.Process(target=_worker_main, args=(child, self.threads, os.getpid()), daemon=True)
        proc.start()
        child.close()
        return _Worker(proc, parent)

    def submit(self, job: Job) -> None:
        self._queue.append(job)

    def busy(self) -> int:
        return len(self._queue) + sum(w.job is not None for w in self._workers) + len(self._done)

    def _dispatch(self) -> None:
        while self._queue:
            idle = next((w for w in self._workers if w.job is None), None)
            if idle is None:
                if len(self._workers) >= self.slots:
                    return
                idle = self._spawn()
                self._workers.append(idle)
            job = self._queue.popleft()
            try:
                idle.conn.send(job)
            except (BrokenPipeError, OSError):
                self._replace(idle)
                self._queue.appendleft(job)
                continue
            idle.job, idle.started = job, time.monotonic()

    def _replace(self, w: _Worker) -> None:
        if w.proc.is_alive():
            w.proc.kill()
        w.proc.join(timeout=5)
        w.conn.close()
        self._workers.remove(w)

    def _lost(self, w: _Worker, why: str) -> None:
        job = w.job
        assert job is not None
        code = w.proc.exitcode
        self._replace(w)
        if why == "died" and job.attempt < 2:
            self._queue.appendleft(replace(job, attempt=job.attempt + 1))
        elif why == "died":
            self._done.append(Outcome(job, None, f"worker died twice (last exit code {code})"))
        else:
            self._done.append(Outcome(job, None, why))

    def poll(self, timeout: float) -> list[Outcome]:
        end = time.monotonic() + timeout
        while True:
            self._dispatch()
            self._reap_timeouts()
            if self._done:
                break
            running = [w for w in self._workers if w.job is not None]
            if not running:
                break
            left = end - time.monotonic()
            if left <= 0:
                break
            ready = wait([w.conn for w in running] + [w.proc.sentinel for w in running], timeout=min(left, 1.0))
            for w in running:
                if w.conn in ready:
                    try:
                        result = w.conn.recv()
                    except (EOFError, OSError):
                        self._lost(w, "died")
                        continue
                    self._done.append(Outcome(w.job, result))  # type: ignore[arg-type]
                    w.job = None
                elif w.proc.sentinel in ready:
                    self._lost(w, "died")
        done, self._done = self._done, []
        return done

    def _reap_timeouts(self) -> None:
        now = time.monotonic()
        for w in list(self._workers):
            if w.job is not None and w.job.timeout and now - w.started > w.job.timeout + KILL_GRACE:
                self._lost(w, f"timeout: killed after {w.job.timeout:g} s")

    def close(self) -> None:
        for w in self._workers:
            try:
                w.conn.send(None)
            except (BrokenPipeError, OSError):
                pass
        for w in self._workers:
            w.proc.join(timeout=2)
            if w.proc.is_alive():
                w.proc.kill()
        self._workers.clear()


def _ray_run(job: Job) -> dict[str, Any]:
    import torch

    torch.set_num_threads(1)
    return run_job(job)


class RayExecutor(Executor):
    """Jobs as Ray tasks (``num_cpus=1``; Ray itself retries a task once if its worker dies)."""

    def __init__(self, address: str, workers: int | None = None) -> None:
        try:
            import ray
        except ImportError as e:  # pragma: no cover - depends on the install
            raise RuntimeError("--ray-address needs Ray: pip install 'actlab[ray]'") from e
        self._ray = ray
        if not ray.is_initialized():
            ray.init(address=address, include_dashboard=False, log_to_driver=False)
        self._remote = ray.remote(num_cpus=1, max_retries=1)(_ray_run)
        cpus = int(ray.cluster_resources().get("CPU", 1))
        self.slots = max(1, workers or cpus)
        self._refs: dict[Any, tuple[Job, float]] = {}

    def submit(self, job: Job) -> None:
        self._refs[self._remote.remote(job)] = (job, time.monotonic())

    def busy(self) -> int:
        return len(self._refs)

    def poll(self, timeout: float) -> list[Outcome]:
        ray = self._ray
        out: list[Outcome] = []
        if not self._refs:
            return out
        ready, _ = ray.wait(list(self._refs), num_returns=1, timeout=timeout)
        if ready:
            ready, _ = ray.wait(list(self._refs), num_returns=len(self._refs), timeout=0)
        for ref in ready:
            job, _ = self._refs.pop(ref)
            try:
                out.append(Outcome(job, ray.get(ref)))
            except Exception as e:  # WorkerCrashedError after the retry, or a lost node
                out.append(Outcome(job, None, f"ray worker failed twice: {type(e).__name__}: {str(e)[:200]}"))
        now = time.monotonic()
        for ref, (job, started) in list(self._refs.items()):
            if job.timeout and now - started > job.timeout + KILL_GRACE:
                ray.cancel(ref, force=True)
                del self._refs[ref]
                out.append(Outcome(job, None, f"timeout: cancelled after {job.timeout:g} s"))
        return out


def make_executor(workers: int | None = None, ray_address: str | None = None) -> Executor:
    """The local pool, or Ray when ``ray_address`` is given (``auto`` or ``HOST:PORT``)."""
    if ray_address:
        return RayExecutor(ray_address, workers)
    return LocalExecutor(workers)
