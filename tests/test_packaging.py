"""Packaging: a light core, extras that match actlab/_extras.py, a clean wheel, and imports that stay light."""

from __future__ import annotations

import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

from actlab._extras import _PIP_NAME, EXTRA_OF, MissingExtraError, require

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
HEAVY = ("optuna", "matplotlib", "scipy", "sklearn", "mnist1d", "sqlalchemy", "pandas", "ray", "typer", "rich")


def _names(reqs: list[str]) -> set[str]:
    import re

    return {re.split(r"[<>=!~\[; ]", r, maxsplit=1)[0].lower() for r in reqs}


def test_core_is_the_zoo_and_the_expression_language_with_torch_uncapped() -> None:
    deps = PYPROJECT["project"]["dependencies"]
    assert _names(deps) == {"torch", "numpy", "numba", "sympy", "filelock", "ninja"}
    torch = next(d for d in deps if d.startswith("torch"))
    assert "<" not in torch and ">=2.13" in torch


def test_every_optional_import_names_an_existing_extra() -> None:
    extras = PYPROJECT["project"]["optional-dependencies"]
    assert {"search", "report", "ray", "postgres", "dashboard", "all", "cli", "train"} <= set(extras)
    for module, extra in EXTRA_OF.items():
        assert extra == "" or extra in extras, (module, extra)
    for module, extra in EXTRA_OF.items():  # and that extra really installs it (pandas was in none: to_pandas failed)
        if extra:
            pip = _PIP_NAME.get(module, module)
            assert pip in _names(extras[extra]) or module in ("sqlalchemy",), (module, extra)
    # [all] pulls in every feature extra
    all_ = extras["all"][0]
    assert all(e in all_ for e in set(EXTRA_OF.values()) - {""}), all_


def test_a_missing_extra_is_one_line_naming_it(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "optuna", None)  # as if it were not installed
    with pytest.raises(MissingExtraError) as e:
        require("optuna", "actlab.search")
    msg = str(e.value)
    assert "\n" not in msg and "pip install 'actlab[search]'" in msg and "actlab.search" in msg


def test_import_actlab_and_expr_load_no_heavy_package() -> None:
    # numba itself imports scipy when it is installed, so "not loaded" is checked for the rest, and the light core
    # is checked by hiding every optional package, as in a venv with the core alone
    use = ("import sys, actlab, actlab.expr, torch\n"
           "m = torch.nn.Sequential(torch.nn.Linear(3, 4), actlab.get('isrlu')); m(torch.randn(2, 3))\n"
           "actlab.expr.parse('x * sigmoid(beta * x)').canonical()\n")
    report = f"print(sorted({{k.split('.')[0] for k in sys.modules}} & set({HEAVY!r}) - {{'scipy'}}))"
    hide = "import sys\n" + "".join(f"sys.modules[{m!r}] = None\n" for m in HEAVY)
    for code, want in ((use + report, "[]"), (hide + use + "print('ok')", "ok")):
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=ROOT)
        assert proc.returncode == 0, proc.stderr[-2000:]
        assert proc.stdout.strip() == want, proc.stdout


def test_kernels_import_without_fcntl() -> None:
    # imports only: with fcntl hidden on Linux, filelock falls back to a lock file that the real (flock) runs left
    # behind, so taking a lock here would wait; on Windows filelock uses msvcrt instead
    code = ("import sys; sys.modules['fcntl'] = None\n"
            "import actlab, actlab.expr; from actlab.kernels import _cachelock, _native\n"
            "_cachelock.install(); print(actlab.get('elu'))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-2000:]


@pytest.mark.slow
def test_the_wheel_builds_without_warnings_and_ships_its_data(tmp_path: Path) -> None:
    env = {k: v for k, v in __import__("os").environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w",
                           str(tmp_path), str(ROOT)], capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    log = (proc.stdout + proc.stderr).lower()
    assert "deprecat" not in log and "warning: " not in log.replace("warning: byte-compiling", ""), log[-3000:]
    (wheel,) = tmp_path.glob("actlab-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "actlab/py.typed" in names and "actlab/kernels/_native.cpp" in names
    assert any(n.endswith("licenses/LICENSE") for n in names)
    meta = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith("METADATA"))).decode()
    assert "License-Expression: MIT" in meta
