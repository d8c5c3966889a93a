"""The training harness: schedules, task presets, the deterministic trainer and the multi-seed protocol.

>>> from actlab.train import compare
>>> c = compare(["elu", "isrlu", "swish"], task="mnist1d-cnn", seeds=5, workers=2)   # baseline relu added
>>> c.paired["isrlu"].p_value                                                        # Wilcoxon over seeds
"""

from ._attacks import ATTACKS, NORMS, Attack, get_attack
from ._batch import BATCH_SCHEDULES, BatchSchedule, make_batch_schedule
from ._robustness import Robustness, RobustnessRow, check_attacks, robustness
from ._protocol import Comparison, Evaluation, Paired, compare, evaluate, run_jobs
from ._schedules import LEGW, SCHEDULES, Constant, Cosine, OneCycle, Schedule, make_schedule
from ._stats import CONFIDENCE, N_BOOT, bootstrap_ci, paired_bootstrap_ci, wilcoxon_min_p, wilcoxon_p
from ._tasks import TASKS, Task, get_task
from ._trainer import CURVE_POINTS, RunResult, train_one

__all__ = ["TASKS", "Task", "get_task", "train_one", "RunResult", "CURVE_POINTS", "evaluate", "compare",
           "Evaluation", "Comparison", "Paired", "run_jobs", "SCHEDULES", "Schedule", "make_schedule", "Constant",
           "Cosine", "OneCycle", "LEGW", "bootstrap_ci", "paired_bootstrap_ci", "wilcoxon_p", "wilcoxon_min_p",
           "CONFIDENCE", "N_BOOT", "BATCH_SCHEDULES", "BatchSchedule", "make_batch_schedule",
           "ATTACKS", "NORMS", "Attack", "get_attack", "robustness", "Robustness", "RobustnessRow", "check_attacks"]
