"""Search for activation functions: strategies over the expression space, on resumable Optuna studies.

``run_search(SearchConfig(...))`` runs a search and its final leaderboard; ``STRATEGIES`` lists the strategies.
"""

from .._extras import require

require("optuna", "actlab.search")  # a one-line `pip install 'actlab[search]'` instead of a traceback

from ._config import BASELINES, OBJECTIVES, SearchConfig, parse_budget
from ._controller import Controller
from ._engine import Driver, SearchResult
from ._executors import Executor, LocalExecutor, Outcome, RayExecutor, make_executor
from ._final import final_name, fresh_seeds
from ._objective import Batch, Job, batches, run_batch, run_job
from ._export import export_expression, export_study, torch_source
from ._leaderboard import Board, Check, Row, board_metrics, leaderboard, load_board, open_stored
from ._records import Attr, JobResult, Outcomes, SeedResult
from ._run import RichProgress, make_space, run_search
from ._space import Candidate, SearchSpace, Slot
from ._strategies import STRATEGIES, Strategy, get_strategy, register
from ._study import MEMORY, evaluated, open_study, scalar, storage_url
from ._surrogate import Surrogate

__all__ = ["run_search", "make_space", "leaderboard", "load_board", "open_stored", "board_metrics", "Board", "Row",
           "Check", "Attr",
           "JobResult", "Outcomes", "SeedResult", "export_expression", "export_study", "torch_source", "BASELINES",
           "OBJECTIVES", "SearchConfig", "parse_budget", "Controller", "Surrogate", "Driver", "SearchResult",
           "Executor", "LocalExecutor", "RayExecutor", "make_executor", "Candidate", "SearchSpace", "Slot",
           "STRATEGIES", "Strategy", "get_strategy", "register", "RichProgress", "evaluated", "open_study",
           "storage_url",
           # for tables and replays built on studies (actlab.bench.table, actlab.bench.replay)
           "Job", "Batch", "batches", "run_job", "run_batch", "Outcome", "final_name", "fresh_seeds", "scalar",
           "MEMORY"]
