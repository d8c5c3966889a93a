"""The layer arrows of docs/ARCHITECTURE.md hold: checked on every import statement of the package (ast).

The order is read from the architecture's diagram (``kernels ← activations ← … ← search``), so the doc and the test
cannot drift apart: a package imports only packages to its left; ``data`` feeds ``train``; bench, report and
cli sit on top; nothing imports cli; top-level private modules (``actlab/_x.py``) are leaves any layer may use;
the root package ``actlab`` (whose lazy attributes reach the harness) is imported only from the top. And nothing
imports another package's private module.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "actlab"
TOP = {"bench", "report", "cli"}


def _chain() -> list[str]:
    text = (ROOT / "docs" / "ARCHITECTURE.md").read_text()
    lines = [ln for ln in text.splitlines() if "←" in ln]
    assert lines, "docs/ARCHITECTURE.md lost its layer diagram (a line of `a ← b ← c`)"
    return [w.strip() for w in max(lines, key=lambda ln: ln.count("←")).split("←")]


def _ranks() -> dict[str, float]:
    chain = _chain()
    ranks: dict[str, float] = {name: float(i) for i, name in enumerate(chain)}
    if "train" in ranks:
        ranks["data"] = ranks["train"] - 0.5  # "data feeds train": below train
    for name in TOP:
        ranks[name] = 100.0
    return ranks


def _unit(module: str) -> str:
    """The layer a dotted module name belongs to: 'kernels', 'cli', 'leaf' (actlab/_x.py) or 'root' (actlab)."""
    parts = module.split(".")
    if len(parts) == 1:
        return "root"
    head = parts[1]
    if head in ("cli", "__main__"):
        return "cli"
    if head.startswith("_") and (PKG / f"{head}.py").exists():
        return "leaf"
    return head


def _module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _imports(path: Path) -> list[tuple[int, str]]:
    """(line, absolute module) of every import in ``path``, relative ones resolved; lazy ones included."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            if not mod.startswith("actlab"):
                continue
            # `from actlab import expr` imports the subpackage actlab.expr; `from .x import _y` a private module
            for a in node.names:
                sub = f"{mod}.{a.name}"
                is_module = (PKG.parent / sub.replace(".", "/")).with_suffix(".py").exists() or \
                    (PKG.parent / sub.replace(".", "/")).is_dir()
                out.append((node.lineno, sub if is_module else mod))
    return [(ln, m) for ln, m in out if m == "actlab" or m.startswith("actlab.")]


def violations() -> list[str]:
    ranks = _ranks()
    found: list[str] = []
    for path in sorted(PKG.rglob("*.py")):
        me = _module_name(path)
        mine = _unit(me)
        where = path.relative_to(ROOT)
        for line, target in _imports(path):
            theirs = _unit(target)
            if mine == "root":
                continue  # the package root re-exports the zoo and names its lazy attributes
            private = [p for p in target.split(".")[2:] if p.startswith("_") and not p.startswith("__")]
            if private and theirs != mine and theirs != "leaf":
                found.append(f"{where}:{line}: imports the private module {target} of {theirs}/")
            if theirs == mine:
                continue
            if theirs == "cli":
                found.append(f"{where}:{line}: imports cli ({target}); nothing imports cli")
            elif theirs == "leaf":
                continue  # leaves are importable from anywhere, leaves included
            elif mine == "leaf":
                found.append(f"{where}:{line}: the leaf {me} imports {target}; leaves import no actlab layer")
            elif theirs == "root":
                if ranks.get(mine, -1) < 100:
                    found.append(f"{where}:{line}: {mine}/ imports the root package actlab (its lazy attributes "
                                 "reach the harness); import the layer it needs, e.g. actlab.activations")
            elif mine in ranks and theirs in ranks and ranks[theirs] >= ranks[mine] and ranks[mine] < 100:
                found.append(f"{where}:{line}: {mine}/ imports {target}, a layer above or beside it")
    return found


def test_layer_order_is_read_from_the_architecture_doc() -> None:
    chain = _chain()
    assert chain[0] == "kernels" and "search" in chain and set(chain) <= {p.name for p in PKG.iterdir()}


def test_the_checker_catches_an_upward_and_a_private_import(tmp_path: Path) -> None:
    # the checker itself on a two-file fake package: it must flag both kinds, else the real test proves nothing
    fake = tmp_path / "actlab"
    for sub in ("kernels", "search", "report"):
        (fake / sub).mkdir(parents=True)
        (fake / sub / "__init__.py").write_text("")
    (fake / "search" / "_study.py").write_text("")
    (fake / "kernels" / "_x.py").write_text("from actlab.search import run\n")
    (fake / "report" / "r.py").write_text("from actlab.search._study import open_study\n")
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "ARCHITECTURE.md").write_text("kernels ← search\n")
    globals_ = globals()
    old = globals_["ROOT"], globals_["PKG"]
    globals_["ROOT"], globals_["PKG"] = tmp_path, fake
    try:
        found = violations()
    finally:
        globals_["ROOT"], globals_["PKG"] = old
    assert any("kernels/_x.py" in v and "above" in v for v in found), found
    assert any("report/r.py" in v and "private" in v for v in found), found


def test_imports_follow_the_layer_arrows() -> None:
    found = violations()
    assert not found, "imports against docs/ARCHITECTURE.md:\n" + "\n".join(found)


def test_every_folder_is_placed_in_the_architecture() -> None:
    ranks = _ranks()
    folders = {p.name for p in PKG.iterdir() if p.is_dir() and re.fullmatch(r"[a-z]\w*", p.name)}
    assert folders <= set(ranks), f"folders missing from docs/ARCHITECTURE.md's diagram: {folders - set(ranks)}"
