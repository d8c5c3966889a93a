"""The tables of benchmarks/RESULTS.md that come from a JSON record, generated so the document cannot drift; and the
docs site's benchmark page, whose summary and figures come from RESULTS.md and the plots beside its records.

A generated table sits between two comments in RESULTS.md (or docs/benchmarks.md):

    <!-- generated: KIND PATH -->
    ...the table...
    <!-- end generated -->

KIND names a renderer below and PATH a record under benchmarks/ (relative to the repository root). Each renderer
calls the function the measuring command itself prints with, so the document shows what the command would.

    python benchmarks/results_tables.py --write    # regenerate every table in place
    python benchmarks/results_tables.py --check    # exit 1, naming each stale table (tests/test_results_doc.py)

Kind ``summary`` copies RESULTS.md's summary table; kind ``figure`` copies a plot into docs/img/ (mkdocs serves only
files under docs/) and links it.
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
DOCS_PAGE = ROOT / "docs" / "benchmarks.md"
WRITING = False  # --write: figure() may copy plots into docs/img/
FILES = (DOC, DOCS_PAGE)
# The body may be empty, and never runs past another block's markers (an unclosed block is an error, not a swallow).
_BLOCK = re.compile(r"(<!-- generated: (?P<kind>\w+) (?P<path>\S+) -->\n)"
                    r"(?P<body>(?:(?!<!-- (?:end )?generated).)*?)(<!-- end generated -->)", re.S)
_HEADER = re.compile(r"<!-- generated: ")


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


def speed_summary(path: str) -> str:
    """``actlab bench speed --json``, one row per activation: at each size, native ÷ fused time of the kernels
    (forward + backward, preallocated outputs) and of the user view (module forward + backward through autograd).
    Above 1: actlab is faster."""
    from actlab.bench import speed

    recs = [speed.SpeedRecord(**r) for r in _load(path)]
    sizes = sorted({r.size for r in recs})
    names = list(dict.fromkeys(r.name for r in recs))
    by = {(r.name, r.size): r for r in recs}

    def cell(r: Any) -> str:
        if r is None or r.native_total is None or not r.user_native:
            return "—"
        return f"{r.native_total / r.fused_total:.2f}× / {r.user_native / r.user_fused:.2f}×"

    def size(n: int) -> str:
        return f"{n >> 20}M" if n >= 1 << 20 else f"{n >> 10}K"

    native = {r.name: r.native_op for r in recs}
    lines = ["| activation (native op) | " + " | ".join(size(n) for n in sizes) + " |",
             "|---|" + "---|" * len(sizes)]
    for n in names:  # gated rows time the gate's native op times the value half; their section has them
        cells = [cell(by.get((n, z))) for z in sizes]
        if any(c != "—" for c in cells):
            lines.append(f"| {n} ({native[n] or '—'}) | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def user_view_table(path: str) -> str:
    """``benchmarks/user_view.py --json``: native ÷ actlab time of each module's forward + backward, on 1 / 2
    threads, and the A/A band (a native module against itself) that noise alone gives."""
    d = _load(path)
    recs = d["records"]
    sizes = sorted({r["size"] for r in recs})
    names = list(dict.fromkeys(r["name"] for r in recs))
    by = {(r["name"], r["size"], r["threads"]): r for r in recs}

    def ratio(r: Any) -> str:
        return "—" if r is None else f"{r['native_ms'] / r['actlab_ms']:.2f}"

    def size(n: int) -> str:
        return f"{n >> 20}M" if n >= 1 << 20 else f"{n >> 10}K"

    lines = ["| activation (native op) | " + " | ".join(size(n) for n in sizes) + " |",
             "|---|" + "---|" * len(sizes)]
    for n in names:
        op = next(r["native_op"] for r in recs if r["name"] == n)
        cells = [f"{ratio(by.get((n, z, 1)))} / {ratio(by.get((n, z, 2)))}" for z in sizes]
        lines.append(f"| {n} ({op}) | " + " | ".join(cells) + " |")
    aa = sorted(r["native_ms"] / r["native_again_ms"] for r in recs)
    lo, hi = aa[len(aa) // 40], aa[-1 - len(aa) // 40]
    lines.append("")
    lines.append(f"A/A (the native module against itself, same rounds): 95 % of {len(aa)} ratios in "
                 f"[{lo:.2f}, {hi:.2f}]. {d['meta']['date']}, torch {d['meta']['torch']}.")
    return "\n".join(lines)


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


def population_table(path: str) -> str:
    """``benchmarks/population_cpu.py --json``: trainings per hour of K members together against one by one."""
    d = _load(path)
    lines = ["| task | K | together: trainings/h | one by one: trainings/h | speed-up: median (range) of rounds | "
             "every member equal to its solo run |", "| --- | --- | --- | --- | --- | --- |"]
    for r in d["rows"]:
        spread = r.get("speedup_rounds") or []
        rng = f" ({min(spread):.2f}–{max(spread):.2f})" if spread else ""
        lines.append(f"| {r['task']} | {r['k']} | {r['population_trainings_per_hour']:.0f} | "
                     f"{r['solo_trainings_per_hour']:.0f} | {r['speedup_median_of_rounds']:.2f}×{rng} | "
                     f"{'yes' if r['every_member_equal_to_solo'] else 'NO'} |")
    return "\n".join(lines)


def population_search_table(path: str) -> str:
    """``benchmarks/population_search.py --json``: a whole search's trainings per hour at population K."""
    d = _load(path)
    lines = ["| task | K | trainings/h | speed-up over K = 1: median (range) of rounds | every trial's value equal |",
             "| --- | --- | --- | --- | --- |"]
    lines += [f"| {r['task']} | {r['population']} | {r['trainings_per_hour']:.0f} | {r['speedup']:.2f}× "
              f"({r['speedup_min']:.2f}–{r['speedup_max']:.2f}) | {'yes' if r['equal'] else 'NO'} |" for r in d["rows"]]
    return "\n".join(lines)


def driver_view_table(path: str) -> str:
    """``benchmarks/driver_view.py --json``: the driver's cost per event as the study grows."""
    d = _load(path)
    lines = ["| trials in the study | rescan per event (ms) | view per event (ms) | "
             "worker's pruning snapshot per job (ms) |",
             "| --- | --- | --- | --- |"]
    lines += [f"| {r['trials']} | {r['rescan_ms']:.2f} | {r['view_ms']:.3f} | {r['worker_snapshot_ms']:.1f} |"
              for r in d["rows"]]
    return "\n".join(lines)


def population_layers_table(path: str) -> str:
    """``benchmarks/population_layers.py --json``: one training step of K MLPs, three ways to run their layers."""
    d = _load(path)
    lines = ["| model | K | loop (ms/step) | stacked, K activations (ms; speed-up) | "
             "vmap, one activation (ms; speed-up) |",
             "| --- | --- | --- | --- | --- |"]
    for r in d["rows"]:
        ms = r["ms_per_step"]
        lines.append(f"| {r['model']} | {r['k']} | {ms['loop']:.3f} | {ms['stacked']:.3f}; {r['stacked_speedup']:.2f}× "
                     f"| {ms['vmap']:.3f}; {r['vmap_speedup']:.2f}× |")
    return "\n".join(lines)


def summary_table(path: str) -> str:
    """The summary table of RESULTS.md (``path``), for the docs site's benchmark page."""
    text = (ROOT / path).read_text()
    section = text.split("\n## Summary\n", 1)[1].split("\n## ", 1)[0]
    return "\n".join(line for line in section.strip().splitlines() if line.startswith("|"))


def figure(path: str) -> str:
    """A plot, copied into docs/img/ and linked from the docs page."""
    src = ROOT / path
    dst = DOCS_PAGE.parent / "img" / src.name
    if not dst.exists() or dst.read_bytes() != src.read_bytes():
        if not WRITING:  # a check never writes: an out-of-date copy makes the block differ, so it is reported
            return f"(docs/img/{src.name} is not a copy of {path})"
        dst.parent.mkdir(parents=True, exist_ok=True)
        dst.write_bytes(src.read_bytes())
    return f"![{src.stem}](img/{src.name})"


GENERATORS: dict[str, Callable[[str], str]] = {
    "summary": summary_table, "figure": figure, "replay": replay_table, "speed": speed_table,
    "speed_summary": speed_summary, "robustness": robustness_table, "accuracy": accuracy_table,
    "fidelity": fidelity_table, "population": population_table, "population_search": population_search_table,
    "driver_view": driver_view_table, "population_layers": population_layers_table, "user_view": user_view_table}


def regenerate(text: str) -> str:
    """``text`` with every generated block rendered again from its record."""
    def render(m: re.Match[str]) -> str:
        kind, path = m["kind"], m["path"]
        if kind not in GENERATORS:
            raise ValueError(f"RESULTS.md names an unknown generated table {kind!r} (known: {', '.join(GENERATORS)})")
        if not (ROOT / path).is_file():
            raise FileNotFoundError(f"RESULTS.md's generated table {kind} reads {path}, which does not exist")
        return m.group(1) + GENERATORS[kind](path) + "\n" + m.group(5)

    found = len(_BLOCK.findall(text))
    if found != len(_HEADER.findall(text)):
        raise ValueError(f"{len(_HEADER.findall(text)) - found} generated block(s) without their closing "
                         f"'<!-- end generated -->'")
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
    global WRITING
    WRITING = args.write
    bad = 0
    for doc in FILES:
        text = doc.read_text()
        if args.write:
            doc.write_text(regenerate(text))
            print(f"regenerated {len(blocks(text))} blocks in {doc.relative_to(ROOT)}")
            continue
        for b in stale(text):
            bad += 1
            print(f"stale in {doc.relative_to(ROOT)}: {b} (run python benchmarks/results_tables.py --write)")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
