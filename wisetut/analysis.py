"""Analyses of a trained model under a method's objective, evaluated rather than minimised.

- :func:`objective`: a method's training loss at a model (chapter 10 scores each model under its own
  objective and under another's);
- :func:`regulariser_pull`: how hard a method's regulariser pulls a trained encoder against
  reconstruction, in the units of its own objective (chapter 6).

Both run over the full batches of the data (Eq. 21 depends on the batch size), with noise from a fixed seed.
"""

from __future__ import annotations

import torch
from torch import Tensor

from wisetut.data.images import as_float_batch
from wisetut.engine import check_data
from wisetut.methods import Forward, Method
from wisetut.models.base import AutoEncoder, eval_mode

__all__ = ["objective", "regulariser_pull"]


@torch.no_grad()
def _scored_batches(model: AutoEncoder, x: Tensor, batch_size: int, seed: int):
    """The full batches of ``x`` on the model's device, each with the fixed-seed generator of its noise."""
    check_data(x, "x")
    if not 1 <= batch_size <= len(x):
        raise ValueError(f"batch_size must lie in [1, {len(x)}] (the number of samples), got {batch_size}")
    device = next(model.parameters()).device
    gen = torch.Generator(device=device).manual_seed(seed)
    for start in range(0, len(x) - batch_size + 1, batch_size):
        yield as_float_batch(x[start : start + batch_size].to(device, non_blocking=True)), gen


def objective(model: AutoEncoder, method: Method, x: Tensor, batch_size: int, seed: int = 0) -> float:
    """``method``'s loss (its ``"model"`` group, per sample) at ``model``, averaged over the full batches of ``x``.

    The training objective, evaluated rather than minimised: chapter 10 scores each model under its
    own objective and under another's. The noise ``z ~ q(z|x)`` comes from a fixed seed, as in
    :func:`evaluate`; a final partial batch is left out (Eq. 21 depends on the batch size).
    """
    total, n = 0.0, 0
    with eval_mode(model):
        for xb, gen in _scored_batches(model, x, batch_size, seed):
            total += method.losses(Forward.run(model, xb, generator=gen))["model"].item()
            n += 1
    return total / n


def regulariser_pull(model: AutoEncoder, method: Method, x: Tensor, batch_size: int, seed: int = 0) -> dict[str, float]:
    """What a method's regulariser does to a trained encoder, in the units of its own objective (chapter 6).

    Two penalties with different divergences (a KL bound, an MMD, an adversary's log-loss) cannot
    be compared by their coefficients; what they *do* can. Over the full batches of ``x`` (noise from
    a fixed seed, prior draws from the global RNG seeded with ``seed``):

    - ``penalty``: the regulariser per sample, the method's ``"model"`` loss less its mean
      reconstruction term (WiSE-ALE: Eq. 21 over ``M``; WAE-MMD: ``lam`` times the MMD);
    - ``grad_penalty``, ``grad_recon``: the norms of the gradients of the penalty and of the mean
      reconstruction term on the encoder's weights, and ``pull``, their ratio: how hard the
      regulariser pulls the encoder against reconstruction;
    - ``grad_l2_cost``: the same norm for the WAE code's cost ``0.05 ||x - y||^2`` (``y`` the decoder's
      mean image), and ``cost_ratio = grad_recon / grad_l2_cost``: a method trained with our
      reconstruction term instead of that cost weighs its penalty ``cost_ratio`` times more weakly,
      so its ``lam`` acts as ``lam / cost_ratio`` would with the official cost.

    Returns the means over batches; the model and the method are left in their modes, their weights unchanged.
    ``penalty`` is a float32 difference, exact up to about 1e-7 of the reconstruction term.
    """
    params = list(model.encoder.parameters())
    torch.manual_seed(seed)
    sums: dict[str, float] = {}
    n = 0
    with eval_mode(model, method):
        for xb, gen in _scored_batches(model, x, batch_size, seed):
            f = Forward.run(model, xb, generator=gen)
            recon = f.recon.mean()
            penalty = method.losses(f)["model"] - recon
            l2_cost = 0.05 * (model.mean_output(f.out) - xb).square().flatten(1).sum(1).mean()
            norms = [
                torch.linalg.vector_norm(torch.cat([g.flatten() for g in torch.autograd.grad(t, params, retain_graph=True)]))
                for t in (penalty, recon, l2_cost)
            ]
            values = {
                "penalty": penalty.item(),
                "recon": recon.item(),
                "grad_penalty": norms[0].item(),
                "grad_recon": norms[1].item(),
                "grad_l2_cost": norms[2].item(),
            }
            for k, v in values.items():
                sums[k] = sums.get(k, 0.0) + v
            n += 1
    out = {k: v / n for k, v in sums.items()}
    out["pull"] = out["grad_penalty"] / out["grad_recon"]
    out["cost_ratio"] = out["grad_recon"] / out["grad_l2_cost"]
    return out
