"""Scale-out on real engines on this machine: shared PostgreSQL and SQLite studies with several drivers, storage
URLs and credentials, a real multi-node Ray cluster, and where each trial ran."""

from __future__ import annotations

import io
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from actlab.search import SearchConfig
from actlab.search._engine import Driver
from actlab.search._study import StorageError, evaluated, mask_url, normalise_url, open_study
from tests.search._fakes import FakeSpace, fake_config
from tests.search._pg import need_pg

ROOT = Path(__file__).resolve().parents[2]
SECRET = ":actlab@"  # user:password@ of the URL .ci/start-postgres writes






def _plain(url: str) -> str:
    """The URL as users write it: postgresql:// with no driver."""
    return "postgresql://" + url.split("://", 1)[1]


def _check_shared_study(url: str, name: str, drivers: int) -> None:
    study = optuna.load_study(study_name=name, storage=url)
    done = evaluated(study)
    ids = [t.user_attrs["identity"] for t in done]
    assert len(ids) == len(set(ids)), "a function was trained twice"
    assert not [t for t in study.trials if t.state in (TrialState.RUNNING, TrialState.WAITING)], "a trial was lost"
    assert all(t.state == TrialState.COMPLETE for t in done)
    owners = {t.user_attrs["driver"] for t in study.trials}
    assert len(owners) == drivers and len(done) >= 4


def _race(url: str, name: str, drivers: int = 3, budget: int = 4, final: bool = False,
          populations: tuple[int, ...] = (1,)) -> None:
    """``drivers`` driver processes on one study; driver i trains ``populations[i % len]`` candidates at a time."""
    start = time.time() + 8.0  # after every process has imported torch and optuna
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    procs = [subprocess.Popen([sys.executable, "-m", "tests.search._drivers", url, name, str(budget), str(start),
                               str(populations[i % len(populations)]), *(["final"] if final else [])],
                              cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True) for i in range(drivers)]
    errs = [p.communicate(timeout=180)[1] for p in procs]
    for p, err in zip(procs, errs, strict=True):
        assert p.returncode == 0, err[-2000:]


@pytest.fixture
def fresh_pg_database():
    """A new, empty PostgreSQL database (no optuna schema yet), dropped afterwards; yields its plain URL."""
    import sqlalchemy
    from sqlalchemy.engine import make_url

    base = make_url(normalise_url(need_pg()))
    name = f"actlab_race_{os.getpid()}_{int(time.time())}"
    admin = sqlalchemy.create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(sqlalchemy.text(f'CREATE DATABASE "{name}"'))
    try:
        yield _plain(base.set(database=name).render_as_string(hide_password=False))
    finally:
        with admin.connect() as c:
            c.execute(sqlalchemy.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.mark.slow
def test_drivers_share_a_new_postgres_study(fresh_pg_database: str) -> None:
    """Three drivers start together on a new database through a plain postgresql:// URL: none crashes creating the
    schema (CREATE TYPE studydirection ... already exists), no function is trained twice and no trial is lost."""
    url = fresh_pg_database
    _race(url, "shared")
    _check_shared_study(normalise_url(url), "shared", 3)


@pytest.mark.slow
def test_drivers_share_a_new_sqlite_study(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'race.db'}"
    _race(url, "race")
    _check_shared_study(url, "race", 3)


def test_three_drivers_share_the_final_stage_and_train_nothing_twice(tmp_path: Path) -> None:
    _check_shared_final(f"sqlite:///{tmp_path / 'final.db'}")


@pytest.mark.slow
def test_three_drivers_share_the_final_stage_on_postgres(fresh_pg_database: str) -> None:
    _check_shared_final(fresh_pg_database)


def _check_shared_final(url: str) -> None:
    # one driver trains alone, two in populations (of 2 and 3): a population is claimed member by member
    _race(url, "fin", final=True, populations=(1, 2, 3))
    final = optuna.load_study(study_name="fin:final", storage=normalise_url(url))
    evals = [t for t in final.trials if not t.user_attrs.get("requeued")]
    keys = [t.user_attrs["key"] for t in evals]
    assert len(keys) == len(set(keys)), "a final-stage evaluation was trained twice"
    assert all(t.state in (TrialState.COMPLETE, TrialState.FAIL) for t in final.trials), "an evaluation was lost"
    # every driver's plan is covered: the top 2 and the baseline on 2 fresh seeds, on both tasks
    roles = {(t.user_attrs["role"], t.user_attrs["task"]) for t in evals}
    assert {r for r, _ in roles} == {"top", "baseline", "check"} and len(keys) >= (2 + 1) * 2 * 2
    # (which driver ran which evaluation depends on timing: one that finishes its search first may run them all
    # while the others wait; the guarantee is that none is trained twice and none is lost)


def test_storage_urls_are_normalised_and_masked() -> None:
    assert normalise_url("postgresql://u:p@h/db").startswith(("postgresql+psycopg2://", "postgresql+psycopg://"))
    assert normalise_url("postgres://u:p@h/db").endswith("://u:p@h/db")
    assert normalise_url("postgresql+psycopg2://u:p@h/db") == "postgresql+psycopg2://u:p@h/db"
    assert normalise_url("sqlite:///x.db") == "sqlite:///x.db"
    assert mask_url("postgresql://alice:s3cr%40t@h:5432/db") == "postgresql://alice:***@h:5432/db"
    assert mask_url("sqlite:///runs/x.db") == "sqlite:///runs/x.db"


@pytest.mark.parametrize("url, why", [
    ("postgresql://alice:s3cret@127.0.0.1:1/db", "OperationalError"),  # nothing listens on port 1
    ("postgresql+nodriver://alice:s3cret@127.0.0.1/db", "NoSuchModuleError"),
])
def test_unreachable_or_misconfigured_storage_is_one_masked_line(url: str, why: str) -> None:
    with pytest.raises(StorageError) as e:
        open_study("s", normalise_url(url), ["maximize"])
    msg = str(e.value)
    assert "\n" not in msg and "s3cret" not in msg and "alice:***@127.0.0.1" in msg and why in msg

    from typer.testing import CliRunner

    from actlab.cli import app

    res = CliRunner().invoke(app, ["search", "--storage", url, "--budget", "1", "--study", "s"])
    assert res.exit_code == 2 and "s3cret" not in res.output and "***" in res.output
    assert len(res.output.strip().splitlines()) == 1, res.output


def test_no_credentials_in_the_study_or_the_output() -> None:
    """The study stores the protocol but never the storage URL; what the search prints masks the password."""
    from rich.console import Console

    from actlab.search._run import RichProgress

    url = need_pg()
    assert SECRET in url
    name = f"actlab-secret-{os.getpid()}-{int(time.time())}"
    buf = io.StringIO()
    progress = RichProgress(console=Console(file=buf, width=200))
    cfg = fake_config(budget=2, storage=url, study=name)
    assert SECRET not in repr(cfg)
    try:
        Driver(cfg, FakeSpace(), on_event=progress).run()
        progress.close()
        study = optuna.load_study(study_name=name, storage=url)
        stored = json.dumps([study.user_attrs] + [t.user_attrs for t in study.trials])
        assert study.user_attrs["config"]["task"] == "fake" and "storage" not in study.user_attrs["config"]
        assert SECRET not in stored
        out = buf.getvalue()
        assert name in out and "***" in out and SECRET not in out
    finally:
        optuna.delete_study(study_name=name, storage=url)


def test_local_trials_record_the_hostname(tmp_path: Path) -> None:
    res = Driver(fake_config(budget=3, storage=str(tmp_path / "n.db"), study="n"), FakeSpace()).run()
    study = optuna.load_study(study_name="n", storage=res.storage)
    assert [t.user_attrs["node"] for t in evaluated(study)] == [socket.gethostname()] * 3


def test_unknown_tasks_fail_before_any_file_exists(tmp_path: Path) -> None:
    for task in ("nope", "no_such_pkg:T", "tests.train._usertasks:NOT_A_TASK"):
        with pytest.raises(KeyError):
            SearchConfig(task=task, runs_dir=str(tmp_path))
    assert not list(tmp_path.iterdir())
    cfg = SearchConfig(task="tests.train._usertasks:BLOBS", runs_dir=str(tmp_path))
    assert cfg.study_name() == "evolution-blobs-net-u1" and cfg.protocol()["task"] == "tests.train._usertasks:BLOBS"


@pytest.mark.slow
def test_ray_cluster_runs_user_tasks_and_survives_a_lost_node(tmp_path: Path, monkeypatch) -> None:
    """A real 2-node cluster: a user's custom evaluator (importable by spec) reaches the remote workers, every trial
    records its node, and killing a worker node mid-search loses no trial: its in-flight trials run again."""
    ray = pytest.importorskip("ray")
    from ray.cluster_utils import Cluster

    from actlab.search import make_space

    monkeypatch.delenv("RAY_ADDRESS", raising=False)  # Cluster sets it; undone after the test for the next ones
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    worker = cluster.add_node(num_cpus=1)
    cluster.wait_for_nodes()
    ray.init(address=cluster.address, include_dashboard=False, log_to_driver=False,
             runtime_env={"env_vars": {"PYTHONPATH": str(ROOT)}})
    try:
        cfg = SearchConfig(task="tests.train._usertasks:slow_relu_likeness", strategy="random", budget=10, seeds=1,
                           ray_address=cluster.address, storage=str(tmp_path / "r.db"), study="r", analyse=False,
                           pruner="none", runs_dir=str(tmp_path))
        killed: list[int] = []

        def on_event(kind: str, info: dict) -> None:
            if kind == "trial" and info["done"] == 3 and not killed:
                killed.append(info["done"])
                cluster.remove_node(worker)  # mid-search: a trial is in flight there

        Driver(cfg, make_space(cfg), on_event=on_event).run()
        study = optuna.load_study(study_name="r", storage=cfg.storage and f"sqlite:///{tmp_path / 'r.db'}")
        done = evaluated(study)
        assert killed and len(done) == 10 and all(t.state == TrialState.COMPLETE for t in done), \
            [(t.state, t.user_attrs.get("failure")) for t in done]
        nodes = [t.user_attrs["node"] for t in done]
        assert len(set(nodes)) == 2, nodes  # both nodes trained, and after the loss only the head
        assert nodes[-1] == cluster.head_node.node_id
        ids = [t.user_attrs["identity"] for t in done]
        assert len(ids) == len(set(ids))
    finally:
        ray.shutdown()
        cluster.shutdown()
