"""The docs site stays true: every page is in the nav, its Python examples run, its `actlab` commands exist.

A ```python block runs (blocks of one page share a namespace, in order) unless the line before it is
``<!-- docs-test: skip (reason) -->``. In ```bash blocks, every ``actlab ...`` line must name a real command
and only options that command has.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
PAGES = sorted(DOCS.glob("*.md"))
_BLOCK = re.compile(r"(?P<before>[^\n]*)\n```(?P<lang>\w*)[^\n]*\n(?P<code>.*?)\n```", re.S)


def _blocks(page: Path, lang: str) -> list[str]:
    text = "\n" + page.read_text()
    return [m["code"] for m in _BLOCK.finditer(text) if m["lang"] == lang and "docs-test: skip" not in m["before"]]


def test_every_page_is_in_the_nav() -> None:
    yml = (ROOT / "mkdocs.yml").read_text()
    missing = [p.name for p in PAGES if f" {p.name}" not in yml]
    assert not missing, f"pages missing from mkdocs.yml's nav: {missing}"


@pytest.mark.parametrize("page", [p for p in [*PAGES, ROOT / "README.md"] if _blocks(p, "python")],
                         ids=lambda p: p.stem)
def test_python_examples_run(page: Path, tmp_path: Path, monkeypatch) -> None:
    pytest.importorskip("matplotlib")
    monkeypatch.chdir(tmp_path)  # anything an example writes lands here
    namespace: dict = {"__name__": f"docs_{page.stem}"}
    for i, code in enumerate(_blocks(page, "python")):
        exec(compile(code, f"{page.name}[python block {i + 1}]", "exec"), namespace)  # noqa: S102


def _commands() -> dict[str, set[str]]:
    """``{"list": {"--json", ...}, "bench speed": {...}}`` from the real CLI."""
    import typer.main

    from actlab.cli import app

    out: dict[str, set[str]] = {}

    def walk(cmd: Any, prefix: str) -> None:  # click groups (typer may bring its own click), by duck typing
        if hasattr(cmd, "commands"):
            for name, sub in cmd.commands.items():
                walk(sub, f"{prefix} {name}".strip())
        else:
            out[prefix] = {o for p in cmd.params for o in (*p.opts, *p.secondary_opts) if o.startswith("-")}

    walk(typer.main.get_command(app), "")
    return out


def test_shell_examples_name_real_commands_and_options() -> None:
    pytest.importorskip("typer")
    commands = _commands()
    bad = []
    for page in PAGES:
        for code in _blocks(page, "bash"):
            for line in code.splitlines():
                line = line.split("  #")[0].strip()
                if not line.startswith("actlab ") or line in ("actlab --help", "actlab --version"):
                    continue
                words = shlex.split(line)[1:]
                name = " ".join(words[:2]) if " ".join(words[:2]) in commands else words[0]
                if name not in commands:
                    bad.append(f"{page.name}: unknown command in {line!r}")
                    continue
                opts = {w.split("=")[0] for w in words if w.startswith("--")}
                bad += [f"{page.name}: {name} has no {o} ({line!r})" for o in opts - commands[name] - {"--help"}]
    assert not bad, "\n".join(bad)
