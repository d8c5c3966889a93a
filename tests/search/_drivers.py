"""``python -m tests.search._drivers STORAGE STUDY BUDGET START_AT POPULATION [final]``: one driver over the fakes
that opens its storage at wall-clock time START_AT, so that several drivers started together race to create a new
study; it trains POPULATION candidates at a time. With ``final`` it then runs the final stage (fresh seeds, a
baseline, a check task), which the drivers share."""

from __future__ import annotations

import sys
import time

from actlab.search._engine import Driver
from tests.search._fakes import FakeSpace, fake_config


def main(argv: list[str]) -> None:
    storage, study, budget, start_at, population = argv[:5]
    final = argv[5:] == ["final"]
    extra = dict(top_k=2, reeval_seeds=2, check_task="fake;delay=0.1;check=1", check_seeds=2,
                 baselines=("max(x(x), zero(x))",)) if final else {}
    cfg = fake_config(task="fake;delay=0.1", budget=int(budget), storage=storage, study=study, workers=1,
                      population=int(population), **extra)
    time.sleep(max(0.0, float(start_at) - time.time()))
    driver = Driver(cfg, FakeSpace())
    driver.run()
    if final:
        from actlab.search._final import run_final

        run_final(cfg, driver.study, driver.url)


if __name__ == "__main__":
    main(sys.argv[1:])
