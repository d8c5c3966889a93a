"""Studies: storage, the attributes each trial carries, and recovery after a driver died.

Every trial stores (user attrs) its ``expression``, ``identity`` (the dedupe key: a numeric fingerprint of the
function), ``canonical`` (sympy) form, ``per_seed`` results, ``cost``, ``properties`` and ``failure`` reason.
Trials that were never trained carry ``skipped`` (prefilter reason) or ``duplicate_of`` (the trial number whose
result they copy), so that "evaluated" has one definition (:func:`evaluated`) that the strategies, the dedupe
check and the leaderboard all share.
"""

from __future__ import annotations

import os
import re
import socket
import time
from pathlib import Path
from typing import Any, Iterable

import optuna
from optuna.trial import FrozenTrial, Trial, TrialState

from ._records import Attr

__all__ = ["storage_url", "view_url", "mask_url", "normalise_url", "StorageError", "open_study", "driver_id", "claim",
           "recover_stale", "requeue", "requeue_all", "evaluated", "is_evaluated", "scalar", "seen_identities",
           "heartbeat", "RUNS_DIR", "MEMORY"]

RUNS_DIR = Path("runs")
#: ``storage=MEMORY`` keeps a study in this process (optuna's InMemoryStorage): no file, no resume.
MEMORY = ":memory:"
# How long a final-stage claim waits for a lower trial's key to be written (it is written right after the ask).
_CLAIM_WAIT = 5.0
# A driver on another host counts as dead when its heartbeat is older than this.
GRACE_SECONDS = 600.0


class StorageError(ValueError):
    """The study's database cannot be opened; the message names the URL with its password masked."""


def mask_url(url: str) -> str:
    """``url`` with its password replaced by ``***`` (for everything printed, logged or stored)."""
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # not a URL SQLAlchemy parses: mask anything between "user:" and "@" by hand
        return re.sub(r"(//[^/:@]*:)[^@/]*@", r"\1***@", url)


def normalise_url(url: str) -> str:
    """Plain ``postgresql://`` (or ``postgres://``) URLs get a driver that is installed.

    SQLAlchemy 2.1 maps them to psycopg 3; when only psycopg2 is installed they would fail with "Failed to import
    DB access module", so they are rewritten to ``postgresql+psycopg2://``.
    """
    m = re.match(r"^(postgresql|postgres)://", url)
    if not m:
        return url
    import importlib.util

    for module, dialect in (("psycopg", "psycopg"), ("psycopg2", "psycopg2")):
        if importlib.util.find_spec(module) is not None:
            return f"postgresql+{dialect}://" + url[m.end():]
    return url  # neither: SQLAlchemy's own error names the missing module


def storage_url(study: str, storage: str | None = None, runs_dir: Path | str | None = None) -> str:
    """``storage`` as given (PostgreSQL URLs normalised), or the default SQLite file ``runs/<study>.db``;
    ``":memory:"``: this process only."""
    if storage == MEMORY:
        return MEMORY
    if storage:
        if "://" not in storage:
            path = Path(storage)
            _make_dir(path.parent)
            return f"sqlite:///{path}"
        return normalise_url(storage)
    d = Path(runs_dir) if runs_dir is not None else RUNS_DIR
    _make_dir(d)
    return f"sqlite:///{d / (study + '.db')}"


def _make_dir(d: Path) -> None:
    try:
        d.mkdir(parents=True, exist_ok=True)
    except OSError as e:  # a read-only working directory: one line that says what to do, not a traceback
        raise StorageError(f"cannot create the study directory {str(d)!r} ({e.strerror}); run from a writable "
                           f"directory or pass --storage PATH") from None


def view_url(study: str, storage: str | None = None, runs_dir: Path | str | None = None) -> str:
    """The URL to *read* a stored study with (``actlab show``, ``report``, ``export``): nothing is created.

    A SQLite file must exist (else a one-line error listing the studies that do) and opens read-only, and immutable
    where its directory cannot be written (a read-only file system: SQLite could not even make its lock files).
    A server URL is returned as :func:`storage_url` would.
    """
    if storage == MEMORY:
        raise ValueError("a study in memory (storage ':memory:') lives only in the process that ran it")
    if storage and "://" in storage and not storage.startswith("sqlite:///"):
        return normalise_url(storage)
    if storage:
        path = Path(storage[len("sqlite:///"):] if storage.startswith("sqlite:///") else storage)
    else:
        path = Path(runs_dir if runs_dir is not None else RUNS_DIR) / f"{study}.db"
    if not path.is_file():
        import difflib

        there = sorted(p.stem for p in path.parent.glob("*.db")) if path.parent.is_dir() else []
        close = difflib.get_close_matches(study, there, n=3, cutoff=0.3)
        hint = (f"; studies in {path.parent}: {', '.join(close or there[:8])}" if there
                else f"; {path.parent} holds no study")
        raise FileNotFoundError(f"no study database {path}{hint} (or pass --storage URL)")
    flags = "mode=ro" + ("" if os.access(path.parent, os.W_OK) else "&immutable=1")
    return f"sqlite:///file:{path.resolve()}?{flags}&uri=true"


def open_study(name: str, url: str, directions: list[str], sampler: optuna.samplers.BaseSampler | None = None,
               pruner: optuna.pruners.BasePruner | None = None, config: dict[str, Any] | None = None,
               create: bool = True) -> optuna.Study:
    """Create or resume a study; refuse to resume one created with a different protocol."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = _storage(url)
    if not create:
        try:
            return optuna.load_study(study_name=name, storage=storage, sampler=sampler, pruner=pruner)
        except KeyError:
            names = [s.study_name for s in optuna.get_all_study_summaries(storage)]
            import difflib

            close = difflib.get_close_matches(name, names, n=3, cutoff=0.3)
            raise KeyError(f"no study {name!r} in {mask_url(url)}; closest: {close or names[:5]}") from None
    for attempt in range(_RACE_ATTEMPTS):
        # Drivers creating one new study at once: on a loaded machine SQLite can fail the loser's commit. With
        # load_if_exists the call is idempotent, so it is retried (after a short wait) and the last error re-raised.
        try:
            study = optuna.create_study(study_name=name, storage=storage, sampler=sampler, pruner=pruner,
                                        directions=directions, load_if_exists=True)  # type: ignore[arg-type]
            break
        except optuna.exceptions.StorageInternalError:
            if attempt == _RACE_ATTEMPTS - 1:
                raise
            time.sleep(0.05 * (attempt + 1))
    if [d.name.lower() for d in study.directions] != [d.lower() for d in directions]:
        raise ValueError(f"study {name!r} exists with objectives {[d.name for d in study.directions]}; "
                         f"use another --study name for {directions}")
    if config is not None:
        old = study.user_attrs.get(Attr.CONFIG)
        if old is None:
            study.set_user_attr(Attr.CONFIG, config)
        else:
            # A key the study predates is not compared (a study made before racing existed raced no seeds).
            diff = {k: (old.get(k), v) for k, v in config.items()
                    if k in _PROTOCOL_KEYS and k in old and old.get(k) != v}
            if diff:
                raise ValueError(f"study {name!r} was run with a different protocol {diff} (old, new); "
                                 f"resume with the same options or choose another --study")
    return study


# What makes two records comparable: race_seeds too, since a raced candidate's value is the median over more seeds.
_PROTOCOL_KEYS = ("task", "space", "seeds", "race_seeds", "steps", "objective", "metric", "attack", "eps", "norm")


# What the loser of a race to create a new database's schema sees, by backend: optuna's CREATE TABLE / CREATE TYPE
# (SQLite, PostgreSQL) or its alembic version stamp (SQLite's UNIQUE, PostgreSQL's duplicate key).
_SCHEMA_RACE = ("already exists", "unique constraint failed", "duplicate key value")
_RACE_ATTEMPTS = 8


def _rdb(url: str, **kwargs: Any) -> optuna.storages.RDBStorage:
    # Two drivers (or a driver and `actlab show`) opening a new database at once both create optuna's schema; the
    # loser fails although the schema is then complete, and opening it again succeeds. Any other error is the
    # database's or the URL's, and becomes one line naming the (masked) URL.
    import random

    import sqlalchemy.exc

    for attempt in range(_RACE_ATTEMPTS):
        try:
            return optuna.storages.RDBStorage(url, **kwargs)
        except sqlalchemy.exc.DBAPIError as e:
            text = str(e).lower()
            if any(k in text for k in _SCHEMA_RACE) and attempt < _RACE_ATTEMPTS - 1:
                time.sleep(random.uniform(0.05, 0.2) * (attempt + 1))
                continue
            if isinstance(e, sqlalchemy.exc.OperationalError) and "already exists" not in text:
                raise StorageError(f"cannot open storage {mask_url(url)}: {_first_line(e.orig or e)}") from None
            raise
        except (sqlalchemy.exc.ArgumentError, sqlalchemy.exc.NoSuchModuleError, ImportError) as e:
            raise StorageError(f"cannot open storage {mask_url(url)}: {_first_line(e)}") from None
    raise AssertionError("unreachable")


def _first_line(e: BaseException) -> str:
    lines = [ln.strip() for ln in str(e).splitlines() if ln.strip()]
    return f"{type(e).__name__}: {lines[0] if lines else ''}"[:300]


def _storage(url: str) -> optuna.storages.BaseStorage:
    if url == MEMORY:  # replays against a table and tests: nothing to resume, so nothing written
        return optuna.storages.InMemoryStorage()
    if not url.startswith("sqlite"):
        return _rdb(url)
    if "mode=ro" in url:  # view_url: no pragma and no write lock, which a read-only connection cannot take
        return _rdb(url, engine_kwargs={"connect_args": {"timeout": 60}})
    # SQLite: write-ahead log with synchronous=NORMAL. A commit then costs no fsync (the driver commits a dozen
    # times per trial; at ~15 ms per fsync that was most of its time), and it still survives a killed process,
    # which is the failure the resume guarantee covers (an OS crash may lose the last commits).
    # The timeout makes `actlab show` wait for the lock instead of failing while a search writes.
    from sqlalchemy import event

    storage = _rdb(url, engine_kwargs={"connect_args": {"timeout": 60}})

    def pragmas(conn: Any, _record: Any) -> None:
        cur = conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()
        conn.isolation_level = None  # SQLAlchemy, not the sqlite3 module, begins transactions (next listener)

    def begin(conn: Any) -> None:
        # Take the write lock when a transaction starts, not at its first write. Optuna reads a WAITING trial and
        # then marks it RUNNING in one transaction; with SQLite's deferred BEGIN two drivers sharing the file both
        # read it as WAITING and both run it. (PostgreSQL locks the row: SELECT ... FOR UPDATE.)
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    event.listen(storage.engine, "connect", pragmas)
    event.listen(storage.engine, "begin", begin)
    storage.engine.dispose()  # connections opened during setup lack the pragmas
    return storage


def claim(study: optuna.Study, number: int, identity: str, me: str, attr: str = Attr.IDENTITY) -> int | None:
    """After driver ``me`` set ``identity`` (user attribute ``attr``: a function's identity in the search, an
    evaluation's key in the final stage) on its trial ``number``: the lower number of a trial that claimed the same
    first, if any (this trial then yields to it instead of training it again).

    Drivers sharing a study read the others' claims when they choose candidates, but two can choose the same
    function in the same moment. Both claims are written before either checks, so exactly one (the lower number)
    trains. While no other driver has a recent heartbeat, the check costs one read of the study's attributes.
    """
    now = time.time()
    if not any(k.startswith("heartbeat:") and k != f"heartbeat:{me}" and now - float(v) < GRACE_SECONDS
               for k, v in study.user_attrs.items()):
        return None
    deadline = time.monotonic() + _CLAIM_WAIT
    while True:
        unlabelled = False
        for t in study.get_trials(deepcopy=False):
            if t.number >= number or t.user_attrs.get(Attr.REQUEUED):
                continue
            if attr != Attr.IDENTITY and t.state == TrialState.RUNNING and attr not in t.user_attrs:
                unlabelled = True  # asked before this one, its key not written yet: it may be the same evaluation
                continue
            if t.user_attrs.get(attr) != identity:
                continue
            running = t.state == TrialState.RUNNING and Attr.DRIVER in t.user_attrs
            finished = is_evaluated(t) if attr == Attr.IDENTITY else t.state in (
                TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)
            if running or finished:
                return t.number
        # A lower trial whose key is not written yet decides nothing; it is written right after its ask, so wait
        # for it briefly (a dead driver's unlabelled trial stops mattering at the deadline).
        if not unlabelled or time.monotonic() > deadline:
            return None
        time.sleep(0.05)


def driver_id() -> str:
    """host:pid:start-time; the start time tells a reused pid from the driver that died."""
    return f"{socket.gethostname()}:{os.getpid()}:{_start_time(os.getpid())}"


def _start_time(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return "?"


def _alive(driver: str, heartbeats: dict[str, Any], now: float) -> bool:
    host, _, rest = driver.partition(":")
    pid_s, _, started = rest.partition(":")
    if host == socket.gethostname():
        try:
            pid = int(pid_s)
            os.kill(pid, 0)
        except (ValueError, ProcessLookupError):
            return False
        except PermissionError:
            return True
        return _start_time(pid) == started
    beat = heartbeats.get(f"heartbeat:{driver}")
    return beat is not None and now - float(beat) < GRACE_SECONDS


def heartbeat(study: optuna.Study, driver: str) -> None:
    study.set_user_attr(f"heartbeat:{driver}", time.time())


def recover_stale(study: optuna.Study, me: str) -> list[int]:
    """Fail the RUNNING trials of dead drivers and enqueue their candidates again; returns their numbers."""
    now = time.time()
    attrs = study.user_attrs
    # A trial a live driver has just asked for carries no "driver" attribute for a few milliseconds; while another
    # driver is alive, such a trial is its, unless it is old.
    others = any(_alive(k.split(":", 1)[1], attrs, now) for k in attrs
                 if k.startswith("heartbeat:") and k != f"heartbeat:{me}")
    requeued = []
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        owner = t.user_attrs.get(Attr.DRIVER)
        if owner == me or (owner is not None and _alive(owner, attrs, now)):
            continue
        if owner is None and others and t.datetime_start is not None and (
                now - t.datetime_start.timestamp() < GRACE_SECONDS):
            continue
        requeue(study, t, f"driver {owner} died while this trial ran; requeued")
        requeued.append(t.number)
    return requeued


def requeue(study: optuna.Study, t: FrozenTrial, reason: str) -> None:
    """Fail running trial ``t`` (not counted as evaluated) and enqueue its candidate again, so nothing is lost."""
    live = Trial(study, t._trial_id)
    live.set_user_attr(Attr.FAILURE, reason)
    live.set_user_attr(Attr.REQUEUED, True)
    study.tell(t.number, state=TrialState.FAIL, skip_if_finished=True)
    # The enqueued candidate is complete; the recorded params are not when the driver was killed between two
    # suggestions (or before the first), and re-asking with a partial set would let the sampler change the rest.
    params = {**t.params, **(t.system_attrs.get("fixed_params") or {})}
    if params:
        study.enqueue_trial(params, user_attrs={Attr.REQUEUED_FROM: t.number})


def requeue_all(study: optuna.Study, trials: Iterable[Trial], reason: str = "interrupted; requeued") -> None:
    """:func:`requeue` each live trial of ``study`` a driver holds (its in-flight evaluations when interrupted)."""
    for trial in list(trials):
        requeue(study, study._storage.get_trial(trial._trial_id), reason)


def is_evaluated(t: FrozenTrial) -> bool:
    """Whether a trial's candidate was actually trained (to its end, pruned or failing)."""
    a = t.user_attrs
    if Attr.DUPLICATE_OF in a or Attr.SKIPPED in a or a.get(Attr.REQUEUED):
        return False
    return t.state in (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL) and Attr.EXPRESSION in a


def evaluated(study: optuna.Study, trials: Iterable[FrozenTrial] | None = None) -> list[FrozenTrial]:
    ts = trials if trials is not None else study.get_trials(deepcopy=False)
    return [t for t in ts if is_evaluated(t)]


def seen_identities(trials: Iterable[FrozenTrial]) -> dict[str, int]:
    """identity -> trial number, for candidates evaluated or being evaluated (the dedupe set)."""
    seen: dict[str, int] = {}
    for t in trials:
        c = t.user_attrs.get(Attr.IDENTITY)
        if c is None or c in seen:
            continue
        if is_evaluated(t) or (t.state == TrialState.RUNNING and Attr.DRIVER in t.user_attrs):
            seen[c] = t.number
    return seen


def direction_sign(study: optuna.Study) -> int:
    """+1 when the study's first objective is maximised (accuracy), −1 when minimised (a loss)."""
    return 1 if study.directions[0] == optuna.study.StudyDirection.MAXIMIZE else -1


def scalar(t: FrozenTrial) -> float | None:
    """The value a strategy ranks by: the first objective if complete, else None (failed/pruned); its direction
    is the study's (:func:`direction_sign`)."""
    if t.state != TrialState.COMPLETE or not t.values:
        return None
    return float(t.values[0])
