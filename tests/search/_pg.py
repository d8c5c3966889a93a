"""The PostgreSQL server the storage tests use: `.ci/start-postgres` starts it and writes its URL to .ci/pg.env."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def pg_url() -> str | None:
    """``$ACTLAB_TEST_PG``, else the URL in ``.ci/pg.env``, else None."""
    url = os.environ.get("ACTLAB_TEST_PG")
    env = ROOT / ".ci" / "pg.env"
    if not url and env.exists():
        for line in env.read_text().splitlines():
            if line.startswith("ACTLAB_TEST_PG="):
                url = line.split("=", 1)[1].strip()
    return url or None


def need_pg() -> str:
    """The URL, or skip the test with the reason (visible in the CI log's skip summary)."""
    url = pg_url()
    if not url:
        pytest.skip("PostgreSQL not available: set ACTLAB_TEST_PG to a SQLAlchemy URL (.ci/start-postgres "
                    "writes it to .ci/pg.env)")
    return url
