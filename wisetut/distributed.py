"""Training on several processes (``torchrun``): K processes train the one-process run at M = K m.

Under ``torchrun --nproc-per-node K`` the engine (:func:`wisetut.engine.train`) joins the process group
(:func:`setup`: ``nccl`` on GPUs, ``gloo`` on CPUs); rank ``r`` takes rows ``r m : (r + 1) m`` of each global
batch of ``M = K m``, keeping the one-process run's fingerprint, checkpoints and numbers (to float rounding):

- Eq. 21's ``1/M sum_i log 1/M sum_j ...`` and WAE-MMD's kernel sum use the global batch (:func:`coupled`);
- the global loss is the ranks' mean (coupled terms at ``1/M``); :func:`sync_gradients` averages gradients;
- :func:`normal` and :class:`GlobalDropout` draw the global batch's noise and keep the rank's rows, and
  :class:`GlobalBatchNorm` takes its statistics over the global batch (on CPUs and GPUs);
- rank 0 alone writes the checkpoint, and every rank resumes from it (several machines need a shared folder).

``setup(local_kl=True)`` computes coupled terms over each rank's local batch instead (Eq. 21 at ``m``), the
naive data-parallel run that the chapter "Training on several GPUs" measures; AEVB is unaffected.
"""

from __future__ import annotations

import os
import socket
import warnings
from collections.abc import Iterable
from contextlib import contextmanager
from dataclasses import dataclass

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = [
    "Shard", "setup", "current", "sharded_step", "coupled", "gather", "own", "normal", "normal_like",
    "sync_gradients", "average", "prepare", "release", "GlobalBatchNorm", "GlobalDropout", "run_local",
]  # fmt: skip


@dataclass(frozen=True)
class Shard:
    """Which rows of every global batch this process trains on: ``rank`` of ``world_size``."""

    rank: int = 0
    world_size: int = 1
    local_kl: bool = False

    @property
    def is_main(self) -> bool:
        """Rank 0: the process that writes checkpoints and shows progress."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    def rows(self, batch_size: int) -> slice:
        """This rank's rows ``r m : (r + 1) m`` of a global batch of ``batch_size = K m``."""
        m = self.local_size(batch_size)
        return slice(self.rank * m, (self.rank + 1) * m)

    def local_size(self, batch_size: int) -> int:
        """``m = M / K``; a batch that does not split evenly is an error."""
        if batch_size % self.world_size:
            raise ValueError(
                f"the global batch of {batch_size} does not split evenly over {self.world_size} processes: "
                f"choose a batch size that is a multiple of {self.world_size}, or another number of processes"
            )
        return batch_size // self.world_size

    def fingerprint(self, batch_size: int) -> dict:
        """Keys a checkpoint's fingerprint gains: none, unless ``local_kl`` changes the objective."""
        if self.distributed and self.local_kl:
            return {"local_kl": True, "local_batch": self.local_size(batch_size)}
        return {}


_LOCAL_KL = False
_ACTIVE: Shard | None = None  # the shard of the training step under way (sharded_step), else None


def setup(local_kl: bool | None = None) -> Shard:
    """Join the process group ``torchrun`` describes (once), and return this process's :class:`Shard`.

    Without ``WORLD_SIZE > 1`` in the environment (no ``torchrun``) and no process group already
    set up, this is the one-process run: ``Shard(0, 1)``. On GPUs each process uses the GPU
    ``LOCAL_RANK`` and ``nccl``; on CPUs, ``gloo``.

    Args:
        local_kl: if given, switch the naive local-batch estimator on or off for the runs that
            follow (see the module's docstring); ``None`` leaves it as it is (off by default).
    """
    global _LOCAL_KL
    if local_kl is not None:
        _LOCAL_KL = bool(local_kl)
    if int(os.environ.get("WORLD_SIZE", "1")) > 1 and not dist.is_initialized():
        if torch.cuda.is_available():
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    return current()


def current() -> Shard:
    """This process's :class:`Shard` (``Shard(0, 1)`` without a process group)."""
    if not (dist.is_available() and dist.is_initialized()):
        return Shard(local_kl=_LOCAL_KL)
    return Shard(dist.get_rank(), dist.get_world_size(), _LOCAL_KL)


@contextmanager
def sharded_step(shard: Shard):
    """Within the block, this process holds ``shard``'s rows of the global batch (one training step).

    :func:`coupled`, :func:`gather`, :func:`normal`, :class:`GlobalBatchNorm` and
    :class:`GlobalDropout` act on the global batch only inside it; outside (evaluation, or one
    process) they are the plain one-process operations.
    """
    global _ACTIVE
    before, _ACTIVE = _ACTIVE, (shard if shard.distributed else None)
    try:
        yield
    finally:
        _ACTIVE = before


def _all_gather(t: Tensor) -> Tensor:
    # the autograd-aware gather: its backward sums every rank's gradient into the rows this rank sent
    with warnings.catch_warnings():  # deprecated in favour of a private module (torch >= 2.6): still the public one
        warnings.simplefilter("ignore", FutureWarning)
        from torch.distributed.nn.functional import all_gather

        return torch.cat(all_gather(t.contiguous()))


def _all_reduce(t: Tensor) -> Tensor:
    # the autograd-aware sum over ranks: its backward sums the gradients
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        from torch.distributed.nn.functional import all_reduce

        return all_reduce(t)


def gather(t: Tensor) -> Tensor:
    """The global batch of ``t`` (its rows from every rank, in rank order); ``t`` itself in one process."""
    return t if _ACTIVE is None else _all_gather(t)


def coupled(t: Tensor) -> Tensor:
    """The batch a batch-coupled objective (Eq. 21, the MMD) sees: the global batch, or the local one under ``local_kl``."""
    return t if _ACTIVE is None or _ACTIVE.local_kl else _all_gather(t)


def own(t: Tensor) -> Tensor:
    """This process's rows of a :func:`coupled` tensor (all of it in one process or under ``local_kl``)."""
    if _ACTIVE is None or _ACTIVE.local_kl:
        return t
    return t[_ACTIVE.rows(len(t))]


def normal(shape, *, generator: torch.Generator | None = None, dtype=None, device=None) -> Tensor:
    """``torch.randn(shape)`` for this rank's rows: the global batch's draw, sliced, in a sharded step."""
    if _ACTIVE is None:
        return torch.randn(shape, generator=generator, dtype=dtype, device=device)
    shape = tuple(shape)
    full = torch.randn((shape[0] * _ACTIVE.world_size, *shape[1:]), generator=generator, dtype=dtype, device=device)
    return full[_ACTIVE.rows(len(full))]


def normal_like(t: Tensor) -> Tensor:
    """``torch.randn_like(t)``, for this rank's rows of the global batch in a sharded step."""
    return torch.randn_like(t) if _ACTIVE is None else normal(t.shape, dtype=t.dtype, device=t.device)


def barrier() -> None:
    """Wait for every process of the run (nothing in one process)."""
    if current().distributed:
        dist.barrier()


def sync_gradients(params: Iterable[nn.Parameter]) -> None:
    """Average the gradients of ``params`` over the ranks (one all-reduce); nothing in one process."""
    if _ACTIVE is None:
        return
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat)
    flat /= _ACTIVE.world_size
    for g, part in zip(grads, flat.split([g.numel() for g in grads])):
        g.copy_(part.view_as(g))


def average(t: Tensor, shard: Shard) -> Tensor:
    """The mean of ``t`` over the ranks (not differentiable): per-epoch training metrics."""
    if not shard.distributed:
        return t
    t = t.clone()
    dist.all_reduce(t)
    return t / shard.world_size


class GlobalBatchNorm(nn.modules.batchnorm._BatchNorm):
    """Batch norm whose training statistics are those of the global batch (all ranks together).

    Mean and biased variance over the global batch (two autograd-aware all-reduces), the running
    statistics updated with the unbiased variance: what ``nn.BatchNorm*d`` computes on the whole
    batch in one process. Outside a sharded step (evaluation, one process) it is plain batch norm.
    :func:`prepare` gives a run's ``BatchNorm1d/2d/3d`` modules this behaviour for the run.
    """

    def forward(self, x: Tensor) -> Tensor:
        if _ACTIVE is None or not self.training:
            return super().forward(x)
        self._check_input_dim(x)
        dims = [0, *range(2, x.dim())]
        shape = [1, -1] + [1] * (x.dim() - 2)
        n = x.numel() // x.shape[1] * _ACTIVE.world_size
        mean = _all_reduce(x.sum(dims)) / n
        xc = x - mean.view(shape)
        var = _all_reduce(xc.square().sum(dims)) / n
        y = xc * torch.rsqrt(var + self.eps).view(shape)
        if self.affine:
            y = y * self.weight.view(shape) + self.bias.view(shape)
        if self.track_running_stats:
            with torch.no_grad():
                self.num_batches_tracked += 1
                momentum = 1.0 / float(self.num_batches_tracked) if self.momentum is None else self.momentum
                self.running_mean.mul_(1 - momentum).add_(mean, alpha=momentum)
                self.running_var.mul_(1 - momentum).add_(var * n / (n - 1), alpha=momentum)
        return y


class GlobalDropout(nn.Dropout):
    """Dropout whose mask is this rank's rows of the global batch's mask (so K ranks drop what one process drops)."""

    def forward(self, x: Tensor) -> Tensor:
        if _ACTIVE is None or not self.training or self.p == 0:
            return super().forward(x)
        ones = x.new_ones((x.shape[0] * _ACTIVE.world_size, *x.shape[1:]))
        return x * F.dropout(ones, self.p, True)[_ACTIVE.rows(len(ones))]


class GlobalBatchNorm1d(GlobalBatchNorm, nn.BatchNorm1d):
    """:class:`GlobalBatchNorm` for ``nn.BatchNorm1d``."""


class GlobalBatchNorm2d(GlobalBatchNorm, nn.BatchNorm2d):
    """:class:`GlobalBatchNorm` for ``nn.BatchNorm2d``."""


class GlobalBatchNorm3d(GlobalBatchNorm, nn.BatchNorm3d):
    """:class:`GlobalBatchNorm` for ``nn.BatchNorm3d``."""


# plain class -> its global form: the same module (parameters, buffers, state-dict keys), computed over the global batch
_GLOBAL = {
    nn.BatchNorm1d: GlobalBatchNorm1d,
    nn.BatchNorm2d: GlobalBatchNorm2d,
    nn.BatchNorm3d: GlobalBatchNorm3d,
    nn.Dropout: GlobalDropout,
}
_PLAIN = {g: cls for cls, g in _GLOBAL.items()}


def prepare(shard: Shard, model: nn.Module, method: nn.Module, batch_size: int) -> None:
    """Make a run ready to train over ``shard``'s processes; nothing in one process.

    Checks that the global batch splits evenly and that the method can be split
    (``method.splits_batches``), switches every batch norm and dropout of the model and the
    method to its global form (the same module objects, their class changed until
    :func:`release`), and copies rank 0's weights to every rank.
    """
    if not shard.distributed:
        return
    shard.local_size(batch_size)
    if not getattr(method, "splits_batches", True):
        raise ValueError(
            f"{type(method).__name__} does not compute its objective over a batch split across processes "
            "(splits_batches is False): train it in one process"
        )
    for module in (model, method):
        for m in module.modules():
            m.__class__ = _GLOBAL.get(type(m), type(m))
        for t in [*module.parameters(), *module.buffers()]:
            with torch.no_grad():
                dist.broadcast(t.data, src=0)


def release(*modules: nn.Module) -> None:
    """Undo :func:`prepare`'s switch: every module back to its plain class (the trained tensors stay)."""
    for module in modules:
        for m in module.modules():
            m.__class__ = _PLAIN.get(type(m), type(m))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run_rank(rank: int, fn, world_size: int, port: int, args: tuple) -> None:
    os.environ.update(
        MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(world_size)
    )
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=world_size)
    try:
        fn(rank, *args)
    finally:
        dist.destroy_process_group()


def run_local(fn, world_size: int, *args) -> None:
    """Run ``fn(rank, *args)`` in ``world_size`` CPU processes joined by ``gloo``, as ``torchrun`` would start them.

    For tests and the book's measurements on one machine; ``fn`` must be picklable (a
    module-level function). A failure in any process is raised here.
    """
    import torch.multiprocessing as mp

    mp.spawn(_run_rank, args=(fn, world_size, _free_port(), args), nprocs=world_size, join=True)
