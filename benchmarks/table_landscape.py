"""The landscape of a tabular benchmark as Markdown (quantiles, who beats each baseline, the top functions) and its
histogram beside the table.

    PYTHONPATH=. .venv/bin/python benchmarks/table_landscape.py benchmarks/tables/mnist1d-cnn.csv.gz [--top 20] \
        [--metric val_loss]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from actlab.bench import table
from actlab.bench.landscape import landscape, plot_landscape


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("table", type=Path)
    ap.add_argument("--top", type=int, default=20)
    ap.add_argument("--metric", default="val_acc", help="val_acc, or val_loss / val_bpb (lower is better)")
    args = ap.parse_args()
    tab = table.load(args.table)
    try:
        ls = landscape(tab, top=args.top, metric=args.metric)
    except ValueError as e:
        raise SystemExit(f"error: {e}") from None
    name = args.table.name.removesuffix(".csv.gz")
    suffix = "" if ls.metric == "val_acc" else f"-{ls.metric}"
    png = plot_landscape(tab, args.table.with_name(f"landscape-{name}{suffix}.png"), metric=ls.metric)
    short = ls.metric.replace("_", " ")
    twin = short.replace("val", "test")
    statuses = {s: sum(r.status == s for r in tab.rows if r.kind == "candidate") for s in table.STATUSES}
    print(f"{ls.functions} functions, {sum(statuses.values())} candidate rows ({statuses}); histogram {png}\n")
    print("| " + " | ".join(ls.quantiles) + " |\n|" + " --- |" * len(ls.quantiles))
    print("| " + " | ".join(f"{v:.3f}" for v in ls.quantiles.values()) + " |\n")
    print(f"| baseline | its mean {short} | functions better |\n| --- | --- | --- |")
    for b, (v, n) in ls.beat.items():
        print(f"| {b} | {v:.4f} | {n} ({100 * n / ls.functions:.1f} %) |")
    print(f"\n| rank | function | mean {short} | mean {twin} |\n| --- | --- | --- | --- |")
    for i, (expr, v, t) in enumerate(ls.top):
        print(f"| {i + 1} | `{expr}` | {v:.4f} | {t:.4f} |")


if __name__ == "__main__":
    main()
