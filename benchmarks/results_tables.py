"""The tables of benchmarks/RESULTS.md that come from a JSON record, generated so the document cannot drift.

A generated table sits between two comments in RESULTS.md:

    <!-- generated: KIND PATH -->
    ...the table...
    <!-- end generated -->

KIND names a renderer below and PATH a record under benchmarks/ (relative to the repository root). Each renderer
calls the function the measuring command itself prints with, so the document shows what the command would.

    python benchmarks/results_tables.py --write    # regenerate every table in place
    python benchmarks/results_tables.py --check    # exit 1, naming each stale table (tests/test_results_doc.py)
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "benchmarks" / "RESULTS.md"
_BLOCK = re.compile(r"(<!-- generated: (?P<kind>\w+) (?P<path>\S+) -->\n)(?P<body>.*?)(\n<!-- end generated -->)",
                    re.S)


def _load(path: str) -> Any:
    return json.loads((ROOT / path).read_text())


def replay_table(path: str) -> str:
    """Strategy replay: medians with bootstrap intervals and the ratio to random (``actlab bench strategies``)."""
    from actlab.bench import replay

    return replay.markdown(_load(path))


def speed_table(path: str) -> str:
    """``actlab bench speed --json``: fused kernels against PyTorch's own ops (ms)."""
    from actlab.bench import speed

    return speed.to_markdown([speed.SpeedRecord(**r) for r in _load(path)])


def robustness_table(path: str) -> str:
    """``actlab bench robustness --json``: adversarial accuracy paired against the baseline."""
    from actlab.bench import robustness
    from actlab.train import Robustness, RobustnessRow

    d = _load(path)
    return robustness.to_markdown(Robustness(**{**d, "rows": [RobustnessRow(**r) for r in d["rows"]]}))


def accuracy_table(path: str) -> str:
    """``actlab bench accuracy --json``: the paired comparison against the baseline, with its caption."""
    from actlab.bench import accuracy
    from actlab.train import Comparison

    return accuracy.to_markdown(Comparison.from_dict(_load(path))).rstrip("\n")


def fidelity_table(path: str) -> str:
    """``benchmarks/search_fidelity.py --json``: validation accuracy at the search's and the preset's budget."""
    d = _load(path)
    lines = [f"| activation | {d['low']} steps | {d['high']} steps |", "| --- | --- | --- |"]
    lines += [f"| `{name}` | {lo:.4f} | {hi:.4f} |" for name, lo, hi in d["rows"]]
    lines.append(f"\nSpearman rank correlation between the budgets: {d['spearman']:.2f}; mean |difference| "
                 f"{d['mean_abs_diff']:.3f}.")
    return "\n".join(lines)


GENERATORS: dict[str, Callable[[str], str]] = {"replay": replay_table, "speed": speed_table,
                                               "robustness": robustness_table, "accuracy": accuracy_table,
                                               "fidelity": fidelity_table}


def regenerate(text: str) -> str:
    """``text`` with every generated block rendered again from its record."""
    def render(m: re.Match[str]) -> str:
        kind, path = m["kind"], m["path"]
        if kind not in GENERATORS:
            raise ValueError(f"RESULTS.md names an unknown generated table {kind!r} (known: {', '.join(GENERATORS)})")
        if not (ROOT / path).is_file():
            raise FileNotFoundError(f"RESULTS.md's generated table {kind} reads {path}, which does not exist")
        return m.group(1) + GENERATORS[kind](path) + m.group(5)

    return _BLOCK.sub(render, text)


def stale(text: str) -> list[str]:
    """The ``KIND PATH`` of every generated block whose body differs from a fresh rendering."""
    fresh = {(m["kind"], m["path"]): m["body"] for m in _BLOCK.finditer(regenerate(text))}
    return [f"{m['kind']} {m['path']}" for m in _BLOCK.finditer(text) if fresh[(m["kind"], m["path"])] != m["body"]]


def blocks(text: str) -> list[tuple[str, str]]:
    """``(kind, path)`` of every generated block, in order."""
    return [(m["kind"], m["path"]) for m in _BLOCK.finditer(text)]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = ap.add_mutually_exclusive_group(required=True)
    mode.add_argument("--write", action="store_true", help="regenerate the tables in place")
    mode.add_argument("--check", action="store_true", help="exit 1 if a table differs from its record")
    args = ap.parse_args()
    sys.path.insert(0, str(ROOT))
    text = DOC.read_text()
    if args.write:
        DOC.write_text(regenerate(text))
        print(f"regenerated {len(blocks(text))} tables in {DOC.relative_to(ROOT)}")
        return 0
    old = stale(text)
    for b in old:
        print(f"stale: {b} (run python benchmarks/results_tables.py --write)")
    return 1 if old else 0


if __name__ == "__main__":
    sys.exit(main())
