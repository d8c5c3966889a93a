"""Wall time of one DNAS supernet run (1 and 2 units) and its first proposals, as a Markdown table row each.

    PYTHONPATH=. .venv/bin/python benchmarks/dnas_time.py [--task digits-mlp] [--steps 300]
"""

from __future__ import annotations

import argparse

import optuna

from actlab.search import STRATEGIES
from actlab.search._exprspace import ExprSpace


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--task", default="digits-mlp")
    ap.add_argument("--steps", type=int, default=300)
    args = ap.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    print("| units | status | supernet s | first 3 proposals (probability) |\n| --- | --- | --- | --- |")
    for units in (1, 2):
        sp = ExprSpace(units, cache_dir=None)
        st = STRATEGIES["dnas"](sp, seed=0, task=args.task, steps=args.steps)
        got = st.propose(optuna.create_study(), 3)
        shown = "; ".join(f"`{sp.render(c.tokens)}` ({c.attrs['dnas_prob']:.3g})" for c in got)
        print(f"| {units} | {st.status} | {st.wall_time:.1f} | {shown} |")


if __name__ == "__main__":
    main()
