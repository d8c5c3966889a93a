"""The torch.nn-style docstring template shared by every zoo module."""

from __future__ import annotations


def doc(summary: str, math: str, args: str = "", note: str = "", example: str = "") -> str:
    """Assemble a docstring: summary, the formula, Args (with defaults), Shape and an Example."""
    arg_lines = (args.strip() + "\n        " if args.strip() else "")
    arg_lines += ("fused: use the fused CPU kernel when one exists and the input allows it. Default: ``True``")
    parts = [summary.strip(), "", ".. math::", f"    {math.strip()}", ""]
    if note:
        parts += [note.strip(), ""]
    parts += ["Args:", f"    {arg_lines}", "",
              "Shape:",
              "    - Input: :math:`(*)`, where :math:`*` means any number of dimensions.",
              "    - Output: :math:`(*)`, same shape as the input.", "",
              "Examples::", "",
              f"    >>> {example.strip()}",
              "    >>> x = torch.randn(2)",
              "    >>> y = m(x)"]
    return "\n".join(parts)
