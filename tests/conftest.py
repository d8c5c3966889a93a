import os

# Keep each test worker on one thread: pytest-xdist runs two workers on this 2-core machine.
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("NUMBA_NUM_THREADS", "2")

import torch  # noqa: E402

torch.set_num_threads(1)
