"""A loaded chapter's measures, computed and then loaded from their cache, as a ratio in one run (issue 39).

Chapter 9 measures every one of its 25 trained teapot runs (DCI with forests and the Lasso, MIG,
traversals: :func:`wisetut.disentanglement.teapot_scores`); :func:`wisetut.cache.cached` keeps those
measures beside each run's checkpoint, so the chapter's next run loads them. This script trains one
small teapots run (the ``quick`` profile's, or ``--profile standard``'s data with one epoch), then
times the measures computed (**before**) and loaded from the cache (**after**), and checks that the
loaded numbers are the computed ones. ``python benchmarks/cached_measures.py [--rounds 3] [--profile quick]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--profile", choices=("quick", "standard"), default="quick")
    args = parser.parse_args(argv)
    os.environ["WISETUT_PROFILE"] = args.profile
    os.environ["WISETUT_OUTPUT_DIR"] = tempfile.mkdtemp(prefix="wisetut-bench-")
    torch.set_num_threads(1)
    from wisetut import cache
    from wisetut.data.teapots import SIZE, load_teapots
    from wisetut.disentanglement import dci, mig, teapot_scores
    from wisetut.engine import train
    from wisetut.experiments import checkpoint_path
    from wisetut.latent import encode_all
    from wisetut.methods import WiSE
    from wisetut.models.teapots import teapots_autoencoder
    from wisetut.outputs import data_root
    from wisetut.profiles import settings_for
    from wisetut.traversals import smoothness, traversal_ranges, traverse

    settings = replace(settings_for("teapots"), epochs=1)
    data = load_teapots(settings.n_train, settings.n_test, size=SIZE[args.profile], root=data_root(), seed=0)
    ckpt = checkpoint_path("teapots_bench", "wise", 0)
    ckpt.parent.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    run = train(
        teapots_autoencoder(settings.latent_dim, size=SIZE[args.profile]),
        WiSE(),
        data.x_train,
        data.x_test,
        epochs=1,
        batch_size=settings.batch_size,
        lr=1e-3,
        checkpoint=ckpt,
        progress=False,
    )
    n_fit, probe = min(len(data.x_train), 5_000), torch.arange(16)
    code = (teapot_scores, dci, mig, encode_all, traverse, traversal_ranges, smoothness)

    def measure():
        return teapot_scores(run.model, data, n_fit=n_fit, probe=probe)

    before, after = [], []
    for _ in range(args.rounds):
        path = ckpt.with_name(f"{ckpt.stem}.bench.measures.pt")
        path.unlink(missing_ok=True)
        t0 = time.perf_counter()
        computed = cache.cached(ckpt, "bench", measure, code=code, params={"round": 0})
        before.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        loaded = cache.cached(ckpt, "bench", measure, code=code, params={"round": 0})
        after.append(time.perf_counter() - t0)
        assert all(loaded[k] == computed[k] for k in ("dci_disentanglement", "mig", "roughness", "monotone"))
    b, a = statistics.median(before), statistics.median(after)
    print(
        f"{args.profile}: {len(data.x_train):,} training and {len(data.x_test):,} held-out teapots, one run, "
        f"{args.rounds} rounds, one thread"
    )
    print(f"measured: {b:.2f} s; loaded from the cache: {a:.3f} s; ratio {b / a:.0f}x (the numbers equal)")


if __name__ == "__main__":
    main()
