"""Offline English text for language-model tasks: byte-level sequences of the documentation that ships with Python.

``pydoc_data.topics`` is the Python language and library reference prose that ``help()`` shows (about 466 KB of
English with code, in the standard library of every CPython). It installs with Python, so nothing is downloaded; it
differs between Python versions, which is why its SHA-256 travels with every result (:attr:`Dataset.source`).

The text is cut into non-overlapping windows of ``CONTEXT + 1`` bytes: the input is the first ``CONTEXT`` bytes, the
label the same window shifted by one (next-byte prediction at every position). The last tenth of the text is the
test split (a contiguous tail, so no test window overlaps training text); the registry holds a validation split out
of the rest.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from ._registry import DataError, register

__all__ = ["CONTEXT", "corpus", "byte_windows"]

CONTEXT = 64
TEST_FRACTION = 0.1


def corpus() -> tuple[bytes, str]:
    """The corpus bytes and a description naming it, its size and SHA-256 (recorded with every result)."""
    try:
        from pydoc_data import topics  # type: ignore[import-not-found]
    except ImportError as e:  # some distributions split the docs out of the standard library
        raise DataError(f"pydoc-text: the standard library's pydoc_data is missing ({e}); install your Python's "
                        f"full standard library (e.g. Debian's libpython3-stdlib)") from None
    text = "\n\n".join(topics.topics[k] for k in sorted(topics.topics)).encode("utf-8")
    digest = hashlib.sha256(text).hexdigest()[:16]
    return text, f"pydoc_data.topics, {len(text)} bytes, sha256 {digest}"


def byte_windows(data: bytes, context: int = CONTEXT) -> tuple[np.ndarray, np.ndarray]:
    """``(x, y)``: non-overlapping windows of ``context`` bytes and their next-byte labels."""
    a = np.frombuffer(data, dtype=np.uint8)
    n = (len(a) - 1) // context
    if n < 1:
        raise DataError(f"text of {len(a)} bytes is shorter than one window of {context + 1}")
    x = a[: n * context].reshape(n, context)
    y = a[1: n * context + 1].reshape(n, context)
    return x.astype(np.float32), y.astype(np.int64)


@register("pydoc-text", val_fraction=0.1, description="Python's own reference docs (pydoc_data, ~466 KB English), "
          f"byte-level windows of {CONTEXT}; the last 10 % is the test split", tokens=True)
def _read_pydoc(data_dir: Path | None) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, int, str]:
    text, source = corpus()
    cut = int(len(text) * (1 - TEST_FRACTION))
    xtr, ytr = byte_windows(text[:cut])
    xte, yte = byte_windows(text[cut:])
    split = f"train+val bytes [0, {cut}), test bytes [{cut}, {len(text)}), windows of {CONTEXT}"
    return xtr, ytr, xte, yte, 256, f"{source}; {split}"
