"""The latent measures a training chapter re-runs for every loaded run, before and after, as ratios in one run.

Chapter 5 measures 10,000 held-out posteriors in 2-D per run (twelve runs): the nearest neighbours
(each mean's nearest other mean, each posterior's largest Bhattacharyya coefficient with another) and
the Monte Carlo aggregate KL (20,000 draws from the 10,000-component mixture, float64). This script
times both, and ``latent_summary`` as a whole, on made-up posteriors shaped like the chapter's
methods (wide and merged like AEVB's, narrow like WiSE-ALE's, points like WAE's), each way in turn:

- **before**: every pair (``latent._nearest_neighbours_brute``) and the direct sum over
  ``[chunk, M, d]`` (``estimators.log_aggregate_density``);
- **after**: a KD-tree with an exact bound (``latent._nearest_neighbours``) and the mixture's
  exponents as one matrix product (``estimators.log_aggregate_density_fast``).

Each line gives the median of ``--rounds`` rounds and the ratio before / after, and checks that the
numbers agree. ``python benchmarks/latent_measures.py [--n 10000] [--rounds 3] [--threads 1]``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from unittest import mock

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from wisetut import estimators, latent  # noqa: E402

KINDS = {"wide (AEVB-like)": (0.0, 0.3), "narrow (WiSE-ALE-like)": (-6.0, 0.5), "points (WAE-like)": (-21.6, 0.2)}


def _posteriors(n: int, logvar: float, spread: float):
    g = torch.Generator().manual_seed(0)
    mu = torch.randn(n, 2, generator=g, dtype=torch.float64)
    return mu, logvar + spread * torch.randn(n, 2, generator=g, dtype=torch.float64)


def _time(fn, rounds: int):
    times, out = [], None
    for _ in range(rounds):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=10_000, help="posteriors (chapter 5: 10,000 held-out digits)")
    parser.add_argument("--samples", type=int, default=20_000, help="Monte Carlo draws (chapter 5: 20,000)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    print(f"{args.n:,} posteriors in 2-D, {args.samples:,} draws, {args.threads} thread(s), median of {args.rounds}")
    print(f"{'posteriors':24s} {'measure':18s} {'before':>9s} {'after':>9s} {'ratio':>7s}  agreement")
    for kind, (logvar, spread) in KINDS.items():
        mu, lv = _posteriors(args.n, logvar, spread)
        t_b, (d_b, bc_b) = _time(lambda: latent._nearest_neighbours_brute(mu, lv), args.rounds)
        t_a, (d_a, bc_a) = _time(lambda: latent._nearest_neighbours(mu, lv), args.rounds)
        agree = f"coefficients equal: {torch.equal(bc_a, bc_b)}; distances to {((d_a - d_b).abs() / d_b).max():.0e}"
        print(f"{kind:24s} {'nearest':18s} {t_b:8.2f}s {t_a:8.2f}s {t_b / t_a:6.1f}x  {agree}")
        seed = lambda: torch.Generator().manual_seed(0)  # noqa: E731
        t_b, kl_b = _time(lambda: estimators.mc_aggregate_kl(mu, lv, args.samples, seed()), args.rounds)
        t_a, kl_a = _time(lambda: estimators.mc_aggregate_kl(mu, lv, args.samples, seed(), fast=True), args.rounds)
        agree = f"KL {kl_a[0]:.4f} against {kl_b[0]:.4f} (standard error {kl_a[1]:.4f})"
        print(f"{kind:24s} {'aggregate KL':18s} {t_b:8.2f}s {t_a:8.2f}s {t_b / t_a:6.1f}x  {agree}")
        with (
            mock.patch.object(estimators, "log_aggregate_density_fast", estimators.log_aggregate_density),
            mock.patch.object(latent, "_nearest_neighbours", latent._nearest_neighbours_brute),
        ):
            t_b, _ = _time(lambda: latent.latent_summary(mu, lv, n_samples=args.samples), 1)
        t_a, _ = _time(lambda: latent.latent_summary(mu, lv, n_samples=args.samples), 1)
        print(f"{kind:24s} {'latent_summary':18s} {t_b:8.2f}s {t_a:8.2f}s {t_b / t_a:6.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
