"""The torch.nn-style docstring template shared by every zoo module."""

from __future__ import annotations


def doc(summary: str, math: str, args: str = "", note: str = "", example: str = "", gated: bool = False) -> str:
    """Assemble a docstring: summary, the formula, Args (with defaults), Shape and an Example (``gated``: the
    input's last dimension is 2H and the output's H)."""
    arg_lines = (args.strip() + "\n        " if args.strip() else "")
    arg_lines += ("fused: use the fused CPU kernel when one exists and the input allows it (keyword-only). "
                  "Default: ``True``\n        "
                  "inplace: accepted for ``act_layer(inplace=True)`` slots and ignored: the output is always a "
                  "fresh tensor (keyword-only). Default: ``False``")
    parts = [summary.strip(), "", ".. math::", f"    {math.strip()}", ""]
    if note:
        parts += [note.strip(), ""]
    # Arguments arrive joined with any indentation; each goes on its own line under Args.
    parts += ["Args:", *[f"    {a.strip()}" for a in arg_lines.splitlines() if a.strip()], "",
              "Shape:",
              *(["    - Input: :math:`(*, 2H)`, where :math:`*` means any number of dimensions.",
                 "    - Output: :math:`(*, H)`."] if gated else
                ["    - Input: :math:`(*)`, where :math:`*` means any number of dimensions.",
                 "    - Output: :math:`(*)`, same shape as the input."]), "",
              "Examples::", "",
              f"    >>> {example.strip()}",
              f"    >>> x = torch.randn({'2, 8' if gated else 2})",
              "    >>> y = m(x)"]
    return "\n".join(parts)
