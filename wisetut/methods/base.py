"""What every method shares: one forward pass (:class:`Forward`), the :class:`Method` interface, the float guard."""

from __future__ import annotations

import inspect
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from wisetut import distributed
from wisetut.models.base import AutoEncoder

__all__ = ["Forward", "Method", "check_logvar_floor", "floored_logvar"]


@dataclass
class Forward:
    """One forward pass over a batch: posterior parameters, a sample, the reconstruction error."""

    x: Tensor
    mu: Tensor
    logvar: Tensor
    z: Tensor
    out: Tensor
    recon: Tensor  # [M], -log p(x_i|z_i) up to a constant

    @classmethod
    def run(cls, model: AutoEncoder, x: Tensor, generator: torch.Generator | None = None) -> Forward:
        """Encode, draw ``z ~ q(z|x)`` (from ``generator``, else the global RNG), decode.

        In a step of a run over several processes, ``eps`` is this process's rows of the global
        batch's draw (:func:`wisetut.distributed.normal`), so every sample gets the noise of the
        one-process run.
        """
        mu, logvar = model.encode(x)
        mu, logvar = mu.float(), logvar.float()  # objectives in float32 under mixed precision
        eps = distributed.normal(mu.shape, generator=generator, dtype=mu.dtype, device=mu.device)
        z = mu + eps * (0.5 * logvar).exp()
        out = model.decode(z)
        return cls(x, mu, logvar, z, out, model.recon_error(x, out.float()))


class Method(nn.Module):
    """An objective over :class:`Forward`; a ``nn.Module`` so it can hold an adversary's weights."""

    name = "method"
    # True when losses() gives the one-process objective with the batch split over processes: every
    # batch-coupled term through wisetut.distributed.coupled, per-sample terms as local means
    splits_batches = True

    def losses(self, f: Forward) -> dict[str, Tensor]:
        """The loss of each parameter group, to minimise: ``{"model": ...}`` (plus any others)."""
        raise NotImplementedError

    def parameter_groups(self, model: AutoEncoder) -> dict[str, list[nn.Parameter]]:
        """Parameters each loss of :meth:`losses` updates, by group name (one optimiser each)."""
        return {"model": list(model.parameters())}

    def optimizer_settings(self, group: str, lr: float) -> dict:
        """Keyword arguments of the Adam optimiser of ``group`` (default: the run's ``lr``).

        A method whose groups need their own settings (WAE-GAN's adversary) overrides this; put
        every setting it changes into :meth:`hparams` too, so that checkpoints fingerprint it.
        """
        return {"lr": lr}

    # Constructor arguments that are not hyper-parameters (how a run is measured, a size the data
    # fixes), and those that count only when set (added after runs without them were stored)
    NOT_HPARAMS: tuple[str, ...] = ()
    HPARAMS_IF_SET: tuple[str, ...] = ()

    def hparams(self) -> dict:
        """The method's hyper-parameters: part of a checkpoint's fingerprint and of every result.

        Read from the constructor, not written by hand: every argument of ``__init__`` (in its
        order) with the value the method holds under the same name, less :attr:`NOT_HPARAMS`, and
        less those of :attr:`HPARAMS_IF_SET` that are ``None``; tuples are stored as lists.
        """
        out = {}
        for name, p in inspect.signature(type(self).__init__).parameters.items():
            if name == "self" or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) or name in self.NOT_HPARAMS:
                continue
            if not hasattr(self, name):
                raise AttributeError(
                    f"{type(self).__name__} keeps no attribute {name!r} for its constructor argument of "
                    "that name: store it under that name, list it in NOT_HPARAMS (what the module's "
                    "weights already fix, or a setting that changes no training), or override hparams()"
                )
            value = getattr(self, name)
            if value is None and name in self.HPARAMS_IF_SET:
                continue
            out[name] = list(value) if isinstance(value, tuple) else value
        return out

    def held_out_metrics(self, model: AutoEncoder, x: Tensor, batch_size: int) -> dict[str, float]:
        """Extra held-out metrics of the method's own terms, added to each epoch's test history.

        Default: none. An override must not draw random numbers (a resumed run must repeat exactly).
        """
        return {}

    def configure_model(self, model: AutoEncoder) -> None:
        """Adapt the model to the method before training or loading (default: nothing)."""
        model.fixed_logvar = None

    def extra_repr(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in self.hparams().items())


def check_logvar_floor(logvar_floor: float | None) -> float | None:
    """A log-variance floor for a KL term (the methods' float32 guard): ``None`` (off), or a number in [-87, 0]."""
    if logvar_floor is not None and not -87.0 <= logvar_floor <= 0.0:
        raise ValueError(f"logvar_floor must lie in [-87, 0] (float32 exp underflows below), got {logvar_floor}")
    return None if logvar_floor is None else float(logvar_floor)


def floored_logvar(logvar: Tensor, logvar_floor: float | None) -> Tensor:
    """``logvar`` floored at ``logvar_floor`` (``clamp_min``: the identity, values and gradients, above it)."""
    return logvar if logvar_floor is None else logvar.clamp_min(logvar_floor)
