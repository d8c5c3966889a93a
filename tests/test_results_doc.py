"""benchmarks/RESULTS.md reads as a results document: its generated tables match their JSON records, it opens with
the summary, and it is organised by question rather than by the history of the work."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "benchmarks" / "RESULTS.md"


def _tables():
    spec = importlib.util.spec_from_file_location("results_tables", ROOT / "benchmarks" / "results_tables.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_generated_tables_are_current() -> None:
    pytest.importorskip("matplotlib")
    tables = _tables()
    for doc in tables.FILES:  # RESULTS.md, and the docs site's page that shows its summary and plots
        text = doc.read_text()
        assert tables.blocks(text), f"{doc.name} has no generated block"
        assert not tables.stale(text), f"{doc.name}: run python benchmarks/results_tables.py --write"


def test_a_stale_table_is_caught() -> None:
    tables = _tables()
    text = DOC.read_text()
    kind, path = tables.blocks(text)[0]
    head = f"<!-- generated: {kind} {path} -->\n"
    edited = text.replace(head, head + "| an edited row |\n", 1)
    assert f"{kind} {path}" in tables.stale(edited)


def test_it_opens_with_the_summary_and_is_organised_by_question() -> None:
    text = DOC.read_text()
    sections = re.findall(r"^## (.+)$", text, flags=re.M)
    assert sections[0] == "Summary"
    assert all(s.endswith("?") for s in sections[1:]), sections
    summary = text.split("\n## ", 2)[1]
    assert len(summary.splitlines()) <= 45, "the summary should fit one screen"
    # the history belongs in git: no issue numbers, sessions, superseded tables or pending work
    for word in (r"\bissue \d+", r"\bsession \d+", "superseded", r"\bpending\b", "sitting"):
        assert not re.search(word, text, flags=re.I), word


def test_an_unclosed_or_empty_block_never_swallows_the_text_after_it() -> None:
    tables = _tables()
    kind, path = tables.blocks(DOC.read_text())[0]
    text = (f"intro\n<!-- generated: {kind} {path} -->\n<!-- end generated -->\nkept\n"
            f"<!-- generated: {kind} {path} -->\n<!-- end generated -->\nkept too\n")
    out = tables.regenerate(text)  # empty blocks are filled, the text between them stays
    assert out.count("kept\n") == 1 and "kept too" in out and len(tables.blocks(out)) == 2
    with pytest.raises(ValueError, match="without their closing"):
        tables.regenerate(f"<!-- generated: {kind} {path} -->\nno end\n" + text)
