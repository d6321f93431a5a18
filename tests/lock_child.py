"""A training process for tests/test_one_run.py: ``python lock_child.py CHECKPOINT LR STARTED SLEEP [HOLD]``.

Trains a small WiSE-ALE run into CHECKPOINT at learning rate LR, touching the file STARTED and sleeping
SLEEP seconds after every step (so a second process can start while it trains); with HOLD, it waits after
its first step until the file HOLD exists. Prints one JSON line: the steps it trained and the epoch it
resumed from, or the refusal it met.
"""

import json
import sys
import time
from pathlib import Path

import torch

from wisetut.data import make_sine_waves
from wisetut.engine import CheckpointError, train
from wisetut.methods import WiSE
from wisetut.models import sine_autoencoder

path, lr, started, pause = sys.argv[1], float(sys.argv[2]), Path(sys.argv[3]), float(sys.argv[4])
hold = Path(sys.argv[5]) if len(sys.argv) > 5 else None
steps = []


def hook(epoch: int, step: int) -> None:
    steps.append((epoch, step))
    started.touch()
    time.sleep(pause)
    t0 = time.monotonic()
    while hold is not None and not hold.exists() and time.monotonic() - t0 < 300:
        time.sleep(0.05)


torch.manual_seed(0)
try:
    run = train(
        sine_autoencoder(),
        WiSE(),
        make_sine_waves(192, seed=0).x,
        make_sine_waves(64, seed=1).x,
        epochs=3,
        batch_size=32,
        lr=lr,
        seed=0,
        checkpoint=path,
        progress=False,
        device="cpu",
        on_step=hook,
    )
    print(json.dumps({"steps": len(steps), "resumed_from": run.resumed_from_epoch}))
except CheckpointError as e:
    print(json.dumps({"steps": len(steps), "refused": str(e)}))
