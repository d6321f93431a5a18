"""What the local-batch KL does to WiSE-ALE: the measurement behind book/12_several_gpus.ipynb.

WiSE-ALE (Eq. 27, chapter 4's float32 guard) at one global batch of M = 64, each run from the same
seed, on this machine's CPU, on sine waves (``--data sine``) or MNIST in 2-D (``--data mnist``):

- ``one_process``: the reference, M = 64 in one process;
- ``global``: two processes joined by gloo, m = 32 each, Eq. 21 over the gathered batch of 64
  (:mod:`wisetut.distributed`): the one-process run up to float rounding;
- ``local``: the same two processes with ``local_kl``: Eq. 21 over each process's 32 (a naive
  data-parallel run);
- ``one_process_m32``: one process at M = 32, the estimator ``local`` uses, with half the samples
  per step.

For each run and seed it records the held-out metrics of the engine (reconstruction error,
AEVB KL, Eq. 21 at batch 64 and 32, the convergence criterion) and the held-out posteriors
(median sigma, nearest-neighbour distance, the aggregate KL by Monte Carlo), and writes them into
``book/results/distributed.json`` under the data set's name::

    python tools/distributed_kl.py --data mnist     # 3 seeds, about 20 minutes on 2 busy CPU cores
    python tools/distributed_kl.py --data sine      # 3 seeds, about 25 minutes
    python tools/distributed_kl.py --data mnist --seeds 0 --epochs 1 --out /tmp/d.json   # a smoke run
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from wisetut import distributed  # noqa: E402
from wisetut.data import load_mnist, make_sine_waves  # noqa: E402
from wisetut.engine import evaluate, train  # noqa: E402
from wisetut.latent import encode_all, latent_summary  # noqa: E402
from wisetut.methods import WiSE  # noqa: E402
from wisetut.models import mnist_autoencoder, sine_autoencoder  # noqa: E402
from wisetut.results import convergence  # noqa: E402

M, PROCESSES, FLOOR = 64, 2, -30.0
# data set: (network, latent size, Adam's rate, epochs, training and held-out sizes): Appendix D.1 and D.2's
# networks and rates; MNIST as chapter 5's standard run, sine waves smaller than chapter 4's
DATA = {
    "sine": dict(
        network=sine_autoencoder,
        latent_dim=4,
        lr=5e-4,
        epochs=20,
        n_train=4096,
        n_test=1024,
        name="sine waves (Section 5, noise std 0.05)",
        source="wisetut.data.make_sine_waves, seeds 0 and 1",
    ),
    "mnist": dict(network=mnist_autoencoder, latent_dim=2, lr=1e-3, epochs=30, n_train=4000, n_test=1000),
}
RUNS = {  # name: (processes, local_kl, global batch)
    "one_process": (1, False, M),
    "global": (PROCESSES, False, M),
    "local": (PROCESSES, True, M),
    "one_process_m32": (1, False, M // PROCESSES),
}


def _data(args):
    """Training and held-out tensors, and where they came from."""
    if args.data == "sine":
        info = {k: DATA["sine"][k] for k in ("name", "source")}
        return make_sine_waves(args.n_train, seed=0).x, make_sine_waves(args.n_test, seed=1).x, info
    digits = load_mnist(args.n_train, args.n_test, root=ROOT / "data", seed=0)
    return digits.x_train, digits.x_test, {k: v for k, v in digits.info().items() if k in ("name", "source")}


def _network(args):
    return DATA[args.data]["network"](DATA[args.data]["latent_dim"])


def _train(seed: int, batch_size: int, args) -> dict:
    """One run in this process (or on this rank): the trained weights, history and time."""
    train_x, test_x, _ = _data(args)
    torch.manual_seed(seed)
    start = time.perf_counter()
    run = train(
        _network(args),
        WiSE(logvar_floor=FLOOR),
        train_x,
        test_x,
        epochs=args.epochs,
        batch_size=batch_size,
        lr=DATA[args.data]["lr"],
        seed=seed,
        progress=False,
        device="cpu",
    )
    return {"state": run.model.state_dict(), "history": run.history.as_dict(), "seconds": time.perf_counter() - start}


def _rank(rank: int, seed: int, local_kl: bool, args, out: str) -> None:
    distributed.setup(local_kl=local_kl)
    result = _train(seed, M, args)
    if rank == 0:
        torch.save(result, out)


def _measure(result: dict, args) -> dict:
    """Held-out numbers of a trained model: the engine's metrics and the posteriors' shape."""
    _, test_x, _ = _data(args)
    model = _network(args)
    model.load_state_dict(result["state"])
    mu, logvar = encode_all(model, test_x)
    shape = latent_summary(mu, logvar, n_samples=20_000, seed=0)
    test = {k: v[-1] for k, v in result["history"]["test"].items()}
    return {
        "test_recon_mse": test["recon_mse"],
        "test_aevb_kl": test["aevb_kl"],
        "test_wise_kl_m64": evaluate(model, test_x, M, seed=0)["wise_kl"],
        "test_wise_kl_m32": evaluate(model, test_x, M // PROCESSES, seed=0)["wise_kl"],
        "converged": convergence(result["history"]["test"]["recon_mse"])["met"],
        "median_sigma": shape["scale"],
        "nn_distance": shape["nn_distance"],
        "aggregate_kl": shape["aggregate_kl"],
        "aggregate_kl_se": shape["aggregate_kl_se"],
        "train_seconds": result["seconds"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", choices=DATA, required=True)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, help="default: 20 for sine, 30 for mnist")
    parser.add_argument("--n-train", type=int, help="default: 4096 sine waves, 4000 digits")
    parser.add_argument("--n-test", type=int, help="default: 1024 sine waves, 1000 digits")
    parser.add_argument("--out", type=Path, default=ROOT / "book" / "results" / "distributed.json")
    args = parser.parse_args()
    for key in ("epochs", "n_train", "n_test"):
        if getattr(args, key) is None:
            setattr(args, key, DATA[args.data][key])
    torch.set_num_threads(1)
    runs: dict[str, dict] = {name: {} for name in RUNS}
    weights_gap = {}
    with tempfile.TemporaryDirectory() as tmp:
        for seed in args.seeds:
            for name, (processes, local_kl, batch) in RUNS.items():
                t0 = time.perf_counter()
                if processes == 1:
                    result = _train(seed, batch, args)
                else:
                    out = str(Path(tmp) / f"{name}-{seed}.pt")
                    distributed.run_local(_rank, processes, seed, local_kl, args, out)
                    result = torch.load(out, weights_only=False)
                runs[name][str(seed)] = _measure(result, args)
                if name == "one_process":
                    reference = result["state"]
                if name == "global":  # the largest weight difference to the one-process run, relative to its scale
                    weights_gap[str(seed)] = max(
                        ((result["state"][k] - v).abs().max() / v.abs().max()).item()
                        for k, v in reference.items()
                        if v.is_floating_point() and v.abs().max() > 0
                    )
                print(f"seed {seed} {name:16s} {time.perf_counter() - t0:6.1f} s  {runs[name][str(seed)]}", flush=True)
    info = _data(args)[2]
    section = {
        "device": f"cpu ({platform.machine()}), {PROCESSES} gloo processes on one machine",
        "torch": torch.__version__,
        "data": {**info, "n_train": args.n_train, "n_test": args.n_test},
        "settings": {
            "method": "wise",
            "kl_weight": 1.0,
            "logvar_floor": FLOOR,
            "epochs": args.epochs,
            "global_batch": M,
            "processes": PROCESSES,
            "lr": DATA[args.data]["lr"],
            "latent_dim": DATA[args.data]["latent_dim"],
            "seeds": args.seeds,
        },
        "runs": {
            name: {"processes": p, "local_kl": lk, "batch_size": b, "per_seed": runs[name]} for name, (p, lk, b) in RUNS.items()
        },
        "global_vs_one_process_max_relative_weight_difference": weights_gap,
        "made_by": f"tools/distributed_kl.py --data {args.data}",
    }
    record = json.loads(args.out.read_text()) if args.out.exists() else {"experiment": "distributed"}
    record[args.data] = section
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(record, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
