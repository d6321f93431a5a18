"""pytest set-up for the unit tests: under pytest-xdist (``make test`` runs ``-n auto``), one torch thread per worker.

Two workers on two cores each running torch's default of one thread per core oversubscribe the CPU
(several times slower under load); one thread each keeps every core busy with one worker.
"""

import os

if os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ.setdefault("OMP_NUM_THREADS", "1")  # for the processes the tests start, too
    import torch

    torch.set_num_threads(1)
