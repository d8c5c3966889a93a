"""The training harness: schedules, task presets, the deterministic trainer and the multi-seed protocol.

>>> from actlab.train import compare
>>> c = compare(["elu", "isrlu", "swish"], task="mnist1d-cnn", seeds=5, workers=2)   # baseline relu added
>>> c.paired["isrlu"].p_adjusted                                                     # paired t, Holm
"""

from .._extras import require as _require

_require("scipy", "actlab.train")  # the paired statistics; a one-line `pip install 'actlab[train]'` if missing

from ._attacks import ATTACKS, NORMS, Attack, get_attack  # noqa: E402
from ._batch import BATCH_SCHEDULES, BatchSchedule, make_batch_schedule  # noqa: E402
from ._device import DEVICES, cpu_signature, on_device, place_worker, resolve_device, worker_device  # noqa: E402
from ._metrics import METRICS, Metric, get_metric  # noqa: E402
from ._probe import parse_population, probe_population, resolve_population  # noqa: E402
from ._protocol import Comparison, Evaluation, Paired, compare, evaluate, run_jobs  # noqa: E402
from ._robustness import Robustness, RobustnessRow, adversarial_accuracy, check_attacks, robustness  # noqa: E402
from ._schedules import LEGW, SCHEDULES, Constant, Cosine, OneCycle, Schedule, make_schedule  # noqa: E402
from ._stats import (  # noqa: E402
    ALPHA, CONFIDENCE, CORRECTION, MIN_SEEDS, TEST, PairedTest, bootstrap_median, bootstrap_ratio, few_seeds_warning,
    format_p, holm, mean_ci, min_detectable_effect, paired_test, paired_tests)
from ._tasks import TASKS, Objective, Task, get_task, is_spec, task_spec  # noqa: E402
from ._setup import apply_schedule, make_optimizer, task_data  # noqa: E402
from ._trainer import CURVE_POINTS, RunResult, StepHooks, task_loss, train_one, train_population  # noqa: E402

__all__ = ["TASKS", "Task", "Objective", "get_task", "task_spec", "is_spec", "task_data", "resolve_device",
           "place_worker", "worker_device", "on_device", "DEVICES", "cpu_signature", "train_one", "train_population",
           "RunResult", "StepHooks", "task_loss", "probe_population", "parse_population",
           "resolve_population",
           "CURVE_POINTS", "make_optimizer", "apply_schedule", "evaluate", "compare",
           "Evaluation", "Comparison", "Paired", "run_jobs", "SCHEDULES", "Schedule", "make_schedule", "Constant",
           "Cosine", "OneCycle", "LEGW", "ALPHA", "CONFIDENCE", "CORRECTION", "TEST", "PairedTest", "holm", "mean_ci",
           "min_detectable_effect", "paired_test", "paired_tests", "BATCH_SCHEDULES", "BatchSchedule",
           "make_batch_schedule", "ATTACKS", "NORMS", "Attack", "get_attack", "robustness", "Robustness",
           "RobustnessRow", "check_attacks", "adversarial_accuracy", "METRICS", "Metric", "get_metric", "MIN_SEEDS",
           "format_p", "few_seeds_warning", "bootstrap_median", "bootstrap_ratio"]
