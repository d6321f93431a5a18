"""A small digit classifier: the fixed feature network of the MNIST Fréchet distance (chapter 6).

FID measures distances in the pool features of an Inception network trained on ImageNet, which is
neither downloadable here nor meant for 28x28 digits. For MNIST we do what the WAE and GAN
literature does on digits: train a small classifier *once* on the training digits, freeze it, and
compare image sets in its penultimate features. The number is a Fréchet distance in *this
classifier's* features; it is never called FID.

:func:`digit_classifier` is train-or-load: the first call trains and saves the weights at
``path``; later calls load them, checking that they were trained on the same digits.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from tqdm.auto import tqdm

from wisetut import checkpoints

__all__ = ["DigitClassifier", "digit_classifier"]

_FORMAT = 1


class DigitClassifier(nn.Module):
    """Two 3x3 convolutions with max-pooling, a 128-unit hidden layer, ten logits.

    ``features(x)`` is the 128-unit hidden layer (after its ReLU): the space the Fréchet distance
    of :func:`wisetut.image_metrics.frechet_distance` is measured in.
    """

    feature_dim = 128

    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # 14 x 14
            nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # 7 x 7
            nn.Flatten(),
            nn.Linear(64 * 7 * 7, self.feature_dim), nn.ReLU(),
        )  # fmt: skip
        self.head = nn.Linear(self.feature_dim, 10)

    @staticmethod
    def _check(x: Tensor) -> None:
        if x.dim() != 4 or tuple(x.shape[1:]) != (1, 28, 28):
            raise ValueError(f"expected digits shaped [batch, 1, 28, 28] with values in [0, 1], got {tuple(x.shape)}")

    def features(self, x: Tensor) -> Tensor:
        """Penultimate features ``[N, 128]`` of digits ``[N, 1, 28, 28]``."""
        self._check(x)
        return self.body(x)

    def forward(self, x: Tensor) -> Tensor:
        """Logits ``[N, 10]``."""
        return self.head(self.features(x))

    @torch.no_grad()
    def predict_proba(self, x: Tensor, batch_size: int = 1000) -> Tensor:
        """Class probabilities ``[N, 10]``, computed in batches in eval mode."""
        self.eval()
        dev = next(self.parameters()).device
        return torch.cat([F.softmax(self(x[i : i + batch_size].to(dev)), 1).cpu() for i in range(0, len(x), batch_size)])

    def accuracy(self, x: Tensor, y: Tensor) -> float:
        """The share of digits ``x`` whose most probable class is their label ``y`` (chapters 6 and 8's held-out accuracy)."""
        if y.shape != (len(x),):
            raise ValueError(f"y must be {len(x)} labels, one per digit, got shape {tuple(y.shape)}")
        return (self.predict_proba(x).argmax(1) == y).float().mean().item()


def digit_classifier(
    x_train: Tensor,
    y_train: Tensor,
    path: str | Path,
    *,
    epochs: int = 8,
    batch_size: int = 128,
    lr: float = 1e-3,
    seed: int = 0,
    progress: bool = True,
) -> DigitClassifier:
    """The classifier trained on ``(x_train, y_train)``: loaded from ``path``, else trained and saved there.

    Training is seeded (Adam, random mini-batches, no augmentation), so a CPU run repeats exactly.
    The returned network is frozen and in eval mode, on the CPU.

    Raises:
        ValueError: for digits not shaped ``[N, 1, 28, 28]``, or labels not in 0..9 of length N;
            or if ``path`` holds a classifier trained on other digits or settings (delete it to retrain).
        CheckpointError: if the file at ``path`` is corrupted or unreadable, or ``path`` is not writable.
    """
    DigitClassifier._check(x_train)
    if y_train.shape != (len(x_train),) or y_train.min() < 0 or y_train.max() > 9:
        raise ValueError(f"y_train must be {len(x_train)} labels in 0..9, got shape {tuple(y_train.shape)}")
    path = Path(path)
    key = {
        "data": checkpoints.tensor_digest(x_train, y_train),
        "epochs": epochs,
        "batch_size": batch_size,
        "lr": lr,
        "seed": seed,
    }
    net = DigitClassifier()
    if path.exists():
        saved = checkpoints.load(path, map_location="cpu")  # CRC-checked
        saved_key = saved.get("key") if isinstance(saved, dict) and saved.get("format") == _FORMAT else None
        if saved_key != key:
            raise ValueError(
                f"{path} holds a digit classifier trained on other digits or settings "
                f"({saved_key} vs {key}); delete it to retrain"
            )
        net.load_state_dict(saved["state"])
    else:
        checkpoints.check_writable(path)  # before training, not after
        torch.manual_seed(seed)
        net = DigitClassifier()  # initial weights from the seed
        opt = torch.optim.Adam(net.parameters(), lr=lr)
        n_batches = len(x_train) // batch_size
        net.train()
        for _ in tqdm(range(epochs), desc="digit classifier", disable=not progress, unit="epoch"):
            order = torch.randperm(len(x_train))
            for b in range(n_batches):
                idx = order[b * batch_size : (b + 1) * batch_size]
                loss = F.cross_entropy(net(x_train[idx]), y_train[idx])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
        checkpoints.save(path, {"format": _FORMAT, "key": key, "state": net.state_dict()})
    net.eval()
    for p in net.parameters():
        p.requires_grad_(False)
    return net
