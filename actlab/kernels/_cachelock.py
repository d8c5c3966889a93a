"""Make numba's on-disk cache safe when several processes compile at once.

numba keeps one index file per jitted function (``<name>-<line>.nbi``) that maps each compiled signature to a
data file numbered in the order entries were added (``<name>-<line>.<n>.nbc``). ``IndexDataCacheFile.save``
reads the index, picks the first free number, writes the index back, then writes the data file, all without a
lock. Two processes saving different entries of the same function at the same time both pick the same number.
The index keeps one process's key and the data file the other's code.

All of actlab's kernels are closures of the same driver functions (the loop template in ``_drivers``); before
they got per-kernel qualified names, two kernels shared one index file. xdist workers on a cold cache, search
workers or `bench accuracy` workers could therefore store one kernel's machine code under another's key. A later
process then silently ran the wrong activation. This was seen once in a fresh-clone test run: one activation's
forward had another's slope. Per-kernel names separate the index files now; the lock still covers dtypes of one
kernel compiled at once.

:func:`install` wraps ``save`` and ``flush`` in an exclusive lock (``filelock``, an ``flock`` on POSIX) on
``<index>.lock``, taken per save, so that choosing the number, writing the index and writing the data file happen
as one step. Readers need no lock: numba writes each file through a temporary file and a rename, and a reader that
finds an index entry whose data file is not written yet treats it as a cache miss.
"""

from __future__ import annotations

import functools
import os
from typing import Any, Callable

from filelock import FileLock  # flock on POSIX, msvcrt elsewhere: the import works where fcntl does not exist
from numba.core import caching

__all__ = ["install"]


def _locked(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def wrapper(self: Any, *args: Any) -> Any:
        lock = FileLock(self._index_path + ".lock")
        try:
            os.makedirs(self._cache_path, exist_ok=True)
            lock.acquire()
        except OSError:  # a read-only cache directory: numba's own error handling applies as before
            return method(self, *args)
        try:
            return method(self, *args)
        finally:
            lock.release()

    wrapper.actlab_locked = True  # type: ignore[attr-defined]
    return wrapper


def install() -> None:
    """Serialise numba cache writes across processes (idempotent; affects this process's numba only)."""
    cls = caching.IndexDataCacheFile
    for name in ("save", "flush"):
        method = getattr(cls, name)
        if not getattr(method, "actlab_locked", False):
            setattr(cls, name, _locked(method))
