"""Tabular benchmarks: every distinct, prefiltered 1-unit function trained once per seed under one protocol.

``actlab bench table`` is an exhaustive study on the search engine (so an interrupted build resumes where it
stopped, and finished functions are never retrained) plus the zoo baselines, trained by the engine's fidelity stage
under the identical protocol. The study is exported to ``NAME.csv.gz`` (one row per function and seed) and
``NAME.json`` (the protocol sidecar). Every row reproduces exactly with
``actlab.evaluate(row.expression, task=p["task"], seeds=[row.seed], steps=p["steps"], metric="val_acc")``: the table,
the search and ``evaluate`` train through :func:`actlab.models.candidate_act`.

A strategy replays against a table in milliseconds per trial (:mod:`actlab.bench.replay`).
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import math
import platform
import statistics
import subprocess
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

__all__ = ["ORDERS", "SPACES", "STATUSES", "Function", "Table", "TableRow", "build", "export", "load", "merge",
           "sidecar_path", "write_rows"]

#: Row statuses: trained to the end, non-finite loss (chance accuracy), or the job failed (timeout, exception).
STATUSES = ("ok", "diverged", "failed")
#: ``order`` -> the strategy that proposes the functions: simplest first (a ``limit`` then takes the simplest)
#: or a uniform random order (a ``limit`` then takes an unbiased sample).
ORDERS = {"simplest": "exhaustive", "random": "random"}
_SUFFIX = ".csv.gz"
#: The spaces a table covers: the 1-unit space, or the same functions as gates f of f(g)·a.
SPACES = ("1", "gated")
#: Protocol keys two tables must share to be merged (or for one to extend the other): the rows must be comparable.
SAME_PROTOCOL = ("task", "steps", "seeds", "space", "baseline_seeds", "baselines", "trains_with")


@dataclass
class TableRow:
    """One (function, seed) training of a table."""

    kind: str                 # "candidate" (a function of the space) or "baseline" (a zoo activation)
    expression: str           # the expression text, or the baseline's registry name
    fingerprint: str          # actlab.expr.fingerprint of the expression (the search's identity); "" for baselines
    seed: int
    val_acc: float
    test_acc: float
    train_loss: float         # final training loss
    status: str               # one of STATUSES
    seconds: float            # wall time of this training
    # Cross-entropy per prediction (nats) on the validation and test splits: the lower-is-better metrics (val_loss,
    # test_loss of actlab.train.METRICS). Optional columns: tables built before they existed read back as NaN.
    val_loss: float = math.nan
    test_loss: float = math.nan


@dataclass
class Function:
    """A function of the table with its per-seed rows; ``mean_val`` (or :meth:`score` for another metric) ranks it,
    a failed seed counting as the metric's worst value (0 accuracy, an infinite loss)."""

    expression: str
    fingerprint: str
    kind: str
    rows: list[TableRow] = field(default_factory=list)

    @property
    def val(self) -> list[float]:
        return [r.val_acc if r.status != "failed" and math.isfinite(r.val_acc) else 0.0 for r in self.rows]

    @property
    def mean_val(self) -> float:
        return self.score("val_acc") if self.rows else 0.0

    @property
    def mean_test(self) -> float:
        t = [r.test_acc for r in self.rows if math.isfinite(r.test_acc)]
        return statistics.fmean(t) if t else math.nan

    def score(self, metric: str = "val_acc") -> float:
        """The mean of ``metric`` (:data:`actlab.train.METRICS`) over the seeds; a failed or unmeasured seed counts
        as its worst value. A test metric is the mean over the seeds that have it (NaN if none)."""
        from actlab.train import get_metric

        m = get_metric(metric)
        vals = [m.value(r) if r.status != "failed" else math.nan for r in self.rows]
        if m.name.startswith("test_"):
            kept = [v for v in vals if math.isfinite(v)]
            return statistics.fmean(kept) if kept else math.nan
        return statistics.fmean(v if math.isfinite(v) else m.worst for v in vals) if vals else m.worst


@dataclass
class Table:
    """A loaded table: the protocol sidecar and the rows."""

    path: str
    protocol: dict[str, Any]
    rows: list[TableRow]

    def activation(self, row: TableRow) -> str:
        """What :func:`actlab.evaluate` takes to train ``row`` again: its expression or baseline name, and a gated
        table's candidate as the gate of ``glu(f)``."""
        gate = row.kind == "candidate" and str(self.protocol.get("space")) == "gated"
        return f"glu({row.expression})" if gate else row.expression

    def require(self, metric: str) -> None:
        """Raise (one line) unless every row trained to its end measured ``metric``: a table built before losses
        were recorded cannot be ranked by one, and counting its rows as the worst value would hide that. (A seed
        never trained because an earlier one diverged has no values, and counts as the worst.)"""
        from actlab.train import get_metric

        m = get_metric(metric)
        missing = sum(1 for r in self.rows if r.status == "ok" and not math.isfinite(m.value(r)))
        if missing:
            raise ValueError(f"{self.path}: {missing} of {len(self.rows)} rows have no {m.name} (built before it was "
                             f"recorded?); rebuild the table to rank by it")

    def functions(self, kind: str = "candidate") -> dict[str, Function]:
        """Functions of ``kind`` keyed by fingerprint (candidates) or by name (baselines), in table order."""
        out: dict[str, Function] = {}
        for r in self.rows:
            if r.kind != kind:
                continue
            key = r.fingerprint if kind == "candidate" else r.expression
            out.setdefault(key, Function(r.expression, r.fingerprint, kind)).rows.append(r)
        return out


def sidecar_path(out: str | Path) -> Path:
    """``NAME.json`` beside ``NAME.csv.gz``."""
    p = Path(out)
    return p.with_name(p.name[: -len(_SUFFIX)] + ".json") if p.name.endswith(_SUFFIX) else p.with_suffix(".json")


def _check_out(out: str | Path) -> Path:
    p = Path(out)
    if not p.name.endswith(_SUFFIX):
        raise ValueError(f"the table file must end in {_SUFFIX}, got {p.name!r}")
    return p


def _commit() -> str:
    here = Path(__file__).resolve().parent
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=10,
                             check=False)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=here,
                               capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    if sha.returncode != 0:
        return "unknown"
    return sha.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")


def _config(task: str, steps: int | None, seeds: int, limit: int | None, order: str, workers: int | None,
            baselines: tuple[str, ...], runs_dir: str, study: str, timeout: float,
            population: int | str = 1, space: str = "1") -> Any:
    from actlab.search import SearchConfig

    if order not in ORDERS:
        raise ValueError(f"order must be one of {sorted(ORDERS)}, got {order!r}")
    if limit is not None and limit < 1:
        raise ValueError(f"limit must be >= 1 function, got {limit}")
    if str(space).strip().lower() not in SPACES:
        raise ValueError(f"a table covers the 1-unit space or its gates: space must be {' or '.join(SPACES)}, got "
                         f"{space!r}")
    from actlab.train import get_task

    get_task(task)  # an unknown task fails here, in one line, before any worker starts
    # reeval_seeds == seeds and top_k = 0: the fidelity stage only trains the baselines, as many seeds as the
    # functions get. They are the final stage's fresh seeds (the sidecar's "baseline_seeds"); no check task.
    return SearchConfig(task=task, space=str(space).strip().lower(), seeds=seeds, steps=steps, strategy=ORDERS[order],
                        budget=limit if limit is not None else 10**9, pruner="none", top_k=0, reeval_seeds=seeds,
                        baselines=tuple(baselines), workers=workers, study=study, runs_dir=runs_dir,
                        analyse=False, timeout=timeout, check_task=None, race_seeds=0, population=population)


def build(out: str | Path, task: str = "mnist1d-cnn", steps: int | None = 1000, seeds: int = 2,
          limit: int | None = None, order: str = "simplest", workers: int | None = None,
          baselines: tuple[str, ...] | None = None, runs_dir: str = "runs", timeout: float = 600.0,
          exclude: tuple[str | Path, ...] = (),
          on_event: Callable[[str, dict[str, Any]], None] | None = None,
          population: int | str = 1, space: str = "1") -> Table:
    """Build (or resume) the table ``out`` (``NAME.csv.gz``) and its sidecar; returns the loaded table.

    Args:
        seeds: seeds 0..seeds-1 per function.
        limit: train at most this many functions (in ``order``); a later call with a larger limit (or none) extends
            the same study.
        order: ``"simplest"`` (the exhaustive order) or ``"random"`` (an unbiased sample when limited).
        baselines: zoo activations trained under the same protocol (default: the search's ``BASELINES``).
        runs_dir: where the resumable study lives (``runs/table-NAME.db``).
        exclude: tables (same protocol) whose functions this build skips: it trains the rest of the space, as a
            shard to :func:`merge` with them (another machine's share, or a build whose study was lost).
        population: functions each worker trains together (:func:`actlab.train.train_population`): the same rows
            as one at a time, each row's ``seconds`` its share of the population's time; ``"auto"`` probes it.
        space: ``"1"``, or ``"gated"``: every function f trained as the gate of f(g)·a (``glu(f)``) in the task's
            FFN, with the gated baselines (``GATED_BASELINES``) unless ``baselines`` says otherwise.
    """
    from actlab.search import BASELINES, make_space, run_search

    path = _check_out(out)
    name = path.name[: -len(_SUFFIX)]
    cfg = _config(task, steps, seeds, limit, order, workers, BASELINES if baselines is None else baselines,
                  runs_dir, f"table-{name}", timeout, population, space)
    skip: set[str] = set()
    for other in exclude:
        tab = load(other)
        _check_same(tab.path, tab.protocol, _protocol_of(cfg), keys=("task", "steps", "seeds", "space"))
        skip |= set(tab.functions())
    functions = make_space(cfg, exclude=skip)
    pool, counts = functions.enumerate()
    if limit is None:
        cfg.budget = len(pool)
    t0 = time.monotonic()
    res = run_search(cfg, functions, final=True, on_event=on_event)
    return export(res.study, res.storage, path, cfg, counts, time.monotonic() - t0)


def _rows_of_trial(t: Any, seeds: int) -> list[TableRow]:
    from optuna.trial import TrialState

    a = t.user_attrs
    per_seed = {int(s["seed"]): s for s in a.get("per_seed") or [] if "seed" in s}
    failed = t.state == TrialState.FAIL and not any(s.get("diverged") for s in per_seed.values())
    wall = float(a.get("wall") or 0.0)
    rows = []
    for seed in range(seeds):
        s = per_seed.get(seed)
        if s is None:  # the job failed, or stopped at an earlier seed that diverged
            status = "failed" if failed else "diverged"
            rows.append(TableRow("candidate", a["expression"], a.get("identity", ""), seed, math.nan, math.nan,
                                 math.nan, status, round(wall / seeds, 3) if failed else 0.0))
            continue
        rows.append(_row("candidate", a["expression"], a.get("identity", ""), seed, s))
    return rows


def _num(v: Any) -> float:
    return float(v) if v is not None else math.nan


def _row(kind: str, expression: str, fp: str, seed: int, s: dict[str, Any], failed: bool = False) -> TableRow:
    status = "failed" if failed else ("diverged" if s.get("diverged") else "ok")
    return TableRow(kind, expression, fp, seed, _num(s.get("val_acc")), _num(s.get("test_acc")),
                    _num(s.get("train_loss")), status, round(float(s.get("wall_time") or 0.0), 3),
                    _num(s.get("val_loss")), _num(s.get("test_loss")))


def export(study: str, storage: str, out: str | Path, cfg: Any, counts: dict[str, int] | None = None,
           seconds: float | None = None) -> Table:
    """Write the study ``study`` (and its fidelity stage's baselines) as the table ``out`` and its sidecar."""
    import optuna
    import torch

    import actlab
    from actlab.search import evaluated, final_name
    from actlab.train import cpu_signature

    path = _check_out(out)
    main = optuna.load_study(study_name=study, storage=storage)
    rows: list[TableRow] = []
    for t in sorted(evaluated(main), key=lambda t: t.number):
        rows += _rows_of_trial(t, cfg.seeds)
    try:
        final = optuna.load_study(study_name=final_name(study), storage=storage)
        base = [t for t in final.get_trials(deepcopy=False) if t.user_attrs.get("role") == "baseline"]
    except KeyError:
        base = []
    for t in sorted(base, key=lambda t: (cfg.baselines.index(t.user_attrs["act"])
                                         if t.user_attrs["act"] in cfg.baselines else 99, t.user_attrs["seed"])):
        if t.user_attrs.get("requeued") or t.state.name not in ("COMPLETE", "FAIL"):
            continue
        res = t.user_attrs.get("result") or {}
        rows.append(_row("baseline", t.user_attrs["act"], "", int(t.user_attrs["seed"]), res,
                         failed=t.state.name == "FAIL" and not res.get("diverged")))
    protocol = {
        **_protocol_of(cfg), "order": next(k for k, v in ORDERS.items() if v == cfg.strategy),
        "functions": len({r.fingerprint for r in rows if r.kind == "candidate"}), "space_counts": counts or {},
        "reproduce": f"actlab.evaluate({_REPRODUCED[cfg.gated]}, task=task, seeds=[seed], steps=steps, "
                     f"metric='val_acc') for a candidate (a baseline by its name), on a CPU whose "
                     f"actlab.train.cpu_signature() equals 'cpu'",
        "actlab_version": actlab.__version__, "git_commit": _commit(), "torch_version": torch.__version__,
        "cpu": cpu_signature(),
        "python": platform.python_version(), "study": study, "storage": storage,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        **({"build_seconds_this_run": round(seconds, 1)} if seconds is not None else {}),
    }
    return write_rows(path, rows, protocol)


# How a candidate row is trained again: as itself, or (a gated table) as the gate of glu(f).
_REPRODUCED = {False: "expression", True: "f'glu({expression})'"}


def _protocol_of(cfg: Any) -> dict[str, Any]:
    """The protocol keys a search config fixes (``SAME_PROTOCOL``)."""
    from actlab.search import fresh_seeds

    return {"task": cfg.task, "steps": cfg.steps, "seeds": list(range(cfg.seeds)),
            "space": "gated" if cfg.gated else cfg.units,
            "baseline_seeds": fresh_seeds(cfg.reeval_seeds), "baselines": list(cfg.baselines),
            "trains_with": "actlab.models.candidate_act (composite torch ops), 1 thread"}


def _check_same(name: str, got: dict[str, Any], want: dict[str, Any], keys: tuple[str, ...] = SAME_PROTOCOL) -> None:
    diff = [f"{k}: {got.get(k)!r} != {want.get(k)!r}" for k in keys if got.get(k) != want.get(k)]
    if diff:
        raise ValueError(f"{name} was built under another protocol ({'; '.join(diff)})")


def merge(paths: list[str | Path], out: str | Path, mixed_hardware: bool = False) -> Table:
    """One table from shards built under one protocol (e.g. with ``build(exclude=...)``), written to ``out``.

    A (function, seed) present in several shards must hold the same values in each, since training is
    deterministic: the baselines, which every shard trains, check that the shards reproduce one another. That holds
    on one kind of CPU only (:func:`actlab.train.cpu_signature`), so shards from different or unrecorded CPUs are
    refused unless ``mixed_hardware``; the merge then keeps the first shard's row of a (function, seed) and records
    every disagreement in the sidecar (``"disagreements"``), and each shard's rows reproduce on its own CPU.
    """
    if len(paths) < 2:
        raise ValueError(f"merge needs at least two tables, got {len(paths)}")
    tabs = [load(p) for p in paths]
    for t in tabs[1:]:
        _check_same(t.path, t.protocol, tabs[0].protocol)
    cpus = [t.protocol.get("cpu") for t in tabs]
    if not mixed_hardware and (None in cpus or any(c != cpus[0] for c in cpus)):
        raise ValueError("the shards were trained on different or unrecorded CPUs "
                         f"({', '.join(f'{Path(t.path).name}: {c}' for t, c in zip(tabs, cpus, strict=True))}), "
                         "so their rows do not reproduce on one machine; merge them with mixed_hardware")
    rows: dict[tuple[str, str, int], TableRow] = {}
    disagree: list[dict[str, Any]] = []
    for t in tabs:
        for r in t.rows:
            key = (r.kind, r.fingerprint or r.expression, r.seed)
            old = rows.setdefault(key, r)
            if old is r or (old.status, repr(old.val_acc), repr(old.test_acc)) == \
                    (r.status, repr(r.val_acc), repr(r.test_acc)):
                continue
            if not mixed_hardware:
                raise ValueError(f"{r.kind} {r.expression!r} seed {r.seed} differs between shards "
                                 f"(val_acc {old.val_acc!r} vs {r.val_acc!r} in {t.path}): they do not reproduce")
            disagree.append({"kind": r.kind, "expression": r.expression, "seed": r.seed, "kept_val_acc": old.val_acc,
                             "other_val_acc": r.val_acc, "other_table": Path(t.path).name})
    merged = sorted(rows.values(), key=lambda r: r.kind != "candidate")  # candidates, then baselines (stable)
    counts = dict(tabs[0].protocol.get("space_counts") or {})
    if "excluded" in counts:  # a shard's counts: its survivors plus those it left to the other shards
        counts["survivors"] = counts.get("survivors", 0) + counts.pop("excluded")
    protocol = {**tabs[0].protocol, "functions": len({r.fingerprint for r in merged if r.kind == "candidate"}),
                "space_counts": counts, "git_commit": sorted({str(t.protocol.get("git_commit")) for t in tabs}),
                "cpu": cpus[0] if not mixed_hardware else "mixed: see merged_from",
                "merged_from": [{"table": Path(t.path).name, **{k: t.protocol.get(k) for k in
                                 ("functions", "cpu", "git_commit", "storage", "created", "build_seconds_this_run")}}
                                for t in tabs],
                **({"disagreements": disagree} if mixed_hardware else {}),
                "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    protocol.pop("build_seconds_this_run", None)
    return write_rows(out, merged, protocol)


def load(path: str | Path) -> Table:
    """Read a table and its sidecar; a missing or malformed file is a one-line error."""
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"no table {str(p)!r}")
    side = sidecar_path(p)
    protocol = json.loads(side.read_text()) if side.exists() else {}
    names = [f.name for f in fields(TableRow) if f.name not in _OPTIONAL]
    with gzip.open(p, "rt") as f:
        reader = csv.DictReader(f)
        missing = [n for n in names if n not in (reader.fieldnames or [])]
        if missing:
            raise ValueError(f"{p.name} is not an actlab table: it lacks the columns {missing}")
        rows = [TableRow(r["kind"], r["expression"], r["fingerprint"], int(r["seed"]), _f(r["val_acc"]),
                         _f(r["test_acc"]), _f(r["train_loss"]), r["status"], _f(r["seconds"]),
                         _f(r.get("val_loss") or ""), _f(r.get("test_loss") or "")) for r in reader]
    return Table(str(p), protocol, rows)


_OPTIONAL = ("val_loss", "test_loss")  # columns added after the first tables were published


def _f(text: str) -> float:
    return float(text) if text != "" else math.nan


def write_rows(path: str | Path, rows: list[TableRow], protocol: dict[str, Any]) -> Table:
    """Write ``rows`` and ``protocol`` as a table (used for synthetic tables, e.g. in tests)."""
    p = _check_out(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    names = [f.name for f in fields(TableRow)]
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(names)
    for r in rows:  # floats as repr: they read back exactly, which the reproducibility check relies on
        d = asdict(r)
        w.writerow(["" if isinstance(d[n], float) and math.isnan(d[n]) else d[n] for n in names])
    with gzip.GzipFile(p, "wb", mtime=0) as f:
        f.write(buf.getvalue().encode())
    sidecar_path(p).write_text(json.dumps(protocol, indent=1) + "\n")
    return Table(str(p), protocol, rows)
