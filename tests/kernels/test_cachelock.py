"""numba's disk cache under concurrent writers (actlab.kernels._cachelock)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from numba.core import caching

import actlab.kernels  # noqa: F401  (installs the lock)

# Each writer process saves its own keys into one shared index, as workers compiling different kernels (or dtypes)
# of the same driver function do.
_WRITER = """
import sys
import actlab.kernels  # installs the lock
from numba.core import caching
f = caching.IndexDataCacheFile(sys.argv[1], "fn-1.py311", ("stamp", 1))
w = int(sys.argv[2])
for i in range(150):
    f.save(("key", w, i), ("code", w, i))
"""


def test_save_is_locked() -> None:
    assert getattr(caching.IndexDataCacheFile.save, "actlab_locked", False)
    assert getattr(caching.IndexDataCacheFile.flush, "actlab_locked", False)


def test_concurrent_writers_keep_every_key_with_its_own_data(tmp_path: Path) -> None:
    """Without the lock, writers pick the same data-file number for different keys and the index then points a
    key at another writer's code."""
    procs = [subprocess.Popen([sys.executable, "-c", _WRITER, str(tmp_path), str(w)]) for w in range(4)]
    assert all(p.wait(timeout=120) == 0 for p in procs)
    f = caching.IndexDataCacheFile(str(tmp_path), "fn-1.py311", ("stamp", 1))
    found = {(w, i): f.load(("key", w, i)) for w in range(4) for i in range(150)}
    wrong = {k: v for k, v in found.items() if v is not None and v != ("code", *k)}
    assert not wrong, f"keys loaded another writer's data: {list(wrong.items())[:3]}"
    # Entries may be lost when an index write races (each later save rereads the index), but none is mixed up;
    # under the lock none is lost either.
    assert all(v is not None for v in found.values())
