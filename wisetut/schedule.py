"""A step learning-rate schedule (Appendix D.3: Adam at 3e-4, then 1.5e-4 after 30 of 50 epochs).

:class:`StepLR` *is* the starting learning rate (a ``float``) that also carries its milestones, so
it goes wherever a learning rate goes (a profile's :class:`~wisetut.profiles.Settings`, the
``lr`` of :func:`wisetut.engine.train`, a results file, where it reads as the starting rate). The
engine sets each optimiser's rate at the start of every epoch from :meth:`StepLR.factor`, so a run
resumed from a checkpoint continues on the same schedule, and the schedule is part of the
checkpoint's fingerprint. A plain ``float`` is a constant rate, as before.
"""

from __future__ import annotations

__all__ = ["StepLR", "lr_factor", "schedule_key", "describe_schedule"]


class StepLR(float):
    """A learning rate ``lr`` multiplied by ``gamma`` at each epoch of ``milestones``.

    ``StepLR(3e-4, milestones=(30,), gamma=0.5)`` is D.3's schedule: epochs 0-29 (counted from 0)
    train at 3e-4, epochs 30-49 at 1.5e-4. A parameter group with its own rate (WAE-GAN's
    adversary) follows the same factors.
    """

    milestones: tuple[int, ...]
    gamma: float

    def __new__(cls, lr: float, milestones=(), gamma: float = 0.5):
        self = super().__new__(cls, lr)
        ms = tuple(int(m) for m in milestones)
        if not float(lr) > 0:
            raise ValueError(f"lr must be positive, got {lr}")
        if any(m < 1 for m in ms) or list(ms) != sorted(set(ms)):
            raise ValueError(f"milestones must be increasing epochs >= 1, got {milestones}")
        if not 0 < gamma <= 1:
            raise ValueError(f"gamma must be in (0, 1], got {gamma}")
        self.milestones, self.gamma = ms, float(gamma)
        return self

    def factor(self, epoch: int) -> float:
        """The multiplier of the starting rate in ``epoch`` (counted from 0)."""
        return self.gamma ** sum(epoch >= m for m in self.milestones)

    def at(self, epoch: int) -> float:
        """The learning rate of ``epoch`` (counted from 0)."""
        return float(self) * self.factor(epoch)

    def __repr__(self) -> str:
        return f"StepLR({float(self)!r}, milestones={self.milestones!r}, gamma={self.gamma!r})"

    def __reduce__(self):
        return (StepLR, (float(self), self.milestones, self.gamma))


def lr_factor(lr: float, epoch: int) -> float:
    """The schedule's factor in ``epoch``: 1 for a constant ``float`` rate."""
    return lr.factor(epoch) if isinstance(lr, StepLR) else 1.0


def schedule_key(lr: float) -> str | None:
    """What a checkpoint's fingerprint records of the schedule: ``None`` for a constant rate."""
    if isinstance(lr, StepLR) and lr.milestones:
        return f"milestones={list(lr.milestones)}, gamma={lr.gamma!r}"
    return None


def describe_schedule(lr: float) -> str:
    """The schedule in words, as a results file records it: ``"constant 0.0005"`` or the steps."""
    if isinstance(lr, StepLR) and lr.milestones:
        return (
            f"step: {float(lr):g} from epoch 0, x{lr.gamma:g} at epochs "
            + ", ".join(str(m) for m in lr.milestones)
            + " (counted from 0)"
        )
    return f"constant {float(lr):g}"
