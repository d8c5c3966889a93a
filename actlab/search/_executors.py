"""Where jobs run: local worker processes (the default) or Ray.

The driver owns the study; executors only turn :class:`~actlab.search._objective.Job` into result dicts, and say
where each ran (``Outcome.node``: the Ray node id, or this host's name for local workers). Both executors give the
same guarantees: a job whose worker dies is retried once (then fails with the reason), and a job that exceeds its
timeout is killed and fails with the reason. Neither stops the search. Under Ray a lost node counts as a dead
worker: its in-flight jobs run again on another node.

A unit of work is a :class:`~actlab.search._objective.Batch`: one job, or a population of jobs trained together.
A population whose worker dies is retried whole; one that runs out of time has its unfinished members retried one
by one, since the slow one may have been another member.

Devices: each local worker has a slot number; with ``device="cuda"`` worker k trains on GPU ``k % count`` (one or
more workers per GPU). Ray tasks ask for a share of a GPU and Ray picks it.

The local pool is a handful of processes with one pipe each rather than a ``ProcessPoolExecutor``: a dead
worker breaks a whole ``ProcessPoolExecutor`` and hides which job it was running, whereas here the driver knows each
worker's job, kills exactly the one that timed out and restarts exactly the one that died.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import socket
import signal
import threading
import time
from abc import ABC, abstractmethod
from collections import deque
from dataclasses import dataclass
from multiprocessing.connection import wait
from typing import Any

from ._objective import Batch, Job, run_batch
from ._records import JobResult

__all__ = ["Outcome", "Executor", "LocalExecutor", "RayExecutor", "make_executor"]

# Extra seconds past a job's own (cooperative) timeout before the executor kills it.
KILL_GRACE = 10.0


@dataclass
class Outcome:
    """A finished job: the worker's :class:`JobResult`, or ``result=None`` and ``error`` saying why."""

    job: Job
    result: JobResult | None
    error: str | None = None
    node: str | None = None       # where it ran: the Ray node id, or the hostname for local workers


class Executor(ABC):
    """Runs jobs; ``slots`` units at a time, a unit being a lone job or a :class:`Batch` trained as one population.
    Every job of a batch comes back as its own :class:`Outcome`."""

    slots: int

    @abstractmethod
    def submit(self, job: Job | Batch) -> None: ...

    @abstractmethod
    def poll(self, timeout: float) -> list[Outcome]:
        """Finished jobs, waiting up to ``timeout`` seconds for at least one."""

    @abstractmethod
    def busy(self) -> int:
        """Units submitted and not yet returned by :meth:`poll`."""

    def close(self) -> None:  # noqa: B027 - optional hook
        pass

    def _settle(self, batch: Batch, results: list[JobResult] | None, error: str | None = None,
                node: str | None = None, timed_out: bool = False) -> list[Outcome]:
        """The outcomes of a batch that came back (``results``) or was stopped (``error``).

        A population that ran out of time may have been held up by one slow member: its members that the timeout
        stopped are queued again, each alone (:meth:`_again`), so that only the slow one fails for it.
        """
        out: list[Outcome] = []
        for i, job in enumerate(batch.jobs):
            r = results[i] if results is not None else None
            if len(batch.jobs) > 1 and (timed_out or (r is not None and r.timed_out)):
                self._again(Batch((job,)))
            else:
                out.append(Outcome(job, r, error if r is None else None, node))
        return out

    def _again(self, batch: Batch) -> None:  # noqa: B027 - executors that time out populations override it
        raise NotImplementedError(f"{type(self).__name__} cannot run a population's members again alone")

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


def _worker_main(conn: Any, threads: int, parent: int, slot: int = 0, device: str | None = None) -> None:
    threading.Thread(target=_orphan_watch, args=(parent,), daemon=True).start()
    # Ctrl-C reaches the whole process group: the driver decides (it closes the workers); a worker must not die
    # mid-job with a traceback of its own.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    import torch

    from actlab.train import place_worker

    torch.set_num_threads(threads)
    place_worker(slot, device)
    while True:
        try:
            job = conn.recv()
        except (EOFError, OSError):
            return
        if job is None:
            return
        results = run_batch(job)
        try:
            conn.send(results)
        except OSError:  # the driver is gone (killed): its trial is requeued when the study resumes
            return


@dataclass
class _Worker:
    proc: Any
    conn: Any
    slot: int = 0
    job: Batch | None = None
    started: float = 0.0


class LocalExecutor(Executor):
    """``workers`` spawned processes with ``threads`` torch threads each, placed on ``device`` (None: the task's)."""

    def __init__(self, workers: int | None = None, threads: int = 1, device: str | None = None) -> None:
        self.slots = max(1, workers or os.cpu_count() or 1)
        self.threads = threads
        self.device = device
        self.node = socket.gethostname()
        # forkserver: a clean single-threaded server imports torch once and forks each worker from it, so a
        # replacement worker starts in milliseconds instead of re-importing torch (spawn) and no parent threads
        # are inherited (fork).
        self._ctx = mp.get_context("forkserver")
        self._preload = ["torch", "actlab.search._objective", "actlab.train", "actlab.expr"]
        self._workers: list[_Worker] = []
        self._queue: deque[Batch] = deque()
        self._done: list[Outcome] = []

    def _spawn(self) -> _Worker:
        # The server starts with the first worker. A task defined in the user's script ("__main__:TASK") needs the
        # server to import that script (as __mp_main__, under its main guard) so that the workers can resolve it.
        main = any(str(b.jobs[0].task).startswith("__main__:") for b in self._queue)
        self._ctx.set_forkserver_preload((["__main__"] if main else []) + self._preload)
        used = {w.slot for w in self._workers}
        slot = next(i for i in range(len(used) + 1) if i not in used)  # a replacement takes the dead one's slot
        parent, child = self._ctx.Pipe()
        proc = self._ctx.Process(target=_worker_main, args=(child, self.threads, os.getpid(), slot, self.device),
                                 daemon=True)
        proc.start()
        child.close()
        return _Worker(proc, parent, slot)

    def submit(self, job: Job | Batch) -> None:
        self._queue.append(_batch(job))

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
        batch = w.job
        assert batch is not None
        code = w.proc.exitcode
        self._replace(w)
        if why == "died" and batch.attempt < 2:  # every member again: a population is one unit of work
            self._queue.appendleft(batch.again())
        else:
            error = f"worker died twice (last exit code {code})" if why == "died" else why
            self._done += self._settle(batch, None, error, self.node, timed_out=why != "died")

    def _again(self, batch: Batch) -> None:
        self._queue.appendleft(batch)

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
                        results = w.conn.recv()
                    except (EOFError, OSError):
                        self._lost(w, "died")
                        continue
                    assert w.job is not None
                    self._done += self._settle(w.job, results, node=self.node)
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


def _batch(unit: Job | Batch) -> Batch:
    return unit if isinstance(unit, Batch) else Batch((unit,))


def _ray_run(batch: Batch, device: str | None) -> tuple[str, list[JobResult]]:
    import ray
    import torch

    from actlab.train import place_worker

    torch.set_num_threads(1)
    place_worker(0, device)  # Ray gives a GPU task its own CUDA_VISIBLE_DEVICES: "cuda" is that GPU
    return ray.get_runtime_context().get_node_id(), run_batch(batch)


class RayExecutor(Executor):
    """Units as Ray tasks (``num_cpus=1``, and a share of a GPU on CUDA). With populations (``population`` > 1) and no
    ``workers`` given, the slots are the cluster's GPUs and each population asks for a whole one, so a cluster of GPU
    nodes trains one population per GPU. Ray retries a task once if its worker or its node dies; the retry runs on
    any node that is left, with every member of its population."""

    def __init__(self, address: str, workers: int | None = None, device: str | None = None,
                 population: int = 1) -> None:
        try:
            import ray
        except ImportError as e:  # pragma: no cover - depends on the install
            raise RuntimeError("--ray-address needs Ray: pip install 'actlab[ray]'") from e
        self._ray = ray
        if not ray.is_initialized():
            ray.init(address=address, include_dashboard=False, log_to_driver=False)
        cpus = int(ray.cluster_resources().get("CPU", 1))
        self.slots = max(1, workers or cpus)
        self.device = device
        opts: dict[str, Any] = {"num_cpus": 1, "max_retries": 1}
        if device and device.strip().lower().startswith("cuda"):
            gpus = float(ray.cluster_resources().get("GPU", 0))
            if not gpus:
                raise ValueError(f"device {device!r} requested but the Ray cluster has no GPUs")
            if population > 1 and workers is None:  # a population fills its GPU: one per GPU of the cluster
                self.slots = max(1, int(gpus))
            opts["num_gpus"] = min(1.0, gpus / self.slots)  # several trials share a GPU when slots > GPUs
        self.options = opts  # what each task asks of the cluster
        self._remote = ray.remote(**opts)(_ray_run)
        self._refs: dict[Any, tuple[Batch, float]] = {}
        # Jobs beyond the slots wait here, not in Ray's queue: a job's timeout runs from its dispatch, as in the
        # local pool, so a final stage that submits every evaluation at once times none out for waiting.
        self._queue: list[Batch] = []

    def submit(self, job: Job | Batch) -> None:
        self._queue.append(_batch(job))
        self._dispatch()

    def _dispatch(self) -> None:
        while self._queue and len(self._refs) < self.slots:
            job = self._queue.pop(0)
            self._refs[self._remote.remote(job, self.device)] = (job, time.monotonic())

    def busy(self) -> int:
        return len(self._refs) + len(self._queue)

    def poll(self, timeout: float) -> list[Outcome]:
        out = self._poll(timeout)
        self._dispatch()
        return out

    def _poll(self, timeout: float) -> list[Outcome]:
        ray = self._ray
        out: list[Outcome] = []
        if not self._refs:
            return out
        ready, _ = ray.wait(list(self._refs), num_returns=1, timeout=timeout)
        if ready:
            ready, _ = ray.wait(list(self._refs), num_returns=len(self._refs), timeout=0)
        for ref in ready:
            batch, _ = self._refs.pop(ref)
            try:
                node, results = ray.get(ref)
                out += self._settle(batch, results, node=node)
            except Exception as e:  # WorkerCrashedError after the retry, or a lost node
                out += self._settle(batch, None, f"ray worker failed twice: {type(e).__name__}: {str(e)[:200]}")
        now = time.monotonic()
        for ref, (batch, started) in list(self._refs.items()):
            if batch.timeout and now - started > batch.timeout + KILL_GRACE:
                ray.cancel(ref, force=True)
                del self._refs[ref]
                out += self._settle(batch, None, f"timeout: cancelled after {batch.timeout:g} s", timed_out=True)
        return out

    def _again(self, batch: Batch) -> None:
        self._queue.insert(0, batch)


def make_executor(workers: int | None = None, ray_address: str | None = None,
                  device: str | None = None, population: int = 1) -> Executor:
    """The local pool, or Ray when ``ray_address`` is given (``auto`` or ``HOST:PORT``); ``device`` places the
    workers (None: each task's own device)."""
    if ray_address:
        return RayExecutor(ray_address, workers, device, population)
    return LocalExecutor(workers, device=device)
