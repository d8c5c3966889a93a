"""``python -m tests.search._drivers STORAGE STUDY BUDGET START_AT``: one driver over the fakes that opens its
storage at wall-clock time START_AT, so that several drivers started together race to create a new study."""

from __future__ import annotations

import sys
import time

from actlab.search._engine import Driver
from tests.search._fakes import FakeSpace, fake_config


def main(argv: list[str]) -> None:
    storage, study, budget, start_at = argv
    cfg = fake_config(task="fake;delay=0.1", budget=int(budget), storage=storage, study=study, workers=1)
    time.sleep(max(0.0, float(start_at) - time.time()))
    Driver(cfg, FakeSpace()).run()


if __name__ == "__main__":
    main(sys.argv[1:])
