"""The offline text corpus for language-model tasks."""

from __future__ import annotations

import numpy as np
import pytest

from actlab.data import DataError, load
from actlab.data._text import CONTEXT, byte_windows, corpus


def test_pydoc_text_loads_offline_with_its_hash_and_split() -> None:
    ds = load("pydoc-text")
    text, source = corpus()
    assert ds.n_classes == 256 and ds.shape == (CONTEXT,)
    assert "sha256" in ds.source and source in ds.source and "test bytes" in ds.source
    assert len(text) > 100_000 and text.decode("utf-8").isprintable() is False  # newlines: English prose
    # labels are the inputs shifted by one byte
    x, y = ds.x_train[0].long(), ds.y_train[0]
    assert bool((x[1:] == y[:-1]).all())
    assert len(ds.y_val) > 0 and len(ds.y_test) > 0


def test_byte_windows_and_too_short_text() -> None:
    x, y = byte_windows(b"abcdefghij", context=3)
    assert x.shape == (3, 3) and x.dtype == np.float32 and y.dtype == np.int64
    assert bytes(x[0].astype(np.uint8)) == b"abc" and bytes(y[0].astype(np.uint8)) == b"bcd"
    with pytest.raises(DataError, match="shorter than one window"):
        byte_windows(b"ab", context=3)
